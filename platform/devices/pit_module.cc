#include "platform/devices/pit_module.h"

#include <limits>

#include "platform/devices/tlm_device.h"

namespace vmxsim::platform {

using namespace sc_core;

PitModule::PitModule(sc_module_name name, std::function<void(bool)> irq0)
    : sc_module(name), m_irq0(std::move(irq0)) {
  SC_HAS_PROCESS(PitModule);
  SC_METHOD(on_edge);
  sensitive << m_edge;
  dont_initialize();
}

void PitModule::bios_defaults() {
  const uint64_t now = TlmDevice::to_ps(sc_time_stamp());
  m_pit.bios_defaults(now);
  reschedule(now);
}

void PitModule::reschedule(uint64_t now_ps) {
  m_edge.cancel();
  const uint64_t at = m_pit.next_irq0_ps(now_ps);
  if (at == std::numeric_limits<uint64_t>::max()) return;
  TlmDevice::notify_at(m_edge, at);
}

void PitModule::on_edge() {
  // An edge-triggered pulse on IRQ 0 (the IOAPIC sees it on pin 2).
  ++m_irqs;
  if (m_irq0) {
    m_irq0(true);
    m_irq0(false);
  }
  reschedule(TlmDevice::to_ps(sc_time_stamp()) + 1);
}

}  // namespace vmxsim::platform
