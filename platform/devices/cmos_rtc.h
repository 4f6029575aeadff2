// The PC's CMOS real-time clock and NVRAM (Motorola MC146818A, as in every PC chipset): index
// port 0x70 (bits 6:0 select one of 128 bytes; bit 7 is the NMI mask, kept but not modelled),
// data port 0x71. Map at 0x70, size 2.
//
// The clock is a function of simulated time, never of host time: it shows `start_epoch_s` (Unix
// seconds, UTC) at simulated time 0 and advances one second per simulated second, so a run is
// deterministic and the guest's wall clock is settable (system.rtc.start_time). Registers:
//   0x00-0x09 seconds, alarm seconds, minutes, alarm minutes, hours, alarm hours, day of week
//             (1 = Sunday), day of month, month, year (two digits); BCD unless register B.DM,
//             12-hour (bit 7 = PM) unless register B.24/12. Alarm bytes 0xC0-0xFF match any value.
//   0x0A A: UIP (bit 7, read-only) is set during the 244 us before each update; DV (6:4);
//           RS (3:0) selects the periodic-interrupt rate 32768 Hz >> (RS - 1) (RS 1, 2: 256, 128 Hz).
//   0x0B B: SET (stops updates while the guest writes the time), PIE, AIE, UIE, SQWE, DM,
//           24/12, DSE.
//   0x0C C: IRQF, PF, AF, UF; reading clears them and lowers IRQ 8.
//   0x0D D: VRT (valid RAM and time) always set.
//   0x0E-0x7F NVRAM, filled as SeaBIOS/QEMU leave it: base and extended memory sizes (0x15-0x18,
//             0x30-0x31, 0x34-0x35, 0x5b-0x5d), number of CPUs - 1 (0x5f), century (0x32, BCD).
// Interrupt flags are brought up to date from simulated time at every access and at every event
// the owning module schedules (next_event_ps), so they are exact whether the guest polls or takes
// IRQ 8.
#pragma once

#include <cstdint>
#include <functional>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class CmosRtc : public IoDevice {
 public:
  static constexpr uint8_t kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c, kRegD = 0x0d, kCentury = 0x32;
  static constexpr uint8_t kUip = 0x80;
  static constexpr uint8_t kSet = 0x80, kPie = 0x40, kAie = 0x20, kUie = 0x10, kDm = 0x04, k24h = 0x02;
  static constexpr uint8_t kIrqf = 0x80, kPf = 0x40, kAf = 0x20, kUf = 0x10;
  static constexpr uint8_t kVrt = 0x80;
  static constexpr uint64_t kPsPerSecond = 1'000'000'000'000ull;
  static constexpr uint64_t kUipWindowPs = 244'000'000;  // 244 us before each update

  CmosRtc(uint64_t start_epoch_s, uint64_t ram_size, unsigned cpus);

  // IRQ 8: raised when a flag enabled in register B is set, lowered when register C is read.
  void set_irq_callback(std::function<void(bool)> irq) { m_irq = std::move(irq); }

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) override;

  // Brings the flags up to `now_ps` (raising IRQ 8 if due); the module calls it at each event.
  void advance(uint64_t now_ps);
  // The next time an enabled interrupt source fires after `now_ps` (UINT64_MAX: none).
  uint64_t next_event_ps(uint64_t now_ps) const;

  // Unix time the clock shows at `now_ps` (whole seconds).
  uint64_t epoch_at(uint64_t now_ps) const;
  uint8_t nvram(uint8_t index) const { return m_ram[index & 0x7f]; }

 private:
  bool running() const;
  uint64_t periodic_ps_num() const;  // period = periodic_ps_num / 32768 ps (0: off)
  uint8_t read_register(uint8_t index, uint64_t now_ps);
  void write_register(uint8_t index, uint8_t value, uint64_t now_ps);
  void load_time_registers(uint64_t epoch_s);
  uint64_t epoch_from_registers() const;
  uint8_t to_bcd_or_binary(unsigned v) const;
  unsigned from_bcd_or_binary(uint8_t v) const;
  uint8_t encode_hour(unsigned hour) const;
  unsigned decode_hour(uint8_t v) const;
  bool alarm_matches(uint64_t epoch_s) const;
  void update_irq();

  uint8_t m_ram[128] = {};
  uint8_t m_index = 0;
  // The clock: it showed m_base_epoch_s at m_base_ps and counts from there while running.
  uint64_t m_base_epoch_s;
  uint64_t m_base_ps = 0;
  uint64_t m_flags_ps = 0;  // flags are up to date to this time
  uint8_t m_flags = 0;      // PF, AF, UF
  bool m_irq_level = false;
  std::function<void(bool)> m_irq;
};

// Calendar arithmetic on the proleptic Gregorian calendar (UTC, no leap seconds).
struct CivilTime {
  unsigned year, month, day, hour, minute, second, weekday;  // weekday 0 = Sunday
};
CivilTime civil_from_epoch(uint64_t epoch_s);
uint64_t epoch_from_civil(unsigned year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                          unsigned second);

}  // namespace vmxsim::platform
