// Puts the CMOS RTC (cmos_rtc.h) on the simulated timeline: after every access, and at every
// event, the next moment an enabled interrupt source fires is scheduled as a SystemC event, at
// which the flags are brought up to date and IRQ 8 raised.
#pragma once

#include <systemc>

#include <functional>

#include "platform/devices/cmos_rtc.h"
#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class RtcModule : public sc_core::sc_module, public IoDevice {
 public:
  RtcModule(sc_core::sc_module_name name, uint64_t start_epoch_s, uint64_t ram_size, unsigned cpus,
            std::function<void(bool)> irq8);

  CmosRtc& rtc() { return m_rtc; }

  // IoDevice (map at 0x70, size 2)
  uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) override;

 private:
  void reschedule(uint64_t now_ps);
  void on_event();

  CmosRtc m_rtc;
  sc_core::sc_event m_event;
};

}  // namespace vmxsim::platform
