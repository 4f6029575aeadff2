#include "vmx_model/vmx_caps.h"

#include "vmx_model/vmcs_fields.h"
#include "vmx_model/vmx_defs.h"

namespace vmxsim::vmx {

namespace {
uint64_t ctl(uint32_t must1, uint32_t may1) { return must1 | (static_cast<uint64_t>(may1 | must1) << 32); }

// Default1 classes (SDM Appendix A.2-A.5): bits reserved as 1 in the legacy MSRs; the TRUE MSRs
// report some of them as allowed 0.
constexpr uint32_t kPinDefault1 = 0x00000016;
constexpr uint32_t kProcDefault1 = 0x0401e172;
constexpr uint32_t kProcTrueDefault1 = 0x04006172;  // CR3-load/store exiting may be 0
constexpr uint32_t kExitDefault1 = 0x00036dff;
constexpr uint32_t kExitTrueDefault1 = 0x00036dfb;  // save debug controls may be 0
constexpr uint32_t kEntryDefault1 = 0x000011ff;
constexpr uint32_t kEntryTrueDefault1 = 0x000011fb;  // load debug controls may be 0
}  // namespace

// EPT (and unrestricted guest, which needs it): the walk is vmx_model/ept.cc.
constexpr bool kEptImplemented = true;

VmxCaps make_vmx_caps(const cpu::CpuFeatures& f, uint64_t cr4_supported, unsigned phys_addr_bits) {
  VmxCaps c;
  const bool ept = f.vmx_ept && kEptImplemented;
  // Revision, 4 KiB region, WB VMCS memory type (6), INS/OUTS instruction information (54),
  // TRUE control MSRs (55), physical addresses up to MAXPHYADDR (bit 48 clear).
  c.basic = VmxCaps::kRevision | (4096ull << 32) | (6ull << 50) | (1ull << 54) | (1ull << 55);
  (void)phys_addr_bits;

  const uint32_t pin_may1 = pin::kExtIntExiting | pin::kNmiExiting | pin::kVirtualNmis |
                            (f.vmx_apicv ? pin::kPostedInterrupts : 0) |
                            (f.vmx_preemption_timer ? pin::kPreemptionTimer : 0);
  c.pinbased = ctl(kPinDefault1, pin_may1);
  c.true_pinbased = c.pinbased;

  const uint32_t proc_may1 =
      proc::kIntrWindowExiting | proc::kUseTscOffsetting | proc::kHltExiting |
      proc::kInvlpgExiting | proc::kMwaitExiting | proc::kRdpmcExiting | proc::kRdtscExiting |
      proc::kCr3LoadExiting | proc::kCr3StoreExiting | proc::kCr8LoadExiting |
      proc::kCr8StoreExiting | proc::kUseTprShadow | proc::kNmiWindowExiting | proc::kMovDrExiting |
      proc::kUncondIoExiting | proc::kUseIoBitmaps | proc::kMonitorTrapFlag |
      proc::kUseMsrBitmaps | proc::kMonitorExiting | proc::kPauseExiting |
      proc::kActivateSecondary;
  c.procbased = ctl(kProcDefault1, proc_may1);
  c.true_procbased = ctl(kProcTrueDefault1, proc_may1);

  // The APIC-access page and x2APIC-mode virtualization predate APICv (register virtualization,
  // virtual-interrupt delivery, posted interrupts), which vmx_apicv switches.
  uint32_t proc2_may1 = proc2::kDescTableExiting | proc2::kWbinvdExiting |
                        proc2::kVirtApicAccesses | proc2::kVirtX2apicMode |
                        (f.vmx_apicv ? proc2::kApicRegisterVirt | proc2::kVirtIntrDelivery : 0) |
                        (f.vmx_vmcs_shadowing ? proc2::kVmcsShadowing : 0) |
                        proc2::kRdrandExiting | proc2::kRdseedExiting |
                        (f.rdtscp ? proc2::kEnableRdtscp : 0) |
                        (f.invpcid ? proc2::kEnableInvpcid : 0);
  const bool vmfunc = ept && f.vmx_vmfunc;
  if (ept) proc2_may1 |= proc2::kEnableEpt;
  if (ept && f.vmx_pml) proc2_may1 |= proc2::kEnablePml;  // logs what EPT's dirty flags record
  if (ept && f.vmx_mbec) proc2_may1 |= proc2::kModeBasedEpt;
  if (vmfunc) proc2_may1 |= proc2::kEnableVmfunc;
  if (f.vmx_vpid) proc2_may1 |= proc2::kEnableVpid;
  if (ept && f.vmx_unrestricted_guest) proc2_may1 |= proc2::kUnrestrictedGuest;
  c.procbased2 = ctl(0, proc2_may1);

  const uint32_t exit_may1 = exitc::kSaveDebugControls | exitc::kHostAddrSpaceSize |
                             exitc::kAckIntrOnExit | exitc::kSavePat | exitc::kLoadPat |
                             exitc::kSaveEfer | exitc::kLoadEfer |
                             (f.vmx_preemption_timer ? exitc::kSavePreemptionTimer : 0);
  c.exit = ctl(kExitDefault1, exit_may1);
  c.true_exit = ctl(kExitTrueDefault1, exit_may1);

  const uint32_t entry_may1 = entryc::kLoadDebugControls | entryc::kIa32eModeGuest |
                              entryc::kLoadPat | entryc::kLoadEfer;
  c.entry = ctl(kEntryDefault1, entry_may1);
  c.true_entry = ctl(kEntryTrueDefault1, entry_may1);

  // MISC: preemption-timer rate, EFER.LMA stored on exits (5, needed with unrestricted guest),
  // activity states HLT/shutdown/wait-for-SIPI (6-8), 4 CR3 targets (16-24), 512 MSRs per list
  // (25-27 = 0), VMWRITE to any field including exit-information fields (29), injection of
  // software interrupts and exceptions with instruction length 0 (30).
  c.misc = c.preemption_timer_rate | (1ull << 5) | (1ull << 6) | (1ull << 7) | (1ull << 8) |
           (4ull << 16) | (1ull << 29) | (1ull << 30);

  c.vmfunc = vmfunc ? 1 : 0;  // IA32_VMX_VMFUNC: EPTP switching (function 0)
  c.cr0_fixed0 = 0x80000021;  // PE, NE, PG (relaxed for PE/PG by unrestricted guest)
  c.cr0_fixed1 = 0xffffffff;
  c.cr4_fixed0 = 0x2000;      // VMXE
  c.cr4_fixed1 = cr4_supported | 0x2000;
  c.vmcs_enum = static_cast<uint64_t>(max_field_index()) << 1;

  if (ept || f.vmx_vpid) {
    uint64_t ev = 0;
    if (ept) {
      // Execute-only (0), 4-level walks (6), UC (8) and WB (14) EPT structures, 2 MiB (16) and
      // 1 GiB (17, with the feature) pages, INVEPT (20) single-context (25) and all-context
      // (26), accessed and dirty flags (21).
      ev |= (1ull << 0) | (1ull << 6) | (1ull << 8) | (1ull << 14) | (1ull << 16) |
            (f.page1gb ? (1ull << 17) : 0) | (1ull << 20) | (1ull << 21) | (1ull << 25) |
            (1ull << 26);
    }
    if (f.vmx_vpid) {
      // INVVPID (32): individual address (40), single context (41), all contexts (42), single
      // context retaining globals (43).
      ev |= (1ull << 32) | (1ull << 40) | (1ull << 41) | (1ull << 42) | (1ull << 43);
    }
    c.ept_vpid = ev;
  }
  return c;
}

bool VmxCaps::read_msr(uint32_t m, uint64_t& v) const {
  switch (m) {
    case msr::kVmxBasic: v = basic; return true;
    case msr::kPinbasedCtls: v = pinbased; return true;
    case msr::kProcbasedCtls: v = procbased; return true;
    case msr::kExitCtls: v = exit; return true;
    case msr::kEntryCtls: v = entry; return true;
    case msr::kMisc: v = misc; return true;
    case msr::kCr0Fixed0: v = cr0_fixed0; return true;
    case msr::kCr0Fixed1: v = cr0_fixed1; return true;
    case msr::kCr4Fixed0: v = cr4_fixed0; return true;
    case msr::kCr4Fixed1: v = cr4_fixed1; return true;
    case msr::kVmcsEnum: v = vmcs_enum; return true;
    case msr::kProcbasedCtls2: v = procbased2; return true;
    case msr::kEptVpidCap: v = ept_vpid; return true;
    case msr::kTruePinbasedCtls: v = true_pinbased; return true;
    case msr::kTrueProcbasedCtls: v = true_procbased; return true;
    case msr::kTrueExitCtls: v = true_exit; return true;
    case msr::kTrueEntryCtls: v = true_entry; return true;
    case msr::kVmfunc: v = vmfunc; return true;
    default: return false;
  }
}

}  // namespace vmxsim::vmx
