// Handler group: control transfer — JMP, Jcc, JrCXZ, LOOPcc, CALL, RET, far transfers,
// INT n/INT3/INTO/INT1, IRET, SYSCALL/SYSRET, SYSENTER/SYSEXIT (SDM Vol. 2 and Vol. 3 §5.8).
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

// --- near transfers --------------------------------------------------------------------------

void Core::branch_near(uint64_t target, unsigned opsize) {
  if (opsize == 8) {
    if (!is_canonical(target)) raise_gp0();
  } else {
    target &= opsize == 4 ? 0xffffffffull : 0xffffull;
    if (target > s.seg[kCs].limit && !in_64bit_mode()) raise_gp0();
  }
  set_next_rip(target);
}

namespace {

void jmp_Jz(Core& c, const DecodedOp& op) { c.branch_near(c.next_rip() + op.imm, op.opsize); }
void jmp_Jz_64(Core& c, const DecodedOp& op) { c.set_next_rip(c.next_rip() + op.imm); }

template <unsigned S>
void jmp_Ev(Core& c, const DecodedOp& op) {
  c.branch_near(c.read_op<S>(op, 0), S);
}

void jcc_Jz(Core& c, const DecodedOp& op) {
  if (eval_cond(c.flags, static_cast<Cond>(op.cond))) c.branch_near(c.next_rip() + op.imm, op.opsize);
}
// 64-bit mode: a relative target that is not canonical faults; targets computed from canonical
// RIPs with 32-bit displacements are canonical except at the hole, so keep the check.
void jcc_Jz_64(Core& c, const DecodedOp& op) {
  if (eval_cond(c.flags, static_cast<Cond>(op.cond))) c.branch_near(c.next_rip() + op.imm, 8);
}

uint64_t count_reg(Core& c, unsigned addrsize) {
  return addrsize == 8 ? c.s.gpr[kRcx] : addrsize == 4 ? (c.s.gpr[kRcx] & 0xffffffff) : (c.s.gpr[kRcx] & 0xffff);
}

void jrcxz(Core& c, const DecodedOp& op) {
  if (count_reg(c, op.addrsize) == 0) c.branch_near(c.next_rip() + op.imm, op.opsize);
}

// LOOP/LOOPE/LOOPNE: op.cond 0 = LOOP, 1 = LOOPE (ZF=1), 2 = LOOPNE (ZF=0).
template <int Kind>
void loop_Jb(Core& c, const DecodedOp& op) {
  const uint64_t n = count_reg(c, op.addrsize) - 1;
  c.set_reg_sized(kRcx, op.addrsize, n);
  const uint64_t masked = op.addrsize == 8 ? n : op.addrsize == 4 ? (n & 0xffffffff) : (n & 0xffff);
  bool take = masked != 0;
  if (Kind == 1) take = take && c.flags.zf();
  if (Kind == 2) take = take && !c.flags.zf();
  if (take) c.branch_near(c.next_rip() + op.imm, op.opsize);
}

void call_Jz(Core& c, const DecodedOp& op) {
  const uint64_t target = c.next_rip() + op.imm;
  const uint64_t ret = c.next_rip();
  c.push(ret, op.opsize);
  c.branch_near(target, op.opsize);
}

template <unsigned S>
void call_Ev(Core& c, const DecodedOp& op) {
  const uint64_t target = c.read_op<S>(op, 0);
  c.push(c.next_rip(), S);
  c.branch_near(target, S);
}

void ret_near(Core& c, const DecodedOp& op) {
  const uint64_t target = c.pop(op.opsize);
  if (op.kind[0] == OpKind::kImm)
    c.set_stack_pointer(c.stack_pointer() + (op.imm & 0xffff));
  c.branch_near(target, op.opsize);
}

// --- far transfers ---------------------------------------------------------------------------

void far_ptr(Core& c, const DecodedOp& op, uint16_t& sel, uint64_t& off) {
  if (op.kind[0] == OpKind::kPtr) {
    sel = op.imm16;
    off = op.imm;
    return;
  }
  if (op.kind[0] != OpKind::kMem) c.raise_ud();
  const unsigned w = op.opsize;
  const uint64_t lin = c.linear(op, w + 2, false);
  off = c.read_sized(lin, w);
  sel = static_cast<uint16_t>(c.read<2>((lin + w)));
}

void jmp_far(Core& c, const DecodedOp& op) {
  uint16_t sel;
  uint64_t off;
  far_ptr(c, op, sel, off);
  c.far_jump(sel, off, op.opsize);
}

void call_far(Core& c, const DecodedOp& op) {
  uint16_t sel;
  uint64_t off;
  far_ptr(c, op, sel, off);
  c.far_call(sel, off, op.opsize);
}

void ret_far(Core& c, const DecodedOp& op) {
  c.far_return(op.opsize, op.kind[0] == OpKind::kImm ? static_cast<uint16_t>(op.imm) : 0);
}

// --- software interrupts ------------------------------------------------------------------------

// In VMX non-root operation a software exception may exit through the exception bitmap, and
// the delivery of any software event is recorded for the IDT-vectoring information.
void software_event(Core& c, uint8_t vector, uint32_t type, bool software) {
  if (VMXSIM_UNLIKELY(c.vmx_nonroot())) {
    if (type != vmx::intr::kSoftwareInterrupt &&
        c.vmx().exception_exits(vector, false, 0, 0, true, type))
      throw vmx::VmxTransition{false};
    c.vmx().begin_delivery(vector, type, false, 0);
  }
  c.deliver_event(vector, false, 0, software, c.next_rip());
  if (VMXSIM_UNLIKELY(c.vmx_nonroot())) c.vmx().end_delivery();
}

void int_Ib(Core& c, const DecodedOp& op) {
  if (c.v86_mode() && ((c.rflags() & rflags::kIoplMask) >> rflags::kIoplShift) < 3) c.raise_gp0();
  software_event(c, static_cast<uint8_t>(op.imm), vmx::intr::kSoftwareInterrupt, true);
}
void int3(Core& c, const DecodedOp&) { software_event(c, kBp, vmx::intr::kSoftwareException, true); }
void into(Core& c, const DecodedOp&) {
  if (c.flags.of()) software_event(c, kOf, vmx::intr::kSoftwareException, true);
}
// INT1 (ICEBP) delivers #DB like a hardware event: no DPL check (SDM INT n), DR6 unchanged,
// after the instruction (trap-like). Debug traps a preceding MOV SS deferred are subsumed, and
// there is no single-step trap after it (the delivery clears TF).
void int1(Core& c, const DecodedOp&) {
  c.discard_pending_debug();
  c.set_step_rule(StepRule::kSuppress);
  software_event(c, kDb, vmx::intr::kPrivilegedSoftwareException, false);
}
void iret(Core& c, const DecodedOp& op) { c.iret(op.opsize); }

// ENDBR32/ENDBR64 mark indirect-branch targets for CET; without CET enabled they are NOPs.
void endbr(Core&, const DecodedOp&) {}

// --- fast system calls --------------------------------------------------------------------------

Segment flat_segment(uint16_t sel, unsigned dpl, bool code, bool l, bool db) {
  Segment sg;
  sg.selector = sel;
  sg.base = 0;
  sg.limit = 0xffffffff;
  sg.ar = ar::kP | ar::kS | ar::kG | (dpl << ar::kDplShift) | ar::kAccessed |
          (code ? (ar::kCodeBit | ar::kCodeReadable) : ar::kDataWritable) | (l ? ar::kL : 0) |
          (db ? ar::kDb : 0);
  return sg;
}

// SYSCALL: Intel allows it only in 64-bit mode; AMD also in compatibility mode, entering at
// CSTAR (the vendor is a CPU-profile key, kvm-unit-tests' syscall test runs as AMD).
void syscall(Core& c, const DecodedOp&) {
  if (!(c.s.efer & efer::kSce) || !c.long_mode()) c.raise_ud();
  const bool from64 = c.in_64bit_mode();
  if (!from64 && !c.params().syscall_in_compat_mode) c.raise_ud();
  c.s.gpr[kRcx] = c.next_rip();
  c.s.gpr[kR11] = c.rflags() & ~rflags::kRf;
  const uint16_t sel = static_cast<uint16_t>((c.s.star >> 32) & 0xfffc);
  c.s.seg[kCs] = flat_segment(sel, 0, true, true, false);
  c.s.seg[kSs] = flat_segment(static_cast<uint16_t>(sel + 8), 0, false, false, true);
  c.set_rflags(c.rflags() & ~(c.s.fmask | rflags::kRf));
  c.set_cpl(0);
  c.mode_changed();
  c.set_next_rip(from64 ? c.s.lstar : c.s.cstar);
  c.set_step_rule(StepRule::kAfterIfTf);
}

void sysret(Core& c, const DecodedOp& op) {
  if (!(c.s.efer & efer::kSce) || !c.in_64bit_mode()) c.raise_ud();
  if (c.cpl() != 0) c.raise_gp0();
  const bool to64 = op.attrs & attr::kRexW;
  const uint64_t rip = c.s.gpr[kRcx];
  if (to64 && !is_canonical(rip)) c.raise_gp0();
  const uint16_t base = static_cast<uint16_t>(c.s.star >> 48);
  const uint16_t cs = static_cast<uint16_t>(((to64 ? base + 16 : base) & 0xfffc) | 3);
  c.s.seg[kCs] = flat_segment(cs, 3, true, to64, !to64);
  // SS keeps its descriptor-independent flat attributes (SDM SYSRET).
  c.s.seg[kSs] = flat_segment(static_cast<uint16_t>(((base + 8) & 0xfffc) | 3), 3, false, false, true);
  c.set_rflags((c.s.gpr[kR11] & 0x3c7fd7) | rflags::kFixed1);
  c.set_cpl(3);
  c.mode_changed();
  c.set_next_rip(to64 ? rip : (rip & 0xffffffff));
  c.set_step_rule(StepRule::kAfterIfTf);
}

void sysenter(Core& c, const DecodedOp&) {
  if (!c.protected_mode() || (c.s.sysenter_cs & 0xfffc) == 0) c.raise_gp0();
  const bool lm = c.long_mode();
  const uint16_t sel = static_cast<uint16_t>(c.s.sysenter_cs & 0xfffc);
  c.set_rflags(c.rflags() & ~(rflags::kVm | rflags::kIf | rflags::kRf));
  c.s.seg[kCs] = flat_segment(sel, 0, true, lm, !lm);
  c.s.seg[kSs] = flat_segment(static_cast<uint16_t>(sel + 8), 0, false, false, true);
  c.set_cpl(0);
  c.mode_changed();
  c.s.gpr[kRsp] = lm ? c.s.sysenter_esp : (c.s.sysenter_esp & 0xffffffff);
  c.set_next_rip(lm ? c.s.sysenter_eip : (c.s.sysenter_eip & 0xffffffff));
  c.set_step_rule(StepRule::kAfterIfTf);
}

void sysexit(Core& c, const DecodedOp& op) {
  if (!c.protected_mode() || (c.s.sysenter_cs & 0xfffc) == 0 || c.cpl() != 0) c.raise_gp0();
  const bool to64 = op.attrs & attr::kRexW;
  const uint16_t base = static_cast<uint16_t>(c.s.sysenter_cs);
  const uint16_t cs = static_cast<uint16_t>(((base + (to64 ? 32 : 16)) & 0xfffc) | 3);
  const uint16_t ss = static_cast<uint16_t>(((base + (to64 ? 40 : 24)) & 0xfffc) | 3);
  c.s.seg[kCs] = flat_segment(cs, 3, true, to64, !to64);
  c.s.seg[kSs] = flat_segment(ss, 3, false, false, true);
  c.set_cpl(3);
  c.mode_changed();
  c.s.gpr[kRsp] = to64 ? c.s.gpr[kRcx] : (c.s.gpr[kRcx] & 0xffffffff);
  c.set_next_rip(to64 ? c.s.gpr[kRdx] : (c.s.gpr[kRdx] & 0xffffffff));
  c.set_step_rule(StepRule::kAfterIfTf);
}

// --- selectors ------------------------------------------------------------------------------------

ExecFn select_jmp(const DecodedOp& op) {
  if (op.attrs & attr::kFar) return &jmp_far;
  if (op.kind[0] == OpKind::kImm) return op.opsize == 8 ? &jmp_Jz_64 : &jmp_Jz;
  return VMXSIM_BY_SIZE_V(jmp_Ev, op.opsize);
}
ExecFn select_jcc(const DecodedOp& op) { return op.opsize == 8 ? &jcc_Jz_64 : &jcc_Jz; }
ExecFn select_call(const DecodedOp& op) {
  if (op.attrs & attr::kFar) return &call_far;
  if (op.kind[0] == OpKind::kImm) return &call_Jz;
  return VMXSIM_BY_SIZE_V(call_Ev, op.opsize);
}
ExecFn select_ret(const DecodedOp& op) { return (op.attrs & attr::kFar) ? &ret_far : &ret_near; }

template <ExecFn F>
ExecFn always(const DecodedOp&) { return F; }

}  // namespace

// --- far transfer bodies (Core members) ---------------------------------------------------------

namespace {
// The instruction pointer of a far transfer to a 16- or 32-bit code segment: a 16-bit operand
// size keeps IP, 32 and 64 (REX.W, from 64-bit mode into compatibility mode) keep EIP.
uint64_t ip_of(uint64_t off, unsigned opsize) { return off & (opsize == 2 ? 0xffffull : 0xffffffffull); }
}  // namespace

void Core::far_jump(uint16_t sel, uint64_t off, unsigned opsize) {
  if (!protected_mode() || v86_mode()) {
    Segment cs = s.seg[kCs];
    cs.selector = sel;
    cs.base = static_cast<uint64_t>(sel) << 4;
    set_segment(kCs, cs);
    set_next_rip(ip_of(off, opsize));
    return;
  }
  const uint32_t err = sel & 0xfffc;
  if (err == 0) raise_gp0();
  const uint64_t desc = read_descriptor(sel, kGp);
  Segment cs = segment_from_descriptor(sel, desc);
  if (!(cs.ar & ar::kS) || !(cs.ar & ar::kCodeBit)) raise(kGp, err);  // gates/TSS: not modelled
  const unsigned dpl = (cs.ar >> ar::kDplShift) & 3;
  if (cs.ar & ar::kCodeConforming) {
    if (dpl > m_cpl) raise(kGp, err);
  } else if ((sel & 3) > m_cpl || dpl != m_cpl) {
    raise(kGp, err);
  }
  if (!(cs.ar & ar::kP)) raise(kNp, err);
  if (long_mode() && (cs.ar & ar::kL) && (cs.ar & ar::kDb)) raise(kGp, err);
  const bool to64 = long_mode() && (cs.ar & ar::kL);
  if (!to64) {
    off = ip_of(off, opsize);
    if (off > cs.limit) raise_gp0();
  }
  cs.selector = static_cast<uint16_t>((sel & 0xfffc) | m_cpl);
  cs.ar |= ar::kAccessed;
  set_segment(kCs, cs);
  set_next_rip(off);
  m_break_block = true;
}

void Core::far_call(uint16_t sel, uint64_t off, unsigned opsize) {
  const uint16_t old_cs = s.seg[kCs].selector;
  const uint64_t ret = next_rip();
  if (!protected_mode() || v86_mode()) {
    push(old_cs, opsize);
    push(ret, opsize);
    far_jump(sel, off, opsize);
    return;
  }
  // Check the target before pushing so that a fault leaves the stack untouched.
  const uint64_t sp = stack_pointer();
  const uint64_t desc = (sel & 0xfffc) ? read_descriptor(sel, kGp) : 0;
  if ((sel & 0xfffc) == 0) raise_gp0();
  (void)desc;
  push(old_cs, opsize);
  push(ret, opsize);
  try {
    far_jump(sel, off, opsize);
  } catch (...) {
    set_stack_pointer(sp);
    throw;
  }
}

void Core::far_return(unsigned opsize, uint16_t pop_bytes) {
  const uint64_t off = pop(opsize);
  const uint16_t sel = static_cast<uint16_t>(pop(opsize));
  if (!protected_mode() || v86_mode()) {
    Segment cs = s.seg[kCs];
    cs.selector = sel;
    cs.base = static_cast<uint64_t>(sel) << 4;
    set_segment(kCs, cs);
    set_stack_pointer(stack_pointer() + pop_bytes);
    set_next_rip(ip_of(off, opsize));
    return;
  }
  const uint32_t err = sel & 0xfffc;
  if (err == 0) raise_gp0();
  const unsigned rpl = sel & 3;
  if (rpl < m_cpl) raise(kGp, err);
  const uint64_t desc = read_descriptor(sel, kGp);
  Segment cs = segment_from_descriptor(sel, desc);
  const unsigned dpl = (cs.ar >> ar::kDplShift) & 3;
  if (!(cs.ar & ar::kS) || !(cs.ar & ar::kCodeBit)) raise(kGp, err);
  if ((cs.ar & ar::kCodeConforming) ? dpl > rpl : dpl != rpl) raise(kGp, err);
  if (!(cs.ar & ar::kP)) raise(kNp, err);
  const bool to64 = long_mode() && (cs.ar & ar::kL);
  const uint64_t new_ip = to64 ? off : ip_of(off, opsize);
  if (!to64 && new_ip > cs.limit) raise_gp0();
  set_stack_pointer(stack_pointer() + pop_bytes);
  if (rpl > m_cpl) {
    // Return to an outer privilege level: pop SS:RSP too (SDM RET, RETURN-TO-OUTER).
    const uint64_t new_sp = pop(opsize);
    const uint16_t ss_sel = static_cast<uint16_t>(pop(opsize));
    cs.selector = sel;
    cs.ar |= ar::kAccessed;
    s.seg[kCs] = cs;
    m_cpl = rpl;
    mode_changed();
    load_segment(kSs, ss_sel);
    set_stack_pointer(new_sp + pop_bytes);
  } else {
    cs.selector = sel;
    cs.ar |= ar::kAccessed;
    set_segment(kCs, cs);
  }
  set_next_rip(new_ip);
  m_break_block = true;
}

void register_control_transfer(IsaTable& t) {
  constexpr uint16_t kEnd = attr::kEndsBlock;
  const char* g = "control_transfer";
  t.add(ZYDIS_MNEMONIC_JMP, &select_jmp, TimingClass::kBranch, kEnd, g);
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
                          ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
                          ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
                          ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE})
    t.add(m, &select_jcc, TimingClass::kBranch, kEnd, g);
  t.add(ZYDIS_MNEMONIC_JCXZ, &always<&jrcxz>, TimingClass::kBranch, kEnd, g);
  t.add(ZYDIS_MNEMONIC_JECXZ, &always<&jrcxz>, TimingClass::kBranch, kEnd, g);
  t.add(ZYDIS_MNEMONIC_JRCXZ, &always<&jrcxz>, TimingClass::kBranch, kEnd, g);
  t.add(ZYDIS_MNEMONIC_LOOP, &always<&loop_Jb<0>>, TimingClass::kBranch, kEnd, g);
  t.add(ZYDIS_MNEMONIC_LOOPE, &always<&loop_Jb<1>>, TimingClass::kBranch, kEnd, g);
  t.add(ZYDIS_MNEMONIC_LOOPNE, &always<&loop_Jb<2>>, TimingClass::kBranch, kEnd, g);
  t.add(ZYDIS_MNEMONIC_CALL, &select_call, TimingClass::kCall, kEnd, g);
  t.add(ZYDIS_MNEMONIC_RET, &select_ret, TimingClass::kCall, kEnd, g);
  t.add(ZYDIS_MNEMONIC_INT, &always<&int_Ib>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_INT3, &always<&int3>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_INTO, &always<&into>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_INT1, &always<&int1>, TimingClass::kSystem, kEnd, g);
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_IRET, ZYDIS_MNEMONIC_IRETD, ZYDIS_MNEMONIC_IRETQ})
    t.add(m, &always<&iret>, TimingClass::kSerializing, kEnd, g);
  t.add(ZYDIS_MNEMONIC_ENDBR32, &always<&endbr>, TimingClass::kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_ENDBR64, &always<&endbr>, TimingClass::kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_SYSCALL, &always<&syscall>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_SYSRET, &always<&sysret>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_SYSENTER, &always<&sysenter>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_SYSEXIT, &always<&sysexit>, TimingClass::kSystem, kEnd, g);
}

}  // namespace vmxsim::cpu
