// Handler group: multiply and divide — MUL, IMUL (one, two and three operands), DIV, IDIV
// (SDM Vol. 2).
//
// The SDM leaves SF, ZF, AF and PF undefined after MUL/IMUL and all six arithmetic flags after
// DIV/IDIV. Recent Intel cores (Skylake, Cascade Lake) are deterministic: MUL and IMUL set SF
// from the most significant bit of the low half of the product, PF from its low byte, and
// clear ZF and AF; DIV and IDIV leave every flag unchanged.
#include <cstdint>

#include "cpu/core.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

namespace {

using u128 = unsigned __int128;
using s128 = __int128;

void raise_ud_op(Core& c, const DecodedOp&) { c.raise_ud(); }

template <unsigned S>
inline uint64_t read_rm(Core& c, const DecodedOp& op, unsigned i, bool mem) {
  return mem ? c.read<S>(c.linear(op, S, false)) : c.reg<S>(op.reg[i]);
}

// Intel flags after a multiply: CF = OF = overflow, SF/PF from the low half, ZF = AF = 0.
template <unsigned S>
inline void mul_flags(Core& c, uint64_t low, bool overflow) {
  uint64_t f = overflow ? (rflags::kCf | rflags::kOf) : 0;
  if (sign_bit<S>(low)) f |= rflags::kSf;
  if (!__builtin_parity(static_cast<unsigned>(low & 0xff))) f |= rflags::kPf;
  c.flags.set_arith(f);
}

// Writes a double-width result: AX for bytes, rDX:rAX otherwise.
template <unsigned S>
inline void store_pair(Core& c, uint64_t lo, uint64_t hi) {
  if constexpr (S == 1) {
    c.set_reg<2>(kRax, (lo & 0xff) | ((hi & 0xff) << 8));
  } else {
    c.set_reg<S>(kRax, lo);
    c.set_reg<S>(kRdx, hi);
  }
}

template <unsigned S, bool kMem>
void mul_E(Core& c, const DecodedOp& op) {
  const uint64_t b = read_rm<S>(c, op, 0, kMem);
  const uint64_t a = c.reg<S>(kRax);
  uint64_t lo, hi;
  if constexpr (S == 8) {
    const u128 p = static_cast<u128>(a) * b;
    lo = static_cast<uint64_t>(p);
    hi = static_cast<uint64_t>(p >> 64);
  } else {
    const uint64_t p = a * b;
    lo = p & ((1ull << (8 * S)) - 1);
    hi = p >> (8 * S);
  }
  store_pair<S>(c, lo, hi);
  mul_flags<S>(c, lo, hi != 0);
}

template <unsigned S, bool kMem>
void imul_E(Core& c, const DecodedOp& op) {
  const int64_t b = static_cast<int64_t>(sign_extend<S>(read_rm<S>(c, op, 0, kMem)));
  const int64_t a = static_cast<int64_t>(sign_extend<S>(c.reg<S>(kRax)));
  uint64_t lo, hi;
  bool overflow;
  if constexpr (S == 8) {
    const s128 p = static_cast<s128>(a) * b;
    lo = static_cast<uint64_t>(p);
    hi = static_cast<uint64_t>(static_cast<u128>(p) >> 64);
    overflow = p != static_cast<s128>(static_cast<int64_t>(lo));
  } else {
    const int64_t p = a * b;  // |p| < 2^62
    lo = static_cast<uint64_t>(p) & ((1ull << (8 * S)) - 1);
    hi = static_cast<uint64_t>(p) >> (8 * S);
    overflow = p != static_cast<int64_t>(sign_extend<S>(lo));
  }
  store_pair<S>(c, lo, hi);
  mul_flags<S>(c, lo, overflow);
}

// IMUL Gv, Ev (two operands: kImm false) and IMUL Gv, Ev, Ib/Iz (three operands).
template <unsigned S, bool kMem, bool kImm>
void imul_G(Core& c, const DecodedOp& op) {
  const int64_t b = static_cast<int64_t>(sign_extend<S>(read_rm<S>(c, op, 1, kMem)));
  const int64_t a = static_cast<int64_t>(sign_extend<S>(kImm ? op.imm : c.reg<S>(op.reg[0])));
  uint64_t lo;
  bool overflow;
  if constexpr (S == 8) {
    const s128 p = static_cast<s128>(a) * b;
    lo = static_cast<uint64_t>(p);
    overflow = p != static_cast<s128>(static_cast<int64_t>(lo));
  } else {
    const int64_t p = a * b;
    lo = static_cast<uint64_t>(p) & ((1ull << (8 * S)) - 1);
    overflow = p != static_cast<int64_t>(sign_extend<S>(lo));
  }
  c.set_reg<S>(op.reg[0], lo);
  mul_flags<S>(c, lo, overflow);
}

// --- DIV, IDIV ------------------------------------------------------------------------------
// #DE on a zero divisor and when the quotient does not fit; nothing is written then.

template <unsigned S>
inline void load_dividend(const Core& c, uint64_t& lo, uint64_t& hi) {
  if constexpr (S == 1) {
    lo = c.s.gpr[kRax] & 0xff;
    hi = (c.s.gpr[kRax] >> 8) & 0xff;
  } else {
    lo = c.reg<S>(kRax);
    hi = c.reg<S>(kRdx);
  }
}

// Quotient in AL/AX/EAX/RAX, remainder in AH/DX/EDX/RDX.
template <unsigned S>
inline void store_div(Core& c, uint64_t q, uint64_t r) {
  if constexpr (S == 1) {
    c.set_reg<2>(kRax, (q & 0xff) | ((r & 0xff) << 8));
  } else {
    c.set_reg<S>(kRax, q);
    c.set_reg<S>(kRdx, r);
  }
}

template <unsigned S, bool kMem>
void div_E(Core& c, const DecodedOp& op) {
  const uint64_t d = read_rm<S>(c, op, 0, kMem);
  uint64_t lo, hi;
  load_dividend<S>(c, lo, hi);
  // The quotient fits iff the high half of the dividend is below the divisor (this also
  // catches d == 0).
  if (hi >= d) c.raise(kDe);
  if constexpr (S == 8) {
    const u128 n = (static_cast<u128>(hi) << 64) | lo;
    store_div<S>(c, static_cast<uint64_t>(n / d), static_cast<uint64_t>(n % d));
  } else {
    const uint64_t n = (hi << (8 * S)) | lo;
    store_div<S>(c, n / d, n % d);
  }
}

template <unsigned S, bool kMem>
void idiv_E(Core& c, const DecodedOp& op) {
  constexpr unsigned kW = 8 * S;
  const uint64_t d = read_rm<S>(c, op, 0, kMem);
  if (d == 0) c.raise(kDe);
  uint64_t lo, hi;
  load_dividend<S>(c, lo, hi);
  uint64_t q, r;
  if constexpr (S == 8) {
    // Divide magnitudes so that INT128_MIN / -1 never reaches C++ signed division.
    const bool n_neg = hi >> 63, d_neg = d >> 63;
    const u128 n = (static_cast<u128>(hi) << 64) | lo;
    const u128 un = n_neg ? 0 - n : n;
    const uint64_t ud = d_neg ? 0 - d : d;
    const u128 uq = un / ud;
    const uint64_t ur = static_cast<uint64_t>(un % ud);
    const bool q_neg = n_neg != d_neg;
    if (uq > (q_neg ? (static_cast<u128>(1) << 63) : (static_cast<u128>(1) << 63) - 1)) c.raise(kDe);
    q = q_neg ? 0 - static_cast<uint64_t>(uq) : static_cast<uint64_t>(uq);
    r = n_neg ? 0 - ur : ur;
  } else {
    // The dividend has at most 64 bits; only INT64_MIN / -1 could overflow int64 and its
    // quotient does not fit in 32 bits anyway.
    const int64_t n = S == 4 ? static_cast<int64_t>((hi << 32) | lo)
                             : static_cast<int64_t>(((hi << kW) | lo) << (64 - 2 * kW)) >> (64 - 2 * kW);
    const int64_t sd = static_cast<int64_t>(sign_extend<S>(d));
    if (n == INT64_MIN && sd == -1) c.raise(kDe);
    const int64_t sq = n / sd;
    if (sq < -(int64_t{1} << (kW - 1)) || sq > (int64_t{1} << (kW - 1)) - 1) c.raise(kDe);
    q = static_cast<uint64_t>(sq);
    r = static_cast<uint64_t>(n % sd);
  }
  store_div<S>(c, q, r);
}

// --- selectors --------------------------------------------------------------------------------

template <template <unsigned, bool> class H>
ExecFn select_one_operand(const DecodedOp& op) {
  if (op.nops != 1) return nullptr;
  if (op.attrs & attr::kLock) return &raise_ud_op;
  const bool m = is_mem(op, 0);
  if (!m && !is_reg(op, 0)) return nullptr;
  switch (op.opsize) {
    case 1: return m ? &H<1, true>::run : &H<1, false>::run;
    case 2: return m ? &H<2, true>::run : &H<2, false>::run;
    case 4: return m ? &H<4, true>::run : &H<4, false>::run;
    case 8: return m ? &H<8, true>::run : &H<8, false>::run;
    default: return nullptr;
  }
}

template <unsigned S, bool M> struct MulH { static void run(Core& c, const DecodedOp& op) { mul_E<S, M>(c, op); } };
template <unsigned S, bool M> struct ImulH { static void run(Core& c, const DecodedOp& op) { imul_E<S, M>(c, op); } };
template <unsigned S, bool M> struct DivH { static void run(Core& c, const DecodedOp& op) { div_E<S, M>(c, op); } };
template <unsigned S, bool M> struct IdivH { static void run(Core& c, const DecodedOp& op) { idiv_E<S, M>(c, op); } };

template <unsigned S>
ExecFn pick_imul_G(const DecodedOp& op) {
  const bool m = is_mem(op, 1);
  if (op.nops == 2) return m ? &imul_G<S, true, false> : &imul_G<S, false, false>;
  return m ? &imul_G<S, true, true> : &imul_G<S, false, true>;
}

ExecFn select_imul(const DecodedOp& op) {
  if (op.nops == 1) return select_one_operand<ImulH>(op);
  if (op.attrs & attr::kLock) return &raise_ud_op;
  if (!is_reg(op, 0) || !(is_reg(op, 1) || is_mem(op, 1))) return nullptr;
  if (op.nops == 3 && !is_imm(op, 2)) return nullptr;
  switch (op.opsize) {
    case 2: return pick_imul_G<2>(op);
    case 4: return pick_imul_G<4>(op);
    case 8: return pick_imul_G<8>(op);
    default: return nullptr;
  }
}

}  // namespace

void register_mul_div(IsaTable& t) {
  const char* g = "mul_div";
  t.add(ZYDIS_MNEMONIC_MUL, &select_one_operand<MulH>, TimingClass::kMul, 0, g);
  t.add(ZYDIS_MNEMONIC_IMUL, &select_imul, TimingClass::kMul, 0, g);
  t.add(ZYDIS_MNEMONIC_DIV, &select_one_operand<DivH>, TimingClass::kDiv, 0, g);
  t.add(ZYDIS_MNEMONIC_IDIV, &select_one_operand<IdivH>, TimingClass::kDiv, 0, g);
}

}  // namespace vmxsim::cpu
