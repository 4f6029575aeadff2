// The processor's copy of one VMCS (ARCHITECTURE §5): field values indexed by VmcsField, and
// the VMCS region layout in memory, which is ours to choose (the SDM leaves it to the
// processor): revision identifier and abort indicator where the SDM puts them, then the launch
// state, then every field as 8 bytes in the order of vmcs_fields.def.
#pragma once

#include <cstdint>

#include "vmx_model/vmcs_fields.h"

namespace vmxsim::vmx {

namespace region {
constexpr unsigned kRevisionOffset = 0;      // bits 30:0 revision, bit 31 shadow-VMCS indicator
constexpr unsigned kAbortOffset = 4;         // VMX-abort indicator
constexpr unsigned kLaunchStateOffset = 8;   // 0 clear, 1 launched
constexpr unsigned kFieldsOffset = 16;
constexpr unsigned kSize = 4096;
static_assert(kFieldsOffset + 8 * kNumVmcsFields <= kSize, "VMCS fields do not fit in 4 KiB");
constexpr unsigned field_offset(VmcsField f) { return kFieldsOffset + 8 * static_cast<unsigned>(f); }
}  // namespace region

struct Vmcs {
  uint64_t value[kNumVmcsFields] = {};
  bool launched = false;

  uint64_t get(VmcsField f) const { return value[static_cast<unsigned>(f)]; }
  uint32_t get32(VmcsField f) const { return static_cast<uint32_t>(get(f)); }
  void set(VmcsField f, uint64_t v) { value[static_cast<unsigned>(f)] = truncate_to_width(f, v); }
};

}  // namespace vmxsim::vmx
