// Handler group: data_movement (not yet implemented; every mnemonic of the group raises #UD).
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

void register_data_movement(IsaTable&) {}

}  // namespace vmxsim::cpu
