// Puts an IoDevice on a TLM bus: a simple_target_socket whose b_transport turns each access into
// io_read/io_write calls. Accesses of 1..8 bytes go through as one call; longer ones, byte
// enables and streaming widths are split into byte accesses. The response is always OK (device
// registers never fault, as on a PC). No DMI, and debug transport is refused (reading a device
// register can have side effects).
#pragma once

#include <cstdint>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class TlmDevice : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<TlmDevice> socket;

  TlmDevice(sc_core::sc_module_name name, IoDevice& device);

  // sc_time -> picoseconds, independent of the kernel's time resolution.
  static uint64_t to_ps(const sc_core::sc_time& t);
  // Notifies `e` at absolute simulated time `at_ps` (at once if that is already past): how a
  // device model's next timer edge goes on the timeline.
  static void notify_at(sc_core::sc_event& e, uint64_t at_ps);

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned transport_dbg(tlm::tlm_generic_payload& trans);

  IoDevice& m_device;
};

}  // namespace vmxsim::platform
