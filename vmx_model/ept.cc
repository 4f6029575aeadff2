// Guest-physical memory seen through EPT (SDM Vol. 3C §29.3). Until the EPT walk lands, guest
// physical equals host physical (vmxsim does not advertise EPT).
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

uint64_t VmxUnit::guest_phys_read(uint64_t gpa, unsigned size) { return phys_read(gpa, size); }

}  // namespace vmxsim::vmx
