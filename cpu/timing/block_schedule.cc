#include "cpu/timing/block_schedule.h"

#include <Zydis/Zydis.h>

#include <algorithm>

namespace vmxsim::cpu::timing {

namespace {

constexpr unsigned kFlags = 16;  // pseudo-register for RFLAGS in the dependence analysis
constexpr unsigned kTracked = kFlowRegs;

// GPR number of a register operand, or -1 (segment, control, vector registers are not tracked).
int gpr_of(const DecodedOp& op, unsigned i) {
  if (op.kind[i] != OpKind::kReg || op.regclass[i] != RegClass::kGpr) return -1;
  const unsigned r = op.reg[i];
  if (r >= kRegHigh8 && r < kRegHigh8 + 4) return static_cast<int>(r - kRegHigh8);
  return r < 16 ? static_cast<int>(r) : -1;
}

bool has_mem_operand(const DecodedOp& op) {
  for (unsigned i = 0; i < op.nops && i < 3; ++i)
    if (op.kind[i] == OpKind::kMem) return true;
  return false;
}

// Destination is written without being read (MOV-like): no dependence on its old value.
bool pure_write(const DecodedOp& op) {
  if (op.tclass == TimingClass::kMov || op.tclass == TimingClass::kLoad) return true;
  return op.mnemonic == ZYDIS_MNEMONIC_LEA;
}

// Writes flags: arithmetic and logic (the classes that go through LazyFlags).
bool writes_flags(const DecodedOp& op) {
  return op.tclass == TimingClass::kAlu || op.tclass == TimingClass::kMul;
}

}  // namespace

bool is_serializing(TimingClass c) {
  switch (c) {
    case TimingClass::kSerializing: case TimingClass::kSystem: case TimingClass::kMsr:
    case TimingClass::kCpuid: case TimingClass::kCrWrite: case TimingClass::kInvlpg:
    case TimingClass::kIo: case TimingClass::kHalt:
      return true;
    default:
      return false;
  }
}

uint8_t classify(const DecodedOp& op) {
  uint8_t f = 0;
  if (op.tclass == TimingClass::kString) {
    f |= tflag::kString;
  } else if (has_mem_operand(op) && op.mnemonic != ZYDIS_MNEMONIC_LEA && op.tclass != TimingClass::kNop &&
             op.tclass != TimingClass::kInvlpg) {  // address-only operands access no data
    f |= tflag::kMem;
  }
  if (is_serializing(op.tclass)) f |= tflag::kSerial;
  BranchKind k = BranchKind::kNone;
  if (!(op.attrs & attr::kFar)) {
    const bool direct = op.kind[0] == OpKind::kImm;
    if (op.mnemonic == ZYDIS_MNEMONIC_RET) {
      k = BranchKind::kReturn;
    } else if (op.mnemonic == ZYDIS_MNEMONIC_CALL) {
      k = direct ? BranchKind::kDirectCall : BranchKind::kIndirectCall;
    } else if (op.mnemonic == ZYDIS_MNEMONIC_JMP) {
      k = direct ? BranchKind::kDirect : BranchKind::kIndirect;
    } else if (op.tclass == TimingClass::kBranch) {
      k = BranchKind::kConditional;  // Jcc, JrCXZ, LOOPcc
    }
  }
  return static_cast<uint8_t>(f | (static_cast<unsigned>(k) << tflag::kBranchShift));
}

Cycles schedule_block(std::vector<DecodedOp>& ops, const uint16_t* latency, const TimingParams& p,
                      std::vector<uint32_t>* flow) {
  // chain[v][r]: longest latency path from the block's incoming value of register r to the
  // current value of register v (-1: v does not depend on r). The loop-carried bound is the
  // longest path from a register's incoming value to its outgoing one.
  int chain[kTracked][kTracked];
  for (unsigned v = 0; v < kTracked; ++v)
    for (unsigned r = 0; r < kTracked; ++r) chain[v][r] = v == r ? 0 : -1;
  bool from_load[kTracked] = {};  // the register's value was loaded from memory in this block
  bool written[kTracked] = {};
  int depth[kTracked] = {};        // latency of the value from the block's start

  const unsigned width = std::max<uint32_t>(1, p.issue_width);
  Cycles serial = 0;
  unsigned overlapped_ops = 0;
  for (DecodedOp& op : ops) {
    op.tflags = classify(op);
    const unsigned lat = latency[static_cast<int>(op.tclass)];
    if (op.tflags & tflag::kSerial) {
      serial += lat;
      continue;
    }
    ++overlapped_ops;
    // Sources: address registers, register operands (the destination too unless MOV-like),
    // the implicit RAX/RDX of one-operand multiply and divide, flags for conditional ops.
    int srcs[8];
    unsigned nsrc = 0;
    const bool mem = op.tflags & tflag::kMem;
    bool addr_from_load = false;
    if (mem) {
      for (unsigned r : {op.base, op.index})
        if (r < 16) {
          srcs[nsrc++] = static_cast<int>(r);
          addr_from_load = addr_from_load || from_load[r];
        }
    }
    // XOR/SUB of a register with itself (the zeroing idiom) depends on nothing.
    const bool zero_idiom = (op.mnemonic == ZYDIS_MNEMONIC_XOR || op.mnemonic == ZYDIS_MNEMONIC_SUB) &&
                            op.nops == 2 && gpr_of(op, 0) >= 0 && gpr_of(op, 0) == gpr_of(op, 1);
    for (unsigned i = 0; i < op.nops && i < 3 && !zero_idiom; ++i) {
      const int g = gpr_of(op, i);
      if (g >= 0 && (i > 0 || !pure_write(op))) srcs[nsrc++] = g;
    }
    const bool implicit_ax = (op.tclass == TimingClass::kMul || op.tclass == TimingClass::kDiv) && op.nops == 1;
    if (implicit_ax) {
      srcs[nsrc++] = kRax;
      if (op.tclass == TimingClass::kDiv) srcs[nsrc++] = kRdx;
    }
    if (op.cond || branch_kind(op.tflags) == BranchKind::kConditional) srcs[nsrc++] = kFlags;

    // Result latency: a load adds the L1D load-to-use latency in front of the operation.
    const bool loads = mem && (op.kind[0] != OpKind::kMem || !pure_write(op));
    unsigned result_lat = lat;
    if (loads) result_lat = p.l1d.latency + ((op.tclass == TimingClass::kMov || op.tclass == TimingClass::kLoad) ? 0 : lat);
    // A load whose address register it overwrites (mov rax,[rax]) or that came from a load is
    // a pointer chase: its misses cannot overlap.
    int dest = gpr_of(op, 0);
    if (loads && (addr_from_load || (dest >= 0 && (dest == op.base || dest == op.index))))
      op.tflags |= tflag::kDependent;

    int path[kTracked];
    int d = 0;
    for (unsigned k = 0; k < nsrc; ++k) d = std::max(d, depth[srcs[k]]);
    d += static_cast<int>(result_lat);
    for (unsigned r = 0; r < kTracked; ++r) {
      int best = -1;
      for (unsigned k = 0; k < nsrc; ++k) best = std::max(best, chain[srcs[k]][r]);
      path[r] = best < 0 ? -1 : best + static_cast<int>(result_lat);
    }
    auto define = [&](unsigned v) {
      std::copy(path, path + kTracked, chain[v]);
      written[v] = true;
      from_load[v] = loads;
      depth[v] = d;
    };
    if (dest >= 0 && op.kind[0] == OpKind::kReg) define(static_cast<unsigned>(dest));
    if (implicit_ax) {
      define(kRax);
      define(kRdx);
    }
    if (writes_flags(op)) define(kFlags);
  }
  int carried = 0;
  for (unsigned v = 0; v < kTracked; ++v)
    if (written[v]) carried = std::max(carried, chain[v][v]);
  if (flow) {
    flow->assign({overlapped_ops, static_cast<uint32_t>(serial)});
    // RFLAGS stays out: it is almost always consumed inside the block that sets it (CMP/Jcc),
    // and leaving it out keeps the per-block runtime work small.
    for (unsigned v = 0; v < kFlags; ++v) {
      if (!written[v]) continue;
      const size_t head = flow->size();
      flow->push_back(0);
      uint32_t ndeps = 0;
      for (unsigned r = 0; r < kFlags; ++r)
        if (chain[v][r] >= 0) {
          flow->push_back(r | static_cast<uint32_t>(std::min(chain[v][r], 0xffff)) << 8);
          ++ndeps;
        }
      (*flow)[head] = v | static_cast<uint32_t>(std::min(depth[v], 0xffff)) << 8 | ndeps << 24;
    }
  }
  const Cycles issue = (overlapped_ops + width - 1) / width;
  const Cycles overlapped = std::max<Cycles>(issue, static_cast<Cycles>(carried));

  // Spread the overlapped cycles evenly over the non-serializing ops; serializing ops keep
  // their own latency.
  unsigned k = 0;
  for (DecodedOp& op : ops) {
    if (op.tflags & tflag::kSerial) {
      op.cycles = latency[static_cast<int>(op.tclass)];
      continue;
    }
    const Cycles before = overlapped * k / overlapped_ops;
    ++k;
    op.cycles = static_cast<uint16_t>(overlapped * k / overlapped_ops - before);
  }
  return overlapped + serial;
}

}  // namespace vmxsim::cpu::timing
