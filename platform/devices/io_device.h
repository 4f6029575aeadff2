// The register interface every device model implements, free of SystemC so that the models are
// unit-testable without a kernel. TlmDevice (tlm_device.h) puts one on a bus.
#pragma once

#include <cstdint>

namespace vmxsim::platform {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  // `offset` is what the bus delivers (address - window base + target offset); `size` is 1..8
  // bytes; the value is little-endian in the low `size` bytes. `now_ps` is the simulated time of
  // the access in picoseconds, including the initiator's local time offset within its quantum.
  virtual uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) = 0;
  virtual void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) = 0;
};

inline uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (size * 8)) - 1;
}

}  // namespace vmxsim::platform
