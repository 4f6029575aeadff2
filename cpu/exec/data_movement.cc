// Handler group: data movement — MOV (including moffs and segment-register forms), MOVZX, MOVSX,
// MOVSXD, LEA, XCHG, CMPXCHG, CMPXCHG8B/16B, XADD, BSWAP, MOVBE, CMOVcc, SETcc, CBW/CWDE/CDQE,
// CWD/CDQ/CQO, LAHF/SAHF, CLC/STC/CMC/CLD/STD, XLAT, and the stack instructions PUSH, POP,
// PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE (SDM Vol. 2).
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "cpu/exec/operand_source.h"

namespace vmxsim::cpu {

namespace {


template <unsigned S>
inline uint64_t read_rm(Core& c, const DecodedOp& op, unsigned i, bool mem) {
  return mem ? c.read<S>(c.linear(op, S, false)) : c.reg<S>(op.reg[i]);
}

void raise_ud_op(Core& c, const DecodedOp&) { c.raise_ud(); }

template <ExecFn F>
ExecFn always(const DecodedOp&) { return F; }

bool locked(const DecodedOp& op) { return op.attrs & attr::kLock; }

// Calls P<S>::pick(op) for the operand size of op (sizes 1, 2, 4, 8).
template <template <unsigned> class P>
ExecFn by_size(const DecodedOp& op) {
  switch (op.opsize) {
    case 1: return P<1>::pick(op);
    case 2: return P<2>::pick(op);
    case 4: return P<4>::pick(op);
    case 8: return P<8>::pick(op);
    default: return nullptr;
  }
}

// --- MOV ----------------------------------------------------------------------------------------

template <unsigned S, bool kMemDst, Src K>
void mov(Core& c, const DecodedOp& op) {
  const uint64_t v = fetch_src<S, K>(c, op);
  if constexpr (kMemDst) c.write<S>(c.linear(op, S, true), v);
  else c.set_reg<S>(op.reg[0], v);
}

template <unsigned S>
struct PickMov {
  static ExecFn pick(const DecodedOp& op) {
    if (is_mem(op, 0)) {
      if (is_imm(op, 1)) return &mov<S, true, Src::kImm>;
      if (is_reg(op, 1)) return &mov<S, true, Src::kReg>;
      return nullptr;
    }
    if (!is_reg(op, 0)) return nullptr;
    if (is_mem(op, 1)) return &mov<S, false, Src::kMem>;
    if (is_imm(op, 1)) return &mov<S, false, Src::kImm>;
    if (is_reg(op, 1)) return &mov<S, false, Src::kReg>;
    return nullptr;
  }
};

// MOV r/m, Sreg: a register destination receives the zero-extended selector at the operand
// size; a memory destination always receives 16 bits.
template <bool kMem>
void mov_Ev_Sw(Core& c, const DecodedOp& op) {
  const uint16_t sel = c.s.seg[op.reg[1]].selector;
  if constexpr (kMem) c.write<2>(c.linear(op, 2, true), sel);
  else c.set_reg_sized(op.reg[0], op.opsize, sel);
}

// MOV Sreg, r/m16. Loading CS is invalid; loading SS inhibits interrupts for one instruction.
template <bool kMem>
void mov_Sw_Ew(Core& c, const DecodedOp& op) {
  const unsigned seg = op.reg[0];
  if (seg == kCs || seg >= kNumSegs) c.raise_ud();
  const uint16_t sel = static_cast<uint16_t>(read_rm<2>(c, op, 1, kMem));
  c.load_segment(seg, sel);
  if (seg == kSs) c.set_movss_shadow();
}

ExecFn select_mov(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 2) return nullptr;
  if (op.regclass[0] == RegClass::kSeg) {
    if (op.reg[0] == kCs || op.reg[0] >= kNumSegs) return &raise_ud_op;
    return is_mem(op, 1) ? &mov_Sw_Ew<true> : &mov_Sw_Ew<false>;
  }
  if (op.regclass[1] == RegClass::kSeg) {
    if (op.reg[1] >= kNumSegs) return &raise_ud_op;
    return is_mem(op, 0) ? &mov_Ev_Sw<true> : &mov_Ev_Sw<false>;
  }
  return by_size<PickMov>(op);
}

// --- MOVZX, MOVSX, MOVSXD ----------------------------------------------------------------------

template <unsigned S, unsigned SrcS, bool kSigned, bool kMem>
void mov_extend(Core& c, const DecodedOp& op) {
  const uint64_t v = read_rm<SrcS>(c, op, 1, kMem);
  c.set_reg<S>(op.reg[0], kSigned ? sign_extend<SrcS>(v) : v);
}

template <unsigned S, unsigned SrcS, bool kSigned>
ExecFn pick_extend(const DecodedOp& op) {
  if (is_mem(op, 1)) return &mov_extend<S, SrcS, kSigned, true>;
  if (is_reg(op, 1)) return &mov_extend<S, SrcS, kSigned, false>;
  return nullptr;
}

template <bool kSigned>
ExecFn select_movx(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 2 || !is_reg(op, 0)) return nullptr;
  // src_size is the source width when it differs from the destination's; MOVSXD without
  // REX.W has equal widths and is a plain move.
  const unsigned src = op.src_size ? op.src_size : op.opsize;
  switch (op.opsize * 16 + src) {
    case 2 * 16 + 1: return pick_extend<2, 1, kSigned>(op);
    case 2 * 16 + 2: return pick_extend<2, 2, kSigned>(op);
    case 4 * 16 + 1: return pick_extend<4, 1, kSigned>(op);
    case 4 * 16 + 2: return pick_extend<4, 2, kSigned>(op);
    case 4 * 16 + 4: return pick_extend<4, 4, kSigned>(op);
    case 8 * 16 + 1: return pick_extend<8, 1, kSigned>(op);
    case 8 * 16 + 2: return pick_extend<8, 2, kSigned>(op);
    case 8 * 16 + 4: return pick_extend<8, 4, kSigned>(op);
    default: return nullptr;
  }
}

// --- LEA --------------------------------------------------------------------------------------

template <unsigned S>
void lea(Core& c, const DecodedOp& op) {
  c.set_reg<S>(op.reg[0], c.effective_address(op));
}

ExecFn select_lea(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 2 || !is_reg(op, 0) || !is_mem(op, 1)) return nullptr;
  return VMXSIM_BY_SIZE_V(lea, op.opsize);
}

// --- XCHG, XADD, CMPXCHG ------------------------------------------------------------------------
// XCHG with memory is locked whatever the prefixes say; in this model every instruction is
// atomic with respect to the other cores, so LOCK needs no extra work.

template <unsigned S, bool kMem>
void xchg(Core& c, const DecodedOp& op) {
  if constexpr (!kMem) {
    const uint64_t a = c.reg<S>(op.reg[0]);
    const uint64_t b = c.reg<S>(op.reg[1]);
    c.set_reg<S>(op.reg[0], b);
    c.set_reg<S>(op.reg[1], a);
  } else {
    // The memory operand is operand 0 (XCHG Eb/Ev, Gb/Gv) or, if an encoder wrote it the other
    // way round, operand 1.
    const unsigned r = is_mem(op, 0) ? 1 : 0;
    const uint64_t lin = c.linear(op, S, true);
    const uint64_t m = c.read<S>(lin);
    c.write<S>(lin, c.reg<S>(op.reg[r]));
    c.set_reg<S>(op.reg[r], m);
  }
}

template <unsigned S>
struct PickXchg {
  static ExecFn pick(const DecodedOp& op) {
    if (is_reg(op, 0) && is_reg(op, 1)) return &xchg<S, false>;
    if (is_mem(op, 0) || is_mem(op, 1)) return &xchg<S, true>;
    return nullptr;
  }
};

ExecFn select_xchg(const DecodedOp& op) {
  if (op.nops != 2) return nullptr;
  if (locked(op) && !is_mem(op, 0) && !is_mem(op, 1)) return &raise_ud_op;
  return by_size<PickXchg>(op);
}

template <unsigned S, bool kMem>
void xadd(Core& c, const DecodedOp& op) {
  const uint64_t s = c.reg<S>(op.reg[1]);
  if constexpr (!kMem) {
    const uint64_t d = c.reg<S>(op.reg[0]);
    const uint64_t r = d + s;
    c.set_reg<S>(op.reg[1], d);
    c.set_reg<S>(op.reg[0], r);  // written last: XADD r, r with one register keeps the sum
    c.flags.add<S>(d, s, r);
  } else {
    const uint64_t lin = c.linear(op, S, true);
    const uint64_t d = c.read<S>(lin);
    const uint64_t r = d + s;
    c.write<S>(lin, r);
    c.set_reg<S>(op.reg[1], d);
    c.flags.add<S>(d, s, r);
  }
}

// CMPXCHG: compares the accumulator with the destination. A register destination is written
// only when they are equal (when they differ it is not even zero-extended); a memory
// destination always receives a write cycle (SDM CMPXCHG). The accumulator is written only
// when they differ.
template <unsigned S, bool kMem>
void cmpxchg(Core& c, const DecodedOp& op) {
  const uint64_t s = c.reg<S>(op.reg[1]);
  const uint64_t acc = c.reg<S>(kRax);
  uint64_t d;
  if constexpr (!kMem) {
    d = c.reg<S>(op.reg[0]);
    if (d == acc) c.set_reg<S>(op.reg[0], s);
  } else {
    const uint64_t lin = c.linear(op, S, true);
    d = c.read<S>(lin);
    c.write<S>(lin, d == acc ? s : d);
  }
  if (d != acc) c.set_reg<S>(kRax, d);
  c.flags.sub<S>(acc, d, acc - d);
}

template <template <unsigned, bool> class H>
ExecFn select_rm_reg(const DecodedOp& op) {
  if (op.nops != 2 || !is_reg(op, 1)) return nullptr;
  const bool m = is_mem(op, 0);
  if (!m && !is_reg(op, 0)) return nullptr;
  if (locked(op) && !m) return &raise_ud_op;
  switch (op.opsize) {
    case 1: return m ? &H<1, true>::run : &H<1, false>::run;
    case 2: return m ? &H<2, true>::run : &H<2, false>::run;
    case 4: return m ? &H<4, true>::run : &H<4, false>::run;
    case 8: return m ? &H<8, true>::run : &H<8, false>::run;
    default: return nullptr;
  }
}
template <unsigned S, bool M> struct XaddH { static void run(Core& c, const DecodedOp& op) { xadd<S, M>(c, op); } };
template <unsigned S, bool M> struct CmpxchgH { static void run(Core& c, const DecodedOp& op) { cmpxchg<S, M>(c, op); } };

// CMPXCHG8B m64 / CMPXCHG16B m128: compare rDX:rAX with memory; equal: store rCX:rBX, ZF = 1;
// otherwise load rDX:rAX, ZF = 0. Only ZF changes. Memory always receives a write cycle.
void cmpxchg8b(Core& c, const DecodedOp& op) {
  const uint64_t lin = c.linear(op, 8, true);
  const uint64_t m = c.read<8>(lin);
  const uint64_t cmp = (c.reg<4>(kRdx) << 32) | c.reg<4>(kRax);
  const bool eq = m == cmp;
  c.write<8>(lin, eq ? (c.reg<4>(kRcx) << 32) | c.reg<4>(kRbx) : m);
  if (!eq) {
    c.set_reg<4>(kRax, m);
    c.set_reg<4>(kRdx, m >> 32);
  }
  c.flags.merge_arith(eq ? rflags::kZf : 0, rflags::kZf);
}

void cmpxchg16b(Core& c, const DecodedOp& op) {
  const uint64_t lin = c.linear(op, 16, true);
  if (lin & 15) c.raise_gp0();
  // 16-byte aligned: both halves are on one page, so the second access cannot fault once the
  // first has succeeded.
  const uint64_t lo = c.read<8>(lin), hi = c.read<8>(lin + 8);
  const bool eq = lo == c.s.gpr[kRax] && hi == c.s.gpr[kRdx];
  c.probe_write(lin, 16);
  c.write<8>(lin, eq ? c.s.gpr[kRbx] : lo);
  c.write<8>(lin + 8, eq ? c.s.gpr[kRcx] : hi);
  if (!eq) {
    c.s.gpr[kRax] = lo;
    c.s.gpr[kRdx] = hi;
  }
  c.flags.merge_arith(eq ? rflags::kZf : 0, rflags::kZf);
}

ExecFn select_cmpxchg8b(const DecodedOp& op) {
  return op.nops == 1 && is_mem(op, 0) ? &cmpxchg8b : nullptr;
}
ExecFn select_cmpxchg16b(const DecodedOp& op) {
  return op.nops == 1 && is_mem(op, 0) ? &cmpxchg16b : nullptr;
}

// --- BSWAP, MOVBE -----------------------------------------------------------------------------

template <unsigned S>
inline uint64_t byte_swap(uint64_t v) {
  if constexpr (S == 2) return __builtin_bswap16(static_cast<uint16_t>(v));
  else if constexpr (S == 4) return __builtin_bswap32(static_cast<uint32_t>(v));
  else return __builtin_bswap64(v);
}

// BSWAP r16 is undefined; Intel and AMD processors clear the 16-bit register.
template <unsigned S>
void bswap(Core& c, const DecodedOp& op) {
  if constexpr (S == 2) c.set_reg<2>(op.reg[0], 0);
  else c.set_reg<S>(op.reg[0], byte_swap<S>(c.reg<S>(op.reg[0])));
}

ExecFn select_bswap(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 1 || !is_reg(op, 0)) return nullptr;
  return VMXSIM_BY_SIZE_V(bswap, op.opsize);
}

template <unsigned S>
void movbe_load(Core& c, const DecodedOp& op) {
  c.set_reg<S>(op.reg[0], byte_swap<S>(c.read<S>(c.linear(op, S, false))));
}
template <unsigned S>
void movbe_store(Core& c, const DecodedOp& op) {
  c.write<S>(c.linear(op, S, true), byte_swap<S>(c.reg<S>(op.reg[1])));
}

ExecFn select_movbe(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 2) return nullptr;
  if (is_reg(op, 0) && is_mem(op, 1)) return VMXSIM_BY_SIZE_V(movbe_load, op.opsize);
  if (is_mem(op, 0) && is_reg(op, 1)) return VMXSIM_BY_SIZE_V(movbe_store, op.opsize);
  return nullptr;
}

// --- CMOVcc, SETcc ----------------------------------------------------------------------------
// Instantiated per condition so that the condition test folds to a few flag reads.

// CMOV reads a memory source even when the condition is false, and a 32-bit destination is
// zero-extended either way.
template <unsigned C, unsigned S, bool kMem>
void cmov(Core& c, const DecodedOp& op) {
  const uint64_t v = read_rm<S>(c, op, 1, kMem);
  if (eval_cond(c.flags, static_cast<Cond>(C))) c.set_reg<S>(op.reg[0], v);
  else if constexpr (S == 4) c.set_reg<4>(op.reg[0], c.reg<4>(op.reg[0]));
}

template <unsigned C>
ExecFn pick_cmov(const DecodedOp& op) {
  const bool m = is_mem(op, 1);
  switch (op.opsize) {
    case 2: return m ? &cmov<C, 2, true> : &cmov<C, 2, false>;
    case 4: return m ? &cmov<C, 4, true> : &cmov<C, 4, false>;
    case 8: return m ? &cmov<C, 8, true> : &cmov<C, 8, false>;
    default: return nullptr;
  }
}

template <unsigned C, bool kMem>
void setcc(Core& c, const DecodedOp& op) {
  const uint64_t v = eval_cond(c.flags, static_cast<Cond>(C)) ? 1 : 0;
  if constexpr (kMem) c.write<1>(c.linear(op, 1, true), v);
  else c.set_reg<1>(op.reg[0], v);
}

template <template <unsigned> class F>
ExecFn by_cond(const DecodedOp& op) {
  switch (op.cond & 15) {
    case 0: return F<0>::pick(op);   case 1: return F<1>::pick(op);
    case 2: return F<2>::pick(op);   case 3: return F<3>::pick(op);
    case 4: return F<4>::pick(op);   case 5: return F<5>::pick(op);
    case 6: return F<6>::pick(op);   case 7: return F<7>::pick(op);
    case 8: return F<8>::pick(op);   case 9: return F<9>::pick(op);
    case 10: return F<10>::pick(op); case 11: return F<11>::pick(op);
    case 12: return F<12>::pick(op); case 13: return F<13>::pick(op);
    case 14: return F<14>::pick(op); default: return F<15>::pick(op);
  }
}
template <unsigned C> struct PickCmov { static ExecFn pick(const DecodedOp& op) { return pick_cmov<C>(op); } };
template <unsigned C> struct PickSetcc {
  static ExecFn pick(const DecodedOp& op) { return is_mem(op, 0) ? &setcc<C, true> : &setcc<C, false>; }
};

ExecFn select_cmov(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 2 || !is_reg(op, 0) || !(is_reg(op, 1) || is_mem(op, 1))) return nullptr;
  return by_cond<PickCmov>(op);
}
ExecFn select_setcc(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 1 || !(is_reg(op, 0) || is_mem(op, 0))) return nullptr;
  return by_cond<PickSetcc>(op);
}

// --- accumulator conversions, flag-bit instructions, XLAT ---------------------------------------

// CBW/CWDE/CDQE: sign-extend the lower half of the accumulator into all of it.
template <unsigned S>
void cbw(Core& c, const DecodedOp&) {
  c.set_reg<S>(kRax, sign_extend<S / 2>(c.reg<S / 2>(kRax)));
}
// CWD/CDQ/CQO: fill rDX with the sign of rAX.
template <unsigned S>
void cwd(Core& c, const DecodedOp&) {
  c.set_reg<S>(kRdx, sign_bit<S>(c.reg<S>(kRax)) ? ~0ull : 0);
}

void lahf(Core& c, const DecodedOp&) {
  const uint64_t f = c.flags.arith() & (rflags::kSf | rflags::kZf | rflags::kAf | rflags::kPf | rflags::kCf);
  c.set_reg<1>(kRegHigh8 + 0, f | rflags::kFixed1);
}
void sahf(Core& c, const DecodedOp&) {
  constexpr uint64_t kMask = rflags::kSf | rflags::kZf | rflags::kAf | rflags::kPf | rflags::kCf;
  c.flags.merge_arith(c.reg<1>(kRegHigh8 + 0), kMask);
}

void clc(Core& c, const DecodedOp&) { c.flags.merge_arith(0, rflags::kCf); }
void stc(Core& c, const DecodedOp&) { c.flags.merge_arith(rflags::kCf, rflags::kCf); }
void cmc(Core& c, const DecodedOp&) { c.flags.merge_arith(c.flags.cf() ? 0 : rflags::kCf, rflags::kCf); }
void cld(Core& c, const DecodedOp&) { c.set_rflags(c.rflags() & ~rflags::kDf); }
void std_(Core& c, const DecodedOp&) { c.set_rflags(c.rflags() | rflags::kDf); }

// XLAT: AL <- [seg: rBX + zero-extended AL] at the address size.
void xlat(Core& c, const DecodedOp& op) {
  static constexpr uint64_t kAddrMask[9] = {0, 0, 0xffff, 0, 0xffffffff, 0, 0, 0, ~0ull};
  const uint64_t ea = (c.s.gpr[kRbx] + (c.s.gpr[kRax] & 0xff)) & kAddrMask[op.addrsize];
  c.set_reg<1>(kRax, c.read<1>(c.linear_seg(op.seg, ea, 1, false)));
}


// --- stack: PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE --------------------------------------
// Instructions that make several stack accesses read every slot (Core::stack_read) and probe
// every slot they write before they change rSP or anything else: a fault, or a VM exit in the
// middle of an access, then finds the state as before the instruction (SDM Vol. 3 §6.5). No
// restore-on-catch: a VM exit saves the guest state before the exception unwinds.

template <unsigned S>
void push_reg(Core& c, const DecodedOp& op) { c.push(c.reg<S>(op.reg[0]), S); }
template <unsigned S>
void push_mem(Core& c, const DecodedOp& op) { c.push(c.read<S>(c.linear(op, S, false)), S); }
template <unsigned S>
void push_imm(Core& c, const DecodedOp& op) { c.push(op.imm, S); }

// PUSH Sreg with a 32/64-bit operand size: recent Intel processors decrement rSP by the operand
// size and write only the 16-bit selector, leaving the rest of the slot unmodified (SDM PUSH).
void push_sreg(Core& c, const DecodedOp& op) {
  const uint16_t sel = c.s.seg[op.reg[0]].selector;
  if (op.opsize == 2) {
    c.push(sel, 2);
    return;
  }
  const uint64_t sp = (c.stack_pointer() - op.opsize) & c.stack_mask();
  const uint64_t lin = c.stack_linear(sp, op.opsize, true);
  c.probe_write(lin, op.opsize);
  c.write<2>(lin, sel);
  c.set_stack_pointer(sp);
}

template <unsigned S>
void pop_reg(Core& c, const DecodedOp& op) { c.set_reg<S>(op.reg[0], c.pop(S)); }

// POP m: the address is computed with the incremented rSP (SDM POP), and rSP moves only after
// the store.
template <unsigned S>
void pop_mem(Core& c, const DecodedOp& op) {
  const uint64_t old_rsp = c.s.gpr[kRsp];
  const uint64_t sp = c.stack_pointer();
  const uint64_t v = c.read<S>(c.stack_linear(sp, S, false));
  c.set_stack_pointer(sp + S);
  const uint64_t new_rsp = c.s.gpr[kRsp];
  const uint64_t ea = c.effective_address(op);
  c.s.gpr[kRsp] = old_rsp;
  c.write<S>(c.linear_seg(op.seg, ea, S, true), v);
  c.s.gpr[kRsp] = new_rsp;
}

// POP Sreg: the selector is loaded before rSP moves; POP SS inhibits interrupts for one
// instruction.
void pop_sreg(Core& c, const DecodedOp& op) {
  const unsigned seg = op.reg[0];
  if (seg == kCs || seg >= kNumSegs) c.raise_ud();
  const uint64_t sp = c.stack_pointer();
  const uint16_t sel = static_cast<uint16_t>(c.read<2>(c.stack_linear(sp, op.opsize, false)));
  c.load_segment(seg, sel);
  c.set_stack_pointer((sp + op.opsize) & c.stack_mask());
  if (seg == kSs) c.set_movss_shadow();
}

template <unsigned S>
struct PickPush {
  static ExecFn pick(const DecodedOp& op) {
    if (is_reg(op, 0)) return op.regclass[0] == RegClass::kSeg ? &push_sreg : &push_reg<S>;
    if (is_mem(op, 0)) return &push_mem<S>;
    if (is_imm(op, 0)) return &push_imm<S>;
    return nullptr;
  }
};
template <unsigned S>
struct PickPop {
  static ExecFn pick(const DecodedOp& op) {
    if (is_reg(op, 0)) return op.regclass[0] == RegClass::kSeg ? &pop_sreg : &pop_reg<S>;
    if (is_mem(op, 0)) return &pop_mem<S>;
    return nullptr;
  }
};

template <template <unsigned> class P>
ExecFn select_push_pop(const DecodedOp& op) {
  if (locked(op)) return &raise_ud_op;
  if (op.nops != 1) return nullptr;
  switch (op.opsize) {
    case 2: return P<2>::pick(op);
    case 4: return P<4>::pick(op);
    case 8: return P<8>::pick(op);
    default: return nullptr;
  }
}

// PUSHA/PUSHAD and POPA/POPAD (not in 64-bit mode; the decoder rejects them there).
template <unsigned S>
void pusha(Core& c, const DecodedOp&) {
  const uint64_t sp = c.stack_pointer(), mask = c.stack_mask();
  const uint64_t v[8] = {c.reg<S>(kRax), c.reg<S>(kRcx), c.reg<S>(kRdx), c.reg<S>(kRbx),
                         c.reg<S>(kRsp), c.reg<S>(kRbp), c.reg<S>(kRsi), c.reg<S>(kRdi)};
  uint64_t lin[8];
  for (unsigned i = 0; i < 8; ++i) {
    lin[i] = c.stack_linear((sp - S * (i + 1)) & mask, S, true);
    c.probe_write(lin[i], S);
  }
  for (unsigned i = 0; i < 8; ++i) c.write<S>(lin[i], v[i]);
  c.set_stack_pointer(sp - 8 * S);
}

template <unsigned S>
void popa(Core& c, const DecodedOp&) {
  uint64_t v[8];
  for (unsigned i = 0; i < 8; ++i) v[7 - i] = c.stack_read(S * i, S);  // rDI first, rAX last
  for (unsigned r = 0; r < 8; ++r)
    if (r != kRsp) c.set_reg<S>(r, v[r]);
  c.set_stack_pointer(c.stack_pointer() + 8 * S);
}

unsigned iopl(const Core& c) { return (c.rflags() & rflags::kIoplMask) >> rflags::kIoplShift; }

// PUSHF/PUSHFD/PUSHFQ: VM and RF read as 0 in the image. In virtual-8086 mode with IOPL < 3
// only the 16-bit form with CR4.VME is allowed; it shows VIF in place of IF and IOPL as 3.
void pushf(Core& c, const DecodedOp& op) {
  uint64_t f = c.rflags() & ~(rflags::kVm | rflags::kRf);
  if (c.v86_mode() && iopl(c) < 3) {
    if (!(c.s.cr4 & cr4::kVme) || op.opsize != 2) c.raise_gp0();
    f = (f & ~rflags::kIf) | ((f & rflags::kVif) ? rflags::kIf : 0) | rflags::kIoplMask;
  }
  c.push(f, op.opsize);
}

// POPF/POPFD/POPFQ (SDM POPF operation): which bits may change depends on the mode, CPL and
// IOPL; VM, VIP and VIF never change (except VIF through CR4.VME), RF is cleared by the 32/64-bit
// forms, reserved bits keep their fixed values.
void popf(Core& c, const DecodedOp& op) {
  constexpr uint64_t kAll = rflags::kArith | rflags::kTf | rflags::kIf | rflags::kDf |
                            rflags::kIoplMask | rflags::kNt | rflags::kAc | rflags::kId;
  const uint64_t cur = c.rflags();
  const unsigned size = op.opsize;
  uint64_t mask = size == 2 ? (kAll & 0xffff) : kAll;
  bool vme_path = false;
  if (c.v86_mode()) {
    if (iopl(c) == 3) {
      mask &= ~rflags::kIoplMask;
    } else if ((c.s.cr4 & cr4::kVme) && size == 2) {
      vme_path = true;
      mask &= ~(rflags::kIoplMask | rflags::kIf);
    } else {
      c.raise_gp0();
    }
  } else if (c.protected_mode() && c.cpl() > 0) {
    mask &= ~rflags::kIoplMask;
    if (c.cpl() > iopl(c)) mask &= ~rflags::kIf;
  }
  const uint64_t sp = c.stack_pointer();
  const uint64_t v = c.read_sized(c.stack_linear(sp, size, false), size);
  uint64_t f = (cur & ~mask) | (v & mask);
  if (vme_path) {
    if ((v & rflags::kTf) || ((v & rflags::kIf) && (cur & rflags::kVip))) c.raise_gp0();
    f = (f & ~rflags::kVif) | ((v & rflags::kIf) ? rflags::kVif : 0);
  }
  if (size != 2) f &= ~rflags::kRf;
  c.set_stack_pointer((sp + size) & c.stack_mask());
  c.set_rflags(f);
}

// ENTER imm16, imm8 (SDM ENTER operation). Reads of the enclosing frame pointers and pushes
// alternate (a read may see what an earlier push of the instruction wrote), so every access is
// checked first -- the reads probed, the pushes and the final stack top probed for writing --
// and only then performed; rBP and rSP change last.
void enter(Core& c, const DecodedOp& op) {
  const unsigned size = op.opsize;
  const unsigned level = op.imm2 & 31;
  const uint64_t smask = c.stack_mask();
  // Push k (0: rBP; 1..level-1: the copied frame pointers; level: the frame) and read i, probed
  // in the order the instruction makes them.
  uint64_t push_lin[33], read_lin[32];
  const uint64_t sp = c.stack_pointer();
  const unsigned pushes = level == 0 ? 1 : level + 1;
  auto probe_push = [&](unsigned k) {
    push_lin[k] = c.stack_linear((sp - size * (k + 1)) & smask, size, true);
    c.probe_write(push_lin[k], size);
  };
  probe_push(0);
  uint64_t bp = c.s.gpr[kRbp];
  for (unsigned i = 1; i < level; ++i) {
    bp = (bp & ~smask) | ((bp - size) & smask);
    read_lin[i] = c.stack_linear(bp & smask, size, false);
    c.probe_read(read_lin[i], size);
    probe_push(i);
  }
  if (level > 0) probe_push(level);
  const uint64_t frame = (sp - size) & smask;
  const uint64_t new_sp = (sp - size * pushes - op.imm16) & smask;
  // The final stack top must be writable (SDM: #SS/#PF on the new rSP).
  c.probe_write(c.stack_linear(new_sp, 1, true), 1);
  c.write_sized(push_lin[0], size, c.reg_sized(kRbp, size));
  if (level > 0) {
    for (unsigned i = 1; i < level; ++i) c.write_sized(push_lin[i], size, c.read_sized(read_lin[i], size));
    c.write_sized(push_lin[level], size, frame);
  }
  c.set_reg_sized(kRbp, size, frame);
  c.set_stack_pointer(new_sp);
}

// LEAVE: rSP <- rBP (at the stack size), then rBP <- POP (at the operand size); the slot is
// read before either register changes.
void leave(Core& c, const DecodedOp& op) {
  const uint64_t sp = c.s.gpr[kRbp] & c.stack_mask();
  const uint64_t v = c.read_sized(c.stack_linear(sp, op.opsize, false), op.opsize);
  c.set_stack_pointer(sp + op.opsize);
  c.set_reg_sized(kRbp, op.opsize, v);
}

void register_stack_ops(IsaTable& t) {
  const char* g = "data_movement";
  constexpr uint16_t kEnd = attr::kEndsBlock;
  t.add(ZYDIS_MNEMONIC_PUSH, &select_push_pop<PickPush>, TimingClass::kStore, 0, g);
  // POP SS and POP to a segment register may change the stack size or the mode key; the
  // interrupt shadow of POP SS ends the block by itself.
  t.add(ZYDIS_MNEMONIC_POP, &select_push_pop<PickPop>, TimingClass::kLoad, 0, g);
  t.add(ZYDIS_MNEMONIC_PUSHA, &always<&pusha<2>>, TimingClass::kStore, 0, g);
  t.add(ZYDIS_MNEMONIC_PUSHAD, &always<&pusha<4>>, TimingClass::kStore, 0, g);
  t.add(ZYDIS_MNEMONIC_POPA, &always<&popa<2>>, TimingClass::kLoad, 0, g);
  t.add(ZYDIS_MNEMONIC_POPAD, &always<&popa<4>>, TimingClass::kLoad, 0, g);
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_PUSHF, ZYDIS_MNEMONIC_PUSHFD, ZYDIS_MNEMONIC_PUSHFQ})
    t.add(m, &always<&pushf>, TimingClass::kStore, 0, g);
  // POPF may set IF or TF: the core must look at pending events after it.
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_POPF, ZYDIS_MNEMONIC_POPFD, ZYDIS_MNEMONIC_POPFQ})
    t.add(m, &always<&popf>, TimingClass::kSerializing, kEnd, g);
  t.add(ZYDIS_MNEMONIC_ENTER, &always<&enter>, TimingClass::kStore, 0, g);
  t.add(ZYDIS_MNEMONIC_LEAVE, &always<&leave>, TimingClass::kLoad, 0, g);
}

}  // namespace

// LDS/LES/LFS/LGS/LSS r, m16:16/32/64: load a far pointer (offset, then selector) into a
// segment register and a general register; the segment load's checks come first.
template <unsigned Seg>
void load_far_pointer(Core& c, const DecodedOp& op) {
  const unsigned w = op.opsize;
  const uint64_t lin = c.linear(op, w + 2, false);
  const uint64_t off = c.read_sized(lin, w);
  const uint16_t sel = static_cast<uint16_t>(c.read<2>(lin + w));
  c.load_segment(Seg, sel);
  c.set_reg_sized(op.reg[0], w, off);
}

template <unsigned Seg>
ExecFn select_load_far_pointer(const DecodedOp& op) {
  return is_reg(op, 0) && is_mem(op, 1) ? &load_far_pointer<Seg> : nullptr;
}

void register_data_movement(IsaTable& t) {
  const char* g = "data_movement";
  const TimingClass kMov = TimingClass::kMov, kAlu = TimingClass::kAlu;
  t.add(ZYDIS_MNEMONIC_MOV, &select_mov, kMov, 0, g);
  t.add(ZYDIS_MNEMONIC_LDS, &select_load_far_pointer<kDs>, TimingClass::kLoad, 0, g);
  t.add(ZYDIS_MNEMONIC_LES, &select_load_far_pointer<kEs>, TimingClass::kLoad, 0, g);
  t.add(ZYDIS_MNEMONIC_LFS, &select_load_far_pointer<kFs>, TimingClass::kLoad, 0, g);
  t.add(ZYDIS_MNEMONIC_LGS, &select_load_far_pointer<kGs>, TimingClass::kLoad, 0, g);
  t.add(ZYDIS_MNEMONIC_LSS, &select_load_far_pointer<kSs>, TimingClass::kLoad, attr::kEndsBlock, g);
  t.add(ZYDIS_MNEMONIC_MOVZX, &select_movx<false>, kMov, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVSX, &select_movx<true>, kMov, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVSXD, &select_movx<true>, kMov, 0, g);
  t.add(ZYDIS_MNEMONIC_LEA, &select_lea, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_XCHG, &select_xchg, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_XADD, &select_rm_reg<XaddH>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CMPXCHG, &select_rm_reg<CmpxchgH>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CMPXCHG8B, &select_cmpxchg8b, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CMPXCHG16B, &select_cmpxchg16b, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_BSWAP, &select_bswap, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_MOVBE, &select_movbe, kMov, 0, g);
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,
                          ZYDIS_MNEMONIC_CMOVNB, ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ,
                          ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE, ZYDIS_MNEMONIC_CMOVS,
                          ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
                          ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE,
                          ZYDIS_MNEMONIC_CMOVNLE})
    t.add(m, &select_cmov, kMov, 0, g);
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,
                          ZYDIS_MNEMONIC_SETNB, ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ,
                          ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE, ZYDIS_MNEMONIC_SETS,
                          ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
                          ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE,
                          ZYDIS_MNEMONIC_SETNLE})
    t.add(m, &select_setcc, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CBW, &always<&cbw<2>>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CWDE, &always<&cbw<4>>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CDQE, &always<&cbw<8>>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CWD, &always<&cwd<2>>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CDQ, &always<&cwd<4>>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CQO, &always<&cwd<8>>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_LAHF, &always<&lahf>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_SAHF, &always<&sahf>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CLC, &always<&clc>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_STC, &always<&stc>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CMC, &always<&cmc>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_CLD, &always<&cld>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_STD, &always<&std_>, kAlu, 0, g);
  t.add(ZYDIS_MNEMONIC_XLAT, &always<&xlat>, TimingClass::kLoad, 0, g);
  register_stack_ops(t);
}

}  // namespace vmxsim::cpu
