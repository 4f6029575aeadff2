// Handler group: bit operations — BT, BTS, BTR, BTC, BSF, BSR, TZCNT, LZCNT, POPCNT and the
// BMI1/BMI2 instructions ANDN, BLSI, BLSMSK, BLSR, BEXTR, BZHI, SHLX, SHRX, SARX, RORX, PDEP,
// PEXT, MULX (SDM Vol. 2).
//
// Undefined flags follow recent Intel cores (Skylake, Cascade Lake):
//  - BT/BTS/BTR/BTC change only CF.
//  - BSF/BSR clear CF, OF, SF, AF and set PF from the bit index; a zero source sets ZF and PF,
//    clears the others and leaves the destination (all 64 bits) unchanged.
//  - TZCNT/LZCNT set PF from the result and clear SF, OF, AF.
//  - BLSI/BLSMSK/BLSR clear PF and AF; BEXTR clears SF, PF, AF; BZHI clears PF and AF;
//    ANDN sets PF from the result and clears AF, as AND does.
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

namespace {

void raise_ud_op(Core& c, const DecodedOp&) { c.raise_ud(); }

template <unsigned S>
constexpr uint64_t mask_of() {
  return S == 8 ? ~0ull : (1ull << (8 * S)) - 1;
}

inline uint64_t parity_flag(uint64_t v) {
  return __builtin_parity(static_cast<unsigned>(v & 0xff)) ? 0 : rflags::kPf;
}

template <unsigned S>
inline uint64_t read_rm(Core& c, const DecodedOp& op, unsigned i, bool mem) {
  return mem ? c.read<S>(c.linear(op, S, false)) : c.reg<S>(op.reg[i]);
}

// --- BT, BTS, BTR, BTC ------------------------------------------------------------------------

enum BtKind { kBt, kBts, kBtr, kBtc };

template <int K>
inline uint64_t bt_modify(uint64_t v, unsigned bit) {
  if constexpr (K == kBts) return v | (1ull << bit);
  else if constexpr (K == kBtr) return v & ~(1ull << bit);
  else return v ^ (1ull << bit);
}

template <int K, unsigned S, bool kMem, bool kImm>
void bt(Core& c, const DecodedOp& op) {
  constexpr unsigned kW = 8 * S;
  if constexpr (!kMem) {
    const unsigned bit = static_cast<unsigned>(kImm ? op.imm : c.reg<S>(op.reg[1])) & (kW - 1);
    const uint64_t v = c.reg<S>(op.reg[0]);
    if constexpr (K != kBt) c.set_reg<S>(op.reg[0], bt_modify<K>(v, bit));
    c.flags.merge_arith((v >> bit) & 1, rflags::kCf);
  } else {
    uint64_t lin;
    unsigned bit;
    if constexpr (kImm) {
      bit = static_cast<unsigned>(op.imm) & (kW - 1);
      lin = c.linear(op, S, K != kBt);
    } else {
      // A register bit offset is signed and may select another operand-sized word of memory
      // (SDM "BT—Bit Test", bit-string addressing).
      static constexpr uint64_t kAddrMask[9] = {0, 0, 0xffff, 0, 0xffffffff, 0, 0, 0, ~0ull};
      const int64_t off = static_cast<int64_t>(sign_extend<S>(c.reg<S>(op.reg[1])));
      const int64_t words = off >> (S == 2 ? 4 : S == 4 ? 5 : 6);
      const uint64_t ea = (c.effective_address(op) + static_cast<uint64_t>(words) * S) &
                          kAddrMask[op.addrsize];
      bit = static_cast<unsigned>(off) & (kW - 1);
      lin = c.linear_seg(op.seg, ea, S, K != kBt);
    }
    const uint64_t v = c.read<S>(lin);
    if constexpr (K != kBt) c.write<S>(lin, bt_modify<K>(v, bit));
    c.flags.merge_arith((v >> bit) & 1, rflags::kCf);
  }
}

template <int K, unsigned S>
ExecFn pick_bt(const DecodedOp& op) {
  const bool m = is_mem(op, 0);
  if (!m && !is_reg(op, 0)) return nullptr;
  if (is_imm(op, 1)) return m ? &bt<K, S, true, true> : &bt<K, S, false, true>;
  if (is_reg(op, 1)) return m ? &bt<K, S, true, false> : &bt<K, S, false, false>;
  return nullptr;
}

template <int K>
ExecFn select_bt(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if ((op.attrs & attr::kLock) && (K == kBt || !is_mem(op, 0))) return &raise_ud_op;
  switch (op.opsize) {
    case 2: return pick_bt<K, 2>(op);
    case 4: return pick_bt<K, 4>(op);
    case 8: return pick_bt<K, 8>(op);
    default: return nullptr;
  }
}

// --- BSF, BSR, TZCNT, LZCNT, POPCNT -------------------------------------------------------------

enum ScanKind { kBsf, kBsr, kTzcnt, kLzcnt, kPopcnt };

template <int K, unsigned S, bool kMem>
void bit_scan(Core& c, const DecodedOp& op) {
  constexpr unsigned kW = 8 * S;
  const uint64_t v = read_rm<S>(c, op, 1, kMem);
  if constexpr (K == kBsf || K == kBsr) {
    if (v == 0) {  // destination unchanged, as Intel and AMD processors do
      c.flags.set_arith(rflags::kZf | rflags::kPf);
      return;
    }
    const unsigned idx = K == kBsf ? __builtin_ctzll(v) : 63 - __builtin_clzll(v);
    c.set_reg<S>(op.reg[0], idx);
    c.flags.set_arith(parity_flag(idx));
  } else if constexpr (K == kTzcnt || K == kLzcnt) {
    unsigned r = kW;
    if (v) r = K == kTzcnt ? __builtin_ctzll(v) : __builtin_clzll(v) - (64 - kW);
    c.set_reg<S>(op.reg[0], r);
    c.flags.result_with<S>(r, v == 0, false, false);
  } else {
    c.set_reg<S>(op.reg[0], __builtin_popcountll(v));
    c.flags.set_arith(v == 0 ? rflags::kZf : 0);
  }
}

template <int K>
ExecFn select_bit_scan(const DecodedOp& op) {
  if (op.nops != 2 || !is_reg(op, 0)) return nullptr;
  if (op.attrs & attr::kLock) return &raise_ud_op;
  const bool m = is_mem(op, 1);
  if (!m && !is_reg(op, 1)) return nullptr;
  switch (op.opsize) {
    case 2: return m ? &bit_scan<K, 2, true> : &bit_scan<K, 2, false>;
    case 4: return m ? &bit_scan<K, 4, true> : &bit_scan<K, 4, false>;
    case 8: return m ? &bit_scan<K, 8, true> : &bit_scan<K, 8, false>;
    default: return nullptr;
  }
}

// --- BMI1 / BMI2 ------------------------------------------------------------------------------
// Operand order as decoded: ANDN/PDEP/PEXT/MULX  dst, vvvv, r/m;  BEXTR/BZHI/SHLX/SHRX/SARX
// dst, r/m, vvvv;  BLSI/BLSMSK/BLSR  vvvv-dst, r/m;  RORX  dst, r/m, imm8.

enum BmiKind {
  kAndn, kBlsi, kBlsmsk, kBlsr, kBextr, kBzhi, kShlx, kShrx, kSarx, kRorx, kPdep, kPext, kMulx
};

template <unsigned S>
uint64_t pdep(uint64_t src, uint64_t mask) {
  uint64_t r = 0;
  for (uint64_t bit = 1; mask; bit <<= 1) {
    const uint64_t low = mask & (0 - mask);
    if (src & bit) r |= low;
    mask &= mask - 1;
  }
  return r & mask_of<S>();
}

template <unsigned S>
uint64_t pext(uint64_t src, uint64_t mask) {
  uint64_t r = 0;
  for (uint64_t bit = 1; mask; bit <<= 1) {
    const uint64_t low = mask & (0 - mask);
    if (src & low) r |= bit;
    mask &= mask - 1;
  }
  return r;
}

template <int K, unsigned S, bool kMem>
void bmi(Core& c, const DecodedOp& op) {
  constexpr unsigned kW = 8 * S;
  constexpr uint64_t kM = mask_of<S>();
  if constexpr (K == kAndn || K == kPdep || K == kPext) {
    const uint64_t m = read_rm<S>(c, op, 2, kMem);
    const uint64_t a = c.reg<S>(op.reg[1]);
    uint64_t r;
    if constexpr (K == kAndn) {
      r = ~a & m & kM;
      c.flags.logic<S>(r);
    } else if constexpr (K == kPdep) {
      r = pdep<S>(a, m);
    } else {
      r = pext<S>(a, m);
    }
    c.set_reg<S>(op.reg[0], r);
  } else if constexpr (K == kMulx) {
    const uint64_t b = read_rm<S>(c, op, 2, kMem);
    const uint64_t a = c.reg<S>(kRdx);
    uint64_t lo, hi;
    if constexpr (S == 8) {
      const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
      lo = static_cast<uint64_t>(p);
      hi = static_cast<uint64_t>(p >> 64);
    } else {
      const uint64_t p = a * b;
      lo = p & kM;
      hi = p >> 32;
    }
    // With the same register as both destinations the high half wins (SDM MULX).
    c.set_reg<S>(op.reg[1], lo);
    c.set_reg<S>(op.reg[0], hi);
  } else if constexpr (K == kBlsi || K == kBlsmsk || K == kBlsr) {
    const uint64_t a = read_rm<S>(c, op, 1, kMem);
    uint64_t r;
    bool cf;
    if constexpr (K == kBlsi) {
      r = (0 - a) & a;
      cf = a != 0;
    } else if constexpr (K == kBlsmsk) {
      r = ((a - 1) ^ a) & kM;
      cf = a == 0;
    } else {
      r = (a - 1) & a;
      cf = a == 0;
    }
    c.set_reg<S>(op.reg[0], r);
    c.flags.set_arith((cf ? rflags::kCf : 0) | (r == 0 ? rflags::kZf : 0) |
                      (sign_bit<S>(r) ? rflags::kSf : 0));
  } else if constexpr (K == kRorx) {
    const uint64_t a = read_rm<S>(c, op, 1, kMem);
    const unsigned n = static_cast<unsigned>(op.imm) & (kW - 1);
    c.set_reg<S>(op.reg[0], n ? ((a >> n) | (a << (kW - n))) & kM : a);
  } else {
    const uint64_t a = read_rm<S>(c, op, 1, kMem);
    const uint64_t ctl = c.reg<S>(op.reg[2]);
    if constexpr (K == kBextr) {
      const unsigned start = ctl & 0xff, len = (ctl >> 8) & 0xff;
      uint64_t r = start < kW ? a >> start : 0;
      if (len < kW) r &= (1ull << len) - 1;
      c.set_reg<S>(op.reg[0], r);
      c.flags.set_arith(r == 0 ? rflags::kZf : 0);
    } else if constexpr (K == kBzhi) {
      const unsigned n = ctl & 0xff;
      const uint64_t r = n < kW ? a & ((1ull << n) - 1) : a;
      c.set_reg<S>(op.reg[0], r);
      c.flags.set_arith((n >= kW ? rflags::kCf : 0) | (r == 0 ? rflags::kZf : 0) |
                        (sign_bit<S>(r) ? rflags::kSf : 0));
    } else {
      const unsigned n = ctl & (kW - 1);
      uint64_t r;
      if constexpr (K == kShlx) r = (a << n) & kM;
      else if constexpr (K == kShrx) r = a >> n;
      else r = (static_cast<uint64_t>(static_cast<int64_t>(sign_extend<S>(a)) >> n)) & kM;
      c.set_reg<S>(op.reg[0], r);
    }
  }
}

template <int K>
ExecFn select_bmi(const DecodedOp& op) {
  constexpr bool kThree = !(K == kBlsi || K == kBlsmsk || K == kBlsr);
  if (op.nops != (kThree ? 3 : 2) || !is_reg(op, 0)) return nullptr;
  // Which operand may be memory.
  constexpr unsigned kRm = (K == kAndn || K == kPdep || K == kPext || K == kMulx) ? 2 : 1;
  const bool m = is_mem(op, kRm);
  if (!m && !is_reg(op, kRm)) return nullptr;
  if (K == kRorx && !is_imm(op, 2)) return nullptr;
  switch (op.opsize) {
    case 4: return m ? &bmi<K, 4, true> : &bmi<K, 4, false>;
    case 8: return m ? &bmi<K, 8, true> : &bmi<K, 8, false>;
    default: return nullptr;
  }
}

}  // namespace

void register_bit_ops(IsaTable& t) {
  const char* g = "bit_ops";
  t.add(ZYDIS_MNEMONIC_BT, &select_bt<kBt>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BTS, &select_bt<kBts>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BTR, &select_bt<kBtr>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BTC, &select_bt<kBtc>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BSF, &select_bit_scan<kBsf>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BSR, &select_bit_scan<kBsr>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_TZCNT, &select_bit_scan<kTzcnt>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_LZCNT, &select_bit_scan<kLzcnt>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_POPCNT, &select_bit_scan<kPopcnt>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_ANDN, &select_bmi<kAndn>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BLSI, &select_bmi<kBlsi>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BLSMSK, &select_bmi<kBlsmsk>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BLSR, &select_bmi<kBlsr>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BEXTR, &select_bmi<kBextr>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BZHI, &select_bmi<kBzhi>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SHLX, &select_bmi<kShlx>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SHRX, &select_bmi<kShrx>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SARX, &select_bmi<kSarx>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_RORX, &select_bmi<kRorx>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_PDEP, &select_bmi<kPdep>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_PEXT, &select_bmi<kPext>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_MULX, &select_bmi<kMulx>, TimingClass::kMul, 0, g);
}

}  // namespace vmxsim::cpu
