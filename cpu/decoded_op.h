// Our compact decoded instruction (ARCHITECTURE §2). Zydis runs only on a block-cache miss and
// fills one of these; no Zydis type survives decode. Handlers read the fields they need.
#pragma once

#include <cstdint>

#include "cpu/cpu_state.h"

namespace vmxsim::cpu {

class Core;
struct DecodedOp;
using ExecFn = void (*)(Core&, const DecodedOp&);

// Kinds of the explicit operands, in Intel operand order (destination first).
enum class OpKind : uint8_t { kNone, kReg, kMem, kImm, kPtr /* far pointer: imm=offset, imm2=sel */ };

// Register class of a register operand (the number in DecodedOp::reg is per class).
enum class RegClass : uint8_t { kNone, kGpr, kSeg, kCr, kDr, kXmm, kMmx, kX87, kOther };

// Timing classes: the CPU profile gives each a latency (ARCHITECTURE §3).
enum class TimingClass : uint8_t {
  kAlu, kMov, kLoad, kStore, kMul, kDiv, kBranch, kCall, kString, kSerializing, kSystem,
  kMsr, kCpuid, kCrWrite, kInvlpg, kIo, kHalt, kFpu, kSse, kNop,
  kEvent,  // delivery of an exception or interrupt through the IDT (not an instruction)
  kCount
};
const char* to_string(TimingClass c);

// Attributes from the ISA table.
namespace attr {
constexpr uint16_t kEndsBlock = 1 << 0;    // control transfer, mode change, or must re-check events
constexpr uint16_t kPrivileged = 1 << 1;   // CPL 0 only (checked by the handler)
constexpr uint16_t kMayExitVmx = 1 << 2;   // may cause a VM exit in VMX non-root operation
constexpr uint16_t kRep = 1 << 3;          // REP/REPE prefix present
constexpr uint16_t kRepne = 1 << 4;        // REPNE prefix present
constexpr uint16_t kLock = 1 << 5;         // LOCK prefix present
constexpr uint16_t kCheckLimit = 1 << 6;   // segment-limit checks apply (not 64-bit mode)
constexpr uint16_t kRipRelative = 1 << 7;
constexpr uint16_t kOsize16 = 1 << 8;      // 66 prefix seen
constexpr uint16_t kFar = 1 << 9;          // far CALL/JMP/RET
constexpr uint16_t kRexW = 1 << 10;        // REX.W (SYSRET/SYSEXIT return to 64-bit mode)
}  // namespace attr

struct DecodedOp {
  ExecFn fn = nullptr;
  uint64_t imm = 0;      // first immediate (sign-extended to operand size), or branch target
                         // displacement relative to the next instruction
  int64_t disp = 0;      // memory displacement (absolute address for moffs forms)
  uint16_t mnemonic = 0; // ZydisMnemonic, for traces and statistics only
  uint16_t attrs = 0;
  uint8_t len = 0;       // instruction length in bytes
  uint8_t opsize = 0;    // operand size in bytes (1, 2, 4, 8; 16 for XMM)
  uint8_t src_size = 0;  // second operand size where it differs (MOVZX/MOVSX/shift count)
  uint8_t addrsize = 0;  // address size in bytes (2, 4, 8)
  uint8_t stacksize = 0; // stack-pointer width in bytes for PUSH/POP/CALL/RET (2, 4, 8)
  uint8_t nops = 0;      // number of explicit operands
  OpKind kind[3] = {OpKind::kNone, OpKind::kNone, OpKind::kNone};
  uint8_t reg[3] = {kNoReg, kNoReg, kNoReg};  // register operands (GPR index, kRegHigh8+n, or
                                              // segment/control/debug/xmm register number)
  RegClass regclass[3] = {RegClass::kNone, RegClass::kNone, RegClass::kNone};
  // Memory operand: linear = seg base + ((gpr[base] + (gpr[index] << scale) + disp) & mask).
  uint8_t base = kRegZero, index = kRegZero, scale = 0, seg = kSegNone;
  uint8_t imm2 = 0;      // ENTER's nesting level, etc.
  uint16_t imm16 = 0;    // far pointer selector, ENTER frame size
  uint8_t cond = 0;      // condition code for Jcc/SETcc/CMOVcc, or a handler-specific sub-op
  TimingClass tclass = TimingClass::kAlu;
  uint16_t cycles = 1;   // base latency from the CPU profile, filled when the block is built
  uint8_t tflags = 0;    // timing-model facts (cpu/timing/block_schedule.h), when timing is on

  bool ends_block() const { return attrs & attr::kEndsBlock; }
};

}  // namespace vmxsim::cpu
