// Handler group: mmx — MMX technology and the SSE/SSE2 instructions that operate on MM registers
// (SDM Vol. 1 §9, Vol. 2): MOVD/MOVQ in all forms, MOVQ2DQ/MOVDQ2Q, MOVNTQ, MASKMOVQ, and the
// packed-integer arithmetic, compare, logic, shift, pack/unpack, multiply and shuffle operations
// at 64-bit width. The lane operations are shared with the SSE group (cpu/exec/simd_lanes.h).
//
// Most of these mnemonics are registered by the SSE group (the XMM forms share the Zydis
// names); its selectors hand every form with an MM register operand to select_mmx() below. This
// group registers the MMX-only mnemonics (PSHUFW, MOVNTQ, MASKMOVQ, MOVQ2DQ, MOVDQ2Q).
//
// Register file (SDM Vol. 1 §9.5): MMn is the low 64 bits of physical x87 register Rn. CpuState
// keeps the x87 registers in ST(i) order as FXSAVE stores them, so Rn is ST((n - TOP) & 7).
// Every MMX instruction sets TOP to 0 and the tag word to all valid (EMMS, in the SSE group,
// empties it again); writing MMn also sets bits 79:64 of Rn to all ones.
//
// Exceptions (SDM Vol. 2, "Protected Mode Exceptions" of each MMX instruction): #UD when
// CR0.EM = 1, then #NM when CR0.TS = 1; MOVQ2DQ/MOVDQ2Q also #UD when CR4.OSFXSR = 0 (they touch
// XMM state). Memory operands need no alignment. The #MF rule (an unmasked x87 exception
// pending) is not modelled: the simulator executes no x87 arithmetic, so none can be pending.
#include <cstring>

#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "cpu/exec/simd_lanes.h"

namespace vmxsim::cpu {

namespace {

using namespace simd;

// --- operand classes -------------------------------------------------------------------------
inline bool mm_reg(const DecodedOp& op, unsigned i) {
  return op.kind[i] == OpKind::kReg && op.regclass[i] == RegClass::kMmx && op.reg[i] < 8;
}
inline bool xmm_reg(const DecodedOp& op, unsigned i) {
  return op.kind[i] == OpKind::kReg && op.regclass[i] == RegClass::kXmm && op.reg[i] < 16;
}
inline bool gpr_reg(const DecodedOp& op, unsigned i) {
  return op.kind[i] == OpKind::kReg && op.regclass[i] == RegClass::kGpr;
}

// --- exception checks ------------------------------------------------------------------------
[[noreturn]] void mmx_fault(Core& c, bool sse) {
  if ((c.s.cr0 & cr0::kEm) || (sse && !(c.s.cr4 & cr4::kOsfxsr))) c.raise_ud();
  c.raise(kNm);
}
inline void check_mmx(Core& c) {
  if (VMXSIM_UNLIKELY(c.s.cr0 & (cr0::kEm | cr0::kTs))) mmx_fault(c, false);
}
// MOVQ2DQ / MOVDQ2Q: the SSE2 checks as well.
inline void check_mmx_sse(Core& c) {
  if (VMXSIM_UNLIKELY((c.s.cr0 & (cr0::kEm | cr0::kTs)) || !(c.s.cr4 & cr4::kOsfxsr)))
    mmx_fault(c, true);
}

// --- the MMX register file -------------------------------------------------------------------
inline unsigned fpu_top(const Core& c) { return (c.s.fpu_sw >> 11) & 7; }

inline uint64_t mm(const Core& c, unsigned n) { return load64(c.s.x87[(n - fpu_top(c)) & 7]); }

// The x87-to-MMX transition every MMX instruction makes once it cannot fault any more: TOP := 0
// (the physical registers move to their ST(n) = Rn slots) and all tags valid (00b).
void enter_mmx(Core& c) {
  if (const unsigned top = fpu_top(c)) {
    uint8_t st[8][16];
    std::memcpy(st, c.s.x87, sizeof st);
    for (unsigned n = 0; n < 8; ++n) std::memcpy(c.s.x87[n], st[(n - top) & 7], 16);
    c.s.fpu_sw = static_cast<uint16_t>(c.s.fpu_sw & ~0x3800u);
  }
  c.s.fpu_tw = 0;
}

// Completes an instruction that writes MMn: the transition, then Rn[63:0] := v, Rn[79:64] := 1s.
inline void finish_mm(Core& c, unsigned n, uint64_t v) {
  enter_mmx(c);
  uint8_t* r = c.s.x87[n & 7];
  std::memcpy(r, &v, 8);
  r[8] = r[9] = 0xff;
}

// --- generic handlers ------------------------------------------------------------------------
// op0 := op0 OP op1 (MM, MM/m64), with op.imm as imm8 where the instruction has one. Src is the
// memory operand's size (8, or 4 for the PUNPCKL* m32 forms), 0 for an MM register.
template <class F, unsigned Src>
void mmx_op_P_Q(Core& c, const DecodedOp& op) {
  check_mmx(c);
  uint64_t s;
  if constexpr (Src != 0)
    s = c.read<Src>(c.linear(op, Src, false));
  else
    s = mm(c, op.reg[1]);
  uint64_t d = mm(c, op.reg[0]);
  F::template apply<8>(reinterpret_cast<uint8_t*>(&d), reinterpret_cast<const uint8_t*>(&s),
                       static_cast<uint8_t>(op.imm));
  finish_mm(c, op.reg[0], d);
}

template <class F>
void mmx_shift_N_Ib(Core& c, const DecodedOp& op) {
  check_mmx(c);
  uint64_t d = mm(c, op.reg[0]);
  F::template apply_count<8>(reinterpret_cast<uint8_t*>(&d), op.imm & 0xff);
  finish_mm(c, op.reg[0], d);
}

template <class F, unsigned MemSize = 8>
ExecFn select_op(const DecodedOp& op) {
  if (op.nops < 2 || !mm_reg(op, 0)) return nullptr;
  if (op.nops == 3 && !is_imm(op, 2)) return nullptr;
  if (is_mem(op, 1)) return &mmx_op_P_Q<F, MemSize>;
  if (mm_reg(op, 1)) return &mmx_op_P_Q<F, 0>;
  return nullptr;
}

template <class F>
ExecFn select_shift(const DecodedOp& op) {
  if (op.nops == 2 && mm_reg(op, 0) && is_imm(op, 1)) return &mmx_shift_N_Ib<F>;
  return select_op<F>(op);
}

// --- MOVD / MOVQ -----------------------------------------------------------------------------
// MOVD mm, r/m32 and MOVQ mm, r/m64 / mm/m64: the value zero-extended into MMn.
template <unsigned S, bool Mem>
void movdq_P_E(Core& c, const DecodedOp& op) {
  check_mmx(c);
  const uint64_t v = Mem ? c.read<S>(c.linear(op, S, false)) : c.reg<S>(op.reg[1]);
  finish_mm(c, op.reg[0], v);
}
// MOVD r/m32, mm and MOVQ r/m64 / mm/m64, mm.
template <unsigned S, bool Mem>
void movdq_E_P(Core& c, const DecodedOp& op) {
  check_mmx(c);
  const uint64_t v = mm(c, op.reg[1]);
  if (Mem)
    c.write<S>(c.linear(op, S, true), v);
  else
    c.set_reg<S>(op.reg[0], v);  // a 32-bit GPR write zero-extends
  enter_mmx(c);
}
void movq_P_Q(Core& c, const DecodedOp& op) {  // MOVQ mm, mm (0F 6F / 0F 7F)
  check_mmx(c);
  finish_mm(c, op.reg[0], mm(c, op.reg[1]));
}

ExecFn select_movd(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (mm_reg(op, 0) && is_mem(op, 1)) return &movdq_P_E<4, true>;
  if (mm_reg(op, 0) && gpr_reg(op, 1)) return &movdq_P_E<4, false>;
  if (is_mem(op, 0) && mm_reg(op, 1)) return &movdq_E_P<4, true>;
  if (gpr_reg(op, 0) && mm_reg(op, 1)) return &movdq_E_P<4, false>;
  return nullptr;
}

// MOVQ: REX.W 0F 6E/7E (GPR or m64) and 0F 6F/7F (MM or m64); the memory forms of both
// encodings load or store the same 8 bytes.
ExecFn select_movq(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (mm_reg(op, 0) && mm_reg(op, 1)) return &movq_P_Q;
  if (mm_reg(op, 0) && is_mem(op, 1)) return &movdq_P_E<8, true>;
  if (mm_reg(op, 0) && gpr_reg(op, 1)) return &movdq_P_E<8, false>;
  if (is_mem(op, 0) && mm_reg(op, 1)) return &movdq_E_P<8, true>;
  if (gpr_reg(op, 0) && mm_reg(op, 1)) return &movdq_E_P<8, false>;
  return nullptr;
}

// MOVQ2DQ xmm, mm: XMM := zero-extended MMn. MOVDQ2Q mm, xmm: MMn := low quadword of XMM.
void movq2dq_V_N(Core& c, const DecodedOp& op) {
  check_mmx_sse(c);
  const uint64_t v = mm(c, op.reg[1]), zero = 0;
  uint8_t* x = c.s.xmm[op.reg[0] & 15];
  std::memcpy(x, &v, 8);
  std::memcpy(x + 8, &zero, 8);
  enter_mmx(c);
}
void movdq2q_P_U(Core& c, const DecodedOp& op) {
  check_mmx_sse(c);
  finish_mm(c, op.reg[0], load64(c.s.xmm[op.reg[1] & 15]));
}
ExecFn select_movq2dq(const DecodedOp& op) {
  return (op.nops == 2 && xmm_reg(op, 0) && mm_reg(op, 1)) ? &movq2dq_V_N : nullptr;
}
ExecFn select_movdq2q(const DecodedOp& op) {
  return (op.nops == 2 && mm_reg(op, 0) && xmm_reg(op, 1)) ? &movdq2q_P_U : nullptr;
}

// MOVNTQ m64, mm: a plain store (the non-temporal hint has no effect here).
void movntq_M_P(Core& c, const DecodedOp& op) {
  check_mmx(c);
  c.write<8>(c.linear(op, 8, true), mm(c, op.reg[1]));
  enter_mmx(c);
}
ExecFn select_movntq(const DecodedOp& op) {
  return (op.nops == 2 && is_mem(op, 0) && mm_reg(op, 1)) ? &movntq_M_P : nullptr;
}

// MASKMOVQ mm1, mm2: stores the bytes of mm1 whose mask byte in mm2 has bit 7 set to DS:rDI
// (segment overridable). The whole quadword is probed first so that a fault leaves memory as
// it was; with an all-zero mask nothing is accessed (SDM allows either).
void maskmovq_P_N(Core& c, const DecodedOp& op) {
  check_mmx(c);
  static constexpr uint64_t kMask[9] = {0, 0, 0xffff, 0, 0xffffffff, 0, 0, 0, ~0ull};
  const uint64_t v = mm(c, op.reg[0]), m = mm(c, op.reg[1]);
  if (m & 0x8080808080808080ull) {
    const uint64_t lin = c.linear_seg(op.seg, c.s.gpr[kRdi] & kMask[op.addrsize], 8, true);
    c.probe_write(lin, 8);
    for (unsigned i = 0; i < 8; ++i)
      if ((m >> (8 * i + 7)) & 1) c.write<1>(lin + i, v >> (8 * i));
  }
  enter_mmx(c);
}
ExecFn select_maskmovq(const DecodedOp& op) {
  return (op.nops == 2 && mm_reg(op, 0) && mm_reg(op, 1)) ? &maskmovq_P_N : nullptr;
}

// --- PMOVMSKB, PEXTRW, PINSRW --------------------------------------------------------------------
void pmovmskb_Gd_N(Core& c, const DecodedOp& op) {
  check_mmx(c);
  const uint64_t v = mm(c, op.reg[1]);
  uint32_t m = 0;
  for (unsigned i = 0; i < 8; ++i) m |= static_cast<uint32_t>((v >> (8 * i + 7)) & 1) << i;
  c.set_reg<4>(op.reg[0], m);
  enter_mmx(c);
}
void pextrw_Gd_N_Ib(Core& c, const DecodedOp& op) {
  check_mmx(c);
  c.set_reg<4>(op.reg[0], (mm(c, op.reg[1]) >> (16 * (op.imm & 3))) & 0xffff);
  enter_mmx(c);
}
template <bool Mem>
void pinsrw_P_Ew_Ib(Core& c, const DecodedOp& op) {
  check_mmx(c);
  const uint64_t w = Mem ? c.read<2>(c.linear(op, 2, false)) : c.reg<2>(op.reg[1]);
  const unsigned sh = 16 * (op.imm & 3);
  const uint64_t d = (mm(c, op.reg[0]) & ~(0xffffull << sh)) | (w << sh);
  finish_mm(c, op.reg[0], d);
}
ExecFn select_pmovmskb(const DecodedOp& op) {
  return (op.nops == 2 && gpr_reg(op, 0) && mm_reg(op, 1)) ? &pmovmskb_Gd_N : nullptr;
}
ExecFn select_pextrw(const DecodedOp& op) {
  if (op.nops == 3 && gpr_reg(op, 0) && mm_reg(op, 1) && is_imm(op, 2)) return &pextrw_Gd_N_Ib;
  return nullptr;
}
ExecFn select_pinsrw(const DecodedOp& op) {
  if (op.nops != 3 || !mm_reg(op, 0) || !is_imm(op, 2)) return nullptr;
  if (is_mem(op, 1)) return &pinsrw_P_Ew_Ib<true>;
  if (gpr_reg(op, 1)) return &pinsrw_P_Ew_Ib<false>;
  return nullptr;
}

}  // namespace

ExecFn select_mmx(const DecodedOp& op) {
  switch (static_cast<ZydisMnemonic>(op.mnemonic)) {
    case ZYDIS_MNEMONIC_MOVD: return select_movd(op);
    case ZYDIS_MNEMONIC_MOVQ: return select_movq(op);
    case ZYDIS_MNEMONIC_PMOVMSKB: return select_pmovmskb(op);
    case ZYDIS_MNEMONIC_PEXTRW: return select_pextrw(op);
    case ZYDIS_MNEMONIC_PINSRW: return select_pinsrw(op);
    // Logic.
    case ZYDIS_MNEMONIC_PAND: return select_op<OpPand>(op);
    case ZYDIS_MNEMONIC_PANDN: return select_op<OpPandn>(op);
    case ZYDIS_MNEMONIC_POR: return select_op<OpPor>(op);
    case ZYDIS_MNEMONIC_PXOR: return select_op<OpPxor>(op);
    // Integer arithmetic and compares.
    case ZYDIS_MNEMONIC_PADDB: return select_op<OpPaddb>(op);
    case ZYDIS_MNEMONIC_PADDW: return select_op<OpPaddw>(op);
    case ZYDIS_MNEMONIC_PADDD: return select_op<OpPaddd>(op);
    case ZYDIS_MNEMONIC_PADDQ: return select_op<OpPaddq>(op);
    case ZYDIS_MNEMONIC_PSUBB: return select_op<OpPsubb>(op);
    case ZYDIS_MNEMONIC_PSUBW: return select_op<OpPsubw>(op);
    case ZYDIS_MNEMONIC_PSUBD: return select_op<OpPsubd>(op);
    case ZYDIS_MNEMONIC_PSUBQ: return select_op<OpPsubq>(op);
    case ZYDIS_MNEMONIC_PADDSB: return select_op<OpPaddsb>(op);
    case ZYDIS_MNEMONIC_PADDSW: return select_op<OpPaddsw>(op);
    case ZYDIS_MNEMONIC_PADDUSB: return select_op<OpPaddusb>(op);
    case ZYDIS_MNEMONIC_PADDUSW: return select_op<OpPaddusw>(op);
    case ZYDIS_MNEMONIC_PSUBSB: return select_op<OpPsubsb>(op);
    case ZYDIS_MNEMONIC_PSUBSW: return select_op<OpPsubsw>(op);
    case ZYDIS_MNEMONIC_PSUBUSB: return select_op<OpPsubusb>(op);
    case ZYDIS_MNEMONIC_PSUBUSW: return select_op<OpPsubusw>(op);
    case ZYDIS_MNEMONIC_PCMPEQB: return select_op<OpPcmpeqb>(op);
    case ZYDIS_MNEMONIC_PCMPEQW: return select_op<OpPcmpeqw>(op);
    case ZYDIS_MNEMONIC_PCMPEQD: return select_op<OpPcmpeqd>(op);
    case ZYDIS_MNEMONIC_PCMPGTB: return select_op<OpPcmpgtb>(op);
    case ZYDIS_MNEMONIC_PCMPGTW: return select_op<OpPcmpgtw>(op);
    case ZYDIS_MNEMONIC_PCMPGTD: return select_op<OpPcmpgtd>(op);
    case ZYDIS_MNEMONIC_PMINUB: return select_op<OpPminub>(op);
    case ZYDIS_MNEMONIC_PMAXUB: return select_op<OpPmaxub>(op);
    case ZYDIS_MNEMONIC_PMINSW: return select_op<OpPminsw>(op);
    case ZYDIS_MNEMONIC_PMAXSW: return select_op<OpPmaxsw>(op);
    case ZYDIS_MNEMONIC_PAVGB: return select_op<OpPavgb>(op);
    case ZYDIS_MNEMONIC_PAVGW: return select_op<OpPavgw>(op);
    case ZYDIS_MNEMONIC_PMULLW: return select_op<OpPmullw>(op);
    case ZYDIS_MNEMONIC_PMULHW: return select_op<OpPmulhw>(op);
    case ZYDIS_MNEMONIC_PMULHUW: return select_op<OpPmulhuw>(op);
    case ZYDIS_MNEMONIC_PMULUDQ: return select_op<OpPmuludq>(op);
    case ZYDIS_MNEMONIC_PMADDWD: return select_op<OpPmaddwd>(op);
    case ZYDIS_MNEMONIC_PSADBW: return select_op<OpPsadbw>(op);
    // Packs and unpacks (the low unpacks read only m32: SDM "PUNPCKLBW mm, mm/m32").
    case ZYDIS_MNEMONIC_PACKSSWB: return select_op<OpPack<int16_t, int8_t>>(op);
    case ZYDIS_MNEMONIC_PACKSSDW: return select_op<OpPack<int32_t, int16_t>>(op);
    case ZYDIS_MNEMONIC_PACKUSWB: return select_op<OpPack<int16_t, uint8_t>>(op);
    case ZYDIS_MNEMONIC_PUNPCKLBW: return select_op<OpUnpack<uint8_t, false>, 4>(op);
    case ZYDIS_MNEMONIC_PUNPCKLWD: return select_op<OpUnpack<uint16_t, false>, 4>(op);
    case ZYDIS_MNEMONIC_PUNPCKLDQ: return select_op<OpUnpack<uint32_t, false>, 4>(op);
    case ZYDIS_MNEMONIC_PUNPCKHBW: return select_op<OpUnpack<uint8_t, true>>(op);
    case ZYDIS_MNEMONIC_PUNPCKHWD: return select_op<OpUnpack<uint16_t, true>>(op);
    case ZYDIS_MNEMONIC_PUNPCKHDQ: return select_op<OpUnpack<uint32_t, true>>(op);
    // Shifts by mm/m64 or imm8.
    case ZYDIS_MNEMONIC_PSLLW: return select_shift<Shift<uint16_t, true, false>>(op);
    case ZYDIS_MNEMONIC_PSLLD: return select_shift<Shift<uint32_t, true, false>>(op);
    case ZYDIS_MNEMONIC_PSLLQ: return select_shift<Shift<uint64_t, true, false>>(op);
    case ZYDIS_MNEMONIC_PSRLW: return select_shift<Shift<uint16_t, false, false>>(op);
    case ZYDIS_MNEMONIC_PSRLD: return select_shift<Shift<uint32_t, false, false>>(op);
    case ZYDIS_MNEMONIC_PSRLQ: return select_shift<Shift<uint64_t, false, false>>(op);
    case ZYDIS_MNEMONIC_PSRAW: return select_shift<Shift<uint16_t, false, true>>(op);
    case ZYDIS_MNEMONIC_PSRAD: return select_shift<Shift<uint32_t, false, true>>(op);
    default: return nullptr;
  }
}

void register_mmx(IsaTable& t) {
  constexpr TimingClass kS = TimingClass::kSse;
  const char* g = "mmx";
  t.add(ZYDIS_MNEMONIC_PSHUFW, &select_op<OpPshufw<false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVNTQ, &select_movntq, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MASKMOVQ, &select_maskmovq, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVQ2DQ, &select_movq2dq, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVDQ2Q, &select_movdq2q, kS, 0, g);
}

}  // namespace vmxsim::cpu
