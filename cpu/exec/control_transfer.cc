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
// The count is written after the branch target passed its checks (a #GP leaves rCX as it was).
template <int Kind>
void loop_Jb(Core& c, const DecodedOp& op) {
  const uint64_t n = count_reg(c, op.addrsize) - 1;
  const uint64_t masked = op.addrsize == 8 ? n : op.addrsize == 4 ? (n & 0xffffffff) : (n & 0xffff);
  bool take = masked != 0;
  if (Kind == 1) take = take && c.flags.zf();
  if (Kind == 2) take = take && !c.flags.zf();
  if (take) c.branch_near(c.next_rip() + op.imm, op.opsize);
  c.set_reg_sized(kRcx, op.addrsize, n);
}

// CALL and RET check the target (canonical, within CS) before the stack changes (SDM CALL,
// RET: #GP(0) with rSP as before); the next RIP is not architectural state until the handler
// returns, so it may be set before the push that can still fault.
void call_Jz(Core& c, const DecodedOp& op) {
  const uint64_t ret = c.next_rip();
  c.branch_near(ret + op.imm, op.opsize);
  c.push(ret, op.opsize);
}

template <unsigned S>
void call_Ev(Core& c, const DecodedOp& op) {
  const uint64_t ret = c.next_rip();
  c.branch_near(c.read_op<S>(op, 0), S);
  c.push(ret, S);
}

void ret_near(Core& c, const DecodedOp& op) {
  const uint64_t sp = c.stack_pointer();
  c.branch_near(c.read_sized(c.stack_linear(sp, op.opsize, false), op.opsize), op.opsize);
  c.set_stack_pointer(sp + op.opsize + (op.kind[0] == OpKind::kImm ? (op.imm & 0xffff) : 0));
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

namespace {

// Where a far JMP or CALL goes: CS with its hidden part and the new RIP.
struct FarTarget {
  Segment cs;
  uint64_t ip;
  bool prot;  // through a descriptor (protected mode): the block ends at the instruction
};

// The target of a far JMP/CALL, checked but not loaded (SDM JMP, CALL): in real-address and
// virtual-8086 mode the selector is a paragraph; in protected mode it must name a code segment
// the current privilege level may jump to (call gates, task gates and TSS descriptors are not
// modelled: #GP(selector)).
FarTarget far_target(Core& c, uint16_t sel, uint64_t off, unsigned opsize) {
  FarTarget t;
  if (!c.protected_mode() || c.v86_mode()) {
    t.cs = c.s.seg[kCs];
    t.cs.selector = sel;
    t.cs.base = static_cast<uint64_t>(sel) << 4;
    t.ip = ip_of(off, opsize);
    t.prot = false;
    return t;
  }
  const unsigned cpl = c.cpl();
  const uint32_t err = sel & 0xfffc;
  if (err == 0) c.raise_gp0();
  const uint64_t desc = c.read_descriptor(sel, kGp);
  Segment cs = Core::segment_from_descriptor(sel, desc);
  if (!(cs.ar & ar::kS) || !(cs.ar & ar::kCodeBit)) c.raise(kGp, err);
  const unsigned dpl = (cs.ar >> ar::kDplShift) & 3;
  if (cs.ar & ar::kCodeConforming) {
    if (dpl > cpl) c.raise(kGp, err);
  } else if ((sel & 3) > cpl || dpl != cpl) {
    c.raise(kGp, err);
  }
  if (!(cs.ar & ar::kP)) c.raise(kNp, err);
  if (c.long_mode() && (cs.ar & ar::kL) && (cs.ar & ar::kDb)) c.raise(kGp, err);
  const bool to64 = c.long_mode() && (cs.ar & ar::kL);
  if (!to64) {
    off = ip_of(off, opsize);
    if (off > cs.limit) c.raise_gp0();
  }
  cs.selector = static_cast<uint16_t>((sel & 0xfffc) | cpl);
  cs.ar |= ar::kAccessed;
  t.cs = cs;
  t.ip = off;
  t.prot = true;
  return t;
}

}  // namespace

void Core::far_jump(uint16_t sel, uint64_t off, unsigned opsize) {
  const FarTarget t = far_target(*this, sel, off, opsize);
  set_segment(kCs, t.cs);
  set_next_rip(t.ip);
  if (t.prot) m_break_block = true;
}

// The target is checked and both return-address slots are probed before anything is written:
// a fault leaves the stack, rSP and CS as they were (SDM CALL, and Vol. 3 §6.5).
void Core::far_call(uint16_t sel, uint64_t off, unsigned opsize) {
  const FarTarget t = far_target(*this, sel, off, opsize);
  const uint64_t sp = stack_pointer(), mask = stack_mask();
  const uint64_t lin_cs = stack_linear((sp - opsize) & mask, opsize, true);
  const uint64_t lin_ip = stack_linear((sp - 2 * opsize) & mask, opsize, true);
  probe_write(lin_cs, opsize);
  probe_write(lin_ip, opsize);
  write_sized(lin_cs, opsize, s.seg[kCs].selector);
  write_sized(lin_ip, opsize, next_rip());
  set_stack_pointer(sp - 2 * opsize);  // at the caller's stack-address size
  set_segment(kCs, t.cs);
  set_next_rip(t.ip);
  if (t.prot) m_break_block = true;
}

// Every stack slot and descriptor is read and checked before anything changes: a fault (or a
// VM exit for an EPT violation on the GDT) restarts the instruction with the return address
// still on the stack (SDM RET, and Vol. 3 §6.5).
void Core::far_return(unsigned opsize, uint16_t pop_bytes) {
  const uint64_t sp = stack_pointer();
  const uint64_t off = stack_read(0, opsize);
  const uint16_t sel = static_cast<uint16_t>(stack_read(opsize, opsize));
  if (!protected_mode() || v86_mode()) {
    Segment cs = s.seg[kCs];
    cs.selector = sel;
    cs.base = static_cast<uint64_t>(sel) << 4;
    set_segment(kCs, cs);
    set_stack_pointer(sp + 2 * opsize + pop_bytes);
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
  cs.selector = sel;
  cs.ar |= ar::kAccessed;
  if (rpl > m_cpl) {
    // Return to an outer privilege level: SS:rSP above the parameters, SS checked at the new CPL
    // (SDM RET, RETURN-TO-OUTER-PRIVILEGE-LEVEL).
    const uint64_t new_sp = stack_read(2 * opsize + pop_bytes, opsize);
    const uint16_t ss_sel = static_cast<uint16_t>(stack_read(3 * opsize + pop_bytes, opsize));
    uint64_t ss_desc;
    const Segment ss = check_segment_load(kSs, ss_sel, rpl, to64, ss_desc);
    mark_descriptor_accessed(ss_sel, ss_desc);
    s.seg[kCs] = cs;
    m_cpl = rpl;
    mode_changed();
    set_segment(kSs, ss);
    set_stack_pointer(new_sp + pop_bytes);
  } else {
    set_stack_pointer(sp + 2 * opsize + pop_bytes);  // at the stack-address size before CS changes
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
