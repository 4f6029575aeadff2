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
  // Per optional state component a VM entry loads or a VM exit saves or loads, as the VM-entry
  // and VM-exit controls ask (IA32_EFER, IA32_PAT, the debug controls, the PDPTEs, the
  // VMX-preemption timer value): microcode work beyond the fixed part.
  uint32_t state_component_cycles = 0;
};
// Besides these fixed costs, every memory reference the VMX unit makes (VMCS region fill and
// write-back, MSR lists, bitmaps, the virtual-APIC page, the posted-interrupt descriptor)
// goes through the timing model's caches when it is on; EPT walks through its TLB model.

}  // namespace vmxsim::vmx
