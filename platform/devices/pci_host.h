// PCI configuration mechanism #1 (PCI Local Bus Spec 3.0 §3.2.2.3.2) with an empty bus:
// CONFIG_ADDRESS at 0xcf8 (32-bit, reads back with bits 30:24 and 1:0 zero), CONFIG_DATA at
// 0xcfc-0xcff reads all-ones (vendor ID 0xffff: no device) and ignores writes. Byte accesses to
// 0xcf8-0xcfb do not touch CONFIG_ADDRESS (0xcf9 is the reset-control register on real chipsets;
// here it is ignored). Map at 0xcf8, size 8.
#pragma once

#include <cstdint>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class PciHost : public IoDevice {
 public:
  uint32_t config_address() const { return m_address; }

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t) override {
    if (offset == 0 && size == 4) return m_address;
    return size_mask(size);
  }
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t) override {
    if (offset == 0 && size == 4) m_address = static_cast<uint32_t>(value) & 0x80fffffcu;
  }

 private:
  uint32_t m_address = 0;
};

}  // namespace vmxsim::platform
