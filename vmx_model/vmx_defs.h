// Architectural constants of VMX: control bits, exit reasons, VM-instruction error numbers,
// capability MSR numbers (Intel SDM Vol. 3C chapters 25-28, Appendix A and C).
#pragma once

#include <cstdint>

namespace vmxsim::vmx {

constexpr uint32_t bit(unsigned n) { return 1u << n; }

// Pin-based VM-execution controls (SDM §25.6.1).
namespace pin {
constexpr uint32_t kExtIntExiting = bit(0), kNmiExiting = bit(3), kVirtualNmis = bit(5),
                   kPreemptionTimer = bit(6), kPostedInterrupts = bit(7);
}
// Primary processor-based VM-execution controls (SDM §25.6.2).
namespace proc {
constexpr uint32_t kIntrWindowExiting = bit(2), kUseTscOffsetting = bit(3), kHltExiting = bit(7),
                   kInvlpgExiting = bit(9), kMwaitExiting = bit(10), kRdpmcExiting = bit(11),
                   kRdtscExiting = bit(12), kCr3LoadExiting = bit(15), kCr3StoreExiting = bit(16),
                   kActivateTertiary = bit(17), kCr8LoadExiting = bit(19),
                   kCr8StoreExiting = bit(20), kUseTprShadow = bit(21),
                   kNmiWindowExiting = bit(22), kMovDrExiting = bit(23),
                   kUncondIoExiting = bit(24), kUseIoBitmaps = bit(25), kMonitorTrapFlag = bit(27),
                   kUseMsrBitmaps = bit(28), kMonitorExiting = bit(29), kPauseExiting = bit(30),
                   kActivateSecondary = bit(31);
}
// Secondary processor-based VM-execution controls (SDM §25.6.2).
namespace proc2 {
constexpr uint32_t kVirtApicAccesses = bit(0), kEnableEpt = bit(1), kDescTableExiting = bit(2),
                   kEnableRdtscp = bit(3), kVirtX2apicMode = bit(4), kEnableVpid = bit(5),
                   kWbinvdExiting = bit(6), kUnrestrictedGuest = bit(7),
                   kApicRegisterVirt = bit(8), kVirtIntrDelivery = bit(9),
                   kPauseLoopExiting = bit(10), kRdrandExiting = bit(11), kEnableInvpcid = bit(12),
                   kEnableVmfunc = bit(13), kVmcsShadowing = bit(14), kEnclsExiting = bit(15),
                   kRdseedExiting = bit(16), kEnablePml = bit(17), kEptViolationVe = bit(18),
                   kConcealFromPt = bit(19), kEnableXsaves = bit(20), kModeBasedEpt = bit(22),
                   kTscScaling = bit(25);
}
// VM-exit controls (SDM §25.7.1).
namespace exitc {
constexpr uint32_t kSaveDebugControls = bit(2), kHostAddrSpaceSize = bit(9),
                   kLoadPerfGlobalCtrl = bit(12), kAckIntrOnExit = bit(15), kSavePat = bit(18),
                   kLoadPat = bit(19), kSaveEfer = bit(20), kLoadEfer = bit(21),
                   kSavePreemptionTimer = bit(22);
}
// VM-entry controls (SDM §25.8.1).
namespace entryc {
constexpr uint32_t kLoadDebugControls = bit(2), kIa32eModeGuest = bit(9), kEntryToSmm = bit(10),
                   kDeactivateDualMonitor = bit(11), kLoadPerfGlobalCtrl = bit(13),
                   kLoadPat = bit(14), kLoadEfer = bit(15);
}

// Basic exit reasons (SDM Appendix C).
enum ExitReason : uint16_t {
  kExitExceptionNmi = 0, kExitExternalInterrupt = 1, kExitTripleFault = 2, kExitInit = 3,
  kExitSipi = 4, kExitIoSmi = 5, kExitOtherSmi = 6, kExitInterruptWindow = 7,
  kExitNmiWindow = 8, kExitTaskSwitch = 9, kExitCpuid = 10, kExitGetsec = 11, kExitHlt = 12,
  kExitInvd = 13, kExitInvlpg = 14, kExitRdpmc = 15, kExitRdtsc = 16, kExitRsm = 17,
  kExitVmcall = 18, kExitVmclear = 19, kExitVmlaunch = 20, kExitVmptrld = 21,
  kExitVmptrst = 22, kExitVmread = 23, kExitVmresume = 24, kExitVmwrite = 25, kExitVmxoff = 26,
  kExitVmxon = 27, kExitCrAccess = 28, kExitDrAccess = 29, kExitIoInstruction = 30,
  kExitRdmsr = 31, kExitWrmsr = 32, kExitInvalidGuestState = 33, kExitMsrLoading = 34,
  kExitMwait = 36, kExitMonitorTrapFlag = 37, kExitMonitor = 39, kExitPause = 40,
  kExitMachineCheck = 41, kExitTprBelowThreshold = 43, kExitApicAccess = 44,
  kExitVirtualizedEoi = 45, kExitGdtrIdtrAccess = 46, kExitLdtrTrAccess = 47,
  kExitEptViolation = 48, kExitEptMisconfig = 49, kExitInvept = 50, kExitRdtscp = 51,
  kExitPreemptionTimer = 52, kExitInvvpid = 53, kExitWbinvd = 54, kExitXsetbv = 55,
  kExitApicWrite = 56, kExitRdrand = 57, kExitInvpcid = 58, kExitVmfunc = 59, kExitEncls = 60,
  kExitRdseed = 61, kExitPmlFull = 62, kExitXsaves = 63, kExitXrstors = 64,
  kNumExitReasons = 80
};
constexpr uint32_t kExitReasonEntryFailure = 1u << 31;
const char* exit_reason_name(unsigned reason);

// VM-instruction error numbers (SDM §31.4).
enum VmError : uint32_t {
  kErrVmcallInRoot = 1, kErrVmclearInvalidAddr = 2, kErrVmclearVmxonPtr = 3,
  kErrVmlaunchNonClear = 4, kErrVmresumeNonLaunched = 5, kErrVmresumeAfterVmxoff = 6,
  kErrEntryInvalidControls = 7, kErrEntryInvalidHostState = 8, kErrVmptrldInvalidAddr = 9,
  kErrVmptrldVmxonPtr = 10, kErrVmptrldBadRevision = 11, kErrUnsupportedField = 12,
  kErrVmwriteReadOnly = 13, kErrVmxonInRoot = 15, kErrEntryEventsBlockedByMovSs = 26,
  kErrInvalidInvOperand = 28,
};

// Interruption-information fields (SDM §25.8.3, §25.9.2).
namespace intr {
constexpr uint32_t kVectorMask = 0xff, kTypeShift = 8, kTypeMask = 7u << 8,
                   kDeliverErrorCode = bit(11), kNmiUnblockedByIret = bit(12), kValid = bit(31);
enum Type : uint32_t {
  kExternal = 0, kNmi = 2, kHardwareException = 3, kSoftwareInterrupt = 4,
  kPrivilegedSoftwareException = 5, kSoftwareException = 6, kOtherEvent = 7
};
}

// Guest interruptibility state (SDM §25.4.2, Table 25-3).
namespace interruptibility {
constexpr uint32_t kBlockingBySti = bit(0), kBlockingByMovSs = bit(1), kBlockingBySmi = bit(2),
                   kBlockingByNmi = bit(3), kEnclaveInterruption = bit(4);
}
// Activity states (SDM §25.4.2).
enum ActivityStateValue : uint32_t { kActivityActive = 0, kActivityHlt = 1, kActivityShutdown = 2,
                                     kActivityWaitSipi = 3 };

// Capability MSRs (SDM Appendix A).
namespace msr {
constexpr uint32_t kFeatureControl = 0x3a, kVmxBasic = 0x480, kPinbasedCtls = 0x481,
                   kProcbasedCtls = 0x482, kExitCtls = 0x483, kEntryCtls = 0x484, kMisc = 0x485,
                   kCr0Fixed0 = 0x486, kCr0Fixed1 = 0x487, kCr4Fixed0 = 0x488,
                   kCr4Fixed1 = 0x489, kVmcsEnum = 0x48a, kProcbasedCtls2 = 0x48b,
                   kEptVpidCap = 0x48c, kTruePinbasedCtls = 0x48d, kTrueProcbasedCtls = 0x48e,
                   kTrueExitCtls = 0x48f, kTrueEntryCtls = 0x490, kVmfunc = 0x491,
                   kProcbasedCtls3 = 0x492;
}
namespace feature_control {
constexpr uint64_t kLock = 1, kVmxInsideSmx = 2, kVmxOutsideSmx = 4;
}

}  // namespace vmxsim::vmx
