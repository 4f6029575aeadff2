// Minimal ACPI 1.0 tables for a firmware-less boot (ACPI 6.4 §5.2): RSDP in the BIOS read-only
// area (found by the 16-byte-aligned scan of 0xe0000-0xfffff), RSDT -> FADT and MADT, with the
// FADT pointing at a FACS and an empty DSDT. All checksums are filled in.
//
//   FADT (revision 1): SCI IRQ 9, PM1a_EVT 0x600 (4 bytes), PM1a_CNT 0x604 (2), PM_TMR 0x608 (4),
//        flags WBINVD | PROC_C1 | PWR_BUTTON | SLP_BUTTON, TMR_VAL_EXT = 0 (24-bit timer).
//   MADT: local APIC address, PCAT_COMPAT (8259s present), one Processor Local APIC entry per CPU
//        (Processor Local x2APIC for IDs >= 255), the IOAPIC, interrupt source overrides
//        IRQ0 -> GSI2 and IRQ9 (SCI) level/active-high, local APIC NMI on LINT1 for all CPUs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace vmxsim::platform {

struct AcpiTablesConfig {
  std::vector<uint32_t> apic_ids{0};  // one per CPU; processor UID = index
  uint32_t lapic_address = 0xfee00000;
  uint32_t ioapic_address = 0xfec00000;
  uint8_t ioapic_id = 0;
  uint32_t ioapic_gsi_base = 0;
  uint16_t sci_irq = 9;
  uint16_t pm1a_evt = 0x600, pm1a_cnt = 0x604, pm_tmr = 0x608;
  uint64_t rsdp_address = 0xf0000;  // 16-byte aligned, inside 0xe0000-0xfffff
};

struct AcpiBlob {
  uint64_t address;
  std::vector<uint8_t> bytes;
};

// The tables and where they go: RSDP at rsdp_address, the rest packed after it (FACS 64-byte
// aligned, others 16-byte aligned). Throws std::invalid_argument for a misplaced RSDP.
std::vector<AcpiBlob> build_acpi_tables(const AcpiTablesConfig& cfg);

// Writes build_acpi_tables() through `writer` (guest-physical address, bytes, length).
// Returns the first address after the last table.
uint64_t write_acpi_tables(const AcpiTablesConfig& cfg,
                           const std::function<void(uint64_t paddr, const void*, size_t)>& writer);

// Sum of the bytes mod 256 (a valid table sums to 0).
uint8_t acpi_checksum(const uint8_t* data, size_t len);

}  // namespace vmxsim::platform
