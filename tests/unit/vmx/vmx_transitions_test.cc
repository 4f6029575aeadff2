// How a VM exit in the middle of a block is accounted (Core::switch_context, cpu/core.h): the
// instructions of the block before the exiting one retire and cost their cycles, the exiting one
// neither retires nor costs anything (its RIP is what the exit saves), and the VM entry's
// instruction retires. Two guests that differ only by NOPs in front of the exiting VMCALL must
// differ by exactly those NOPs, with the timing models off and on.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/timing/timed_params.h"
#include "tests/unit/vmx/vmx_harness.h"

namespace vmxsim::test {
namespace {

using R = VmxHarness::Result;

const std::vector<uint8_t> kVmcall = {0x0f, 0x01, 0xc1};
const std::vector<uint8_t> kCpuid = {0x0f, 0xa2};

struct GuestRun {
  uint64_t instructions, cycles, exit_rip;
};

GuestRun run_guest(const cpu::CoreParams& params, unsigned nops, const std::vector<uint8_t>& exiting,
                   uint32_t exception_bitmap = 0) {
  VmxHarness h(params);
  std::string why;
  EXPECT_TRUE(h.setup(why)) << why;
  h.set_bits(vmx::VmcsField::EXCEPTION_BITMAP, exception_bitmap);
  std::vector<uint8_t> code(nops, 0x90);
  code.insert(code.end(), exiting.begin(), exiting.end());
  h.guest_code(code);
  const uint64_t i0 = h.core().instructions(), c0 = h.core().cycles();
  EXPECT_EQ(h.launch(), R::kExit) << h.core().vmx().m_last_entry_failure;
  return {h.core().instructions() - i0, h.core().cycles() - c0, h.guest_rip()};
}

void expect_nops_only_difference(const cpu::CoreParams& params, const std::vector<uint8_t>& exiting) {
  const GuestRun bare = run_guest(params, 0, exiting);
  const GuestRun padded = run_guest(params, 5, exiting);
  // The exit saves the exiting instruction's own RIP: it did not complete.
  EXPECT_EQ(bare.exit_rip, VmxHarness::kGuestCode);
  EXPECT_EQ(padded.exit_rip, VmxHarness::kGuestCode + 5);
  EXPECT_EQ(padded.instructions - bare.instructions, 5u);
  EXPECT_GT(padded.cycles, bare.cycles);
}

TEST(VmxTransitions, ExitAfterNopsInOneBlockRetiresExactlyTheNopsFunctional) {
  expect_nops_only_difference(TestMachine::default_params(), kVmcall);
  expect_nops_only_difference(TestMachine::default_params(), kCpuid);
}

TEST(VmxTransitions, ExitAfterNopsInOneBlockRetiresExactlyTheNopsTimed) {
  expect_nops_only_difference(timed_params(), kVmcall);
  expect_nops_only_difference(timed_params(), kCpuid);
}

// Functional profile: every instruction costs its latency, so the five NOPs cost exactly five
// NOP latencies and nothing of the exiting instruction is charged on either side.
TEST(VmxTransitions, FunctionalCyclesDifferByTheNopsLatencyOnly) {
  const cpu::CoreParams p = TestMachine::default_params();
  const GuestRun bare = run_guest(p, 0, kVmcall);
  const GuestRun padded = run_guest(p, 5, kVmcall);
  const uint64_t nop = p.latency[static_cast<int>(cpu::TimingClass::kNop)];
  EXPECT_EQ(padded.cycles - bare.cycles, 5 * nop);
}

// The same position, two mechanisms: VMCALL's exit returns through the handler, UD2's #UD in the
// exception bitmap exits from the fault path by unwinding. Both leave the faulting or exiting
// instruction unretired and charge the same: the counts must agree.
TEST(VmxTransitions, ReturnedAndUnwoundExitsAccountAlike) {
  for (const cpu::CoreParams& p : {TestMachine::default_params(), timed_params()}) {
    const GuestRun by_return = run_guest(p, 5, kVmcall);
    const GuestRun by_unwinding = run_guest(p, 5, {0x0f, 0x0b}, 1u << 6);
    EXPECT_EQ(by_return.exit_rip, by_unwinding.exit_rip);
    EXPECT_EQ(by_return.instructions, by_unwinding.instructions);
  }
}

}  // namespace
}  // namespace vmxsim::test
