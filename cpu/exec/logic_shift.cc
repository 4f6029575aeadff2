// Handler group: logic, shifts and rotates — AND, OR, XOR, NOT, TEST, SHL/SAL, SHR, SAR, ROL,
// ROR, RCL, RCR, SHLD, SHRD (SDM Vol. 2).
//
// Flags the SDM leaves undefined are produced as recent Intel cores (Skylake, Cascade Lake)
// produce them:
//  - AND/OR/XOR/TEST clear AF.
//  - Shifts (SHL/SHR/SAR/SHLD/SHRD) clear AF; for counts above 1, OF is computed as for the
//    first one-bit step: SHL/SHLD: bit(w-1) ^ bit(w-2) of the input; SHR: MSB of the input;
//    SAR: 0; SHRD: MSB of the destination ^ bit 0 of the source.
//  - ROL/RCL take OF from the first step too (bit(w-1) ^ bit(w-2) of the input); ROR takes
//    bit(w-1) ^ bit 0 of the input; RCR takes CF-in ^ MSB of the input.
//  - 16-bit SHLD/SHRD with counts 17..31 shift through dst:src:dst (a 48-bit operand), CF is
//    the last bit shifted out of that operand.
//  - For 8/16-bit SHL/SHR with a count beyond the operand width, CF is the bit shifted out of a
//    zero-extended operand, i.e. 0.
// A masked count of 0 changes no flags; a 32-bit register destination is still written (upper
// half zeroed), as on hardware.
#include <type_traits>

#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "cpu/exec/operand_source.h"

namespace vmxsim::cpu {

namespace {


void raise_ud_op(Core& c, const DecodedOp&) { c.raise_ud(); }

template <unsigned S>
constexpr uint64_t mask_of() {
  return S == 8 ? ~0ull : (1ull << (8 * S)) - 1;
}

// --- AND, OR, XOR, TEST ----------------------------------------------------------------------

struct OpAnd { static constexpr bool kWrites = true;  static uint64_t calc(uint64_t a, uint64_t b) { return a & b; } };
struct OpOr  { static constexpr bool kWrites = true;  static uint64_t calc(uint64_t a, uint64_t b) { return a | b; } };
struct OpXor { static constexpr bool kWrites = true;  static uint64_t calc(uint64_t a, uint64_t b) { return a ^ b; } };
struct OpTest { static constexpr bool kWrites = false; static uint64_t calc(uint64_t a, uint64_t b) { return a & b; } };

template <class Op, unsigned S, bool kMemDst, Src K>
void logic(Core& c, const DecodedOp& op) {
  const uint64_t b = fetch_src<S, K>(c, op);
  if constexpr (!kMemDst) {
    const uint64_t r = Op::calc(c.reg<S>(op.reg[0]), b);
    if constexpr (Op::kWrites) c.set_reg<S>(op.reg[0], r);
    c.flags.logic<S>(r);
  } else {
    const uint64_t lin = c.linear(op, S, Op::kWrites);
    const uint64_t r = Op::calc(c.read<S>(lin), b);
    if constexpr (Op::kWrites) c.write<S>(lin, r);
    c.flags.logic<S>(r);
  }
}

template <class Op, unsigned S>
ExecFn pick_logic(const DecodedOp& op) {
  if (is_mem(op, 0)) {
    if (is_imm(op, 1)) return &logic<Op, S, true, Src::kImm>;
    if (is_reg(op, 1)) return &logic<Op, S, true, Src::kReg>;
    return nullptr;
  }
  if (!is_reg(op, 0)) return nullptr;
  if (is_mem(op, 1)) return &logic<Op, S, false, Src::kMem>;
  if (is_imm(op, 1)) return &logic<Op, S, false, Src::kImm>;
  if (is_reg(op, 1)) return &logic<Op, S, false, Src::kReg>;
  return nullptr;
}

bool bad_lock(const DecodedOp& op, bool writes) {
  return (op.attrs & attr::kLock) && (!writes || !is_mem(op, 0));
}

template <class Op>
ExecFn select_logic(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (bad_lock(op, Op::kWrites)) return &raise_ud_op;
  switch (op.opsize) {
    case 1: return pick_logic<Op, 1>(op);
    case 2: return pick_logic<Op, 2>(op);
    case 4: return pick_logic<Op, 4>(op);
    case 8: return pick_logic<Op, 8>(op);
    default: return nullptr;
  }
}

template <unsigned S, bool kMem>
void not_E(Core& c, const DecodedOp& op) {
  if constexpr (!kMem) {
    c.set_reg<S>(op.reg[0], ~c.reg<S>(op.reg[0]));
  } else {
    const uint64_t lin = c.linear(op, S, true);
    c.write<S>(lin, ~c.read<S>(lin));
  }
}

ExecFn select_not(const DecodedOp& op) {
  if (op.nops != 1 || !(is_reg(op, 0) || is_mem(op, 0))) return nullptr;
  if (bad_lock(op, true)) return &raise_ud_op;
  const bool m = is_mem(op, 0);
  switch (op.opsize) {
    case 1: return m ? &not_E<1, true> : &not_E<1, false>;
    case 2: return m ? &not_E<2, true> : &not_E<2, false>;
    case 4: return m ? &not_E<4, true> : &not_E<4, false>;
    case 8: return m ? &not_E<8, true> : &not_E<8, false>;
    default: return nullptr;
  }
}

// --- shifts and rotates ------------------------------------------------------------------------
// Each policy's apply() returns false when the (masked, reduced) count leaves the operand and
// the flags untouched; otherwise it sets the result and records the flags.

template <unsigned S>
struct Bits {
  static constexpr unsigned kW = 8 * S;
  static constexpr uint64_t kMask = mask_of<S>();
  static bool msb(uint64_t v) { return (v >> (kW - 1)) & 1; }
  static bool msb2(uint64_t v) { return (v >> (kW - 2)) & 1; }
};

struct OpShl {
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t a, unsigned n) {
    using B = Bits<S>;
    const uint64_t r = (a << n) & B::kMask;  // n <= 63
    const bool cf = n <= B::kW ? (a >> (B::kW - n)) & 1 : false;
    f.result_with<S>(r, cf, B::msb(a) != B::msb2(a), false);
    return r;
  }
};
struct OpShr {
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t a, unsigned n) {
    using B = Bits<S>;
    const uint64_t r = a >> n;  // n <= 63 and a is zero-extended
    const bool cf = (a >> (n - 1)) & 1;
    f.result_with<S>(r, cf, B::msb(a), false);
    return r;
  }
};
struct OpSar {
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t a, unsigned n) {
    const int64_t sa = static_cast<int64_t>(sign_extend<S>(a));
    const uint64_t r = static_cast<uint64_t>(sa >> n) & Bits<S>::kMask;
    const bool cf = (sa >> (n - 1)) & 1;
    f.result_with<S>(r, cf, false, false);
    return r;
  }
};
struct OpRol {
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t a, unsigned n) {
    using B = Bits<S>;
    const unsigned k = n & (B::kW - 1);  // 8/16-bit: counts 8, 16, 24 rotate by 0 but set flags
    const uint64_t r = k ? ((a << k) | (a >> (B::kW - k))) & B::kMask : a;
    const uint64_t cf = r & 1;
    const uint64_t of = B::msb(a) != B::msb2(a);
    f.merge_arith(cf | (of << 11), rflags::kCf | rflags::kOf);
    return r;
  }
};
struct OpRor {
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t a, unsigned n) {
    using B = Bits<S>;
    const unsigned k = n & (B::kW - 1);
    const uint64_t r = k ? ((a >> k) | (a << (B::kW - k))) & B::kMask : a;
    const uint64_t cf = B::msb(r);
    const uint64_t of = B::msb(a) != (a & 1);
    f.merge_arith(cf | (of << 11), rflags::kCf | rflags::kOf);
    return r;
  }
};
// RCL/RCR rotate through CF: a (w+1)-bit rotation; 8/16-bit counts are reduced modulo w+1.
struct OpRcl {
  static constexpr bool kReduce = true;
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t a, unsigned n) {
    using B = Bits<S>;
    const uint64_t ci = f.cf();
    uint64_t r = (a << n) | (ci << (n - 1));
    if (n > 1) r |= a >> (B::kW + 1 - n);
    r &= B::kMask;
    const uint64_t cf = (a >> (B::kW - n)) & 1;
    const uint64_t of = B::msb(a) != B::msb2(a);
    f.merge_arith(cf | (of << 11), rflags::kCf | rflags::kOf);
    return r;
  }
};
struct OpRcr {
  static constexpr bool kReduce = true;
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t a, unsigned n) {
    using B = Bits<S>;
    const uint64_t ci = f.cf();
    uint64_t r = (a >> n) | (ci << (B::kW - n));
    if (n > 1) r |= a << (B::kW + 1 - n);
    r &= B::kMask;
    const uint64_t cf = (a >> (n - 1)) & 1;
    const uint64_t of = ci != static_cast<uint64_t>(B::msb(a));
    f.merge_arith(cf | (of << 11), rflags::kCf | rflags::kOf);
    return r;
  }
};

template <class Op, typename = void>
struct Reduces { static constexpr bool value = false; };
template <class Op>
struct Reduces<Op, std::void_t<decltype(Op::kReduce)>> { static constexpr bool value = Op::kReduce; };

// Effective count: masked to 5 bits (6 for 64-bit operands); RCL/RCR of 8/16-bit operands
// reduce it modulo w + 1.
template <class Op, unsigned S>
inline unsigned shift_count(uint64_t raw) {
  unsigned n = static_cast<unsigned>(raw) & (S == 8 ? 63 : 31);
  if constexpr (Reduces<Op>::value && S < 4) n %= 8 * S + 1;
  return n;
}

template <class Op, unsigned S, bool kMem, bool kCl>
void shift(Core& c, const DecodedOp& op) {
  const unsigned n = shift_count<Op, S>(kCl ? c.s.gpr[kRcx] : op.imm);
  if constexpr (!kMem) {
    const uint64_t a = c.reg<S>(op.reg[0]);
    if (n == 0) {
      if constexpr (S == 4) c.set_reg<4>(op.reg[0], a);
      return;
    }
    c.set_reg<S>(op.reg[0], Op::template apply<S>(c.flags, a, n));
  } else {
    const uint64_t lin = c.linear(op, S, true);
    const uint64_t a = c.read<S>(lin);
    if (n == 0) return;
    // Compute into a scratch copy of the flags so that a faulting store changes nothing.
    LazyFlags f = c.flags;
    c.write<S>(lin, Op::template apply<S>(f, a, n));
    c.flags = f;
  }
}

template <class Op, unsigned S>
ExecFn pick_shift(const DecodedOp& op) {
  const bool m = is_mem(op, 0);
  if (!m && !is_reg(op, 0)) return nullptr;
  if (is_imm(op, 1)) return m ? &shift<Op, S, true, false> : &shift<Op, S, false, false>;
  if (is_reg(op, 1)) return m ? &shift<Op, S, true, true> : &shift<Op, S, false, true>;
  return nullptr;
}

template <class Op>
ExecFn select_shift(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (op.attrs & attr::kLock) return &raise_ud_op;
  switch (op.opsize) {
    case 1: return pick_shift<Op, 1>(op);
    case 2: return pick_shift<Op, 2>(op);
    case 4: return pick_shift<Op, 4>(op);
    case 8: return pick_shift<Op, 8>(op);
    default: return nullptr;
  }
}

// --- SHLD, SHRD -------------------------------------------------------------------------------

struct OpShld {
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t d, uint64_t s, unsigned n) {
    using B = Bits<S>;
    uint64_t r;
    bool cf;
    if constexpr (S == 2) {
      const uint64_t t = (d << 32) | (s << 16) | d;  // dst:src:dst
      r = ((t << n) >> 32) & 0xffff;
      cf = (t >> (48 - n)) & 1;
    } else {
      r = ((d << n) | (s >> (B::kW - n))) & B::kMask;
      cf = (d >> (B::kW - n)) & 1;
    }
    f.result_with<S>(r, cf, B::msb(d) != B::msb2(d), false);
    return r;
  }
};
struct OpShrd {
  template <unsigned S>
  static uint64_t apply(LazyFlags& f, uint64_t d, uint64_t s, unsigned n) {
    using B = Bits<S>;
    uint64_t r;
    bool cf;
    if constexpr (S == 2) {
      const uint64_t t = d | (s << 16) | (d << 32);  // dst:src:dst, shifted right
      r = (t >> n) & 0xffff;
      cf = (t >> (n - 1)) & 1;
    } else {
      r = ((d >> n) | (s << (B::kW - n))) & B::kMask;
      cf = (d >> (n - 1)) & 1;
    }
    f.result_with<S>(r, cf, B::msb(d) != (s & 1), false);
    return r;
  }
};

template <class Op, unsigned S, bool kMem, bool kCl>
void shift_double(Core& c, const DecodedOp& op) {
  const unsigned n = static_cast<unsigned>(kCl ? c.s.gpr[kRcx] : op.imm) & (S == 8 ? 63 : 31);
  const uint64_t s = c.reg<S>(op.reg[1]);
  if constexpr (!kMem) {
    const uint64_t d = c.reg<S>(op.reg[0]);
    if (n == 0) {
      if constexpr (S == 4) c.set_reg<4>(op.reg[0], d);
      return;
    }
    c.set_reg<S>(op.reg[0], Op::template apply<S>(c.flags, d, s, n));
  } else {
    const uint64_t lin = c.linear(op, S, true);
    const uint64_t d = c.read<S>(lin);
    if (n == 0) return;
    LazyFlags f = c.flags;
    c.write<S>(lin, Op::template apply<S>(f, d, s, n));
    c.flags = f;
  }
}

template <class Op, unsigned S>
ExecFn pick_shift_double(const DecodedOp& op) {
  const bool m = is_mem(op, 0);
  if ((!m && !is_reg(op, 0)) || !is_reg(op, 1)) return nullptr;
  if (is_imm(op, 2)) return m ? &shift_double<Op, S, true, false> : &shift_double<Op, S, false, false>;
  if (is_reg(op, 2)) return m ? &shift_double<Op, S, true, true> : &shift_double<Op, S, false, true>;
  return nullptr;
}

template <class Op>
ExecFn select_shift_double(const DecodedOp& op) {
  if (op.nops != 3) return nullptr;
  if (op.attrs & attr::kLock) return &raise_ud_op;
  switch (op.opsize) {
    case 2: return pick_shift_double<Op, 2>(op);
    case 4: return pick_shift_double<Op, 4>(op);
    case 8: return pick_shift_double<Op, 8>(op);
    default: return nullptr;
  }
}

}  // namespace

void register_logic_shift(IsaTable& t) {
  const char* g = "logic_shift";
  t.add(ZYDIS_MNEMONIC_AND, &select_logic<OpAnd>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_OR, &select_logic<OpOr>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_XOR, &select_logic<OpXor>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_TEST, &select_logic<OpTest>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_NOT, &select_not, TimingClass::kAlu, 0, g);
  // SAL (D0-D3 /6, an alias of /4) decodes as SHL.
  t.add(ZYDIS_MNEMONIC_SHL, &select_shift<OpShl>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SHR, &select_shift<OpShr>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SAR, &select_shift<OpSar>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_ROL, &select_shift<OpRol>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_ROR, &select_shift<OpRor>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_RCL, &select_shift<OpRcl>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_RCR, &select_shift<OpRcr>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SHLD, &select_shift_double<OpShld>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SHRD, &select_shift_double<OpShrd>, TimingClass::kAlu, 0, g);
}

}  // namespace vmxsim::cpu
