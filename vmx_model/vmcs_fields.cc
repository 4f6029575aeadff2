#include "vmx_model/vmcs_fields.h"

#include <array>

namespace vmxsim::vmx {

namespace {

constexpr VmcsFieldInfo kFields[] = {
#define VMCS_FIELD(name, enc) {#name, enc, width_of(enc), type_of(enc)},
#include "vmx_model/vmcs_fields.def"
#undef VMCS_FIELD
};
static_assert(sizeof(kFields) / sizeof(kFields[0]) == kNumVmcsFields);

// Encoding -> field index + 1 (0: unsupported). Encodings are 15-bit values (bit 15 and up
// must be zero), so a flat table answers VMREAD/VMWRITE with one load.
struct EncodingTable {
  std::array<uint16_t, 1u << 15> slot{};
  EncodingTable() {
    for (unsigned i = 0; i < kNumVmcsFields; ++i) {
      slot[kFields[i].encoding] = static_cast<uint16_t>(i + 1);
      if (kFields[i].width == FieldWidth::k64) slot[kFields[i].encoding | 1] = static_cast<uint16_t>(i + 1);
    }
  }
};

const EncodingTable& table() {
  static const EncodingTable t;
  return t;
}

}  // namespace

const VmcsFieldInfo& field_info(VmcsField f) { return kFields[static_cast<unsigned>(f)]; }

bool lookup_field(uint64_t encoding, VmcsField& field, bool& high) {
  if (encoding >> 15) return false;
  const uint16_t s = table().slot[encoding];
  if (!s) return false;
  field = static_cast<VmcsField>(s - 1);
  high = (encoding & 1) && kFields[s - 1].width == FieldWidth::k64;
  return true;
}

unsigned max_field_index() {
  unsigned m = 0;
  for (const VmcsFieldInfo& f : kFields) m = std::max(m, (f.encoding >> 1) & 0x1ff);
  return m;
}

uint64_t truncate_to_width(VmcsField f, uint64_t v) {
  switch (field_info(f).width) {
    case FieldWidth::k16: return v & 0xffff;
    case FieldWidth::k32: return v & 0xffffffff;
    default: return v;
  }
}

}  // namespace vmxsim::vmx
