// The PC's two software reset paths, as an operating system reboots a machine: the keyboard
// controller's "pulse output port" command 0xFE written to port 0x64 (Linux's reboot=kbd, tried
// right after ACPI) and the chipset's reset-control register at 0xcf9 (bit 2 set: reset; Linux's
// reboot=pci). vmxsim has no firmware to reboot into, so a reset ends the run, as QEMU's
// -no-reboot does. There is no keyboard controller behind port 0x64: reads return all-ones, so an
// OS probing for one finds none (as before) and its wait for an empty input buffer times out.
// Map at 0x64, size 1 (target offset 0x64); the PCI host (which decodes 0xcf8-0xcff) hands its
// byte accesses to 0xcf9 here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class ResetControl : public IoDevice {
 public:
  static constexpr uint64_t kKbdCommandPort = 0x64, kResetControlPort = 0xcf9;
  static constexpr uint8_t kPulseResetLine = 0xfe, kResetCpuBit = 0x04;

  explicit ResetControl(std::function<void(const std::string& how)> on_reset) : m_on_reset(std::move(on_reset)) {}

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t) override {
    return offset == kResetControlPort ? m_cf9 : size_mask(size);
  }
  void io_write(uint64_t offset, unsigned, uint64_t value, uint64_t) override {
    const auto b = static_cast<uint8_t>(value);
    if (offset == kKbdCommandPort && b == kPulseResetLine) {
      m_on_reset("the keyboard controller's reset line (command 0xfe to port 0x64)");
    } else if (offset == kResetControlPort) {
      m_cf9 = b & static_cast<uint8_t>(~kResetCpuBit);
      if (b & kResetCpuBit) m_on_reset("the reset-control register (port 0xcf9)");
    }
  }

 private:
  std::function<void(const std::string&)> m_on_reset;
  uint8_t m_cf9 = 0;
};

}  // namespace vmxsim::platform
