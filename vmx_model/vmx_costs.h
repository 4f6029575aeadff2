// Cycle costs of VMX transitions and instructions (ARCHITECTURE §3): profile keys
// system.cpu.vmx.*. Kept apart from vmx_unit.h so that the core's parameters can hold them.
#pragma once

#include <cstdint>

namespace vmxsim::vmx {

struct VmxCosts {
  uint32_t exit_cycles = 0;            // fixed microcode cost of a VM exit
  uint32_t entry_cycles = 0;           // fixed microcode cost of a VM entry (with its checks)
  uint32_t vmread_cycles = 0;          // VMREAD/VMWRITE of the cached current VMCS
  uint32_t vmptrld_cycles = 0;         // VMPTRLD/VMCLEAR (VMCS cache fill or write-back)
  uint32_t msr_list_entry_cycles = 0;  // per entry of an MSR-load or MSR-store list
};

}  // namespace vmxsim::vmx
