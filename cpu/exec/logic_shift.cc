// Handler group: logic_shift (not yet implemented; every mnemonic of the group raises #UD).
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

void register_logic_shift(IsaTable&) {}

}  // namespace vmxsim::cpu
