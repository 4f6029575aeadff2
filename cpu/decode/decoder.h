// Zydis front end: turns instruction bytes into a DecodedOp with its handler chosen from the
// IsaTable. Runs only when a block is built (ARCHITECTURE §2).
#pragma once

#include <Zydis/Zydis.h>

#include <cstddef>
#include <cstdint>

#include "cpu/decoded_op.h"

namespace vmxsim::cpu {

// The execution mode that decoding depends on: default operand/address size and stack width.
enum class DecodeMode : uint8_t { kReal16, k16, k32, k64 };

class Decoder {
 public:
  Decoder();
  enum class Result { kOk, kNeedMoreBytes, kInvalid };
  // Decodes one instruction. kInvalid still fills `out` with a #UD handler and length 1..15 so
  // that the block can end there; kNeedMoreBytes means `avail` was too short to tell.
  Result decode(const uint8_t* bytes, size_t avail, DecodeMode mode, bool stack32,
                DecodedOp& out) const;

 private:
  ZydisDecoder m_dec[4][2];  // [mode][stack is 32-bit]
};

// Handlers for instructions that decoded but have no implementation, or did not decode.
void op_invalid(class Core& c, const DecodedOp& op);
void op_unimplemented(class Core& c, const DecodedOp& op);

}  // namespace vmxsim::cpu
