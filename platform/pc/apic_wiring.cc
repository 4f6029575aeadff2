#include "platform/pc/apic_wiring.h"

#include "cpu/sc/cpu_module.h"
#include "mem/bus.h"
#include "platform/devices/pic8259.h"

namespace vmxsim::platform {

struct ApicWiring::Impl {
  unsigned ncpu;
};

ApicWiring::ApicWiring(Config&, StatRegistry&, unsigned ncpu, uint64_t, Pic8259Pair&)
    : m(std::make_unique<Impl>()) {
  m->ncpu = ncpu;
}
ApicWiring::~ApicWiring() = default;
void ApicWiring::attach_cpu(unsigned, cpu::CpuModule&) {}
void ApicWiring::map_devices(mem::Bus&, unsigned&, mem::Bus&, unsigned&) {}
void ApicWiring::write_acpi_tables(const MemoryWriter&) {}

}  // namespace vmxsim::platform
