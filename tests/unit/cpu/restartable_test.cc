// Every instruction that faults part-way leaves the state as before it (restartable.h), here with
// page faults (and stack-limit #SS in real mode) on a bare core. The fault is not delivered: the
// IDT's limit ends below its vector, so the core shuts down (triple fault) with exactly the state
// the fault left, the vector recorded in its exception counters and, for #PF, the address in CR2.
#include "tests/unit/cpu/restartable.h"

#include <gtest/gtest.h>

#include <cstring>
#include <ostream>

namespace vmxsim::test::restart {

namespace {

using namespace vmxsim::cpu;

constexpr size_t kRam = 2u << 20;
constexpr uint64_t kPt = 0x18000;  // 4 KiB page table over the low 2 MiB (64-bit) or 4 MiB (32-bit)

class PlainRig {
 public:
  explicit PlainRig(Mode mode) : m(kRam), m_mode(mode) {
    switch (mode) {
      case Mode::k64:
        m.enter_long_mode();
        break;
      case Mode::k32:
      case Mode::kV86:
        m.enter_protected_mode(true);
        break;
      case Mode::kReal:
        m.enter_real_mode();
        break;
    }
    if (mode == Mode::kReal) return;
    write_gdt(m);
    m.state().gdtr.base = kGdt;
    m.state().gdtr.limit = kGdtLimit;
    // The first page-directory entry points at a table of 4 KiB identity pages.
    const bool lm = mode == Mode::k64;
    const unsigned n = lm ? 512 : 1024;
    for (uint64_t i = 0; i < n; ++i) set_pte(i << 12, (i << 12) | 7);
    if (lm)
      m.write_value<uint64_t>(TestMachine::kPageTables + 0x2000, kPt | 7);
    else
      m.write_value<uint32_t>(TestMachine::kPageTables, static_cast<uint32_t>(kPt | 7));
    m.core().flush_tlb(true);
  }

  // The mode's defaults: flat CPL-0 segments (virtual-8086 and real mode: CS 0x7000, SS 0x3000,
  // data 0x4000), RIP at kCode, a distinct value in every GPR.
  Start start() {
    Start st;
    const CpuState& s = m.state();
    for (unsigned r = 0; r < 16; ++r)
      st.gpr[r] = m_mode == Mode::k64 ? 0x0101010101010101ull * (r + 1) : 0x01010101ull * (r + 1);
    st.gpr[kRsp] = TestMachine::kDefaultStackTop;
    for (unsigned i = 0; i < kNumSegs; ++i) st.seg[i] = s.seg[i];
    st.idtr = s.idtr;
    st.tr = s.tr;
    if (m_mode == Mode::kV86 || m_mode == Mode::kReal) {
      for (unsigned i = 0; i < kNumSegs; ++i) {
        const uint16_t sel = i == kCs ? kCode >> 4 : i == kSs ? kStack >> 4 : kData >> 4;
        Segment& sg = st.seg[i];
        sg.selector = sel;
        sg.base = uint64_t{sel} << 4;
        sg.limit = 0xffff;
        if (m_mode == Mode::kV86)
          sg.ar = ar::kP | ar::kS | (3u << ar::kDplShift) | ar::kAccessed |
                  (i == kCs ? (ar::kCodeBit | ar::kCodeReadable) : ar::kDataWritable);
      }
      st.rip = kCode - (kCode & ~0xffffull);
      st.gpr[kRsp] = 0x800;
    }
    if (m_mode == Mode::kV86) {
      st.rflags = 2 | rflags::kVm | rflags::kIoplMask;
      st.cpl = 3;
    }
    return st;
  }

  void apply(const Start& st) {
    CpuState& s = m.state();
    for (unsigned r = 0; r < 16; ++r) s.gpr[r] = st.gpr[r];
    for (unsigned i = 0; i < kNumSegs; ++i) s.seg[i] = st.seg[i];
    s.idtr = st.idtr;
    s.tr = st.tr;
    s.cr4 |= st.cr4_or;
    s.rip = st.rip;
    m.core().set_rflags(st.rflags);
    m.core().mode_changed();
    m.core().set_cpl(st.cpl);
    m.core().flush_tlb(true);
  }

  void inject(const Fault& f, bool on) {
    if (f.by_limit) {
      m.state().seg[kSs].limit = on ? f.ss_limit : 0xffff;
      return;
    }
    set_pte(f.page, f.page | (!on ? 7 : f.write_protect ? 5 : 6));
    m.core().flush_tlb(true);
  }

  // With `on`, the IDT ends after vector 7: every fault's delivery fails, ending in a triple
  // fault that leaves the state alone (INT 0-7 still work).
  void block_delivery(bool on) {
    if (on) {
      m_idt_limit = m.state().idtr.limit;
      const unsigned gate = m_mode == Mode::k64 ? 16 : m_mode == Mode::kReal ? 4 : 8;
      m.state().idtr.limit = 8 * gate - 1;
    } else {
      m.state().idtr.limit = m_idt_limit;
    }
  }

  Snapshot snapshot() {
    Snapshot sn;
    const CpuState& s = m.state();
    std::memcpy(sn.gpr, s.gpr, sizeof sn.gpr);
    sn.rip = s.rip;
    sn.rflags = m.core().rflags();
    sn.cpl = m.core().cpl();
    for (unsigned i = 0; i < kNumSegs; ++i) sn.seg[i] = s.seg[i];
    sn.gdtr = s.gdtr;
    sn.idtr = s.idtr;
    fill_extended(sn, s);
    fill_memory(sn, m);
    return sn;
  }

  RunResult run() { return m.run(m.state().rip); }

  TestMachine m;

 private:
  void set_pte(uint64_t page, uint64_t v) {
    if (m_mode == Mode::k64)
      m.write_value<uint64_t>(kPt + (page >> 12) * 8, v);
    else
      m.write_value<uint32_t>(kPt + (page >> 12) * 4, static_cast<uint32_t>(v));
  }
  Mode m_mode;
  uint32_t m_idt_limit = 0;
};

// The vector of the first fault, from the exception counts a failed delivery leaves: the fault
// itself once, then #GP twice (the IDT limit for it and for the #DF it turns into).
int first_fault(const uint64_t before[32], const uint64_t after[32]) {
  int found = -1;
  for (int v = 0; v < 32; ++v) {
    const uint64_t d = after[v] - before[v];
    if (v == kGp || d == 0) continue;
    if (found >= 0 || d != 1) return -2;
    found = v;
  }
  const uint64_t gp = after[kGp] - before[kGp];
  if (found < 0) return gp == 3 ? kGp : -2;
  return gp == 2 ? found : -2;
}

bool finished(const RunResult& r, const Case& c) {
  return r.halted && !r.triple_fault && r.exception == (c.ends_in_int3 ? kBp : -1);
}

std::string describe(const RunResult& r) {
  return "halted " + std::to_string(r.halted) + ", exception " + std::to_string(r.exception) + " error " +
         std::to_string(r.error_code) + " at " + std::to_string(r.fault_rip) + ", triple fault " +
         std::to_string(r.triple_fault);
}

// Fault `k` of case `c`: the run without it (the reference), the run with it (the state at the
// fault), the retry once the page is back (ends like the reference).
void check_fault(const Case& c, unsigned k) {
  const Fault& f = c.faults[k];
  PlainRig clean(c.mode);
  Start st = clean.start();
  c.setup(clean.m, st, k);
  clean.apply(st);
  const RunResult rc = clean.run();
  ASSERT_TRUE(finished(rc, c)) << "without a fault: " << describe(rc);
  const Snapshot done = clean.snapshot();

  PlainRig rig(c.mode);
  Start st2 = rig.start();
  c.setup(rig.m, st2, k);
  rig.apply(st2);
  rig.inject(f, true);
  rig.block_delivery(true);
  Snapshot expected = rig.snapshot();
  if (c.progress) c.progress(expected, k);
  uint64_t counts[32];
  std::memcpy(counts, rig.m.core().m_exceptions, sizeof counts);
  const RunResult rf = rig.run();
  ASSERT_TRUE(rf.triple_fault) << "the access did not fault: " << describe(rf);
  EXPECT_EQ(first_fault(counts, rig.m.core().m_exceptions), f.by_limit ? kSsFault : kPf);
  if (!f.by_limit)
    EXPECT_EQ(rig.m.state().cr2 & ~0xfffull, f.page) << "CR2 " << std::hex << rig.m.state().cr2;
  expect_same(expected, rig.snapshot(), "at the fault");

  rig.inject(f, false);
  rig.block_delivery(false);
  const RunResult rr = rig.run();
  ASSERT_TRUE(finished(rr, c)) << "retry: " << describe(rr);
  expect_same(done, rig.snapshot(), "after the retry");
}

void check_case(const Case& c) {
  for (unsigned k = 0; k < c.faults.size(); ++k) {
    SCOPED_TRACE("fault " + std::to_string(k) + ": " + c.faults[k].what);
    check_fault(c, k);
  }
}

class Restartable : public ::testing::TestWithParam<Case> {};

TEST_P(Restartable, EachAccessFaultsWithTheStateAsBeforeAndTheRetryCompletes) { check_case(GetParam()); }

auto name_of = [](const ::testing::TestParamInfo<Case>& info) { return test_name(info.param.name); };
INSTANTIATE_TEST_SUITE_P(Mode64, Restartable, ::testing::ValuesIn(cases_64bit()), name_of);
INSTANTIATE_TEST_SUITE_P(Protected32, Restartable, ::testing::ValuesIn(cases_32bit()), name_of);
INSTANTIATE_TEST_SUITE_P(Virtual8086, Restartable, ::testing::ValuesIn(cases_v86()), name_of);
INSTANTIATE_TEST_SUITE_P(RealMode, Restartable, ::testing::ValuesIn(cases_real()), name_of);

// Faults that are not memory accesses: the target checks of near CALL, RET and LOOP come
// before the stack or the count changes (SDM CALL, RET, LOOP: #GP(0)).
void check_gp(Mode mode, const std::function<void(TestMachine&, Start&)>& setup) {
  PlainRig rig(mode);
  Start st = rig.start();
  setup(rig.m, st);
  rig.apply(st);
  rig.block_delivery(true);
  const Snapshot expected = rig.snapshot();
  uint64_t counts[32];
  std::memcpy(counts, rig.m.core().m_exceptions, sizeof counts);
  ASSERT_TRUE(rig.run().triple_fault);
  EXPECT_EQ(first_fault(counts, rig.m.core().m_exceptions), kGp);
  expect_same(expected, rig.snapshot(), "at the fault");
}

constexpr uint64_t kNonCanonical = 0x0000800000000000ull;

TEST(RestartableTarget, RetToANonCanonicalAddressLeavesRspAlone) {
  check_gp(Mode::k64, [](TestMachine& m, Start& st) {
    m.write(kCode, {0xc3});
    st.gpr[kRsp] = stack_page(0) + 0x800;
    m.write_value<uint64_t>(stack_page(0) + 0x800, kNonCanonical);
  });
}

TEST(RestartableTarget, CallToANonCanonicalAddressPushesNothing) {
  check_gp(Mode::k64, [](TestMachine& m, Start& st) {
    m.write(kCode, Bytes{0xff, 0x14, 0x25} + imm32(data_page(0)));  // call [D0]
    m.write_value<uint64_t>(data_page(0), kNonCanonical);
    st.gpr[kRsp] = stack_page(1);
  });
}

TEST(RestartableTarget, RetBeyondTheCodeSegmentLimitLeavesEspAlone) {
  check_gp(Mode::k32, [](TestMachine& m, Start& st) {
    m.write(kCode, {0xc3});
    st.seg[kCs].limit = kTarget - 1;
    st.gpr[kRsp] = stack_page(0) + 0x800;
    m.write_value<uint32_t>(stack_page(0) + 0x800, static_cast<uint32_t>(kTarget));
  });
}

TEST(RestartableTarget, LoopBeyondTheCodeSegmentLimitLeavesEcxAlone) {
  check_gp(Mode::k32, [](TestMachine& m, Start& st) {
    m.write(kCode, {0xe2, 0x40});  // loop +0x40
    st.seg[kCs].limit = kCode + 0x20;
    st.gpr[kRcx] = 5;
  });
}

// INT1 delivers #DB, which clears DR7.GD -- only once the delivery has succeeded: a fault on
// the IDT gate restarts INT1 with GD as it was.
TEST(RestartableTarget, Int1WhoseGateFaultsKeepsDr7Gd) {
  PlainRig rig(Mode::k64);
  Start st = rig.start();
  Bytes idt(4096);
  rig.m.read(st.idtr.base, idt.data(), idt.size());
  rig.m.write(kIdt, idt);
  st.idtr.base = kIdt;
  rig.m.write(kCode, {0xf1});
  rig.apply(st);
  rig.m.state().dr[7] |= dr7::kGd;
  rig.inject(page_fault("IDT gate", kIdt), true);
  rig.block_delivery(true);
  const Snapshot expected = rig.snapshot();
  ASSERT_TRUE(rig.run().triple_fault);
  EXPECT_EQ(rig.m.state().cr2 & ~0xfffull, kIdt);
  EXPECT_TRUE(rig.m.state().dr[7] & dr7::kGd);
  expect_same(expected, rig.snapshot(), "at the fault");
}

}  // namespace
}  // namespace vmxsim::test::restart
