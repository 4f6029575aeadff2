// Regression tests for bugs kvm-unit-tests' vmx.flat found in vmxsim, one TEST per bug, each
// asserting the architectural behaviour (Intel SDM) on a bare Core without SystemC
// (tests/unit/vmx/vmx_harness.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/cpu/test_machine.h"
#include "tests/unit/vmx/vmx_harness.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
namespace vx = vmxsim::vmx;
using F = vx::VmcsField;
using R = VmxHarness::Result;

std::vector<uint8_t> operator+(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
std::vector<uint8_t> imm32(uint32_t x) {
  return {static_cast<uint8_t>(x), static_cast<uint8_t>(x >> 8), static_cast<uint8_t>(x >> 16),
          static_cast<uint8_t>(x >> 24)};
}
const std::vector<uint8_t> kVmcall = {0x0f, 0x01, 0xc1};
std::vector<uint8_t> mov_ecx(uint32_t x) { return std::vector<uint8_t>{0xb9} + imm32(x); }
std::vector<uint8_t> mov_eax(uint32_t x) { return std::vector<uint8_t>{0xb8} + imm32(x); }
// mov [disp32], rax / mov [disp32], rdx (absolute, SIB no base)
std::vector<uint8_t> store_rax(uint32_t a) { return std::vector<uint8_t>{0x48, 0x89, 0x04, 0x25} + imm32(a); }
std::vector<uint8_t> store_rdx(uint32_t a) { return std::vector<uint8_t>{0x48, 0x89, 0x14, 0x25} + imm32(a); }

class VmxRegression : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(h.setup(why)) << why;
  }
  // Launch and expect a VM exit (not VMfail / elsewhere).
  void launch_expect_exit() {
    const R r = h.launch();
    ASSERT_EQ(r, R::kExit) << "VMLAUNCH: result " << static_cast<int>(r) << ", VM-instruction error "
                           << h.vm_instruction_error() << ", last entry failure '"
                           << h.core().vmx().m_last_entry_failure << "', host rip 0x" << std::hex
                           << h.core().s.rip;
  }
  VmxHarness h;
};

// 1. SDM §28.4: the VM-exit MSR-store area receives IA32_TSC without the TSC offset, while the
// guest's RDTSC sees TSC + TSC_OFFSET.
TEST_F(VmxRegression, MsrStoreListTscIsUnoffset) {
  constexpr uint64_t kOffset = 1ull << 50;
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kUseTscOffsetting);
  h.set(F::TSC_OFFSET, kOffset);
  h.m.write_value<uint32_t>(VmxHarness::kMsrArea, 0x10);  // index IA32_TSC, reserved 0
  h.m.write_value<uint32_t>(VmxHarness::kMsrArea + 4, 0);
  h.m.write_value<uint64_t>(VmxHarness::kMsrArea + 8, 0xdeadbeefdeadbeefull);
  h.set(F::VM_EXIT_MSR_STORE_COUNT, 1);
  // rdtsc; shl rdx, 32; or rax, rdx; mov [data], rax; vmcall
  h.guest_code(std::vector<uint8_t>{0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0} +
               store_rax(VmxHarness::kGuestData) + kVmcall);
  launch_expect_exit();
  ASSERT_EQ(h.exit_reason(), vx::kExitVmcall);
  const uint64_t guest_tsc = h.m.read<uint64_t>(VmxHarness::kGuestData);
  const uint64_t stored = h.m.read<uint64_t>(VmxHarness::kMsrArea + 8);
  const uint64_t host_now = h.core().tsc();
  EXPECT_GE(guest_tsc, kOffset) << "guest RDTSC must include TSC_OFFSET";
  EXPECT_LT(stored, kOffset) << "MSR-store IA32_TSC must not include TSC_OFFSET";
  EXPECT_LE(stored, host_now);
  EXPECT_LE(guest_tsc - kOffset, stored) << "the store happens after the guest's RDTSC";
}

// 2. #AC(0): CPL 3, CR0.AM = 1, RFLAGS.AC = 1, a misaligned 4-byte load; none with AC = 0.
class AlignmentCheck : public ::testing::Test {
 protected:
  // CPL 0 code that IRETQs to CPL 3 with `user_rflags`, where `mov eax, [rbx+1]` runs (then HLT).
  RunResult run_user_load(uint64_t user_rflags, uint64_t& load_rip) {
    constexpr uint64_t kCode = 0x110000;
    m.enter_long_mode();
    m.state().cr0 |= cr0::kAm;
    m.core().mode_changed();
    std::vector<uint8_t> code = {0x6a, 0x3b, 0x68};  // push ss; push rsp
    code = code + imm32(0xfe000);
    code = code + std::vector<uint8_t>{0x68} + imm32(static_cast<uint32_t>(user_rflags));  // push rflags
    code = code + std::vector<uint8_t>{0x6a, 0x33, 0x68};                                 // push cs; push rip
    load_rip = kCode + code.size() + 4 + 2;
    code = code + imm32(static_cast<uint32_t>(load_rip));
    code = code + std::vector<uint8_t>{0x48, 0xcf};  // iretq
    code = code + std::vector<uint8_t>{0x8b, 0x43, 0x01};  // mov eax, [rbx+1]
    m.gpr(kRbx) = 0x200000;
    m.write_value<uint64_t>(0x200000, 0x1122334455667788ull);
    return m.run_code(kCode, code);
  }
  TestMachine m;
};

TEST_F(AlignmentCheck, MisalignedLoadAtCpl3RaisesAcOnlyWithRflagsAc) {
  uint64_t load_rip = 0;
  RunResult r = run_user_load(rflags::kFixed1 | rflags::kAc, load_rip);
  EXPECT_FALSE(r.triple_fault);
  EXPECT_EQ(r.exception, kAc);
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_EQ(r.fault_rip, load_rip);

  r = run_user_load(rflags::kFixed1, load_rip);
  EXPECT_FALSE(r.triple_fault);
  EXPECT_EQ(r.exception, -1) << "vector " << r.exception;
  EXPECT_EQ(m.core().cpl(), 3u);
  EXPECT_EQ(static_cast<uint32_t>(m.gpr(kRax)), 0x44556677u);
}

// 3. IA32_DEBUGCTL: WRMSR/RDMSR round trip, reserved bits #GP(0); "load debug controls" loads
// GUEST_IA32_DEBUGCTL, "save debug controls" saves it, VM exit clears it (SDM §27.5.1).
TEST(DebugCtl, WrmsrRdmsrRoundTripAndReservedBitsGp) {
  TestMachine m;
  m.enter_long_mode();
  // mov ecx, 0x1d9; mov eax, 0x41; xor edx, edx; wrmsr; xor eax, eax; rdmsr
  RunResult r = m.run_code(0x110000, mov_ecx(0x1d9) + mov_eax(0x41) +
                                         std::vector<uint8_t>{0x31, 0xd2, 0x0f, 0x30, 0x31, 0xc0, 0x0f, 0x32});
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax), 0x41u);
  EXPECT_EQ(m.gpr(kRdx), 0u);
  for (uint64_t bad : {uint64_t{1} << 2, uint64_t{1} << 5, uint64_t{1} << 63}) {
    SCOPED_TRACE(bad);
    // mov ecx, 0x1d9; mov eax, lo; mov edx, hi; wrmsr
    r = m.run_code(0x110000, mov_ecx(0x1d9) + mov_eax(static_cast<uint32_t>(bad)) +
                                 std::vector<uint8_t>{0xba} + imm32(static_cast<uint32_t>(bad >> 32)) +
                                 std::vector<uint8_t>{0x0f, 0x30});
    EXPECT_EQ(r.exception, kGp);
    EXPECT_EQ(r.error_code, 0u);
    uint64_t v = 0;
    ASSERT_TRUE(m.core().read_msr(0x1d9, v));
    EXPECT_EQ(v, 0x41u) << "a refused WRMSR changes nothing";
  }
}

TEST_F(VmxRegression, DebugCtlLoadedOnEntrySavedOnExitClearedOnExit) {
  ASSERT_TRUE(VmxHarness::allowed1(h.true_entry, vx::entryc::kLoadDebugControls));
  ASSERT_TRUE(VmxHarness::allowed1(h.true_exit, vx::exitc::kSaveDebugControls));
  ASSERT_TRUE(h.core().write_msr(0x1d9, 0x40));  // host value: must not survive the VM exit
  h.set_bits(F::VM_ENTRY_CONTROLS, vx::entryc::kLoadDebugControls);
  h.set_bits(F::VM_EXIT_CONTROLS, vx::exitc::kSaveDebugControls);
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kUseMsrBitmaps);  // all-zero bitmap: no MSR exits
  h.set(F::GUEST_IA32_DEBUGCTL, 0x1);
  // mov ecx, 0x1d9; rdmsr; mov [data], rax; mov eax, 0x4001; xor edx, edx; wrmsr; vmcall
  h.guest_code(mov_ecx(0x1d9) + std::vector<uint8_t>{0x0f, 0x32} + store_rax(VmxHarness::kGuestData) +
               mov_eax(0x4001) + std::vector<uint8_t>{0x31, 0xd2, 0x0f, 0x30} + kVmcall);
  launch_expect_exit();
  ASSERT_EQ(h.exit_reason(), vx::kExitVmcall);
  EXPECT_EQ(h.m.read<uint64_t>(VmxHarness::kGuestData), 0x1u) << "entry loads GUEST_IA32_DEBUGCTL";
  EXPECT_EQ(h.field(F::GUEST_IA32_DEBUGCTL), 0x4001u) << "exit saves IA32_DEBUGCTL";
  uint64_t host = ~0ull;
  ASSERT_TRUE(h.core().read_msr(0x1d9, host));
  EXPECT_EQ(host, 0u) << "VM exit clears IA32_DEBUGCTL";
}

// 4. FNOP is an x87 instruction: #NM when CR0.TS = 1 (SDM Vol. 2A FNOP, "Protected Mode
// Exceptions": #NM if CR0.EM or CR0.TS is set).
TEST(Fnop, NmWhenCr0TsSet) {
  TestMachine m;
  m.enter_long_mode();
  RunResult r = m.run_code(0x110000, {0xd9, 0xd0});  // fnop
  EXPECT_EQ(r.exception, -1);
  m.state().cr0 |= cr0::kTs;
  m.core().mode_changed();
  r = m.run_code(0x110000, {0xd9, 0xd0});
  EXPECT_EQ(r.exception, kNm);
  EXPECT_EQ(r.fault_rip, 0x110000u);
}

// 5. MTF (SDM §26.5.2): an instruction that faults and delivers the exception through the guest
// IDT: the MTF VM exit comes with RIP at the handler's first instruction.
TEST_F(VmxRegression, MtfAfterFaultingInstructionStopsAtHandler) {
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kMonitorTrapFlag);
  h.guest_code({0x0f, 0x0b});  // ud2
  launch_expect_exit();
  EXPECT_EQ(h.exit_reason(), vx::kExitMonitorTrapFlag);
  EXPECT_EQ(h.guest_rip(), VmxHarness::stub(kUd)) << std::hex << h.guest_rip();
  EXPECT_EQ(h.field(F::GUEST_RSP), VmxHarness::kGuestStack - 40) << "the #UD frame was pushed";
}

// 6. Preemption timer 0 with a pending #DB (BS in the pending debug exceptions) that is not
// intercepted: the #DB is delivered first, then the preemption-timer exit at the #DB handler
// (SDM §26.7.4, §27.2 priorities).
TEST_F(VmxRegression, PreemptionTimerZeroAfterPendingDebugException) {
  ASSERT_TRUE(VmxHarness::allowed1(h.true_pin, vx::pin::kPreemptionTimer));
  h.set_bits(F::PIN_BASED_VM_EXEC_CONTROL, vx::pin::kPreemptionTimer);
  h.set(F::VMX_PREEMPTION_TIMER_VALUE, 0);
  h.set(F::GUEST_PENDING_DBG_EXCEPTIONS, 1u << 14);  // BS
  h.set(F::EXCEPTION_BITMAP, 0);
  h.guest_code(kVmcall);
  launch_expect_exit();
  EXPECT_EQ(h.exit_reason(), vx::kExitPreemptionTimer);
  EXPECT_EQ(h.guest_rip(), VmxHarness::stub(kDb)) << std::hex << h.guest_rip();
}

// 7. Injection of type 7 ("other event") vector 0 -- a pending MTF VM exit -- is allowed when the
// processor supports the monitor trap flag, whatever the control's value (SDM §26.2.1.3).
TEST_F(VmxRegression, InjectOtherEventAcceptedWithMtfControlClear) {
  ASSERT_TRUE(VmxHarness::allowed1(h.true_proc, vx::proc::kMonitorTrapFlag));
  ASSERT_FALSE(h.get(F::CPU_BASED_VM_EXEC_CONTROL) & vx::proc::kMonitorTrapFlag);
  h.set(F::VM_ENTRY_INTR_INFO, vx::intr::kValid | (vx::intr::kOtherEvent << vx::intr::kTypeShift) | 0);
  h.guest_code(kVmcall);
  const R r = h.launch();
  ASSERT_NE(r, R::kVmfailValid) << "VM-instruction error " << h.vm_instruction_error() << " ("
                                << h.core().vmx().m_last_entry_failure << ")";
  ASSERT_EQ(r, R::kExit);
  // The pending MTF VM exit happens right after entry, before any guest instruction (§26.7.2).
  EXPECT_EQ(h.exit_reason(), vx::kExitMonitorTrapFlag);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode);
}

// 8. "Use TPR shadow" = 1, secondary controls off: TPR_THRESHOLD[3:0] must not exceed
// VTPR[7:4] (SDM §26.2.1.1), else VMfailValid(7).
TEST_F(VmxRegression, TprThresholdAboveVtprFailsEntry) {
  ASSERT_TRUE(VmxHarness::allowed1(h.true_proc, vx::proc::kUseTprShadow));
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kUseTprShadow);
  h.set(F::CPU_BASED_VM_EXEC_CONTROL, h.get(F::CPU_BASED_VM_EXEC_CONTROL) & ~vx::proc::kActivateSecondary);
  h.m.write_value<uint32_t>(VmxHarness::kVapic + 0x80, 0x40);  // VTPR[7:4] = 4
  h.set(F::TPR_THRESHOLD, 5);
  h.guest_code(kVmcall);
  const R r = h.launch();
  ASSERT_EQ(r, R::kVmfailValid);
  EXPECT_EQ(h.vm_instruction_error(), vx::kErrEntryInvalidControls);
}

TEST_F(VmxRegression, TprThresholdEqualToVtprEnters) {
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kUseTprShadow);
  h.m.write_value<uint32_t>(VmxHarness::kVapic + 0x80, 0x40);
  h.set(F::TPR_THRESHOLD, 4);
  h.guest_code(kVmcall);
  launch_expect_exit();
  EXPECT_EQ(h.exit_reason(), vx::kExitVmcall);
}

// 9. Virtualize x2APIC mode + virtual-interrupt delivery: WRMSR to 0x83F (SELF IPI) with a
// vector below 16 is not virtualized as a self-IPI but causes an APIC-write VM exit
// (SDM §30.5, §30.4.3.3): reason 56, qualification 0x3f0, RIP after the WRMSR.
void run_self_ipi(VmxHarness& h, uint8_t vec) {
  ASSERT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kVirtX2apicMode));
  ASSERT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kVirtIntrDelivery));
  h.set_bits(F::PIN_BASED_VM_EXEC_CONTROL, vx::pin::kExtIntExiting);
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL,
             vx::proc::kUseTprShadow | vx::proc::kUseMsrBitmaps | vx::proc::kActivateSecondary);
  h.set(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kVirtX2apicMode | vx::proc2::kVirtIntrDelivery);
  // The MSR bitmap is all zeros: no RDMSR/WRMSR of 0x83F exits.
  // mov ecx, 0x83f; mov eax, vec; xor edx, edx; wrmsr; vmcall
  const std::vector<uint8_t> code = mov_ecx(0x83f) + mov_eax(vec) + std::vector<uint8_t>{0x31, 0xd2, 0x0f, 0x30} + kVmcall;
  h.guest_code(code);
  const R r = h.launch();
  ASSERT_EQ(r, R::kExit) << "VM-instruction error " << h.vm_instruction_error() << " ("
                         << h.core().vmx().m_last_entry_failure << ")";
  EXPECT_EQ(h.exit_reason(), vx::kExitApicWrite);
  EXPECT_EQ(h.field(F::EXIT_QUALIFICATION), 0x3f0u);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode + code.size() - kVmcall.size()) << std::hex << h.guest_rip();
  EXPECT_EQ(h.m.read<uint32_t>(VmxHarness::kVapic + 0x3f0), vec) << "the virtual SELF IPI register holds the write";
}

TEST_F(VmxRegression, X2apicSelfIpiLowVectorApicWriteExit) {
  run_self_ipi(h, 5);
}

TEST(VmxRegressionSelfIpi, X2apicSelfIpiVectors0And15ApicWriteExit) {
  for (uint8_t vec : {0, 15}) {
    SCOPED_TRACE(int{vec});
    VmxHarness hh;
    std::string why;
    ASSERT_TRUE(hh.setup(why)) << why;
    run_self_ipi(hh, vec);
  }
}

// 10. APIC-register virtualization + virtualize x2APIC mode: RDMSR 0x830 (ICR) returns the 8
// bytes at virtual-APIC offset 0x300 (EDX from 0x304, not from ICR-high's xAPIC offset 0x310).
TEST_F(VmxRegression, X2apicIcrReadFromVirtualApicOffset300) {
  ASSERT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kVirtX2apicMode));
  ASSERT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kApicRegisterVirt));
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL,
             vx::proc::kUseTprShadow | vx::proc::kUseMsrBitmaps | vx::proc::kActivateSecondary);
  h.set(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kVirtX2apicMode | vx::proc2::kApicRegisterVirt);
  h.m.write_value<uint32_t>(VmxHarness::kVapic + 0x300, 0x11223344);
  h.m.write_value<uint32_t>(VmxHarness::kVapic + 0x304, 0x55667788);
  h.m.write_value<uint32_t>(VmxHarness::kVapic + 0x310, 0xdeadbeef);
  // mov ecx, 0x830; rdmsr; mov [data], rax; mov [data+8], rdx; vmcall
  h.guest_code(mov_ecx(0x830) + std::vector<uint8_t>{0x0f, 0x32} + store_rax(VmxHarness::kGuestData) +
               store_rdx(VmxHarness::kGuestData + 8) + kVmcall);
  launch_expect_exit();
  ASSERT_EQ(h.exit_reason(), vx::kExitVmcall);
  EXPECT_EQ(h.m.read<uint64_t>(VmxHarness::kGuestData), 0x11223344u);
  EXPECT_EQ(h.m.read<uint64_t>(VmxHarness::kGuestData + 8), 0x55667788u);
}

// INIT and SIPI against a guest (vmx_init_signal_test, vmx_sipi_signal_test). The host side after
// a VM exit is a loop at kHostTail that waits for the test to write kHostGo: 1 runs VMRESUME,
// 2 runs VMXOFF (then it spins), each once. The test signals INIT/SIPI between runs, as another
// processor's local APIC would.
class InitSipi : public VmxRegression {
 protected:
  static constexpr uint64_t kHostTail = 0x10c000, kHostGo = VmxHarness::kGuestData + 0x100;
  void SetUp() override {
    VmxRegression::SetUp();
    // tail: mov eax, [go]; test eax, eax; jz tail; mov dword [go], 0; dec eax; jnz off;
    //       vmresume; hlt; off: vmxoff; jmp $
    using Bytes = std::vector<uint8_t>;
    const Bytes tail = Bytes{0x8b, 0x04, 0x25} + imm32(kHostGo) + Bytes{0x85, 0xc0, 0x74, 0xf5} +
                       Bytes{0xc7, 0x04, 0x25} + imm32(kHostGo) + imm32(0) +
                       Bytes{0xff, 0xc8, 0x75, 0x04, 0x0f, 0x01, 0xc3, 0xf4} +  // vmresume; hlt
                       Bytes{0x0f, 0x01, 0xc4, 0xeb, 0xfe};                     // vmxoff; jmp $
    h.m.write(kHostTail, tail);
    h.set(F::HOST_RIP, kHostTail);
  }
  void run() { h.core().run(h.core().cycles() + 200'000); }
  void host_does(uint32_t what) {
    h.m.write_value<uint32_t>(kHostGo, what);
    run();
  }
  bool in_guest() { return h.core().vmx_nonroot(); }
};

// 11. INIT is blocked in VMX root operation: held, not dropped (SDM Vol. 3C "Restrictions on VMX
// Operation"). The next VM entry exits at once with reason 3 before any guest instruction, which
// consumes the INIT; VMXOFF instead lets the held INIT reset the processor.
TEST_F(InitSipi, InitHeldInRootExitsAtNextEntryOnce) {
  h.guest_code(kVmcall);
  h.launch();
  ASSERT_EQ(h.exit_reason(), vx::kExitVmcall);
  h.core().signal_init();
  run();
  ASSERT_TRUE(h.core().vmx().in_vmx_operation()) << "INIT must not act in VMX root operation";
  ASSERT_EQ(h.core().s.seg[kCs].selector, TestMachine::kCode64) << "INIT reset the processor";
  host_does(1);
  EXPECT_EQ(h.exit_reason(), vx::kExitInit) << "the held INIT exits the guest at VM entry";
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode);
  host_does(1);
  EXPECT_EQ(h.exit_reason(), vx::kExitVmcall) << "the INIT exit consumed the INIT";
}

TEST_F(InitSipi, InitHeldInRootActsAtVmxoff) {
  h.core().s.apic_base &= ~(1ull << 8);  // an AP: after INIT it waits for SIPI
  h.guest_code(kVmcall);
  h.launch();
  ASSERT_EQ(h.exit_reason(), vx::kExitVmcall);
  h.core().signal_init();
  run();
  ASSERT_TRUE(h.core().vmx().in_vmx_operation());
  host_does(2);
  EXPECT_FALSE(h.core().vmx().in_vmx_operation());
  EXPECT_EQ(h.core().activity(), ActivityState::kWaitForSipi) << "VMXOFF let the held INIT act";
}

// 12. A guest entered in the wait-for-SIPI activity state: INIT is blocked there, and a SIPI is
// a VM exit (reason 4, the vector in the exit qualification, the guest's registers untouched),
// not a start-up of the guest (SDM Vol. 3C "Other Causes of VM Exits", "Activity State"). In
// the active state a SIPI is discarded.
TEST_F(InitSipi, SipiExitsGuestWaitingForSipi) {
  h.set(F::GUEST_ACTIVITY_STATE, vx::kActivityWaitSipi);
  h.set(F::HOST_RIP, h.addr("host_rip"));
  h.guest_code(kVmcall);
  h.launch();
  ASSERT_TRUE(in_guest()) << "entry failure '" << h.core().vmx().m_last_entry_failure << "'";
  ASSERT_EQ(h.core().activity(), ActivityState::kWaitForSipi);
  h.core().signal_init();
  run();
  ASSERT_TRUE(in_guest()) << "wait-for-SIPI blocks INIT, exit reason " << h.exit_reason();
  h.core().signal_sipi(0x9a);
  run();
  ASSERT_FALSE(in_guest());
  EXPECT_EQ(h.exit_reason(), vx::kExitSipi);
  EXPECT_EQ(h.field(F::EXIT_QUALIFICATION), 0x9au);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode);
  EXPECT_EQ(h.field(F::GUEST_ACTIVITY_STATE), vx::kActivityWaitSipi);
  EXPECT_EQ(h.field(F::GUEST_CS_SELECTOR), TestMachine::kCode64);
}

TEST_F(InitSipi, SipiDiscardedInActiveGuest) {
  h.set(F::HOST_RIP, h.addr("host_rip"));
  // wait: mov eax, [go]; test eax, eax; jz wait; vmcall
  h.guest_code(std::vector<uint8_t>{0x8b, 0x04, 0x25} + imm32(kHostGo) +
               std::vector<uint8_t>{0x85, 0xc0, 0x74, 0xf5} + kVmcall);
  h.launch(50'000);
  ASSERT_TRUE(in_guest());
  h.core().signal_sipi(0x9a);
  run();
  ASSERT_TRUE(in_guest()) << "exit reason " << h.exit_reason();
  h.m.write_value<uint32_t>(kHostGo, 1);  // releases the guest
  run();
  EXPECT_EQ(h.exit_reason(), vx::kExitVmcall);
}

}  // namespace
}  // namespace vmxsim::test

namespace vmxsim::test {
namespace {

// VMFUNC EPTP switching (SDM §26.5.6.3), added with the instruction: an identity EPT at
// kEpt0, a second PML4 sharing its PDPT at kEpt1, and an EPTP list naming both.
class VmfuncTest : public VmxRegression {
 protected:
  static constexpr uint64_t kEpt0 = 0x140000, kPdpt = 0x141000, kPd = 0x142000, kEpt1 = 0x143000,
                            kList = 0x144000;
  static constexpr uint64_t kEptp0 = kEpt0 | (3 << 3) | 6, kEptp1 = kEpt1 | (3 << 3) | 6;
  void SetUp() override {
    VmxRegression::SetUp();
    h.m.write_value<uint64_t>(kEpt0, kPdpt | 7);
    h.m.write_value<uint64_t>(kEpt1, kPdpt | 7);
    h.m.write_value<uint64_t>(kPdpt, kPd | 7);
    for (uint64_t i = 0; i < 2; ++i)  // 2 MiB pages, RWX, write-back
      h.m.write_value<uint64_t>(kPd + 8 * i, (i << 21) | (1 << 7) | (6 << 3) | 7);
    h.m.write_value<uint64_t>(kList, kEptp0);
    h.m.write_value<uint64_t>(kList + 8, kEptp1);
    h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kActivateSecondary);
    h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableEpt | vx::proc2::kEnableVmfunc);
    h.set(F::EPT_POINTER, kEptp0);
    h.set(F::VM_FUNCTION_CONTROL, 1);
    h.set(F::EPTP_LIST_ADDRESS, kList);
  }
};

TEST_F(VmfuncTest, EptpSwitchingWithoutExit) {
  const std::vector<uint8_t> vmfunc = {0x0f, 0x01, 0xd4};
  h.guest_code(mov_eax(0) + mov_ecx(1) + vmfunc + kVmcall);
  launch_expect_exit();
  EXPECT_EQ(h.exit_reason(), vx::kExitVmcall);
  EXPECT_EQ(h.field(F::EPT_POINTER), kEptp1);
  EXPECT_EQ(h.field(F::EPTP_INDEX), 1u);
}

TEST_F(VmfuncTest, IndexAbove511Exits) {
  const std::vector<uint8_t> vmfunc = {0x0f, 0x01, 0xd4};
  h.guest_code(mov_eax(0) + mov_ecx(512) + vmfunc + kVmcall);
  launch_expect_exit();
  EXPECT_EQ(h.exit_reason(), vx::kExitVmfunc);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode + 10);  // at the VMFUNC
  EXPECT_EQ(h.field(F::EPT_POINTER), kEptp0);
}

TEST_F(VmfuncTest, DisabledFunctionExits) {
  h.set(F::VM_FUNCTION_CONTROL, 0);
  h.set(F::EPTP_LIST_ADDRESS, 0);
  const std::vector<uint8_t> vmfunc = {0x0f, 0x01, 0xd4};
  h.guest_code(mov_eax(0) + mov_ecx(1) + vmfunc + kVmcall);
  launch_expect_exit();
  EXPECT_EQ(h.exit_reason(), vx::kExitVmfunc);
}

}  // namespace
}  // namespace vmxsim::test
