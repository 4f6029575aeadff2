// The timing TLB tags entries with the PCID as well as the VPID (cpu/timing/address_space_ids.h):
// each PCID sees its own entries and every PCID the context's global ones; a MOV to CR3 with
// bit 63 set keeps every PCID's entries, so Linux's page-table isolation (a kernel and a user
// PCID per process, switched on every kernel entry and exit) keeps both sets of translations;
// the invalidations follow SDM Vol. 3A §4.10.4.1. First the model alone, then whole runs on a
// bare Core whose page walks are counted.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "cpu/timing/timing_model.h"
#include "cpu/timing/tlb_model.h"
#include "tests/unit/cpu/address_spaces.h"
#include "tests/unit/timing/timed_params.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
using timing::TlbModel;

// 4 KiB pages, four levels; the pages in `global` are global.
class Walker : public timing::WalkSource {
 public:
  bool walk(uint64_t lin, timing::WalkRefs& out) override {
    ++walks;
    out = timing::WalkRefs{};
    out.four_level = true;
    out.n = 4;
    for (unsigned i = 0; i < 4; ++i) out.addr[i] = 0x100000 + i * 0x1000 + ((lin >> (39 - 9 * i)) & 511) * 8;
    out.page_shift = 12;
    out.global = global.count(lin >> 12) != 0;
    return true;
  }
  std::set<uint64_t> global;
  unsigned walks = 0;
};

struct Rig {
  Rig() : caches(timed_params().timing), tlb(timed_params().timing, caches, w) {}
  // Whether an access to `lin` now walks.
  bool walks(uint64_t lin) {
    const unsigned before = w.walks;
    tlb.data(lin);
    return w.walks != before;
  }
  timing::CacheHierarchy caches;
  Walker w;
  TlbModel tlb;
};

constexpr uint64_t kX = 0x400000, kY = 0x401000, kG = 0x402000;

TEST(TlbModelPcid, EachPcidSeesItsOwnEntriesAndTheGlobalOnes) {
  Rig r;
  r.w.global.insert(kG >> 12);
  EXPECT_TRUE(r.walks(kX));
  r.tlb.switch_pcid(1);
  EXPECT_TRUE(r.walks(kX));   // PCID 0's entry is not PCID 1's
  EXPECT_TRUE(r.walks(kG));   // a global entry, made under PCID 1
  r.tlb.switch_pcid(0);
  EXPECT_FALSE(r.walks(kX));
  EXPECT_FALSE(r.walks(kG));  // global: seen by every PCID
  r.tlb.switch_pcid(2);
  EXPECT_FALSE(r.walks(kG));
  EXPECT_TRUE(r.walks(kX));
  r.tlb.switch_pcid(1);
  EXPECT_FALSE(r.walks(kX));
  EXPECT_EQ(r.w.walks, 4u);
}

TEST(TlbModelPcid, SingleContextAndIndividualAddressInvalidationNameTheirPcid) {
  Rig r;
  r.w.global.insert(kG >> 12);
  for (uint16_t pcid : {1, 2}) {
    r.tlb.switch_pcid(pcid);
    r.walks(kX);
    r.walks(kY);
    r.walks(kG);
  }
  // In PCID 2: INVPCID type 0 for PCID 1's X, then MOV to CR3 / INVPCID type 1 of PCID 1.
  r.tlb.flush_pcid_page(1, kX);
  EXPECT_FALSE(r.walks(kX));  // PCID 2's own
  r.tlb.switch_pcid(1);
  EXPECT_TRUE(r.walks(kX));
  EXPECT_FALSE(r.walks(kY));
  r.tlb.switch_pcid(2);
  r.tlb.flush_pcid(1);
  r.tlb.flush_pcid(7);  // a PCID with nothing cached
  EXPECT_FALSE(r.walks(kY));
  r.tlb.switch_pcid(1);
  EXPECT_TRUE(r.walks(kY));
  EXPECT_FALSE(r.walks(kG));  // globals stay
}

TEST(TlbModelPcid, InvlpgDropsTheCurrentPcidsAndTheGlobalEntry) {
  Rig r;
  r.w.global.insert(kG >> 12);
  for (uint16_t pcid : {1, 2}) {
    r.tlb.switch_pcid(pcid);
    r.walks(kX);
    r.walks(kG);
  }
  r.tlb.flush_page(kX);
  r.tlb.flush_page(kG);
  EXPECT_TRUE(r.walks(kX));
  r.tlb.switch_pcid(1);
  EXPECT_FALSE(r.walks(kX));  // PCID 1's X stays
  EXPECT_TRUE(r.walks(kG));   // the global entry went for every PCID
}

TEST(TlbModelPcid, AllContextInvalidationReachesEveryPcid) {
  for (bool include_global : {false, true}) {
    Rig r;
    r.w.global.insert(kG >> 12);
    for (uint16_t pcid : {1, 2}) {
      r.tlb.switch_pcid(pcid);
      r.walks(kX);
      r.walks(kG);
    }
    r.tlb.flush(include_global);  // INVPCID type 2 / 3
    r.tlb.switch_pcid(1);
    EXPECT_TRUE(r.walks(kX));
    EXPECT_EQ(r.walks(kG), include_global);
  }
}

TEST(TlbModelPcid, ANewPcidTakesTheLeastRecentlyUsedId) {
  Rig r;
  constexpr unsigned kIds = timing::PcidIds::kSlots - 1;  // PCID 0 keeps one
  // Each PCID's entry for X; PCID 1 comes back in between, so PCID 2 is the oldest.
  r.tlb.switch_pcid(1);
  r.walks(kX);
  for (uint16_t pcid = 2; pcid <= kIds; ++pcid) {
    r.tlb.switch_pcid(pcid);
    r.walks(kX);
  }
  r.tlb.switch_pcid(1);
  EXPECT_FALSE(r.walks(kX));
  EXPECT_EQ(r.tlb.stats().pcid_reuses, 0u);
  r.tlb.switch_pcid(kIds + 1);  // takes PCID 2's id and drops its entries
  EXPECT_EQ(r.tlb.stats().pcid_reuses, 1u);
  r.tlb.switch_pcid(3);
  EXPECT_FALSE(r.walks(kX));
  r.tlb.switch_pcid(2);
  EXPECT_EQ(r.tlb.stats().pcid_reuses, 2u);
  EXPECT_TRUE(r.walks(kX));
}

TEST(TlbModelPcid, VpidContextsHaveTheirOwnPcids) {
  Rig r;
  r.tlb.switch_pcid(1);
  r.walks(kX);
  r.tlb.switch_context(0x10001, 1);  // a guest, its PCID 1
  EXPECT_TRUE(r.walks(kX));
  r.tlb.flush_pcid(1);
  r.tlb.switch_context(timing::AddressSpaceIds::kHostContext, 1);
  EXPECT_FALSE(r.walks(kX));  // the host's PCID 1 was not the guest's
  r.tlb.switch_context(0x10001, 1);
  EXPECT_TRUE(r.walks(kX));
}

// Whole runs on a bare Core with timing on: two address spaces with PCIDs 1 and 2 map linear
// kLin to different pages. Code (kCode) and results share the identity-mapped 2 MiB page 0.
constexpr uint64_t kCode = TestMachine::kFreeBase;
constexpr uint64_t kResults = 0x180000, kScratch = 0x181000, kTables = 0x200000;
constexpr uint64_t kLin = AddressSpaces::kLin;
constexpr uint64_t kNoFlush = AddressSpaces::kNoFlush;

// The timing TLB's statistics after a run of `body` in a fresh core that first enables PCIDs,
// then runs in space A (PCID 1) and reads kLin.
template <typename Body>
timing::TlbStats run(Body body) {
  TestMachine m(16u << 20, timed_params());
  m.enter_long_mode();
  AddressSpaces spaces(m, 2, kTables);
  spaces.map(0, kLin, 0x300000);
  spaces.map(1, kLin, 0x301000);
  PcidAsm a(kResults, kScratch);
  a.set_cr4(m.state().cr4 | cr4::kPcide);
  a.set_cr3(spaces.cr3(0, 1));
  a.read(kLin, 0);
  body(a, spaces);
  const RunResult r = m.run_code(kCode, a.code());
  EXPECT_TRUE(r.halted);
  EXPECT_EQ(r.exception, -1);
  return m.core().timing_model()->tlb().stats();
}

// After a switch to a PCID whose entries are gone, the code's 2 MiB page walks (ITLB) and so
// does kLin; the results page comes from the STLB entry the code page's walk made.
constexpr uint64_t kRefill = 2;

TEST(CorePcidTiming, PcidsDoNotShareEntries) {
  const timing::TlbStats a_only = run([](PcidAsm&, AddressSpaces&) {});
  const timing::TlbStats a_then_b = run([](PcidAsm& a, AddressSpaces& s) {
    a.set_cr3(s.cr3(1, 2) | kNoFlush);
    a.read(kLin, 1);
  });
  EXPECT_EQ(a_then_b.walks, a_only.walks + kRefill);
}

TEST(CorePcidTiming, NoFlushSwitchBackFindsThePcidsEntries) {
  // To PCID 2 with a flush, which drops PCID 2's entries only, and on in PCID 2 (which walks
  // the code page for itself).
  auto a_b = [](PcidAsm& a, AddressSpaces& s) { a.set_cr3(s.cr3(1, 2)); };
  const timing::TlbStats base = run(a_b);
  const timing::TlbStats no_flush = run([&](PcidAsm& a, AddressSpaces& s) {
    a_b(a, s);
    a.set_cr3(s.cr3(0, 1) | kNoFlush);
    a.read(kLin, 2);
  });
  const timing::TlbStats flush = run([&](PcidAsm& a, AddressSpaces& s) {
    a_b(a, s);
    a.set_cr3(s.cr3(0, 1));
    a.read(kLin, 2);
  });
  // Back in PCID 1 without flush: the code page (ITLB), kLin and the results page (DTLB) hit.
  EXPECT_EQ(no_flush.walks, base.walks);
  EXPECT_EQ(no_flush.l1i_hits, base.l1i_hits + 1);
  EXPECT_EQ(no_flush.l1d_hits, base.l1d_hits + 2);
  EXPECT_EQ(no_flush.l1d_misses, base.l1d_misses);
  // With the flush PCID 1's entries went: all three miss the first level.
  EXPECT_EQ(flush.walks, base.walks + kRefill);
  EXPECT_EQ(flush.l1d_hits, base.l1d_hits);
  EXPECT_EQ(flush.l1d_misses, base.l1d_misses + 2);
}

TEST(CorePcidTiming, InvpcidSingleContextDropsTheNamedPcidOnly) {
  auto invalidate = [](uint16_t pcid) {
    return run([pcid](PcidAsm& a, AddressSpaces& s) {
      a.set_cr3(s.cr3(1, 2) | kNoFlush);
      a.read(kLin, 1);
      a.invpcid(1, pcid);
      a.set_cr3(s.cr3(0, 1) | kNoFlush);
      a.read(kLin, 2);
    });
  };
  EXPECT_EQ(invalidate(1).walks, invalidate(3).walks + kRefill);
}

}  // namespace
}  // namespace vmxsim::test
