// I/O APIC after the Intel 82093AA data sheet, as QEMU and KVM present it: version 0x11, 24
// redirection entries, IOREGSEL at offset 0x00 and IOWIN at 0x10 of its MMIO window (map at
// 0xfec00000, size 0x1000). No EOI register (that arrived with version 0x20): level-triggered
// interrupts are completed by the local APICs' EOI broadcast, which arrives through the ApicBus.
//
// Inputs are logical: set_irq(pin, true) means asserted, whatever the entry's polarity bit says
// (the platform inverts active-low sources before calling). Edge-triggered pins deliver on the
// rising edge when unmasked (edges on a masked pin are lost, as the data sheet says);
// level-triggered pins deliver while asserted, unmasked and Remote IRR clear, set Remote IRR on
// acceptance and deliver again after the EOI if still asserted.
#pragma once

#include <cstdint>

#include "platform/devices/apic_bus.h"
#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class IoApic : public IoDevice {
 public:
  static constexpr unsigned kPins = 24;
  static constexpr uint32_t kVersion = 0x00170011;  // max redirection entry 23, version 0x11

  // Registers an EOI listener on `bus`; the IoApic must outlive the bus's use.
  explicit IoApic(ApicBus& bus, uint8_t id = 0);

  void set_irq(unsigned pin, bool level);
  // EOI broadcast for `vector`: clears Remote IRR of matching level-triggered entries.
  void eoi(uint8_t vector);

  uint64_t redirection(unsigned pin) const { return pin < kPins ? m_redir[pin] : 0; }
  uint8_t id() const { return m_id; }

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) override;

  // Register file behind IOWIN (index as written to IOREGSEL).
  uint32_t read_register(uint8_t index) const;
  void write_register(uint8_t index, uint32_t value);

 private:
  void deliver(unsigned pin);
  void service(unsigned pin);  // deliver a level-triggered pin if it should be

  ApicBus& m_bus;
  uint8_t m_id;
  uint8_t m_regsel = 0;
  uint64_t m_redir[kPins];
  uint32_t m_levels = 0;
};

}  // namespace vmxsim::platform
