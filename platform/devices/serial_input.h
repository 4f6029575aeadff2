// What arrives on the serial line: bytes from a file, or typed on the terminal (-serial stdio),
// handed to the UART's receiver while the guest asserts RTS (MCR bit 1, as Linux's 8250 driver
// does once the port is open) and the FIFO has room, checked every `poll` of simulated time.
// Nothing is ever dropped: a guest that does not read leaves the rest waiting, as a sender with
// hardware flow control would.
//
// A file is deterministic (its bytes enter at the same simulated times in every run). The
// terminal is not, by nature: there the simulation is also kept from running ahead of the host's
// clock while it polls, so an idle guest waits for the person typing instead of racing through
// simulated time (the terminal is put in raw mode, so the guest's shell sees each key and does
// its own echo; Ctrl-C still interrupts vmxsim).
#pragma once

#include <systemc>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace vmxsim::platform {

class Uart16550;

class SerialInput : public sc_core::sc_module {
 public:
  static constexpr uint64_t kMaxFileBytes = 16u << 20;

  // `source` is a file path or "stdio". Throws std::runtime_error for an unreadable or oversized
  // file.
  SerialInput(sc_core::sc_module_name name, Uart16550& uart, const std::string& source, uint64_t poll_ns);
  ~SerialInput() override;

  uint64_t bytes_delivered() const { return m_delivered; }

 private:
  void feed_thread();
  void read_terminal();
  void pace_to_host_clock();

  Uart16550& m_uart;
  std::deque<uint8_t> m_pending;
  uint64_t m_poll_ns;
  bool m_terminal = false;
  bool m_terminal_eof = false;
  bool m_raw_mode_set = false;
  std::chrono::steady_clock::time_point m_host_start;
  uint64_t m_delivered = 0;
};

}  // namespace vmxsim::platform
