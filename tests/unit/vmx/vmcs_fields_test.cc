// The VMCS field table generated from vmcs_fields.def: every encoding resolves to its own field,
// widths and types follow the encoding bits, high accesses exist only for 64-bit fields, and the
// region layout fits in 4 KiB.
#include <gtest/gtest.h>

#include <set>

#include "vmx_model/vmcs.h"
#include "vmx_model/vmcs_fields.h"

namespace vmxsim::vmx {
namespace {

TEST(VmcsFields, EveryEncodingResolvesToItsField) {
  std::set<uint32_t> seen;
  for (unsigned i = 0; i < kNumVmcsFields; ++i) {
    const VmcsFieldInfo& f = field_info(i);
    EXPECT_TRUE(seen.insert(f.encoding).second) << f.name << " encoded twice";
    VmcsField got;
    bool high = true;
    ASSERT_TRUE(lookup_field(f.encoding, got, high)) << f.name;
    EXPECT_EQ(static_cast<unsigned>(got), i) << f.name;
    EXPECT_FALSE(high) << f.name;
    EXPECT_EQ(f.encoding & 1, 0u) << f.name << ": full access type has bit 0 clear";
  }
}

TEST(VmcsFields, HighAccessOnlyForSixtyFourBitFields) {
  for (unsigned i = 0; i < kNumVmcsFields; ++i) {
    const VmcsFieldInfo& f = field_info(i);
    VmcsField got;
    bool high = false;
    const bool ok = lookup_field(f.encoding | 1, got, high);
    EXPECT_EQ(ok, f.width == FieldWidth::k64) << f.name;
    if (ok) EXPECT_TRUE(high) << f.name;
  }
}

TEST(VmcsFields, WidthAndTypeComeFromTheEncoding) {
  const VmcsFieldInfo& cr0 = field_info(VmcsField::GUEST_CR0);
  EXPECT_EQ(cr0.encoding, 0x6800u);
  EXPECT_EQ(cr0.width, FieldWidth::kNatural);
  EXPECT_EQ(cr0.type, FieldType::kGuest);
  EXPECT_EQ(field_info(VmcsField::VM_EXIT_REASON).type, FieldType::kReadOnly);
  EXPECT_EQ(field_info(VmcsField::VM_EXIT_REASON).width, FieldWidth::k32);
  EXPECT_EQ(field_info(VmcsField::HOST_CS_SELECTOR).width, FieldWidth::k16);
  EXPECT_EQ(field_info(VmcsField::HOST_CS_SELECTOR).type, FieldType::kHost);
  EXPECT_EQ(field_info(VmcsField::TSC_OFFSET).width, FieldWidth::k64);
  EXPECT_EQ(field_info(VmcsField::TSC_OFFSET).type, FieldType::kControl);
}

TEST(VmcsFields, UnsupportedEncodingsFail) {
  VmcsField f;
  bool high;
  EXPECT_FALSE(lookup_field(0x8000, f, high));            // bit 15 set
  EXPECT_FALSE(lookup_field(0x100000000ull, f, high));     // bits 63:32 set
  EXPECT_FALSE(lookup_field(0x0801, f, high));             // high access of a 16-bit field
  EXPECT_FALSE(lookup_field(0x6c18, f, high));             // past the last host field
}

TEST(VmcsFields, MaxIndexIsTheHighestFieldIndex) {
  unsigned m = 0;
  for (unsigned i = 0; i < kNumVmcsFields; ++i) m = std::max(m, (field_info(i).encoding >> 1) & 0x1ffu);
  EXPECT_EQ(max_field_index(), m);
  EXPECT_GE(max_field_index(), 0x19u);  // kvm-unit-tests expects at least the preemption timer
}

TEST(VmcsFields, ValuesAreTruncatedToTheFieldWidth) {
  Vmcs v;
  v.set(VmcsField::GUEST_CS_SELECTOR, 0x12345678);
  EXPECT_EQ(v.get(VmcsField::GUEST_CS_SELECTOR), 0x5678u);
  v.set(VmcsField::GUEST_CS_LIMIT, 0x1'2345'6789ull);
  EXPECT_EQ(v.get(VmcsField::GUEST_CS_LIMIT), 0x2345'6789u);
  v.set(VmcsField::GUEST_RIP, ~0ull);
  EXPECT_EQ(v.get(VmcsField::GUEST_RIP), ~0ull);
  EXPECT_LE(region::field_offset(VmcsField::HOST_RIP) + 8, region::kSize);
}

}  // namespace
}  // namespace vmxsim::vmx
