// ACPI fixed-hardware PM1 register block and power-management timer (ACPI 6.4 §4.8.3), as a
// PIIX4-style chipset places them: map at 0x600, size 12.
//   0x600 PM1a_STS (16-bit, write 1 to clear)   0x602 PM1a_EN (16-bit)
//   0x604 PM1a_CNT (16-bit; SCI_EN reads 1: there is no SMI_CMD, the machine is always in ACPI
//         mode; SLP_TYP/SLP_EN writes go to an optional callback, otherwise ignored)
//   0x608 PM_TMR   (32-bit read-only, 24-bit counter at 3.579545 MHz; FADT TMR_VAL_EXT = 0)
// The timer is a function of simulated time (sc_time_stamp() plus the initiator's annotated
// delay, delivered by TlmDevice as now_ps): counter = floor(t * 3579545 Hz) mod 2^24. TMR_STS
// reports a change of counter bit 23 since it was last cleared; no SCI is raised.
#pragma once

#include <cstdint>
#include <functional>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class AcpiPmTimer : public IoDevice {
 public:
  static constexpr uint64_t kFrequencyHz = 3'579'545;
  static constexpr uint16_t kSciEn = 1u << 0, kSlpEn = 1u << 13, kTmrSts = 1u << 0;

  // Free-running ticks (not truncated to 24 bits) at time `now_ps`.
  static uint64_t ticks_at(uint64_t now_ps) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(now_ps) * kFrequencyHz /
                                 1'000'000'000'000ull);
  }
  static uint32_t counter_at(uint64_t now_ps) { return ticks_at(now_ps) & 0xffffff; }

  // Called with SLP_TYP (0-7) when the guest writes PM1a_CNT with SLP_EN set.
  void set_sleep_callback(std::function<void(unsigned slp_typ)> cb) { m_on_sleep = std::move(cb); }

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) override;

 private:
  uint8_t read_byte(uint64_t offset, uint64_t now_ps, uint32_t timer);
  uint16_t status(uint64_t now_ps) const;

  uint16_t m_sts = 0, m_en = 0, m_cnt = kSciEn;
  uint64_t m_tmr_epoch = 0;  // ticks >> 23 when TMR_STS was last cleared
  std::function<void(unsigned)> m_on_sleep;
};

}  // namespace vmxsim::platform
