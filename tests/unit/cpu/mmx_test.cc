// MMX group (cpu/exec/mmx.cc): differential tests of every MMX operation against the host CPU
// (inputs and results travel through the data window; each snippet ends with EMMS), a
// differential check of the x87 aliasing through FXSAVE, and simulator-only tests of the
// exception rules, the TOP/tag transition and MASKMOVQ's segment.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "cpu/decode/decoder.h"
#include "tests/unit/cpu/diff_harness.h"
#include "tests/unit/cpu/test_machine.h"

// Assembles `text` (Intel syntax) into .rodata; NAME_bytes() returns the machine code.
#define MMX_SNIPPET(name, text)                                                               \
  asm(".pushsection .rodata\n"                                                                \
      ".globl vmxsim_mmx_" #name "_begin\n.globl vmxsim_mmx_" #name "_end\n"                  \
      "vmxsim_mmx_" #name "_begin:\n.intel_syntax noprefix\n" text                            \
      "\n.att_syntax prefix\nvmxsim_mmx_" #name "_end:\n.popsection\n");                      \
  extern "C" const uint8_t vmxsim_mmx_##name##_begin[], vmxsim_mmx_##name##_end[];            \
  static std::vector<uint8_t> name##_bytes() {                                                \
    return std::vector<uint8_t>(vmxsim_mmx_##name##_begin, vmxsim_mmx_##name##_end);          \
  }

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
using Bytes = std::vector<uint8_t>;

// Register and memory forms of a two-operand op; results at [rsi+64] and [rsi+72].
#define MMX_BINOP(name, insn)                                                                 \
  MMX_SNIPPET(name, "movq mm0, [rsi]\n movq mm1, [rsi+8]\n movq mm2, [rsi+16]\n" insn        \
                    " mm0, mm1\n" insn " mm2, [rsi+8]\n movq [rsi+64], mm0\n"                  \
                    " movq [rsi+72], mm2\n emms")
#define MMX_SHIFTIMM(name, insn, imm)                                                         \
  MMX_SNIPPET(name, "movq mm3, [rsi]\n" insn " mm3, " imm "\n movq [rsi+64], mm3\n emms")

MMX_BINOP(pxor, "pxor") MMX_BINOP(por, "por") MMX_BINOP(pand, "pand") MMX_BINOP(pandn, "pandn")
MMX_BINOP(paddb, "paddb") MMX_BINOP(paddw, "paddw") MMX_BINOP(paddd, "paddd") MMX_BINOP(paddq, "paddq")
MMX_BINOP(psubb, "psubb") MMX_BINOP(psubw, "psubw") MMX_BINOP(psubd, "psubd") MMX_BINOP(psubq, "psubq")
MMX_BINOP(paddsb, "paddsb") MMX_BINOP(paddsw, "paddsw") MMX_BINOP(paddusb, "paddusb")
MMX_BINOP(paddusw, "paddusw") MMX_BINOP(psubsb, "psubsb") MMX_BINOP(psubsw, "psubsw")
MMX_BINOP(psubusb, "psubusb") MMX_BINOP(psubusw, "psubusw")
MMX_BINOP(pcmpeqb, "pcmpeqb") MMX_BINOP(pcmpeqw, "pcmpeqw") MMX_BINOP(pcmpeqd, "pcmpeqd")
MMX_BINOP(pcmpgtb, "pcmpgtb") MMX_BINOP(pcmpgtw, "pcmpgtw") MMX_BINOP(pcmpgtd, "pcmpgtd")
MMX_BINOP(pminub, "pminub") MMX_BINOP(pmaxub, "pmaxub") MMX_BINOP(pminsw, "pminsw")
MMX_BINOP(pmaxsw, "pmaxsw") MMX_BINOP(pavgb, "pavgb") MMX_BINOP(pavgw, "pavgw")
MMX_BINOP(pmullw, "pmullw") MMX_BINOP(pmulhw, "pmulhw") MMX_BINOP(pmulhuw, "pmulhuw")
MMX_BINOP(pmuludq, "pmuludq") MMX_BINOP(pmaddwd, "pmaddwd") MMX_BINOP(psadbw, "psadbw")
MMX_BINOP(packsswb, "packsswb") MMX_BINOP(packssdw, "packssdw") MMX_BINOP(packuswb, "packuswb")
MMX_BINOP(punpcklbw, "punpcklbw") MMX_BINOP(punpcklwd, "punpcklwd") MMX_BINOP(punpckldq, "punpckldq")
MMX_BINOP(punpckhbw, "punpckhbw") MMX_BINOP(punpckhwd, "punpckhwd") MMX_BINOP(punpckhdq, "punpckhdq")
MMX_BINOP(psllw, "psllw") MMX_BINOP(pslld, "pslld") MMX_BINOP(psllq, "psllq")
MMX_BINOP(psrlw, "psrlw") MMX_BINOP(psrld, "psrld") MMX_BINOP(psrlq, "psrlq")
MMX_BINOP(psraw, "psraw") MMX_BINOP(psrad, "psrad")
MMX_SHIFTIMM(psllw_i, "psllw", "3") MMX_SHIFTIMM(psllw_i16, "psllw", "16")
MMX_SHIFTIMM(pslld_i, "pslld", "31") MMX_SHIFTIMM(psllq_i, "psllq", "33")
MMX_SHIFTIMM(psrlw_i, "psrlw", "15") MMX_SHIFTIMM(psrld_i, "psrld", "7")
MMX_SHIFTIMM(psrlq_i, "psrlq", "64") MMX_SHIFTIMM(psraw_i, "psraw", "9")
MMX_SHIFTIMM(psraw_i99, "psraw", "99") MMX_SHIFTIMM(psrad_i, "psrad", "31")
MMX_SHIFTIMM(psrad_i40, "psrad", "40")

// Data movement in every form: GPR results in eax, rcx, r9d, r10d; memory results at
// [rsi+64] and up (some unaligned); MASKMOVQ stores to [rdi].
MMX_SNIPPET(moves,
            "movq mm0, [rsi]\n movq mm1, [rsi+8]\n movd eax, mm0\n movq rcx, mm1\n"
            "movd mm2, edx\n movq mm3, r8\n movq [rsi+64], mm2\n movq [rsi+72], mm3\n"
            "pmovmskb r9d, mm0\n pextrw r10d, mm1, 2\n movq mm4, mm0\n pinsrw mm4, r11d, 1\n"
            "pinsrw mm4, [rsi+3], 3\n movq [rsi+80], mm4\n pshufw mm5, mm1, 0x1b\n"
            "pshufw mm6, [rsi+5], 0xd2\n movq [rsi+88], mm5\n movq [rsi+96], mm6\n"
            "movd [rsi+105], mm1\n movq [rsi+111], mm0\n movntq [rsi+120], mm1\n"
            "movd mm7, [rsi+13]\n movq [rsi+128], mm7\n"
            "movdqu xmm0, [rsi+16]\n movq2dq xmm0, mm1\n movdqu [rsi+136], xmm0\n"
            "movdqu xmm1, [rsi+24]\n movdq2q mm6, xmm1\n movq [rsi+152], mm6\n"
            "movq mm5, mm1\n movq [rsi+160], mm5\n maskmovq mm0, mm1\n sfence\n emms")

struct MmxCase {
  const char* name;
  std::vector<uint8_t> (*bytes)();
};

#define C(n) {#n, n##_bytes}
const MmxCase kMmxCases[] = {
    C(pxor), C(por), C(pand), C(pandn), C(paddb), C(paddw), C(paddd), C(paddq), C(psubb),
    C(psubw), C(psubd), C(psubq), C(paddsb), C(paddsw), C(paddusb), C(paddusw), C(psubsb),
    C(psubsw), C(psubusb), C(psubusw), C(pcmpeqb), C(pcmpeqw), C(pcmpeqd), C(pcmpgtb),
    C(pcmpgtw), C(pcmpgtd), C(pminub), C(pmaxub), C(pminsw), C(pmaxsw), C(pavgb), C(pavgw),
    C(pmullw), C(pmulhw), C(pmulhuw), C(pmuludq), C(pmaddwd), C(psadbw), C(packsswb),
    C(packssdw), C(packuswb), C(punpcklbw), C(punpcklwd), C(punpckldq), C(punpckhbw),
    C(punpckhwd), C(punpckhdq), C(psllw), C(pslld), C(psllq), C(psrlw), C(psrld), C(psrlq),
    C(psraw), C(psrad), C(psllw_i), C(psllw_i16), C(pslld_i), C(psllq_i), C(psrlw_i),
    C(psrld_i), C(psrlq_i), C(psraw_i), C(psraw_i99), C(psrad_i), C(psrad_i40), C(moves),
};
#undef C

// Random inputs at [rsi]: lanes often equal or at the signed/unsigned boundaries, shift counts
// often small.
DiffCase random_case(std::mt19937_64& rng) {
  DiffCase c;
  c.in = base_state(rng);
  c.data.resize(kDataWinSize);
  for (auto& b : c.data) b = static_cast<uint8_t>(rng());
  uint8_t* in = &c.data[c.in.gpr[RSI] - kDataWin];
  switch (rng() % 4) {
    case 1:
      for (unsigned i = 0; i < 8; ++i)
        if (rng() & 1) in[8 + i] = in[i];
      break;
    case 2:
      for (unsigned i = 0; i < 16; ++i) {
        static const uint8_t kEdge[] = {0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff};
        in[i] = kEdge[rng() % 7];
      }
      break;
    case 3: {
      const uint64_t count = rng() % 70;
      std::memcpy(in + 8, &count, 8);
      break;
    }
    default: break;
  }
  return c;
}

#define REQUIRE_HOST(d) \
  if (!(d).available()) GTEST_SKIP() << "host runner addresses are not mappable"

TEST(Mmx, DifferentialOperations) {
  DiffRunner& d = diff_runner();
  REQUIRE_HOST(d);
  std::mt19937_64 rng(2024);
  for (const MmxCase& mc : kMmxCases) {
    unsigned failures = 0;
    for (int it = 0; it < 150 && failures < 3; ++it) {
      const bool ok = d.check(mc.name, mc.bytes(), random_case(rng));
      EXPECT_TRUE(ok);
      if (!ok) ++failures;
    }
  }
}

// The x87 view of MMX writes (SDM Vol. 1 §9.5): from a restored x87 state with TOP != 0 and a
// mixed tag word, MMX instructions read MMn from physical register Rn, then FXSAVE shows TOP = 0,
// all tags valid and bits 79:64 of each written register all ones. The host's own x87/SSE state
// is saved first and restored last; the bytes neither side defines the same way (FOP/FIP/FDP,
// MXCSR_MASK, reserved bytes 416-511, the host's own save area) are cleared before comparing.
MMX_SNIPPET(alias,
            "fxsave [rsi+0x1000]\n fxrstor [rsi+0x600]\n movq mm3, [rsi]\n paddw mm3, mm5\n"
            "movq [rsi+64], mm3\n movd r9d, mm6\n psubb mm0, mm7\n fxsave [rsi+0x400]\n"
            "fnstsw [rsi+72]\n fxrstor [rsi+0x1000]\n xor ecx, ecx\n"
            "mov [rsi+0x406], cx\n mov [rsi+0x408], rcx\n mov [rsi+0x410], rcx\n"
            "mov [rsi+0x41c], ecx\n lea rdi, [rsi+0x5a0]\n mov ecx, 12\n xor eax, eax\n rep stosq\n"
            "lea rdi, [rsi+0x1000]\n mov ecx, 64\n rep stosq")

TEST(Mmx, DifferentialAliasingThroughFxsave) {
  DiffRunner& d = diff_runner();
  REQUIRE_HOST(d);
  std::mt19937_64 rng(77);
  for (int it = 0; it < 40; ++it) {
    DiffCase c = random_case(rng);
    c.in.gpr[RDI] = c.in.gpr[RSI];
    uint8_t* img = &c.data[c.in.gpr[RSI] - kDataWin + 0x600];
    std::memset(img, 0, 512);
    const uint16_t fcw = 0x37f, fsw = static_cast<uint16_t>((1 + rng() % 7) << 11);  // TOP 1-7
    std::memcpy(img, &fcw, 2);
    std::memcpy(img + 2, &fsw, 2);
    img[4] = static_cast<uint8_t>(rng());  // abridged tags
    const uint32_t mxcsr = 0x1f80;
    std::memcpy(img + 24, &mxcsr, 4);
    for (unsigned i = 0; i < 8; ++i)
      for (unsigned b = 0; b < 10; ++b) img[32 + 16 * i + b] = static_cast<uint8_t>(rng());
    for (unsigned i = 0; i < 16 * 16; ++i) img[160 + i] = static_cast<uint8_t>(rng());
    EXPECT_TRUE(d.check("mmx/x87 aliasing", alias_bytes(), c)) << "iteration " << it;
  }
}

// --- simulator-only -------------------------------------------------------------------------
constexpr uint64_t kCode = TestMachine::kFreeBase;
constexpr uint64_t kBuf = TestMachine::kFreeBase + 0x10000;

uint64_t st_low(const TestMachine& m, unsigned i) {
  uint64_t v;
  std::memcpy(&v, const_cast<TestMachine&>(m).state().x87[i], 8);
  return v;
}

DecodedOp decode64(Bytes bytes) {
  static Decoder dec;
  DecodedOp op;
  bytes.resize(16, 0x90);
  dec.decode(bytes.data(), bytes.size(), DecodeMode::k64, false, op);
  return op;
}

// Every MMX form reaches a handler (independent of the host).
TEST(Mmx, FormsDecodeToHandlers) {
  const Bytes forms[] = {
      {0x0f, 0x6e, 0xc0},        // movd mm0, eax
      {0x0f, 0x7e, 0xc0},        // movd eax, mm0
      {0x48, 0x0f, 0x6e, 0xc0},  // movq mm0, rax
      {0x48, 0x0f, 0x7e, 0xc0},  // movq rax, mm0
      {0x0f, 0x6f, 0xc1},        // movq mm0, mm1
      {0x0f, 0x7f, 0x00},        // movq [rax], mm0
      {0x0f, 0x6f, 0x00},        // movq mm0, [rax]
      {0xf3, 0x0f, 0xd6, 0xc1},  // movq2dq xmm0, mm1
      {0xf2, 0x0f, 0xd6, 0xc1},  // movdq2q mm0, xmm1
      {0x0f, 0xe7, 0x00},        // movntq [rax], mm0
      {0x0f, 0xf7, 0xc1},        // maskmovq mm0, mm1
      {0x0f, 0x70, 0xc1, 0x1b},  // pshufw mm0, mm1, 0x1b
      {0x0f, 0xd7, 0xc1},        // pmovmskb eax, mm1
      {0x0f, 0xc5, 0xc1, 0x02},  // pextrw eax, mm1, 2
      {0x0f, 0xc4, 0xc1, 0x02},  // pinsrw mm0, ecx, 2
      {0x0f, 0xef, 0xc1},        // pxor mm0, mm1
      {0x0f, 0xd4, 0x00},        // paddq mm0, [rax]
      {0x0f, 0x71, 0xd0, 0x03},  // psrlw mm0, 3
      {0x0f, 0x62, 0x00},        // punpckldq mm0, [rax]
  };
  for (const Bytes& b : forms)
    EXPECT_NE(decode64(b).fn, &op_unimplemented) << std::hex << int(b[1]) << " " << int(b[2]);
  // No MMX form of the 128-bit-only instructions.
  EXPECT_EQ(decode64({0x0f, 0x6c, 0xc1}).fn, &op_invalid);  // punpcklqdq needs 66
}

// SDM Vol. 1 §9.5.1: an MMX instruction sets TOP to 0 and every tag to valid, MMn is physical
// register Rn (ST((n - TOP) & 7) before the transition), and a written register gets exponent
// bits 79:64 all ones.
TEST(Mmx, X87Transition) {
  TestMachine m;
  m.enter_long_mode();
  CpuState& s = m.state();
  for (unsigned i = 0; i < 8; ++i)
    for (unsigned b = 0; b < 10; ++b) s.x87[i][b] = static_cast<uint8_t>(0x10 * i + b);
  s.fpu_sw = 3 << 11;  // TOP = 3: R5 is ST2
  s.fpu_tw = 0xffff;
  m.gpr(kRax) = 0x1122334455667788ull;
  // movq rcx, mm5 ; movq mm1, rax
  ASSERT_EQ(m.run_code(kCode, {0x48, 0x0f, 0x7e, 0xe9, 0x48, 0x0f, 0x6e, 0xc8}).exception, -1);
  EXPECT_EQ(m.gpr(kRcx), 0x2726252423222120ull);  // old ST2 = R5
  EXPECT_EQ(s.fpu_sw & 0x3800, 0);
  EXPECT_EQ(s.fpu_tw, 0);
  EXPECT_EQ(st_low(m, 1), 0x1122334455667788ull);
  EXPECT_EQ(s.x87[1][8], 0xff);
  EXPECT_EQ(s.x87[1][9], 0xff);
  // The other registers kept their contents, now at ST(n) = Rn.
  EXPECT_EQ(s.x87[5][0], 0x20);  // R5 (was ST2)
  EXPECT_EQ(s.x87[3][9], 0x09);  // R3 (was ST0), exponent untouched: only read registers
  // EMMS empties the tags.
  ASSERT_EQ(m.run_code(kCode, {0x0f, 0x77}).exception, -1);
  EXPECT_EQ(s.fpu_tw, 0xffff);
  EXPECT_EQ(st_low(m, 1), 0x1122334455667788ull);
}

// A faulting MMX instruction changes neither the register nor the x87 state.
TEST(Mmx, FaultLeavesX87StateAlone) {
  TestMachine m;
  m.enter_long_mode();
  CpuState& s = m.state();
  s.fpu_sw = 5 << 11;
  s.fpu_tw = 0xfff0;
  m.gpr(kRax) = 0x0000800000000000ull;  // non-canonical: #GP(0)
  EXPECT_EQ(m.run_code(kCode, {0x0f, 0x6f, 0x00}).exception, 13);  // movq mm0, [rax]
  EXPECT_EQ(s.fpu_sw, 5 << 11);
  EXPECT_EQ(s.fpu_tw, 0xfff0);
}

// #UD when CR0.EM = 1, #NM when CR0.TS = 1; only MOVQ2DQ/MOVDQ2Q also need CR4.OSFXSR (SDM Vol. 2,
// the instructions' "Protected Mode Exceptions").
TEST(Mmx, ExceptionChecks) {
  TestMachine m;
  m.enter_long_mode();
  m.gpr(kRax) = kBuf;
  const Bytes paddb = {0x0f, 0xfc, 0xc1}, movd_load = {0x0f, 0x6e, 0x00};
  const Bytes movq2dq = {0xf3, 0x0f, 0xd6, 0xc1};
  m.state().cr0 |= cr0::kTs;
  EXPECT_EQ(m.run_code(kCode, paddb).exception, 7);
  EXPECT_EQ(m.run_code(kCode, movd_load).exception, 7);
  m.state().cr0 |= cr0::kEm;
  EXPECT_EQ(m.run_code(kCode, paddb).exception, 6);
  EXPECT_EQ(m.run_code(kCode, movq2dq).exception, 6);
  m.state().cr0 &= ~(cr0::kEm | cr0::kTs);
  m.state().cr4 &= ~cr4::kOsfxsr;
  EXPECT_EQ(m.run_code(kCode, paddb).exception, -1);
  EXPECT_EQ(m.run_code(kCode, movd_load).exception, -1);
  EXPECT_EQ(m.run_code(kCode, movq2dq).exception, 6);
  m.state().cr4 |= cr4::kOsfxsr;
  EXPECT_EQ(m.run_code(kCode, movq2dq).exception, -1);
  // No alignment rule for MMX memory operands.
  m.gpr(kRax) = kBuf + 3;
  EXPECT_EQ(m.run_code(kCode, {0x0f, 0xfc, 0x00}).exception, -1);  // paddb mm0, [rax+3]
}

// MASKMOVQ stores through DS:rDI, or the overriding segment, only the selected bytes.
TEST(Mmx, MaskmovqSegmentAndMask) {
  TestMachine m;
  m.enter_protected_mode();
  CpuState& s = m.state();
  s.seg[kFs].base = 0x1000;
  m.core().update_seg_base(kFs);
  m.write(kBuf + 0x1000, Bytes(8, 0xee));
  m.write(kBuf, Bytes(8, 0xdd));
  const uint64_t data = 0x8877665544332211ull, mask = 0x0080008000000080ull;
  std::memcpy(s.x87[0], &data, 8);
  std::memcpy(s.x87[1], &mask, 8);
  s.fpu_sw = 0;
  m.gpr(kRdi) = kBuf;
  ASSERT_EQ(m.run_code(kCode, {0x64, 0x0f, 0xf7, 0xc1}).exception, -1);  // maskmovq mm0, mm1 (fs)
  EXPECT_EQ(m.read<uint64_t>(kBuf + 0x1000), 0xee77ee55eeeeee11ull);
  EXPECT_EQ(m.read<uint64_t>(kBuf), 0xddddddddddddddddull);
}

}  // namespace
}  // namespace vmxsim::test
