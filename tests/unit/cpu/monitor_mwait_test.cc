// MONITOR/MWAIT and RDPMC (SDM Vol. 2 "MONITOR", "MWAIT", "RDPMC"; Vol. 3C §26.1.1, §26.3):
// the fault checks in their order, the wait and what ends it (a store by this core, by another
// agent, a masked interrupt with ECX[0]), and their VM exits with the exit qualification.
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
using Bytes = std::vector<uint8_t>;
using F = vx::VmcsField;

constexpr uint64_t kCode = TestMachine::kFreeBase;
constexpr uint64_t kLine = TestMachine::kFreeBase + 0x10040;  // the monitored line

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes imm32(uint32_t x) {
  return {static_cast<uint8_t>(x), static_cast<uint8_t>(x >> 8), static_cast<uint8_t>(x >> 16),
          static_cast<uint8_t>(x >> 24)};
}
Bytes mov_rax(uint64_t v) {
  Bytes b = {0x48, 0xb8};
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return b;
}
Bytes mov_ecx(uint32_t x) { return Bytes{0xb9} + imm32(x); }
const Bytes kXorEax = {0x31, 0xc0}, kXorEcx = {0x31, 0xc9}, kXorEdx = {0x31, 0xd2};
const Bytes kMonitor = {0x0f, 0x01, 0xc8}, kMwait = {0x0f, 0x01, 0xc9}, kRdpmc = {0x0f, 0x33};
const Bytes kMovEbx1 = {0xbb, 0x01, 0x00, 0x00, 0x00};  // marks "the MWAIT returned"
const Bytes kStoreEcxAtRax = {0x89, 0x08};             // mov [rax], ecx

// MONITOR on kLine (ECX = EDX = 0).
Bytes arm() { return mov_rax(kLine) + kXorEcx + kXorEdx + kMonitor; }
// MWAIT with ECX = `ext`, then EBX = 1.
Bytes wait(uint32_t ext = 0) { return kXorEax + mov_ecx(ext) + kMwait + kMovEbx1; }

class MonitorMwait : public ::testing::Test {
 protected:
  void SetUp() override {
    m.enter_long_mode();
    m.gpr(kRbx) = 0;
  }
  // Keeps running the core as it is (TestMachine::run would reset a halted core).
  void resume() { m.core().run(m.core().cycles() + 100'000); }
  bool returned() { return m.gpr(kRbx) == 1; }
  TestMachine m;
};

TEST_F(MonitorMwait, CpuidAdvertisesMonitorAndLeaf5) {
  uint32_t out[4];
  m.core().cpuid(1, 0, out);
  EXPECT_TRUE(out[2] & (1u << 3));
  m.core().cpuid(5, 0, out);
  EXPECT_EQ(out[0], 64u);     // smallest monitor line
  EXPECT_EQ(out[1], 64u);     // largest monitor line
  EXPECT_EQ(out[2], 3u);      // extensions enumerated, interrupts break even when masked
}

TEST_F(MonitorMwait, MiscEnableMonitorFsmOffHidesAndDisablesThem) {
  uint64_t misc = 0;
  ASSERT_TRUE(m.core().read_msr(0x1a0, misc));
  EXPECT_TRUE(misc & misc_enable::kMonitorFsm);
  ASSERT_TRUE(m.core().write_msr(0x1a0, misc & ~misc_enable::kMonitorFsm));
  uint32_t out[4];
  m.core().cpuid(1, 0, out);
  EXPECT_FALSE(out[2] & (1u << 3));
  EXPECT_EQ(m.run_code(kCode, arm()).exception, kUd);
  EXPECT_EQ(m.run_code(kCode, wait()).exception, kUd);
}

TEST_F(MonitorMwait, FeatureOffMeansUd) {
  CoreParams p = TestMachine::default_params();
  p.features.monitor = false;
  TestMachine off(16u << 20, p);
  off.enter_long_mode();
  uint32_t out[4];
  off.core().cpuid(1, 0, out);
  EXPECT_FALSE(out[2] & (1u << 3));
  off.core().cpuid(5, 0, out);
  EXPECT_EQ(out[0] | out[1] | out[2] | out[3], 0u);
  EXPECT_EQ(off.run_code(kCode, arm()).exception, kUd);
  EXPECT_EQ(off.run_code(kCode, wait()).exception, kUd);
}

TEST_F(MonitorMwait, AtCpl3BothAreUd) {
  m.set_cpl(3);
  EXPECT_EQ(m.run_code(kCode, arm()).exception, kUd);
  m.enter_long_mode();
  m.set_cpl(3);
  EXPECT_EQ(m.run_code(kCode, wait()).exception, kUd);
}

TEST_F(MonitorMwait, ReservedExtensionsAreGp) {
  RunResult r = m.run_code(kCode, mov_rax(kLine) + mov_ecx(1) + kXorEdx + kMonitor);
  EXPECT_EQ(r.exception, kGp);
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_FALSE(m.core().monitor_armed());
  r = m.run_code(kCode, arm() + wait(2));
  EXPECT_EQ(r.exception, kGp);
  EXPECT_EQ(r.error_code, 0u);
}

TEST_F(MonitorMwait, NonCanonicalMonitorAddressIsGp) {
  const RunResult r = m.run_code(kCode, mov_rax(0x8000'0000'0000'0000ull) + kXorEcx + kXorEdx + kMonitor);
  EXPECT_EQ(r.exception, kGp);
}

TEST_F(MonitorMwait, MonitorOfNonRamDoesNotArm) {
  // Beyond the TestMachine's 16 MiB of RAM (identity-mapped up to 1 GiB): not write-back memory.
  const RunResult r = m.run_code(kCode, mov_rax(0x2000000) + kXorEcx + kXorEdx + kMonitor + wait());
  EXPECT_TRUE(r.halted);
  EXPECT_TRUE(returned());
  EXPECT_FALSE(m.core().monitor_armed());
  EXPECT_EQ(m.core().m_mwaits, 0u);
}

TEST_F(MonitorMwait, WithoutMonitorMwaitReturnsAtOnce) {
  const RunResult r = m.run_code(kCode, wait());
  EXPECT_TRUE(r.halted);  // the final HLT
  EXPECT_TRUE(returned());
  EXPECT_EQ(m.core().m_mwaits, 0u);
}

TEST_F(MonitorMwait, WaitsUntilAStoreToTheMonitoredLine) {
  m.run_code(kCode, arm() + wait());
  ASSERT_TRUE(m.core().in_mwait());
  EXPECT_FALSE(returned());
  EXPECT_EQ(m.core().m_mwaits, 1u);
  // A store to the next line does not end the wait.
  m.write_value<uint32_t>(kLine + 64, 7);
  resume();
  EXPECT_TRUE(m.core().in_mwait());
  EXPECT_FALSE(returned());
  // A store by another agent (DMA, another core: anything that passes the CodeMap) does.
  m.write_value<uint32_t>(kLine + 60, 7);
  EXPECT_FALSE(m.core().monitor_armed());
  resume();
  EXPECT_TRUE(returned());
  EXPECT_EQ(m.core().activity(), ActivityState::kHalted);  // the final HLT
  EXPECT_FALSE(m.core().in_mwait());
}

TEST_F(MonitorMwait, OwnStoreBetweenMonitorAndMwaitEndsTheWaitBeforeItBegins) {
  // The page was mapped for fast stores before MONITOR: arming must take that mapping away.
  const Bytes warm = mov_rax(kLine) + kStoreEcxAtRax;
  const RunResult r = m.run_code(kCode, warm + arm() + kStoreEcxAtRax + wait());
  EXPECT_TRUE(r.halted);
  EXPECT_TRUE(returned());
  EXPECT_EQ(m.core().m_mwaits, 0u);
}

TEST_F(MonitorMwait, MaskedInterruptEndsTheWaitOnlyWithEcx0) {
  m.set_rflags(rflags::kFixed1);  // IF = 0
  m.run_code(kCode, arm() + wait(0));
  ASSERT_TRUE(m.core().in_mwait());
  m.env().pending_vector = 0x40;
  m.core().signal_interrupt();
  resume();
  EXPECT_TRUE(m.core().in_mwait());  // a masked interrupt does not end a plain MWAIT
  EXPECT_FALSE(returned());

  m.env().pending_vector = -1;
  m.gpr(kRbx) = 0;
  m.run_code(kCode, arm() + wait(1));
  ASSERT_TRUE(m.core().in_mwait());
  m.env().pending_vector = 0x40;
  m.core().signal_interrupt();
  resume();
  EXPECT_TRUE(returned());  // woken, and with IF = 0 the interrupt stays pending
  EXPECT_EQ(m.core().m_interrupts[0x40], 0u);
}

TEST_F(MonitorMwait, RdpmcWithoutCountersIsGpAndCpl3NeedsPce) {
  RunResult r = m.run_code(kCode, kXorEcx + kRdpmc);
  EXPECT_EQ(r.exception, kGp);  // no counter exists (CPUID leaf 0AH reports none)
  uint32_t out[4];
  m.core().cpuid(0xa, 0, out);
  EXPECT_EQ(out[0] & 0xff, 0u);
}

// --- VM exits -------------------------------------------------------------------------------

class MonitorMwaitVmx : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(h.setup(why)) << why;
  }
  void run_guest(const Bytes& code, uint32_t proc_controls) {
    h.guest_code(code + Bytes{0xf4});
    h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_controls);
    ASSERT_EQ(h.launch(), VmxHarness::Result::kExit) << h.core().vmx().m_last_entry_failure;
  }
  VmxHarness h;
};

TEST_F(MonitorMwaitVmx, MonitorExitsBeforeItsOperandChecks) {
  // ECX = 1 would be #GP(0): the exit comes first.
  run_guest(mov_rax(VmxHarness::kGuestData) + mov_ecx(1) + kXorEdx + kMonitor, vx::proc::kMonitorExiting);
  EXPECT_EQ(h.exit_reason(), vx::kExitMonitor);
  EXPECT_EQ(h.field(F::EXIT_QUALIFICATION), 0u);
  EXPECT_EQ(h.field(F::VM_EXIT_INSTRUCTION_LEN), 3u);
  EXPECT_FALSE(h.core().monitor_armed());
}

TEST_F(MonitorMwaitVmx, MwaitExitQualificationSaysWhetherTheMonitorWasArmed) {
  run_guest(kXorEax + kXorEcx + kMwait, vx::proc::kMwaitExiting);
  EXPECT_EQ(h.exit_reason(), vx::kExitMwait);
  EXPECT_EQ(h.field(F::EXIT_QUALIFICATION), 0u);
}

TEST_F(MonitorMwaitVmx, MwaitExitWithArmedMonitor) {
  run_guest(mov_rax(VmxHarness::kGuestData) + kXorEcx + kXorEdx + kMonitor + kXorEax + kMwait,
            vx::proc::kMwaitExiting);
  EXPECT_EQ(h.exit_reason(), vx::kExitMwait);
  EXPECT_EQ(h.field(F::EXIT_QUALIFICATION), 1u);
}

TEST_F(MonitorMwaitVmx, WithoutExitingTheGuestMonitorsAndWaits) {
  // HLT exiting is on (the harness's default guest): the MWAIT without an armed monitor returns,
  // the HLT after it exits.
  run_guest(kXorEax + kXorEcx + kMwait, 0);
  EXPECT_EQ(h.exit_reason(), vx::kExitHlt);
}

TEST_F(MonitorMwaitVmx, AGuestWaitingInMwaitIsSavedActiveAfterTheMwait) {
  const Bytes code = mov_rax(VmxHarness::kGuestData) + kXorEcx + kXorEdx + kMonitor + kXorEax + kMwait;
  h.guest_code(code + Bytes{0xf4});
  h.set_bits(F::PIN_BASED_VM_EXEC_CONTROL, vx::pin::kPreemptionTimer);
  h.set(F::VMX_PREEMPTION_TIMER_VALUE, 100);
  ASSERT_EQ(h.launch(), VmxHarness::Result::kOther);
  Core& c = h.core();
  ASSERT_TRUE(c.in_mwait());
  // What the SystemC driver does for a halted core: sleep until its next event.
  c.set_cycles(c.next_internal_event());
  c.signal_interrupt();
  c.run(c.cycles() + 100'000);
  ASSERT_EQ(c.s.rip, h.addr("host_rip") + 1);
  EXPECT_EQ(h.exit_reason(), vx::kExitPreemptionTimer);
  EXPECT_EQ(h.field(F::GUEST_ACTIVITY_STATE), vx::kActivityActive);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode + code.size());
}

TEST_F(MonitorMwaitVmx, RdpmcExits) {
  run_guest(kXorEcx + kRdpmc, vx::proc::kRdpmcExiting);
  EXPECT_EQ(h.exit_reason(), vx::kExitRdpmc);
  EXPECT_EQ(h.field(F::VM_EXIT_INSTRUCTION_LEN), 2u);
}

TEST_F(MonitorMwaitVmx, RdpmcWithoutExitingIsGpInTheGuest) {
  h.set(F::EXCEPTION_BITMAP, 1u << kGp);
  run_guest(kXorEcx + kRdpmc, 0);
  EXPECT_EQ(h.exit_reason(), vx::kExitExceptionNmi);
  EXPECT_EQ(h.field(F::VM_EXIT_INTR_INFO) & 0xff, kGp);
}

}  // namespace
}  // namespace vmxsim::test
