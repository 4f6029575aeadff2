// Handler group: arithmetic — ADD, ADC, SUB, SBB, CMP, INC, DEC, NEG and the BCD adjustments
// DAA, DAS, AAA, AAS, AAM, AAD (SDM Vol. 2; flags per Vol. 1 Appendix A).
//
// Handlers are instantiated per operand size and operand kinds; the selector picks the
// instantiation once at decode time, so the hot path has no switch on size or form.
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "cpu/exec/operand_source.h"

namespace vmxsim::cpu {

namespace {


void raise_ud_op(Core& c, const DecodedOp&) { c.raise_ud(); }

// --- two-operand ALU operations ----------------------------------------------------------------
// Each policy computes the result and, separately, records the flags: a memory destination is
// written before the flags change so that a faulting store leaves the flags untouched.

struct OpAdd {
  static constexpr bool kWrites = true, kCarry = false;
  static uint64_t calc(uint64_t a, uint64_t b, bool) { return a + b; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t b, uint64_t r, bool) { f.add<S>(a, b, r); }
};
struct OpAdc {
  static constexpr bool kWrites = true, kCarry = true;
  static uint64_t calc(uint64_t a, uint64_t b, bool ci) { return a + b + ci; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t b, uint64_t r, bool ci) { f.add<S>(a, b, r, ci); }
};
struct OpSub {
  static constexpr bool kWrites = true, kCarry = false;
  static uint64_t calc(uint64_t a, uint64_t b, bool) { return a - b; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t b, uint64_t r, bool) { f.sub<S>(a, b, r); }
};
struct OpSbb {
  static constexpr bool kWrites = true, kCarry = true;
  static uint64_t calc(uint64_t a, uint64_t b, bool ci) { return a - b - ci; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t b, uint64_t r, bool ci) { f.sub<S>(a, b, r, ci); }
};
struct OpCmp {
  static constexpr bool kWrites = false, kCarry = false;
  static uint64_t calc(uint64_t a, uint64_t b, bool) { return a - b; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t b, uint64_t r, bool) { f.sub<S>(a, b, r); }
};

template <class Op, unsigned S, bool kMemDst, Src K>
void alu(Core& c, const DecodedOp& op) {
  const uint64_t b = fetch_src<S, K>(c, op);
  const bool ci = Op::kCarry ? c.flags.cf() : false;
  if constexpr (!kMemDst) {
    const uint64_t a = c.reg<S>(op.reg[0]);
    const uint64_t r = Op::calc(a, b, ci);
    if constexpr (Op::kWrites) c.set_reg<S>(op.reg[0], r);
    Op::template flags<S>(c.flags, a, b, r, ci);
  } else {
    const uint64_t lin = c.linear(op, S, Op::kWrites);
    const uint64_t a = c.read<S>(lin);
    const uint64_t r = Op::calc(a, b, ci);
    if constexpr (Op::kWrites) c.write<S>(lin, r);
    Op::template flags<S>(c.flags, a, b, r, ci);
  }
}

template <class Op, unsigned S>
ExecFn pick_alu(const DecodedOp& op) {
  if (is_mem(op, 0)) {
    if (is_imm(op, 1)) return &alu<Op, S, true, Src::kImm>;
    if (is_reg(op, 1)) return &alu<Op, S, true, Src::kReg>;
    return nullptr;
  }
  if (!is_reg(op, 0)) return nullptr;
  if (is_mem(op, 1)) return &alu<Op, S, false, Src::kMem>;
  if (is_imm(op, 1)) return &alu<Op, S, false, Src::kImm>;
  if (is_reg(op, 1)) return &alu<Op, S, false, Src::kReg>;
  return nullptr;
}

// LOCK is legal only with a memory destination of a writing instruction (SDM "LOCK").
bool bad_lock(const DecodedOp& op, bool writes) {
  return (op.attrs & attr::kLock) && (!writes || !is_mem(op, 0));
}

template <class Op>
ExecFn select_alu(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (bad_lock(op, Op::kWrites)) return &raise_ud_op;
  switch (op.opsize) {
    case 1: return pick_alu<Op, 1>(op);
    case 2: return pick_alu<Op, 2>(op);
    case 4: return pick_alu<Op, 4>(op);
    case 8: return pick_alu<Op, 8>(op);
    default: return nullptr;
  }
}

// --- one-operand operations ------------------------------------------------------------------

struct OpInc {
  static uint64_t calc(uint64_t a) { return a + 1; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t r) { f.inc<S>(a, r); }
};
struct OpDec {
  static uint64_t calc(uint64_t a) { return a - 1; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t r) { f.dec<S>(a, r); }
};
// NEG: flags as for 0 - src, so CF = (src != 0).
struct OpNeg {
  static uint64_t calc(uint64_t a) { return 0 - a; }
  template <unsigned S> static void flags(LazyFlags& f, uint64_t a, uint64_t r) { f.sub<S>(0, a, r); }
};

template <class Op, unsigned S, bool kMem>
void unary(Core& c, const DecodedOp& op) {
  if constexpr (!kMem) {
    const uint64_t a = c.reg<S>(op.reg[0]);
    const uint64_t r = Op::calc(a);
    c.set_reg<S>(op.reg[0], r);
    Op::template flags<S>(c.flags, a, r);
  } else {
    const uint64_t lin = c.linear(op, S, true);
    const uint64_t a = c.read<S>(lin);
    const uint64_t r = Op::calc(a);
    c.write<S>(lin, r);
    Op::template flags<S>(c.flags, a, r);
  }
}

template <class Op, unsigned S>
ExecFn pick_unary(const DecodedOp& op) {
  if (is_mem(op, 0)) return &unary<Op, S, true>;
  if (is_reg(op, 0)) return &unary<Op, S, false>;
  return nullptr;
}

template <class Op>
ExecFn select_unary(const DecodedOp& op) {
  if (op.nops != 1) return nullptr;
  if (bad_lock(op, true)) return &raise_ud_op;
  switch (op.opsize) {
    case 1: return pick_unary<Op, 1>(op);
    case 2: return pick_unary<Op, 2>(op);
    case 4: return pick_unary<Op, 4>(op);
    case 8: return pick_unary<Op, 8>(op);
    default: return nullptr;
  }
}

// --- BCD adjustments (invalid in 64-bit mode; the decoder rejects them there) ------------------
// SF, ZF and PF follow AL; OF is undefined and cleared, as on P6-derived Intel processors. AAM
// and AAD also clear the undefined AF and CF.

uint8_t al(const Core& c) { return static_cast<uint8_t>(c.s.gpr[kRax]); }
void set_al(Core& c, uint64_t v) { c.set_reg<1>(kRax, v); }

void bcd_flags(Core& c, uint8_t result, bool cf, bool af) {
  c.flags.result_with<1>(result, cf, false, af);
}

void daa(Core& c, const DecodedOp&) {
  const uint8_t old_al = al(c);
  const bool old_cf = c.flags.cf();
  const bool old_af = c.flags.arith() & rflags::kAf;
  uint8_t v = old_al;
  bool cf = false, af = false;
  if ((v & 0x0f) > 9 || old_af) {
    cf = old_cf || v > 0xf9;
    v = static_cast<uint8_t>(v + 6);
    af = true;
  }
  if (old_al > 0x99 || old_cf) {
    v = static_cast<uint8_t>(v + 0x60);
    cf = true;
  } else {
    cf = false;
  }
  set_al(c, v);
  bcd_flags(c, v, cf, af);
}

void das(Core& c, const DecodedOp&) {
  const uint8_t old_al = al(c);
  const bool old_cf = c.flags.cf();
  const bool old_af = c.flags.arith() & rflags::kAf;
  uint8_t v = old_al;
  bool cf = false, af = false;
  if ((v & 0x0f) > 9 || old_af) {
    cf = old_cf || v < 6;
    v = static_cast<uint8_t>(v - 6);
    af = true;
  }
  if (old_al > 0x99 || old_cf) {
    v = static_cast<uint8_t>(v - 0x60);
    cf = true;
  }
  set_al(c, v);
  bcd_flags(c, v, cf, af);
}

// SALC (undocumented D6, invalid in 64-bit mode): AL = CF ? 0xff : 0, flags unchanged.
void salc(Core& c, const DecodedOp&) { set_al(c, c.flags.cf() ? 0xff : 0); }

// AAA/AAS adjust all of AX (the 80286+ behaviour, not the 8086 one that adjusts only AL).
template <bool kSub>
void aaa_aas(Core& c, const DecodedOp&) {
  uint16_t ax = static_cast<uint16_t>(c.s.gpr[kRax]);
  const bool adjust = (ax & 0x0f) > 9 || (c.flags.arith() & rflags::kAf);
  if (adjust) ax = static_cast<uint16_t>(kSub ? ax - 0x106 : ax + 0x106);
  ax &= 0xff0f;
  c.set_reg<2>(kRax, ax);
  bcd_flags(c, static_cast<uint8_t>(ax), adjust, adjust);
}

void aam(Core& c, const DecodedOp& op) {
  const uint8_t base = static_cast<uint8_t>(op.imm);
  if (base == 0) c.raise(kDe);
  const uint8_t v = al(c);
  const uint8_t lo = v % base;
  c.set_reg<2>(kRax, static_cast<uint16_t>(((v / base) << 8) | lo));
  bcd_flags(c, lo, false, false);
}

void aad(Core& c, const DecodedOp& op) {
  const uint16_t ax = static_cast<uint16_t>(c.s.gpr[kRax]);
  const uint8_t v = static_cast<uint8_t>((ax & 0xff) + (ax >> 8) * static_cast<uint8_t>(op.imm));
  c.set_reg<2>(kRax, v);
  bcd_flags(c, v, false, false);
}

template <ExecFn F>
ExecFn always(const DecodedOp&) { return F; }

}  // namespace

void register_arithmetic(IsaTable& t) {
  const char* g = "arithmetic";
  t.add(ZYDIS_MNEMONIC_ADD, &select_alu<OpAdd>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_ADC, &select_alu<OpAdc>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SUB, &select_alu<OpSub>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SBB, &select_alu<OpSbb>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CMP, &select_alu<OpCmp>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_INC, &select_unary<OpInc>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_DEC, &select_unary<OpDec>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_NEG, &select_unary<OpNeg>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_DAA, &always<&daa>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_DAS, &always<&das>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SALC, &always<&salc>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_AAA, &always<&aaa_aas<false>>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_AAS, &always<&aaa_aas<true>>, TimingClass::kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_AAM, &always<&aam>, TimingClass::kDiv, 0, g);
  t.add(ZYDIS_MNEMONIC_AAD, &always<&aad>, TimingClass::kMul, 0, g);
}

}  // namespace vmxsim::cpu
