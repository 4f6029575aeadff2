#include "platform/devices/acpi_tables.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace vmxsim::platform {

namespace {

class Table {
 public:
  void u8(uint8_t v) { m_b.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void str(const char* s, size_t n) {
    const size_t len = std::strlen(s);
    for (size_t i = 0; i < n; ++i) m_b.push_back(i < len ? static_cast<uint8_t>(s[i]) : ' ');
  }
  void zeros(size_t n) { m_b.insert(m_b.end(), n, 0); }
  void set_u32(size_t at, uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) m_b[at + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  size_t size() const { return m_b.size(); }
  std::vector<uint8_t>& bytes() { return m_b; }

  // Standard 36-byte System Description Table header; length and checksum patched by finish().
  void header(const char* sig, uint8_t revision) {
    str(sig, 4);
    u32(0);  // length
    u8(revision);
    u8(0);   // checksum
    str("VMXSIM", 6);
    str("VMXSIM", 8);
    u32(1);  // OEM revision
    str("VMXS", 4);
    u32(1);  // creator revision
  }
  std::vector<uint8_t> finish() {
    set_u32(4, static_cast<uint32_t>(m_b.size()));
    m_b[9] = 0;
    m_b[9] = static_cast<uint8_t>(-acpi_checksum(m_b.data(), m_b.size()));
    return m_b;
  }

 private:
  void put(uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) m_b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> m_b;
};

uint64_t align(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

std::vector<uint8_t> make_facs() {
  Table t;
  t.str("FACS", 4);
  t.u32(64);  // length
  t.u32(0);   // hardware signature
  t.u32(0);   // firmware waking vector
  t.u32(0);   // global lock
  t.u32(0);   // flags
  t.zeros(40);
  return t.bytes();  // the FACS has no checksum
}

std::vector<uint8_t> make_dsdt() {
  Table t;
  t.header("DSDT", 1);
  return t.finish();  // no AML: no devices to describe
}

std::vector<uint8_t> make_fadt(const AcpiTablesConfig& c, uint32_t facs, uint32_t dsdt) {
  Table t;
  t.header("FACP", 1);
  t.u32(facs);          // 36 FIRMWARE_CTRL
  t.u32(dsdt);          // 40 DSDT
  t.u8(0);              // 44 INT_MODEL (ACPI 1.0) / reserved
  t.u8(0);              // 45 Preferred_PM_Profile: unspecified
  t.u16(c.sci_irq);     // 46 SCI_INT
  t.u32(0);             // 48 SMI_CMD: none, always in ACPI mode
  t.u8(0);              // 52 ACPI_ENABLE
  t.u8(0);              // 53 ACPI_DISABLE
  t.u8(0);              // 54 S4BIOS_REQ
  t.u8(0);              // 55 PSTATE_CNT
  t.u32(c.pm1a_evt);    // 56 PM1a_EVT_BLK
  t.u32(0);             // 60 PM1b_EVT_BLK
  t.u32(c.pm1a_cnt);    // 64 PM1a_CNT_BLK
  t.u32(0);             // 68 PM1b_CNT_BLK
  t.u32(0);             // 72 PM2_CNT_BLK
  t.u32(c.pm_tmr);      // 76 PM_TMR_BLK
  t.u32(0);             // 80 GPE0_BLK
  t.u32(0);             // 84 GPE1_BLK
  t.u8(4);              // 88 PM1_EVT_LEN
  t.u8(2);              // 89 PM1_CNT_LEN
  t.u8(0);              // 90 PM2_CNT_LEN
  t.u8(4);              // 91 PM_TMR_LEN
  t.u8(0);              // 92 GPE0_BLK_LEN
  t.u8(0);              // 93 GPE1_BLK_LEN
  t.u8(0);              // 94 GPE1_BASE
  t.u8(0);              // 95 CST_CNT
  t.u16(101);           // 96 P_LVL2_LAT > 100: C2 not supported
  t.u16(1001);          // 98 P_LVL3_LAT > 1000: C3 not supported
  t.u16(0);             // 100 FLUSH_SIZE
  t.u16(0);             // 102 FLUSH_STRIDE
  t.u8(0);              // 104 DUTY_OFFSET
  t.u8(0);              // 105 DUTY_WIDTH
  t.u8(0);              // 106 DAY_ALRM
  t.u8(0);              // 107 MON_ALRM
  t.u8(0);              // 108 CENTURY
  t.u16(0);             // 109 IAPC_BOOT_ARCH (reserved in revision 1)
  t.u8(0);              // 111 reserved
  // 112 flags: WBINVD (0), PROC_C1 (2), PWR_BUTTON (4) and SLP_BUTTON (5) as control methods
  // i.e. no fixed-feature buttons; TMR_VAL_EXT (8) = 0: 24-bit timer.
  t.u32((1u << 0) | (1u << 2) | (1u << 4) | (1u << 5));
  return t.finish();  // 116 bytes
}

std::vector<uint8_t> make_madt(const AcpiTablesConfig& c) {
  Table t;
  t.header("APIC", 1);
  t.u32(c.lapic_address);
  t.u32(1);  // PCAT_COMPAT: dual 8259 present
  for (size_t uid = 0; uid < c.apic_ids.size(); ++uid) {
    const uint32_t id = c.apic_ids[uid];
    if (id < 255) {
      t.u8(0);  // Processor Local APIC
      t.u8(8);
      t.u8(static_cast<uint8_t>(uid));
      t.u8(static_cast<uint8_t>(id));
      t.u32(1);  // enabled
    } else {
      t.u8(9);  // Processor Local x2APIC
      t.u8(16);
      t.u16(0);
      t.u32(id);
      t.u32(1);
      t.u32(static_cast<uint32_t>(uid));
    }
  }
  t.u8(1);  // I/O APIC
  t.u8(12);
  t.u8(c.ioapic_id);
  t.u8(0);
  t.u32(c.ioapic_address);
  t.u32(c.ioapic_gsi_base);
  t.u8(2);  // Interrupt Source Override: ISA IRQ0 (PIT) -> GSI2, conforming
  t.u8(10);
  t.u8(0);
  t.u8(0);
  t.u32(2);
  t.u16(0);
  t.u8(2);  // Interrupt Source Override: SCI, level-triggered, active high
  t.u8(10);
  t.u8(0);
  t.u8(static_cast<uint8_t>(c.sci_irq));
  t.u32(c.sci_irq);
  t.u16(0x000d);
  t.u8(4);  // Local APIC NMI: all processors, LINT1
  t.u8(6);
  t.u8(0xff);
  t.u16(0);
  t.u8(1);
  return t.finish();
}

}  // namespace

uint8_t acpi_checksum(const uint8_t* data, size_t len) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; ++i) sum = static_cast<uint8_t>(sum + data[i]);
  return sum;
}

std::vector<AcpiBlob> build_acpi_tables(const AcpiTablesConfig& c) {
  if ((c.rsdp_address & 15) || c.rsdp_address < 0xe0000 || c.rsdp_address + 20 > 0x100000)
    throw std::invalid_argument("ACPI: the RSDP must be 16-byte aligned in 0xe0000-0xfffff");
  if (c.apic_ids.empty()) throw std::invalid_argument("ACPI: no CPUs");

  const uint64_t facs_at = align(c.rsdp_address + 20, 64);
  std::vector<uint8_t> facs = make_facs();
  const uint64_t dsdt_at = align(facs_at + facs.size(), 16);
  std::vector<uint8_t> dsdt = make_dsdt();
  const uint64_t fadt_at = align(dsdt_at + dsdt.size(), 16);
  std::vector<uint8_t> fadt =
      make_fadt(c, static_cast<uint32_t>(facs_at), static_cast<uint32_t>(dsdt_at));
  const uint64_t madt_at = align(fadt_at + fadt.size(), 16);
  std::vector<uint8_t> madt = make_madt(c);
  const uint64_t rsdt_at = align(madt_at + madt.size(), 16);
  Table rsdt_t;
  rsdt_t.header("RSDT", 1);
  rsdt_t.u32(static_cast<uint32_t>(fadt_at));
  rsdt_t.u32(static_cast<uint32_t>(madt_at));
  std::vector<uint8_t> rsdt = rsdt_t.finish();
  if (rsdt_at + rsdt.size() > 0x100000)
    throw std::invalid_argument("ACPI: tables do not fit below 1 MiB after the RSDP");

  // RSDP, ACPI 1.0 form (revision 0, 20 bytes).
  Table r;
  r.str("RSD PTR ", 8);
  r.u8(0);  // checksum
  r.str("VMXSIM", 6);
  r.u8(0);  // revision
  r.u32(static_cast<uint32_t>(rsdt_at));
  std::vector<uint8_t> rsdp = r.bytes();
  rsdp[8] = static_cast<uint8_t>(-acpi_checksum(rsdp.data(), rsdp.size()));

  return {{c.rsdp_address, std::move(rsdp)}, {facs_at, std::move(facs)},
          {dsdt_at, std::move(dsdt)},         {fadt_at, std::move(fadt)},
          {madt_at, std::move(madt)},         {rsdt_at, std::move(rsdt)}};
}

uint64_t write_acpi_tables(const AcpiTablesConfig& cfg,
                           const std::function<void(uint64_t, const void*, size_t)>& writer) {
  uint64_t end = 0;
  for (const AcpiBlob& b : build_acpi_tables(cfg)) {
    writer(b.address, b.bytes.data(), b.bytes.size());
    if (b.address + b.bytes.size() > end) end = b.address + b.bytes.size();
  }
  return end;
}

}  // namespace vmxsim::platform
