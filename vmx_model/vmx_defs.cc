#include "vmx_model/vmx_defs.h"

namespace vmxsim::vmx {

const char* exit_reason_name(unsigned reason) {
  switch (reason) {
    case kExitExceptionNmi: return "exception_nmi";
    case kExitExternalInterrupt: return "external_interrupt";
    case kExitTripleFault: return "triple_fault";
    case kExitInit: return "init";
    case kExitSipi: return "sipi";
    case kExitInterruptWindow: return "interrupt_window";
    case kExitNmiWindow: return "nmi_window";
    case kExitTaskSwitch: return "task_switch";
    case kExitCpuid: return "cpuid";
    case kExitGetsec: return "getsec";
    case kExitHlt: return "hlt";
    case kExitInvd: return "invd";
    case kExitInvlpg: return "invlpg";
    case kExitRdpmc: return "rdpmc";
    case kExitRdtsc: return "rdtsc";
    case kExitRsm: return "rsm";
    case kExitVmcall: return "vmcall";
    case kExitVmclear: return "vmclear";
    case kExitVmlaunch: return "vmlaunch";
    case kExitVmptrld: return "vmptrld";
    case kExitVmptrst: return "vmptrst";
    case kExitVmread: return "vmread";
    case kExitVmresume: return "vmresume";
    case kExitVmwrite: return "vmwrite";
    case kExitVmxoff: return "vmxoff";
    case kExitVmxon: return "vmxon";
    case kExitCrAccess: return "cr_access";
    case kExitDrAccess: return "dr_access";
    case kExitIoInstruction: return "io_instruction";
    case kExitRdmsr: return "rdmsr";
    case kExitWrmsr: return "wrmsr";
    case kExitInvalidGuestState: return "invalid_guest_state";
    case kExitMsrLoading: return "msr_loading";
    case kExitMwait: return "mwait";
    case kExitMonitorTrapFlag: return "monitor_trap_flag";
    case kExitMonitor: return "monitor";
    case kExitPause: return "pause";
    case kExitMachineCheck: return "machine_check";
    case kExitTprBelowThreshold: return "tpr_below_threshold";
    case kExitApicAccess: return "apic_access";
    case kExitVirtualizedEoi: return "virtualized_eoi";
    case kExitGdtrIdtrAccess: return "gdtr_idtr_access";
    case kExitLdtrTrAccess: return "ldtr_tr_access";
    case kExitEptViolation: return "ept_violation";
    case kExitEptMisconfig: return "ept_misconfig";
    case kExitInvept: return "invept";
    case kExitRdtscp: return "rdtscp";
    case kExitPreemptionTimer: return "preemption_timer";
    case kExitInvvpid: return "invvpid";
    case kExitWbinvd: return "wbinvd";
    case kExitXsetbv: return "xsetbv";
    case kExitApicWrite: return "apic_write";
    case kExitRdrand: return "rdrand";
    case kExitInvpcid: return "invpcid";
    case kExitVmfunc: return "vmfunc";
    case kExitEncls: return "encls";
    case kExitRdseed: return "rdseed";
    case kExitPmlFull: return "pml_full";
    case kExitXsaves: return "xsaves";
    case kExitXrstors: return "xrstors";
    default: return "unknown";
  }
}

}  // namespace vmxsim::vmx
