// QEMU's pc-testdev, which kvm-unit-tests expects on a PC (QEMU hw/misc/pc-testdev.c, read for
// its register map only): a 32-bit scratch port at 0xe0 (reads return what was last written),
// a page-flush port at 0xe4 (writes ignored: vmxsim has no host mappings to flush), ISA IRQ
// lines at ports 0x2000-0x2017 (a write sets line `port - 0x2000` to `value != 0`), and 64 KiB of
// "I/O RAM" at 0xff000000 that behaves as memory but is reached through MMIO (never DMI), so
// that every access to it exercises the slow memory path.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class TestDevPorts : public IoDevice {
 public:
  static constexpr uint64_t kScratchPort = 0xe0, kFlushPort = 0xe4, kIrqBase = 0x2000;
  static constexpr unsigned kIrqLines = 24;
  // Map at 0xe0 (size 8, target offset 0xe0) and 0x2000 (size 24, target offset 0x2000).
  explicit TestDevPorts(std::function<void(unsigned irq, bool level)> set_irq)
      : m_set_irq(std::move(set_irq)) {}

  uint64_t io_read(uint64_t port, unsigned size, uint64_t) override {
    if (port >= kScratchPort && port < kScratchPort + 4)
      return (m_scratch >> (8 * (port - kScratchPort))) & size_mask(size);
    return size_mask(size);
  }
  void io_write(uint64_t port, unsigned size, uint64_t value, uint64_t) override {
    if (port >= kScratchPort && port < kScratchPort + 4) {
      const unsigned shift = 8 * static_cast<unsigned>(port - kScratchPort);
      const uint64_t mask = size_mask(size) << shift;
      m_scratch = static_cast<uint32_t>((m_scratch & ~mask) | ((value << shift) & mask));
    } else if (port >= kIrqBase && port < kIrqBase + kIrqLines && m_set_irq) {
      m_set_irq(static_cast<unsigned>(port - kIrqBase), (value & size_mask(size)) != 0);
    }
  }

 private:
  std::function<void(unsigned, bool)> m_set_irq;
  uint32_t m_scratch = 0;
};

class TestDevIoRam : public IoDevice {
 public:
  static constexpr uint64_t kBase = 0xff000000, kSize = 0x10000;
  TestDevIoRam() : m_bytes(kSize, 0) {}
  uint64_t io_read(uint64_t offset, unsigned size, uint64_t) override {
    uint64_t v = 0;
    for (unsigned i = 0; i < size && offset + i < kSize; ++i)
      v |= static_cast<uint64_t>(m_bytes[offset + i]) << (8 * i);
    return v;
  }
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t) override {
    for (unsigned i = 0; i < size && offset + i < kSize; ++i)
      m_bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  }

 private:
  std::vector<uint8_t> m_bytes;
};

}  // namespace vmxsim::platform
