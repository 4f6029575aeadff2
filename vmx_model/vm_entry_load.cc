// The second half of VM entry (SDM Vol. 3C §27.3.2-§27.6): loading the guest state into the
// core, arming the VMX-preemption timer and injecting the event of the VM-entry
// interruption-information field.
#include "cpu/core.h"
#include "vmx_model/segment_fields.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using cpu::Core;
using cpu::Segment;
namespace cr0 = cpu::cr0;
namespace efer = cpu::efer;
using F = VmcsField;

void VmxUnit::load_guest_state() {
  Core& c = m_core;
  const Vmcs& v = m_vmcs;
  const bool guest64 = ctl_entry(entryc::kIa32eModeGuest);
  c.s.cr0 = (c.s.cr0 & kCr0Unchanged) | (v.get(F::GUEST_CR0) & ~kCr0Unchanged & 0xffffffffull);
  c.s.cr3 = v.get(F::GUEST_CR3);
  c.s.cr4 = v.get(F::GUEST_CR4);
  if (ctl_entry(entryc::kLoadDebugControls)) {
    c.s.dr[7] = v.get(F::GUEST_DR7) | cpu::dr7::kFixed1;
    c.s.debugctl = v.get(F::GUEST_IA32_DEBUGCTL);
  }
  c.s.sysenter_cs = v.get32(F::GUEST_SYSENTER_CS);
  c.s.sysenter_esp = v.get(F::GUEST_SYSENTER_ESP);
  c.s.sysenter_eip = v.get(F::GUEST_SYSENTER_EIP);
  if (ctl_entry(entryc::kLoadPat)) c.s.pat = v.get(F::GUEST_IA32_PAT);
  if (ctl_entry(entryc::kLoadEfer)) {
    c.s.efer = v.get(F::GUEST_IA32_EFER);
  } else {
    c.s.efer &= ~(efer::kLma | efer::kLme);
    if (guest64) c.s.efer |= efer::kLma;
    if (guest64 && (c.s.cr0 & cr0::kPg)) c.s.efer |= efer::kLme;
  }
  for (unsigned i = 0; i < cpu::kNumSegs; ++i) c.s.seg[i] = guest_segment(v, i);
  c.s.ldtr = guest_ldtr(v);
  c.s.tr = guest_tr(v);
  c.s.gdtr.base = v.get(F::GUEST_GDTR_BASE);
  c.s.gdtr.limit = v.get32(F::GUEST_GDTR_LIMIT);
  c.s.idtr.base = v.get(F::GUEST_IDTR_BASE);
  c.s.idtr.limit = v.get32(F::GUEST_IDTR_LIMIT);
  c.s.gpr[cpu::kRsp] = v.get(F::GUEST_RSP);
  c.s.rip = v.get(F::GUEST_RIP);
  c.s.gpr[cpu::kRegNextRip] = c.s.rip;
  c.set_rflags(v.get(F::GUEST_RFLAGS));

  const uint32_t is = v.get32(F::GUEST_INTERRUPTIBILITY_INFO);
  c.m_interrupt_shadow = is & (interruptibility::kBlockingBySti | interruptibility::kBlockingByMovSs);
  c.m_movss_shadow = is & interruptibility::kBlockingByMovSs;
  if (ctl_pin(pin::kVirtualNmis))
    m_virtual_nmi_blocked = is & interruptibility::kBlockingByNmi;
  else
    c.m_nmi_blocked = is & interruptibility::kBlockingByNmi;
  // Pending debug exceptions: B0-B3 and BS (BD is never pending; RTM is not supported).
  c.m_pending_db = static_cast<uint32_t>(v.get(F::GUEST_PENDING_DBG_EXCEPTIONS) & 0x400f);
  switch (v.get32(F::GUEST_ACTIVITY_STATE)) {
    case kActivityHlt:
      c.m_activity = cpu::ActivityState::kHalted;
      c.m_in_mwait = false;
      break;
    case kActivityShutdown: c.m_activity = cpu::ActivityState::kShutdown; break;
    case kActivityWaitSipi: c.m_activity = cpu::ActivityState::kWaitForSipi; break;
    default: c.m_activity = cpu::ActivityState::kActive; break;
  }

  c.m_vmx_nonroot = true;
  c.m_ept_active = ctl_proc2(proc2::kEnableEpt);
  c.m_apic_access_page = ctl_proc2(proc2::kVirtApicAccesses) ? (v.get(F::APIC_ACCESS_ADDR) & ~0xfffull) : ~0ull;
  c.m_pdptes_loaded = false;
  if (c.m_ept_active && (c.s.cr0 & cr0::kPg) && (c.s.cr4 & cpu::cr4::kPae) && !(c.s.efer & efer::kLma)) {
    for (unsigned i = 0; i < 4; ++i) c.m_pdpte[i] = v.get(static_cast<F>(static_cast<unsigned>(F::GUEST_PDPTE0) + i));
    c.m_pdptes_loaded = true;
  }
  // The CPL of a guest is SS.DPL (SDM §27.3.2.2).
  c.m_cpl = (c.s.seg[cpu::kSs].ar >> cpu::ar::kDplShift) & 3;
  if (!(c.s.cr0 & cr0::kPe)) c.m_cpl = 0;
  c.mode_changed();
  c.debug_regs_changed();
  // With a VPID the guest has its own translation context, kept across exits (SDM §29.1);
  // without one, VM entry invalidates the VPID-0 mappings the host and guest share.
  if (ctl_proc2(proc2::kEnableVpid)) {
    c.switch_tlb_context(1, guest_tlb_tag());
  } else {
    c.flush_tlb(true);
  }
  c.m_attention = true;
  m_mtf_pending = false;
}

uint64_t VmxUnit::guest_tlb_tag() const {
  const uint64_t eptp = ctl_proc2(proc2::kEnableEpt) ? m_vmcs.get(F::EPT_POINTER) : 0;
  return (eptp << 16) ^ m_vmcs.get(F::VIRTUAL_PROCESSOR_ID);
}

void VmxUnit::arm_preemption_timer() {
  m_preempt_deadline = ~0ull;
  if (!ctl_pin(pin::kPreemptionTimer)) return;
  const unsigned rate = m_caps.preemption_timer_rate;
  const uint64_t value = m_vmcs.get32(F::VMX_PREEMPTION_TIMER_VALUE);
  // The timer counts down by one each time TSC bit `rate` changes (SDM §26.5.1).
  const uint64_t now = m_core.tsc() - m_core.s.tsc_offset;
  m_preempt_deadline_tsc = ((now >> rate) + value) << rate;
  if (value == 0) m_preempt_deadline_tsc = now;
  const uint64_t ticks = m_preempt_deadline_tsc;
  const auto& p = m_core.params();
  const unsigned __int128 num = static_cast<unsigned __int128>(ticks) * p.core_hz;
  m_preempt_deadline = static_cast<uint64_t>((num + p.tsc_hz - 1) / p.tsc_hz);
  m_core.m_attention = true;
}

void VmxUnit::inject_event() {
  Core& c = m_core;
  const uint32_t info = m_vmcs.get32(F::VM_ENTRY_INTR_INFO);
  if (!(info & intr::kValid)) return;
  const uint32_t type = (info >> intr::kTypeShift) & 7;
  const uint8_t vector = info & intr::kVectorMask;
  if (type == intr::kOtherEvent) {  // pending MTF VM exit (SDM §27.6.2)
    m_mtf_pending = true;
    c.m_attention = true;
    return;
  }
  const bool has_error = info & intr::kDeliverErrorCode;
  const uint32_t error = m_vmcs.get32(F::VM_ENTRY_EXCEPTION_ERROR_CODE);
  const bool software = type == intr::kSoftwareInterrupt || type == intr::kSoftwareException;
  const bool after_insn = software || type == intr::kPrivilegedSoftwareException;
  const uint64_t ret = after_insn ? c.s.rip + m_vmcs.get32(F::VM_ENTRY_INSTRUCTION_LEN) : c.s.rip;
  c.m_activity = cpu::ActivityState::kActive;
  if (type == intr::kNmi) {
    if (ctl_pin(pin::kVirtualNmis)) m_virtual_nmi_blocked = true; else c.m_nmi_blocked = true;
  }
  begin_delivery(vector, type, has_error, error);
  try {
    c.deliver_event(vector, has_error, error, software, ret);
    end_delivery();
  } catch (const cpu::GuestFault& f) {
    c.handle_fault(f);
  }
}

}  // namespace vmxsim::vmx
