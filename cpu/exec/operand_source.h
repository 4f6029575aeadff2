// The source operand of a two-operand instruction, resolved at decode time into a template
// argument so that handlers read it without a run-time switch.
#pragma once

#include <cstdint>

#include "cpu/core.h"

namespace vmxsim::cpu {

enum class Src : uint8_t { kReg, kMem, kImm };

// Operand 1 of `op` at `S` bytes: register reg[1], the memory operand, or the immediate.
template <unsigned S, Src K>
inline uint64_t fetch_src(Core& c, const DecodedOp& op) {
  if constexpr (K == Src::kReg) return c.reg<S>(op.reg[1]);
  else if constexpr (K == Src::kMem) return c.read<S>(c.linear(op, S, false));
  else return op.imm;
}

}  // namespace vmxsim::cpu
