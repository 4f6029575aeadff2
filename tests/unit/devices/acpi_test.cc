// ACPI tables (layout, checksums) and the PM1 block / PM timer.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "platform/devices/acpi_pm.h"
#include "platform/devices/acpi_tables.h"

namespace vmxsim::platform {
namespace {

struct LowMemory {
  std::vector<uint8_t> m = std::vector<uint8_t>(1 << 20, 0);
  uint32_t u32(uint64_t a) const { uint32_t v; std::memcpy(&v, &m[a], 4); return v; }
  uint16_t u16(uint64_t a) const { uint16_t v; std::memcpy(&v, &m[a], 2); return v; }
  std::string sig(uint64_t a, size_t n = 4) const { return std::string(&m[a], &m[a] + n); }
  bool checksum_ok(uint64_t a, size_t len) const { return acpi_checksum(&m[a], len) == 0; }
  // The RSDP scan of kvm-unit-tests and Linux: 16-byte steps through 0xe0000-0xfffff.
  uint64_t find_rsdp() const {
    for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
      if (sig(a, 8) == "RSD PTR ") return a;
    return 0;
  }
};

LowMemory build(const AcpiTablesConfig& cfg, uint64_t* end = nullptr) {
  LowMemory mem;
  const uint64_t e = write_acpi_tables(cfg, [&](uint64_t a, const void* p, size_t n) {
    ASSERT_LE(a + n, mem.m.size());
    std::memcpy(&mem.m[a], p, n);
  });
  if (end) *end = e;
  return mem;
}

TEST(AcpiTables, LayoutAndChecksums) {
  AcpiTablesConfig cfg;
  cfg.apic_ids = {0, 1, 2, 3};
  cfg.ioapic_id = 4;
  uint64_t end = 0;
  const LowMemory mem = build(cfg, &end);
  EXPECT_LE(end, 0x100000u);

  const uint64_t rsdp = mem.find_rsdp();
  ASSERT_EQ(rsdp, 0xf0000u);
  EXPECT_TRUE(mem.checksum_ok(rsdp, 20));
  EXPECT_EQ(mem.m[rsdp + 15], 0);  // revision 0: ACPI 1.0 RSDP
  const uint32_t rsdt = mem.u32(rsdp + 16);
  ASSERT_EQ(mem.sig(rsdt), "RSDT");
  const uint32_t rsdt_len = mem.u32(rsdt + 4);
  EXPECT_EQ(rsdt_len, 36u + 2 * 4);
  EXPECT_TRUE(mem.checksum_ok(rsdt, rsdt_len));

  uint32_t fadt = 0, madt = 0;
  for (uint32_t off = 36; off < rsdt_len; off += 4) {
    const uint32_t t = mem.u32(rsdt + off);
    if (mem.sig(t) == "FACP") fadt = t;
    if (mem.sig(t) == "APIC") madt = t;
  }
  ASSERT_NE(fadt, 0u);
  ASSERT_NE(madt, 0u);

  // FADT (revision 1, 116 bytes).
  EXPECT_EQ(mem.u32(fadt + 4), 116u);
  EXPECT_EQ(mem.m[fadt + 8], 1);
  EXPECT_TRUE(mem.checksum_ok(fadt, 116));
  EXPECT_EQ(mem.u16(fadt + 46), 9u);        // SCI_INT
  EXPECT_EQ(mem.u32(fadt + 48), 0u);        // SMI_CMD
  EXPECT_EQ(mem.u32(fadt + 56), 0x600u);    // PM1a_EVT_BLK
  EXPECT_EQ(mem.u32(fadt + 64), 0x604u);    // PM1a_CNT_BLK
  EXPECT_EQ(mem.u32(fadt + 76), 0x608u);    // PM_TMR_BLK
  EXPECT_EQ(mem.m[fadt + 88], 4);           // PM1_EVT_LEN
  EXPECT_EQ(mem.m[fadt + 89], 2);           // PM1_CNT_LEN
  EXPECT_EQ(mem.m[fadt + 91], 4);           // PM_TMR_LEN
  EXPECT_EQ(mem.u32(fadt + 112) & (1u << 8), 0u);  // TMR_VAL_EXT = 0: 24-bit timer
  const uint32_t facs = mem.u32(fadt + 36);
  const uint32_t dsdt = mem.u32(fadt + 40);
  EXPECT_EQ(facs % 64, 0u);
  EXPECT_EQ(mem.sig(facs), "FACS");
  EXPECT_EQ(mem.u32(facs + 4), 64u);
  EXPECT_EQ(mem.sig(dsdt), "DSDT");
  EXPECT_TRUE(mem.checksum_ok(dsdt, mem.u32(dsdt + 4)));

  // MADT.
  const uint32_t madt_len = mem.u32(madt + 4);
  EXPECT_TRUE(mem.checksum_ok(madt, madt_len));
  EXPECT_EQ(mem.u32(madt + 36), 0xfee00000u);
  EXPECT_EQ(mem.u32(madt + 40), 1u);  // PCAT_COMPAT
  std::vector<uint32_t> lapic_ids;
  int ioapics = 0, overrides = 0, nmis = 0;
  for (uint32_t off = 44; off < madt_len;) {
    const uint8_t type = mem.m[madt + off], len = mem.m[madt + off + 1];
    ASSERT_GE(len, 2);
    switch (type) {
      case 0:
        EXPECT_EQ(len, 8);
        EXPECT_EQ(mem.m[madt + off + 2], lapic_ids.size());  // UID
        lapic_ids.push_back(mem.m[madt + off + 3]);
        EXPECT_EQ(mem.u32(madt + off + 4), 1u);  // enabled
        break;
      case 1:
        ++ioapics;
        EXPECT_EQ(len, 12);
        EXPECT_EQ(mem.m[madt + off + 2], 4);
        EXPECT_EQ(mem.u32(madt + off + 4), 0xfec00000u);
        EXPECT_EQ(mem.u32(madt + off + 8), 0u);
        break;
      case 2:
        EXPECT_EQ(len, 10);
        if (mem.m[madt + off + 3] == 0) {
          ++overrides;
          EXPECT_EQ(mem.u32(madt + off + 4), 2u);  // IRQ0 -> GSI2
        }
        break;
      case 4:
        ++nmis;
        EXPECT_EQ(mem.m[madt + off + 5], 1);  // LINT1
        break;
      default:
        ADD_FAILURE() << "unexpected MADT entry type " << int(type);
    }
    off += len;
  }
  EXPECT_EQ(lapic_ids, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(ioapics, 1);
  EXPECT_EQ(overrides, 1);
  EXPECT_EQ(nmis, 1);
}

TEST(AcpiTables, X2ApicEntriesForLargeIds) {
  AcpiTablesConfig cfg;
  cfg.apic_ids = {0, 300};
  const auto blobs = build_acpi_tables(cfg);
  bool found = false;
  for (const auto& b : blobs) {
    if (std::string(b.bytes.begin(), b.bytes.begin() + 4) != "APIC") continue;
    EXPECT_EQ(acpi_checksum(b.bytes.data(), b.bytes.size()), 0);
    for (size_t off = 44; off < b.bytes.size(); off += b.bytes[off + 1])
      if (b.bytes[off] == 9) {
        uint32_t id;
        std::memcpy(&id, &b.bytes[off + 4], 4);
        EXPECT_EQ(id, 300u);
        found = true;
      }
  }
  EXPECT_TRUE(found);
}

TEST(AcpiTables, RejectsMisplacedRsdp) {
  AcpiTablesConfig cfg;
  cfg.rsdp_address = 0xf0008;
  EXPECT_THROW(build_acpi_tables(cfg), std::invalid_argument);
  cfg.rsdp_address = 0x9000;
  EXPECT_THROW(build_acpi_tables(cfg), std::invalid_argument);
}

// ---- PM1 block and timer

constexpr uint64_t kPsPerSecond = 1'000'000'000'000ull;

TEST(AcpiPmTimer, CountsAt3579545Hz) {
  AcpiPmTimer pm;
  EXPECT_EQ(pm.io_read(8, 4, 0), 0u);
  EXPECT_EQ(pm.io_read(8, 4, kPsPerSecond), 3'579'545u);  // one second
  EXPECT_EQ(pm.io_read(8, 4, 1'000'000), 3u);             // 1 us = 3.58 ticks
  // 24 bits: wraps after 2^24 ticks (about 4.69 s).
  const uint64_t t = 5 * kPsPerSecond;
  EXPECT_EQ(pm.io_read(8, 4, t), (5ull * 3'579'545) & 0xffffff);
  EXPECT_EQ(pm.io_read(8, 2, kPsPerSecond), 3'579'545u & 0xffff);
  EXPECT_EQ(pm.io_read(10, 1, kPsPerSecond), (3'579'545u >> 16) & 0xff);
  pm.io_write(8, 4, 0, kPsPerSecond);  // read-only
  EXPECT_EQ(pm.io_read(8, 4, kPsPerSecond), 3'579'545u);
}

TEST(AcpiPmTimer, StatusEnableControl) {
  AcpiPmTimer pm;
  EXPECT_EQ(pm.io_read(4, 2, 0) & AcpiPmTimer::kSciEn, AcpiPmTimer::kSciEn);
  pm.io_write(4, 2, 0, 0);  // SCI_EN stays set (no SMI_CMD)
  EXPECT_EQ(pm.io_read(4, 2, 0) & AcpiPmTimer::kSciEn, AcpiPmTimer::kSciEn);
  pm.io_write(2, 2, 0x0121, 0);
  EXPECT_EQ(pm.io_read(2, 2, 0), 0x0121u);

  // TMR_STS: set when bit 23 of the counter toggles, write 1 to clear.
  const uint64_t t_bit23 = (uint64_t{1} << 23) * kPsPerSecond / AcpiPmTimer::kFrequencyHz + 1000000;
  EXPECT_EQ(pm.io_read(0, 2, 0) & 1, 0u);
  EXPECT_EQ(pm.io_read(0, 2, t_bit23) & 1, 1u);
  pm.io_write(0, 2, 1, t_bit23);
  EXPECT_EQ(pm.io_read(0, 2, t_bit23) & 1, 0u);

  unsigned slept = 99;
  pm.set_sleep_callback([&](unsigned typ) { slept = typ; });
  pm.io_write(4, 2, (5u << 10) | (1u << 13), 0);
  EXPECT_EQ(slept, 5u);
  EXPECT_EQ(pm.io_read(4, 2, 0) & (1u << 13), 0u);  // SLP_EN is write-only
  EXPECT_EQ((pm.io_read(4, 2, 0) >> 10) & 7, 5u);
}

}  // namespace
}  // namespace vmxsim::platform
