// Exact simulated cycle counts of small sequences on a bare Core with the timing models on, and
// the architecturally visible TLB behaviour the timing models must not change.
#include <gtest/gtest.h>

#include <vector>

#include "cpu/timing/timing_model.h"
#include "tests/unit/cpu/test_machine.h"
#include "tests/unit/timing/timed_params.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kCode = TestMachine::kFreeBase;           // 0x100000, in 2 MiB page 0
constexpr uint64_t kPt = TestMachine::kFreeBase + 0x20000;   // page table for 0x400000-0x5fffff
constexpr uint64_t kData = 0x400000;                          // 4 KiB pages from kPt
constexpr uint64_t kP = 1, kRw = 2, kUs = 4;

class TimedMachine {
 public:
  explicit TimedMachine(const CoreParams& p = timed_params()) : m(16u << 20, p) {
    m.enter_long_mode();
    // Split 2 MiB page 2 (kData) into identity-mapped 4 KiB pages: PDE[2] -> kPt.
    std::vector<uint64_t> pt(512);
    for (uint64_t i = 0; i < 512; ++i) pt[i] = (kData + (i << 12)) | kP | kRw | kUs;
    m.write(kPt, pt.data(), pt.size() * 8);
    m.write_value<uint64_t>(TestMachine::kPageTables + 0x2000 + 2 * 8, kPt | kP | kRw | kUs);
    m.core().flush_tlb(true);
  }
  // Cycles the run took (the run ends with the HLT at the end of `code`).
  Cycles run(uint64_t addr, const Bytes& code) {
    const Cycles before = m.core().cycles();
    const RunResult r = m.run_code(addr, code);
    EXPECT_TRUE(r.halted);
    EXPECT_EQ(r.exception, -1);
    return m.core().cycles() - before;
  }
  timing::TimingModel& model() { return *m.core().timing_model(); }
  TestMachine m;
};

// mov rax,[rbx]; mov rcx,[rbx+8]  (same line)
const Bytes kSameLine = {0x48, 0x8b, 0x03, 0x48, 0x8b, 0x4b, 0x08};
// mov rax,[rbx]; mov rcx,[rbx+0x1008]  (next 4 KiB page, a cold line)
const Bytes kNextPage = {0x48, 0x8b, 0x03, 0x48, 0x8b, 0x8b, 0x08, 0x10, 0x00, 0x00};

TEST(CoreTiming, FunctionalProfileHasNoModel) {
  TestMachine m;
  EXPECT_EQ(m.core().timing_model(), nullptr);
}

TEST(CoreTiming, LoadTlbMissWalksThroughPageWalkCache) {
  TimedMachine t;
  t.m.gpr(kRbx) = kData;
  t.run(kCode, kSameLine);  // warm the caches (each run starts with empty TLBs: HLT wake = INIT)
  t.m.gpr(kRbx) = kData;
  // Base: the two independent loads deliver 4 cycles (L1D latency) after the block issues, then
  // the HLT drains the pipeline and takes 1 = 5. ITLB: L1 and STLB miss (7), walk of the 2 MiB
  // code page: PML4E, PDPTE, PDE, all L1D hits (3 x 4) = 19. DTLB: L1 miss, STLB miss (7); the
  // walk finds the PDPTE in the page-walk cache (1) and reads PDE and PTE from L1D (2 x 4) = 16.
  // Data: L1D hits.
  EXPECT_EQ(t.run(kCode, kSameLine), 5u + 19 + 16);
  const auto& s = t.model().tlb().stats();
  EXPECT_EQ(s.walks, 4u);  // two per run
  EXPECT_EQ(s.pwc_hits, 2u);  // the data walks (each run's code walk starts with empty PWCs)
}

TEST(CoreTiming, CacheMissAndNewPageCostExactly) {
  TimedMachine t;
  t.m.gpr(kRbx) = kData;
  t.run(kCode, kSameLine);
  t.m.gpr(kRbx) = kData;
  const Cycles same = t.run(kCode, kSameLine);
  t.m.gpr(kRbx) = kData;
  const Cycles next = t.run(kCode + 0x20, kNextPage);  // same code line, same block shape
  // The second load now needs a walk (STLB miss 7, PDE from the PWC 1, PTE line in L1D 4) and
  // its line comes from memory (200 - 4 beyond the L1D latency in the schedule).
  EXPECT_EQ(next - same, (7u + 1 + 4) + (200u - 4));
}

TEST(CoreTiming, WithoutPageWalkCacheEveryLevelIsRead) {
  CoreParams p = timed_params();
  p.timing.pwc_entries = 0;
  TimedMachine t(p);
  t.m.gpr(kRbx) = kData;
  t.run(kCode, kSameLine);
  t.m.gpr(kRbx) = kData;
  const Cycles same = t.run(kCode, kSameLine);
  t.m.gpr(kRbx) = kData;
  const Cycles next = t.run(kCode + 0x20, kNextPage);
  EXPECT_EQ(same, 5u + (7 + 3 * 4) + (7 + 4 * 4));
  EXPECT_EQ(next - same, (7u + 4 * 4) + (200u - 4));
  EXPECT_EQ(t.model().tlb().stats().pwc_hits, 0u);
}

// mov ecx, n; L: dec ecx; jnz L; hlt
Bytes countdown(uint32_t n) {
  return {0xb9, uint8_t(n), uint8_t(n >> 8), uint8_t(n >> 16), uint8_t(n >> 24), 0xff, 0xc9, 0x75, 0xfc};
}

// mov rax,[rbx] x4 (a pointer chase through a self-loop at kData) then HLT
TEST(CoreTiming, DependentLoadsChainAcrossBlocks) {
  TimedMachine t;
  t.m.write_value<uint64_t>(kData, kData);  // [kData] = kData
  const Bytes chase = {0x48, 0x8b, 0x00, 0x48, 0x8b, 0x00};  // mov rax,[rax] x2
  Bytes two_blocks = chase;
  two_blocks.insert(two_blocks.end(), {0xeb, 0x00});        // jmp +0: ends the first block
  two_blocks.insert(two_blocks.end(), chase.begin(), chase.end());
  t.m.gpr(kRax) = kData;
  t.run(kCode, two_blocks);  // warm
  t.m.gpr(kRax) = kData;
  const Cycles split = t.run(kCode, two_blocks);
  t.m.gpr(kRax) = kData;
  Bytes one_block = chase;
  one_block.insert(one_block.end(), {0x90, 0x90});  // nop nop: same op count, no block end
  one_block.insert(one_block.end(), chase.begin(), chase.end());
  const Cycles joined = t.run(kCode + 0x40, one_block);
  // Four dependent loads cost 4 x 4 cycles whether or not a block boundary splits them: the
  // second block waits for the first one's RAX. Both runs also pay the same TLB refills (each
  // run starts with empty TLBs); only the second run's code line was never fetched before, so
  // it comes from memory (200 beyond the L1I's 2).
  EXPECT_EQ(joined - split, 200u - 2);
}

TEST(CoreTiming, LoopIterationAndMispredictedExit) {
  TimedMachine t;
  t.run(kCode, countdown(20));  // warm: caches, and the counter of the JNZ saturates taken
  const Cycles c10 = t.run(kCode, countdown(10));
  const Cycles c20 = t.run(kCode, countdown(20));
  // Each extra iteration is one {dec, jnz} block: two ops at one per cycle.
  EXPECT_EQ(c20 - c10, 10u * 2);
  // Taken JNZs are predicted from the warm counter; the exit is the one misprediction per run.
  const auto& b = t.model().predictor().stats();
  EXPECT_EQ(b.conditional, 19u + 9 + 19 + 3);  // three runs
  EXPECT_EQ(b.conditional_mispredicts, 2u + 1 + 1);

  CoreParams p = timed_params();
  p.timing.mispredict_penalty = 0;
  TimedMachine free_branches(p);
  free_branches.run(kCode, countdown(20));
  free_branches.run(kCode, countdown(10));
  EXPECT_EQ(c20 - free_branches.run(kCode, countdown(20)), 20u);  // one mispredict x 20 cycles
}

// A translation stays in use after its PTE changes, until INVLPG (SDM Vol. 3 §4.10.4.4); the
// timing model must not change what the guest sees.
void stale_until_invlpg(TestMachine& m) {
  constexpr uint64_t kVirt = kData + 0x1000;
  m.write_value<uint64_t>(kData + 0x1000, 0x1111);
  m.write_value<uint64_t>(kData + 0x2000, 0x2222);
  m.gpr(kRdi) = kVirt;
  m.gpr(kRsi) = kPt + 1 * 8;  // the PTE of kVirt
  m.gpr(kRdx) = (kData + 0x2000) | kP | kRw | kUs;
  const RunResult r = m.run_code(kCode, {
      0x48, 0x8b, 0x07,   // mov rax,[rdi]   fills the TLB
      0x48, 0x89, 0x16,   // mov [rsi],rdx   remaps kVirt
      0x48, 0x8b, 0x1f,   // mov rbx,[rdi]   stale translation
      0x0f, 0x01, 0x3f,   // invlpg [rdi]
      0x48, 0x8b, 0x0f,   // mov rcx,[rdi]   new translation
  });
  ASSERT_TRUE(r.halted);
  ASSERT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax), 0x1111u);
  EXPECT_EQ(m.gpr(kRbx), 0x1111u);
  EXPECT_EQ(m.gpr(kRcx), 0x2222u);
}

TEST(TlbVisibility, StaleTranslationUntilInvlpgFunctional) {
  TimedMachine t(TestMachine::default_params());
  stale_until_invlpg(t.m);
}

TEST(TlbVisibility, StaleTranslationUntilInvlpgTimed) {
  TimedMachine t;
  stale_until_invlpg(t.m);
  EXPECT_GE(t.model().tlb().stats().walks, 3u);  // code, first load, load after INVLPG
}

}  // namespace
}  // namespace vmxsim::test
