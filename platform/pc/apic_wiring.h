// The interrupt fabric of the PC: one local APIC per core, the APIC bus between them, the
// IOAPIC, the 8259 behind LINT0 (ExtINT), the ACPI PM timer and the ACPI tables that describe
// them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace vmxsim {
class Config;
class StatRegistry;
namespace cpu {
class CpuModule;
}
namespace mem {
class Bus;
}
}  // namespace vmxsim

namespace vmxsim::platform {

class Pic8259Pair;

class ApicWiring {
 public:
  ApicWiring(Config& cfg, StatRegistry& stats, unsigned ncpu, uint64_t core_hz, Pic8259Pair& pic);
  ~ApicWiring();
  void attach_cpu(unsigned index, cpu::CpuModule& cpu);
  // Maps the IOAPIC (MMIO) and the ACPI PM block (ports); advances the target counters.
  void map_devices(mem::Bus& mem_bus, unsigned& mem_targets, mem::Bus& io_bus, unsigned& io_targets);
  // The interrupt line of ISA IRQ `irq` (to the PIC and the IOAPIC), for device outputs.
  std::function<void(bool)> isa_irq_line(unsigned irq);
  // Drives global system interrupt `gsi` (IOAPIC pin; also the PIC for gsi < 16).
  void set_gsi(unsigned gsi, bool level);
  using MemoryWriter = std::function<void(uint64_t paddr, const void* data, size_t len)>;
  void write_acpi_tables(const MemoryWriter& write);

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace vmxsim::platform
