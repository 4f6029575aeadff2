// QEMU's isa-debug-exit device as kvm-unit-tests uses it (port 0xf4, 4 bytes): writing v ends the
// run with process exit status (v << 1) | 1, so a guest can never report 0 by accident. Reads
// return all-ones.
#pragma once

#include <cstdint>
#include <functional>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class DebugExit : public IoDevice {
 public:
  // `on_exit` receives the exit status; the platform calls sc_stop() from it.
  explicit DebugExit(std::function<void(int status)> on_exit = {}) : m_on_exit(std::move(on_exit)) {}

  void set_callback(std::function<void(int status)> on_exit) { m_on_exit = std::move(on_exit); }
  bool exited() const { return m_exited; }
  int status() const { return m_status; }
  uint32_t value() const { return m_value; }  // the value written

  uint64_t io_read(uint64_t, unsigned size, uint64_t) override { return size_mask(size); }
  void io_write(uint64_t, unsigned size, uint64_t value, uint64_t) override {
    m_value = static_cast<uint32_t>(value & size_mask(size));
    m_status = static_cast<int>((m_value << 1) | 1);
    m_exited = true;
    if (m_on_exit) m_on_exit(m_status);
  }

 private:
  std::function<void(int)> m_on_exit;
  bool m_exited = false;
  int m_status = 0;
  uint32_t m_value = 0;
};

}  // namespace vmxsim::platform
