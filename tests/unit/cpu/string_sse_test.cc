// String instructions, SSE/SSE2, FXSAVE/XSAVE, x87 control and the misc group (NOP, CPUID,
// RDTSC, RDRAND, ...): differential tests against the host CPU for everything that runs in user
// mode, and simulator-only tests for faults, privileged forms and the state-image layouts.
//
// The differential side runs a snippet natively through HostRunner and in a TestMachine in
// 64-bit mode at the same addresses, with the same GPRs, flags and a 32 KiB data window (eight
// pages, so that block transfers cross pages), and compares GPRs, flags and the window. XMM
// values travel through the window: snippets load their inputs from it and store their results
// to it.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/decode/decoder.h"
#include "tests/unit/cpu/host_runner.h"
#include "tests/unit/cpu/test_machine.h"

// Assembles `text` (Intel syntax) into .rodata; NAME_bytes() returns the machine code.
#define SNIPPET(name, text)                                                                   \
  asm(".pushsection .rodata\n"                                                                \
      ".globl vmxsim_sst_" #name "_begin\n.globl vmxsim_sst_" #name "_end\n"                  \
      "vmxsim_sst_" #name "_begin:\n.intel_syntax noprefix\n" text                            \
      "\n.att_syntax prefix\nvmxsim_sst_" #name "_end:\n.popsection\n");                      \
  extern "C" const uint8_t vmxsim_sst_##name##_begin[], vmxsim_sst_##name##_end[];            \
  static std::vector<uint8_t> name##_bytes() {                                                \
    return std::vector<uint8_t>(vmxsim_sst_##name##_begin, vmxsim_sst_##name##_end);          \
  }

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;

constexpr uint64_t kWin = HostRunner::kData;  // 0x800000
constexpr uint64_t kWinSize = 0x8000;
constexpr uint64_t kFlagsCompared = 0x8d5 | 0x400;  // CF PF AF ZF SF OF, DF

// --- differential runner over HostRunner and TestMachine ---------------------------------------
struct Outcome {
  int signal = 0;     // host: signal number; simulator: 0
  int exception = -1; // simulator: exception vector
  HostState st;
  std::vector<uint8_t> win;
};

class Differential {
 public:
  Differential() : m_host(HostRunner::instance()) {
    m_m.enter_long_mode();
    m_m.state().cr4 |= cr4::kOsxsave;
    m_m.state().xcr0 = 3;
  }
  bool available() const { return m_host != nullptr; }
  TestMachine& machine() { return m_m; }

  Outcome host(const std::vector<uint8_t>& code, const HostState& in, const std::vector<uint8_t>& win) {
    Outcome o;
    std::memcpy(m_host->data(), win.data(), win.size());
    o.st = in;
    o.signal = m_host->run(code, o.st);
    o.win.assign(m_host->data(), m_host->data() + win.size());
    return o;
  }
  Outcome sim(const std::vector<uint8_t>& code, const HostState& in, const std::vector<uint8_t>& win) {
    Outcome o;
    m_m.write(kWin, win.data(), win.size());
    for (unsigned r = 0; r < 16; ++r) m_m.gpr(r) = in.gpr[r];
    m_m.set_rflags((in.rflags & kFlagsCompared) | 2);
    const RunResult r = m_m.run_code(HostRunner::kSnippet, code, 50'000'000);
    EXPECT_TRUE(r.halted) << "simulator did not halt";
    o.exception = r.exception;
    for (unsigned i = 0; i < 16; ++i) o.st.gpr[i] = m_m.gpr(i);
    o.st.rflags = m_m.rflags();
    o.win.resize(win.size());
    m_m.read(kWin, o.win.data(), o.win.size());
    return o;
  }

  // Runs `code` on both sides and compares GPRs, flags in `flags_mask` and the window.
  ::testing::AssertionResult check(const std::string& what, const std::vector<uint8_t>& code,
                                   const HostState& in, const std::vector<uint8_t>& win,
                                   uint64_t flags_mask = kFlagsCompared) {
    const Outcome h = host(code, in, win);
    const Outcome s = sim(code, in, win);
    if (h.signal || s.exception >= 0) {
      return ::testing::AssertionFailure() << what << ": host signal " << h.signal
                                           << ", simulator exception " << s.exception;
    }
    std::string diff;
    static const char* const kNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                           "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    char buf[160];
    for (unsigned i = 0; i < 16; ++i)
      if (h.st.gpr[i] != s.st.gpr[i]) {
        std::snprintf(buf, sizeof buf, " %s host=%#llx sim=%#llx;", kNames[i],
                      static_cast<unsigned long long>(h.st.gpr[i]), static_cast<unsigned long long>(s.st.gpr[i]));
        diff += buf;
      }
    if ((h.st.rflags ^ s.st.rflags) & flags_mask) {
      std::snprintf(buf, sizeof buf, " rflags host=%#llx sim=%#llx;",
                    static_cast<unsigned long long>(h.st.rflags & flags_mask),
                    static_cast<unsigned long long>(s.st.rflags & flags_mask));
      diff += buf;
    }
    for (size_t i = 0; i < h.win.size(); ++i)
      if (h.win[i] != s.win[i]) {
        std::snprintf(buf, sizeof buf, " window[%#zx] host=%02x sim=%02x (first difference);", i,
                      h.win[i], s.win[i]);
        diff += buf;
        break;
      }
    if (diff.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ":" << diff;
  }

 private:
  HostRunner* m_host;
  TestMachine m_m;
};

#define REQUIRE_HOST(d)                                                         \
  if (!(d).available()) GTEST_SKIP() << "host runner addresses are not mappable"

HostState fresh_state(std::mt19937_64& rng) {
  HostState st;
  for (auto& g : st.gpr) g = rng();
  st.gpr[4] = HostRunner::kStackTop;
  st.gpr[6] = kWin;
  st.gpr[7] = kWin + 0x100;
  st.rflags = 2;
  return st;
}

std::vector<uint8_t> random_window(std::mt19937_64& rng, size_t n, bool small_alphabet) {
  std::vector<uint8_t> w(n);
  for (auto& b : w) b = small_alphabet ? ((rng() % 4) == 0 ? static_cast<uint8_t>(rng()) : 0x41) : static_cast<uint8_t>(rng());
  return w;
}

// Decodes `bytes` in 64-bit mode the way a block would.
DecodedOp decode64(std::vector<uint8_t> bytes) {
  static Decoder dec;
  DecodedOp op;
  bytes.resize(16, 0x90);
  dec.decode(bytes.data(), bytes.size(), DecodeMode::k64, false, op);
  return op;
}

bool decoder_passes_string_overrides() { return decode64({0x64, 0xa4}).seg == kFs; }

// CPL 3 support: user-accessible identity pages and a 64-bit TSS (RSP0 for exception delivery,
// optionally an I/O permission bitmap after the 0x68-byte header).
void setup_user_mode(TestMachine& m, const std::vector<uint8_t>& io_bitmap = {}) {
  for (uint64_t i = 0; i < 512; ++i) {
    const uint64_t a = TestMachine::kPageTables + 0x2000 + i * 8;
    m.write_value<uint64_t>(a, m.read<uint64_t>(a) | 4);
  }
  for (uint64_t a : {TestMachine::kPageTables, TestMachine::kPageTables + 0x1000})
    m.write_value<uint64_t>(a, m.read<uint64_t>(a) | 4);
  const uint64_t tss = 0x500000;
  std::vector<uint8_t> t(0x68, 0);
  const uint64_t rsp0 = TestMachine::kDefaultStackTop;
  std::memcpy(&t[4], &rsp0, 8);
  t[0x66] = 0x68;
  t.insert(t.end(), io_bitmap.begin(), io_bitmap.end());
  m.write(tss, t);
  m.state().tr.base = tss;
  m.state().tr.limit = static_cast<uint32_t>(t.size() - 1);
  m.state().tr.ar = ar::kP | 11;  // busy 64-bit TSS
  m.core().flush_tlb(true);
}

// Runs `code` at CPL 3. run_code appends a HLT, which faults at CPL 3: #GP(0) at that HLT means
// the code completed (returns -1); otherwise returns the exception vector.
int run_user(TestMachine& m, uint64_t addr, const std::vector<uint8_t>& code) {
  Segment& cs = m.state().seg[kCs];
  cs.selector = TestMachine::kCode64User;
  cs.ar = (cs.ar & ~(3u << ar::kDplShift)) | (3u << ar::kDplShift);
  m.set_cpl(3);
  m.core().mode_changed();
  const RunResult r = m.run_code(addr, code);
  if (r.exception == 13 && r.fault_rip == addr + code.size()) return -1;
  return r.exception;
}

// ============================================================================================
// String instructions
// ============================================================================================

SNIPPET(rep_movsb, "rep movsb\n cld")
SNIPPET(rep_movsw, "rep movsw\n cld")
SNIPPET(rep_movsd, "rep movsd\n cld")
SNIPPET(rep_movsq, "rep movsq\n cld")
SNIPPET(rep_stosb, "rep stosb\n cld")
SNIPPET(rep_stosw, "rep stosw\n cld")
SNIPPET(rep_stosd, "rep stosd\n cld")
SNIPPET(rep_stosq, "rep stosq\n cld")
SNIPPET(rep_lodsb, "rep lodsb\n cld")
SNIPPET(rep_lodsd, "rep lodsd\n cld")
SNIPPET(rep_lodsq, "rep lodsq\n cld")
SNIPPET(repe_cmpsb, "repe cmpsb\n cld")
SNIPPET(repe_cmpsw, "repe cmpsw\n cld")
SNIPPET(repe_cmpsd, "repe cmpsd\n cld")
SNIPPET(repne_cmpsq, "repne cmpsq\n cld")
SNIPPET(repne_cmpsb, "repne cmpsb\n cld")
SNIPPET(repne_scasb, "repne scasb\n cld")
SNIPPET(repe_scasw, "repe scasw\n cld")
SNIPPET(repne_scasd, "repne scasd\n cld")
SNIPPET(repe_scasq, "repe scasq\n cld")
SNIPPET(movsb_x3, "movsb\n movsw\n movsq\n cld")
SNIPPET(lods_x3, "lodsb\n lodsd\n lodsq\n cld")
SNIPPET(stos_x3, "stosb\n stosw\n stosd\n cld")
SNIPPET(cmps_scas, "cmpsb\n cmpsq\n scasw\n scasb\n cld")
SNIPPET(repne_movsb, ".byte 0xf2, 0xa4\n cld")  // F2 acts as REP on MOVS
SNIPPET(a32_rep_movsb, "addr32 rep movsb\n cld")
SNIPPET(a32_repne_scasb, "addr32 repne scasb\n cld")

struct StringCase {
  const char* name;
  std::vector<uint8_t> (*bytes)();
  unsigned size;
  bool compares;  // sets flags
};

const StringCase kStringCases[] = {
    {"rep movsb", rep_movsb_bytes, 1, false},     {"rep movsw", rep_movsw_bytes, 2, false},
    {"rep movsd", rep_movsd_bytes, 4, false},     {"rep movsq", rep_movsq_bytes, 8, false},
    {"rep stosb", rep_stosb_bytes, 1, false},     {"rep stosw", rep_stosw_bytes, 2, false},
    {"rep stosd", rep_stosd_bytes, 4, false},     {"rep stosq", rep_stosq_bytes, 8, false},
    {"rep lodsb", rep_lodsb_bytes, 1, false},     {"rep lodsd", rep_lodsd_bytes, 4, false},
    {"rep lodsq", rep_lodsq_bytes, 8, false},     {"repe cmpsb", repe_cmpsb_bytes, 1, true},
    {"repe cmpsw", repe_cmpsw_bytes, 2, true},    {"repe cmpsd", repe_cmpsd_bytes, 4, true},
    {"repne cmpsq", repne_cmpsq_bytes, 8, true},  {"repne cmpsb", repne_cmpsb_bytes, 1, true},
    {"repne scasb", repne_scasb_bytes, 1, true},  {"repe scasw", repe_scasw_bytes, 2, true},
    {"repne scasd", repne_scasd_bytes, 4, true},  {"repe scasq", repe_scasq_bytes, 8, true},
    {"movsb/w/q", movsb_x3_bytes, 8, false},      {"lodsb/d/q", lods_x3_bytes, 8, false},
    {"stosb/w/d", stos_x3_bytes, 4, false},       {"cmps/scas", cmps_scas_bytes, 8, true},
    {"repne movsb", repne_movsb_bytes, 1, false},
};

// Both directions, counts from 0 to several pages, overlapping source and destination, page
// crossings (the window has eight pages).
TEST(StringOps, DifferentialRepForms) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(12345);
  for (const StringCase& sc : kStringCases) {
    unsigned failures = 0;
    for (int it = 0; it < 150 && failures < 3; ++it) {
      HostState st = fresh_state(rng);
      const bool df = rng() & 1;
      const uint64_t max_n = 0x3000 / sc.size;
      uint64_t n = (it % 4 == 0) ? rng() % 8 : rng() % max_n;
      if (it == 1) n = 0;
      // Source and destination offsets leave room for n elements in the chosen direction;
      // every fourth case overlaps them within a few bytes.
      auto pick = [&] { return df ? 0x3400 + rng() % 0x4000 : rng() % 0x4800; };
      const uint64_t so = pick();
      uint64_t dst = (it % 4 == 3) ? so + rng() % 33 - 16 : pick();
      if (dst > 0x7800) dst = so;
      st.gpr[1] = n;
      st.gpr[6] = kWin + so;
      st.gpr[7] = kWin + dst;
      // AL/AX/.. equal to the window filler so REPE/REPNE scans run for a while.
      st.gpr[0] = (rng() & 1) ? 0x4141414141414141ull : rng();
      st.rflags = 2 | (df ? 0x400 : 0) | (rng() & 0x8d5);
      auto win = random_window(rng, kWinSize, sc.compares);
      const bool ok = d.check(std::string(sc.name) + " n=" + std::to_string(n) + " df=" +
                                  std::to_string(df) + " src=+" + std::to_string(so) +
                                  " dst=+" + std::to_string(dst),
                              sc.bytes(), st, win, sc.compares ? kFlagsCompared : 0x400);
      EXPECT_TRUE(ok);
      if (!ok) ++failures;
    }
  }
}

// Address size 32 in 64-bit mode: ESI/EDI/ECX are used and written back zero-extended.
TEST(StringOps, DifferentialAddressSize32) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(7);
  for (int it = 0; it < 40; ++it) {
    HostState st = fresh_state(rng);
    st.gpr[1] = (rng() << 32) | (rng() % 3000);
    st.gpr[6] = (rng() << 32) | (kWin + rng() % 0x3000);
    st.gpr[7] = (rng() << 32) | (kWin + 0x4000 + rng() % 0x3000);
    st.gpr[0] = 0x41;
    auto win = random_window(rng, kWinSize, true);
    EXPECT_TRUE(d.check("addr32 rep movsb", a32_rep_movsb_bytes(), st, win, 0));
    EXPECT_TRUE(d.check("addr32 repne scasb", a32_repne_scasb_bytes(), st, win));
  }
}

// REP with a large count runs in chunks: between chunks RIP stays at the instruction with the
// registers advanced, so that interrupts can be taken; the instruction then resumes.
TEST(StringOps, RepResumesBetweenChunks) {
  TestMachine m;
  m.enter_long_mode();
  const uint64_t src = TestMachine::kFreeBase, dst = src + 0x40000, n = 100000;
  std::vector<uint8_t> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  m.write(src, data);
  m.write(0x200000, std::vector<uint8_t>{0xf3, 0xa4, 0xf4});  // rep movsb; hlt
  m.gpr(kRsi) = src;
  m.gpr(kRdi) = dst;
  m.gpr(kRcx) = n;
  // One cycle of budget: the core stops after the first block, i.e. the first chunk.
  RunResult r = m.run(0x200000, 1);
  EXPECT_FALSE(r.halted);
  EXPECT_EQ(m.state().rip, 0x200000u);
  EXPECT_GT(m.gpr(kRcx), 0u);
  EXPECT_LT(m.gpr(kRcx), n);
  EXPECT_EQ(m.gpr(kRsi) - src, n - m.gpr(kRcx));
  EXPECT_EQ(m.gpr(kRdi) - dst, n - m.gpr(kRcx));
  r = m.run(m.state().rip, 10'000'000);
  EXPECT_TRUE(r.halted);
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRcx), 0u);
  std::vector<uint8_t> out(n);
  m.read(dst, out.data(), n);
  EXPECT_EQ(out, data);
}

// Maps the 2 MiB region at `base` with 4 KiB pages and makes the page at `hole` not present.
void punch_page_hole(TestMachine& m, uint64_t base, uint64_t hole) {
  const uint64_t pt = 0x300000;  // a page table in free memory
  std::vector<uint64_t> ptes(512);
  for (uint64_t i = 0; i < 512; ++i) ptes[i] = (base + (i << 12)) | 3;
  ptes[(hole - base) >> 12] = 0;
  m.write(pt, ptes.data(), 4096);
  m.write_value<uint64_t>(TestMachine::kPageTables + 0x2000 + (base >> 21) * 8, pt | 3);
  m.core().flush_tlb(true);
}

// A page fault in the middle of REP MOVS leaves the registers at the faulting iteration and the
// iterations before it done (SDM Vol. 2 "REP"), in both directions.
TEST(StringOps, FaultMidwayLeavesRegistersAtFaultingIteration) {
  for (bool df : {false, true}) {
    for (unsigned size : {1u, 8u}) {
      TestMachine m;
      m.enter_long_mode();
      const uint64_t base = 0x400000, hole = base + 0x5000;
      punch_page_hole(m, base, hole);
      std::vector<uint8_t> src(0x3000);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i + 1);
      m.write(base + 0x10000, src);
      const uint64_t n = 0x2000 / size;
      // Forward: the destination runs into the hole after 0x800 bytes; backward: it runs down
      // into the hole's last element after 0x800 bytes.
      const uint64_t dst0 = df ? hole + 0x1000 + 0x800 - size : hole - 0x800;
      m.gpr(kRsi) = df ? base + 0x12000 - size : base + 0x10000;
      m.gpr(kRdi) = dst0;
      m.gpr(kRcx) = n;
      m.set_rflags(2 | (df ? rflags::kDf : 0));
      const std::vector<uint8_t> code = size == 1 ? std::vector<uint8_t>{0xf3, 0xa4}
                                                  : std::vector<uint8_t>{0xf3, 0x48, 0xa5};
      const RunResult r = m.run_code(0x200000, code);
      ASSERT_EQ(r.exception, 14) << "df=" << df << " size=" << size;
      EXPECT_EQ(r.fault_rip, 0x200000u);
      EXPECT_EQ(m.state().cr2, df ? hole + 0x1000 - size : hole);
      const uint64_t done = 0x800 / size;
      EXPECT_EQ(m.gpr(kRcx), n - done);
      EXPECT_EQ(m.gpr(kRdi), df ? dst0 - 0x800 : hole);
      // The bytes before the hole were copied.
      std::vector<uint8_t> got(0x800);
      m.read(df ? hole + 0x1000 : hole - 0x800, got.data(), got.size());
      std::vector<uint8_t> want(src.begin() + (df ? 0x1800 : 0), src.begin() + (df ? 0x2000 : 0x800));
      EXPECT_EQ(got, want) << "df=" << df << " size=" << size;
    }
  }
}

// Overlapping forward copy with the destination just above the source replicates the pattern
// (element-wise semantics, not memmove), including across a page boundary.
TEST(StringOps, OverlappingForwardCopyReplicates) {
  TestMachine m;
  m.enter_long_mode();
  const uint64_t src = 0x400ff0;
  m.write(src, std::vector<uint8_t>{1, 2, 3});
  m.gpr(kRsi) = src;
  m.gpr(kRdi) = src + 3;
  m.gpr(kRcx) = 0x2000;
  ASSERT_EQ(m.run_code(0x200000, {0xf3, 0xa4}).exception, -1);
  std::vector<uint8_t> out(0x2003);
  m.read(src, out.data(), out.size());
  for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], i % 3 + 1) << "at " << i;
}

// REP STOS over the instructions that follow it in the same block: the block is re-decoded and
// the new bytes execute (self-modifying code through the string path).
TEST(StringOps, RepStosOverwritesFollowingCode) {
  TestMachine m;
  m.enter_long_mode();
  m.gpr(kRdi) = 0x200002;
  m.gpr(kRcx) = 4;
  m.gpr(kRax) = 0x90;
  const RunResult r = m.run_code(0x200000, {0xf3, 0xaa, 0x0f, 0x0b, 0x0f, 0x0b});  // ud2 x2
  EXPECT_EQ(r.exception, -1);
  EXPECT_TRUE(r.halted);
  EXPECT_EQ(m.state().rip, 0x200007u);
}

// 16-bit addressing in real mode: SI and DI wrap at 64 KiB, the source segment is DS (or an
// override), the destination always ES.
TEST(StringOps, RealModeWrapAndSegments) {
  TestMachine m;
  m.enter_real_mode();
  auto set_seg = [&](unsigned r, uint16_t sel) {
    m.state().seg[r].selector = sel;
    m.state().seg[r].base = uint64_t{sel} << 4;
  };
  set_seg(kDs, 0x2000);
  set_seg(kEs, 0x3000);
  set_seg(kFs, 0x4000);
  m.core().mode_changed();
  m.write(0x2fffe, std::vector<uint8_t>{0xa1, 0xa2});  // DS:FFFE
  m.write(0x20000, std::vector<uint8_t>{0xa3, 0xa4});  // DS:0000 (wrapped)
  m.write(0x4fffe, std::vector<uint8_t>{0xf1, 0xf2});
  m.write(0x40000, std::vector<uint8_t>{0xf3, 0xf4});
  m.gpr(kRsi) = 0x1234'0000'fffeull;  // upper bits are not part of SI and stay
  m.gpr(kRdi) = 0x10;
  m.gpr(kRcx) = 0xffff'0004ull;
  RunResult r = m.run_code(0x8000, {0xf3, 0xa4});  // rep movsb
  ASSERT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRsi), 0x1234'0000'0002ull);
  EXPECT_EQ(m.gpr(kRdi), 0x14u);
  EXPECT_EQ(m.gpr(kRcx), 0xffff'0000ull);
  EXPECT_EQ(m.read<uint32_t>(0x30010), 0xa4a3a2a1u);
  // FS override of the source.
  if (!decoder_passes_string_overrides())
    GTEST_SKIP() << "the decoder does not pass segment overrides of string instructions";
  m.gpr(kRsi) = 0xfffe;
  m.gpr(kRcx) = 4;
  r = m.run_code(0x8000, {0x64, 0xf3, 0xa4});
  ASSERT_EQ(r.exception, -1);
  EXPECT_EQ(m.read<uint32_t>(0x30014), 0xf4f3f2f1u);
}

// 32-bit protected mode: segment bases apply (source DS, destination ES).
TEST(StringOps, ProtectedModeSegmentBases) {
  TestMachine m;
  m.enter_protected_mode();
  m.state().seg[kDs].base = 0x10000;
  m.state().seg[kEs].base = 0x20000;
  m.core().mode_changed();
  m.write(0x10000 + 0x500000, std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8});
  m.gpr(kRsi) = 0x500000;
  m.gpr(kRdi) = 0x500000;
  m.gpr(kRcx) = 2;
  ASSERT_EQ(m.run_code(0x200000, {0xf3, 0xa5}).exception, -1);  // rep movsd
  EXPECT_EQ(m.read<uint64_t>(0x20000 + 0x500000), 0x0807060504030201ull);
  // An ES limit violation raises #GP(0) before anything is written.
  m.state().seg[kEs].limit = 0x500003;
  m.core().mode_changed();
  m.gpr(kRsi) = 0x500000;
  m.gpr(kRdi) = 0x500000;
  m.gpr(kRcx) = 2;
  const RunResult r = m.run_code(0x200000, {0xf3, 0xa5});
  EXPECT_EQ(r.exception, 13);
  EXPECT_EQ(m.gpr(kRcx), 1u);  // the first dword fit, the second did not
}

// Segment overrides in 64-bit mode: FS and GS bases apply to the source; CS/DS/ES/SS do not.
TEST(StringOps, SegmentOverride64) {
  if (!decoder_passes_string_overrides())
    GTEST_SKIP() << "the decoder does not pass segment overrides of string instructions";
  TestMachine m;
  m.enter_long_mode();
  m.state().seg[kFs].base = 0x100000;
  m.core().mode_changed();
  m.write(0x100000 + 0x400000, std::vector<uint8_t>{9, 8, 7, 6});
  m.gpr(kRsi) = 0x400000;
  m.gpr(kRdi) = 0x500000;
  m.gpr(kRcx) = 4;
  ASSERT_EQ(m.run_code(0x200000, {0x64, 0xf3, 0xa4}).exception, -1);
  EXPECT_EQ(m.read<uint32_t>(0x500000), 0x06070809u);
}

// INS/OUTS: port DX, the I/O bitmap when CPL > IOPL.
TEST(StringOps, InsOuts) {
  TestMachine m;
  m.enter_long_mode();
  m.write(0x400000, std::vector<uint8_t>{0x11, 0x22, 0x33, 0x44});
  m.gpr(kRdx) = 0x80;
  m.gpr(kRsi) = 0x400000;
  m.gpr(kRcx) = 2;
  ASSERT_EQ(m.run_code(0x200000, {0x66, 0xf3, 0x6f}).exception, -1);  // rep outsw
  EXPECT_EQ(m.env().last_io_port, 0x80);
  EXPECT_EQ(m.env().last_io_value, 0x4433u);
  EXPECT_EQ(m.gpr(kRsi), 0x400004u);
  m.gpr(kRdi) = 0x400010;
  m.gpr(kRcx) = 3;
  ASSERT_EQ(m.run_code(0x200000, {0xf3, 0x6c}).exception, -1);  // rep insb: unmapped port
  EXPECT_EQ(m.read<uint32_t>(0x400010), 0x00ffffffu);
  EXPECT_EQ(m.gpr(kRdi), 0x400013u);
}

TEST(StringOps, IoPermissionBitmap) {
  TestMachine m;
  m.enter_long_mode();
  std::vector<uint8_t> bitmap(0x20 + 1, 0xff);
  bitmap[0x80 / 8] = 0xfe;  // port 0x80 allowed, 0x81-0x87 not
  setup_user_mode(m, bitmap);
  m.write(0x400000, std::vector<uint8_t>{0x5a, 0x5b});
  m.gpr(kRsi) = 0x400000;
  m.gpr(kRdx) = 0x80;
  EXPECT_EQ(run_user(m, 0x200000, {0x6e}), -1);  // outsb
  EXPECT_EQ(m.env().last_io_value, 0x5au);
  m.gpr(kRdx) = 0x81;
  m.gpr(kRsi) = 0x400000;
  EXPECT_EQ(run_user(m, 0x200000, {0x6e}), 13);
  EXPECT_EQ(m.gpr(kRsi), 0x400000u);  // nothing done
  m.gpr(kRdx) = 0x80;
  EXPECT_EQ(run_user(m, 0x200000, {0x66, 0x6f}), 13);  // outsw touches ports 0x80 and 0x81
  m.gpr(kRdi) = 0x400010;
  EXPECT_EQ(run_user(m, 0x200000, {0x6c}), -1);        // insb from port 0x80
  // IOPL 3: no bitmap check.
  m.gpr(kRdx) = 0x81;
  m.set_rflags(2 | (3u << 12));
  EXPECT_EQ(run_user(m, 0x200000, {0x6e}), -1);
  m.set_rflags(2);
  // REP with a zero count does nothing, not even the permission check.
  m.gpr(kRcx) = 0;
  EXPECT_EQ(run_user(m, 0x200000, {0xf3, 0x6e}), -1);
}

// ============================================================================================
// SSE / SSE2
// ============================================================================================

// Binary operations: reg-reg and reg-m128 (aligned) forms. Inputs: [rsi], [rsi+16]; results:
// [rsi+32], [rsi+48].
#define SSE_BINOP(name, insn)                                                                   \
  SNIPPET(name, "movdqu xmm0, [rsi]\n movdqu xmm1, [rsi+16]\n movdqu xmm2, [rsi]\n " insn       \
                " xmm0, xmm1\n " insn " xmm2, [rsi+16]\n movdqu [rsi+32], xmm0\n movdqu [rsi+48], xmm2")
#define SSE_IMMOP(name, insn, imm)                                                              \
  SNIPPET(name, "movdqu xmm0, [rsi]\n movdqu xmm1, [rsi+16]\n movdqu xmm2, [rsi]\n " insn       \
                " xmm0, xmm1, " imm "\n " insn " xmm2, [rsi+16], " imm                         \
                "\n movdqu [rsi+32], xmm0\n movdqu [rsi+48], xmm2")
#define SSE_SHIFTIMM(name, insn, imm)                                                           \
  SNIPPET(name, "movdqu xmm0, [rsi]\n " insn " xmm0, " imm "\n movdqu [rsi+32], xmm0")

SSE_BINOP(pxor, "pxor") SSE_BINOP(por, "por") SSE_BINOP(pand, "pand") SSE_BINOP(pandn, "pandn")
SSE_BINOP(xorps, "xorps") SSE_BINOP(xorpd, "xorpd") SSE_BINOP(andps, "andps") SSE_BINOP(andpd, "andpd")
SSE_BINOP(orps, "orps") SSE_BINOP(orpd, "orpd") SSE_BINOP(andnps, "andnps") SSE_BINOP(andnpd, "andnpd")
SSE_BINOP(paddb, "paddb") SSE_BINOP(paddw, "paddw") SSE_BINOP(paddd, "paddd") SSE_BINOP(paddq, "paddq")
SSE_BINOP(psubb, "psubb") SSE_BINOP(psubw, "psubw") SSE_BINOP(psubd, "psubd") SSE_BINOP(psubq, "psubq")
SSE_BINOP(paddsb, "paddsb") SSE_BINOP(paddsw, "paddsw") SSE_BINOP(paddusb, "paddusb") SSE_BINOP(paddusw, "paddusw")
SSE_BINOP(psubsb, "psubsb") SSE_BINOP(psubsw, "psubsw") SSE_BINOP(psubusb, "psubusb") SSE_BINOP(psubusw, "psubusw")
SSE_BINOP(pcmpeqb, "pcmpeqb") SSE_BINOP(pcmpeqw, "pcmpeqw") SSE_BINOP(pcmpeqd, "pcmpeqd")
SSE_BINOP(pcmpgtb, "pcmpgtb") SSE_BINOP(pcmpgtw, "pcmpgtw") SSE_BINOP(pcmpgtd, "pcmpgtd")
SSE_BINOP(pminub, "pminub") SSE_BINOP(pmaxub, "pmaxub") SSE_BINOP(pminsw, "pminsw") SSE_BINOP(pmaxsw, "pmaxsw")
SSE_BINOP(pavgb, "pavgb") SSE_BINOP(pavgw, "pavgw")
SSE_BINOP(pmullw, "pmullw") SSE_BINOP(pmulhw, "pmulhw") SSE_BINOP(pmulhuw, "pmulhuw") SSE_BINOP(pmuludq, "pmuludq")
SSE_BINOP(pmaddwd, "pmaddwd") SSE_BINOP(psadbw, "psadbw")
SSE_BINOP(packsswb, "packsswb") SSE_BINOP(packssdw, "packssdw") SSE_BINOP(packuswb, "packuswb")
SSE_BINOP(punpcklbw, "punpcklbw") SSE_BINOP(punpcklwd, "punpcklwd") SSE_BINOP(punpckldq, "punpckldq")
SSE_BINOP(punpcklqdq, "punpcklqdq") SSE_BINOP(punpckhbw, "punpckhbw") SSE_BINOP(punpckhwd, "punpckhwd")
SSE_BINOP(punpckhdq, "punpckhdq") SSE_BINOP(punpckhqdq, "punpckhqdq")
SSE_BINOP(unpcklps, "unpcklps") SSE_BINOP(unpckhps, "unpckhps") SSE_BINOP(unpcklpd, "unpcklpd") SSE_BINOP(unpckhpd, "unpckhpd")
SSE_BINOP(psllw, "psllw") SSE_BINOP(pslld, "pslld") SSE_BINOP(psllq, "psllq")
SSE_BINOP(psrlw, "psrlw") SSE_BINOP(psrld, "psrld") SSE_BINOP(psrlq, "psrlq")
SSE_BINOP(psraw, "psraw") SSE_BINOP(psrad, "psrad")
SSE_IMMOP(pshufd_1b, "pshufd", "0x1b") SSE_IMMOP(pshufd_e4, "pshufd", "0xe4") SSE_IMMOP(pshufd_a5, "pshufd", "0xa5")
SSE_IMMOP(pshuflw_1b, "pshuflw", "0x1b") SSE_IMMOP(pshufhw_d2, "pshufhw", "0xd2")
SSE_IMMOP(shufps_1b, "shufps", "0x1b") SSE_IMMOP(shufps_72, "shufps", "0x72")
SSE_IMMOP(shufpd_1, "shufpd", "1") SSE_IMMOP(shufpd_2, "shufpd", "2")
SSE_SHIFTIMM(psllw_i, "psllw", "3") SSE_SHIFTIMM(psllw_i16, "psllw", "16") SSE_SHIFTIMM(pslld_i, "pslld", "31")
SSE_SHIFTIMM(psllq_i, "psllq", "33") SSE_SHIFTIMM(psrlw_i, "psrlw", "15") SSE_SHIFTIMM(psrld_i, "psrld", "7")
SSE_SHIFTIMM(psrlq_i, "psrlq", "64") SSE_SHIFTIMM(psraw_i, "psraw", "9") SSE_SHIFTIMM(psraw_i99, "psraw", "99")
SSE_SHIFTIMM(psrad_i, "psrad", "31") SSE_SHIFTIMM(psrad_i40, "psrad", "40")
SSE_SHIFTIMM(pslldq_i, "pslldq", "5") SSE_SHIFTIMM(pslldq_i16, "pslldq", "16") SSE_SHIFTIMM(psrldq_i, "psrldq", "11")
SSE_SHIFTIMM(psrldq_i0, "psrldq", "0")

// Moves of every form (results at [rsi+32] and up, GPR results in rax, rcx, rdx, r8-r11).
SNIPPET(moves128,
        "movdqu xmm0, [rsi]\n movdqu xmm1, [rsi+16]\n"
        "movaps xmm2, xmm0\n movaps [rsi+32], xmm2\n movups xmm3, [rsi+3]\n movups [rsi+49], xmm3\n"
        "movapd xmm4, [rsi+16]\n movupd [rsi+67], xmm4\n movdqa xmm5, xmm1\n movdqa [rsi+96], xmm5\n"
        "movdqu xmm6, [rsi+7]\n movdqu [rsi+113], xmm6\n movntdq [rsi+144], xmm0\n"
        "movntps [rsi+160], xmm1\n movntpd [rsi+176], xmm0\n movnti [rsi+193], eax\n"
        "movnti [rsi+197], rcx\n sfence")
SNIPPET(moves_scalar,
        "movdqu xmm0, [rsi]\n movdqu xmm1, [rsi+16]\n movdqa xmm2, xmm0\n movdqa xmm3, xmm0\n"
        "movss xmm2, xmm1\n movsd xmm3, xmm1\n movdqu [rsi+32], xmm2\n movdqu [rsi+48], xmm3\n"
        "movss xmm4, [rsi+20]\n movsd xmm5, [rsi+21]\n movdqu [rsi+64], xmm4\n movdqu [rsi+80], xmm5\n"
        "movss [rsi+97], xmm1\n movsd [rsi+103], xmm0\n"
        "movdqa xmm6, xmm0\n movlps xmm6, [rsi+17]\n movdqu [rsi+112], xmm6\n"
        "movdqa xmm7, xmm0\n movhps xmm7, [rsi+9]\n movdqu [rsi+128], xmm7\n"
        "movdqa xmm8, xmm0\n movlpd xmm8, [rsi+1]\n movdqu [rsi+144], xmm8\n"
        "movdqa xmm9, xmm0\n movhpd xmm9, [rsi+2]\n movdqu [rsi+160], xmm9\n"
        "movlps [rsi+177], xmm1\n movhps [rsi+185], xmm1\n movlpd [rsi+193], xmm0\n movhpd [rsi+201], xmm0\n"
        "movdqa xmm10, xmm0\n movhlps xmm10, xmm1\n movdqu [rsi+224], xmm10\n"
        "movdqa xmm11, xmm0\n movlhps xmm11, xmm1\n movdqu [rsi+240], xmm11\n"
        "movd xmm12, [rsi+5]\n movdqu [rsi+256], xmm12\n movq xmm13, [rsi+6]\n movdqu [rsi+272], xmm13\n"
        "movd [rsi+289], xmm1\n movq [rsi+295], xmm1\n"
        "movdqa xmm14, xmm0\n movq xmm14, xmm1\n movdqu [rsi+304], xmm14\n"
        "pmovmskb eax, xmm0\n pmovmskb r8d, xmm1\n movmskps ecx, xmm0\n movmskpd edx, xmm1\n"
        "pextrw r9d, xmm0, 5\n pextrw r10d, xmm1, 0\n"
        "movdqa xmm15, xmm0\n pinsrw xmm15, r11d, 3\n pinsrw xmm15, [rsi+9], 6\n movdqu [rsi+320], xmm15")
// MOVD/MOVQ between GPRs and XMM registers (needs the decoder's vector-register classes).
SNIPPET(movd_gpr,
        "movdqu xmm0, [rsi]\n movd eax, xmm0\n movq rcx, xmm0\n movd xmm1, edx\n movq xmm2, r8\n"
        "movdqu [rsi+32], xmm1\n movdqu [rsi+48], xmm2")

struct SseCase {
  const char* name;
  std::vector<uint8_t> (*bytes)();
};

#define C(n) {#n, n##_bytes}
const SseCase kSseCases[] = {
    C(pxor), C(por), C(pand), C(pandn), C(xorps), C(xorpd), C(andps), C(andpd), C(orps), C(orpd),
    C(andnps), C(andnpd), C(paddb), C(paddw), C(paddd), C(paddq), C(psubb), C(psubw), C(psubd),
    C(psubq), C(paddsb), C(paddsw), C(paddusb), C(paddusw), C(psubsb), C(psubsw), C(psubusb),
    C(psubusw), C(pcmpeqb), C(pcmpeqw), C(pcmpeqd), C(pcmpgtb), C(pcmpgtw), C(pcmpgtd), C(pminub),
    C(pmaxub), C(pminsw), C(pmaxsw), C(pavgb), C(pavgw), C(pmullw), C(pmulhw), C(pmulhuw),
    C(pmuludq), C(pmaddwd), C(psadbw), C(packsswb), C(packssdw), C(packuswb), C(punpcklbw),
    C(punpcklwd), C(punpckldq), C(punpcklqdq), C(punpckhbw), C(punpckhwd), C(punpckhdq),
    C(punpckhqdq), C(unpcklps), C(unpckhps), C(unpcklpd), C(unpckhpd), C(psllw), C(pslld),
    C(psllq), C(psrlw), C(psrld), C(psrlq), C(psraw), C(psrad), C(pshufd_1b), C(pshufd_e4),
    C(pshufd_a5), C(pshuflw_1b), C(pshufhw_d2), C(shufps_1b), C(shufps_72), C(shufpd_1),
    C(shufpd_2), C(psllw_i), C(psllw_i16), C(pslld_i), C(psllq_i), C(psrlw_i), C(psrld_i),
    C(psrlq_i), C(psraw_i), C(psraw_i99), C(psrad_i), C(psrad_i40), C(pslldq_i), C(pslldq_i16),
    C(psrldq_i), C(psrldq_i0), C(moves128), C(moves_scalar),
};
#undef C

// Random vectors; lanes often equal or at the signed/unsigned boundaries, and shift counts
// often small.
std::vector<uint8_t> random_vectors(std::mt19937_64& rng) {
  std::vector<uint8_t> w(0x400);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const unsigned mode = rng() % 4;
  for (unsigned i = 0; i < 16; ++i) {
    if (mode == 1 && (rng() & 1)) w[16 + i] = w[i];
    if (mode == 2) {
      static const uint8_t kEdge[] = {0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff};
      w[i] = kEdge[rng() % 7];
      w[16 + i] = kEdge[rng() % 7];
    }
  }
  if (mode == 3) {  // small shift count in the low quadword of the second operand
    const uint64_t count = rng() % 70;
    std::memcpy(&w[16], &count, 8);
  }
  return w;
}

TEST(Sse, DifferentialOperations) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(99);
  for (const SseCase& sc : kSseCases) {
    unsigned failures = 0;
    for (int it = 0; it < 200 && failures < 3; ++it) {
      HostState st = fresh_state(rng);
      const auto win = random_vectors(rng);
      const bool ok = d.check(sc.name, sc.bytes(), st, win);
      EXPECT_TRUE(ok);
      if (!ok) ++failures;
    }
  }
}

TEST(Sse, DifferentialMovdGpr) {
  if (decode64({0x66, 0x0f, 0x6e, 0xc0}).fn == &op_unimplemented)
    GTEST_SKIP() << "the decoder does not tell XMM from GPR operands (DecodedOp::vregs)";
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(5);
  for (int it = 0; it < 50; ++it) {
    HostState st = fresh_state(rng);
    EXPECT_TRUE(d.check("movd/movq gpr", movd_gpr_bytes(), st, random_vectors(rng)));
  }
}

// MXCSR round trip (and the host's MXCSR restored afterwards).
SNIPPET(mxcsr_rt, "stmxcsr [rsi+0x100]\n ldmxcsr [rsi+0x104]\n stmxcsr [rsi+0x108]\n ldmxcsr [rsi+0x100]")

TEST(Sse, DifferentialMxcsr) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(3);
  for (int it = 0; it < 50; ++it) {
    HostState st = fresh_state(rng);
    std::vector<uint8_t> win(0x200, 0);
    const uint32_t host_default = 0x1f80, v = static_cast<uint32_t>(rng() & 0xffff);
    std::memcpy(&win[0x100], &host_default, 4);  // overwritten by the first STMXCSR
    std::memcpy(&win[0x104], &v, 4);
    d.machine().state().mxcsr = 0x1f80;
    EXPECT_TRUE(d.check("stmxcsr/ldmxcsr", mxcsr_rt_bytes(), st, win));
  }
}

// x87 control: FNINIT, FNSTCW, FLDCW, FNSTSW (memory and AX), FNCLEX, FWAIT.
SNIPPET(x87_control,
        "fninit\n fnstcw [rsi+0x100]\n fldcw [rsi+0x102]\n fnstcw [rsi+0x104]\n fnstsw [rsi+0x106]\n"
        "fnstsw ax\n fnclex\n fwait\n fldcw [rsi+0x100]")

TEST(Sse, DifferentialX87Control) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(4);
  for (int it = 0; it < 50; ++it) {
    HostState st = fresh_state(rng);
    std::vector<uint8_t> win(0x200, 0);
    const uint16_t cw = static_cast<uint16_t>(rng() | 0x3f);  // exceptions stay masked
    std::memcpy(&win[0x102], &cw, 2);
    ASSERT_TRUE(d.check("x87 control", x87_control_bytes(), st, win));
  }
}

// A valid 512-byte FXSAVE image: random x87 registers (FOP/FIP/FDP zero, which the simulator
// does not track), random tags, valid MXCSR, random XMM registers.
std::vector<uint8_t> random_fx_image(std::mt19937_64& rng) {
  std::vector<uint8_t> img(512);
  for (auto& b : img) b = static_cast<uint8_t>(rng());
  const uint16_t fcw = static_cast<uint16_t>(rng() | 0x3f);  // exceptions masked
  const uint16_t fsw = static_cast<uint16_t>(rng() & 0x3800);  // TOP only
  std::memcpy(&img[0], &fcw, 2);
  std::memcpy(&img[2], &fsw, 2);
  img[5] = 0;
  std::memset(&img[6], 0, 18);
  const uint32_t mxcsr = static_cast<uint32_t>(rng() & 0xffc0) | 0x1f80, mask = 0xffff;
  std::memcpy(&img[24], &mxcsr, 4);
  std::memcpy(&img[28], &mask, 4);
  for (unsigned i = 0; i < 8; ++i) {
    uint8_t* r = &img[32 + 16 * i];
    switch (rng() % 4) {  // zero, normal, denormal/unnormal, NaN: all tag classes
      case 0: std::memset(r, 0, 10); break;
      case 1: r[7] |= 0x80; r[9] &= 0x3f; r[9] |= 0x3f; break;
      case 2: r[7] &= 0x7f; break;
      default: r[8] = 0xff; r[9] |= 0x7f; break;
    }
    std::memset(r + 10, 0, 6);
  }
  return img;
}

// FXRSTOR of a known image, FXSAVE, FNSTSW/FNSTCW; the host's own state is saved first and
// restored last (outside the compared bytes it lands in the window too, so both sides save
// their own state into a slot that is cleared before comparing).
SNIPPET(fx_roundtrip,
        "fxsave [rsi+0x1000]\n fxrstor [rsi+0x200]\n fxsave [rsi+0x400]\n fnstsw [rsi+0x600]\n"
        "fnstcw [rsi+0x602]\n stmxcsr [rsi+0x604]\n emms\n fxsave [rsi+0x800]\n"
        "fxrstor [rsi+0x200]\n fninit\n fxsave [rsi+0xa00]\n fxrstor [rsi+0x1000]")

TEST(Sse, DifferentialFxsaveFxrstor) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(11);
  const bool intel = HostRunner::cpu_info().intel;
  for (int it = 0; it < 50; ++it) {
    HostState st = fresh_state(rng);
    std::vector<uint8_t> win(0xe00, 0xcc);
    const auto img = random_fx_image(rng);
    std::memcpy(&win[0x200], img.data(), img.size());
    // Compare without the saved host/simulator state: run both, then blank that slot.
    const auto h = d.host(fx_roundtrip_bytes(), st, win);
    const auto s = d.sim(fx_roundtrip_bytes(), st, win);
    ASSERT_EQ(h.signal, 0);
    ASSERT_EQ(s.exception, -1);
    for (unsigned base : {0x400u, 0x800u, 0xa00u}) {
      // MXCSR_MASK differs between implementations (AMD reports MM); compare it only on Intel.
      for (unsigned i = 0; i < 416; ++i) {
        if (!intel && i >= 28 && i < 32) continue;
        ASSERT_EQ(h.win[base + i], s.win[base + i]) << "fxsave image at +" << std::hex << base
                                                    << " byte " << std::dec << i << " iteration " << it;
      }
      for (unsigned i = 416; i < 512; ++i) ASSERT_EQ(s.win[base + i], 0xcc) << "reserved byte " << i;
    }
    EXPECT_EQ(std::memcmp(&h.win[0x600], &s.win[0x600], 8), 0) << "fnstsw/fnstcw/stmxcsr";
  }
}

// The FXSAVE image layout of a known state (SDM Vol. 1 Table 10-2).
TEST(Sse, FxsaveLayout) {
  TestMachine m;
  m.enter_long_mode();
  CpuState& s = m.state();
  s.fpu_cw = 0x027f;
  s.fpu_sw = 0x3800 | 0x21;  // TOP = 7, PE and IE
  s.fpu_tw = 0xfff0 | 0x1;   // R0 = 01 (zero), R1 = 00 (valid), R2-R7 = 11 (empty)
  s.mxcsr = 0x9fc0;
  for (unsigned i = 0; i < 8; ++i)
    for (unsigned b = 0; b < 16; ++b) s.x87[i][b] = b < 10 ? static_cast<uint8_t>(0x10 * i + b) : 0;
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned b = 0; b < 16; ++b) s.xmm[i][b] = static_cast<uint8_t>(i * 16 + b);
  std::vector<uint8_t> area(512, 0xee);
  m.write(0x400000, area);
  m.gpr(kRax) = 0x400000;
  ASSERT_EQ(m.run_code(0x200000, {0x48, 0x0f, 0xae, 0x00}).exception, -1);  // fxsave64 [rax]
  m.read(0x400000, area.data(), area.size());
  auto u16 = [&](unsigned o) { return static_cast<unsigned>(area[o] | area[o + 1] << 8); };
  auto u32 = [&](unsigned o) { uint32_t v; std::memcpy(&v, &area[o], 4); return v; };
  EXPECT_EQ(u16(0), 0x027fu);
  EXPECT_EQ(u16(2), 0x3821u);
  EXPECT_EQ(area[4], 0x03);  // abridged: R0 and R1 not empty
  EXPECT_EQ(area[5], 0);
  for (unsigned o = 6; o < 24; ++o) EXPECT_EQ(area[o], 0) << "FOP/FIP/FDP byte " << o;
  EXPECT_EQ(u32(24), 0x9fc0u);
  EXPECT_EQ(u32(28), 0xffffu);
  for (unsigned i = 0; i < 8; ++i)
    for (unsigned b = 0; b < 16; ++b)
      EXPECT_EQ(area[32 + 16 * i + b], b < 10 ? 0x10 * i + b : 0) << "ST" << i << " byte " << b;
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned b = 0; b < 16; ++b) EXPECT_EQ(area[160 + 16 * i + b], i * 16 + b) << "XMM" << i;
  for (unsigned o = 416; o < 512; ++o) EXPECT_EQ(area[o], 0xee) << "reserved byte " << o;

  // Outside 64-bit mode only XMM0-7 are saved.
  TestMachine p;
  p.enter_protected_mode();
  for (unsigned i = 0; i < 16; ++i) std::memset(p.state().xmm[i], 0x40 + i, 16);
  std::vector<uint8_t> area32(512, 0xee);
  p.write(0x400000, area32);
  p.gpr(kRax) = 0x400000;
  ASSERT_EQ(p.run_code(0x200000, {0x0f, 0xae, 0x00}).exception, -1);
  p.read(0x400000, area32.data(), area32.size());
  EXPECT_EQ(area32[160 + 16 * 7], 0x47);
  EXPECT_EQ(area32[160 + 16 * 8], 0xee);
}

// FXRSTOR rebuilds the full tag word from the abridged one and the register contents.
TEST(Sse, FxrstorTagWord) {
  TestMachine m;
  m.enter_long_mode();
  std::vector<uint8_t> img(512, 0);
  img[0] = 0x7f;
  img[1] = 0x03;
  img[3] = 0x30;      // FSW: TOP = 6
  img[4] = 0x0f;      // R0-R3 non-empty
  img[24] = 0x80;     // MXCSR 0x1f80
  img[25] = 0x1f;
  // ST(i) lives in R((TOP + i) & 7): R0 = ST2, R1 = ST3, R2 = ST4, R3 = ST5.
  auto st = [&](unsigned i) { return &img[32 + 16 * i]; };
  st(2)[7] = 0x80; st(2)[8] = 0xff; st(2)[9] = 0x3f;  // R0: normal -> valid (00)
  /* st(3) all zero */                                 // R1: zero (01)
  st(4)[8] = 0xff; st(4)[9] = 0x7f;                    // R2: exponent all ones -> special (10)
  st(5)[0] = 1; st(5)[8] = 1;                          // R3: unnormal -> special (10)
  m.write(0x400000, img);
  m.gpr(kRax) = 0x400000;
  ASSERT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x08}).exception, -1);  // fxrstor [rax]
  EXPECT_EQ(m.state().fpu_tw, 0xff00 | (2 << 6) | (2 << 4) | (1 << 2) | 0);
  EXPECT_EQ(m.state().fpu_sw, 0x3000);
  EXPECT_EQ(m.state().fpu_cw, 0x037f);
}

// XSAVE/XRSTOR (standard format, x87 and SSE): differential for the legacy region and header.
SNIPPET(xsave_rt,
        "fxsave [rsi+0x1000]\n mov eax, 3\n xor edx, edx\n xrstor [rsi+0x200]\n xsave [rsi+0x600]\n"
        "mov eax, 2\n xsave [rsi+0xa00]\n fxrstor [rsi+0x1000]\n xor eax, eax")

TEST(Sse, DifferentialXsaveXrstor) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(21);
  for (int it = 0; it < 40; ++it) {
    HostState st = fresh_state(rng);
    std::vector<uint8_t> win(0x1200, 0xcc);
    auto img = random_fx_image(rng);
    std::memcpy(&win[0x200], img.data(), img.size());
    std::memset(&win[0x200 + 512], 0, 64);
    win[0x200 + 512] = static_cast<uint8_t>(rng() % 4);  // XSTATE_BV
    // Save areas: header XSTATE_BV with a stale bit 2 that XSAVE must keep.
    std::memset(&win[0x600 + 512], 0, 64);
    win[0x600 + 512] = 4;
    std::memset(&win[0xa00 + 512], 0, 64);
    win[0xa00 + 512] = 5;
    const auto h = d.host(xsave_rt_bytes(), st, win);
    const auto s = d.sim(xsave_rt_bytes(), st, win);
    ASSERT_EQ(h.signal, 0);
    ASSERT_EQ(s.exception, -1);
    for (unsigned base : {0x600u, 0xa00u})
      for (unsigned i = 0; i < 576; ++i) {
        if (i >= 28 && i < 32) continue;  // MXCSR_MASK: implementation-specific
        if (i >= 416 && i < 512) continue;
        ASSERT_EQ(h.win[base + i], s.win[base + i])
            << "xsave image at +" << std::hex << base << " byte " << std::dec << i
            << " XSTATE_BV in=" << int(win[0x200 + 512]) << " iteration " << it;
      }
  }
}

TEST(Sse, XsaveFaultsAndXcr0) {
  TestMachine m;
  m.enter_long_mode();
  m.gpr(kRax) = 0x400000;
  m.gpr(kRdx) = 0;
  // CR4.OSXSAVE clear: XSAVE and XGETBV are #UD.
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x20}).exception, 6);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x01, 0xd0}).exception, 6);
  m.state().cr4 |= cr4::kOsxsave;
  // Misaligned area: #GP(0).
  m.gpr(kRax) = 0x400010;
  RunResult r = m.run_code(0x200000, {0x0f, 0xae, 0x20});
  EXPECT_EQ(r.exception, 13);
  // XGETBV / XSETBV.
  m.gpr(kRcx) = 0;
  ASSERT_EQ(m.run_code(0x200000, {0x0f, 0x01, 0xd0}).exception, -1);
  EXPECT_EQ(m.gpr(kRax), 1u);
  EXPECT_EQ(m.gpr(kRdx), 0u);
  m.gpr(kRcx) = 1;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x01, 0xd0}).exception, 13);
  for (uint64_t bad : {0ull, 2ull, 7ull, 0x100000003ull}) {
    m.gpr(kRcx) = 0;
    m.gpr(kRax) = bad & 0xffffffff;
    m.gpr(kRdx) = bad >> 32;
    EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x01, 0xd1}).exception, 13) << bad;
  }
  m.gpr(kRcx) = 1;
  m.gpr(kRax) = 3;
  m.gpr(kRdx) = 0;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x01, 0xd1}).exception, 13);
  m.gpr(kRcx) = 0;
  ASSERT_EQ(m.run_code(0x200000, {0x0f, 0x01, 0xd1}).exception, -1);
  EXPECT_EQ(m.state().xcr0, 3u);
  // XRSTOR: XSTATE_BV naming a disabled component, or a non-zero XCOMP_BV, is #GP(0).
  std::vector<uint8_t> area(576, 0);
  area[24] = 0x80;
  area[25] = 0x1f;
  area[512] = 4;
  m.write(0x400000, area);
  m.gpr(kRax) = 3;
  m.gpr(kRdx) = 0;
  m.gpr(kRbx) = 0x400000;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x2b}).exception, 13);  // xrstor [rbx]
  area[512] = 3;
  area[520] = 1;
  m.write(0x400000, area);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x2b}).exception, 13);
  area[520] = 0;
  area[535] = 1;  // header bytes 8-23 must be zero ...
  m.write(0x400000, area);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x2b}).exception, 13);
  area[535] = 0;
  area[540] = 1;  // ... bytes 24-63 are not checked
  m.write(0x400000, area);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x2b}).exception, -1);
  area[540] = 0;
  // XSTATE_BV = 0: both components come back in their initial state; MXCSR is loaded anyway.
  area[512] = 0;
  area[520] = 0;
  area[24] = 0x00;
  area[25] = 0x3f;  // MXCSR 0x3f00
  m.write(0x400000, area);
  std::memset(m.state().xmm, 0x5a, sizeof m.state().xmm);
  m.state().fpu_cw = 0x0123;
  ASSERT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x2b}).exception, -1);
  EXPECT_EQ(m.state().fpu_cw, 0x37f);
  EXPECT_EQ(m.state().fpu_tw, 0xffff);
  EXPECT_EQ(m.state().mxcsr, 0x3f00u);
  for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(m.state().xmm[i][5], 0) << i;
  // XSETBV at CPL 3: #GP(0); XGETBV is fine.
  setup_user_mode(m);
  m.gpr(kRax) = 3;
  m.gpr(kRcx) = 0;
  EXPECT_EQ(run_user(m, 0x200000, {0x0f, 0x01, 0xd1}), 13);
  EXPECT_EQ(run_user(m, 0x200000, {0x0f, 0x01, 0xd0}), -1);
}

// Faults: #UD with CR4.OSFXSR clear or CR0.EM set, #NM with CR0.TS set, #GP(0) on a misaligned
// 128-bit operand of an aligned form; unaligned forms are fine.
TEST(Sse, FaultChecks) {
  TestMachine m;
  m.enter_long_mode();
  m.gpr(kRax) = 0x400008;
  const std::vector<uint8_t> movdqa_load = {0x66, 0x0f, 0x6f, 0x00};   // movdqa xmm0, [rax]
  const std::vector<uint8_t> movdqa_store = {0x66, 0x0f, 0x7f, 0x00};  // movdqa [rax], xmm0
  const std::vector<uint8_t> movdqu_load = {0xf3, 0x0f, 0x6f, 0x00};
  const std::vector<uint8_t> paddb_mem = {0x66, 0x0f, 0xfc, 0x00};
  const std::vector<uint8_t> pxor_reg = {0x66, 0x0f, 0xef, 0xc1};
  RunResult r = m.run_code(0x200000, movdqa_load);
  EXPECT_EQ(r.exception, 13);
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_EQ(m.run_code(0x200000, movdqa_store).exception, 13);
  EXPECT_EQ(m.run_code(0x200000, paddb_mem).exception, 13);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x29, 0x00}).exception, 13);  // movaps [rax], xmm0
  EXPECT_EQ(m.run_code(0x200000, {0x66, 0x0f, 0xe7, 0x00}).exception, 13);  // movntdq
  EXPECT_EQ(m.run_code(0x200000, movdqu_load).exception, -1);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x10, 0x00}).exception, -1);  // movups
  m.gpr(kRax) = 0x400010;
  EXPECT_EQ(m.run_code(0x200000, movdqa_load).exception, -1);
  // An unaligned 16-byte store that crosses into a non-present page writes nothing.
  punch_page_hole(m, 0x400000, 0x401000);
  m.write(0x400ff8, std::vector<uint8_t>(8, 0x77));
  m.gpr(kRax) = 0x400ff8;
  r = m.run_code(0x200000, {0xf3, 0x0f, 0x7f, 0x00});  // movdqu [rax], xmm0
  EXPECT_EQ(r.exception, 14);
  EXPECT_EQ(m.read<uint64_t>(0x400ff8), 0x7777777777777777ull);
  // Mode checks.
  m.gpr(kRax) = 0x400010;
  m.state().cr4 &= ~cr4::kOsfxsr;
  EXPECT_EQ(m.run_code(0x200000, pxor_reg).exception, 6);
  EXPECT_EQ(m.run_code(0x200000, movdqa_load).exception, 6);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x18}).exception, 6);  // stmxcsr
  m.state().cr4 |= cr4::kOsfxsr;
  m.state().cr0 |= cr0::kEm;
  EXPECT_EQ(m.run_code(0x200000, pxor_reg).exception, 6);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x00}).exception, 7);  // fxsave: #NM with EM
  EXPECT_EQ(m.run_code(0x200000, {0xdb, 0xe3}).exception, 7);        // fninit
  m.state().cr0 &= ~cr0::kEm;
  m.state().cr0 |= cr0::kTs;
  EXPECT_EQ(m.run_code(0x200000, pxor_reg).exception, 7);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x00}).exception, 7);
  EXPECT_EQ(m.run_code(0x200000, {0x9b}).exception, 7);  // fwait: MP and TS
  m.state().cr0 &= ~cr0::kMp;
  EXPECT_EQ(m.run_code(0x200000, {0x9b}).exception, -1);
  m.state().cr0 &= ~cr0::kTs;
  // MOVNTI is a plain store: no SSE checks.
  m.state().cr4 &= ~cr4::kOsfxsr;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xc3, 0x08}).exception, -1);  // movnti [rax], ecx
  m.state().cr4 |= cr4::kOsfxsr;
  // LDMXCSR with reserved bits: #GP(0); FXRSTOR of such an image too.
  m.write_value<uint32_t>(0x400010, 0x10000 | 0x1f80);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x10}).exception, 13);  // ldmxcsr [rax]
  std::vector<uint8_t> img(512, 0);
  img[24] = 0x80;
  img[25] = 0x1f;
  img[26] = 1;
  m.write(0x400010, img);
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x08}).exception, 13);  // fxrstor [rax]
  m.gpr(kRax) = 0x400018;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x00}).exception, 13);  // fxsave misaligned
  // VEX forms are not implemented (the MMX forms are: mmx_test.cc).
  EXPECT_EQ(m.run_code(0x200000, {0xc5, 0xf9, 0xef, 0xc1}).exception, 6);  // vpxor
}

// ============================================================================================
// Misc group
// ============================================================================================

SNIPPET(nops, "nop\n xchg ax, ax\n nop dword ptr [rax+rax*1+0]\n nop word ptr [rax+rax*1+0x100]\n"
              "pause\n lfence\n sfence\n mfence\n prefetchnta [rsi]\n prefetcht0 [rsi]\n"
              "prefetcht1 [rsi]\n prefetcht2 [rsi]\n prefetchw [rsi]\n clflush [rsi]\n"
              "mov rax, 0x0123456789abcdef")

TEST(Misc, DifferentialNopsAndFences) {
  Differential d;
  REQUIRE_HOST(d);
  std::mt19937_64 rng(8);
  for (int it = 0; it < 5; ++it) {
    HostState st = fresh_state(rng);
    st.rflags = 2 | (rng() & 0x8d5);
    EXPECT_TRUE(d.check("nops", nops_bytes(), st, std::vector<uint8_t>(0x100, 0x11)));
  }
}

TEST(Misc, UdInstructions) {
  TestMachine m;
  m.enter_long_mode();
  m.gpr(kRax) = 0x400000;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x0b}).exception, 6);              // ud2
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xb9, 0x00}).exception, 6);        // ud1 eax, [rax]
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xff, 0x00}).exception, 6);        // ud0 eax, [rax]
  const RunResult r = m.run_code(0x200000, {0x90, 0x0f, 0x0b});
  EXPECT_EQ(r.exception, 6);
  EXPECT_EQ(r.fault_rip, 0x200001u);
}

TEST(Misc, ClflushChecksTheAddress) {
  TestMachine m;
  m.enter_long_mode();
  m.gpr(kRax) = 0x0000800000000000ull;  // non-canonical
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x38}).exception, 13);
  punch_page_hole(m, 0x400000, 0x401000);
  m.gpr(kRax) = 0x401040;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0xae, 0x38}).exception, 14);
  m.gpr(kRax) = 0x402040;
  EXPECT_EQ(m.run_code(0x200000, {0x66, 0x0f, 0xae, 0x38}).exception, -1);  // clflushopt
  EXPECT_EQ(m.run_code(0x200000, {0x66, 0x0f, 0xae, 0x30}).exception, -1);  // clwb
  // Prefetches never fault.
  m.gpr(kRax) = 0x401040;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x18, 0x08}).exception, -1);
}

TEST(Misc, Cpuid) {
  TestMachine m;
  m.enter_long_mode();
  for (uint32_t leaf : {0u, 1u, 7u, 0xdu, 0x80000001u}) {
    m.gpr(kRax) = 0xffffffff00000000ull | leaf;
    m.gpr(kRcx) = 0xffffffff00000000ull;
    m.gpr(kRbx) = ~0ull;
    m.gpr(kRdx) = ~0ull;
    ASSERT_EQ(m.run_code(0x200000, {0x0f, 0xa2}).exception, -1);
    uint32_t want[4];
    m.core().cpuid(leaf, 0, want);
    EXPECT_EQ(m.gpr(kRax), want[0]) << leaf;
    EXPECT_EQ(m.gpr(kRbx), want[1]) << leaf;
    EXPECT_EQ(m.gpr(kRcx), want[2]) << leaf;
    EXPECT_EQ(m.gpr(kRdx), want[3]) << leaf;
  }
}

TEST(Misc, RdtscAndRdtscp) {
  TestMachine m;
  m.enter_long_mode();
  m.gpr(kRax) = m.gpr(kRdx) = m.gpr(kRcx) = ~0ull;
  m.state().tsc_aux = 0x1234;
  ASSERT_EQ(m.run_code(0x200000, {0x0f, 0x31}).exception, -1);
  const uint64_t t1 = (m.gpr(kRdx) << 32) | m.gpr(kRax);
  EXPECT_EQ(m.gpr(kRax) >> 32, 0u);
  EXPECT_EQ(m.gpr(kRdx) >> 32, 0u);
  EXPECT_LE(t1, m.core().tsc());
  ASSERT_EQ(m.run_code(0x200000, {0x0f, 0x01, 0xf9}).exception, -1);
  const uint64_t t2 = (m.gpr(kRdx) << 32) | m.gpr(kRax);
  EXPECT_GE(t2, t1);
  EXPECT_EQ(m.gpr(kRcx), 0x1234u);
  // CR4.TSD: fine at CPL 0, #GP(0) above.
  m.state().cr4 |= cr4::kTsd;
  EXPECT_EQ(m.run_code(0x200000, {0x0f, 0x31}).exception, -1);
  setup_user_mode(m);
  EXPECT_EQ(run_user(m, 0x200000, {0x0f, 0x31}), 13);
  EXPECT_EQ(run_user(m, 0x200000, {0x0f, 0x01, 0xf9}), 13);
  m.state().cr4 &= ~cr4::kTsd;
  EXPECT_EQ(run_user(m, 0x200000, {0x0f, 0x31}), -1);
  EXPECT_EQ(run_user(m, 0x200000, {0x0f, 0x01, 0xf9}), -1);
}

// RDRAND/RDSEED: CF = 1, other arithmetic flags clear, values differ between executions and
// repeat exactly in a second machine.
TEST(Misc, RdrandIsDeterministic) {
  auto run = [] {
    TestMachine m;
    m.enter_long_mode();
    // rdrand rax; rdrand ecx; rdseed dx; rdrand rbx (loop twice)
    const std::vector<uint8_t> code = {0x48, 0x0f, 0xc7, 0xf0, 0x0f, 0xc7, 0xf1, 0x66, 0x0f,
                                       0xc7, 0xfa, 0x48, 0x0f, 0xc7, 0xf3};
    m.set_rflags(2 | rflags::kZf | rflags::kOf);
    m.gpr(kRcx) = m.gpr(kRdx) = ~0ull;
    EXPECT_EQ(m.run_code(0x200000, code).exception, -1);
    EXPECT_EQ(m.rflags() & 0x8d5, rflags::kCf);
    EXPECT_EQ(m.gpr(kRcx) >> 32, 0u);
    EXPECT_EQ(m.gpr(kRdx) >> 16, 0xffffffffffffull);
    return std::vector<uint64_t>{m.gpr(kRax), m.gpr(kRcx), m.gpr(kRdx), m.gpr(kRbx)};
  };
  const auto a = run(), b = run();
  EXPECT_EQ(a, b);
  EXPECT_NE(a[0], a[3]);
  EXPECT_NE(a[0] & 0xffffffff, a[1]);
}

}  // namespace
}  // namespace vmxsim::test
