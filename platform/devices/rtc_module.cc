#include "platform/devices/rtc_module.h"

#include <limits>

#include "platform/devices/tlm_device.h"

namespace vmxsim::platform {

using namespace sc_core;

RtcModule::RtcModule(sc_module_name name, uint64_t start_epoch_s, uint64_t ram_size, unsigned cpus,
                     std::function<void(bool)> irq8)
    : sc_module(name), m_rtc(start_epoch_s, ram_size, cpus) {
  m_rtc.set_irq_callback(std::move(irq8));
  SC_HAS_PROCESS(RtcModule);
  SC_METHOD(on_event);
  sensitive << m_event;
  dont_initialize();
}

uint64_t RtcModule::io_read(uint64_t offset, unsigned size, uint64_t now_ps) {
  const uint64_t v = m_rtc.io_read(offset, size, now_ps);
  reschedule(now_ps);
  return v;
}

void RtcModule::io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) {
  m_rtc.io_write(offset, size, value, now_ps);
  reschedule(now_ps);
}

void RtcModule::reschedule(uint64_t now_ps) {
  m_event.cancel();
  const uint64_t at = m_rtc.next_event_ps(now_ps);
  if (at == std::numeric_limits<uint64_t>::max()) return;
  TlmDevice::notify_at(m_event, at);
}

void RtcModule::on_event() {
  const uint64_t now = TlmDevice::to_ps(sc_time_stamp());
  m_rtc.advance(now);
  reschedule(now);
}

}  // namespace vmxsim::platform
