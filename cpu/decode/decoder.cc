#include "cpu/decode/decoder.h"

#include "cpu/core.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

namespace {

// Maps a Zydis register to our numbering: GPRs 0-15 (any width; AH-BH as kRegHigh8 + n),
// segment registers in SegReg order, CRn/DRn/XMMn/MMn/STn by number. Returns kNoReg otherwise.
uint8_t map_register(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) return static_cast<uint8_t>(r - ZYDIS_REGISTER_AL);
  if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return static_cast<uint8_t>(kRegHigh8 + (r - ZYDIS_REGISTER_AH));
  if (r >= ZYDIS_REGISTER_SPL && r <= ZYDIS_REGISTER_R15B) return static_cast<uint8_t>(4 + (r - ZYDIS_REGISTER_SPL));
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) return static_cast<uint8_t>(r - ZYDIS_REGISTER_AX);
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) return static_cast<uint8_t>(r - ZYDIS_REGISTER_EAX);
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) return static_cast<uint8_t>(r - ZYDIS_REGISTER_RAX);
  switch (r) {
    case ZYDIS_REGISTER_ES: return kEs;
    case ZYDIS_REGISTER_CS: return kCs;
    case ZYDIS_REGISTER_SS: return kSs;
    case ZYDIS_REGISTER_DS: return kDs;
    case ZYDIS_REGISTER_FS: return kFs;
    case ZYDIS_REGISTER_GS: return kGs;
    default: break;
  }
  if (r >= ZYDIS_REGISTER_CR0 && r <= ZYDIS_REGISTER_CR15) return static_cast<uint8_t>(r - ZYDIS_REGISTER_CR0);
  if (r >= ZYDIS_REGISTER_DR0 && r <= ZYDIS_REGISTER_DR15) return static_cast<uint8_t>(r - ZYDIS_REGISTER_DR0);
  if (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM31) return static_cast<uint8_t>(r - ZYDIS_REGISTER_XMM0);
  if (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7) return static_cast<uint8_t>(r - ZYDIS_REGISTER_MM0);
  if (r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7) return static_cast<uint8_t>(r - ZYDIS_REGISTER_ST0);
  return kNoReg;
}

RegClass register_class(ZydisRegister r) {
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8: case ZYDIS_REGCLASS_GPR16: case ZYDIS_REGCLASS_GPR32:
    case ZYDIS_REGCLASS_GPR64: return RegClass::kGpr;
    case ZYDIS_REGCLASS_SEGMENT: return RegClass::kSeg;
    case ZYDIS_REGCLASS_CONTROL: return RegClass::kCr;
    case ZYDIS_REGCLASS_DEBUG: return RegClass::kDr;
    case ZYDIS_REGCLASS_XMM: return RegClass::kXmm;
    case ZYDIS_REGCLASS_MMX: return RegClass::kMmx;
    case ZYDIS_REGCLASS_X87: return RegClass::kX87;
    default: return RegClass::kOther;
  }
}

uint8_t map_address_register(ZydisRegister r) {
  if (r == ZYDIS_REGISTER_NONE) return kRegZero;
  if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP || r == ZYDIS_REGISTER_IP) return kRegNextRip;
  const uint8_t n = map_register(r);
  return n < kNumGprs ? n : kNoReg;
}

// The segment stays known in 64-bit mode too (a non-canonical SS-based access is #SS, others
// #GP); the core keeps the bases of ES, CS, SS and DS at zero there (SDM Vol. 1 §3.4.2.1).
uint8_t map_segment(ZydisRegister r) {
  const uint8_t s = map_register(r);
  return s < kNumSegs ? s : kDs;
}

// The segment a prefix selects, for instructions whose memory reference Zydis does not list.
uint8_t segment_prefix(const ZydisDecodedInstruction& insn, uint8_t dflt) {
  if (insn.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_ES) return kEs;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_CS) return kCs;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_SS) return kSs;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_DS) return kDs;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_FS) return kFs;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_GS) return kGs;
  return dflt;
}

// Condition code of Jcc/SETcc/CMOVcc: the low nibble of the opcode in all their encodings.
bool has_condition(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ: case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_JNLE:
    case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_SETZ: case ZYDIS_MNEMONIC_SETNZ: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETS: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_CMOVO: case ZYDIS_MNEMONIC_CMOVNO: case ZYDIS_MNEMONIC_CMOVB: case ZYDIS_MNEMONIC_CMOVNB:
    case ZYDIS_MNEMONIC_CMOVZ: case ZYDIS_MNEMONIC_CMOVNZ: case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_CMOVNBE:
    case ZYDIS_MNEMONIC_CMOVS: case ZYDIS_MNEMONIC_CMOVNS: case ZYDIS_MNEMONIC_CMOVP: case ZYDIS_MNEMONIC_CMOVNP:
    case ZYDIS_MNEMONIC_CMOVL: case ZYDIS_MNEMONIC_CMOVNL: case ZYDIS_MNEMONIC_CMOVLE: case ZYDIS_MNEMONIC_CMOVNLE:
      return true;
    default:
      return false;
  }
}

}  // namespace

void op_invalid(Core& c, const DecodedOp&) { c.raise_ud(); }

void op_unimplemented(Core& c, const DecodedOp& op) {
  c.count_unimplemented(op.mnemonic);
  c.raise_ud();
}

Decoder::Decoder() {
  static const ZydisMachineMode kModes[4] = {ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_MACHINE_MODE_LEGACY_16,
                                             ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_MACHINE_MODE_LONG_64};
  for (int m = 0; m < 4; ++m)
    for (int s = 0; s < 2; ++s) {
      const ZydisStackWidth sw =
          m == 3 ? ZYDIS_STACK_WIDTH_64 : (s ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_16);
      ZydisDecoderInit(&m_dec[m][s], kModes[m], sw);
    }
}

Decoder::Result Decoder::decode(const uint8_t* bytes, size_t avail, DecodeMode mode, bool stack32,
                                DecodedOp& out) const {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
  const ZydisDecoder& dec = m_dec[static_cast<int>(mode)][stack32 ? 1 : 0];
  const ZyanStatus st = ZydisDecoderDecodeFull(&dec, bytes, avail, &insn, zops);
  out = DecodedOp{};
  if (!ZYAN_SUCCESS(st)) {
    if (st == ZYDIS_STATUS_NO_MORE_DATA && avail < ZYDIS_MAX_INSTRUCTION_LENGTH)
      return Result::kNeedMoreBytes;
    out.fn = &op_invalid;
    out.len = 1;
    out.attrs = attr::kEndsBlock;
    out.tclass = TimingClass::kSystem;
    return Result::kInvalid;
  }

  out.mnemonic = static_cast<uint16_t>(insn.mnemonic);
  out.len = insn.length;
  out.opsize = static_cast<uint8_t>(insn.operand_width / 8);
  out.addrsize = static_cast<uint8_t>(insn.address_width / 8);
  out.stacksize = static_cast<uint8_t>(insn.stack_width / 8);
  if (insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) out.attrs |= attr::kRep;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_REPNE) out.attrs |= attr::kRepne;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_LOCK) out.attrs |= attr::kLock;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) out.attrs |= attr::kOsize16;
  if (mode != DecodeMode::k64) out.attrs |= attr::kCheckLimit;
  if (insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) out.attrs |= attr::kFar;
  if (insn.attributes & ZYDIS_ATTRIB_HAS_REX && insn.raw.rex.W) out.attrs |= attr::kRexW;
  if (has_condition(insn.mnemonic)) out.cond = insn.opcode & 0xf;

  // Segment for string instructions and other implicit memory operands defaults to DS.
  out.seg = kDs;
  bool seen_imm = false;
  unsigned n = 0;
  for (unsigned i = 0; i < insn.operand_count_visible && n < 3; ++i) {
    const ZydisDecodedOperand& z = zops[i];
    switch (z.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER:
        out.kind[n] = OpKind::kReg;
        out.reg[n] = map_register(z.reg.value);
        out.regclass[n] = register_class(z.reg.value);
        if (n == 1 && z.size / 8 != out.opsize) out.src_size = static_cast<uint8_t>(z.size / 8);
        ++n;
        break;
      case ZYDIS_OPERAND_TYPE_MEMORY:
        out.kind[n] = OpKind::kMem;
        out.base = map_address_register(z.mem.base);
        out.index = map_address_register(z.mem.index);
        out.scale = z.mem.scale == 8 ? 3 : z.mem.scale == 4 ? 2 : z.mem.scale == 2 ? 1 : 0;
        out.disp = z.mem.disp.has_displacement ? z.mem.disp.value : 0;
        out.seg = map_segment(z.mem.segment);
        if (out.base == kRegNextRip) out.attrs |= attr::kRipRelative;
        if (out.base == kNoReg || out.index == kNoReg) {  // e.g. MPX bound registers
          out.fn = &op_unimplemented;
          out.attrs |= attr::kEndsBlock;
          return Result::kOk;
        }
        if (n == 1 && z.size / 8 != out.opsize) out.src_size = static_cast<uint8_t>(z.size / 8);
        ++n;
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        out.kind[n] = OpKind::kImm;
        if (!seen_imm) {
          out.imm = z.imm.is_signed ? static_cast<uint64_t>(z.imm.value.s) : z.imm.value.u;
          seen_imm = true;
        } else {
          out.imm2 = static_cast<uint8_t>(z.imm.value.u);  // ENTER level, EXTRQ etc.
        }
        ++n;
        break;
      case ZYDIS_OPERAND_TYPE_POINTER:
        out.kind[n] = OpKind::kPtr;
        out.imm = z.ptr.offset;
        out.imm16 = z.ptr.segment;
        ++n;
        break;
      default:
        break;
    }
  }
  out.nops = static_cast<uint8_t>(n);
  // String instructions and XLAT have only hidden memory operands; the one based on rSI (the
  // string source) or rBX (XLAT) carries the segment override.
  if (n == 0)
    for (unsigned i = 0; i < insn.operand_count; ++i) {
      const ZydisDecodedOperand& z = zops[i];
      if (z.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
      switch (z.mem.base) {
        case ZYDIS_REGISTER_SI: case ZYDIS_REGISTER_ESI: case ZYDIS_REGISTER_RSI:
        case ZYDIS_REGISTER_BX: case ZYDIS_REGISTER_EBX: case ZYDIS_REGISTER_RBX:
          out.seg = map_segment(z.mem.segment);
          break;
        default:
          continue;
      }
      break;
    }
  // MASKMOVQ/MASKMOVDQU store through a hidden DS:rDI operand that takes segment overrides.
  if (insn.mnemonic == ZYDIS_MNEMONIC_MASKMOVQ || insn.mnemonic == ZYDIS_MNEMONIC_MASKMOVDQU)
    for (unsigned i = 0; i < insn.operand_count; ++i)
      if (zops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) out.seg = map_segment(zops[i].mem.segment);
  // MONITOR's only memory reference is rAX itself (hidden, no memory operand in Zydis): the
  // address is DS:rAX with the address size, and a segment prefix overrides DS.
  if (insn.mnemonic == ZYDIS_MNEMONIC_MONITOR) {
    out.base = kRax;
    out.seg = segment_prefix(insn, kDs);
  }
  // ENTER's frame size is its first (16-bit) immediate; keep it separately too.
  if (insn.mnemonic == ZYDIS_MNEMONIC_ENTER) out.imm16 = static_cast<uint16_t>(out.imm);

  // MOV to/from control and debug registers shares the MOV mnemonic with data movement but is
  // a system instruction: route it to the system group directly.
  if (insn.mnemonic == ZYDIS_MNEMONIC_MOV && n == 2 &&
      (out.regclass[0] == RegClass::kCr || out.regclass[1] == RegClass::kCr ||
       out.regclass[0] == RegClass::kDr || out.regclass[1] == RegClass::kDr)) {
    out.fn = select_mov_cr_dr(out);
    out.tclass = TimingClass::kCrWrite;
    out.attrs |= attr::kEndsBlock | attr::kMayExitVmx;
    if (!out.fn) out.fn = &op_unimplemented;
    return Result::kOk;
  }
  const IsaEntry* e = IsaTable::instance().find(insn.mnemonic);
  out.fn = e ? e->select(out) : nullptr;
  if (e) {
    out.tclass = e->tclass;
    out.attrs |= e->attrs;
  }
  if (!out.fn) {
    out.fn = &op_unimplemented;
    out.attrs |= attr::kEndsBlock;
  }
  return Result::kOk;
}

}  // namespace vmxsim::cpu
