// PCI configuration mechanism #1 (PCI Local Bus Spec 3.0 §3.2.2.3.2) with one device, the host
// bridge at 00:00.0 (an Intel 440FX, 8086:1237, class 06/00/00, as on QEMU's pc machine): its
// presence is how an OS's sanity check of mechanism #1 knows the bus is real (Linux's
// pci_sanity_check looks for a host bridge on bus 0). The bridge has no BARs; its command register
// keeps the bits a host bridge implements (memory space, bus master), everything else is
// read-only. Every other bus/device/function reads all-ones (vendor ID 0xffff: no device) and
// ignores writes.
// CONFIG_ADDRESS at 0xcf8 (32-bit, reads back with bits 30:24 and 1:0 zero), CONFIG_DATA at
// 0xcfc-0xcff. Byte accesses to 0xcf8-0xcfb do not touch CONFIG_ADDRESS; a byte access to 0xcf9
// goes to the chipset's reset-control register (ResetControl, if attached). Map at 0xcf8, size 8.
#pragma once

#include <cstdint>
#include <cstring>

#include "platform/devices/io_device.h"
#include "platform/devices/reset_control.h"

namespace vmxsim::platform {

class PciHost : public IoDevice {
 public:
  static constexpr uint16_t kVendorIntel = 0x8086, kDevice440fx = 0x1237;

  PciHost() {
    put16(0x00, kVendorIntel);
    put16(0x02, kDevice440fx);
    put16(0x06, 0x0000);      // status
    m_bridge[0x08] = 0x02;    // revision
    m_bridge[0x0a] = 0x00;    // subclass: host bridge
    m_bridge[0x0b] = 0x06;    // class: bridge
    m_bridge[0x0e] = 0x00;    // header type 0, single function
  }

  uint32_t config_address() const { return m_address; }
  void attach_reset_control(ResetControl* reset) { m_reset = reset; }

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) override {
    if (offset == 0 && size == 4) return m_address;
    if (offset == 1 && size == 1 && m_reset) return m_reset->io_read(ResetControl::kResetControlPort, 1, now_ps);
    if (offset < 4 || !selects_bridge()) return size_mask(size);
    uint64_t v = 0;
    for (unsigned i = 0; i < size && offset - 4 + i < 4; ++i)
      v |= uint64_t{m_bridge[register_base() + (offset - 4) + i]} << (8 * i);
    return v;
  }
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) override {
    if (offset == 0 && size == 4) {
      m_address = static_cast<uint32_t>(value) & 0x80fffffcu;
      return;
    }
    if (offset == 1 && size == 1 && m_reset) {
      m_reset->io_write(ResetControl::kResetControlPort, 1, value, now_ps);
      return;
    }
    if (offset < 4 || !selects_bridge()) return;
    for (unsigned i = 0; i < size && offset - 4 + i < 4; ++i) {
      const unsigned reg = register_base() + static_cast<unsigned>(offset - 4) + i;
      if (reg == 0x04) m_bridge[reg] = static_cast<uint8_t>((value >> (8 * i)) & 0x06);  // MEM, MASTER
    }
  }

 private:
  // Enabled, bus 0, device 0, function 0.
  bool selects_bridge() const { return (m_address & 0x80ffff00u) == 0x80000000u; }
  unsigned register_base() const { return m_address & 0xfc; }
  void put16(unsigned off, uint16_t v) {
    m_bridge[off] = static_cast<uint8_t>(v);
    m_bridge[off + 1] = static_cast<uint8_t>(v >> 8);
  }

  uint32_t m_address = 0;
  uint8_t m_bridge[256] = {};
  ResetControl* m_reset = nullptr;
};

}  // namespace vmxsim::platform
