// The VMCS the VMX test harness (vmx_harness.h) and the VM-entry fuzzer (tests/fuzz) start
// from: controls at their must-be-1 settings plus HLT exiting and a 64-bit host, the host state
// copied from the machine's, and the guest fields every guest template shares (LDTR unusable,
// the host's TR with limit 0x67 and GDTR, PAT, DR7, RFLAGS, stack and entry point). Callers add
// the guest's segments, control registers and whatever their test or template needs.
#pragma once

#include <cstdint>

#include "cpu/cpu_state.h"
#include "tests/unit/cpu/test_machine.h"
#include "vmx_model/segment_fields.h"
#include "vmx_model/vmcs_fields.h"
#include "vmx_model/vmx_defs.h"

namespace vmxsim::test {

// Must-be-1 halves of the TRUE control MSRs (IA32_VMX_TRUE_*_CTLS bits 31:0 are what matters).
struct TrueControls {
  uint64_t pin = 0, proc = 0, exit = 0, entry = 0;
};

// Where the test keeps the structures the VMCS points to.
struct VmcsLayout {
  uint64_t io_bitmap_a, io_bitmap_b, msr_bitmap, msr_area, vapic, apic_access;
  uint64_t guest_stack, guest_code, host_rip;
};

// Guest segment `slot` (0-5 ES..GS, 6 LDTR, 7 TR) into a field array indexed by VmcsField.
inline void set_guest_segment(uint64_t* v, unsigned slot, const cpu::Segment& s) {
  using F = vmx::VmcsField;
  v[static_cast<unsigned>(vmx::field_plus(F::GUEST_ES_SELECTOR, slot))] = s.selector;
  v[static_cast<unsigned>(vmx::field_plus(F::GUEST_ES_BASE, slot))] = s.base;
  v[static_cast<unsigned>(vmx::field_plus(F::GUEST_ES_LIMIT, slot))] = s.limit;
  v[static_cast<unsigned>(vmx::field_plus(F::GUEST_ES_AR_BYTES, slot))] = s.ar;
}

inline void fill_baseline_vmcs(uint64_t* v, const cpu::CpuState& h, const TrueControls& ctl,
                               const VmcsLayout& l, bool guest64) {
  using F = vmx::VmcsField;
  auto set = [&](F f, uint64_t x) { v[static_cast<unsigned>(f)] = x; };
  auto must1 = [](uint64_t cap) { return static_cast<uint32_t>(cap); };
  // Controls.
  set(F::PIN_BASED_VM_EXEC_CONTROL, must1(ctl.pin));
  set(F::CPU_BASED_VM_EXEC_CONTROL, must1(ctl.proc) | vmx::proc::kHltExiting);
  set(F::VM_EXIT_CONTROLS, must1(ctl.exit) | vmx::exitc::kHostAddrSpaceSize);
  set(F::VM_ENTRY_CONTROLS, must1(ctl.entry) | (guest64 ? vmx::entryc::kIa32eModeGuest : 0));
  set(F::IO_BITMAP_A, l.io_bitmap_a);
  set(F::IO_BITMAP_B, l.io_bitmap_b);
  set(F::MSR_BITMAP, l.msr_bitmap);
  set(F::VM_EXIT_MSR_STORE_ADDR, l.msr_area);
  set(F::VM_EXIT_MSR_LOAD_ADDR, l.msr_area + 0x4000);
  set(F::VM_ENTRY_MSR_LOAD_ADDR, l.msr_area + 0x8000);
  set(F::VIRTUAL_APIC_PAGE_ADDR, l.vapic);
  set(F::APIC_ACCESS_ADDR, l.apic_access);
  set(F::VMCS_LINK_POINTER, ~0ull);
  set(F::CR0_READ_SHADOW, h.cr0);
  set(F::CR4_READ_SHADOW, h.cr4);
  // Host state.
  set(F::HOST_CR0, h.cr0);
  set(F::HOST_CR3, h.cr3);
  set(F::HOST_CR4, h.cr4);
  set(F::HOST_CS_SELECTOR, TestMachine::kCode64);
  for (F f : {F::HOST_ES_SELECTOR, F::HOST_SS_SELECTOR, F::HOST_DS_SELECTOR, F::HOST_FS_SELECTOR, F::HOST_GS_SELECTOR})
    set(f, TestMachine::kData);
  set(F::HOST_TR_SELECTOR, h.tr.selector);
  set(F::HOST_TR_BASE, h.tr.base);
  set(F::HOST_GDTR_BASE, h.gdtr.base);
  set(F::HOST_IDTR_BASE, h.idtr.base);
  set(F::HOST_RSP, TestMachine::kDefaultStackTop);
  set(F::HOST_RIP, l.host_rip);
  set(F::HOST_IA32_PAT, 0x0007040600070406ull);
  set(F::HOST_IA32_EFER, h.efer);
  // Guest state every template shares.
  set(F::GUEST_IA32_PAT, 0x0007040600070406ull);
  set(F::GUEST_DR7, 0x400);
  set(F::GUEST_RFLAGS, 2);
  set(F::GUEST_RSP, l.guest_stack);
  set(F::GUEST_RIP, l.guest_code);
  cpu::Segment ldtr;
  ldtr.ar = cpu::ar::kUnusable;
  set_guest_segment(v, 6, ldtr);
  cpu::Segment tr = h.tr;
  tr.limit = 0x67;
  set_guest_segment(v, 7, tr);
  set(F::GUEST_GDTR_BASE, h.gdtr.base);
  set(F::GUEST_GDTR_LIMIT, h.gdtr.limit);
}

}  // namespace vmxsim::test
