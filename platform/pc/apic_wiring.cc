#include "platform/pc/apic_wiring.h"

#include <string>

#include "cpu/sc/cpu_module.h"
#include "mem/bus.h"
#include "platform/devices/acpi_pm.h"
#include "platform/devices/acpi_tables.h"
#include "platform/devices/apic_bus.h"
#include "platform/devices/io_apic.h"
#include "platform/devices/isa_irqs.h"
#include "platform/devices/local_apic.h"
#include "platform/devices/pic8259.h"
#include "platform/devices/tlm_device.h"
#include "platform/devices/uart16550.h"

namespace vmxsim::platform {

namespace {

// Joins one core to its local APIC in both directions: the core asks the APIC for interrupts,
// TPR and MMIO/MSR accesses (cpu::LocalApicPort); the APIC wakes the core and reads its clock
// (ApicCoreLink).
class CoreApicLink final : public cpu::LocalApicPort, public ApicCoreLink {
 public:
  CoreApicLink(cpu::CpuModule& cpu, LocalApic& apic) : m_cpu(cpu), m_apic(apic) {}

  // cpu::LocalApicPort
  bool mmio_owns(uint64_t paddr) override {
    return m_apic.xapic_mmio_active() && (paddr & ~0xfffull) == m_apic.base_address();
  }
  uint64_t mmio_read(uint64_t paddr, unsigned size) override {
    return m_apic.mmio_read(static_cast<uint32_t>(paddr & 0xfff), size);
  }
  void mmio_write(uint64_t paddr, unsigned size, uint64_t v) override {
    m_apic.mmio_write(static_cast<uint32_t>(paddr & 0xfff), size, v);
  }
  bool msr_read(uint32_t msr, uint64_t& v) override {
    return LocalApic::handles_msr(msr) && m_apic.msr_read(msr, v);
  }
  bool msr_write(uint32_t msr, uint64_t v) override {
    return LocalApic::handles_msr(msr) && m_apic.msr_write(msr, v);
  }
  int pending_interrupt() override { return m_apic.pending_interrupt(); }
  void acknowledge(int vector) override { m_apic.acknowledge(vector); }
  void end_of_interrupt() override { m_apic.end_of_interrupt(); }
  void set_tpr(uint8_t tpr) override { m_apic.set_tpr(tpr >> 4); }
  uint8_t get_tpr() override { return static_cast<uint8_t>(m_apic.get_tpr() << 4); }
  uint64_t next_event_cycles() override { return m_apic.next_event_cycles(); }
  void init_reset() override { m_apic.init_reset(); }
  void update() override { m_apic.update(); }

  // ApicCoreLink
  void apic_interrupt() override { m_cpu.wake(); }
  void apic_nmi() override {
    m_apic.ack_nmi();
    m_cpu.core().signal_nmi();
    m_cpu.wake();
  }
  void apic_init() override {
    m_cpu.core().signal_init();
    m_cpu.wake();
  }
  void apic_sipi(uint8_t vector) override {
    m_cpu.core().signal_sipi(vector);
    m_cpu.wake();
  }
  uint64_t now_cycles() override { return m_cpu.now_cycles(); }
  uint64_t now_tsc() override { return m_cpu.core().tsc(); }
  uint64_t cycles_at_tsc(uint64_t tsc) override {
    const cpu::Core& c = m_cpu.core();
    const uint64_t rel = tsc - c.s.tsc_offset;
    if (static_cast<int64_t>(rel) < 0) return 0;
    const unsigned __int128 cyc =
        static_cast<unsigned __int128>(rel) * c.params().core_hz / c.params().tsc_hz;
    return cyc > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(cyc);
  }
  // The deadline may now be earlier than the end of the running quantum: end it.
  void apic_timer_changed() override { m_cpu.core().signal_interrupt(); }

 private:
  cpu::CpuModule& m_cpu;
  LocalApic& m_apic;
};

}  // namespace

struct ApicWiring::Impl {
  Config& cfg;
  StatRegistry& stats;
  unsigned ncpu;
  uint64_t core_hz;
  Pic8259Pair& pic;
  ApicBus bus;
  IoApic ioapic{bus, 0};
  AcpiPmTimer pm;
  IsaIrqs isa{&pic, &ioapic};
  std::vector<std::unique_ptr<LocalApic>> lapics;
  std::vector<std::unique_ptr<CoreApicLink>> links;
  std::unique_ptr<TlmDevice> ioapic_tlm, pm_tlm;

  Impl(Config& c, StatRegistry& s, unsigned n, uint64_t hz, Pic8259Pair& p)
      : cfg(c), stats(s), ncpu(n), core_hz(hz), pic(p) {}
};

ApicWiring::ApicWiring(Config& cfg, StatRegistry& stats, unsigned ncpu, uint64_t core_hz,
                       Pic8259Pair& pic)
    : m(std::make_unique<Impl>(cfg, stats, ncpu, core_hz, pic)) {}

ApicWiring::~ApicWiring() = default;

void ApicWiring::attach_cpu(unsigned index, cpu::CpuModule& cpu) {
  const std::string path = "system.cpu" + std::to_string(index) + ".lapic";
  const LocalApicParams p = LocalApic::params_from_config(
      m->cfg, path, index, index == 0, m->core_hz, cpu.core().params().phys_addr_bits,
      cpu.core().params().features.x2apic);
  cpu.core().set_crystal_hz(p.timer_hz);
  auto apic = std::make_unique<LocalApic>(p, &m->bus, nullptr);
  auto link = std::make_unique<CoreApicLink>(cpu, *apic);
  apic->set_link(link.get());
  // The 8259 reaches the processors through LINT0 in ExtINT mode (virtual wire).
  if (index == 0) {
    apic->set_ext_int_controller(&m->pic);
    LocalApic* bsp = apic.get();
    m->pic.set_intr_callback([bsp](bool level) { bsp->set_lint(0, level); });
  }
  apic->register_stats(m->stats, path);
  m->bus.attach(apic.get());
  cpu.set_apic(link.get());
  m->lapics.push_back(std::move(apic));
  m->links.push_back(std::move(link));
}

void ApicWiring::map_devices(mem::Bus& mem_bus, unsigned& mem_targets, mem::Bus& io_bus,
                             unsigned& io_targets) {
  m->ioapic_tlm = std::make_unique<TlmDevice>("ioapic", m->ioapic);
  mem_bus.initiator_socket.bind(m->ioapic_tlm->socket);
  mem_bus.map(mem_targets++, 0xfec00000, 0x1000, "ioapic");
  m->pm_tlm = std::make_unique<TlmDevice>("acpi_pm", m->pm);
  io_bus.initiator_socket.bind(m->pm_tlm->socket);
  io_bus.map(io_targets++, 0x600, 12, "acpi_pm");
}

std::function<void(bool)> ApicWiring::isa_irq_line(unsigned irq) { return m->isa.line(irq); }

void ApicWiring::set_gsi(unsigned gsi, bool level) {
  // A global system interrupt: IOAPIC pin `gsi`, and the 8259 for the ISA range (QEMU's GSI
  // routing, which its pc-testdev drives).
  if (gsi < 16) m->pic.set_irq(gsi, level);
  m->ioapic.set_irq(gsi, level);
}

void ApicWiring::write_acpi_tables(const MemoryWriter& write) {
  AcpiTablesConfig t;
  t.apic_ids.clear();
  for (unsigned i = 0; i < m->ncpu; ++i) t.apic_ids.push_back(i);
  platform::write_acpi_tables(t, write);
}

}  // namespace vmxsim::platform
