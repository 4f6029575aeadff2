// Puts the 8254 on the simulated timeline: after every access that may change channel 0, the
// next rising edge of its output is scheduled as a SystemC event, which pulses ISA IRQ 0.
// Also the PC's port 0x61 (NMI status and control, "system control port B"): bits 3:0 read back
// what was written (timer-2 gate, speaker data, parity and I/O-check NMI disables), bit 4 the
// memory-refresh toggle (every 15.085 us of simulated time), bit 5 timer 2's output, bits 7:6
// (SERR#, IOCHK#) zero: no NMI source is ever reported there.
#pragma once

#include <systemc>

#include <functional>

#include "platform/devices/io_device.h"
#include "platform/devices/pit8254.h"

namespace vmxsim::platform {

class PitModule : public sc_core::sc_module, public IoDevice {
 public:
  PitModule(sc_core::sc_module_name name, std::function<void(bool)> irq0);

  Pit8254& pit() { return m_pit; }
  // Leaves channel 0 as a PC BIOS does (18.2 Hz square wave) and schedules its interrupts.
  void bios_defaults();
  uint64_t irq_count() const { return m_irqs; }

  static constexpr uint64_t kPortB = 0x61;
  static constexpr uint64_t kRefreshTogglePs = 15'085'000;

  // IoDevice (map at 0x40, size 4, target offset 0x40; and at 0x61, size 1, target offset 0x61)
  uint64_t io_read(uint64_t port, unsigned size, uint64_t now_ps) override {
    if (port == kPortB) {
      const bool refresh = (now_ps / kRefreshTogglePs) & 1;
      return (m_port_b & 0x0f) | (refresh ? 0x10 : 0) | (m_pit.channel2_output(now_ps) ? 0x20 : 0);
    }
    return m_pit.io_read(port, size, now_ps);
  }
  void io_write(uint64_t port, unsigned size, uint64_t value, uint64_t now_ps) override {
    if (port == kPortB) {
      m_port_b = static_cast<uint8_t>(value & 0x0f);
      return;
    }
    m_pit.io_write(port, size, value, now_ps);
    reschedule(now_ps);
  }

 private:
  void reschedule(uint64_t now_ps);
  void on_edge();

  Pit8254 m_pit;
  std::function<void(bool)> m_irq0;
  sc_core::sc_event m_edge;
  uint64_t m_irqs = 0;
  uint8_t m_port_b = 0;
};

}  // namespace vmxsim::platform
