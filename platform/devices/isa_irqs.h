// ISA interrupt lines as a PC wires them: each goes to the 8259 pair and to the IOAPIC input of
// the same number, except IRQ0 which the IOAPIC sees on GSI2 (the MADT's interrupt source
// override says so).
#pragma once

#include <functional>

#include "platform/devices/io_apic.h"
#include "platform/devices/pic8259.h"

namespace vmxsim::platform {

class IsaIrqs {
 public:
  IsaIrqs(Pic8259Pair* pic, IoApic* ioapic) : m_pic(pic), m_ioapic(ioapic) {}

  void set_irq(unsigned irq, bool level) {
    if (irq >= 16) return;
    if (m_pic) m_pic->set_irq(irq, level);
    if (m_ioapic) m_ioapic->set_irq(irq == 0 ? 2 : irq, level);
  }
  // A callback for a device's interrupt output (e.g. Uart16550::set_irq_callback(line(4))).
  std::function<void(bool)> line(unsigned irq) {
    return [this, irq](bool level) { set_irq(irq, level); };
  }

 private:
  Pic8259Pair* m_pic;
  IoApic* m_ioapic;
};

}  // namespace vmxsim::platform
