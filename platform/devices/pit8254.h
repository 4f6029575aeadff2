// The 8254 programmable interval timer of a PC (Intel 8254 data sheet): three 16-bit counters
// clocked at 1.193182 MHz, ports 0x40-0x42 (counters) and 0x43 (control word), channel 0's
// output on ISA IRQ 0. Time comes from the access timestamps (picoseconds of simulated time), so
// the model is SystemC-free; PitModule (pit_module.h) turns channel 0's output edges into
// interrupts at the right simulated times.
//
// Implemented: control words with latch command and read-back, access modes LSB/MSB/LSB-then-MSB,
// modes 0 (interrupt on terminal count), 2 (rate generator), 3 (square wave), 4 (software
// strobe) with the counter value computed from elapsed time; binary counting. Not modelled: BCD
// counting, hardware-triggered modes 1 and 5, the gate inputs (channel 2's gate on port 0x61 is
// treated as always high), the status byte's null-count bit timing.
#pragma once

#include <cstdint>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class Pit8254 : public IoDevice {
 public:
  static constexpr uint64_t kClockHz = 1193182;

  // Ports are absolute (map at 0x40, size 4, target offset 0x40).
  uint64_t io_read(uint64_t port, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t port, unsigned size, uint64_t value, uint64_t now_ps) override;

  // The first time at or after `now_ps` at which channel 0 raises its output to the interrupt
  // controller, or UINT64_MAX. A periodic mode returns the next period boundary.
  uint64_t next_irq0_ps(uint64_t now_ps) const;

  // Channel 2's output (the PC reads it as bit 5 of port 0x61).
  bool channel2_output(uint64_t now_ps) const { return output(m_ch[2], now_ps); }

  // Programs channel 0 as a BIOS leaves it (mode 3, reload 0 = 65536: 18.2 Hz).
  void bios_defaults(uint64_t now_ps);

 private:
  struct Channel {
    uint8_t mode = 0;
    uint8_t access = 3;          // 1 LSB, 2 MSB, 3 LSB then MSB
    uint32_t reload = 0x10000;   // 0 programs 65536
    bool counting = false;
    uint64_t start_ps = 0;       // when the count was loaded
    bool write_msb_next = false;
    uint8_t write_lsb = 0;
    bool read_msb_next = false;
    bool latched = false;
    uint16_t latch = 0;
    bool status_latched = false;
    uint8_t status = 0;
  };
  uint64_t ticks_since_start(const Channel& c, uint64_t now_ps) const;
  uint16_t current_count(const Channel& c, uint64_t now_ps) const;
  bool output(const Channel& c, uint64_t now_ps) const;
  void write_control(uint8_t v, uint64_t now_ps);
  void load(Channel& c, uint32_t value, uint64_t now_ps);

  Channel m_ch[3];
};

}  // namespace vmxsim::platform
