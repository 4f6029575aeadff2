// Handler group: bit_ops (not yet implemented; every mnemonic of the group raises #UD).
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

void register_bit_ops(IsaTable&) {}

}  // namespace vmxsim::cpu
