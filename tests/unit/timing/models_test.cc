// The timing models alone: exact latencies and counts for hand-made access sequences.
#include <gtest/gtest.h>

#include <map>

#include "cpu/timing/branch_predictor.h"
#include "cpu/timing/cache_hierarchy.h"
#include "cpu/timing/lru_tags.h"
#include "cpu/timing/tlb_model.h"

namespace vmxsim::cpu::timing {
namespace {

TimingParams small_params() {
  TimingParams p;
  p.enabled = true;
  p.l1i = {4096, 2, 64, 3};
  p.l1d = {4096, 2, 64, 4};   // 32 sets of 2 ways
  p.l2 = {16384, 4, 64, 12};
  p.llc = {65536, 8, 64, 40};
  p.memory_latency = 200;
  p.prefetch_streams = 0;  // every miss pays its level (CacheHierarchy.StreamPrefetcher turns it on)
  p.dtlb_4k = {4, 0};
  p.dtlb_2m = {2, 0};
  p.itlb_4k = {4, 0};
  p.stlb = {16, 4};
  p.stlb_latency = 7;
  p.walk_latency = 2;
  p.pwc_entries = 4;
  p.pwc_latency = 1;
  return p;
}

TEST(LruTags, EvictsLeastRecentlyUsedWayOfTheSet) {
  LruTags t(4, 2);  // 2 sets x 2 ways; set = tag & 1
  EXPECT_FALSE(t.access(0));
  EXPECT_FALSE(t.access(2));
  EXPECT_TRUE(t.access(0));   // 0 becomes MRU, 2 is LRU
  EXPECT_FALSE(t.access(4));  // evicts 2
  EXPECT_TRUE(t.lookup(0));
  EXPECT_FALSE(t.lookup(2));
  EXPECT_TRUE(t.lookup(4));
  EXPECT_FALSE(t.access(1));  // the other set is untouched
  EXPECT_TRUE(t.lookup(0));
}

TEST(LruTags, CompareMaskIgnoresMarker) {
  LruTags t(4, 0);
  t.set_compare_mask(~LruTags::kMarker);
  t.insert(5 | LruTags::kMarker);
  EXPECT_TRUE(t.lookup(5));
  t.erase_if([](uint64_t v) { return !(v & LruTags::kMarker); });
  EXPECT_TRUE(t.lookup(5));
  t.erase_if([](uint64_t) { return true; });
  EXPECT_FALSE(t.lookup(5));
}

TEST(CacheHierarchy, LatencyOfTheLevelThatServesTheLine) {
  CacheHierarchy c(small_params());
  EXPECT_EQ(c.access_data(0x1000), 200u);  // cold: memory
  EXPECT_EQ(c.access_data(0x1008), 4u);    // same line: L1D
  EXPECT_EQ(c.access_data(0x1040), 200u);  // next line: memory again
  // Three lines in one L1D set (stride 32 lines = 2 KiB): the first is evicted to L2.
  c.access_data(0x2000);
  c.access_data(0x2800);
  c.access_data(0x3000);
  EXPECT_EQ(c.access_data(0x2000), 12u);
  EXPECT_EQ(c.stats(CacheHierarchy::kL1d).hits, 1u);
  EXPECT_EQ(c.stats(CacheHierarchy::kL1d).misses, 6u);
  EXPECT_EQ(c.stats(CacheHierarchy::kL2).hits, 1u);
  EXPECT_EQ(c.memory_accesses(), 5u);
  // Instruction fetch has its own L1 but shares L2 and LLC.
  EXPECT_EQ(c.access_fetch(0x1000), 12u);
  EXPECT_EQ(c.access_fetch(0x1000), 3u);
}

TEST(CacheHierarchy, StreamPrefetcherServesSequentialMissesFromL2) {
  TimingParams p = small_params();
  p.prefetch_streams = 2;
  CacheHierarchy c(p);
  EXPECT_EQ(c.access_data(0x10000), 200u);  // starts a stream
  EXPECT_EQ(c.access_data(0x10040), 12u);   // continues it: already in the L2
  EXPECT_EQ(c.access_data(0x10080), 12u);
  EXPECT_EQ(c.access_data(0x90000), 200u);  // a random miss starts another stream
  EXPECT_EQ(c.access_data(0x100c0), 12u);   // the first stream is still tracked
  EXPECT_EQ(c.prefetch_hits(), 3u);
  EXPECT_EQ(c.stats(CacheHierarchy::kL2).hits, 3u);  // the streamer's lines count as L2 hits
}

// Page tables as a map lin page -> refs, for the TLB model.
class FakeWalker : public WalkSource {
 public:
  bool walk(uint64_t lin, WalkRefs& out) override {
    ++walks;
    out = WalkRefs{};
    out.four_level = true;
    const uint64_t large = lin >> 21;
    const bool is2m = large_pages.count(large) != 0;
    out.addr[0] = 0x100000 + ((lin >> 39) & 511) * 8;
    out.addr[1] = 0x101040 + ((lin >> 30) & 511) * 8;  // distinct L1D sets per level
    out.addr[2] = 0x102080 + ((lin >> 21) & 511) * 8;
    out.n = is2m ? 3 : 4;
    out.addr[3] = 0x200000 + ((lin >> 21) & 511) * 0x1000 + ((lin >> 12) & 511) * 8;
    out.page_shift = is2m ? 21 : 12;
    return true;
  }
  std::map<uint64_t, bool> large_pages;
  unsigned walks = 0;
};

TEST(TlbModel, MissWalksAndChargesEachReferenceThroughTheCaches) {
  const TimingParams p = small_params();
  CacheHierarchy caches(p);
  FakeWalker w;
  TlbModel tlb(p, caches, w);
  // Cold: STLB latency + walk overhead + four references from memory.
  EXPECT_EQ(tlb.data(0x400000), 7u + 2 + 4 * 200);
  EXPECT_EQ(tlb.data(0x400010), 0u);  // L1 DTLB hit
  // The next page of the same 2 MiB region: the PDE cache skips three levels; the PTE line is
  // warm in L1D (eight PTEs per line).
  EXPECT_EQ(tlb.data(0x401000), 7u + 2 + 1 + 4);
  EXPECT_EQ(tlb.stats().pwc_hits, 1u);
  EXPECT_EQ(tlb.stats().walks, 2u);
  EXPECT_EQ(tlb.stats().walk_refs, 5u);
}

TEST(TlbModel, StlbCatchesFirstLevelEvictions) {
  const TimingParams p = small_params();
  CacheHierarchy caches(p);
  FakeWalker w;
  TlbModel tlb(p, caches, w);
  for (uint64_t i = 0; i < 5; ++i) tlb.data(0x400000 + i * 0x1000);  // 4-entry DTLB overflows
  EXPECT_EQ(w.walks, 5u);
  EXPECT_EQ(tlb.data(0x400000), 7u);  // evicted from the DTLB, still in the STLB
  EXPECT_EQ(w.walks, 5u);
  EXPECT_EQ(tlb.stats().stlb_hits, 1u);
}

TEST(TlbModel, LargePagesUseTheTwoMegabyteTlbAndInvalidationsDropEntries) {
  const TimingParams p = small_params();
  CacheHierarchy caches(p);
  FakeWalker w;
  w.large_pages[0x800000 >> 21] = true;
  TlbModel tlb(p, caches, w);
  EXPECT_EQ(tlb.data(0x800000), 7u + 2 + 3 * 200);
  EXPECT_EQ(tlb.data(0x9ff000), 0u);  // same 2 MiB page
  tlb.flush_page(0x800000);
  // Refilled by a walk: the PWC was dropped too (INVLPG invalidates paging-structure caches),
  // the paging-structure lines are in L1D.
  EXPECT_EQ(tlb.data(0x800000), 7u + 2 + 3 * 4);
  EXPECT_EQ(w.walks, 2u);
}

// A TLB model with its caches and page tables, for the translation-context tests.
struct TlbRig {
  explicit TlbRig(const TimingParams& p = small_params()) : caches(p), tlb(p, caches, w) {}
  CacheHierarchy caches;
  FakeWalker w;
  TlbModel tlb;
};

// Translation contexts (VPIDs): each context's entries, page-walk-cache entries included, are
// visible only in that context.
TEST(TlbModel, EachContextSeesOnlyItsOwnEntries) {
  TlbRig r;
  TlbModel& tlb = r.tlb;
  constexpr uint64_t kGuest = 0x10001;  // a guest's context tag (VPID 1)
  tlb.data(0x400000);                   // the host's walk
  tlb.switch_context(kGuest);
  // The guest walks the same page from the top: the host's page-walk-cache entries are not
  // its own (the paging-structure lines are warm in L1D).
  EXPECT_EQ(tlb.data(0x400000), 7u + 2 + 4 * 4);
  EXPECT_EQ(tlb.stats().pwc_hits, 0u);
  tlb.switch_context(AddressSpaceIds::kHostContext);
  EXPECT_EQ(tlb.data(0x400000), 0u);
  tlb.switch_context(kGuest);
  EXPECT_EQ(tlb.data(0x400000), 0u);
  EXPECT_EQ(r.w.walks, 2u);
  // Invalidations apply to the current context only.
  tlb.flush(true);
  tlb.switch_context(AddressSpaceIds::kHostContext);
  EXPECT_EQ(tlb.data(0x400000), 0u);
  tlb.flush_page(0x400000);
  tlb.switch_context(kGuest);
  EXPECT_EQ(tlb.data(0x400000), 7u + 2 + 4 * 4);  // refilled after the guest's flush
  EXPECT_EQ(r.w.walks, 3u);
  tlb.switch_context(AddressSpaceIds::kHostContext);
  EXPECT_EQ(tlb.data(0x400000), 7u + 2 + 4 * 4);  // refilled after the host's INVLPG
  EXPECT_EQ(r.w.walks, 4u);
}

TEST(TlbModel, FlushingGuestContextsKeepsTheHosts) {
  TlbRig r;
  TlbModel& tlb = r.tlb;
  tlb.data(0x400000);
  for (uint64_t guest : {1, 2}) {
    tlb.switch_context(guest);
    tlb.data(0x400000);
  }
  tlb.switch_context(AddressSpaceIds::kHostContext);
  tlb.flush_guest_contexts();  // INVVPID / INVEPT
  EXPECT_EQ(tlb.data(0x400000), 0u);
  for (uint64_t guest : {1, 2}) {
    tlb.switch_context(guest);
    EXPECT_GT(tlb.data(0x400000), 0u) << "guest " << guest;
  }
  EXPECT_EQ(r.w.walks, 5u);
}

TEST(TlbModel, NewContextTakesTheLeastRecentlyEnteredGuestSlot) {
  TimingParams p = small_params();
  p.dtlb_4k = {64, 0};  // room for every context's page: only slot reuse drops entries
  p.stlb = {64, 0};
  TlbRig r(p);
  TlbModel& tlb = r.tlb;
  constexpr unsigned kGuestSlots = AddressSpaceIds::kSlots - 1;  // the host keeps one
  tlb.data(0x400000);
  for (uint64_t g = 1; g <= kGuestSlots; ++g) {
    tlb.switch_context(g);
    tlb.data(0x400000);
  }
  EXPECT_EQ(r.w.walks, 1u + kGuestSlots);
  EXPECT_EQ(tlb.stats().asid_reuses, 0u);
  tlb.switch_context(kGuestSlots + 1);  // takes guest 1's slot, dropping its entries
  EXPECT_EQ(tlb.stats().asid_reuses, 1u);
  tlb.data(0x400000);
  for (uint64_t g = 2; g <= kGuestSlots; ++g) {
    tlb.switch_context(g);
    EXPECT_EQ(tlb.data(0x400000), 0u) << "guest " << g;
  }
  tlb.switch_context(AddressSpaceIds::kHostContext);
  EXPECT_EQ(tlb.data(0x400000), 0u);
  EXPECT_EQ(r.w.walks, 2u + kGuestSlots);
  tlb.switch_context(1);  // walks again, in the slot of the guest entered longest ago
  EXPECT_GT(tlb.data(0x400000), 0u);
  EXPECT_EQ(tlb.stats().asid_reuses, 2u);
  EXPECT_EQ(r.w.walks, 3u + kGuestSlots);
}

TEST(BranchPredictor, BimodalLoopMispredictsOnEntryAndExit) {
  TimingParams p;
  p.bp_table_bits = 10;
  p.bp_history_bits = 0;
  BranchPredictor bp(p);
  unsigned wrong = 0;
  for (int i = 0; i < 10; ++i) wrong += bp.resolve(BranchKind::kConditional, 0x1000, i < 9 ? 0x0f00 : 0x1002, 0x1002);
  EXPECT_EQ(wrong, 2u);  // first taken (weakly not-taken start), last not-taken
  EXPECT_EQ(bp.stats().conditional, 10u);
}

TEST(BranchPredictor, GshareLearnsAnAlternatingPattern) {
  TimingParams p;
  p.bp_table_bits = 10;
  p.bp_history_bits = 4;
  BranchPredictor bp(p);
  unsigned late_wrong = 0;
  for (int i = 0; i < 200; ++i) {
    const bool taken = i & 1;
    const bool w = bp.resolve(BranchKind::kConditional, 0x2000, taken ? 0x1000 : 0x2002, 0x2002);
    if (i >= 100) late_wrong += w;
  }
  EXPECT_EQ(late_wrong, 0u);
}

TEST(BranchPredictor, ReturnStackAndIndirectTargets) {
  TimingParams p;
  p.ras_entries = 4;
  p.btb_entries = 64;
  BranchPredictor bp(p);
  EXPECT_FALSE(bp.resolve(BranchKind::kDirectCall, 0x100, 0x500, 0x105));
  EXPECT_FALSE(bp.resolve(BranchKind::kReturn, 0x510, 0x105, 0x511));
  EXPECT_TRUE(bp.resolve(BranchKind::kReturn, 0x520, 0x105, 0x521));  // empty stack
  EXPECT_TRUE(bp.resolve(BranchKind::kIndirect, 0x200, 0x700, 0x202));
  EXPECT_FALSE(bp.resolve(BranchKind::kIndirect, 0x200, 0x700, 0x202));
  EXPECT_TRUE(bp.resolve(BranchKind::kIndirect, 0x200, 0x800, 0x202));
  EXPECT_EQ(bp.mispredicts(), 3u);
}

}  // namespace
}  // namespace vmxsim::cpu::timing
