// The VMCS field table generated from vmcs_fields.def: a dense index per field, the encoding,
// width and type decoded from the encoding bits (SDM Vol. 3C §25.11.2), names for traces.
#pragma once

#include <cstdint>

namespace vmxsim::vmx {

enum class VmcsField : uint16_t {
#define VMCS_FIELD(name, enc) name,
#include "vmx_model/vmcs_fields.def"
#undef VMCS_FIELD
  kCount
};
constexpr unsigned kNumVmcsFields = static_cast<unsigned>(VmcsField::kCount);

// Encoding bits (SDM Vol. 3C Table 25-21).
enum class FieldWidth : uint8_t { k16 = 0, k64 = 1, k32 = 2, kNatural = 3 };
enum class FieldType : uint8_t { kControl = 0, kReadOnly = 1, kGuest = 2, kHost = 3 };

constexpr FieldWidth width_of(uint32_t enc) { return static_cast<FieldWidth>((enc >> 13) & 3); }
constexpr FieldType type_of(uint32_t enc) { return static_cast<FieldType>((enc >> 10) & 3); }
constexpr bool is_high_access(uint32_t enc) { return enc & 1; }

struct VmcsFieldInfo {
  const char* name;
  uint32_t encoding;
  FieldWidth width;
  FieldType type;
};

const VmcsFieldInfo& field_info(VmcsField f);
inline const VmcsFieldInfo& field_info(unsigned i) { return field_info(static_cast<VmcsField>(i)); }

// Resolves a VMREAD/VMWRITE encoding: the field, and whether the access is the high half of a
// 64-bit field. False for encodings the processor does not support (VMfailValid 12).
bool lookup_field(uint64_t encoding, VmcsField& field, bool& high);

// Highest field index (encoding bits 9:1) of any supported field: IA32_VMX_VMCS_ENUM[9:1].
unsigned max_field_index();

// Value truncated to the field's width (natural width: 64 bits on an Intel 64 processor).
uint64_t truncate_to_width(VmcsField f, uint64_t v);

}  // namespace vmxsim::vmx
