// VMLAUNCH/VMRESUME and VM entry (SDM Vol. 3C chapter 27): the basic checks, one function per
// "Checks on ..." subsection (controls, host state, guest state), loading the guest state and
// the VM-entry MSR-load list, and event injection. A failed check is recorded by name.
#include <cstdio>

#include "cpu/core.h"
#include "vmx_model/segment_fields.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using cpu::Core;
using cpu::is_canonical;
using cpu::pat_valid;
using cpu::Segment;
namespace ar = cpu::ar;
namespace cr0 = cpu::cr0;
namespace cr4 = cpu::cr4;
namespace efer = cpu::efer;
namespace rflags = cpu::rflags;
using F = VmcsField;

namespace {

// A failed check: its name goes to the trace and to VmxUnit::m_last_entry_failure.
#define CHECK(cond, name)   \
  do {                      \
    if (!(cond)) {          \
      why = name;           \
      return false;         \
    }                       \
  } while (0)

}  // namespace

// SDM §27.2.1.1: memory type UC or WB as supported, 4-level walks, A/D only if supported, no
// reserved bits. Also what VMFUNC's EPTP switching checks of a list entry.
bool VmxUnit::eptp_valid(uint64_t eptp, std::string& why) const {
  const unsigned type = eptp & 7;
  const unsigned maxphy = m_core.params().phys_addr_bits;
  CHECK((type == 0 && (m_caps.ept_vpid & (1ull << 8))) || (type == 6 && (m_caps.ept_vpid & (1ull << 14))),
        "EPTP memory type");
  CHECK(((eptp >> 3) & 7) == 3, "EPTP page-walk length");
  if (eptp & (1ull << 6)) CHECK(m_caps.ept_vpid & (1ull << 21), "EPTP accessed/dirty flags");
  CHECK((eptp & 0xf80) == 0 && (eptp >> maxphy) == 0, "EPTP reserved bits");
  return true;
}

uint64_t VmxUnit::tsc_to_cycles(uint64_t ticks) const {
  const auto& p = m_core.params();
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ticks) * p.core_hz / p.tsc_hz);
}

bool VmxUnit::cr0_valid_in_vmx(uint64_t v) const {
  uint64_t fixed0 = m_caps.cr0_fixed0;
  if (m_core.vmx_nonroot() && ctl_proc2(proc2::kUnrestrictedGuest)) fixed0 &= ~(cr0::kPe | cr0::kPg);
  return (v & fixed0) == fixed0 && (v & ~m_caps.cr0_fixed1) == 0;
}

bool VmxUnit::cr4_valid_in_vmx(uint64_t v) const {
  return (v & m_caps.cr4_fixed0) == m_caps.cr4_fixed0 && (v & ~m_caps.cr4_fixed1) == 0;
}

// SDM §27.2.1: checks on VM-execution, VM-exit and VM-entry control fields.
bool VmxUnit::check_controls(std::string& why) {
  const Vmcs& v = m_vmcs;
  const unsigned maxphy = m_core.params().phys_addr_bits;
  auto addr_ok = [&](uint64_t a) { return (a & 0xfff) == 0 && (a >> maxphy) == 0; };
  const uint32_t pinv = v.get32(F::PIN_BASED_VM_EXEC_CONTROL);
  const uint32_t procv = v.get32(F::CPU_BASED_VM_EXEC_CONTROL);
  const uint32_t proc2v = (procv & proc::kActivateSecondary) ? v.get32(F::SECONDARY_VM_EXEC_CONTROL) : 0;
  const uint32_t exitv = v.get32(F::VM_EXIT_CONTROLS);
  const uint32_t entryv = v.get32(F::VM_ENTRY_CONTROLS);

  // §27.2.1.1 VM-execution control fields.
  CHECK(VmxCaps::allowed(m_caps.true_pinbased, pinv), "pin-based controls: reserved bits");
  CHECK(VmxCaps::allowed(m_caps.true_procbased, procv), "primary processor-based controls: reserved bits");
  if (procv & proc::kActivateSecondary)
    CHECK(VmxCaps::allowed(m_caps.procbased2, proc2v), "secondary processor-based controls: reserved bits");
  CHECK(v.get32(F::CR3_TARGET_COUNT) <= 4, "CR3-target count above 4");
  if (procv & proc::kUseIoBitmaps) {
    CHECK(addr_ok(v.get(F::IO_BITMAP_A)), "I/O bitmap A address");
    CHECK(addr_ok(v.get(F::IO_BITMAP_B)), "I/O bitmap B address");
  }
  if (procv & proc::kUseMsrBitmaps) CHECK(addr_ok(v.get(F::MSR_BITMAP)), "MSR bitmap address");
  if (procv & proc::kUseTprShadow) {
    CHECK(addr_ok(v.get(F::VIRTUAL_APIC_PAGE_ADDR)), "virtual-APIC page address");
    if (!(proc2v & proc2::kVirtIntrDelivery)) CHECK(v.get32(F::TPR_THRESHOLD) >> 4 == 0, "TPR threshold bits 31:4");
    if (!(proc2v & (proc2::kVirtIntrDelivery | proc2::kVirtApicAccesses))) {
      const uint64_t vtpr = phys_read(v.get(F::VIRTUAL_APIC_PAGE_ADDR) + 0x80, 1);
      CHECK((v.get32(F::TPR_THRESHOLD) & 0xf) <= ((vtpr >> 4) & 0xf), "TPR threshold above VTPR[7:4]");
    }
  } else {
    CHECK(!(proc2v & (proc2::kVirtX2apicMode | proc2::kApicRegisterVirt | proc2::kVirtIntrDelivery)),
          "APIC virtualization without the TPR shadow");
  }
  if (!(pinv & pin::kNmiExiting)) CHECK(!(pinv & pin::kVirtualNmis), "virtual NMIs without NMI exiting");
  if (!(pinv & pin::kVirtualNmis)) CHECK(!(procv & proc::kNmiWindowExiting), "NMI-window exiting without virtual NMIs");
  if (proc2v & proc2::kVirtApicAccesses) CHECK(addr_ok(v.get(F::APIC_ACCESS_ADDR)), "APIC-access address");
  if (proc2v & proc2::kVirtX2apicMode)
    CHECK(!(proc2v & proc2::kVirtApicAccesses), "virtualize x2APIC mode with virtualize APIC accesses");
  if (proc2v & proc2::kVirtIntrDelivery)
    CHECK(pinv & pin::kExtIntExiting, "virtual-interrupt delivery without external-interrupt exiting");
  if (pinv & pin::kPostedInterrupts) {
    CHECK(proc2v & proc2::kVirtIntrDelivery, "posted interrupts without virtual-interrupt delivery");
    CHECK(exitv & exitc::kAckIntrOnExit, "posted interrupts without acknowledge interrupt on exit");
    CHECK((v.get(F::POSTED_INTR_NV) & 0xff00) == 0, "posted-interrupt notification vector bits 15:8");
    const uint64_t d = v.get(F::POSTED_INTR_DESC_ADDR);
    CHECK((d & 0x3f) == 0 && (d >> maxphy) == 0, "posted-interrupt descriptor address");
  }
  if (proc2v & proc2::kEnableVpid) CHECK(v.get(F::VIRTUAL_PROCESSOR_ID) != 0, "VPID is 0");
  if ((proc2v & proc2::kEnableEpt) && !eptp_valid(v.get(F::EPT_POINTER), why)) return false;
  if (proc2v & proc2::kEnableVmfunc) {
    const uint64_t fns = v.get(F::VM_FUNCTION_CONTROL);
    CHECK((fns & ~m_caps.vmfunc) == 0, "VM-function controls: reserved bits");
    if (fns & 1) {
      CHECK(proc2v & proc2::kEnableEpt, "EPTP switching without EPT");
      CHECK(addr_ok(v.get(F::EPTP_LIST_ADDRESS)), "EPTP-list address");
    }
  }
  if (proc2v & proc2::kUnrestrictedGuest) CHECK(proc2v & proc2::kEnableEpt, "unrestricted guest without EPT");
  if (proc2v & proc2::kModeBasedEpt) CHECK(proc2v & proc2::kEnableEpt, "mode-based execute control without EPT");
  if (proc2v & proc2::kEnablePml) {
    CHECK(proc2v & proc2::kEnableEpt, "PML without EPT");
    CHECK(addr_ok(v.get(F::PML_ADDRESS)), "PML address");
  }
  if (proc2v & proc2::kVmcsShadowing) {
    CHECK(addr_ok(v.get(F::VMREAD_BITMAP)), "VMREAD-bitmap address");
    CHECK(addr_ok(v.get(F::VMWRITE_BITMAP)), "VMWRITE-bitmap address");
  }

  // §27.2.1.2 VM-exit control fields.
  CHECK(VmxCaps::allowed(m_caps.true_exit, exitv), "VM-exit controls: reserved bits");
  if (!(pinv & pin::kPreemptionTimer))
    CHECK(!(exitv & exitc::kSavePreemptionTimer), "save preemption timer without the timer");
  auto list_ok = [&](F addr, F count) {
    const uint64_t a = v.get(addr);
    const uint64_t n = v.get32(count);
    return n == 0 || ((a & 0xf) == 0 && ((a + n * 16 - 1) >> maxphy) == 0);
  };
  CHECK(list_ok(F::VM_EXIT_MSR_STORE_ADDR, F::VM_EXIT_MSR_STORE_COUNT), "VM-exit MSR-store address");
  CHECK(list_ok(F::VM_EXIT_MSR_LOAD_ADDR, F::VM_EXIT_MSR_LOAD_COUNT), "VM-exit MSR-load address");

  // §27.2.1.3 VM-entry control fields.
  CHECK(VmxCaps::allowed(m_caps.true_entry, entryv), "VM-entry controls: reserved bits");
  CHECK(!(entryv & (entryc::kEntryToSmm | entryc::kDeactivateDualMonitor)), "entry to SMM / dual monitor");
  const uint32_t info = v.get32(F::VM_ENTRY_INTR_INFO);
  if (info & intr::kValid) {
    const uint32_t type = (info >> intr::kTypeShift) & 7;
    const uint32_t vec = info & intr::kVectorMask;
    CHECK(type != 1, "event injection: reserved interruption type");
    // Type 7 ("other event", a pending MTF exit) needs MTF to be supported, not enabled.
    CHECK(type != intr::kOtherEvent || ((m_caps.true_procbased >> 32) & proc::kMonitorTrapFlag),
          "event injection: other event without MTF support");
    if (type == intr::kNmi) CHECK(vec == 2, "event injection: NMI vector");
    if (type == intr::kHardwareException) CHECK(vec <= 31, "event injection: exception vector");
    if (type == intr::kOtherEvent) CHECK(vec == 0, "event injection: other-event vector");
    const bool pe = v.get(F::GUEST_CR0) & cr0::kPe;
    const bool ug = proc2v & proc2::kUnrestrictedGuest;
    bool wants_error = false;
    if (type == intr::kHardwareException && (!ug || pe))
      wants_error = vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17;
    CHECK(bool(info & intr::kDeliverErrorCode) == wants_error, "event injection: deliver-error-code bit");
    CHECK((info & 0x7ffff000u) == 0, "event injection: reserved bits 30:12");
    if (info & intr::kDeliverErrorCode)
      CHECK(v.get32(F::VM_ENTRY_EXCEPTION_ERROR_CODE) >> 16 == 0, "event injection: error code bits 31:16");
    if (type == intr::kSoftwareInterrupt || type == intr::kPrivilegedSoftwareException ||
        type == intr::kSoftwareException) {
      const uint32_t len = v.get32(F::VM_ENTRY_INSTRUCTION_LEN);
      CHECK(len <= 15 && (len > 0 || (m_caps.misc & (1ull << 30))), "event injection: instruction length");
    }
  }
  CHECK(list_ok(F::VM_ENTRY_MSR_LOAD_ADDR, F::VM_ENTRY_MSR_LOAD_COUNT), "VM-entry MSR-load address");
  return true;
}

// SDM §27.2.2-§27.2.4: host control registers, MSRs, segments and address-space size.
bool VmxUnit::check_host_state(std::string& why) {
  const Vmcs& v = m_vmcs;
  const unsigned maxphy = m_core.params().phys_addr_bits;
  const uint64_t hcr0 = v.get(F::HOST_CR0), hcr4 = v.get(F::HOST_CR4);
  const uint32_t exitv = v.get32(F::VM_EXIT_CONTROLS);
  const bool host64 = exitv & exitc::kHostAddrSpaceSize;
  CHECK((hcr0 & m_caps.cr0_fixed0) == m_caps.cr0_fixed0 && (hcr0 & ~m_caps.cr0_fixed1) == 0, "host CR0 fixed bits");
  CHECK(cr4_valid_in_vmx(hcr4), "host CR4 fixed bits");
  CHECK((v.get(F::HOST_CR3) >> maxphy) == 0, "host CR3 reserved bits");
  CHECK(is_canonical(v.get(F::HOST_IA32_SYSENTER_ESP)), "host IA32_SYSENTER_ESP canonical");
  CHECK(is_canonical(v.get(F::HOST_IA32_SYSENTER_EIP)), "host IA32_SYSENTER_EIP canonical");
  if (exitv & exitc::kLoadPat) CHECK(pat_valid(v.get(F::HOST_IA32_PAT)), "host IA32_PAT memory types");
  if (exitv & exitc::kLoadEfer) {
    const uint64_t e = v.get(F::HOST_IA32_EFER);
    CHECK((e & ~efer::kSupported) == 0, "host IA32_EFER reserved bits");
    CHECK(bool(e & efer::kLma) == host64, "host IA32_EFER.LMA vs host address-space size");
    CHECK(bool(e & efer::kLme) == host64, "host IA32_EFER.LME vs host address-space size");
  }
  // §27.2.3 segment and descriptor-table registers.
  for (F sel : {F::HOST_ES_SELECTOR, F::HOST_CS_SELECTOR, F::HOST_SS_SELECTOR, F::HOST_DS_SELECTOR,
                F::HOST_FS_SELECTOR, F::HOST_GS_SELECTOR, F::HOST_TR_SELECTOR})
    CHECK((v.get(sel) & 7) == 0, "host selector RPL/TI");
  CHECK(v.get(F::HOST_CS_SELECTOR) != 0, "host CS selector is 0");
  CHECK(v.get(F::HOST_TR_SELECTOR) != 0, "host TR selector is 0");
  if (!host64) CHECK(v.get(F::HOST_SS_SELECTOR) != 0, "host SS selector is 0 without 64-bit host");
  for (F base : {F::HOST_FS_BASE, F::HOST_GS_BASE, F::HOST_GDTR_BASE, F::HOST_IDTR_BASE, F::HOST_TR_BASE})
    CHECK(is_canonical(v.get(base)), "host base address canonical");
  // §27.2.4 address-space size.
  const bool lma = m_core.s.efer & efer::kLma;
  const bool guest64 = v.get32(F::VM_ENTRY_CONTROLS) & entryc::kIa32eModeGuest;
  if (!lma) {
    CHECK(!guest64, "IA-32e mode guest outside IA-32e mode");
    CHECK(!host64, "host address-space size outside IA-32e mode");
  } else {
    CHECK(host64, "host address-space size is 0 in IA-32e mode");
  }
  if (!host64) {
    CHECK(!guest64, "IA-32e mode guest with a 32-bit host");
    CHECK(!(hcr4 & cr4::kPcide), "host CR4.PCIDE with a 32-bit host");
    CHECK((v.get(F::HOST_RIP) >> 32) == 0, "host RIP bits 63:32 with a 32-bit host");
  } else {
    CHECK(hcr4 & cr4::kPae, "host CR4.PAE is 0 with a 64-bit host");
    CHECK(is_canonical(v.get(F::HOST_RIP)), "host RIP canonical");
  }
  return true;
}

// SDM §27.3.1: checks on the guest-state area. `qual` gets the VM-exit qualification of a
// failure (0, or 2 for PDPTEs, 4 for the VMCS link pointer).
bool VmxUnit::check_guest_state(std::string& why, uint64_t& qual) {
  const Vmcs& v = m_vmcs;
  const unsigned maxphy = m_core.params().phys_addr_bits;
  qual = 0;
  const uint32_t entryv = v.get32(F::VM_ENTRY_CONTROLS);
  const bool guest64 = entryv & entryc::kIa32eModeGuest;
  const bool ug = ctl_proc2(proc2::kUnrestrictedGuest);
  const uint64_t gcr0 = v.get(F::GUEST_CR0), gcr4 = v.get(F::GUEST_CR4);
  const uint64_t gflags = v.get(F::GUEST_RFLAGS);

  // §27.3.1.1 control registers, debug registers and MSRs.
  uint64_t fixed0 = m_caps.cr0_fixed0;
  if (ug) fixed0 &= ~(cr0::kPe | cr0::kPg);
  CHECK((gcr0 & fixed0) == fixed0 && (gcr0 & ~m_caps.cr0_fixed1) == 0, "guest CR0 fixed bits");
  CHECK(!(gcr0 & cr0::kPg) || (gcr0 & cr0::kPe), "guest CR0.PG without CR0.PE");
  CHECK(cr4_valid_in_vmx(gcr4), "guest CR4 fixed bits");
  if (entryv & entryc::kLoadDebugControls) {
    CHECK((v.get(F::GUEST_IA32_DEBUGCTL) & ~0x5fc3ull) == 0, "guest IA32_DEBUGCTL reserved bits");
    CHECK((v.get(F::GUEST_DR7) >> 32) == 0, "guest DR7 bits 63:32");
  }
  if (guest64) {
    CHECK(gcr0 & cr0::kPg, "IA-32e mode guest without CR0.PG");
    CHECK(gcr4 & cr4::kPae, "IA-32e mode guest without CR4.PAE");
  } else {
    CHECK(!(gcr4 & cr4::kPcide), "guest CR4.PCIDE outside IA-32e mode");
  }
  CHECK((v.get(F::GUEST_CR3) >> maxphy) == 0, "guest CR3 reserved bits");
  CHECK(is_canonical(v.get(F::GUEST_SYSENTER_ESP)), "guest IA32_SYSENTER_ESP canonical");
  CHECK(is_canonical(v.get(F::GUEST_SYSENTER_EIP)), "guest IA32_SYSENTER_EIP canonical");
  if (entryv & entryc::kLoadPat) CHECK(pat_valid(v.get(F::GUEST_IA32_PAT)), "guest IA32_PAT memory types");
  if (entryv & entryc::kLoadEfer) {
    const uint64_t e = v.get(F::GUEST_IA32_EFER);
    CHECK((e & ~efer::kSupported) == 0, "guest IA32_EFER reserved bits");
    CHECK(bool(e & efer::kLma) == guest64, "guest IA32_EFER.LMA vs IA-32e mode guest");
    if (gcr0 & cr0::kPg) CHECK(bool(e & efer::kLme) == guest64, "guest IA32_EFER.LME vs IA-32e mode guest");
  }

  // §27.3.1.2 segment registers.
  const bool v86 = gflags & rflags::kVm;
  const Segment cs = guest_segment(v, cpu::kCs), ss = guest_segment(v, cpu::kSs);
  const Segment tr = guest_tr(v), ldtr = guest_ldtr(v);
  CHECK(!(tr.selector & 4), "guest TR selector TI flag");
  if (!(ldtr.ar & ar::kUnusable)) CHECK(!(ldtr.selector & 4), "guest LDTR selector TI flag");
  if (!v86 && !ug) CHECK((ss.selector & 3) == (cs.selector & 3), "guest SS.RPL differs from CS.RPL");
  CHECK(is_canonical(tr.base), "guest TR base canonical");
  CHECK(is_canonical(v.get(F::GUEST_FS_BASE)) && is_canonical(v.get(F::GUEST_GS_BASE)), "guest FS/GS base canonical");
  if (!(ldtr.ar & ar::kUnusable)) CHECK(is_canonical(ldtr.base), "guest LDTR base canonical");
  CHECK((cs.base >> 32) == 0, "guest CS base bits 63:32");
  for (unsigned s : {cpu::kSs, cpu::kDs, cpu::kEs}) {
    const Segment g = guest_segment(v, s);
    if (!(g.ar & ar::kUnusable)) CHECK((g.base >> 32) == 0, "guest SS/DS/ES base bits 63:32");
  }
  auto g_bit_ok = [](const Segment& g) {
    if ((g.limit & 0xfff) != 0xfff && (g.ar & ar::kG)) return false;
    if ((g.limit >> 20) != 0 && !(g.ar & ar::kG)) return false;
    return true;
  };
  constexpr uint32_t kArReserved = 0xfffe0f00u;  // bits 11:8 and 31:17
  if (v86) {
    for (unsigned s = 0; s < cpu::kNumSegs; ++s) {
      const Segment g = guest_segment(v, s);
      CHECK(g.base == static_cast<uint64_t>(g.selector) << 4, "virtual-8086 guest segment base");
      CHECK(g.limit == 0xffff, "virtual-8086 guest segment limit");
      CHECK(g.ar == 0xf3, "virtual-8086 guest segment access rights");
    }
  } else {
    const unsigned cs_type = cs.ar & 0xf;
    CHECK(cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15 || (ug && cs_type == 3),
          "guest CS type");
    CHECK(cs.ar & ar::kS, "guest CS descriptor type (S)");
    const unsigned cs_dpl = (cs.ar >> ar::kDplShift) & 3, ss_dpl = (ss.ar >> ar::kDplShift) & 3;
    if (cs_type == 3) CHECK(cs_dpl == 0, "guest CS.DPL with data-segment type");
    if (cs_type == 9 || cs_type == 11) CHECK(cs_dpl == ss_dpl, "guest CS.DPL differs from SS.DPL");
    if (cs_type == 13 || cs_type == 15) CHECK(cs_dpl <= ss_dpl, "guest conforming CS.DPL above SS.DPL");
    CHECK(cs.ar & ar::kP, "guest CS not present");
    CHECK((cs.ar & kArReserved) == 0, "guest CS access-rights reserved bits");
    if (guest64 && (cs.ar & ar::kL)) CHECK(!(cs.ar & ar::kDb), "guest CS.D/B with CS.L");
    CHECK(g_bit_ok(cs), "guest CS limit vs granularity");
    if (!(ss.ar & ar::kUnusable)) {
      const unsigned t = ss.ar & 0xf;
      CHECK(t == 3 || t == 7, "guest SS type");
      CHECK(ss.ar & ar::kS, "guest SS descriptor type (S)");
      CHECK(ss.ar & ar::kP, "guest SS not present");
      CHECK((ss.ar & kArReserved) == 0, "guest SS access-rights reserved bits");
      CHECK(g_bit_ok(ss), "guest SS limit vs granularity");
    }
    if (!ug) CHECK(ss_dpl == (ss.selector & 3u), "guest SS.DPL differs from SS.RPL");
    if (cs_type == 3 || !(gcr0 & cr0::kPe)) CHECK(ss_dpl == 0, "guest SS.DPL must be 0");
    for (unsigned s : {cpu::kDs, cpu::kEs, cpu::kFs, cpu::kGs}) {
      const Segment g = guest_segment(v, s);
      if (g.ar & ar::kUnusable) continue;
      const unsigned t = g.ar & 0xf;
      CHECK(t & ar::kAccessed, "guest data segment not accessed");
      if (t & ar::kCodeBit) CHECK(t & ar::kCodeReadable, "guest code segment in a data register not readable");
      CHECK(g.ar & ar::kS, "guest data segment descriptor type (S)");
      if (!ug && t <= 11) CHECK(((g.ar >> ar::kDplShift) & 3) >= (g.selector & 3u), "guest data segment DPL below RPL");
      CHECK(g.ar & ar::kP, "guest data segment not present");
      CHECK((g.ar & kArReserved) == 0, "guest data segment access-rights reserved bits");
      CHECK(g_bit_ok(g), "guest data segment limit vs granularity");
    }
  }
  {
    const unsigned t = tr.ar & 0xf;
    CHECK(guest64 ? t == 11 : (t == 3 || t == 11), "guest TR type");
    CHECK(!(tr.ar & ar::kS), "guest TR descriptor type (S)");
    CHECK(tr.ar & ar::kP, "guest TR not present");
    CHECK((tr.ar & kArReserved) == 0, "guest TR access-rights reserved bits");
    CHECK(g_bit_ok(tr), "guest TR limit vs granularity");
    CHECK(!(tr.ar & ar::kUnusable), "guest TR unusable");
  }
  if (!(ldtr.ar & ar::kUnusable)) {
    CHECK((ldtr.ar & 0xf) == 2, "guest LDTR type");
    CHECK(!(ldtr.ar & ar::kS), "guest LDTR descriptor type (S)");
    CHECK(ldtr.ar & ar::kP, "guest LDTR not present");
    CHECK((ldtr.ar & kArReserved) == 0, "guest LDTR access-rights reserved bits");
    CHECK(g_bit_ok(ldtr), "guest LDTR limit vs granularity");
  }

  // §27.3.1.3 descriptor-table registers.
  CHECK(is_canonical(v.get(F::GUEST_GDTR_BASE)) && is_canonical(v.get(F::GUEST_IDTR_BASE)), "guest GDTR/IDTR base canonical");
  CHECK((v.get32(F::GUEST_GDTR_LIMIT) >> 16) == 0 && (v.get32(F::GUEST_IDTR_LIMIT) >> 16) == 0, "guest GDTR/IDTR limit bits 31:16");

  // §27.3.1.4 RIP and RFLAGS.
  const uint64_t rip = v.get(F::GUEST_RIP);
  if (!guest64 || !(cs.ar & ar::kL))
    CHECK((rip >> 32) == 0, "guest RIP bits 63:32");
  else
    CHECK(is_canonical(rip), "guest RIP canonical");
  CHECK((gflags & ~0x3f7fd7ull) == 0 && (gflags & 2), "guest RFLAGS reserved bits");
  if (guest64 || !(gcr0 & cr0::kPe)) CHECK(!v86, "guest RFLAGS.VM in IA-32e mode or real mode");
  const uint32_t inj = v.get32(F::VM_ENTRY_INTR_INFO);
  const bool inj_valid = inj & intr::kValid;
  const uint32_t inj_type = (inj >> intr::kTypeShift) & 7;
  if (inj_valid && inj_type == intr::kExternal) CHECK(gflags & rflags::kIf, "guest RFLAGS.IF with an injected external interrupt");

  // §27.3.1.5 non-register state.
  const uint32_t act = v.get32(F::GUEST_ACTIVITY_STATE);
  const uint32_t intr_state = v.get32(F::GUEST_INTERRUPTIBILITY_INFO);
  CHECK(act <= 3 && (act == 0 || (m_caps.misc & (1ull << (5 + act)))), "guest activity state");
  if (act == kActivityHlt) CHECK(((ss.ar >> ar::kDplShift) & 3) == 0, "guest HLT activity with SS.DPL > 0");
  if (intr_state & (interruptibility::kBlockingBySti | interruptibility::kBlockingByMovSs))
    CHECK(act == kActivityActive, "guest activity not active with STI/MOV-SS blocking");
  if (inj_valid) {
    const uint32_t vec = inj & intr::kVectorMask;
    if (act == kActivityHlt)
      CHECK(inj_type == intr::kExternal || inj_type == intr::kNmi ||
                (inj_type == intr::kHardwareException && (vec == 1 || vec == 18)) ||
                (inj_type == intr::kOtherEvent && vec == 0),
            "event injected into HLT activity state");
    if (act == kActivityShutdown)
      CHECK(inj_type == intr::kNmi || (inj_type == intr::kHardwareException && vec == 18),
            "event injected into shutdown activity state");
    CHECK(act != kActivityWaitSipi, "event injected into wait-for-SIPI activity state");
  }
  CHECK((intr_state & ~0x1fu) == 0, "guest interruptibility reserved bits");
  CHECK((intr_state & 3) != 3, "guest blocking by STI and by MOV SS");
  if (!(gflags & rflags::kIf)) CHECK(!(intr_state & interruptibility::kBlockingBySti), "guest blocking by STI with RFLAGS.IF=0");
  if (inj_valid && inj_type == intr::kExternal) CHECK((intr_state & 3) == 0, "guest blocking with an injected external interrupt");
  if (inj_valid && inj_type == intr::kNmi) CHECK(!(intr_state & interruptibility::kBlockingByMovSs), "guest MOV-SS blocking with an injected NMI");
  CHECK(!(intr_state & interruptibility::kBlockingBySmi), "guest blocking by SMI outside SMM");
  if (inj_valid && inj_type == intr::kNmi && ctl_pin(pin::kVirtualNmis))
    CHECK(!(intr_state & interruptibility::kBlockingByNmi), "guest virtual-NMI blocking with an injected NMI");
  CHECK(!(intr_state & interruptibility::kEnclaveInterruption), "guest enclave interruption");
  const uint64_t pdbg = v.get(F::GUEST_PENDING_DBG_EXCEPTIONS);
  CHECK((pdbg & ~0x500full) == 0, "guest pending debug exceptions reserved bits");
  if ((intr_state & 3) || act == kActivityHlt) {
    const bool tf = gflags & rflags::kTf;
    const bool btf = (entryv & entryc::kLoadDebugControls) && (v.get(F::GUEST_IA32_DEBUGCTL) & 2);
    const bool bs = pdbg & (1u << 14);
    if (tf && !btf) CHECK(bs, "guest pending BS missing with RFLAGS.TF");
    if (!tf || btf) CHECK(!bs, "guest pending BS without RFLAGS.TF");
  }
  const uint64_t link = v.get(F::VMCS_LINK_POINTER);
  if (link != ~0ull) {
    qual = 4;
    CHECK((link & 0xfff) == 0 && (link >> maxphy) == 0, "VMCS link pointer address");
    const uint32_t rev = static_cast<uint32_t>(phys_read(link, 4));
    CHECK((rev & 0x7fffffffu) == VmxCaps::kRevision, "VMCS link pointer revision");
    CHECK(bool(rev >> 31) == ctl_proc2(proc2::kVmcsShadowing), "VMCS link pointer shadow indicator");
    qual = 0;
  }

  // §27.3.1.6 PDPTEs for PAE paging.
  if ((gcr0 & cr0::kPg) && (gcr4 & cr4::kPae) && !guest64) {
    const uint64_t rsvd = ~((1ull << maxphy) - 1) | 0x1e6ull;
    for (unsigned i = 0; i < 4; ++i) {
      const uint64_t pdpte = ctl_proc2(proc2::kEnableEpt)
                                 ? v.get(static_cast<F>(static_cast<unsigned>(F::GUEST_PDPTE0) + i))
                                 : phys_read((v.get(F::GUEST_CR3) & 0xffffffe0ull) + 8 * i, 8);
      if (pdpte & 1) {
        qual = 2;
        CHECK((pdpte & rsvd) == 0, "guest PDPTE reserved bits");
        qual = 0;
      }
    }
  }
  return true;
}

#undef CHECK

bool VmxUnit::load_msr_list(uint64_t addr, uint32_t count, uint32_t& failed_index) {
  Core& c = m_core;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t e = addr + 16ull * i;
    const uint32_t index = static_cast<uint32_t>(phys_read(e, 4));
    const uint32_t reserved = static_cast<uint32_t>(phys_read(e + 4, 4));
    const uint64_t data = phys_read(e + 8, 8);
    c.add_cycles(m_costs.msr_list_entry_cycles);
    failed_index = i + 1;
    // SDM §27.4: FS/GS base, SMM MSRs, x2APIC MSRs (in x2APIC mode) and reserved bits fail.
    if (reserved != 0 || index == 0xc0000100 || index == 0xc0000101 || index == 0x9e || index == 0x9b ||
        (index >> 8) == 8)
      return false;
    bool ok;
    try {
      ok = c.write_msr(index, data);
    } catch (const cpu::GuestFault&) {
      ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

void VmxUnit::fail_entry(uint32_t reason, uint64_t qualification, const std::string& why) {
  ++m_entry_failures;
  m_last_entry_failure = why;
  if (m_core.params().trace_events)
    std::fprintf(stderr, "cpu%u VM entry failed (exit reason %u): %s\n", m_core.params().apic_id,
                 reason, why.c_str());
  VmExit e;
  e.reason = reason | kExitReasonEntryFailure;
  e.qualification = qualification;
  vm_exit(e);
}

void VmxUnit::vmlaunch_vmresume(const cpu::DecodedOp& op, bool launch) {
  Core& c = m_core;
  if (!vmx_mode_ok()) c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(launch ? kExitVmlaunch : kExitVmresume);
    return;
  }
  if (c.cpl() > 0) c.raise_gp0();
  if (!current_vmcs_valid()) return vm_fail_invalid();
  // A shadow VMCS cannot be entered (SDM VMLAUNCH/VMRESUME: VMfailInvalid).
  if (phys_read(m_current, 4) >> 31) return vm_fail_invalid();
  if (c.m_movss_shadow) return vm_fail(kErrEntryEventsBlockedByMovSs);
  if (launch && m_vmcs.launched) return vm_fail(kErrVmlaunchNonClear);
  if (!launch && !m_vmcs.launched) return vm_fail(kErrVmresumeNonLaunched);
  std::string why;
  if (!check_controls(why)) {
    m_last_entry_failure = why;
    if (c.params().trace_events) std::fprintf(stderr, "cpu%u VM entry: invalid control field: %s\n", c.params().apic_id, why.c_str());
    return vm_fail(kErrEntryInvalidControls);
  }
  if (!check_host_state(why)) {
    m_last_entry_failure = why;
    if (c.params().trace_events) std::fprintf(stderr, "cpu%u VM entry: invalid host state: %s\n", c.params().apic_id, why.c_str());
    return vm_fail(kErrEntryInvalidHostState);
  }
  // From here on a failure is a VM exit that loads the host state (SDM §27.8). The entry's own
  // cycles (fixed part, state components, MSR list, memory traffic) count as transition time up
  // to that exit, which counts its own.
  const uint64_t start = c.cycles();
  if (m_handled_reason >= 0) {
    m_handler_cycles[m_handled_reason] += start - m_exit_end_cycle;
    m_handled_reason = -1;
  }
  c.add_cycles(m_costs.entry_cycles);
  uint64_t qual = 0;
  if (!check_guest_state(why, qual)) {
    m_cycles_transitions += c.cycles() - start;
    fail_entry(kExitInvalidGuestState, qual, why);
    return c.switch_context(false);
  }
  load_guest_state();
  c.add_cycles(m_costs.state_component_cycles * entry_state_components());
  uint32_t failed = 0;
  if (!load_msr_list(m_vmcs.get(F::VM_ENTRY_MSR_LOAD_ADDR), m_vmcs.get32(F::VM_ENTRY_MSR_LOAD_COUNT), failed)) {
    m_cycles_transitions += c.cycles() - start;
    fail_entry(kExitMsrLoading, failed, "VM-entry MSR-load list entry " + std::to_string(failed));
    return c.switch_context(false);
  }
  if (launch) m_vmcs.launched = true;
  ++m_entries;
  m_cycles_transitions += c.cycles() - start;
  m_entry_cycle = c.cycles();
  arm_preemption_timer();
  inject_event();
  apic_virt_on_entry();
  c.switch_context(true);  // the block ends: continue at the guest's RIP
}

}  // namespace vmxsim::vmx
