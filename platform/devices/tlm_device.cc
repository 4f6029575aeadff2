#include "platform/devices/tlm_device.h"

#include <cmath>

namespace vmxsim::platform {

TlmDevice::TlmDevice(sc_core::sc_module_name name, IoDevice& device)
    : sc_module(name), socket("socket"), m_device(device) {
  socket.register_b_transport(this, &TlmDevice::b_transport);
  socket.register_transport_dbg(this, &TlmDevice::transport_dbg);
}

uint64_t TlmDevice::to_ps(const sc_core::sc_time& t) {
  // The resolution is fixed once the first sc_time exists; it is 1 ps unless a platform chose
  // otherwise. Femtosecond arithmetic covers resolutions down to 1 fs.
  static const uint64_t res_fs =
      static_cast<uint64_t>(std::llround(sc_core::sc_get_time_resolution().to_seconds() * 1e15));
  const unsigned __int128 fs = static_cast<unsigned __int128>(t.value()) * res_fs;
  return static_cast<uint64_t>(fs / 1000);
}

void TlmDevice::notify_at(sc_core::sc_event& e, uint64_t at_ps) {
  const uint64_t global = to_ps(sc_core::sc_time_stamp());
  const uint64_t delay = at_ps > global ? at_ps - global : 0;
  e.notify(sc_core::sc_time::from_value(delay * sc_core::sc_time(1, sc_core::SC_PS).value()));
}

void TlmDevice::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  if (!trans.is_read() && !trans.is_write()) return;
  const uint64_t now_ps = to_ps(sc_core::sc_time_stamp() + delay);
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  const unsigned width = trans.get_streaming_width() ? trans.get_streaming_width() : len;
  const uint8_t* be = trans.get_byte_enable_ptr();
  const unsigned be_len = trans.get_byte_enable_length();
  uint8_t* data = trans.get_data_ptr();

  if (len >= 1 && len <= 8 && !be && width >= len) {
    if (trans.is_read()) {
      const uint64_t v = m_device.io_read(addr, len, now_ps);
      for (unsigned i = 0; i < len; ++i) data[i] = static_cast<uint8_t>(v >> (8 * i));
    } else {
      uint64_t v = 0;
      for (unsigned i = 0; i < len; ++i) v |= uint64_t{data[i]} << (8 * i);
      m_device.io_write(addr, len, v, now_ps);
    }
    return;
  }
  for (unsigned i = 0; i < len; ++i) {
    if (be && be_len && be[i % be_len] == TLM_BYTE_DISABLED) continue;
    const uint64_t a = addr + (i % width);
    if (trans.is_read())
      data[i] = static_cast<uint8_t>(m_device.io_read(a, 1, now_ps));
    else
      m_device.io_write(a, 1, data[i], now_ps);
  }
}

unsigned TlmDevice::transport_dbg(tlm::tlm_generic_payload&) { return 0; }

}  // namespace vmxsim::platform
