#include "tests/isa/seq_gen.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace vmxsim::test::isa {

using namespace fl;

std::map<std::string, uint64_t>& encode_failures();
std::map<std::string, uint64_t>& redundant_prefixes();

namespace {

// --- registers ------------------------------------------------------------------------------------

const ZydisRegister kGpr8[16] = {
    ZYDIS_REGISTER_AL,   ZYDIS_REGISTER_CL,   ZYDIS_REGISTER_DL,   ZYDIS_REGISTER_BL,
    ZYDIS_REGISTER_SPL,  ZYDIS_REGISTER_BPL,  ZYDIS_REGISTER_SIL,  ZYDIS_REGISTER_DIL,
    ZYDIS_REGISTER_R8B,  ZYDIS_REGISTER_R9B,  ZYDIS_REGISTER_R10B, ZYDIS_REGISTER_R11B,
    ZYDIS_REGISTER_R12B, ZYDIS_REGISTER_R13B, ZYDIS_REGISTER_R14B, ZYDIS_REGISTER_R15B};
const ZydisRegister kHigh8[4] = {ZYDIS_REGISTER_AH, ZYDIS_REGISTER_CH, ZYDIS_REGISTER_DH,
                                 ZYDIS_REGISTER_BH};
const ZydisRegister kGpr16[16] = {
    ZYDIS_REGISTER_AX,   ZYDIS_REGISTER_CX,   ZYDIS_REGISTER_DX,   ZYDIS_REGISTER_BX,
    ZYDIS_REGISTER_SP,   ZYDIS_REGISTER_BP,   ZYDIS_REGISTER_SI,   ZYDIS_REGISTER_DI,
    ZYDIS_REGISTER_R8W,  ZYDIS_REGISTER_R9W,  ZYDIS_REGISTER_R10W, ZYDIS_REGISTER_R11W,
    ZYDIS_REGISTER_R12W, ZYDIS_REGISTER_R13W, ZYDIS_REGISTER_R14W, ZYDIS_REGISTER_R15W};
const ZydisRegister kGpr32[16] = {
    ZYDIS_REGISTER_EAX,  ZYDIS_REGISTER_ECX,  ZYDIS_REGISTER_EDX,  ZYDIS_REGISTER_EBX,
    ZYDIS_REGISTER_ESP,  ZYDIS_REGISTER_EBP,  ZYDIS_REGISTER_ESI,  ZYDIS_REGISTER_EDI,
    ZYDIS_REGISTER_R8D,  ZYDIS_REGISTER_R9D,  ZYDIS_REGISTER_R10D, ZYDIS_REGISTER_R11D,
    ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_R13D, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R15D};
const ZydisRegister kGpr64[16] = {
    ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RBX,
    ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI,
    ZYDIS_REGISTER_R8,  ZYDIS_REGISTER_R9,  ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11,
    ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15};

// A GPR operand: number in SDM order, and for byte operands whether it is AH/CH/DH/BH.
struct Reg {
  unsigned id = 0;
  bool high = false;
};

ZydisRegister zreg(Reg r, unsigned w) {
  switch (w) {
    case 1: return r.high ? kHigh8[r.id] : kGpr8[r.id];
    case 2: return kGpr16[r.id];
    case 4: return kGpr32[r.id];
    default: return kGpr64[r.id];
  }
}

int64_t sext(uint64_t v, unsigned w) {
  if (w >= 8) return static_cast<int64_t>(v);
  const unsigned sh = 64 - 8 * w;
  return static_cast<int64_t>(v << sh) >> sh;
}

// --- flag rules -----------------------------------------------------------------------------------

struct Effects {
  FlagSet reads = 0, defines = 0, undefines = 0;
};

constexpr Effects kNone{};
constexpr Effects kAllDefined{0, kArith, 0};
constexpr Effects kLogic{0, kArith & ~AF, AF};      // AND OR XOR TEST: AF undefined
constexpr Effects kMulFx{0, CF | OF, SF | ZF | AF | PF};
constexpr Effects kDivFx{0, 0, kArith};

const ZydisMnemonic kCmov[16] = {
    ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,  ZYDIS_MNEMONIC_CMOVNB,
    ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
    ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP,  ZYDIS_MNEMONIC_CMOVNP,
    ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE};
const ZydisMnemonic kSetcc[16] = {
    ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,  ZYDIS_MNEMONIC_SETNB,
    ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
    ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP,  ZYDIS_MNEMONIC_SETNP,
    ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE};
// Flags a condition code (in the order above) reads.
const FlagSet kCondReads[16] = {OF, OF, CF, CF, ZF, ZF, CF | ZF, CF | ZF,
                                SF, SF, PF, PF, SF | OF, SF | OF, ZF | SF | OF, ZF | SF | OF};

// Shifts and rotates by `count` (the raw imm8 or CL): SDM SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR.
Effects shift_effects(ZydisMnemonic m, unsigned w, unsigned count) {
  const unsigned n = count & (w == 8 ? 63 : 31);
  Effects e;
  if (m == ZYDIS_MNEMONIC_RCL || m == ZYDIS_MNEMONIC_RCR) e.reads = CF;
  if (n == 0) return e;  // no flags affected
  if (m == ZYDIS_MNEMONIC_ROL || m == ZYDIS_MNEMONIC_ROR || m == ZYDIS_MNEMONIC_RCL ||
      m == ZYDIS_MNEMONIC_RCR) {
    // CF gets the last bit rotated (RCL/RCR: 8/16-bit counts that are multiples of 9/17 keep CF,
    // which the instruction read, so it stays defined); OF only for 1-bit rotates.
    e.defines = CF | (n == 1 ? OF : 0);
    e.undefines = n == 1 ? 0 : OF;
    return e;
  }
  e.defines = CF | PF | ZF | SF | (n == 1 ? OF : 0);
  e.undefines = AF | (n == 1 ? 0 : OF);
  // SHL/SHR: CF is undefined when the count is at least the operand width (SAR: not so).
  if (m != ZYDIS_MNEMONIC_SAR && n >= 8 * w) {
    e.defines &= ~CF;
    e.undefines |= CF;
  }
  return e;
}

// SHLD/SHRD by `count` (never above the operand width: the generator keeps 16-bit counts <= 16).
Effects double_shift_effects(unsigned w, unsigned count) {
  const unsigned n = count & (w == 8 ? 63 : 31);
  if (n == 0) return kNone;
  return {0, CF | PF | ZF | SF | (n == 1 ? OF : 0), AF | (n == 1 ? 0 : OF)};
}

// --- encoding ------------------------------------------------------------------------------------

const ZydisDecoder& decoder() {
  static const ZydisDecoder d = [] {
    ZydisDecoder x;
    ZydisDecoderInit(&x, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    return x;
  }();
  return d;
}

ZydisEncoderRequest request(ZydisMnemonic m) {
  ZydisEncoderRequest r;
  std::memset(&r, 0, sizeof r);
  r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  r.mnemonic = m;
  return r;
}

ZydisEncoderOperand reg_op(ZydisRegister r) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_REGISTER;
  o.reg.value = r;
  return o;
}

ZydisEncoderOperand imm_op(int64_t v) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
  o.imm.s = v;
  return o;
}

ZydisEncoderOperand mem_rbp(int64_t off, unsigned size) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_MEMORY;
  o.mem.base = ZYDIS_REGISTER_RBP;
  o.mem.displacement = off;
  o.mem.size = static_cast<ZyanU16>(size);
  return o;
}

bool uses_rip(const ZydisEncoderRequest& r) {
  for (unsigned i = 0; i < r.operand_count; ++i)
    if (r.operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY && r.operands[i].mem.base == ZYDIS_REGISTER_RIP)
      return true;
  return false;
}

bool encode_at(const ZydisEncoderRequest& req, bool rip, uint64_t addr, std::vector<uint8_t>& out) {
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
  ZyanUSize len = sizeof buf;
  ZyanStatus st;
  if (rip) {
    ZydisEncoderRequest copy = req;
    st = ZydisEncoderEncodeInstructionAbsolute(&copy, buf, &len, addr);
  } else {
    st = ZydisEncoderEncodeInstruction(&req, buf, &len);
  }
  if (!ZYAN_SUCCESS(st)) return false;
  out.assign(buf, buf + len);
  return true;
}

std::string reg_label(ZydisRegister r) {
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
      return (r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
              r == ZYDIS_REGISTER_BH) ? "r8h" : "r8";
    case ZYDIS_REGCLASS_GPR16: return "r16";
    case ZYDIS_REGCLASS_GPR32: return "r32";
    case ZYDIS_REGCLASS_GPR64: return "r64";
    default: return ZydisRegisterGetString(r);
  }
}

std::string addressing_label(const ZydisDecodedInstruction& in, const ZydisDecodedOperand& o) {
  std::string s = in.address_width == 32 ? "a32 " : "";
  const char* disp = in.raw.disp.size == 8 ? "+disp8" : in.raw.disp.size == 32 ? "+disp32" : "";
  if (o.mem.base == ZYDIS_REGISTER_RIP || o.mem.base == ZYDIS_REGISTER_EIP) return s + "rip+disp32";
  if (o.mem.base == ZYDIS_REGISTER_NONE)
    return s + (o.mem.index == ZYDIS_REGISTER_NONE ? "abs32" : "index*scale+disp32");
  s += "base";
  if (o.mem.index != ZYDIS_REGISTER_NONE) s += "+index*scale";
  return s + disp;
}

// Decodes `bytes` and fills the instruction's description: mnemonic, coverage key, addressing
// mode and the GPRs it writes.
// `invalid_key`: the bytes are meant to be an invalid instruction (#UD); if Zydis rejects them,
// they get this key and no written registers.
void describe(Insn& in, const char* invalid_key = nullptr) {
  ZydisDecodedInstruction d;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), in.bytes.data(), in.bytes.size(), &d, ops))) {
    if (!invalid_key) throw std::logic_error("seq_gen: encoded instruction does not decode");
    in.key = invalid_key;
    in.mnemonic = ZYDIS_MNEMONIC_INVALID;
    in.writes = 0;
    return;
  }
  in.mnemonic = d.mnemonic;
  std::string k;
  if (d.attributes & ZYDIS_ATTRIB_HAS_LOCK) k += "lock ";
  if (d.attributes & ZYDIS_ATTRIB_HAS_REPNE) k += "repne ";
  else if (d.attributes & ZYDIS_ATTRIB_HAS_REPE) k += "repe ";
  else if (d.attributes & ZYDIS_ATTRIB_HAS_REP) k += "rep ";
  if (d.address_width == 32) k += "a32 ";
  k += ZydisMnemonicGetString(d.mnemonic);
  char sep = ' ';
  unsigned imm_index = 0;
  for (unsigned i = 0; i < d.operand_count_visible; ++i) {
    const ZydisDecodedOperand& o = ops[i];
    k += sep;
    sep = ',';
    switch (o.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER:
        k += o.visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT ? reg_label(o.reg.value)
                                                               : ZydisRegisterGetString(o.reg.value);
        break;
      case ZYDIS_OPERAND_TYPE_MEMORY:
        k += o.mem.type == ZYDIS_MEMOP_TYPE_AGEN ? std::string("agen") : "m" + std::to_string(o.size);
        in.addressing = addressing_label(d, o);
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (o.visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT) {
          k += std::to_string(o.imm.value.u);
        } else {
          k += "imm" + std::to_string(d.raw.imm[imm_index < 2 ? imm_index : 1].size);
          ++imm_index;
        }
        break;
      default:
        k += "?";
    }
  }
  in.key = k;
  in.writes = 0;
  for (unsigned i = 0; i < d.operand_count; ++i) {
    const ZydisDecodedOperand& o = ops[i];
    if (o.type != ZYDIS_OPERAND_TYPE_REGISTER || !(o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    const ZydisRegisterClass c = ZydisRegisterGetClass(o.reg.value);
    if (c != ZYDIS_REGCLASS_GPR8 && c != ZYDIS_REGCLASS_GPR16 && c != ZYDIS_REGCLASS_GPR32 &&
        c != ZYDIS_REGCLASS_GPR64)
      continue;
    const ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, o.reg.value);
    in.writes |= static_cast<uint16_t>(1u << ZydisRegisterGetId(big));
  }
}

// `absolute_rip`: a RIP-relative operand holds the absolute target (re-encoded at the
// instruction's address); otherwise it holds the displacement itself (a position-independent
// reference inside its unit).
bool make_insn(const ZydisEncoderRequest& req, Insn& out, bool absolute_rip = true) {
  out = Insn{};
  out.req = req;
  out.rip_relative = absolute_rip && uses_rip(req);
  if (!encode_at(req, out.rip_relative, HostRunner::kSnippet, out.bytes)) {
    ++encode_failures()[ZydisMnemonicGetString(req.mnemonic)];
    return false;
  }
  describe(out);
  return true;
}

bool is_legacy_prefix(uint8_t b) {
  switch (b) {
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
    case 0x2e: case 0x36: case 0x3e: case 0x26: case 0x64: case 0x65:
      return true;
    default:
      return false;
  }
}

// Whether two encodings mean the same instruction to Zydis (the simulator's decoder): mnemonic,
// sizes, LOCK/REP, and every visible operand.
bool equivalent(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  ZydisDecodedInstruction da, db;
  ZydisDecodedOperand oa[ZYDIS_MAX_OPERAND_COUNT], ob[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), a.data(), a.size(), &da, oa)) ||
      !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), b.data(), b.size(), &db, ob)) ||
      da.length != a.size() || db.length != b.size())
    return false;
  constexpr ZydisInstructionAttributes kAttrs =
      ZYDIS_ATTRIB_HAS_LOCK | ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE;
  if (da.mnemonic != db.mnemonic || da.operand_width != db.operand_width ||
      da.address_width != db.address_width || da.operand_count != db.operand_count ||
      (da.attributes & kAttrs) != (db.attributes & kAttrs))
    return false;
  for (unsigned i = 0; i < da.operand_count; ++i) {
    const ZydisDecodedOperand &x = oa[i], &y = ob[i];
    if (x.type != y.type || x.size != y.size || x.actions != y.actions) return false;
    switch (x.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER:
        if (x.reg.value != y.reg.value) return false;
        break;
      case ZYDIS_OPERAND_TYPE_MEMORY:
        if (x.mem.base != y.mem.base || x.mem.index != y.mem.index || x.mem.scale != y.mem.scale ||
            x.mem.disp.value != y.mem.disp.value || x.mem.type != y.mem.type)
          return false;
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (x.imm.value.u != y.imm.value.u) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

// A longer encoding of the same instruction: a redundant segment prefix (no effect in 64-bit
// mode for CS/DS/ES/SS; GS when its base is 0 on both sides), an empty REX prefix, or 66 next
// to REX.W (REX.W wins). Kept only if Zydis decodes it to the same instruction (the segment
// aside); otherwise `bytes` stays as it is.
void add_redundant_prefix(std::vector<uint8_t>& bytes, unsigned kind, unsigned seg, bool gs) {
  size_t p = 0;
  bool has_66 = false, has_rep = false;
  while (p < bytes.size() && is_legacy_prefix(bytes[p])) {
    has_66 |= bytes[p] == 0x66;
    has_rep |= bytes[p] == 0xf2 || bytes[p] == 0xf3;
    ++p;
  }
  if (p >= bytes.size() || bytes.size() >= 15) return;
  const bool vex = bytes[p] == 0xc4 || bytes[p] == 0xc5;
  const bool rex = (bytes[p] & 0xf0) == 0x40;
  std::vector<uint8_t> v = bytes;
  static const uint8_t kSeg[5] = {0x2e, 0x36, 0x3e, 0x26, 0x65};
  switch (kind % 3) {
    case 0: v.insert(v.begin(), kSeg[seg % (gs ? 5 : 4)]); break;
    case 1:
      if (rex || vex) return;
      v.insert(v.begin() + static_cast<long>(p), 0x40);
      break;
    default:
      if (!rex || !(bytes[p] & 8) || has_66 || has_rep) return;
      v.insert(v.begin(), 0x66);
      break;
  }
  if (equivalent(bytes, v)) bytes = std::move(v);
}

}  // namespace

std::map<std::string, uint64_t>& encode_failures() {
  static std::map<std::string, uint64_t> m;
  return m;
}

std::map<std::string, uint64_t>& redundant_prefixes() {
  static std::map<std::string, uint64_t> m;
  return m;
}

std::string flag_names(FlagSet f) {
  static const struct { FlagSet bit; const char* name; } kNames[] = {
      {CF, "CF"}, {PF, "PF"}, {AF, "AF"}, {ZF, "ZF"}, {SF, "SF"}, {DF, "DF"}, {OF, "OF"}};
  std::string s;
  for (const auto& n : kNames)
    if (f & n.bit) s += std::string(s.empty() ? "" : " ") + n.name;
  return s.empty() ? "-" : s;
}

// --- tracker --------------------------------------------------------------------------------------

Tracker::Tracker(bool allow_undefined_reads) : m_allow(allow_undefined_reads) {
  m_source.fill(-1);
  m_known[RBP] = {~0ull, kMemBase};
}

bool Tracker::admits(const Insn& in) const {
  if (!m_allow && (in.reads & m_undef)) return false;
  for (const Need& n : in.needs) {
    const KnownValue& k = m_known[n.reg];
    if ((k.mask & n.mask) != n.mask || ((k.value ^ n.value) & n.mask) != 0) return false;
  }
  const int64_t sp = m_stack + in.stack_delta;  // offset of RSP from kStackStart after it
  return sp >= -kStackReach && sp <= kStackReach;
}

void Tracker::apply(const Insn& in, int index) {
  for (unsigned r = 0; r < 16; ++r)
    if (r != RBP && (in.writes & (1u << r))) m_known[r] = {};
  if (in.set_reg >= 0) m_known[in.set_reg] = in.set_value;
  m_undef = (m_undef & ~in.defines) | in.undefines;
  for (unsigned b = 0; b < 12; ++b)
    if (in.undefines & (1ull << b)) m_source[b] = index;
  m_stack += in.stack_delta;
}

void Tracker::merge(const Tracker& o) {
  for (unsigned b = 0; b < 12; ++b)
    if (!((m_undef >> b) & 1) && ((o.m_undef >> b) & 1)) m_source[b] = o.m_source[b];
  m_undef |= o.m_undef;
  for (unsigned r = 0; r < 16; ++r) {
    KnownValue& k = m_known[r];
    const KnownValue& ko = o.m_known[r];
    k.mask &= ko.mask & ~(k.value ^ ko.value);
    k.value &= k.mask;
  }
}

bool replay_unit(Tracker& t, const Unit& u, int base) {
  auto run = [&](size_t a, size_t b) {
    for (size_t i = a; i < b; ++i) {
      if (!t.admits(u.insns[i])) return false;
      t.apply(u.insns[i], base + static_cast<int>(i));
    }
    return true;
  };
  const size_t n = u.insns.size(), bb = u.body_begin, be = u.body_end;
  switch (u.shape) {
    case Shape::kStraight:
      return run(0, n);
    case Shape::kSkip: {
      if (!run(0, bb)) return false;
      const Tracker taken = t;
      if (!run(bb, be) || t.stack_offset() != taken.stack_offset()) return false;
      t.merge(taken);
      return run(be, n);
    }
    case Shape::kLoop:
      return run(0, be) && run(be, n) && run(bb, be) && run(be, n);
    case Shape::kCall:
      // [prefix.., CALL, JMP] [body..] [RET]: the JMP runs after the RET.
      return run(0, bb - 1) && run(bb, n) && run(bb - 1, bb);
  }
  return false;
}

Replay replay(const Sequence& seq, bool allow_undefined_reads) {
  Tracker t(allow_undefined_reads);
  Replay r;
  int index = 0;
  FlagSet at_fault = 0;
  for (size_t u = 0; u < seq.size(); ++u) {
    if (seq[u].may_fault) {
      // The last instruction may fault: then the flags are those from before it.
      if (u + 1 != seq.size() || seq[u].shape != Shape::kStraight) return r;
      Unit head = seq[u];
      head.insns.pop_back();
      Tracker before = t;
      if (!replay_unit(before, head, index)) return r;
      at_fault = before.undefined();
    }
    if (!replay_unit(t, seq[u], index)) return r;
    index += static_cast<int>(seq[u].insns.size());
  }
  r.valid = true;
  r.undefined = t.undefined() | at_fault;
  for (unsigned b = 0; b < 12; ++b) r.source[b] = t.undefined_source(b);
  return r;
}

std::vector<const Insn*> flatten(const Sequence& seq) {
  std::vector<const Insn*> v;
  for (const Unit& u : seq)
    for (const Insn& in : u.insns) v.push_back(&in);
  return v;
}

std::vector<uint8_t> assemble(const Sequence& seq, uint64_t base) {
  std::vector<uint8_t> out, tmp;
  for (const Insn* in : flatten(seq)) {
    if (in->rip_relative) {
      if (!encode_at(in->req, true, base + out.size(), tmp))
        throw std::logic_error("seq_gen: RIP-relative re-encoding failed");
      out.insert(out.end(), tmp.begin(), tmp.end());
    } else {
      out.insert(out.end(), in->bytes.begin(), in->bytes.end());
    }
  }
  return out;
}

std::string disassemble(const std::vector<uint8_t>& code, uint64_t base) {
  std::string s;
  size_t off = 0;
  while (off < code.size()) {
    ZydisDisassembledInstruction d;
    char line[200];
    size_t run = 0;
    while (off + run < code.size() && code[off + run] == 0xcc) ++run;
    if (run >= 8) {
      std::snprintf(line, sizeof line, "  %#llx  (%zu bytes of int3 filler)\n",
                    static_cast<unsigned long long>(base + off), run);
      s += line;
      off += run;
      continue;
    }
    if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, base + off, code.data() + off,
                                            code.size() - off, &d))) {
      std::snprintf(line, sizeof line, "  %#llx  %02x  (bad)\n",
                    static_cast<unsigned long long>(base + off), code[off]);
      s += line;
      ++off;
      continue;
    }
    std::string hex;
    for (unsigned i = 0; i < d.info.length; ++i) {
      char b[4];
      std::snprintf(b, sizeof b, "%02x", code[off + i]);
      hex += b;
    }
    std::snprintf(line, sizeof line, "  %#llx  %-30s %s\n", static_cast<unsigned long long>(base + off),
                  hex.c_str(), d.text);
    s += line;
    off += d.info.length;
  }
  return s;
}

// --- generator ------------------------------------------------------------------------------------

namespace {

enum Family {
  kAlu2, kUnary, kShift, kShiftDouble, kMulDiv1, kImul, kDiv, kBitTest, kBitScan, kBmi, kMov,
  kMovExtend, kLea, kXchg, kXaddCmpxchg, kCmpxchgWide, kBswap, kMovbe, kCmovFam, kSetccFam, kConvert,
  kPushPop, kFlagsStack, kLahfSahf, kFlagOps, kString, kXlat, kEnterLeave, kHint, kBranchSkip,
  kLoopFam, kCallRet, kFamilies
};

// Relative weights of the families.
const unsigned kWeights[kFamilies] = {
    /*kAlu2*/ 22, /*kUnary*/ 5, /*kShift*/ 12, /*kShiftDouble*/ 4, /*kMulDiv1*/ 4, /*kImul*/ 4,
    /*kDiv*/ 5, /*kBitTest*/ 5, /*kBitScan*/ 5, /*kBmi*/ 6, /*kMov*/ 6, /*kMovExtend*/ 4,
    /*kLea*/ 4, /*kXchg*/ 3, /*kXaddCmpxchg*/ 4, /*kCmpxchgWide*/ 2, /*kBswap*/ 1, /*kMovbe*/ 1,
    /*kCmov*/ 5, /*kSetcc*/ 4, /*kConvert*/ 2, /*kPushPop*/ 5, /*kFlagsStack*/ 2,
    /*kLahfSahf*/ 2, /*kFlagOps*/ 2, /*kString*/ 6, /*kXlat*/ 1, /*kEnterLeave*/ 1, /*kHint*/ 2,
    /*kBranchSkip*/ 7, /*kLoopFam*/ 3, /*kCallRet*/ 3};

// Families whose units may serve as the body of a branch, loop or call (no stack movement, no
// nested control flow).
const Family kBodyFamilies[] = {kAlu2,    kUnary,     kShift,     kShiftDouble, kMulDiv1,
                                kImul,    kDiv,       kBitTest,   kBitScan,     kBmi,
                                kMov,     kMovExtend, kLea,       kXchg,        kXaddCmpxchg,
                                kCmovFam, kSetccFam,  kConvert,   kLahfSahf,    kFlagOps,
                                kString,  kXlat,      kBswap,     kCmpxchgWide, kHint};

const unsigned kWidths[4] = {1, 2, 4, 8};

}  // namespace

// Builds one unit against the tracker state before it.
struct Builder {
  Generator& g;
  const Tracker& t;
  Unit u;
  std::vector<Need> pending;  // needs of the instruction being built (from its memory operand)

  bool no_rsp_mem = false;    // a CALL body: [rsp+...] could overwrite the return address

  Builder(Generator& gen, const Tracker& tr) : g(gen), t(tr) {}

  std::mt19937_64& rng() { return g.m_rng; }
  uint64_t r64() { return g.m_rng(); }
  unsigned below(unsigned n) { return static_cast<unsigned>(g.m_rng() % n); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(g.m_rng) < p; }
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(g.m_rng() % static_cast<uint64_t>(hi - lo + 1));
  }
  template <typename T, size_t N>
  const T& pick(const T (&a)[N]) { return a[below(N)]; }
  template <typename T>
  T pick(std::initializer_list<T> a) { return a.begin()[below(static_cast<unsigned>(a.size()))]; }
  unsigned width() { return kWidths[below(4)]; }
  unsigned width_v() { return kWidths[1 + below(3)]; }  // 2, 4, 8

  // Registers: destinations never RSP/RBP; sources may be.
  unsigned any_writable() {
    unsigned r;
    do r = below(16); while (r == RSP || r == RBP);
    return r;
  }
  Reg dst(unsigned w) {
    if (w == 1 && chance(0.25)) return {below(4), true};
    if (chance(0.75)) return {g.m_hot[below(static_cast<unsigned>(g.m_hot.size()))], false};
    return {any_writable(), false};
  }
  Reg src(unsigned w) {
    if (chance(0.06)) return {chance(0.5) ? unsigned{RSP} : unsigned{RBP}, false};
    return dst(w);
  }

  // Immediates at operand width w (signed, as the encoder wants them); w = 8 gives imm32.
  int64_t imm(unsigned w) {
    const unsigned iw = w == 8 ? 4 : w;
    switch (below(4)) {
      case 0: return range(-128, 127);
      case 1: {
        const auto e = edge_values(iw);
        return sext(e[below(static_cast<unsigned>(e.size()))], iw);
      }
      case 2: return range(-16, 16);
      default: return sext(r64(), iw);
    }
  }

  // A memory offset from kMemBase for an access of `size` bytes.
  int64_t offset(unsigned size, unsigned align) {
    int64_t off;
    if (chance(0.5)) {
      off = g.m_hot_offsets[below(static_cast<unsigned>(g.m_hot_offsets.size()))] +
            (chance(0.3) ? range(-7, 7) : 0);
    } else {
      off = range(-kMemReach, kMemReach - static_cast<int64_t>(size));
    }
    if (align > 1) off &= ~static_cast<int64_t>(align - 1);
    return std::clamp<int64_t>(off, -kMemReach, kMemReach - static_cast<int64_t>(size) - 16);
  }

  // Setup: a register loaded with a value the tracker then knows.
  bool setup_mov(Reg r, unsigned w, int64_t value) {
    ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_MOV);
    q.operand_count = 2;
    q.operands[0] = reg_op(zreg(r, w));
    q.operands[1] = imm_op(value);
    Insn in;
    if (!make_insn(q, in)) return false;
    noise(in);
    in.setup = true;
    if (!r.high) {
      in.set_reg = static_cast<int>(r.id);
      in.set_value = w == 1 ? KnownValue{0xff, static_cast<uint64_t>(value) & 0xff}
                   : w == 2 ? KnownValue{0xffff, static_cast<uint64_t>(value) & 0xffff}
                   : w == 4 ? KnownValue{~0ull, static_cast<uint64_t>(value) & 0xffffffff}
                            : KnownValue{~0ull, static_cast<uint64_t>(value)};
    }
    u.insns.push_back(std::move(in));
    return true;
  }
  // Setup: lea r64, [rbp+off].
  bool setup_pointer(unsigned r, int64_t off) {
    ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_LEA);
    q.operand_count = 2;
    q.operands[0] = reg_op(kGpr64[r]);
    q.operands[1] = mem_rbp(off, 8);
    Insn in;
    if (!make_insn(q, in)) return false;
    in.setup = true;
    in.set_reg = static_cast<int>(r);
    in.set_value = {~0ull, kMemBase + static_cast<uint64_t>(off)};
    u.insns.push_back(std::move(in));
    return true;
  }
  // Any other setup instruction (guards), with its flag effects.
  bool setup_insn(const ZydisEncoderRequest& q, Effects fx) {
    Insn in;
    if (!make_insn(q, in)) return false;
    in.setup = true;
    in.reads = fx.reads;
    in.defines = fx.defines;
    in.undefines = fx.undefines;
    u.insns.push_back(std::move(in));
    return true;
  }

  // A memory operand of `size` bytes inside the data window; may add a setup instruction (an
  // index register) and a need to `pending`.
  ZydisEncoderOperand mem(unsigned size, unsigned align = 1) {
    const int64_t off = offset(size, align);
    ZydisEncoderOperand o = mem_rbp(off, size);
    const unsigned k = below(100);
    if (k < 56 || align > 1) return o;
    if (k < 60) {
      // [rsp+disp]: RSP stays within kStackReach of the stack window's middle, so this is in it.
      if (no_rsp_mem) return o;
      o.mem.base = ZYDIS_REGISTER_RSP;
      o.mem.displacement = range(-0x40, 0x40 - static_cast<int64_t>(size));
      return o;
    }
    if (k < 80) {
      // [rbp + index*scale + disp] or [index*scale + disp32] with an index of known value.
      const unsigned scale = 1u << below(4);
      int idx = -1;
      int64_t v = 0;
      for (unsigned tries = 0; tries < 4 && idx < 0; ++tries) {
        const unsigned r = any_writable();
        const KnownValue& kv = t.known(r);
        const int64_t val = static_cast<int64_t>(kv.value);
        if (kv.mask == ~0ull && val >= -256 && val <= 256) {
          idx = static_cast<int>(r);
          v = val;
        }
      }
      if (idx < 0 || chance(0.3)) {
        idx = static_cast<int>(any_writable());
        v = range(-40, 40);
        if (!setup_mov({static_cast<unsigned>(idx), false}, v < 0 || chance(0.5) ? 8 : 4, v)) return o;
      }
      o.mem.index = kGpr64[idx];
      o.mem.scale = static_cast<ZyanU8>(scale);
      o.mem.displacement = off - v * static_cast<int64_t>(scale);
      if (chance(0.2)) {
        o.mem.base = ZYDIS_REGISTER_NONE;
        o.mem.displacement += static_cast<int64_t>(kMemBase);
      }
      pending.push_back({static_cast<uint8_t>(idx), ~0ull, static_cast<uint64_t>(v)});
      if (chance(0.25)) {
        // 32-bit addressing (67): EBP/E?? and a wrap-around modulo 2^32 for negative indexes.
        if (o.mem.base == ZYDIS_REGISTER_RBP) o.mem.base = ZYDIS_REGISTER_EBP;
        o.mem.index = kGpr32[idx];
        o.mem.displacement = static_cast<int32_t>(o.mem.displacement);
      }
      return o;
    }
    if (k < 83) {
      o.mem.base = ZYDIS_REGISTER_EBP;  // [ebp+disp] (67)
      return o;
    }
    o.mem.base = k < 91 ? ZYDIS_REGISTER_NONE : ZYDIS_REGISTER_RIP;  // [abs32] or [rip+disp32]
    o.mem.displacement = static_cast<int64_t>(kMemBase) + off;
    return o;
  }
  ZydisEncoderOperand rm(unsigned w, bool memory, Reg r) { return memory ? mem(w) : reg_op(zreg(r, w)); }

  // Sometimes a redundant prefix (not for RIP-relative operands, which are re-encoded, nor
  // relative branches, whose targets depend on lengths).
  void noise(Insn& in) {
    if (in.rip_relative || !chance(0.12)) return;
    const unsigned kind = below(3);
    const size_t before = in.bytes.size();
    add_redundant_prefix(in.bytes, kind, below(5), g.m_opt.gs_base_zero);
    if (in.bytes.size() != before)
      ++redundant_prefixes()[kind == 0 ? "segment (2e/36/3e/26/65)" : kind == 1 ? "empty REX (40)" : "66 with REX.W"];
  }

  // The instruction the unit is about.
  bool main(const ZydisEncoderRequest& q, Effects fx, int stack_delta = 0, bool allow_noise = true) {
    Insn in;
    if (!make_insn(q, in)) return false;
    if (allow_noise) noise(in);
    in.reads = fx.reads;
    in.defines = fx.defines;
    in.undefines = fx.undefines;
    in.needs.insert(in.needs.end(), pending.begin(), pending.end());
    pending.clear();
    in.stack_delta = stack_delta;
    u.insns.push_back(std::move(in));
    return true;
  }
  // Adds a need to the instruction about to be emitted.
  void need(unsigned reg, uint64_t mask, uint64_t value) {
    pending.push_back({static_cast<uint8_t>(reg), mask, value});
  }

  // A shift count: small, around the widths, or anything.
  unsigned count(unsigned w) {
    static const unsigned kCounts[] = {0, 1, 1, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};
    switch (below(3)) {
      case 0: return pick(kCounts);
      case 1: return below(8 * w + 2);
      default: return below(256);
    }
  }
  // CL holding a count: reuse a known CL or load one. Returns the count.
  bool cl_count(unsigned w, unsigned& n, bool limit16 = false) {
    const KnownValue& k = t.known(RCX);
    if ((k.mask & 0xff) == 0xff && chance(0.5)) {
      n = static_cast<unsigned>(k.value & 0xff);
      if (!limit16 || (n & 31) <= 16) {
        need(RCX, 0xff, n);
        return true;
      }
    }
    do n = count(w); while (limit16 && (n & 31) > 16);
    if (!setup_mov({RCX, false}, 1, static_cast<int8_t>(n))) return false;
    need(RCX, 0xff, n);
    return true;
  }

  bool build(Family f);
  bool alu2();
  bool unary();
  bool shift();
  bool shift_double();
  bool muldiv1();
  bool imul();
  bool div(bool guarded);
  bool bit_test();
  bool bit_scan();
  bool bmi();
  bool mov();
  bool mov_extend();
  bool lea();
  bool xchg();
  bool xadd_cmpxchg();
  bool cmpxchg_wide();
  bool bswap();
  bool movbe();
  bool cmov();
  bool setcc();
  bool convert();
  bool push_pop();
  bool flags_stack();
  bool lahf_sahf();
  bool flag_ops();
  bool string_op();
  bool xlat();
  bool enter_leave();
  bool hint();
  bool body(std::vector<Insn>& out, bool keep_rcx);
  bool branch_skip();
  bool loop();
  bool call_ret();
  bool terminator();
  // An instruction with a position-independent RIP-relative operand or relative branch target.
  bool emit_rel(const ZydisEncoderRequest& q, Effects fx, bool setup, int stack_delta = 0);
  static size_t length(const std::vector<Insn>& v, size_t a = 0, size_t b = SIZE_MAX) {
    size_t n = 0;
    const auto end = v.begin() + static_cast<long>(std::min(b, v.size()));
    for (auto it = v.begin() + static_cast<long>(std::min(a, v.size())); it < end; ++it) n += it->bytes.size();
    return n;
  }
};

bool Builder::build(Family f) {
  switch (f) {
    case kAlu2: return alu2();
    case kUnary: return unary();
    case kShift: return shift();
    case kShiftDouble: return shift_double();
    case kMulDiv1: return muldiv1();
    case kImul: return imul();
    case kDiv: return div(true);
    case kBitTest: return bit_test();
    case kBitScan: return bit_scan();
    case kBmi: return bmi();
    case kMov: return mov();
    case kMovExtend: return mov_extend();
    case kLea: return lea();
    case kXchg: return xchg();
    case kXaddCmpxchg: return xadd_cmpxchg();
    case kCmpxchgWide: return cmpxchg_wide();
    case kBswap: return bswap();
    case kMovbe: return movbe();
    case kCmovFam: return cmov();
    case kSetccFam: return setcc();
    case kConvert: return convert();
    case kPushPop: return push_pop();
    case kFlagsStack: return flags_stack();
    case kLahfSahf: return lahf_sahf();
    case kFlagOps: return flag_ops();
    case kString: return string_op();
    case kXlat: return xlat();
    case kEnterLeave: return enter_leave();
    case kHint: return hint();
    case kBranchSkip: return branch_skip();
    case kLoopFam: return loop();
    case kCallRet: return call_ret();
    default: return false;
  }
}

bool Builder::alu2() {
  static const ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SUB,
                                       ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_CMP, ZYDIS_MNEMONIC_AND,
                                       ZYDIS_MNEMONIC_OR,  ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_TEST};
  const ZydisMnemonic m = pick(kOps);
  const bool ro = m == ZYDIS_MNEMONIC_CMP || m == ZYDIS_MNEMONIC_TEST;
  const unsigned w = width();
  unsigned form = below(5);  // r,r  r,m  m,r  r,imm  m,imm
  if (m == ZYDIS_MNEMONIC_TEST && form == 1) form = 2;
  ZydisEncoderRequest q = request(m);
  q.operand_count = 2;
  const Reg d = ro ? src(w) : dst(w);
  switch (form) {
    case 0: q.operands[0] = reg_op(zreg(d, w)); q.operands[1] = reg_op(zreg(src(w), w)); break;
    case 1: q.operands[0] = reg_op(zreg(d, w)); q.operands[1] = mem(w); break;
    case 2: q.operands[0] = mem(w); q.operands[1] = reg_op(zreg(src(w), w)); break;
    case 3: q.operands[0] = reg_op(zreg(d, w)); q.operands[1] = imm_op(imm(w)); break;
    default: q.operands[0] = mem(w); q.operands[1] = imm_op(imm(w)); break;
  }
  if (!ro && (form == 2 || form == 4) && chance(0.25)) q.prefixes = ZYDIS_ATTRIB_HAS_LOCK;
  Effects fx = (m == ZYDIS_MNEMONIC_AND || m == ZYDIS_MNEMONIC_OR || m == ZYDIS_MNEMONIC_XOR ||
                m == ZYDIS_MNEMONIC_TEST) ? kLogic : kAllDefined;
  if (m == ZYDIS_MNEMONIC_ADC || m == ZYDIS_MNEMONIC_SBB) fx.reads = CF;
  return main(q, fx);
}

bool Builder::unary() {
  static const ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG,
                                       ZYDIS_MNEMONIC_NOT};
  const ZydisMnemonic m = pick(kOps);
  const unsigned w = width();
  const bool memory = chance(0.35);
  ZydisEncoderRequest q = request(m);
  q.operand_count = 1;
  q.operands[0] = rm(w, memory, dst(w));
  if (memory && chance(0.25)) q.prefixes = ZYDIS_ATTRIB_HAS_LOCK;
  Effects fx = kNone;
  if (m == ZYDIS_MNEMONIC_INC || m == ZYDIS_MNEMONIC_DEC) fx = {0, kArith & ~CF, 0};  // CF unaffected
  if (m == ZYDIS_MNEMONIC_NEG) fx = kAllDefined;
  return main(q, fx);
}

bool Builder::shift() {
  static const ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR,
                                       ZYDIS_MNEMONIC_ROL, ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL,
                                       ZYDIS_MNEMONIC_RCR};
  const ZydisMnemonic m = pick(kOps);
  const unsigned w = width();
  const bool memory = chance(0.3);
  ZydisEncoderRequest q = request(m);
  q.operand_count = 2;
  unsigned n;
  const unsigned how = below(3);  // 1, imm8, CL
  if (how == 2) {
    if (!cl_count(w, n)) return false;
    q.operands[1] = reg_op(ZYDIS_REGISTER_CL);
  } else {
    n = how == 0 ? 1 : count(w);
    q.operands[1] = imm_op(n);
  }
  q.operands[0] = rm(w, memory, dst(w));
  return main(q, shift_effects(m, w, n));
}

bool Builder::shift_double() {
  const ZydisMnemonic m = chance(0.5) ? ZYDIS_MNEMONIC_SHLD : ZYDIS_MNEMONIC_SHRD;
  const unsigned w = width_v();
  const bool memory = chance(0.3);
  ZydisEncoderRequest q = request(m);
  q.operand_count = 3;
  unsigned n;
  if (chance(0.5)) {
    if (!cl_count(w, n, w == 2)) return false;
    q.operands[2] = reg_op(ZYDIS_REGISTER_CL);
  } else {
    do n = count(w); while (w == 2 && (n & 31) > 16);  // larger: result undefined (SDM)
    q.operands[2] = imm_op(n);
  }
  q.operands[0] = rm(w, memory, dst(w));
  q.operands[1] = reg_op(zreg(src(w), w));
  return main(q, double_shift_effects(w, n));
}

bool Builder::muldiv1() {
  const ZydisMnemonic m = chance(0.5) ? ZYDIS_MNEMONIC_MUL : ZYDIS_MNEMONIC_IMUL;
  const unsigned w = width();
  ZydisEncoderRequest q = request(m);
  q.operand_count = 1;
  q.operands[0] = rm(w, chance(0.3), src(w));
  return main(q, kMulFx);
}

bool Builder::imul() {
  const unsigned w = width_v();
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_IMUL);
  q.operands[0] = reg_op(zreg(dst(w), w));
  q.operands[1] = rm(w, chance(0.3), src(w));
  q.operand_count = 2;
  if (chance(0.5)) {
    q.operands[2] = imm_op(imm(w));
    q.operand_count = 3;
  }
  return main(q, kMulFx);
}

// DIV/IDIV. Guarded: setup instructions make the division unable to fault:
//   DIV:  high half = 0 and divisor |= one bit, or high half >>= 1 and divisor |= its top bit;
//   IDIV: divisor |= one bit and &= ~another bit (neither 0 nor -1), dividend sign-extended.
// The divisor is never part of the dividend's registers.
bool Builder::div(bool guarded) {
  const bool sign = chance(0.5);
  const ZydisMnemonic m = sign ? ZYDIS_MNEMONIC_IDIV : ZYDIS_MNEMONIC_DIV;
  const unsigned w = width();
  const bool memory = chance(0.3);
  Reg r;
  do r = dst(w); while (r.id == RAX || (w > 1 && r.id == RDX));
  const ZydisEncoderOperand divisor = rm(w, memory, r);
  const unsigned bits = 8 * w;
  auto set_bit = [&](unsigned b) {
    if (w == 8 && b >= 31) {
      ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_BTS);
      q.operand_count = 2;
      q.operands[0] = divisor;
      q.operands[1] = imm_op(b);
      return setup_insn(q, {0, CF, OF | SF | AF | PF});
    }
    ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_OR);
    q.operand_count = 2;
    q.operands[0] = divisor;
    q.operands[1] = imm_op(sext(1ull << b, w));
    return setup_insn(q, kLogic);
  };
  const std::vector<Need> divisor_needs = pending;
  const size_t first_guard = u.insns.size();
  if (guarded) {
    if (!sign) {
      if (chance(0.5)) {
        if (!set_bit(below(bits))) return false;
        ZydisEncoderRequest q = request(w == 1 ? ZYDIS_MNEMONIC_MOV : ZYDIS_MNEMONIC_XOR);
        q.operand_count = 2;
        const ZydisRegister hi = w == 1 ? ZYDIS_REGISTER_AH : zreg({RDX, false}, w == 8 && chance(0.5) ? 4 : w);
        q.operands[0] = reg_op(hi);
        q.operands[1] = w == 1 ? imm_op(0) : reg_op(hi);
        if (!setup_insn(q, w == 1 ? kNone : kLogic)) return false;
      } else {
        if (!set_bit(bits - 1)) return false;
        ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_SHR);
        q.operand_count = 2;
        q.operands[0] = reg_op(w == 1 ? ZYDIS_REGISTER_AH : zreg({RDX, false}, w));
        q.operands[1] = imm_op(1);
        if (!setup_insn(q, shift_effects(ZYDIS_MNEMONIC_SHR, w, 1))) return false;
      }
    } else {
      const unsigned set = below(bits);
      unsigned clear;
      do clear = below(std::min(bits, 31u)); while (clear == set);
      if (!set_bit(set)) return false;
      ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_AND);
      q.operand_count = 2;
      q.operands[0] = divisor;
      q.operands[1] = imm_op(sext(~(1ull << clear), w == 8 ? 4 : w));
      if (!setup_insn(q, kLogic)) return false;
      static const ZydisMnemonic kExtend[] = {ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWD,
                                              ZYDIS_MNEMONIC_CDQ, ZYDIS_MNEMONIC_CQO};
      if (!setup_insn(request(kExtend[w == 1 ? 0 : w == 2 ? 1 : w == 4 ? 2 : 3]), kNone)) return false;
    }
    // The guards used the divisor's memory operand: its needs hold for them too.
    for (size_t i = first_guard; i < u.insns.size(); ++i)
      u.insns[i].needs.insert(u.insns[i].needs.end(), divisor_needs.begin(), divisor_needs.end());
  }
  pending = divisor_needs;
  ZydisEncoderRequest q = request(m);
  q.operand_count = 1;
  q.operands[0] = divisor;
  u.may_fault = !guarded;
  return main(q, kDivFx);
}

bool Builder::bit_test() {
  static const ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR,
                                       ZYDIS_MNEMONIC_BTC};
  const ZydisMnemonic m = pick(kOps);
  const unsigned w = width_v();
  ZydisEncoderRequest q = request(m);
  q.operand_count = 2;
  const unsigned form = below(4);  // r,r  r,imm  m,imm  m,r
  const Reg d = m == ZYDIS_MNEMONIC_BT ? src(w) : dst(w);
  if (form == 3) {
    // A register bit offset reaches other words of memory: keep it within +-0x300 bytes.
    const int64_t bit_off = range(-0x1800, 0x1800);
    const unsigned r = any_writable();
    if (!setup_mov({r, false}, 8, bit_off)) return false;
    q.operands[0] = mem_rbp(range(-0x300, 0x300), w);
    q.operands[1] = reg_op(zreg({r, false}, w));
    need(r, ~0ull, static_cast<uint64_t>(bit_off));
  } else {
    q.operands[0] = form == 2 ? mem(w) : reg_op(zreg(d, w));
    q.operands[1] = form == 0 ? reg_op(zreg(src(w), w)) : imm_op(below(256));
  }
  if (m != ZYDIS_MNEMONIC_BT && form >= 2 && chance(0.25)) q.prefixes = ZYDIS_ATTRIB_HAS_LOCK;
  return main(q, {0, CF, OF | SF | AF | PF});  // ZF unaffected
}

bool Builder::bit_scan() {
  std::vector<ZydisMnemonic> ops = {ZYDIS_MNEMONIC_BSF, ZYDIS_MNEMONIC_BSR, ZYDIS_MNEMONIC_POPCNT};
  if (g.m_opt.bmi1) ops.push_back(ZYDIS_MNEMONIC_TZCNT);
  if (g.m_opt.lzcnt) ops.push_back(ZYDIS_MNEMONIC_LZCNT);
  const ZydisMnemonic m = ops[below(static_cast<unsigned>(ops.size()))];
  const unsigned w = width_v();
  ZydisEncoderRequest q = request(m);
  q.operand_count = 2;
  q.operands[0] = reg_op(zreg(dst(w), w));
  q.operands[1] = rm(w, chance(0.3), src(w));
  Effects fx = kAllDefined;                                          // POPCNT
  if (m == ZYDIS_MNEMONIC_BSF || m == ZYDIS_MNEMONIC_BSR) fx = {0, ZF, CF | OF | SF | AF | PF};
  if (m == ZYDIS_MNEMONIC_TZCNT || m == ZYDIS_MNEMONIC_LZCNT) fx = {0, CF | ZF, OF | SF | AF | PF};
  return main(q, fx);
}

bool Builder::bmi() {
  struct B { ZydisMnemonic m; bool bmi2; Effects fx; int shape; };
  // shape: 0 = dst, vvvv, r/m   1 = dst, r/m   2 = dst, r/m, vvvv   3 = dst, r/m, imm8
  static const B kOps[] = {
      {ZYDIS_MNEMONIC_ANDN, false, {0, CF | OF | SF | ZF, AF | PF}, 0},
      {ZYDIS_MNEMONIC_BLSI, false, {0, CF | OF | SF | ZF, AF | PF}, 1},
      {ZYDIS_MNEMONIC_BLSMSK, false, {0, CF | OF | SF | ZF, AF | PF}, 1},
      {ZYDIS_MNEMONIC_BLSR, false, {0, CF | OF | SF | ZF, AF | PF}, 1},
      {ZYDIS_MNEMONIC_BEXTR, false, {0, CF | OF | ZF, AF | SF | PF}, 2},
      {ZYDIS_MNEMONIC_BZHI, true, {0, CF | OF | SF | ZF, AF | PF}, 2},
      {ZYDIS_MNEMONIC_SHLX, true, kNone, 2},
      {ZYDIS_MNEMONIC_SHRX, true, kNone, 2},
      {ZYDIS_MNEMONIC_SARX, true, kNone, 2},
      {ZYDIS_MNEMONIC_RORX, true, kNone, 3},
      {ZYDIS_MNEMONIC_PDEP, true, kNone, 0},
      {ZYDIS_MNEMONIC_PEXT, true, kNone, 0},
      {ZYDIS_MNEMONIC_MULX, true, kNone, 0},
  };
  const B& b = pick(kOps);
  if (b.bmi2 ? !g.m_opt.bmi2 : !g.m_opt.bmi1) return false;
  const unsigned w = chance(0.5) ? 4 : 8;
  ZydisEncoderRequest q = request(b.m);
  const bool memory = chance(0.3);
  if (b.shape == 2 && chance(0.5)) {
    // A useful control: start/length (BEXTR) or index (BZHI) within the operand.
    const Reg c = dst(4);
    const int64_t v = b.m == ZYDIS_MNEMONIC_BEXTR ? (range(0, 8 * w + 4) | (range(0, 8 * w + 4) << 8))
                                                  : range(0, 8 * w + 8);
    if (!setup_mov(c, 4, v)) return false;
    q.operands[0] = reg_op(zreg(dst(w), w));
    q.operands[1] = rm(w, memory, src(w));
    q.operands[2] = reg_op(zreg(c, w));
    q.operand_count = 3;
    return main(q, b.fx);
  }
  q.operands[0] = reg_op(zreg(dst(w), w));
  switch (b.shape) {
    case 0:
      q.operands[1] = reg_op(zreg(b.m == ZYDIS_MNEMONIC_MULX ? dst(w) : src(w), w));
      q.operands[2] = rm(w, memory, src(w));
      q.operand_count = 3;
      break;
    case 1:
      q.operands[1] = rm(w, memory, src(w));
      q.operand_count = 2;
      break;
    case 2:
      q.operands[1] = rm(w, memory, src(w));
      q.operands[2] = reg_op(zreg(src(w), w));
      q.operand_count = 3;
      break;
    default:
      q.operands[1] = rm(w, memory, src(w));
      q.operands[2] = imm_op(below(256));
      q.operand_count = 3;
      break;
  }
  return main(q, b.fx);
}

bool Builder::mov() {
  const unsigned w = width();
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_MOV);
  q.operand_count = 2;
  switch (below(6)) {
    case 0: q.operands[0] = reg_op(zreg(dst(w), w)); q.operands[1] = reg_op(zreg(src(w), w)); break;
    case 1: q.operands[0] = reg_op(zreg(dst(w), w)); q.operands[1] = mem(w); break;
    case 2: q.operands[0] = mem(w); q.operands[1] = reg_op(zreg(src(w), w)); break;
    case 3: q.operands[0] = reg_op(zreg(dst(w), w)); q.operands[1] = imm_op(imm(w)); break;
    case 4: q.operands[0] = mem(w); q.operands[1] = imm_op(imm(w)); break;
    default:  // mov r64, imm64
      q.operands[0] = reg_op(zreg(dst(8), 8));
      q.operands[1] = imm_op(static_cast<int64_t>(r64() | (1ull << (32 + below(32)))));
      break;
  }
  return main(q, kNone);
}

bool Builder::mov_extend() {
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_MOVZX);
  q.operand_count = 2;
  unsigned dw, sw;
  const unsigned k = below(5);
  if (k == 4) {
    q.mnemonic = ZYDIS_MNEMONIC_MOVSXD;
    dw = 8;
    sw = 4;
  } else {
    q.mnemonic = k < 2 ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOVSX;
    sw = chance(0.5) ? 1 : 2;
    do dw = width_v(); while (dw <= sw);
  }
  q.operands[0] = reg_op(zreg(dst(dw), dw));
  q.operands[1] = rm(sw, chance(0.3), src(sw));
  return main(q, kNone);
}

bool Builder::lea() {
  const unsigned w = width_v();
  const bool a32 = chance(0.2);
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_LEA);
  q.operand_count = 2;
  q.operands[0] = reg_op(zreg(dst(w), w));
  ZydisEncoderOperand& o = q.operands[1];
  o.type = ZYDIS_OPERAND_TYPE_MEMORY;
  o.mem.size = a32 ? 4 : 8;
  const unsigned b = below(18);  // 16: none, 17: RIP
  if (b < 16) o.mem.base = a32 ? kGpr32[b] : kGpr64[b];
  else if (b == 17 && !a32) o.mem.base = ZYDIS_REGISTER_RIP;
  if (o.mem.base != ZYDIS_REGISTER_RIP && chance(0.6)) {
    unsigned i;
    do i = below(16); while (i == RSP);
    o.mem.index = a32 ? kGpr32[i] : kGpr64[i];
    o.mem.scale = static_cast<ZyanU8>(1u << below(4));
  }
  switch (below(3)) {
    case 0: o.mem.displacement = 0; break;
    case 1: o.mem.displacement = range(-128, 127); break;
    default: o.mem.displacement = static_cast<int32_t>(r64()); break;
  }
  if (o.mem.base == ZYDIS_REGISTER_RIP) o.mem.displacement += static_cast<int64_t>(HostRunner::kSnippet);
  return main(q, kNone);
}

bool Builder::xchg() {
  const unsigned w = width();
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_XCHG);
  q.operand_count = 2;
  const Reg a = dst(w);
  if (chance(0.4)) {  // Zydis encodes the memory form only as xchg m, r
    q.operands[0] = mem(w);
    q.operands[1] = reg_op(zreg(a, w));
  } else {
    q.operands[0] = reg_op(zreg(a, w));
    q.operands[1] = reg_op(zreg(dst(w), w));
  }
  return main(q, kNone);
}

bool Builder::xadd_cmpxchg() {
  const ZydisMnemonic m = chance(0.5) ? ZYDIS_MNEMONIC_XADD : ZYDIS_MNEMONIC_CMPXCHG;
  const unsigned w = width();
  ZydisEncoderRequest q = request(m);
  q.operand_count = 2;
  const bool memory = chance(0.4);
  const Reg d = dst(w);
  q.operands[0] = memory ? mem(w) : reg_op(zreg(d, w));
  q.operands[1] = reg_op(zreg(m == ZYDIS_MNEMONIC_XADD ? dst(w) : src(w), w));
  if (memory && chance(0.3)) q.prefixes = ZYDIS_ATTRIB_HAS_LOCK;
  if (m == ZYDIS_MNEMONIC_CMPXCHG && chance(0.4)) {
    // Make the comparison succeed: accumulator = destination.
    ZydisEncoderRequest s = request(ZYDIS_MNEMONIC_MOV);
    s.operand_count = 2;
    s.operands[0] = reg_op(zreg({RAX, false}, w));
    s.operands[1] = q.operands[0];
    const std::vector<Need> needs = pending;
    if (!setup_insn(s, kNone)) return false;
    u.insns.back().needs = needs;
  }
  return main(q, kAllDefined);
}

bool Builder::cmpxchg_wide() {
  const bool wide = chance(0.5);
  const unsigned size = wide ? 16 : 8;
  const int64_t off = offset(size, size);
  ZydisEncoderRequest q = request(wide ? ZYDIS_MNEMONIC_CMPXCHG16B : ZYDIS_MNEMONIC_CMPXCHG8B);
  q.operand_count = 1;
  q.operands[0] = mem_rbp(off, size);
  if (chance(0.3)) q.prefixes = ZYDIS_ATTRIB_HAS_LOCK;
  if (chance(0.5)) {
    // rDX:rAX = the memory operand, so that the exchange happens.
    for (unsigned half = 0; half < 2; ++half) {
      ZydisEncoderRequest s = request(ZYDIS_MNEMONIC_MOV);
      s.operand_count = 2;
      s.operands[0] = reg_op(zreg({half ? unsigned{RDX} : unsigned{RAX}, false}, size / 2));
      s.operands[1] = mem_rbp(off + half * (size / 2), size / 2);
      if (!setup_insn(s, kNone)) return false;
    }
  }
  return main(q, {0, ZF, 0});
}

bool Builder::bswap() {
  const unsigned w = chance(0.5) ? 4 : 8;
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_BSWAP);
  q.operand_count = 1;
  q.operands[0] = reg_op(zreg(dst(w), w));
  return main(q, kNone);
}

bool Builder::movbe() {
  if (!g.m_opt.movbe) return false;
  const unsigned w = width_v();
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_MOVBE);
  q.operand_count = 2;
  if (chance(0.5)) {
    q.operands[0] = reg_op(zreg(dst(w), w));
    q.operands[1] = mem(w);
  } else {
    q.operands[0] = mem(w);
    q.operands[1] = reg_op(zreg(src(w), w));
  }
  return main(q, kNone);
}

bool Builder::cmov() {
  const unsigned cc = below(16);
  const unsigned w = width_v();
  ZydisEncoderRequest q = request(kCmov[cc]);
  q.operand_count = 2;
  q.operands[0] = reg_op(zreg(dst(w), w));
  q.operands[1] = rm(w, chance(0.3), src(w));
  return main(q, {kCondReads[cc], 0, 0});
}

bool Builder::setcc() {
  const unsigned cc = below(16);
  ZydisEncoderRequest q = request(kSetcc[cc]);
  q.operand_count = 1;
  q.operands[0] = rm(1, chance(0.25), dst(1));
  return main(q, {kCondReads[cc], 0, 0});
}

bool Builder::convert() {
  static const ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE, ZYDIS_MNEMONIC_CDQE,
                                       ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ,  ZYDIS_MNEMONIC_CQO};
  return main(request(pick(kOps)), kNone);
}

bool Builder::push_pop() {
  const unsigned w = chance(0.25) ? 2 : 8;
  ZydisEncoderRequest q;
  if (chance(0.5)) {
    q = request(ZYDIS_MNEMONIC_PUSH);
    q.operand_count = 1;
    switch (below(3)) {
      case 0: q.operands[0] = reg_op(zreg(src(w), w)); break;
      case 1: q.operands[0] = mem(w); break;
      default:
        q.operands[0] = imm_op(chance(0.5) ? range(-128, 127) : imm(w == 2 ? 2 : 4));
        if (w == 2) q.operand_size_hint = ZYDIS_OPERAND_SIZE_HINT_16;
        break;
    }
    return main(q, kNone, -static_cast<int>(w));
  }
  if (chance(0.1)) {
    // push rsp; pop rsp (16-bit: push sp; pop sp): RSP comes back to where it was.
    ZydisEncoderRequest p = request(ZYDIS_MNEMONIC_PUSH);
    p.operand_count = 1;
    p.operands[0] = reg_op(zreg({RSP, false}, w));
    if (!main(p, kNone, -static_cast<int>(w))) return false;
    q = request(ZYDIS_MNEMONIC_POP);
    q.operand_count = 1;
    q.operands[0] = reg_op(zreg({RSP, false}, w));
    return main(q, kNone, static_cast<int>(w));
  }
  q = request(ZYDIS_MNEMONIC_POP);
  q.operand_count = 1;
  if (chance(0.3)) {
    q.operands[0] = mem(w);
    if (chance(0.3) && !no_rsp_mem) {  // the address uses RSP after the pop (SDM POP)
      q.operands[0].mem.base = ZYDIS_REGISTER_RSP;
      q.operands[0].mem.index = ZYDIS_REGISTER_NONE;
      q.operands[0].mem.displacement = range(-0x20, 0x20);
      pending.clear();
    }
  } else {
    q.operands[0] = reg_op(zreg(dst(w), w));
  }
  return main(q, kNone, static_cast<int>(w));
}

bool Builder::flags_stack() {
  const bool wide = chance(0.7);
  if (chance(0.5)) return main(request(wide ? ZYDIS_MNEMONIC_PUSHFQ : ZYDIS_MNEMONIC_PUSHF),
                               {kArith, 0, 0}, wide ? -8 : -2);
  // POPF of a pushed image with only the arithmetic flags, DF, IF and bit 1.
  const uint64_t v = 0x202 | (r64() & (kArith | DF));
  ZydisEncoderRequest p = request(ZYDIS_MNEMONIC_PUSH);
  p.operand_count = 1;
  p.operands[0] = imm_op(static_cast<int64_t>(v));
  if (!wide) p.operand_size_hint = ZYDIS_OPERAND_SIZE_HINT_16;
  Insn in;
  if (!make_insn(p, in)) return false;
  in.setup = true;
  in.stack_delta = wide ? -8 : -2;
  u.insns.push_back(std::move(in));
  return main(request(wide ? ZYDIS_MNEMONIC_POPFQ : ZYDIS_MNEMONIC_POPF), kAllDefined, wide ? 8 : 2);
}

bool Builder::lahf_sahf() {
  if (chance(0.5)) return main(request(ZYDIS_MNEMONIC_LAHF), {SF | ZF | AF | PF | CF, 0, 0});
  return main(request(ZYDIS_MNEMONIC_SAHF), {0, SF | ZF | AF | PF | CF, 0});
}

bool Builder::flag_ops() {
  switch (below(5)) {
    case 0: return main(request(ZYDIS_MNEMONIC_CLC), {0, CF, 0});
    case 1: return main(request(ZYDIS_MNEMONIC_STC), {0, CF, 0});
    case 2: return main(request(ZYDIS_MNEMONIC_CMC), kNone);  // CF keeps its state
    case 3: return main(request(ZYDIS_MNEMONIC_CLD), kNone);
    default: return main(request(ZYDIS_MNEMONIC_STD), kNone);
  }
}

// String instructions, with or without REP/REPE/REPNE, 64- or 32-bit addressing. RSI/RDI point
// into the data window (set up unless already known there), RCX is a small count for REP.
bool Builder::string_op() {
  static const ZydisMnemonic kOps[5][4] = {
      {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_MOVSQ},
      {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ},
      {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ},
      {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD, ZYDIS_MNEMONIC_CMPSQ},
      {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ}};
  const unsigned kind = below(5), wi = below(4);
  const bool uses_si = kind == 0 || kind == 2 || kind == 3;
  const bool uses_di = kind != 2;
  const bool compares = kind >= 3;
  const bool rep = chance(0.6);
  constexpr int64_t kLo = -0x700, kHi = 0x6c0;  // +-64 bytes of movement stay inside
  ZydisEncoderRequest q = request(kOps[kind][wi]);
  // 32-bit addressing uses ESI, EDI and ECX only: their upper halves get garbage.
  const bool a32 = chance(0.2);
  if (a32) q.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
  const uint64_t amask = a32 ? 0xffffffffull : ~0ull;
  auto garbage = [&] { return a32 && chance(0.7) ? r64() << 32 : 0; };
  auto pointer = [&](unsigned r, int64_t near) {
    const KnownValue& k = t.known(r);
    const int64_t cur = static_cast<int64_t>((k.value & amask) - kMemBase);
    if ((k.mask & amask) == amask && cur >= kLo && cur <= kHi && chance(0.6)) {
      need(r, amask, k.value & amask);
      return cur;
    }
    const int64_t off = near != INT64_MIN && chance(0.5) ? std::clamp<int64_t>(near + range(-12, 12), kLo, kHi)
                        : chance(0.2) ? range(-40, 24)  // across the page boundary
                                      : range(kLo, kHi);
    const uint64_t hi = garbage();
    if (hi ? !setup_mov({r, false}, 8, static_cast<int64_t>(hi | (kMemBase + off))) : !setup_pointer(r, off))
      return int64_t{INT64_MIN};
    need(r, amask, kMemBase + static_cast<uint64_t>(off));
    return off;
  };
  int64_t si = INT64_MIN;
  if (uses_si && (si = pointer(RSI, INT64_MIN)) == INT64_MIN) return false;
  if (uses_di && pointer(RDI, si) == INT64_MIN) return false;
  unsigned n = 1;
  if (rep) {
    const KnownValue& k = t.known(RCX);
    if ((k.mask & amask) == amask && (k.value & amask) <= 8 && chance(0.5)) {
      n = static_cast<unsigned>(k.value & amask);
    } else {
      n = below(9);
      const uint64_t hi = garbage();
      if (!setup_mov({RCX, false}, hi || chance(0.5) ? 8 : 4, static_cast<int64_t>(hi | n))) return false;
    }
    need(RCX, amask, n);
    q.prefixes = !compares ? ZYDIS_ATTRIB_HAS_REP : chance(0.5) ? ZYDIS_ATTRIB_HAS_REPE : ZYDIS_ATTRIB_HAS_REPNE;
  }
  // CMPS/SCAS set the flags as CMP does, unless a REP count of 0 runs no iteration.
  return main(q, compares && n ? kAllDefined : kNone);
}

bool Builder::xlat() {
  const bool a32 = chance(0.25);  // [ebx + al]: garbage in RBX's upper half
  const uint64_t amask = a32 ? 0xffffffffull : ~0ull;
  const KnownValue& k = t.known(RBX);
  const int64_t cur = static_cast<int64_t>((k.value & amask) - kMemBase);
  if ((k.mask & amask) == amask && cur >= -0x700 && cur <= 0x600) {
    need(RBX, amask, k.value & amask);
  } else {
    const int64_t off = range(-0x700, 0x600);
    if (a32 ? !setup_mov({RBX, false}, 8, static_cast<int64_t>((r64() << 32) | (kMemBase + off)))
            : !setup_pointer(RBX, off))
      return false;
    need(RBX, amask, kMemBase + static_cast<uint64_t>(off));
  }
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_XLAT);
  if (a32) q.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
  return main(q, kNone);
}

// ENTER size, level immediately undone by LEAVE (RBP and RSP come back).
bool Builder::enter_leave() {
  const unsigned size = chance(0.5) ? below(64) * 8 : below(0x100);
  const unsigned level = chance(0.6) ? 0 : below(5);
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_ENTER);
  q.operand_count = 2;
  q.operands[0] = imm_op(size);
  q.operands[1] = imm_op(level);
  const int depth = 8 + (level ? 8 * static_cast<int>(level) : 0) + static_cast<int>(size);
  if (!main(q, kNone, -depth)) return false;
  u.insns.back().writes &= static_cast<uint16_t>(~(1u << RBP));
  if (!main(request(ZYDIS_MNEMONIC_LEAVE), kNone, depth)) return false;
  u.insns.back().writes &= static_cast<uint16_t>(~(1u << RBP));
  return true;
}

// NOPs and hints: no architectural effect, but they must decode and not fault.
bool Builder::hint() {
  switch (below(9)) {
    case 0: return main(request(ZYDIS_MNEMONIC_NOP), kNone);
    case 1: {
      ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_NOP);  // reserved-NOP space, r/m operand
      q.operand_count = 1;
      const unsigned w = width_v();
      q.operands[0] = chance(0.5) ? mem(w == 8 ? 4 : w) : reg_op(zreg(src(w), w == 8 ? 4 : w));
      return main(q, kNone);
    }
    case 2: return main(request(chance(0.5) ? ZYDIS_MNEMONIC_ENDBR64 : ZYDIS_MNEMONIC_ENDBR32), kNone);
    case 3: return main(request(ZYDIS_MNEMONIC_PAUSE), kNone);
    case 4: {
      static const ZydisMnemonic kFences[] = {ZYDIS_MNEMONIC_LFENCE, ZYDIS_MNEMONIC_SFENCE,
                                              ZYDIS_MNEMONIC_MFENCE};
      return main(request(pick(kFences)), kNone);
    }
    case 5: case 6: {
      std::vector<ZydisMnemonic> ops = {ZYDIS_MNEMONIC_PREFETCH, ZYDIS_MNEMONIC_PREFETCHW,
                                        ZYDIS_MNEMONIC_PREFETCHNTA, ZYDIS_MNEMONIC_PREFETCHT0,
                                        ZYDIS_MNEMONIC_PREFETCHT1, ZYDIS_MNEMONIC_PREFETCHT2};
      if (g.m_opt.prefetchwt1) ops.push_back(ZYDIS_MNEMONIC_PREFETCHWT1);
      ZydisEncoderRequest q = request(ops[below(static_cast<unsigned>(ops.size()))]);
      q.operand_count = 1;
      q.operands[0] = mem(1);
      return main(q, kNone);
    }
    default: {
      std::vector<ZydisMnemonic> ops = {ZYDIS_MNEMONIC_CLFLUSH};
      if (g.m_opt.clflushopt) ops.push_back(ZYDIS_MNEMONIC_CLFLUSHOPT);
      if (g.m_opt.clwb) ops.push_back(ZYDIS_MNEMONIC_CLWB);
      ZydisEncoderRequest q = request(ops[below(static_cast<unsigned>(ops.size()))]);
      q.operand_count = 1;
      q.operands[0] = mem(64);
      return main(q, kNone);
    }
  }
}

bool Builder::emit_rel(const ZydisEncoderRequest& q, Effects fx, bool setup, int stack_delta) {
  Insn in;
  if (!make_insn(q, in, false)) return false;
  in.reads = fx.reads;
  in.defines = fx.defines;
  in.undefines = fx.undefines;
  in.setup = setup;
  in.stack_delta = stack_delta;
  if (!setup) {
    in.needs.insert(in.needs.end(), pending.begin(), pending.end());
    pending.clear();
  }
  u.insns.push_back(std::move(in));
  return true;
}

// The instructions of one straight unit from a body-safe family. `keep_rcx`: none writes RCX.
bool Builder::body(std::vector<Insn>& out, bool keep_rcx) {
  for (unsigned tries = 0; tries < 20; ++tries) {
    Builder b(g, t);
    b.no_rsp_mem = no_rsp_mem;
    if (!b.build(pick(kBodyFamilies))) continue;
    bool ok = true;
    for (const Insn& in : b.u.insns) ok &= !(keep_rcx && (in.writes & (1u << RCX))) && in.stack_delta == 0;
    if (!ok) continue;
    out = std::move(b.u.insns);
    return true;
  }
  return false;
}

// A forward branch over a body: Jcc, JMP, JRCXZ/JECXZ, LOOP/LOOPE/LOOPNE (rel8 or rel32), or an
// indirect JMP through a register or memory loaded with LEA [rip+...].
bool Builder::branch_skip() {
  std::vector<Insn> bd;
  if (!body(bd, false)) return false;
  const size_t blen = length(bd);
  const unsigned kind = below(20);
  ZydisEncoderRequest q;
  Effects fx = kNone;
  if (kind < 17) {
    if (kind < 10) {
      static const ZydisMnemonic kJcc[16] = {
          ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB,  ZYDIS_MNEMONIC_JNB,
          ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
          ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP,  ZYDIS_MNEMONIC_JNP,
          ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE};
      const unsigned cc = below(16);
      q = request(kJcc[cc]);
      fx.reads = kCondReads[cc];
    } else if (kind < 11) {
      q = request(ZYDIS_MNEMONIC_JMP);
    } else if (kind < 13) {
      q = request(chance(0.7) ? ZYDIS_MNEMONIC_JRCXZ : ZYDIS_MNEMONIC_JECXZ);
    } else {
      static const ZydisMnemonic kLoops[] = {ZYDIS_MNEMONIC_LOOP, ZYDIS_MNEMONIC_LOOPE,
                                             ZYDIS_MNEMONIC_LOOPNE};
      q = request(pick(kLoops));
      if (q.mnemonic != ZYDIS_MNEMONIC_LOOP) fx.reads = ZF;
      if (chance(0.25)) q.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;  // counts in ECX
    }
    const bool short_only = kind >= 11;
    if (blen > 127 && short_only) return false;
    q.operand_count = 1;
    q.operands[0] = imm_op(static_cast<int64_t>(blen));
    q.branch_type = (short_only || (blen <= 127 && chance(0.6))) ? ZYDIS_BRANCH_TYPE_SHORT
                                                                 : ZYDIS_BRANCH_TYPE_NEAR;
    if (!emit_rel(q, fx, false)) return false;
  } else {
    // lea r, [rip + X]; (mov [m], r;) jmp r / jmp [m]
    const unsigned r = any_writable();
    const bool via_mem = chance(0.5);
    const int64_t off = offset(8, 8);
    ZydisEncoderRequest j = request(ZYDIS_MNEMONIC_JMP);
    j.operand_count = 1;
    j.operands[0] = via_mem ? mem_rbp(off, 8) : reg_op(kGpr64[r]);
    ZydisEncoderRequest st = request(ZYDIS_MNEMONIC_MOV);
    st.operand_count = 2;
    st.operands[0] = mem_rbp(off, 8);
    st.operands[1] = reg_op(kGpr64[r]);
    Insn ji, si;
    if (!make_insn(j, ji) || !make_insn(st, si)) return false;
    ZydisEncoderRequest l = request(ZYDIS_MNEMONIC_LEA);
    l.operand_count = 2;
    l.operands[0] = reg_op(kGpr64[r]);
    l.operands[1] = mem_rbp(0, 8);
    l.operands[1].mem.base = ZYDIS_REGISTER_RIP;
    l.operands[1].mem.displacement =
        static_cast<int64_t>((via_mem ? si.bytes.size() : 0) + ji.bytes.size() + blen);
    if (!emit_rel(l, kNone, true)) return false;
    if (via_mem && !setup_insn(st, kNone)) return false;
    if (!main(j, kNone, 0, false)) return false;  // its length is part of the LEA's displacement
  }
  u.body_begin = static_cast<uint16_t>(u.insns.size());
  for (Insn& in : bd) u.insns.push_back(std::move(in));
  u.body_end = static_cast<uint16_t>(u.insns.size());
  u.shape = Shape::kSkip;
  return true;
}

// mov ecx, n (1..4); body; LOOP/LOOPE/LOOPNE body, or DEC ECX; JNZ body.
bool Builder::loop() {
  std::vector<Insn> bd;
  if (!body(bd, true)) return false;
  const unsigned n = 1 + below(4);
  const bool a32 = chance(0.25);  // LOOPcc with ECX: garbage in RCX's upper half
  if (!setup_mov({RCX, false}, a32 ? 8 : chance(0.5) ? 4 : 8,
                 static_cast<int64_t>((a32 ? r64() << 32 : 0) | n)))
    return false;
  u.body_begin = static_cast<uint16_t>(u.insns.size());
  for (Insn& in : bd) u.insns.push_back(std::move(in));
  u.body_end = static_cast<uint16_t>(u.insns.size());
  u.shape = Shape::kLoop;
  const size_t blen = length(u.insns, u.body_begin, u.body_end);
  if (chance(0.6)) {
    static const ZydisMnemonic kLoops[] = {ZYDIS_MNEMONIC_LOOP, ZYDIS_MNEMONIC_LOOPE,
                                           ZYDIS_MNEMONIC_LOOPNE};
    ZydisEncoderRequest q = request(pick(kLoops));
    q.operand_count = 1;
    const size_t llen = a32 ? 3 : 2;  // [67] E0-E2 rel8
    q.operands[0] = imm_op(-static_cast<int64_t>(blen + llen));
    if (a32) q.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
    return blen + llen <= 128 && emit_rel(q, {q.mnemonic == ZYDIS_MNEMONIC_LOOP ? 0 : ZF, 0, 0}, false);
  }
  if (a32) return false;
  ZydisEncoderRequest d = request(ZYDIS_MNEMONIC_DEC);
  d.operand_count = 1;
  d.operands[0] = reg_op(chance(0.5) ? ZYDIS_REGISTER_ECX : ZYDIS_REGISTER_RCX);
  if (!setup_insn(d, {0, kArith & ~CF, 0})) return false;
  ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_JNZ);
  q.operand_count = 1;
  const bool near = chance(0.3);
  const size_t jlen = near ? 6 : 2;
  q.operands[0] = imm_op(-static_cast<int64_t>(blen + u.insns.back().bytes.size() + jlen));
  q.branch_type = near ? ZYDIS_BRANCH_TYPE_NEAR : ZYDIS_BRANCH_TYPE_SHORT;
  if (!near && blen + u.insns.back().bytes.size() + jlen > 128) return false;
  return emit_rel(q, {ZF, 0, 0}, false);
}

// (push imm;) CALL f; JMP over; f: body; RET (8). The call is direct, through a register, or
// through memory.
bool Builder::call_ret() {
  std::vector<Insn> bd;
  no_rsp_mem = true;
  const bool built = body(bd, false);
  no_rsp_mem = false;
  if (!built) return false;
  const bool ret_imm = chance(0.3);
  ZydisEncoderRequest ret = request(ZYDIS_MNEMONIC_RET);
  if (ret_imm) {
    ret.operand_count = 1;
    ret.operands[0] = imm_op(8);
    ZydisEncoderRequest p = request(ZYDIS_MNEMONIC_PUSH);
    p.operand_count = 1;
    p.operands[0] = imm_op(imm(4));
    Insn in;
    if (!make_insn(p, in)) return false;
    in.setup = true;
    in.stack_delta = -8;
    u.insns.push_back(std::move(in));
  }
  Insn ri;
  if (!make_insn(ret, ri)) return false;
  const size_t blen = length(bd);
  ZydisEncoderRequest jmp = request(ZYDIS_MNEMONIC_JMP);
  jmp.operand_count = 1;
  jmp.operands[0] = imm_op(static_cast<int64_t>(blen + ri.bytes.size()));
  const bool jnear = blen + ri.bytes.size() > 127 || chance(0.2);
  jmp.branch_type = jnear ? ZYDIS_BRANCH_TYPE_NEAR : ZYDIS_BRANCH_TYPE_SHORT;
  Insn ji;
  if (!make_insn(jmp, ji, false)) return false;
  const unsigned how = below(4);  // 0,1: rel32  2: register  3: memory
  ZydisEncoderRequest call = request(ZYDIS_MNEMONIC_CALL);
  call.operand_count = 1;
  if (how < 2) {
    call.operands[0] = imm_op(static_cast<int64_t>(ji.bytes.size()));
    call.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
  } else {
    const unsigned r = any_writable();
    const int64_t off = offset(8, 8);
    call.operands[0] = how == 2 ? reg_op(kGpr64[r]) : mem_rbp(off, 8);
    ZydisEncoderRequest st = request(ZYDIS_MNEMONIC_MOV);
    st.operand_count = 2;
    st.operands[0] = mem_rbp(off, 8);
    st.operands[1] = reg_op(kGpr64[r]);
    Insn ci, si;
    if (!make_insn(call, ci) || !make_insn(st, si)) return false;
    ZydisEncoderRequest l = request(ZYDIS_MNEMONIC_LEA);
    l.operand_count = 2;
    l.operands[0] = reg_op(kGpr64[r]);
    l.operands[1] = mem_rbp(0, 8);
    l.operands[1].mem.base = ZYDIS_REGISTER_RIP;
    l.operands[1].mem.displacement =
        static_cast<int64_t>((how == 3 ? si.bytes.size() : 0) + ci.bytes.size() + ji.bytes.size());
    if (!emit_rel(l, kNone, true)) return false;
    if (how == 3 && !setup_insn(st, kNone)) return false;
  }
  if (!emit_rel(call, kNone, false, -8)) return false;
  u.insns.push_back(std::move(ji));
  u.body_begin = static_cast<uint16_t>(u.insns.size());
  for (Insn& in : bd) u.insns.push_back(std::move(in));
  ri.stack_delta = ret_imm ? 16 : 8;
  u.insns.push_back(std::move(ri));
  u.body_end = static_cast<uint16_t>(u.insns.size());
  u.shape = Shape::kCall;
  return true;
}

// The last unit of some sequences: an instruction that may fault (#DE, #UD, #BP, #DB).
bool Builder::terminator() {
  const unsigned k = below(12);
  if (k < 7) return div(false);
  if (k == 10) {
    // A non-canonical address: #GP.
    const unsigned r = any_writable();
    const uint64_t addr = (r64() | (1ull << 63)) & ~(1ull << 62) & ~0xfffull;
    if (!setup_mov({r, false}, 8, static_cast<int64_t>(addr))) return false;
    const unsigned w = width();
    ZydisEncoderRequest q = request(chance(0.5) ? ZYDIS_MNEMONIC_MOV : ZYDIS_MNEMONIC_ADD);
    q.operand_count = 2;
    ZydisEncoderOperand m = mem_rbp(range(0, 0x100), w);
    m.mem.base = kGpr64[r];
    const bool store = chance(0.5);
    q.operands[store ? 0 : 1] = m;
    q.operands[store ? 1 : 0] = reg_op(zreg(dst(w), w));
    u.may_fault = true;
    return main(q, q.mnemonic == ZYDIS_MNEMONIC_ADD ? kAllDefined : kNone);
  }
  if (k == 11) {
    // CMPXCHG16B on an address that is not 16-byte aligned: #GP.
    ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_CMPXCHG16B);
    q.operand_count = 1;
    q.operands[0] = mem_rbp(offset(16, 16) + 8 + static_cast<int64_t>(below(8)), 16);
    u.may_fault = true;
    return main(q, {0, ZF, 0});
  }
  u.may_fault = true;
  if (k == 7) {
    const ZydisMnemonic m = pick({ZYDIS_MNEMONIC_UD2, ZYDIS_MNEMONIC_UD1, ZYDIS_MNEMONIC_UD0});
    ZydisEncoderRequest q = request(m);
    if (m != ZYDIS_MNEMONIC_UD2) {
      q.operand_count = 2;
      q.operands[0] = reg_op(zreg(src(4), 4));
      q.operands[1] = reg_op(zreg(src(4), 4));
    }
    return main(q, kNone);
  }
  if (k == 8) return main(request(chance(0.5) ? ZYDIS_MNEMONIC_INT3 : ZYDIS_MNEMONIC_INT1), kNone);
  // LOCK on a register destination or a non-lockable instruction: #UD.
  static const ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_MOV,
                                       ZYDIS_MNEMONIC_CMP, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_XCHG};
  const unsigned w = width_v();
  ZydisEncoderRequest q = request(pick(kOps));
  q.operand_count = 2;
  q.operands[0] = q.mnemonic == ZYDIS_MNEMONIC_XCHG || chance(0.5) ? reg_op(zreg(dst(w), w)) : mem(w);
  q.operands[1] = reg_op(zreg(src(w), w));
  if (q.mnemonic == ZYDIS_MNEMONIC_XCHG || q.mnemonic == ZYDIS_MNEMONIC_BTS ? q.operands[0].type != ZYDIS_OPERAND_TYPE_REGISTER
                                                                             : false)
    return false;
  Insn in;
  if (!make_insn(q, in) || in.rip_relative) return false;
  in.bytes.insert(in.bytes.begin(), 0xf0);
  const std::string key = "(invalid) lock " + in.key;
  describe(in, key.c_str());
  in.needs.insert(in.needs.end(), pending.begin(), pending.end());
  pending.clear();
  u.insns.push_back(std::move(in));
  return true;
}

Generator::Generator(const GenOptions& o, uint64_t seed) : m_opt(o), m_rng(seed) {}

Sequence Generator::sequence() {
  // Registers and memory offsets this sequence prefers, so that instructions feed each other.
  m_hot.clear();
  const unsigned nhot = 3 + static_cast<unsigned>(m_rng() % 4);
  while (m_hot.size() < nhot) {
    const unsigned r = static_cast<unsigned>(m_rng() % 16);
    if (r != RSP && r != RBP && std::find(m_hot.begin(), m_hot.end(), r) == m_hot.end()) m_hot.push_back(r);
  }
  m_hot_offsets.clear();
  for (unsigned i = 0; i < 3; ++i)
    m_hot_offsets.push_back((static_cast<int64_t>(m_rng() % 0xc00) - 0x600) & ~7ll);
  m_hot_offsets.push_back(-8);  // straddles the page boundary at kMemBase (with the jitter)

  unsigned total = 0;
  for (unsigned w : kWeights) total += w;
  const unsigned n = m_opt.min_units + static_cast<unsigned>(m_rng() % (m_opt.max_units - m_opt.min_units + 1));
  const bool fault_end = std::uniform_real_distribution<double>(0, 1)(m_rng) < m_opt.fault_rate;

  Sequence seq;
  Tracker t(m_opt.allow_undefined_reads);
  int index = 0;
  auto try_add = [&](Builder& b) {
    for (const Insn& in : b.u.insns)
      if ((in.writes & (1u << RBP)) || ((in.writes & (1u << RSP)) && in.stack_delta == 0 &&
                                        in.mnemonic != ZYDIS_MNEMONIC_ENTER && in.mnemonic != ZYDIS_MNEMONIC_LEAVE))
        throw std::logic_error("seq_gen: generated instruction writes RSP/RBP: " + in.key);
    Tracker tt = t;
    if (!replay_unit(tt, b.u, index)) return false;
    index += static_cast<int>(b.u.insns.size());
    seq.push_back(std::move(b.u));
    t = tt;
    return true;
  };
  if (std::uniform_real_distribution<double>(0, 1)(m_rng) < 0.08) {
    // JMP over filler so that the next instruction straddles the page boundary at
    // kSnippet + 0x1000 (instruction fetch across pages).
    Builder b(*this, t);
    const size_t k = 1 + m_rng() % 10, filler = 0x1000 - 5 - k;
    ZydisEncoderRequest q = request(ZYDIS_MNEMONIC_JMP);
    q.operand_count = 1;
    q.operands[0] = imm_op(static_cast<int64_t>(filler));
    q.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
    Insn in;
    if (make_insn(q, in, false) && in.bytes.size() == 5) {
      in.bytes.resize(5 + filler, 0xcc);
      b.u.insns.push_back(std::move(in));
      try_add(b);
    }
  }
  const size_t target = seq.size() + n;  // the page pad does not count
  while (seq.size() < target) {
    for (unsigned attempt = 0; attempt < 100; ++attempt) {
      unsigned k = static_cast<unsigned>(m_rng() % total);
      unsigned f = 0;
      while (k >= kWeights[f]) k -= kWeights[f++];
      Builder b(*this, t);
      if (b.build(static_cast<Family>(f)) && try_add(b)) break;
    }
  }
  if (fault_end) {
    for (unsigned attempt = 0; attempt < 100; ++attempt) {
      Builder b(*this, t);
      if (b.terminator() && try_add(b)) break;
    }
  }
  return seq;
}

DiffCase Generator::initial_state() {
  DiffCase c;
  for (unsigned r = 0; r < 16; ++r) {
    uint64_t v;
    switch (m_rng() % 8) {
      case 0: case 1: case 2: v = m_rng(); break;
      case 3: v = m_rng() % 256; break;
      case 4: v = static_cast<uint64_t>(-static_cast<int64_t>(m_rng() % 256)); break;
      case 5: v = m_rng() & 0xffffffff; break;
      default: {
        const auto e = edge_values(kWidths[m_rng() % 4]);
        v = e[m_rng() % e.size()] | (m_rng() % 2 ? m_rng() << 32 : 0);
      }
    }
    c.in.gpr[r] = v;
  }
  c.in.gpr[RSP] = kStackStart;
  c.in.gpr[RBP] = kMemBase;
  c.in.rflags = 2 | (m_rng() & kArith) | (m_rng() % 4 == 0 ? DF : 0);
  c.data.resize(kDataWinSize);
  for (size_t i = 0; i < c.data.size(); i += 8) {
    uint64_t v = m_rng();
    switch (m_rng() % 8) {
      case 0: v = 0; break;
      case 1: v = m_rng() % 64; break;
      case 2: v = ~0ull; break;
      default: break;
    }
    std::memcpy(&c.data[i], &v, 8);
  }
  c.stack.resize(kStackWinSize);
  for (auto& b : c.stack) b = static_cast<uint8_t>(m_rng());
  return c;
}

const char* excluded_reason(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_DAA: case ZYDIS_MNEMONIC_DAS: case ZYDIS_MNEMONIC_AAA:
    case ZYDIS_MNEMONIC_AAS: case ZYDIS_MNEMONIC_AAM: case ZYDIS_MNEMONIC_AAD:
    case ZYDIS_MNEMONIC_PUSHA: case ZYDIS_MNEMONIC_PUSHAD: case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_SALC:
      return "invalid in 64-bit mode";
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
      return "port I/O: #GP at CPL 3 on the host (IOPL 0), no devices in the simulator";
    case ZYDIS_MNEMONIC_JCXZ: case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_INTO:
      return "not encodable in 64-bit mode";
    case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS:
      return "loads a segment register: selectors and bases differ between the host process and "
             "the simulator's flat CPL-0 setup (and FS/GS hold the host's TLS)";
    case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_SYSCALL: case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT: case ZYDIS_MNEMONIC_SYSRET: case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ:
      return "enters or leaves the kernel: the host's OS and the simulator's IDT/MSRs differ";
    case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDTSCP:
    case ZYDIS_MNEMONIC_RDRAND: case ZYDIS_MNEMONIC_RDSEED:
      return "results differ by design (CPU model, time, randomness)";
    default:
      return nullptr;
  }
}

}  // namespace vmxsim::test::isa
