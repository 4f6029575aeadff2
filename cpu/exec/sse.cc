// Handler group: sse — SSE/SSE2 data movement and integer/logic operations, MXCSR, the
// FXSAVE/XSAVE state images (x87 + SSE components) and the minimal x87 control instructions
// that runtime start-up code executes (SDM Vol. 1 §10-§13, Vol. 2).
//
// Exceptions (SDM Vol. 3 §13.1, Vol. 2 §2.5 exception classes): every SSE instruction raises
// #UD when CR0.EM = 1 or CR4.OSFXSR = 0, then #NM when CR0.TS = 1. Legacy-SSE 128-bit memory
// operands must be 16-byte aligned (#GP(0)) except for the explicitly unaligned moves
// (MOVUPS/MOVUPD/MOVDQU) and the 32/64-bit element forms. VEX/EVEX forms have their own Zydis
// mnemonics (VPXOR, ...) that nobody registers, so they raise #UD.
//
// MMX forms (the same mnemonics with an MM register operand, DecodedOp::regclass kMmx) are the
// MMX group's: the selectors below hand them to select_mmx() (cpu/exec/mmx.cc).
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"
#include "cpu/decode/isa_table.h"
#include "cpu/exec/simd_lanes.h"

namespace vmxsim::cpu {

namespace {

constexpr uint32_t kMxcsrMask = 0x0000ffff;  // MXCSR_MASK: bits 0-15 (DAZ supported)
constexpr uint64_t kXcr0Supported = 0x3;     // x87 | SSE

// --- operand register classes ----------------------------------------------------------------
inline bool xmm_reg(const DecodedOp& op, unsigned i) {
  return op.kind[i] == OpKind::kReg && op.regclass[i] == RegClass::kXmm && op.reg[i] < 16;
}
inline bool gpr_reg(const DecodedOp& op, unsigned i) {
  return op.kind[i] == OpKind::kReg && op.regclass[i] == RegClass::kGpr;
}
inline bool mmx_form(const DecodedOp& op) {
  return op.regclass[0] == RegClass::kMmx || op.regclass[1] == RegClass::kMmx;
}

// --- exception checks ------------------------------------------------------------------------
[[noreturn]] void sse_fault(Core& c) {
  if ((c.s.cr0 & cr0::kEm) || !(c.s.cr4 & cr4::kOsfxsr)) c.raise_ud();
  c.raise(kNm);
}
inline void check_sse(Core& c) {
  if (VMXSIM_UNLIKELY((c.s.cr0 & (cr0::kEm | cr0::kTs)) || !(c.s.cr4 & cr4::kOsfxsr))) sse_fault(c);
}
// x87 instructions: #NM when CR0.EM or CR0.TS (SDM Vol. 3 Table 2-2).
inline void check_x87(Core& c) {
  if (VMXSIM_UNLIKELY(c.s.cr0 & (cr0::kEm | cr0::kTs))) c.raise(kNm);
}
inline void check_xsave(Core& c) {
  if (!(c.s.cr4 & cr4::kOsxsave)) c.raise_ud();
  if (c.s.cr0 & cr0::kTs) c.raise(kNm);
}

// --- memory ----------------------------------------------------------------------------------
inline uint64_t mem_lin(Core& c, const DecodedOp& op, unsigned size, bool write, unsigned align) {
  const uint64_t lin = c.linear(op, size, write);
  if (align && (lin & (align - 1))) c.raise_gp0();
  return lin;
}

void load16(Core& c, uint64_t lin, uint8_t* dst) {
  if ((lin & 0xfff) <= 0xff0) {
    const uint64_t lo = c.read<8>(lin), hi = c.read<8>(lin + 8);
    std::memcpy(dst, &lo, 8);
    std::memcpy(dst + 8, &hi, 8);
  } else {
    c.read_bytes(lin, dst, 16);
  }
}

void store16(Core& c, uint64_t lin, const uint8_t* src) {
  if ((lin & 0xfff) <= 0xff0) {
    uint64_t lo, hi;
    std::memcpy(&lo, src, 8);
    std::memcpy(&hi, src + 8, 8);
    c.write<8>(lin, lo);
    c.write<8>(lin + 8, hi);
  } else {
    c.write_bytes(lin, src, 16);  // probes both pages before writing
  }
}

inline uint8_t* xr(Core& c, unsigned r) { return c.s.xmm[r & 15]; }
inline uint64_t lo64(const uint8_t* x) { uint64_t v; std::memcpy(&v, x, 8); return v; }
inline uint64_t hi64(const uint8_t* x) { uint64_t v; std::memcpy(&v, x + 8, 8); return v; }
inline void set_lo64(uint8_t* x, uint64_t v) { std::memcpy(x, &v, 8); }
inline void set_hi64(uint8_t* x, uint64_t v) { std::memcpy(x + 8, &v, 8); }
inline void set_xmm(uint8_t* x, uint64_t lo, uint64_t hi) { set_lo64(x, lo); set_hi64(x, hi); }

// Source operand 1 as 16 bytes: an XMM register or an m128 (16-byte aligned when Align).
template <bool Mem, bool Align>
inline void src128(Core& c, const DecodedOp& op, uint8_t* dst) {
  if constexpr (Mem)
    load16(c, mem_lin(c, op, 16, false, Align ? 16 : 0), dst);
  else
    std::memcpy(dst, xr(c, op.reg[1]), 16);
}

// --- lane helpers (shared with the MMX group) -------------------------------------------------
using namespace simd;

struct OpPshufd {
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t imm) {
    const V<uint32_t> s = V<uint32_t>::load(sp);
    V<uint32_t> r;
    for (unsigned i = 0; i < 4; ++i) r.e[i] = s.e[(imm >> (2 * i)) & 3];
    r.store(dp);
  }
};
struct OpShufps {
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t imm) {
    const V<uint32_t> d = V<uint32_t>::load(dp), s = V<uint32_t>::load(sp);
    V<uint32_t> r;
    r.e[0] = d.e[imm & 3];
    r.e[1] = d.e[(imm >> 2) & 3];
    r.e[2] = s.e[(imm >> 4) & 3];
    r.e[3] = s.e[(imm >> 6) & 3];
    r.store(dp);
  }
};
struct OpShufpd {
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t imm) {
    const uint64_t d[2] = {lo64(dp), hi64(dp)}, s[2] = {lo64(sp), hi64(sp)};
    set_xmm(dp, d[imm & 1], s[(imm >> 1) & 1]);
  }
};

template <bool Left>
struct ByteShift {  // PSLLDQ / PSRLDQ
  static void apply_count(uint8_t* dp, uint64_t count) {
    uint8_t r[16] = {};
    const unsigned n = count > 16 ? 16 : static_cast<unsigned>(count);
    for (unsigned i = 0; i < 16; ++i) {
      if (Left && i >= n) r[i] = dp[i - n];
      if (!Left && i + n < 16) r[i] = dp[i + n];
    }
    std::memcpy(dp, r, 16);
  }
};

// --- generic handlers ------------------------------------------------------------------------
// op0 = op0 OP op1 (XMM, XMM/m128 aligned), with op.imm as imm8 where the instruction has one.
template <class F, bool Mem>
void xmm_op_V_W(Core& c, const DecodedOp& op) {
  check_sse(c);
  alignas(16) uint8_t s[16];
  src128<Mem, true>(c, op, s);
  F::apply(xr(c, op.reg[0]), s, static_cast<uint8_t>(op.imm));
}

template <class F>
void xmm_shift_U_Ib(Core& c, const DecodedOp& op) {
  check_sse(c);
  F::apply_count(xr(c, op.reg[0]), op.imm & 0xff);
}

template <class F>
ExecFn select_xmm_op(const DecodedOp& op) {
  if (mmx_form(op)) return select_mmx(op);
  if (op.nops < 2 || !xmm_reg(op, 0)) return nullptr;
  if (op.nops == 3 && !is_imm(op, 2)) return nullptr;
  if (is_mem(op, 1)) return &xmm_op_V_W<F, true>;
  if (xmm_reg(op, 1)) return &xmm_op_V_W<F, false>;
  return nullptr;
}

template <class F>
ExecFn select_xmm_shift(const DecodedOp& op) {
  if (mmx_form(op)) return select_mmx(op);
  if (op.nops == 2 && xmm_reg(op, 0) && is_imm(op, 1)) return &xmm_shift_U_Ib<F>;
  return select_xmm_op<F>(op);
}

template <class F>
ExecFn select_xmm_shift_imm_only(const DecodedOp& op) {
  if (op.nops == 2 && xmm_reg(op, 0) && is_imm(op, 1)) return &xmm_shift_U_Ib<F>;
  return nullptr;
}

// --- 128-bit moves ---------------------------------------------------------------------------
// MOVAPS/MOVAPD/MOVDQA (Align) and MOVUPS/MOVUPD/MOVDQU: load, store and register forms.
template <bool Align>
void mov_V_W_reg(Core& c, const DecodedOp& op) {
  check_sse(c);
  std::memmove(xr(c, op.reg[0]), xr(c, op.reg[1]), 16);
}
template <bool Align>
void mov_V_M(Core& c, const DecodedOp& op) {
  check_sse(c);
  alignas(16) uint8_t v[16];
  load16(c, mem_lin(c, op, 16, false, Align ? 16 : 0), v);
  std::memcpy(xr(c, op.reg[0]), v, 16);
}
template <bool Align>
void mov_M_V(Core& c, const DecodedOp& op) {
  check_sse(c);
  store16(c, mem_lin(c, op, 16, true, Align ? 16 : 0), xr(c, op.reg[1]));
}

template <bool Align>
ExecFn select_mov128(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (xmm_reg(op, 0) && xmm_reg(op, 1)) return &mov_V_W_reg<Align>;
  if (xmm_reg(op, 0) && is_mem(op, 1)) return &mov_V_M<Align>;
  if (is_mem(op, 0) && xmm_reg(op, 1)) return &mov_M_V<Align>;
  return nullptr;
}

// MOVNTDQ/MOVNTPS/MOVNTPD m128, xmm (aligned; the non-temporal hint has no effect here).
ExecFn select_movnt128(const DecodedOp& op) {
  if (op.nops == 2 && is_mem(op, 0) && xmm_reg(op, 1)) return &mov_M_V<true>;
  return nullptr;
}

// MOVNTI m32/m64, r32/r64: a plain store, no SSE state involved (no CR0/CR4 checks).
template <unsigned S>
void movnti_My_Gy(Core& c, const DecodedOp& op) {
  c.write<S>(c.linear(op, S, true), c.reg<S>(op.reg[1]));
}
ExecFn select_movnti(const DecodedOp& op) {
  if (op.nops != 2 || !is_mem(op, 0) || !gpr_reg(op, 1)) return nullptr;
  if (op.opsize == 4) return &movnti_My_Gy<4>;
  if (op.opsize == 8) return &movnti_My_Gy<8>;
  return nullptr;
}

// --- scalar and half moves -------------------------------------------------------------------
// MOVSS/MOVSD: register form merges the low element; the load zeroes the rest.
template <unsigned S>
void movs_V_U(Core& c, const DecodedOp& op) {
  check_sse(c);
  std::memcpy(xr(c, op.reg[0]), xr(c, op.reg[1]), S);
}
template <unsigned S>
void movs_V_M(Core& c, const DecodedOp& op) {
  check_sse(c);
  const uint64_t v = c.read<S>(mem_lin(c, op, S, false, 0));
  set_xmm(xr(c, op.reg[0]), v, 0);
}
template <unsigned S>
void movs_M_V(Core& c, const DecodedOp& op) {
  check_sse(c);
  uint64_t v = 0;
  std::memcpy(&v, xr(c, op.reg[1]), S);
  c.write<S>(mem_lin(c, op, S, true, 0), v);
}
template <unsigned S>
ExecFn select_movs_scalar(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (xmm_reg(op, 0) && xmm_reg(op, 1)) return &movs_V_U<S>;
  if (xmm_reg(op, 0) && is_mem(op, 1)) return &movs_V_M<S>;
  if (is_mem(op, 0) && xmm_reg(op, 1)) return &movs_M_V<S>;
  return nullptr;
}

// MOVLPS/MOVLPD (High=false) and MOVHPS/MOVHPD (High=true): 64-bit half load or store.
template <bool High>
void movhalf_V_M(Core& c, const DecodedOp& op) {
  check_sse(c);
  const uint64_t v = c.read<8>(mem_lin(c, op, 8, false, 0));
  if (High)
    set_hi64(xr(c, op.reg[0]), v);
  else
    set_lo64(xr(c, op.reg[0]), v);
}
template <bool High>
void movhalf_M_V(Core& c, const DecodedOp& op) {
  check_sse(c);
  const uint8_t* x = xr(c, op.reg[1]);
  c.write<8>(mem_lin(c, op, 8, true, 0), High ? hi64(x) : lo64(x));
}
template <bool High>
ExecFn select_movhalf(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (xmm_reg(op, 0) && is_mem(op, 1)) return &movhalf_V_M<High>;
  if (is_mem(op, 0) && xmm_reg(op, 1)) return &movhalf_M_V<High>;
  return nullptr;
}
// MOVHLPS: low := source high; MOVLHPS: high := source low.
void movhlps_V_U(Core& c, const DecodedOp& op) {
  check_sse(c);
  set_lo64(xr(c, op.reg[0]), hi64(xr(c, op.reg[1])));
}
void movlhps_V_U(Core& c, const DecodedOp& op) {
  check_sse(c);
  set_hi64(xr(c, op.reg[0]), lo64(xr(c, op.reg[1])));
}
template <ExecFn F>
ExecFn select_xmm_xmm(const DecodedOp& op) {
  return (op.nops == 2 && xmm_reg(op, 0) && xmm_reg(op, 1)) ? F : nullptr;
}

// --- MOVD / MOVQ -----------------------------------------------------------------------------
template <unsigned S, bool Mem>
void movdq_V_E(Core& c, const DecodedOp& op) {  // xmm := zero-extended r/m32 or r/m64
  check_sse(c);
  const uint64_t v = Mem ? c.read<S>(mem_lin(c, op, S, false, 0)) : c.reg<S>(op.reg[1]);
  set_xmm(xr(c, op.reg[0]), v, 0);
}
template <unsigned S, bool Mem>
void movdq_E_V(Core& c, const DecodedOp& op) {  // r/m32 or r/m64 := low element of xmm
  check_sse(c);
  const uint64_t v = lo64(xr(c, op.reg[1]));
  if (Mem)
    c.write<S>(mem_lin(c, op, S, true, 0), v);
  else
    c.set_reg<S>(op.reg[0], v);  // a 32-bit GPR write zero-extends
}
void movq_V_U(Core& c, const DecodedOp& op) {  // MOVQ xmm, xmm: low quadword, upper zeroed
  check_sse(c);
  set_xmm(xr(c, op.reg[0]), lo64(xr(c, op.reg[1])), 0);
}

ExecFn select_movd(const DecodedOp& op) {
  if (mmx_form(op)) return select_mmx(op);
  if (op.nops != 2 || op.opsize != 4) return nullptr;
  if (xmm_reg(op, 0) && is_mem(op, 1)) return &movdq_V_E<4, true>;
  if (is_mem(op, 0) && xmm_reg(op, 1)) return &movdq_E_V<4, true>;
  if (xmm_reg(op, 0) && gpr_reg(op, 1)) return &movdq_V_E<4, false>;
  if (gpr_reg(op, 0) && xmm_reg(op, 1)) return &movdq_E_V<4, false>;
  return nullptr;
}

ExecFn select_movq(const DecodedOp& op) {
  if (mmx_form(op)) return select_mmx(op);
  if (op.nops != 2) return nullptr;
  // Loads and stores: 66 REX.W 0F 6E/7E, F3 0F 7E, 66 0F D6.
  if (xmm_reg(op, 0) && is_mem(op, 1)) return &movdq_V_E<8, true>;
  if (is_mem(op, 0) && xmm_reg(op, 1)) return &movdq_E_V<8, true>;
  if (op.opsize == 8) {  // REX.W 6E/7E register forms: GPR <-> XMM
    if (xmm_reg(op, 0) && gpr_reg(op, 1)) return &movdq_V_E<8, false>;
    if (gpr_reg(op, 0) && xmm_reg(op, 1)) return &movdq_E_V<8, false>;
    return nullptr;
  }
  if (xmm_reg(op, 0) && xmm_reg(op, 1)) return &movq_V_U;  // F3 0F 7E, 66 0F D6
  return nullptr;
}

// --- PMOVMSKB, MOVMSKPS/PD, PEXTRW, PINSRW -----------------------------------------------------
void pmovmskb_Gd_U(Core& c, const DecodedOp& op) {
  check_sse(c);
  const uint8_t* x = xr(c, op.reg[1]);
  uint32_t m = 0;
  for (unsigned i = 0; i < 16; ++i) m |= static_cast<uint32_t>(x[i] >> 7) << i;
  c.set_reg<4>(op.reg[0], m);
}
ExecFn select_pmovmskb(const DecodedOp& op) {
  if (mmx_form(op)) return select_mmx(op);
  return (op.nops == 2 && gpr_reg(op, 0) && xmm_reg(op, 1)) ? &pmovmskb_Gd_U : nullptr;
}

template <typename T>
void movmsk_Gd_U(Core& c, const DecodedOp& op) {
  check_sse(c);
  const V<T> x = V<T>::load(xr(c, op.reg[1]));
  uint32_t m = 0;
  for (unsigned i = 0; i < V<T>::N; ++i) m |= static_cast<uint32_t>(x.e[i] >> (sizeof(T) * 8 - 1)) << i;
  c.set_reg<4>(op.reg[0], m);
}
template <typename T>
ExecFn select_movmsk(const DecodedOp& op) {
  return (op.nops == 2 && gpr_reg(op, 0) && xmm_reg(op, 1)) ? &movmsk_Gd_U<T> : nullptr;
}

void pextrw_Gd_U_Ib(Core& c, const DecodedOp& op) {
  check_sse(c);
  const V<uint16_t> x = V<uint16_t>::load(xr(c, op.reg[1]));
  c.set_reg<4>(op.reg[0], x.e[op.imm & 7]);
}
template <bool Mem>
void pinsrw_V_Ew_Ib(Core& c, const DecodedOp& op) {
  check_sse(c);
  const uint64_t v = Mem ? c.read<2>(mem_lin(c, op, 2, false, 0)) : c.reg<2>(op.reg[1]);
  V<uint16_t> x = V<uint16_t>::load(xr(c, op.reg[0]));
  x.e[op.imm & 7] = static_cast<uint16_t>(v);
  x.store(xr(c, op.reg[0]));
}
ExecFn select_pextrw(const DecodedOp& op) {
  if (mmx_form(op)) return select_mmx(op);
  return (op.nops == 3 && gpr_reg(op, 0) && xmm_reg(op, 1) && is_imm(op, 2)) ? &pextrw_Gd_U_Ib : nullptr;
}
ExecFn select_pinsrw(const DecodedOp& op) {
  if (mmx_form(op)) return select_mmx(op);
  if (op.nops != 3 || !xmm_reg(op, 0) || !is_imm(op, 2)) return nullptr;
  if (is_mem(op, 1)) return &pinsrw_V_Ew_Ib<true>;
  if (gpr_reg(op, 1)) return &pinsrw_V_Ew_Ib<false>;
  return nullptr;
}

// --- MXCSR -----------------------------------------------------------------------------------
void stmxcsr_Md(Core& c, const DecodedOp& op) {
  check_sse(c);
  c.write<4>(c.linear(op, 4, true), c.s.mxcsr);
}
void ldmxcsr_Md(Core& c, const DecodedOp& op) {
  check_sse(c);
  const uint32_t v = static_cast<uint32_t>(c.read<4>(c.linear(op, 4, false)));
  if (v & ~kMxcsrMask) c.raise_gp0();
  c.s.mxcsr = v;
}
template <ExecFn F>
ExecFn select_mem_only(const DecodedOp& op) {
  return (op.nops >= 1 && is_mem(op, 0)) ? F : nullptr;
}

// --- x87 state in the FXSAVE/XSAVE image (SDM Vol. 1 Table 10-2) -----------------------------
// The x87 control word has no bits 7 and 13-15 (they read as 0) and bit 6 reads as 1.
inline uint16_t fcw_value(uint16_t v) { return static_cast<uint16_t>((v & 0x1f3f) | 0x40); }

inline void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline uint16_t get16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t get64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

constexpr unsigned kFxX87End = 160;    // ST0-ST7 end at byte 160
constexpr unsigned kFxXmmBase = 160;   // XMM0 at byte 160
constexpr unsigned kXsaveHeader = 512; // XSAVE header (XSTATE_BV, XCOMP_BV, reserved)
constexpr unsigned kXsaveSize = 576;   // legacy region + header: x87 and SSE only

// Number of XMM registers in the image: 16 in 64-bit mode, 8 otherwise.
inline unsigned image_xmm_count(const DecodedOp& op) { return (op.attrs & attr::kCheckLimit) ? 8 : 16; }

uint8_t abridged_tag(uint16_t tw) {
  uint8_t a = 0;
  for (unsigned k = 0; k < 8; ++k)
    if (((tw >> (2 * k)) & 3) != 3) a |= static_cast<uint8_t>(1u << k);
  return a;
}

// Full tag word from the abridged one: a non-empty register is tagged from its contents
// (00 valid, 01 zero, 10 special) (SDM Vol. 1 §10.5.1.1).
uint16_t full_tag(uint8_t abridged, uint16_t fsw, const uint8_t st[8][16]) {
  const unsigned top = (fsw >> 11) & 7;
  uint16_t tw = 0;
  for (unsigned k = 0; k < 8; ++k) {
    unsigned tag = 3;
    if (abridged & (1u << k)) {
      const uint8_t* r = st[(k - top) & 7];
      const unsigned exp = get16(r + 8) & 0x7fff;
      const uint64_t mant = get64(r);
      if (exp == 0x7fff)
        tag = 2;
      else if (exp == 0)
        tag = mant == 0 ? 1 : 2;
      else
        tag = (mant >> 63) ? 0 : 2;
    }
    tw |= static_cast<uint16_t>(tag << (2 * k));
  }
  return tw;
}

// Bytes 0-23 and 32-159: FCW, FSW, abridged FTW, FOP, FIP/FCS, FDP/FDS (not tracked: 0), ST0-7.
void put_x87(const Core& c, uint8_t* img) {
  std::memset(img, 0, 24);
  put16(img + 0, c.s.fpu_cw);
  put16(img + 2, c.s.fpu_sw);
  img[4] = abridged_tag(c.s.fpu_tw);
  for (unsigned i = 0; i < 8; ++i) {
    std::memcpy(img + 32 + 16 * i, c.s.x87[i], 10);
    std::memset(img + 32 + 16 * i + 10, 0, 6);
  }
}
void get_x87(Core& c, const uint8_t* img) {
  c.s.fpu_cw = fcw_value(get16(img + 0));
  c.s.fpu_sw = get16(img + 2);
  for (unsigned i = 0; i < 8; ++i) {
    std::memcpy(c.s.x87[i], img + 32 + 16 * i, 10);
    std::memset(c.s.x87[i] + 10, 0, 6);
  }
  c.s.fpu_tw = full_tag(img[4], c.s.fpu_sw, c.s.x87);
}
void init_x87(Core& c) {
  c.s.fpu_cw = 0x37f;
  c.s.fpu_sw = 0;
  c.s.fpu_tw = 0xffff;
  std::memset(c.s.x87, 0, sizeof c.s.x87);
}
void put_mxcsr(const Core& c, uint8_t* img) {
  put32(img + 24, c.s.mxcsr);
  put32(img + 28, kMxcsrMask);
}
void put_xmm(const Core& c, uint8_t* img, unsigned n) {
  for (unsigned i = 0; i < n; ++i) std::memcpy(img + kFxXmmBase + 16 * i, c.s.xmm[i], 16);
}
void get_xmm(Core& c, const uint8_t* img, unsigned n) {
  for (unsigned i = 0; i < n; ++i) std::memcpy(c.s.xmm[i], img + kFxXmmBase + 16 * i, 16);
}

// Copies image bytes [from, to) (multiples of 8, area 16-byte aligned) to or from memory.
void write_image(Core& c, uint64_t lin, const uint8_t* img, unsigned from, unsigned to) {
  for (unsigned o = from; o < to; o += 8) c.write<8>(lin + o, get64(img + o));
}
void read_image(Core& c, uint64_t lin, uint8_t* img, unsigned from, unsigned to) {
  for (unsigned o = from; o < to; o += 8) {
    const uint64_t v = c.read<8>(lin + o);
    std::memcpy(img + o, &v, 8);
  }
}

// FXSAVE/FXSAVE64 m512: #NM if CR0.EM or CR0.TS; #GP(0) unless 16-byte aligned. The 64-bit
// forms differ only in the FIP/FDP format, which is all zero here. Bytes 416-511 (and the XMM8-15
// area outside 64-bit mode) are not written.
void fxsave_M(Core& c, const DecodedOp& op) {
  check_x87(c);
  const uint64_t lin = mem_lin(c, op, 512, true, 16);
  const unsigned nx = image_xmm_count(op);
  const unsigned end = kFxXmmBase + 16 * nx;
  c.probe_write(lin, end);
  alignas(16) uint8_t img[512];
  put_x87(c, img);
  put_mxcsr(c, img);
  put_xmm(c, img, nx);
  write_image(c, lin, img, 0, end);
}

void fxrstor_M(Core& c, const DecodedOp& op) {
  check_x87(c);
  const uint64_t lin = mem_lin(c, op, 512, false, 16);
  const unsigned nx = image_xmm_count(op);
  alignas(16) uint8_t img[512];
  read_image(c, lin, img, 0, kFxXmmBase + 16 * nx);
  const uint32_t mxcsr = get32(img + 24);
  if (mxcsr & ~kMxcsrMask) c.raise_gp0();
  get_x87(c, img);
  c.s.mxcsr = mxcsr;
  get_xmm(c, img, nx);
}

// --- XSAVE family (standard format, components 0 and 1) --------------------------------------
inline uint64_t edx_eax(const Core& c) { return (c.reg<4>(kRdx) << 32) | c.reg<4>(kRax); }

// XINUSE: a component in its initial configuration may be reported as not in use.
uint64_t xinuse(const Core& c) {
  uint64_t r = 0;
  bool x87_init = c.s.fpu_cw == 0x37f && c.s.fpu_sw == 0 && c.s.fpu_tw == 0xffff;
  for (unsigned i = 0; i < 8 && x87_init; ++i)
    for (unsigned b = 0; b < 10; ++b) x87_init = x87_init && c.s.x87[i][b] == 0;
  if (!x87_init) r |= 1;
  for (unsigned i = 0; i < 16 && !(r & 2); ++i)
    for (unsigned b = 0; b < 16; ++b)
      if (c.s.xmm[i][b]) {
        r |= 2;
        break;
      }
  return r;
}

// XSAVE, XSAVEOPT and their 64-bit forms (XSAVEOPT may save more than it must: it saves what
// XSAVE saves).
void xsave_M(Core& c, const DecodedOp& op) {
  check_xsave(c);
  const uint64_t lin = mem_lin(c, op, kXsaveSize, true, 64);
  c.probe_write(lin, kXsaveSize);
  const uint64_t rfbm = c.s.xcr0 & edx_eax(c);
  const unsigned nx = image_xmm_count(op);
  alignas(16) uint8_t img[kXsaveSize];
  std::memset(img, 0, sizeof img);
  const uint64_t old_bv = c.read<8>(lin + kXsaveHeader);
  if (rfbm & 1) {
    put_x87(c, img);
    write_image(c, lin, img, 0, 24);
    write_image(c, lin, img, 32, kFxX87End);
  }
  if (rfbm & 6) {
    put_mxcsr(c, img);
    write_image(c, lin, img, 24, 32);
  }
  if (rfbm & 2) {
    put_xmm(c, img, nx);
    write_image(c, lin, img, kFxXmmBase, kFxXmmBase + 16 * nx);
  }
  const uint64_t bv = (old_bv & ~rfbm) | (xinuse(c) & rfbm);
  c.write<8>(lin + kXsaveHeader, bv);
}

void xrstor_M(Core& c, const DecodedOp& op) {
  check_xsave(c);
  const uint64_t lin = mem_lin(c, op, kXsaveSize, false, 64);
  const uint64_t rfbm = c.s.xcr0 & edx_eax(c);
  const unsigned nx = image_xmm_count(op);
  alignas(16) uint8_t img[kXsaveSize];
  read_image(c, lin, img, kXsaveHeader, kXsaveHeader + 24);
  const uint64_t bv = get64(img + kXsaveHeader);
  // Standard form: XCOMP_BV and the following 8 header bytes must be zero, and XSTATE_BV may
  // only name enabled components (SDM Vol. 1 §13.8.1).
  if (get64(img + kXsaveHeader + 8) != 0 || get64(img + kXsaveHeader + 16) != 0) c.raise_gp0();
  if (bv & ~c.s.xcr0) c.raise_gp0();
  if ((rfbm & 1) && (bv & 1)) read_image(c, lin, img, 0, kFxX87End);
  uint32_t mxcsr = c.s.mxcsr;
  if (rfbm & 6) {
    read_image(c, lin, img, 24, 32);
    mxcsr = get32(img + 24);
    if (mxcsr & ~kMxcsrMask) c.raise_gp0();
  }
  if ((rfbm & 2) && (bv & 2)) read_image(c, lin, img, kFxXmmBase, kFxXmmBase + 16 * nx);
  // Everything is read and checked: commit.
  if (rfbm & 1) {
    if (bv & 1)
      get_x87(c, img);
    else
      init_x87(c);
  }
  if (rfbm & 6) c.s.mxcsr = mxcsr;
  if (rfbm & 2) {
    if (bv & 2)
      get_xmm(c, img, nx);
    else
      for (unsigned i = 0; i < nx; ++i) std::memset(c.s.xmm[i], 0, 16);
  }
}

// XGETBV: ECX = 0 reads XCR0 (XGETBV with ECX = 1 is not supported: #GP(0)).
void xgetbv(Core& c, const DecodedOp&) {
  if (!(c.s.cr4 & cr4::kOsxsave)) c.raise_ud();
  if (c.reg<4>(kRcx) != 0) c.raise_gp0();
  c.set_reg<4>(kRax, c.s.xcr0);
  c.set_reg<4>(kRdx, c.s.xcr0 >> 32);
}

// XSETBV: CPL 0, ECX = 0, XCR0 bit 0 set and no bits beyond the supported x87 | SSE.
void xsetbv(Core& c, const DecodedOp&) {
  if (!(c.s.cr4 & cr4::kOsxsave)) c.raise_ud();
  // XSETBV in VMX non-root operation always exits (SDM §26.1.2).
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().exit_for_instruction(vmx::kExitXsetbv)) return;
  if (c.cpl() != 0 || c.reg<4>(kRcx) != 0) c.raise_gp0();
  const uint64_t v = edx_eax(c);
  if (!(v & 1) || (v & ~kXcr0Supported)) c.raise_gp0();
  c.s.xcr0 = v;
}

template <ExecFn F>
ExecFn select_always(const DecodedOp&) {
  return F;
}

// --- x87 control -----------------------------------------------------------------------------
// Sets FSW.TOP. CpuState::x87 holds the registers in ST(i) order (as FXSAVE stores them), so
// the physical registers R0-R7 move to new ST positions.
void set_x87_top(Core& c, unsigned top) {
  const unsigned old = (c.s.fpu_sw >> 11) & 7;
  if (top != old) {
    uint8_t phys[8][16];
    for (unsigned i = 0; i < 8; ++i) std::memcpy(phys[(old + i) & 7], c.s.x87[i], 16);
    for (unsigned i = 0; i < 8; ++i) std::memcpy(c.s.x87[i], phys[(top + i) & 7], 16);
  }
  c.s.fpu_sw = static_cast<uint16_t>((c.s.fpu_sw & ~0x3800u) | (top << 11));
}

// EMMS: all tags empty and TOP = 0 (SDM Vol. 1 Table 9-2).
void emms(Core& c, const DecodedOp&) {
  if (c.s.cr0 & cr0::kEm) c.raise_ud();
  if (c.s.cr0 & cr0::kTs) c.raise(kNm);
  c.s.fpu_tw = 0xffff;
  set_x87_top(c, 0);
}
void fninit(Core& c, const DecodedOp&) {
  check_x87(c);
  c.s.fpu_cw = 0x37f;
  set_x87_top(c, 0);  // the registers keep their contents
  c.s.fpu_sw = 0;
  c.s.fpu_tw = 0xffff;
}
// FNOP: an x87 instruction that does nothing but check for #NM (CR0.EM/TS).
void fnop(Core& c, const DecodedOp&) { check_x87(c); }
void fnclex(Core& c, const DecodedOp&) {
  check_x87(c);
  c.s.fpu_sw &= 0x7f00;  // clear PE UE OE ZE DE IE, SF, ES and B
}
void fnstcw_Mw(Core& c, const DecodedOp& op) {
  check_x87(c);
  c.write<2>(c.linear(op, 2, true), c.s.fpu_cw);
}
void fldcw_Mw(Core& c, const DecodedOp& op) {
  check_x87(c);
  c.s.fpu_cw = fcw_value(static_cast<uint16_t>(c.read<2>(c.linear(op, 2, false))));
}
template <bool Mem>
void fnstsw(Core& c, const DecodedOp& op) {
  check_x87(c);
  if (Mem)
    c.write<2>(c.linear(op, 2, true), c.s.fpu_sw);
  else
    c.set_reg<2>(kRax, c.s.fpu_sw);
}
ExecFn select_fnstsw(const DecodedOp& op) {
  if (op.nops == 1 && is_mem(op, 0)) return &fnstsw<true>;
  if (op.nops == 1 && is_reg(op, 0) && op.reg[0] == kRax) return &fnstsw<false>;
  return nullptr;
}
// FWAIT: #NM only when CR0.MP and CR0.TS are both set. No x87 arithmetic is simulated, so no
// unmasked exception can be pending.
void fwait(Core& c, const DecodedOp&) {
  if ((c.s.cr0 & (cr0::kMp | cr0::kTs)) == (cr0::kMp | cr0::kTs)) c.raise(kNm);
}

}  // namespace

// MOVSD xmm forms (the string MOVSD is registered in string_ops.cc, which calls this).
ExecFn select_movsd_xmm(const DecodedOp& op) { return select_movs_scalar<8>(op); }

void register_sse(IsaTable& t) {
  constexpr TimingClass kS = TimingClass::kSse;
  const char* g = "sse";
  // Moves.
  t.add(ZYDIS_MNEMONIC_MOVAPS, &select_mov128<true>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVAPD, &select_mov128<true>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVDQA, &select_mov128<true>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVUPS, &select_mov128<false>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVUPD, &select_mov128<false>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVDQU, &select_mov128<false>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVNTDQ, &select_movnt128, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVNTPS, &select_movnt128, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVNTPD, &select_movnt128, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVNTI, &select_movnti, TimingClass::kStore, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVSS, &select_movs_scalar<4>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVLPS, &select_movhalf<false>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVLPD, &select_movhalf<false>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVHPS, &select_movhalf<true>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVHPD, &select_movhalf<true>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVHLPS, &select_xmm_xmm<&movhlps_V_U>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVLHPS, &select_xmm_xmm<&movlhps_V_U>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVD, &select_movd, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVQ, &select_movq, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMOVMSKB, &select_pmovmskb, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVMSKPS, &select_movmsk<uint32_t>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVMSKPD, &select_movmsk<uint64_t>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PEXTRW, &select_pextrw, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PINSRW, &select_pinsrw, kS, 0, g);
  // Logic.
  t.add(ZYDIS_MNEMONIC_PAND, &select_xmm_op<OpPand>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PANDN, &select_xmm_op<OpPandn>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_POR, &select_xmm_op<OpPor>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PXOR, &select_xmm_op<OpPxor>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_ANDPS, &select_xmm_op<OpPand>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_ANDPD, &select_xmm_op<OpPand>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_ANDNPS, &select_xmm_op<OpPandn>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_ANDNPD, &select_xmm_op<OpPandn>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_ORPS, &select_xmm_op<OpPor>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_ORPD, &select_xmm_op<OpPor>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XORPS, &select_xmm_op<OpPxor>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XORPD, &select_xmm_op<OpPxor>, kS, 0, g);
  // Integer arithmetic and compares.
  t.add(ZYDIS_MNEMONIC_PADDB, &select_xmm_op<OpPaddb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PADDW, &select_xmm_op<OpPaddw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PADDD, &select_xmm_op<OpPaddd>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PADDQ, &select_xmm_op<OpPaddq>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBB, &select_xmm_op<OpPsubb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBW, &select_xmm_op<OpPsubw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBD, &select_xmm_op<OpPsubd>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBQ, &select_xmm_op<OpPsubq>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PADDSB, &select_xmm_op<OpPaddsb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PADDSW, &select_xmm_op<OpPaddsw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PADDUSB, &select_xmm_op<OpPaddusb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PADDUSW, &select_xmm_op<OpPaddusw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBSB, &select_xmm_op<OpPsubsb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBSW, &select_xmm_op<OpPsubsw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBUSB, &select_xmm_op<OpPsubusb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSUBUSW, &select_xmm_op<OpPsubusw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PCMPEQB, &select_xmm_op<OpPcmpeqb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PCMPEQW, &select_xmm_op<OpPcmpeqw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PCMPEQD, &select_xmm_op<OpPcmpeqd>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PCMPGTB, &select_xmm_op<OpPcmpgtb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PCMPGTW, &select_xmm_op<OpPcmpgtw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PCMPGTD, &select_xmm_op<OpPcmpgtd>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMINUB, &select_xmm_op<OpPminub>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMAXUB, &select_xmm_op<OpPmaxub>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMINSW, &select_xmm_op<OpPminsw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMAXSW, &select_xmm_op<OpPmaxsw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PAVGB, &select_xmm_op<OpPavgb>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PAVGW, &select_xmm_op<OpPavgw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMULLW, &select_xmm_op<OpPmullw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMULHW, &select_xmm_op<OpPmulhw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMULHUW, &select_xmm_op<OpPmulhuw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMULUDQ, &select_xmm_op<OpPmuludq>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PMADDWD, &select_xmm_op<OpPmaddwd>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSADBW, &select_xmm_op<OpPsadbw>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PACKSSWB, &select_xmm_op<OpPack<int16_t, int8_t>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PACKSSDW, &select_xmm_op<OpPack<int32_t, int16_t>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PACKUSWB, &select_xmm_op<OpPack<int16_t, uint8_t>>, kS, 0, g);
  // Shuffles and unpacks.
  t.add(ZYDIS_MNEMONIC_PUNPCKLBW, &select_xmm_op<OpUnpack<uint8_t, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PUNPCKLWD, &select_xmm_op<OpUnpack<uint16_t, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PUNPCKLDQ, &select_xmm_op<OpUnpack<uint32_t, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PUNPCKLQDQ, &select_xmm_op<OpUnpack<uint64_t, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PUNPCKHBW, &select_xmm_op<OpUnpack<uint8_t, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PUNPCKHWD, &select_xmm_op<OpUnpack<uint16_t, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PUNPCKHDQ, &select_xmm_op<OpUnpack<uint32_t, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PUNPCKHQDQ, &select_xmm_op<OpUnpack<uint64_t, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_UNPCKLPS, &select_xmm_op<OpUnpack<uint32_t, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_UNPCKHPS, &select_xmm_op<OpUnpack<uint32_t, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_UNPCKLPD, &select_xmm_op<OpUnpack<uint64_t, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_UNPCKHPD, &select_xmm_op<OpUnpack<uint64_t, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSHUFD, &select_xmm_op<OpPshufd>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSHUFLW, &select_xmm_op<OpPshufw<false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSHUFHW, &select_xmm_op<OpPshufw<true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_SHUFPS, &select_xmm_op<OpShufps>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_SHUFPD, &select_xmm_op<OpShufpd>, kS, 0, g);
  // Shifts.
  t.add(ZYDIS_MNEMONIC_PSLLW, &select_xmm_shift<Shift<uint16_t, true, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSLLD, &select_xmm_shift<Shift<uint32_t, true, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSLLQ, &select_xmm_shift<Shift<uint64_t, true, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSRLW, &select_xmm_shift<Shift<uint16_t, false, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSRLD, &select_xmm_shift<Shift<uint32_t, false, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSRLQ, &select_xmm_shift<Shift<uint64_t, false, false>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSRAW, &select_xmm_shift<Shift<uint16_t, false, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSRAD, &select_xmm_shift<Shift<uint32_t, false, true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSLLDQ, &select_xmm_shift_imm_only<ByteShift<true>>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_PSRLDQ, &select_xmm_shift_imm_only<ByteShift<false>>, kS, 0, g);
  // State.
  t.add(ZYDIS_MNEMONIC_STMXCSR, &select_mem_only<&stmxcsr_Md>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_LDMXCSR, &select_mem_only<&ldmxcsr_Md>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_FXSAVE, &select_mem_only<&fxsave_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_FXSAVE64, &select_mem_only<&fxsave_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_FXRSTOR, &select_mem_only<&fxrstor_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_FXRSTOR64, &select_mem_only<&fxrstor_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XSAVE, &select_mem_only<&xsave_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XSAVE64, &select_mem_only<&xsave_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XSAVEOPT, &select_mem_only<&xsave_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XSAVEOPT64, &select_mem_only<&xsave_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XRSTOR, &select_mem_only<&xrstor_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XRSTOR64, &select_mem_only<&xrstor_M>, kS, 0, g);
  t.add(ZYDIS_MNEMONIC_XGETBV, &select_always<&xgetbv>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_XSETBV, &select_always<&xsetbv>, TimingClass::kSystem,
        attr::kPrivileged | attr::kMayExitVmx, g);
  // x87 control.
  constexpr TimingClass kF = TimingClass::kFpu;
  t.add(ZYDIS_MNEMONIC_EMMS, &select_always<&emms>, kF, 0, g);
  t.add(ZYDIS_MNEMONIC_FNINIT, &select_always<&fninit>, kF, 0, g);
  t.add(ZYDIS_MNEMONIC_FNOP, &select_always<&fnop>, kF, 0, g);
  t.add(ZYDIS_MNEMONIC_FNCLEX, &select_always<&fnclex>, kF, 0, g);
  t.add(ZYDIS_MNEMONIC_FNSTCW, &select_mem_only<&fnstcw_Mw>, kF, 0, g);
  t.add(ZYDIS_MNEMONIC_FLDCW, &select_mem_only<&fldcw_Mw>, kF, 0, g);
  t.add(ZYDIS_MNEMONIC_FNSTSW, &select_fnstsw, kF, 0, g);
  t.add(ZYDIS_MNEMONIC_FWAIT, &select_always<&fwait>, kF, 0, g);
}

}  // namespace vmxsim::cpu
