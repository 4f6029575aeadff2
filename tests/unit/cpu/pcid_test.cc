// Process-context identifiers (SDM Vol. 3A §4.10.1, §4.10.4): address spaces with different
// PCIDs map one linear page to different physical pages, and each test runs one sequence of
// MOV to CR3/CR4, reads, paging-entry stores, INVLPG and INVPCID on a bare Core.
//
// Two kinds of expectation: what the SDM requires (a translation that was invalidated, or was
// never made under the current PCID, is not used), and what this core's design keeps (the
// translations of recently used PCIDs and global ones, which the SDM allows a processor to
// keep). The latter are marked "kept".
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/cpu/address_spaces.h"
#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;

constexpr uint64_t kCode = TestMachine::kFreeBase;
constexpr uint64_t kResults = 0x180000, kScratch = 0x181000;
constexpr uint64_t kTables = 0x200000;  // the spaces' paging structures
constexpr uint64_t kPages = 0x300000;   // the data pages the spaces map
constexpr uint64_t kLin = AddressSpaces::kLin, kGlob = kLin + 0x1000;
constexpr uint64_t kNoFlush = AddressSpaces::kNoFlush;
constexpr uint16_t kPcidA = 1, kPcidB = 2;
constexpr unsigned kA = 0, kB = 1;  // the spaces

// Physical pages, each holding its own value: space A's and B's page at kLin, the pages their
// paging entries are changed to, and the pages at kGlob (global in A, not in B).
enum Page : unsigned { kPageA, kPageA2, kPageB, kPageB2, kPageGA, kPageGA2, kPageGB, kNumPages };
uint64_t page(unsigned p) { return kPages + p * 0x1000ull; }
uint64_t value(unsigned p) { return 0x5eed0000ull + p; }

class Pcid : public ::testing::Test {
 public:
  Pcid() : spaces(m, 8, kTables), a(kResults, kScratch) {
    m.enter_long_mode();
    // The named pages, and 8 more for the spaces of MorePcidsThan...
    for (unsigned p = 0; p < kNumPages + 8; ++p) m.write_value<uint64_t>(page(p), value(p));
    spaces.map(kA, kLin, page(kPageA));
    spaces.map(kB, kLin, page(kPageB));
    spaces.map(kA, kGlob, page(kPageGA), true);
    spaces.map(kB, kGlob, page(kPageGB));
    cr4 = m.state().cr4 | cr4::kPge;
    a.set_cr4(cr4 | cr4::kPcide);
  }
  uint64_t cr3(unsigned space, uint16_t pcid) const { return spaces.cr3(space, pcid); }
  // Sequence: the paging entry of `lin` in `space` now maps physical page `p`.
  void remap(unsigned space, uint64_t lin, unsigned p, bool global = false) {
    a.store(spaces.pte_addr(space, lin), AddressSpaces::pte(page(p), global));
  }
  // Runs the sequence; the values read, in slot order.
  std::vector<uint64_t> run(unsigned slots) {
    const RunResult r = m.run_code(kCode, a.code());
    EXPECT_TRUE(r.halted);
    EXPECT_EQ(r.exception, -1);
    std::vector<uint64_t> v(slots);
    for (unsigned i = 0; i < slots; ++i) v[i] = m.read<uint64_t>(kResults + 8 * i);
    return v;
  }
  static std::vector<uint64_t> values(std::initializer_list<unsigned> pages) {
    std::vector<uint64_t> v;
    for (unsigned p : pages) v.push_back(value(p));
    return v;
  }

  TestMachine m;
  AddressSpaces spaces;
  PcidAsm a;
  uint64_t cr4 = 0;  // without PCIDE
};

TEST_F(Pcid, NoFlushSwitchTranslatesWithTheNewSpace) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 1);
  a.set_cr3(cr3(kA, kPcidA) | kNoFlush);
  a.read(kLin, 2);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 3);
  EXPECT_EQ(run(4), values({kPageA, kPageB, kPageA, kPageB}));
  EXPECT_EQ(m.state().cr3, cr3(kB, kPcidB));  // bit 63 is not stored
  EXPECT_EQ(m.core().current_pcid(), kPcidB);
}

TEST_F(Pcid, NoFlushSwitchBackKeepsThePcidsTranslationsUntilAFlush) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 1);
  remap(kA, kLin, kPageA2);
  a.set_cr3(cr3(kA, kPcidA) | kNoFlush);
  a.read(kLin, 2);                // kept: PCID A's translation is still in use
  a.set_cr3(cr3(kA, kPcidA));     // bit 63 clear: PCID A's translations go
  a.read(kLin, 3);
  EXPECT_EQ(run(4), values({kPageA, kPageB, kPageA, kPageA2}));
}

TEST_F(Pcid, MovToCr3WithoutBit63FlushesTheNewPcidOnly) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 1);
  remap(kA, kLin, kPageA2);
  remap(kB, kLin, kPageB2);
  a.set_cr3(cr3(kB, kPcidB));
  a.read(kLin, 2);
  a.set_cr3(cr3(kA, kPcidA) | kNoFlush);
  a.read(kLin, 3);  // kept: the flush named PCID B
  EXPECT_EQ(run(4), values({kPageA, kPageB, kPageB2, kPageA}));
}

TEST_F(Pcid, GlobalTranslationsSurviveCr3WritesUntilInvlpg) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.read(kGlob, 1);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 2);  // PCID B's own translation, not A's
  remap(kA, kGlob, kPageGA2, true);
  remap(kA, kLin, kPageA2);
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kGlob, 3);  // kept: a MOV to CR3 leaves global translations
  a.read(kLin, 4);
  a.set_cr3(cr3(kB, kPcidB));
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kGlob, 5);  // kept
  a.invlpg(kGlob);
  a.read(kGlob, 6);
  EXPECT_EQ(run(7), values({kPageA, kPageGA, kPageB, kPageGA, kPageA2, kPageGA, kPageGA2}));
}

TEST_F(Pcid, InvlpgDropsTheCurrentPcidsAndTheGlobalTranslation) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.read(kGlob, 1);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 2);
  remap(kB, kLin, kPageB2);
  remap(kA, kGlob, kPageGA2, true);
  a.invlpg(kLin);
  a.read(kLin, 3);
  a.invlpg(kGlob);  // in PCID B: global translations go whatever PCID they were made under
  a.set_cr3(cr3(kA, kPcidA) | kNoFlush);
  a.read(kGlob, 4);
  EXPECT_EQ(run(5), values({kPageA, kPageGA, kPageB, kPageB2, kPageGA2}));
}

TEST_F(Pcid, InvpcidIndividualAddressOfAnotherPcid) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 1);
  remap(kA, kLin, kPageA2);
  remap(kB, kLin, kPageB2);
  a.invpcid(0, kPcidA, kLin);
  a.read(kLin, 2);  // kept: the descriptor names PCID A
  a.set_cr3(cr3(kA, kPcidA) | kNoFlush);
  a.read(kLin, 3);
  EXPECT_EQ(run(4), values({kPageA, kPageB, kPageB, kPageA2}));
}

TEST_F(Pcid, InvpcidSingleContextKeepsOtherPcidsAndGlobals) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.read(kGlob, 1);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 2);
  remap(kA, kLin, kPageA2);
  remap(kB, kLin, kPageB2);
  remap(kA, kGlob, kPageGA2, true);
  a.invpcid(1, kPcidA);
  a.read(kLin, 3);  // kept: PCID B
  a.set_cr3(cr3(kA, kPcidA) | kNoFlush);
  a.read(kLin, 4);
  a.read(kGlob, 5);  // kept: global
  EXPECT_EQ(run(6), values({kPageA, kPageGA, kPageB, kPageB, kPageA2, kPageGA}));
}

// INVPCID types 3 (all contexts, globals stay) and 2 (all contexts, globals too): the values
// read at kLin (A, B, after the INVPCID in B, then in A) and at kGlob in A before and after.
std::vector<uint64_t> all_contexts(Pcid& t, uint64_t type) {
  PcidAsm& s = t.a;
  s.set_cr3(t.cr3(kA, kPcidA));
  s.read(kLin, 0);
  s.read(kGlob, 1);
  s.set_cr3(t.cr3(kB, kPcidB) | kNoFlush);
  s.read(kLin, 2);
  t.remap(kA, kLin, kPageA2);
  t.remap(kB, kLin, kPageB2);
  t.remap(kA, kGlob, kPageGA2, true);
  s.invpcid(type, 0);
  s.read(kLin, 3);
  s.set_cr3(t.cr3(kA, kPcidA) | kNoFlush);
  s.read(kLin, 4);
  s.read(kGlob, 5);
  return t.run(6);
}

TEST_F(Pcid, InvpcidAllContextsKeepsGlobals) {
  EXPECT_EQ(all_contexts(*this, 3),
            values({kPageA, kPageGA, kPageB, kPageB2, kPageA2, kPageGA}));  // kept: global
}

TEST_F(Pcid, InvpcidAllContextsIncludingGlobals) {
  EXPECT_EQ(all_contexts(*this, 2),
            values({kPageA, kPageGA, kPageB, kPageB2, kPageA2, kPageGA2}));
}

TEST_F(Pcid, ClearingPcideDropsEveryTranslation) {
  a.set_cr3(cr3(kA, kPcidA));
  a.read(kLin, 0);
  a.read(kGlob, 1);
  a.set_cr3(cr3(kB, kPcidB) | kNoFlush);
  a.read(kLin, 2);
  remap(kA, kGlob, kPageGA2, true);
  remap(kB, kLin, kPageB2);
  a.set_cr4(cr4);  // PCIDE 1 -> 0: every PCID's translations, global ones too (CR3 keeps its bits)
  a.read(kLin, 3);
  a.set_cr3(cr3(kA, 0));  // without PCIDs a MOV to CR3 keeps global translations: none is left
  a.read(kGlob, 4);
  EXPECT_EQ(run(5), values({kPageA, kPageGA, kPageB, kPageB2, kPageGA2}));
  EXPECT_EQ(m.core().current_pcid(), 0);
}

TEST_F(Pcid, MorePcidsThanTheCoreCachesEachTranslateWithTheirOwnSpace) {
  constexpr unsigned kSpaces = 6;  // more than Core::kPcidSlots
  for (unsigned i = 0; i < kSpaces; ++i) spaces.map(i, kLin, page(kNumPages + i));
  std::vector<uint64_t> want;
  unsigned slot = 0;
  for (unsigned round = 0; round < 2; ++round) {
    for (unsigned i = 0; i < kSpaces; ++i) {
      a.set_cr3(cr3(i, static_cast<uint16_t>(i + 1)) | kNoFlush);
      a.read(kLin, slot++);
      want.push_back(value(kNumPages + i));
    }
  }
  EXPECT_EQ(run(slot), want);
}

}  // namespace
}  // namespace vmxsim::test
