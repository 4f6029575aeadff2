// Handler group: system instructions — CLI/STI, HLT, MOV to/from CR and DR, CLTS, LMSW/SMSW,
// descriptor-table loads and stores, LLDT/LTR/SLDT/STR, LAR/LSL/VERR/VERW, ARPL, RDMSR/WRMSR,
// IN/OUT, INVLPG, INVPCID, WBINVD/INVD, SWAPGS, RDFSBASE/WRFSBASE family (SDM Vol. 2, Vol. 3).
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

void Core::check_io_permission(uint16_t port, unsigned size) {
  const unsigned iopl = (m_rflags_other & rflags::kIoplMask) >> rflags::kIoplShift;
  if (!protected_mode() || (!v86_mode() && m_cpl <= iopl)) return;
  // The TSS I/O permission bitmap (SDM Vol. 1 §19.5.2): a 32/64-bit TSS with the map base at
  // offset 0x66; every bit for the accessed ports must be clear and inside the TSS limit.
  const unsigned type = s.tr.ar & 0xf;
  if ((type != 9 && type != 11) || s.tr.limit < 0x67) raise_gp0();
  const uint32_t map_base = static_cast<uint32_t>(read_system(s.tr.base + 0x66, 2));
  const uint32_t byte = map_base + port / 8;
  if (byte + 1 > s.tr.limit) raise_gp0();
  const uint32_t bits = static_cast<uint32_t>(read_system(s.tr.base + byte, 2));
  const uint32_t mask = ((1u << size) - 1) << (port & 7);
  if (bits & mask) raise_gp0();
}

namespace {

unsigned iopl(const Core& c) { return (c.rflags() & rflags::kIoplMask) >> rflags::kIoplShift; }

void cli(Core& c, const DecodedOp&) {
  if (c.protected_mode() && iopl(c) < c.cpl()) c.raise_gp0();
  c.set_rflags(c.rflags() & ~rflags::kIf);
}
void sti(Core& c, const DecodedOp&) {
  if (c.protected_mode() && iopl(c) < c.cpl()) c.raise_gp0();
  const bool was_set = c.rflags() & rflags::kIf;
  c.set_rflags(c.rflags() | rflags::kIf);
  if (!was_set) c.set_interrupt_shadow();  // STI blocks interrupts for one instruction
}
void hlt(Core& c, const DecodedOp&) {
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_hlt()) return;
  c.halt();
}

// MOV r64, CRn / MOV CRn, r64: operands are always 32 bits outside 64-bit mode.
void mov_Rd_Cd(Core& c, const DecodedOp& op) {
  c.require_cpl0();
  uint64_t v;
  switch (op.reg[1]) {
    case 0: v = c.s.cr0; break;
    case 2: v = c.s.cr2; break;
    case 3: v = c.s.cr3; break;
    case 4: v = c.s.cr4; break;
    case 8: v = c.read_cr8(); break;
    default: c.raise_ud();
  }
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && op.reg[1] != 2) {
    v = c.vmx().on_mov_from_cr(op.reg[1], op.reg[0]);
    if (c.context_switched()) return;
  }
  c.set_reg_sized(op.reg[0], c.in_64bit_mode() ? 8 : 4, v);
}
void mov_Cd_Rd(Core& c, const DecodedOp& op) {
  c.require_cpl0();
  uint64_t v = c.reg_sized(op.reg[1], c.in_64bit_mode() ? 8 : 4);
  if (op.reg[0] != 0 && op.reg[0] != 2 && op.reg[0] != 3 && op.reg[0] != 4 && op.reg[0] != 8) c.raise_ud();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && op.reg[0] != 2) {
    v = c.vmx().on_mov_to_cr(op.reg[0], v, op.reg[1]);
    if (c.context_switched()) return;
    if (op.reg[0] == 8 && !(v >> 4) && c.vmx().virtual_cr8_write(v)) return;  // TPR shadow
  }
  switch (op.reg[0]) {
    case 0: c.write_cr0(c.in_64bit_mode() ? v : (v & 0xffffffff)); break;
    case 2: c.s.cr2 = v; break;
    case 3: c.write_cr3(v); break;
    case 4: c.write_cr4(v); break;
    case 8: c.write_cr8(v); break;
    default: c.raise_ud();
  }
}

unsigned debug_reg(Core& c, unsigned n) {
  if (n == 4 || n == 5) {
    if (c.s.cr4 & cr4::kDe) c.raise_ud();
    return n + 2;
  }
  if (n > 7) c.raise_ud();
  return n;
}
// MOV from/to DRn (SDM Vol. 2 MOV—Move to/from Debug Registers): #GP at CPL > 0, #UD for
// DR4/DR5 with CR4.DE, then #DB (general detect) while DR7.GD is set.
void mov_Rd_Dd(Core& c, const DecodedOp& op) {
  c.require_cpl0();
  const unsigned n = debug_reg(c, op.reg[1]);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_mov_dr(op.reg[1], false, op.reg[0])) return;
  c.check_general_detect();
  c.set_reg_sized(op.reg[0], c.in_64bit_mode() ? 8 : 4, c.s.dr[n]);
}
void mov_Dd_Rd(Core& c, const DecodedOp& op) {
  c.require_cpl0();
  const unsigned n = debug_reg(c, op.reg[0]);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_mov_dr(op.reg[0], true, op.reg[1])) return;
  c.check_general_detect();
  uint64_t v = c.reg_sized(op.reg[1], c.in_64bit_mode() ? 8 : 4);
  if ((n == 6 || n == 7) && (v >> 32)) c.raise_gp0();
  // DR6: B0-B3, BD, BS, BT writable; RTM (bit 16, no RTM support) and the other reserved bits
  // read as 1 (SDM §17.2.3). DR7: bits 11, 12, 14, 15 read as 0, bit 10 as 1.
  if (n == 6) v = (v & 0xe00f) | dr6::kFixed1;
  if (n == 7) v = (v & ~0xd800ull) | dr7::kFixed1;
  c.s.dr[n] = v;
  if (n != 6) c.debug_regs_changed();
}

void clts(Core& c, const DecodedOp&) {
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_clts()) return;  // TS is the host's
  c.s.cr0 &= ~cr0::kTs;
}
void lmsw(Core& c, const DecodedOp& op) {
  c.require_cpl0();
  const uint64_t v = c.read_op<2>(op, 0);
  uint64_t keep = 0;  // CR0 bits the VMM owns (guest/host mask) keep their values
  if (VMXSIM_UNLIKELY(c.vmx_nonroot())) {
    keep = c.vmx().on_lmsw(static_cast<uint16_t>(v), op.kind[0] == OpKind::kMem,
                           op.kind[0] == OpKind::kMem ? c.linear(op, 2, false) : 0);
    if (c.context_switched()) return;
  }
  // LMSW loads PE, MP, EM, TS; it can set PE but never clear it.
  uint64_t nv = (c.s.cr0 & ~0xeull) | (v & 0xf) | (c.s.cr0 & cr0::kPe);
  nv = (nv & ~keep) | (c.s.cr0 & keep);
  c.write_cr0(nv);
}
void umip_check(Core& c) {
  if ((c.s.cr4 & cr4::kUmip) && c.cpl() > 0) c.raise_gp0();
}
void smsw(Core& c, const DecodedOp& op) {
  umip_check(c);
  const uint64_t cr0v = VMXSIM_UNLIKELY(c.vmx_nonroot()) ? c.vmx().guest_visible_cr0(c.s.cr0) : c.s.cr0;
  if (op.kind[0] == OpKind::kReg)
    c.set_reg_sized(op.reg[0], op.opsize, cr0v & (op.opsize == 2 ? 0xffff : ~0ull));
  else
    c.write<2>(c.linear(op, 2, true), cr0v);
}

// LGDT/LIDT/SGDT/SIDT: 6 bytes outside 64-bit mode (base truncated to 24 bits with a 16-bit
// operand), 10 bytes in 64-bit mode.
template <bool Idt>
void lxdt(Core& c, const DecodedOp& op) {
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_desc_table(true, Idt ? 3 : 2, op)) return;
  const unsigned bsize = c.in_64bit_mode() ? 8 : 4;
  const uint64_t lin = c.linear(op, 2 + bsize, false);
  const uint16_t limit = static_cast<uint16_t>(c.read<2>(lin));
  uint64_t base = c.read_sized(lin + 2, bsize);
  if (!c.in_64bit_mode() && op.opsize == 2) base &= 0xffffff;
  if (c.in_64bit_mode() && !is_canonical(base)) c.raise_gp0();
  DescriptorTable& t = Idt ? c.s.idtr : c.s.gdtr;
  t.base = base;
  t.limit = limit;
}
template <bool Idt>
void sxdt(Core& c, const DecodedOp& op) {
  umip_check(c);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_desc_table(true, Idt ? 1 : 0, op)) return;
  const unsigned bsize = c.in_64bit_mode() ? 8 : 4;
  const uint64_t lin = c.linear(op, 2 + bsize, true);
  const DescriptorTable& t = Idt ? c.s.idtr : c.s.gdtr;
  c.probe_write(lin, 2 + bsize);
  c.write<2>(lin, t.limit);
  c.write_sized(lin + 2, bsize, t.base);
}

void lldt(Core& c, const DecodedOp& op) {
  if (!c.protected_mode() || c.v86_mode()) c.raise_ud();
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_desc_table(false, 2, op)) return;
  const uint16_t sel = static_cast<uint16_t>(c.read_op<2>(op, 0));
  if ((sel & 0xfffc) == 0) {
    c.s.ldtr = Segment{};
    c.s.ldtr.selector = sel;
    c.s.ldtr.ar = ar::kUnusable;
    return;
  }
  if (sel & 4) c.raise(kGp, sel & 0xfffc);
  const uint64_t d = c.read_descriptor(sel, kGp);
  Segment sg = Core::segment_from_descriptor(sel, d);
  if ((sg.ar & ar::kS) || (sg.ar & 0xf) != 2) c.raise(kGp, sel & 0xfffc);
  if (!(sg.ar & ar::kP)) c.raise(kNp, sel & 0xfffc);
  if (c.long_mode()) sg.base |= c.read_system(c.s.gdtr.base + (sel & 0xfff8) + 8, 4) << 32;
  c.s.ldtr = sg;
}

void ltr(Core& c, const DecodedOp& op) {
  if (!c.protected_mode() || c.v86_mode()) c.raise_ud();
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_desc_table(false, 3, op)) return;
  const uint16_t sel = static_cast<uint16_t>(c.read_op<2>(op, 0));
  if ((sel & 0xfffc) == 0 || (sel & 4)) c.raise(kGp, sel & 0xfffc);
  const uint64_t d = c.read_descriptor(sel, kGp);
  Segment sg = Core::segment_from_descriptor(sel, d);
  const unsigned type = sg.ar & 0xf;
  // An available TSS: 16-bit (1) only outside long mode, 32/64-bit (9).
  if ((sg.ar & ar::kS) || !(type == 9 || (type == 1 && !c.long_mode()))) c.raise(kGp, sel & 0xfffc);
  if (!(sg.ar & ar::kP)) c.raise(kNp, sel & 0xfffc);
  if (c.long_mode()) sg.base |= c.read_system(c.s.gdtr.base + (sel & 0xfff8) + 8, 4) << 32;
  // Mark busy in the descriptor and the cache.
  c.write_system(c.s.gdtr.base + (sel & 0xfff8) + 5, 1, ((d >> 40) & 0xff) | 2);
  sg.ar |= 2;
  c.s.tr = sg;
}

template <bool Tr>
void sxtr(Core& c, const DecodedOp& op) {
  if (!c.protected_mode() || c.v86_mode()) c.raise_ud();
  umip_check(c);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_desc_table(false, Tr ? 1 : 0, op)) return;
  const uint16_t sel = Tr ? c.s.tr.selector : c.s.ldtr.selector;
  if (op.kind[0] == OpKind::kReg)
    c.set_reg_sized(op.reg[0], op.opsize, sel);  // register form zero-extends
  else
    c.write<2>(c.linear(op, 2, true), sel);
}

// LAR/LSL/VERR/VERW: probe a selector; ZF reports success (SDM Vol. 2).
bool probe_selector(Core& c, uint16_t sel, uint64_t& desc) {
  if ((sel & 0xfffc) == 0) return false;
  const uint64_t base = (sel & 4) ? c.s.ldtr.base : c.s.gdtr.base;
  const uint32_t limit = (sel & 4) ? c.s.ldtr.limit : c.s.gdtr.limit;
  if ((sel & 4) && (c.s.ldtr.ar & ar::kUnusable)) return false;
  if ((sel & 0xfff8) + 7u > limit) return false;
  desc = c.read_system(base + (sel & 0xfff8), 8);
  return true;
}
bool visible(const Core& c, uint16_t sel, uint64_t desc) {
  const unsigned dpl = (desc >> 45) & 3;
  const bool code = (desc >> 43) & 1, s = (desc >> 44) & 1, conforming = (desc >> 42) & 1;
  if (s && code && conforming) return true;
  return dpl >= c.cpl() && dpl >= (sel & 3u);
}
template <bool Lsl>
void lar_lsl(Core& c, const DecodedOp& op) {
  if (!c.protected_mode() || c.v86_mode()) c.raise_ud();
  const uint16_t sel = static_cast<uint16_t>(op.kind[1] == OpKind::kReg ? c.reg<2>(op.reg[1]) : c.read<2>(c.linear(op, 2, false)));
  uint64_t d = 0;
  bool ok = probe_selector(c, sel, d) && visible(c, sel, d);
  if (ok && !((d >> 44) & 1)) {
    // System descriptors allowed: LAR: LDT, TSS (avail/busy), call gates; LSL: no gates.
    const unsigned type = (d >> 40) & 0xf;
    static const bool kLar32[16] = {0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0};
    static const bool kLar64[16] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0};
    static const bool kLsl32[16] = {0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0};
    static const bool kLsl64[16] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0};
    const bool lm = c.long_mode();
    ok = Lsl ? (lm ? kLsl64 : kLsl32)[type] : (lm ? kLar64 : kLar32)[type];
  }
  c.flags.merge_arith(ok ? rflags::kZf : 0, rflags::kZf);
  if (!ok) return;
  uint64_t v;
  if (Lsl) {
    v = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
    if ((d >> 55) & 1) v = (v << 12) | 0xfff;
  } else {
    v = (d >> 32) & 0x00f0ff00ull;
  }
  c.set_reg_sized(op.reg[0], op.opsize, v);
}
template <bool Write>
void verx(Core& c, const DecodedOp& op) {
  if (!c.protected_mode() || c.v86_mode()) c.raise_ud();
  const uint16_t sel = static_cast<uint16_t>(c.read_op<2>(op, 0));
  uint64_t d = 0;
  bool ok = probe_selector(c, sel, d) && ((d >> 44) & 1) && visible(c, sel, d);
  if (ok) {
    const bool code = (d >> 43) & 1;
    const bool rw = (d >> 41) & 1;
    ok = Write ? (!code && rw) : (!code || rw);
  }
  c.flags.merge_arith(ok ? rflags::kZf : 0, rflags::kZf);
}

void arpl(Core& c, const DecodedOp& op) {
  if (!c.protected_mode() || c.v86_mode()) c.raise_ud();
  const uint64_t dst = c.read_op<2>(op, 0);
  const uint64_t src = c.reg<2>(op.reg[1]);
  if ((dst & 3) < (src & 3)) {
    c.write_op<2>(op, 0, (dst & ~3ull) | (src & 3));
    c.flags.merge_arith(rflags::kZf, rflags::kZf);
  } else {
    c.flags.merge_arith(0, rflags::kZf);
  }
}

void rdmsr(Core& c, const DecodedOp&) {
  c.require_cpl0();
  uint64_t v;
  if (VMXSIM_UNLIKELY(c.vmx_nonroot())) {
    if (c.vmx().on_msr_access(static_cast<uint32_t>(c.s.gpr[kRcx]), false)) return;
    if (c.vmx().virtual_x2apic_read(static_cast<uint32_t>(c.s.gpr[kRcx]), v)) {
      c.s.gpr[kRax] = v & 0xffffffff;
      c.s.gpr[kRdx] = v >> 32;
      return;
    }
  }
  if (!c.read_msr(static_cast<uint32_t>(c.s.gpr[kRcx]), v)) c.raise_gp0();
  c.s.gpr[kRax] = v & 0xffffffff;
  c.s.gpr[kRdx] = v >> 32;
}
void wrmsr(Core& c, const DecodedOp&) {
  c.require_cpl0();
  const uint64_t v = (c.s.gpr[kRax] & 0xffffffff) | (c.s.gpr[kRdx] << 32);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot())) {
    if (c.vmx().on_msr_access(static_cast<uint32_t>(c.s.gpr[kRcx]), true)) return;
    if (c.vmx().virtual_x2apic_write(static_cast<uint32_t>(c.s.gpr[kRcx]), v)) return;
  }
  if (!c.write_msr(static_cast<uint32_t>(c.s.gpr[kRcx]), v)) c.raise_gp0();
}

// IN/OUT: the port is an immediate or DX; the data register is AL/AX/EAX.
uint16_t io_port(Core& c, const DecodedOp& op, unsigned idx) {
  return op.kind[idx] == OpKind::kImm ? static_cast<uint16_t>(op.imm & 0xff) : static_cast<uint16_t>(c.reg<2>(kRdx));
}
void in_(Core& c, const DecodedOp& op) {
  const unsigned size = op.opsize;
  const uint16_t port = io_port(c, op, 1);
  c.check_io_permission(port, size);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) &&
      c.vmx().on_io(port, size, true, false, false, op.kind[1] == OpKind::kImm, op))
    return;
  Cycles stall = 0;
  const uint32_t v = c.env().io_read(port, size, stall);
  c.add_cycles(stall);
  c.set_reg_sized(kRax, size, v);
}
void out_(Core& c, const DecodedOp& op) {
  const unsigned size = op.kind[1] == OpKind::kReg ? op.opsize : op.opsize;
  const uint16_t port = io_port(c, op, 0);
  c.check_io_permission(port, size);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) &&
      c.vmx().on_io(port, size, false, false, false, op.kind[0] == OpKind::kImm, op))
    return;
  Cycles stall = 0;
  c.env().io_write(port, size, static_cast<uint32_t>(c.reg_sized(kRax, size)), stall);
  c.add_cycles(stall);
  c.end_block();  // a device may have stopped the simulation or raised an interrupt
}

void invlpg(Core& c, const DecodedOp& op) {
  c.require_cpl0();
  const uint64_t lin = c.linear(op, 1, false);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_invlpg(lin)) return;
  c.flush_tlb_page(lin);
  c.end_block();
}

void invpcid(Core& c, const DecodedOp& op) {
  if (!c.params().features.invpcid) c.raise_ud();
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_invpcid()) return;
  const uint64_t type = c.reg_sized(op.reg[0], c.in_64bit_mode() ? 8 : 4);
  const uint64_t lin = c.linear(op, 16, false);
  const uint64_t pcid = c.read<8>(lin);
  const uint64_t addr = c.read<8>(lin + 8);
  // SDM INVPCID: reserved descriptor bits, and a non-zero PCID for the single-context types
  // while CR4.PCIDE = 0, are #GP(0).
  if (type > 3 || pcid > 0xfff) c.raise_gp0();
  if (type <= 1 && pcid != 0 && !(c.s.cr4 & cr4::kPcide)) c.raise_gp0();
  // Types 0 and 1 name a PCID, which need not be the current one; 2 and 3 reach every PCID
  // (SDM Vol. 3A §4.10.4.1).
  const uint16_t p = static_cast<uint16_t>(pcid);
  if (type == 0) {
    if (!is_canonical(addr)) c.raise_gp0();
    c.flush_tlb_pcid_page(p, addr);
  } else if (type == 1) {
    c.flush_tlb_pcid(p);
  } else {
    c.flush_tlb(type == 2);
  }
  c.end_block();
}

void wbinvd(Core& c, const DecodedOp&) {
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_wbinvd()) return;
}
// INVD in VMX non-root operation always exits (SDM §26.1.2).
void invd(Core& c, const DecodedOp&) {
  c.require_cpl0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().exit_for_instruction(vmx::kExitInvd)) return;
}

// CLAC/STAC (SMAP): #UD outside CPL 0 (SDM Vol. 2 CLAC).
template <bool Set>
void clac_stac(Core& c, const DecodedOp&) {
  if (c.cpl() != 0 || !c.params().features.smap) c.raise_ud();
  const uint64_t f = c.rflags();
  c.set_rflags(Set ? (f | rflags::kAc) : (f & ~rflags::kAc));
}

void swapgs(Core& c, const DecodedOp&) {
  if (!c.in_64bit_mode()) c.raise_ud();
  c.require_cpl0();
  uint64_t gs;
  c.read_msr(0xc0000101, gs);
  c.write_msr(0xc0000101, c.s.kernel_gs_base);
  c.s.kernel_gs_base = gs;
}

template <ExecFn F>
ExecFn always(const DecodedOp&) { return F; }

}  // namespace

void register_system(IsaTable& t) {
  constexpr uint16_t kEnd = attr::kEndsBlock;
  const char* g = "system";
  t.add(ZYDIS_MNEMONIC_CLI, &always<&cli>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_STI, &always<&sti>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_HLT, &always<&hlt>, TimingClass::kHalt, kEnd, g);
  t.add(ZYDIS_MNEMONIC_CLTS, &always<&clts>, TimingClass::kCrWrite, 0, g);
  t.add(ZYDIS_MNEMONIC_LMSW, &always<&lmsw>, TimingClass::kCrWrite, kEnd, g);
  t.add(ZYDIS_MNEMONIC_SMSW, &always<&smsw>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_LGDT, &always<&lxdt<false>>, TimingClass::kSerializing, 0, g);
  t.add(ZYDIS_MNEMONIC_LIDT, &always<&lxdt<true>>, TimingClass::kSerializing, 0, g);
  t.add(ZYDIS_MNEMONIC_SGDT, &always<&sxdt<false>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_SIDT, &always<&sxdt<true>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_LLDT, &always<&lldt>, TimingClass::kSerializing, 0, g);
  t.add(ZYDIS_MNEMONIC_LTR, &always<&ltr>, TimingClass::kSerializing, 0, g);
  t.add(ZYDIS_MNEMONIC_SLDT, &always<&sxtr<false>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_STR, &always<&sxtr<true>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_LAR, &always<&lar_lsl<false>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_LSL, &always<&lar_lsl<true>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_VERR, &always<&verx<false>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_VERW, &always<&verx<true>>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_ARPL, &always<&arpl>, TimingClass::kSystem, 0, g);
  t.add(ZYDIS_MNEMONIC_RDMSR, &always<&rdmsr>, TimingClass::kMsr, kEnd | attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_WRMSR, &always<&wrmsr>, TimingClass::kMsr, kEnd | attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_IN, &always<&in_>, TimingClass::kIo, kEnd | attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_OUT, &always<&out_>, TimingClass::kIo, kEnd | attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_INVLPG, &always<&invlpg>, TimingClass::kInvlpg, kEnd | attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_INVPCID, &always<&invpcid>, TimingClass::kInvlpg, kEnd | attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_WBINVD, &always<&wbinvd>, TimingClass::kSerializing, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_INVD, &always<&invd>, TimingClass::kSerializing, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_CLAC, &always<&clac_stac<false>>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_STAC, &always<&clac_stac<true>>, TimingClass::kSystem, kEnd, g);
  t.add(ZYDIS_MNEMONIC_SWAPGS, &always<&swapgs>, TimingClass::kSystem, 0, g);
  // MOV to/from control and debug registers: see select_mov_cr_dr (routed by the decoder).
}

ExecFn select_mov_cr_dr(const DecodedOp& op) {
  if (op.regclass[1] == RegClass::kCr) return &mov_Rd_Cd;
  if (op.regclass[0] == RegClass::kCr) return &mov_Cd_Rd;
  if (op.regclass[1] == RegClass::kDr) return &mov_Rd_Dd;
  if (op.regclass[0] == RegClass::kDr) return &mov_Dd_Rd;
  return nullptr;
}

}  // namespace vmxsim::cpu
