// VM exits (SDM Vol. 3C chapter 28), in the SDM's order: record the exit information, save the
// guest state, store the MSR-store list, load the host state, load the MSR-load list, and
// charge the exit's cost. A failure while loading host MSRs is a VMX abort.
#include <cstdio>

#include "cpu/core.h"
#include "vmx_model/segment_fields.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using cpu::Core;
using cpu::Segment;
namespace ar = cpu::ar;
namespace cr0 = cpu::cr0;
namespace efer = cpu::efer;
using F = VmcsField;

void VmxUnit::save_guest_state(const VmExit& e) {
  Core& c = m_core;
  Vmcs& v = m_vmcs;
  v.set(F::GUEST_CR0, c.s.cr0);
  v.set(F::GUEST_CR3, c.s.cr3);
  v.set(F::GUEST_CR4, c.s.cr4);
  if (ctl_exit(exitc::kSaveDebugControls)) {
    v.set(F::GUEST_DR7, c.s.dr[7]);
    v.set(F::GUEST_IA32_DEBUGCTL, c.s.debugctl);
  }
  v.set(F::GUEST_SYSENTER_CS, c.s.sysenter_cs);
  v.set(F::GUEST_SYSENTER_ESP, c.s.sysenter_esp);
  v.set(F::GUEST_SYSENTER_EIP, c.s.sysenter_eip);
  if (ctl_exit(exitc::kSavePat)) v.set(F::GUEST_IA32_PAT, c.s.pat);
  if (ctl_exit(exitc::kSaveEfer)) v.set(F::GUEST_IA32_EFER, c.s.efer);
  // IA32_VMX_MISC[5]: the IA-32e mode guest control reflects EFER.LMA after every exit.
  uint32_t entryv = v.get32(F::VM_ENTRY_CONTROLS) & ~entryc::kIa32eModeGuest;
  if (c.s.efer & efer::kLma) entryv |= entryc::kIa32eModeGuest;
  v.set(F::VM_ENTRY_CONTROLS, entryv);
  for (unsigned i = 0; i < cpu::kNumSegs; ++i) set_guest_segment_slot(v, i, c.s.seg[i]);
  set_guest_segment_slot(v, 6, c.s.ldtr);
  set_guest_segment_slot(v, 7, c.s.tr);
  v.set(F::GUEST_GDTR_BASE, c.s.gdtr.base);
  v.set(F::GUEST_GDTR_LIMIT, c.s.gdtr.limit);
  v.set(F::GUEST_IDTR_BASE, c.s.idtr.base);
  v.set(F::GUEST_IDTR_LIMIT, c.s.idtr.limit);
  v.set(F::GUEST_RIP, c.s.rip);
  v.set(F::GUEST_RSP, c.s.gpr[cpu::kRsp]);
  v.set(F::GUEST_RFLAGS, c.rflags());
  v.set(F::GUEST_PENDING_DBG_EXCEPTIONS, c.m_pending_db & 0x400f);
  c.m_pending_db = 0;
  uint32_t is = 0;
  if (c.m_movss_shadow) is |= interruptibility::kBlockingByMovSs;
  else if (c.m_interrupt_shadow) is |= interruptibility::kBlockingBySti;
  const bool nmi_blocked = ctl_pin(pin::kVirtualNmis) ? m_virtual_nmi_blocked : c.m_nmi_blocked;
  if (nmi_blocked) is |= interruptibility::kBlockingByNmi;
  v.set(F::GUEST_INTERRUPTIBILITY_INFO, is);
  uint32_t act = kActivityActive;
  switch (c.m_activity) {
    // MWAIT's wait is not a VMX activity state: the guest resumes after the MWAIT, active.
    case cpu::ActivityState::kHalted: act = c.in_mwait() ? kActivityActive : kActivityHlt; break;
    case cpu::ActivityState::kShutdown: act = kActivityShutdown; break;
    case cpu::ActivityState::kWaitForSipi: act = kActivityWaitSipi; break;
    default: break;
  }
  v.set(F::GUEST_ACTIVITY_STATE, act);
  if (ctl_exit(exitc::kSavePreemptionTimer)) {
    const unsigned rate = m_caps.preemption_timer_rate;
    const uint64_t now = c.tsc() - c.s.tsc_offset;
    const uint64_t left = m_preempt_deadline_tsc > now ? (m_preempt_deadline_tsc >> rate) - (now >> rate) : 0;
    v.set(F::VMX_PREEMPTION_TIMER_VALUE, e.reason == kExitPreemptionTimer ? 0 : left);
  }
  if (guest_pdptes_in_vmcs()) {
    for (unsigned i = 0; i < 4; ++i)
      v.set(field_plus(F::GUEST_PDPTE0, i),
            c.m_pdptes_loaded ? c.m_pdpte[i] : guest_phys_read((c.s.cr3 & 0xffffffe0ull) + 8 * i, 8));
  }
}

void VmxUnit::store_msr_list(uint64_t addr, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t e = addr + 16ull * i;
    const uint32_t index = static_cast<uint32_t>(phys_read(e, 4));
    uint64_t val = 0;
    m_core.add_cycles(m_costs.msr_list_entry_cycles);
    bool ok = (index >> 8) != 8 && index != 0x9e;
    if (ok) {
      try {
        // IA32_TSC is stored without the guest's TSC offset (SDM §28.4).
        if (index == 0x10) val = m_core.tsc(); else ok = m_core.read_msr(index, val);
      } catch (const cpu::GuestFault&) {
        ok = false;
      }
    }
    if (!ok) return vmx_abort(2);  // VMX abort: failure saving guest MSRs
    phys_write(e + 8, 8, val);
  }
}

void VmxUnit::load_host_state() {
  Core& c = m_core;
  const Vmcs& v = m_vmcs;
  const bool host64 = ctl_exit(exitc::kHostAddrSpaceSize);
  // The bits fixed in VMX operation stay set too.
  c.s.cr0 = ((c.s.cr0 & kCr0Unchanged) | (v.get(F::HOST_CR0) & ~kCr0Unchanged & 0xffffffffull)) |
            m_caps.cr0_fixed0;
  c.s.cr3 = v.get(F::HOST_CR3);
  c.s.cr4 = v.get(F::HOST_CR4) | m_caps.cr4_fixed0;
  c.s.dr[7] = cpu::dr7::kFixed1;
  c.s.debugctl = 0;
  c.s.sysenter_cs = v.get32(F::HOST_IA32_SYSENTER_CS);
  c.s.sysenter_esp = v.get(F::HOST_IA32_SYSENTER_ESP);
  c.s.sysenter_eip = v.get(F::HOST_IA32_SYSENTER_EIP);
  if (ctl_exit(exitc::kLoadPat)) c.s.pat = v.get(F::HOST_IA32_PAT);
  if (ctl_exit(exitc::kLoadEfer)) {
    c.s.efer = v.get(F::HOST_IA32_EFER);
  } else {
    c.s.efer &= ~(efer::kLma | efer::kLme);
    if (host64) c.s.efer |= efer::kLma | efer::kLme;
  }
  // Segments (SDM §28.5.2): flat code and data, TR with limit 0x67, LDTR unusable.
  Segment cs;
  cs.selector = static_cast<uint16_t>(v.get(F::HOST_CS_SELECTOR));
  cs.base = 0;
  cs.limit = 0xffffffff;
  cs.ar = 11 | ar::kS | ar::kP | ar::kG | (host64 ? ar::kL : ar::kDb);
  c.s.seg[cpu::kCs] = cs;
  const F data_sel[] = {F::HOST_ES_SELECTOR, F::HOST_SS_SELECTOR, F::HOST_DS_SELECTOR,
                        F::HOST_FS_SELECTOR, F::HOST_GS_SELECTOR};
  const unsigned data_seg[] = {cpu::kEs, cpu::kSs, cpu::kDs, cpu::kFs, cpu::kGs};
  for (unsigned i = 0; i < 5; ++i) {
    Segment d;
    d.selector = static_cast<uint16_t>(v.get(data_sel[i]));
    d.base = 0;
    d.limit = 0xffffffff;
    d.ar = 3 | ar::kS | ar::kP | ar::kDb | ar::kG;
    if (d.selector == 0) d.ar |= ar::kUnusable;
    c.s.seg[data_seg[i]] = d;
  }
  c.s.seg[cpu::kFs].base = v.get(F::HOST_FS_BASE);
  c.s.seg[cpu::kGs].base = v.get(F::HOST_GS_BASE);
  Segment tr;
  tr.selector = static_cast<uint16_t>(v.get(F::HOST_TR_SELECTOR));
  tr.base = v.get(F::HOST_TR_BASE);
  tr.limit = 0x67;
  tr.ar = 11 | ar::kP;
  c.s.tr = tr;
  Segment ldtr;
  ldtr.ar = ar::kUnusable;
  c.s.ldtr = ldtr;
  c.s.gdtr.base = v.get(F::HOST_GDTR_BASE);
  c.s.gdtr.limit = 0xffff;
  c.s.idtr.base = v.get(F::HOST_IDTR_BASE);
  c.s.idtr.limit = 0xffff;
  c.s.rip = v.get(F::HOST_RIP);
  c.s.gpr[cpu::kRegNextRip] = c.s.rip;
  c.s.gpr[cpu::kRsp] = v.get(F::HOST_RSP);
  c.set_rflags(cpu::rflags::kFixed1);
  c.m_interrupt_shadow = c.m_movss_shadow = false;
  c.m_pending_db = 0;
  c.m_activity = cpu::ActivityState::kActive;
  c.m_vmx_nonroot = false;
  c.m_ept_active = false;
  c.m_apic_access_page = ~0ull;
  c.m_pdptes_loaded = false;
  c.m_cpl = 0;
  c.mode_changed();
  c.debug_regs_changed();
  if (ctl_proc2(proc2::kEnableVpid))
    c.switch_tlb_context(0, 0);  // the host's translations survived in context 0
  else
    c.flush_tlb(true);
  c.m_attention = true;
}

void VmxUnit::vmx_abort(uint32_t indicator) {
  if (current_vmcs_valid()) phys_write(m_current + region::kAbortOffset, 4, indicator);
  m_core.enter_shutdown("VMX abort");
}

void VmxUnit::vm_exit(const VmExit& e) {
  Core& c = m_core;
  Vmcs& v = m_vmcs;
  const uint32_t basic = e.reason & 0xffff;
  if (basic < kNumExitReasons) ++m_exits[basic];
  if (c.params().trace_events)
    std::fprintf(stderr, "cpu%u VM exit: reason %u (%s)%s qualification %#llx at rip %#llx\n",
                 c.params().apic_id, basic, exit_reason_name(basic),
                 (e.reason & kExitReasonEntryFailure) ? " [entry failure]" : "",
                 static_cast<unsigned long long>(e.qualification), static_cast<unsigned long long>(c.s.rip));
  const uint64_t start = c.cycles();
  if (!(e.reason & kExitReasonEntryFailure)) m_cycles_nonroot += start - m_entry_cycle;
  const unsigned components = exit_state_components(!(e.reason & kExitReasonEntryFailure));
  v.set(F::VM_EXIT_REASON, e.reason);
  v.set(F::EXIT_QUALIFICATION, e.qualification);
  if (!(e.reason & kExitReasonEntryFailure)) {
    v.set(F::VM_EXIT_INTR_INFO, e.intr_info);
    if (e.intr_info & intr::kDeliverErrorCode) v.set(F::VM_EXIT_INTR_ERROR_CODE, e.intr_error);
    v.set(F::IDT_VECTORING_INFO, m_vectoring_info);
    if (m_vectoring_info & intr::kDeliverErrorCode) v.set(F::IDT_VECTORING_ERROR_CODE, m_vectoring_error);
    if (e.has_instr) {
      v.set(F::VM_EXIT_INSTRUCTION_LEN, e.instr_len);
      v.set(F::VMX_INSTRUCTION_INFO, e.instr_info);
    }
    if (e.has_linear) v.set(F::GUEST_LINEAR_ADDRESS, e.guest_linear);
    if (e.has_physical) v.set(F::GUEST_PHYSICAL_ADDRESS, e.guest_physical);
    save_guest_state(e);
    store_msr_list(v.get(F::VM_EXIT_MSR_STORE_ADDR), v.get32(F::VM_EXIT_MSR_STORE_COUNT));
  }
  m_vectoring_info = 0;
  // Every VM exit clears the valid bit of the VM-entry interruption information (SDM §28.2.4).
  v.set(F::VM_ENTRY_INTR_INFO, v.get32(F::VM_ENTRY_INTR_INFO) & ~intr::kValid);
  m_preempt_deadline = ~0ull;
  m_mtf_pending = false;
  load_host_state();
  uint32_t failed = 0;
  if (!load_msr_list(v.get(F::VM_EXIT_MSR_LOAD_ADDR), v.get32(F::VM_EXIT_MSR_LOAD_COUNT), failed))
    vmx_abort(4);  // VMX abort: failure loading host MSRs
  c.add_cycles(m_costs.exit_cycles + m_costs.state_component_cycles * components);
  m_cycles_transitions += c.cycles() - start;
  m_handled_reason = basic < kNumExitReasons ? static_cast<int>(basic) : -1;
  m_exit_end_cycle = c.cycles();
}

}  // namespace vmxsim::vmx
