// Random user-mode instruction sequences for the differential tester (isa_diff_test.cc): a
// generator over the integer ISA, encoded with Zydis' encoder, and a tracker that knows which
// arithmetic flags are architecturally defined after each instruction.
//
// Harness conventions (both sides, see tests/unit/cpu/diff_harness.h):
//  - RBP = kMemBase, the middle of the 8 KiB data window, on a page boundary. No instruction
//    writes RBP (ENTER/LEAVE come as a pair that restores it). Every memory operand lies inside
//    the data window: [rbp+disp], [rbp+index*scale+disp] with an index register of known value
//    (64- or 32-bit addressing), [ebp+disp], [abs32], [rip+disp32] (the code sits at the same
//    address on both sides), or [rsp+disp] inside the stack window.
//  - RSP = kStackStart, a page boundary inside the stack window; only PUSH/POP/PUSHF/POPF/CALL/RET/
//    ENTER/LEAVE move it (and PUSH RSP; POP RSP), and the tracker keeps it within kStackReach.
//  - Every other GPR is fair game as a source or destination, at every width (AH..BH included).
//  - A unit is one generated instruction with the setup instructions it needs right before it
//    (an index register, a shift count in CL, pointers in RSI/RDI/RBX, a REP count, a divisor
//    that cannot fault), or a small control-flow shape around another unit (see Shape).
//    Units are atomic: the minimiser removes whole units.
//  - Some sequences end in an instruction that may fault: an unguarded DIV/IDIV (#DE), UD0/1/2
//    or LOCK on a non-lockable form (#UD), INT3/INT1, a non-canonical address or a misaligned
//    CMPXCHG16B (#GP). The harness compares the fault and the state at the faulting instruction.
//  - About one instruction in eight gets a redundant prefix (CS/DS/ES/SS override, GS override
//    if the host's GS base is 0, empty REX, 66 next to REX.W) when Zydis decodes the result to
//    the same instruction.
//
// Flag definedness (the tracker; one bit per arithmetic flag CF PF AF ZF SF OF):
//  - An instruction that leaves a flag "undefined" (SDM Vol. 2, per-instruction "Flags Affected")
//    poisons it; a later instruction that sets the flag to a defined value clears the poison; an
//    instruction that does not affect a flag leaves its state as it was. The rules per
//    instruction are in seq_gen.cc (Effects of each family, shift_effects, double_shift_effects).
//  - An instruction that consumes a flag (ADC, SBB, RCL, RCR, CMOVcc, SETcc, Jcc, LOOPE/LOOPNE,
//    LAHF, PUSHF) is never generated while one of the flags it reads is poisoned, unless the host
//    is an Intel processor (then the simulator must reproduce the host's values anyway). CMC
//    reads CF but only writes CF back: it propagates CF's state instead.
//  - Rules whose definedness depends on a count (shifts, rotates, SHLD/SHRD, REP CMPS/SCAS)
//    use the exact count: an immediate, or CL/RCX set by a setup instruction whose value the
//    tracker knows (KnownValue); an instruction that writes the register forgets the value.
//  - Control flow: a forward branch merges both paths (poisoned on either path); a loop body is
//    replayed twice (the rules reach a fixed point after one pass); a call body runs once.
//  - The flags still poisoned at the end of the sequence (or before a last instruction that may
//    fault) are left out of the comparison on non-Intel hosts (DiffOptions::undefined).
//  - Results the SDM leaves undefined are not generated: SHLD/SHRD with 16-bit operands only use
//    counts up to 16, BSWAP has no 16-bit form. (BSF/BSR with a zero source leave the
//    destination unchanged on Intel and AMD processors alike, and the simulator does the same;
//    they are compared.)
#pragma once

#include <Zydis/Zydis.h>

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/cpu/diff_harness.h"

namespace vmxsim::test::isa {

using FlagSet = uint64_t;  // RFLAGS bit positions (fl::CF ... fl::OF)

constexpr uint64_t kMemBase = kDataWin + kDataWinSize / 2;        // RBP, on a page boundary
constexpr uint64_t kStackStart = HostRunner::kStackTop - 0x1000;   // initial RSP, a page boundary
constexpr int64_t kMemReach = 0x7f0;   // memory operands stay within kMemBase +- kMemReach
constexpr int64_t kStackReach = 0x380; // RSP stays within kStackStart +- kStackReach

// What the tracker knows about a register's value: the bits in `mask` equal `value`.
struct KnownValue {
  uint64_t mask = 0;
  uint64_t value = 0;
};

// A register value an instruction relies on (a memory index, a count, a string pointer).
struct Need {
  uint8_t reg;
  uint64_t mask;
  uint64_t value;
};

struct Insn {
  ZydisEncoderRequest req{};     // RIP-relative memory operands hold their absolute target
  bool rip_relative = false;     // re-encode at the instruction's address
  std::vector<uint8_t> bytes;    // the encoding (at address 0 if rip_relative)
  std::string key;               // coverage key: "mnemonic form", e.g. "lock add m32,r32"
  std::string addressing;        // addressing mode of its memory operand, if any
  ZydisMnemonic mnemonic = ZYDIS_MNEMONIC_INVALID;
  FlagSet reads = 0;             // arithmetic flags consumed
  FlagSet defines = 0;           // arithmetic flags left defined
  FlagSet undefines = 0;         // arithmetic flags left undefined by the SDM
  uint16_t writes = 0;           // GPRs written (explicit or implicit, from the decoder)
  std::vector<Need> needs;
  int set_reg = -1;              // setup instruction: the register value it makes known
  KnownValue set_value;
  int stack_delta = 0;           // change of RSP in bytes
  bool setup = false;            // a setup instruction of its unit
};

// The control flow inside a unit (instructions in layout order; [body_begin, body_end) is the
// body, another unit's instructions):
//   kStraight  all instructions once, in order.
//   kSkip      prefix ending in a forward branch (Jcc, JMP, JRCXZ, LOOPcc, indirect JMP) over the
//              body: the body runs or not; the state after is the merge of both paths.
//   kLoop      setup (RCX = 1..4), body, backward branch (LOOPcc or DEC/JNZ): the body runs one
//              or more times; replayed twice (the rules reach a fixed point after one pass).
//   kCall      prefix ending in CALL and a JMP over the body; the body ends in RET: runs
//              prefix, body, RET, then the JMP.
enum class Shape : uint8_t { kStraight, kSkip, kLoop, kCall };

struct Unit {
  std::vector<Insn> insns;       // setup instructions, then the generated instruction(s)
  bool may_fault = false;        // ends in a possibly faulting instruction (only the last unit)
  Shape shape = Shape::kStraight;
  uint16_t body_begin = 0, body_end = 0;
};
using Sequence = std::vector<Unit>;

// Replays the definedness and known-value rules over instructions in order.
class Tracker {
 public:
  explicit Tracker(bool allow_undefined_reads);
  // Whether `in` may execute here: the flags it reads are defined, the register values it needs
  // hold, RSP stays in its window.
  bool admits(const Insn& in) const;
  void apply(const Insn& in, int index);

  FlagSet undefined() const { return m_undef; }
  // Index (in apply() order) of the instruction that last made flag bit `bit` undefined.
  int undefined_source(unsigned bit) const { return m_source[bit]; }
  const KnownValue& known(unsigned r) const { return m_known[r]; }
  int64_t stack_offset() const { return m_stack; }
  // Joins another path's state into this one: undefined on either path, known only if equal.
  void merge(const Tracker& other);

 private:
  bool m_allow;
  FlagSet m_undef = 0;
  std::array<int, 12> m_source{};
  std::array<KnownValue, 16> m_known{};
  int64_t m_stack = 0;
};

struct Replay {
  bool valid = false;
  FlagSet undefined = 0;                 // poisoned at the end (or before a last instruction
                                         // that may fault)
  std::array<int, 12> source{};          // per flag bit: flat instruction index that poisoned it
};
Replay replay(const Sequence& seq, bool allow_undefined_reads);
// Replays one unit whose first instruction has flat index `base`; false if a rule is violated.
bool replay_unit(Tracker& t, const Unit& u, int base);

// The sequence's bytes at `base` (RIP-relative operands resolved), and the flat instruction list.
std::vector<uint8_t> assemble(const Sequence& seq, uint64_t base);
std::vector<const Insn*> flatten(const Sequence& seq);
// One instruction per line: address, bytes, Intel syntax.
std::string disassemble(const std::vector<uint8_t>& code, uint64_t base);

struct GenOptions {
  unsigned min_units = 4, max_units = 20;
  bool bmi1 = false, bmi2 = false, lzcnt = false, movbe = false;
  bool clflushopt = false, clwb = false, prefetchwt1 = false;
  bool gs_base_zero = false;            // the host's GS base is 0 (as the simulator's): GS
                                        // overrides are then redundant prefixes too
  bool allow_undefined_reads = false;   // Intel host: consumers of undefined flags are fine
  double fault_rate = 0.03;             // share of sequences that end in a possibly faulting
                                        // instruction (unguarded DIV/IDIV, UD0/1/2, INT3, INT1)
};

class Generator {
 public:
  Generator(const GenOptions& o, uint64_t seed);
  // A random sequence and a random starting state for it.
  Sequence sequence();
  DiffCase initial_state();

 private:
  friend struct Builder;
  GenOptions m_opt;
  std::mt19937_64 m_rng;
  std::vector<unsigned> m_hot;        // registers this sequence prefers
  std::vector<int64_t> m_hot_offsets; // memory offsets this sequence prefers
};

// Supported user-mode integer mnemonics the generator deliberately never produces, with why.
const char* excluded_reason(ZydisMnemonic m);

std::string flag_names(FlagSet f);

// Encoder requests the generator made that Zydis refused (e.g. AH with a REX prefix), per
// mnemonic: the generator then draws again. For diagnostics.
std::map<std::string, uint64_t>& encode_failures();
// Instructions that got a redundant prefix (same meaning to the decoder), per kind.
std::map<std::string, uint64_t>& redundant_prefixes();

}  // namespace vmxsim::test::isa
