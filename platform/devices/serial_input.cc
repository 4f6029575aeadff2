#include "platform/devices/serial_input.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "platform/devices/uart16550.h"

namespace vmxsim::platform {

using namespace sc_core;

namespace {

// The terminal's settings before raw mode, restored at exit even if the run ends abnormally.
termios g_saved_termios;
bool g_termios_saved = false;
void restore_terminal() {
  if (g_termios_saved) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
}

}  // namespace

SerialInput::SerialInput(sc_module_name name, Uart16550& uart, const std::string& source, uint64_t poll_ns)
    : sc_module(name), m_uart(uart), m_poll_ns(poll_ns) {
  if (source == "stdio") {
    m_terminal = true;
    m_host_start = std::chrono::steady_clock::now();
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &g_saved_termios) == 0) {
      if (!g_termios_saved) std::atexit(restore_terminal);
      g_termios_saved = true;
      termios raw = g_saved_termios;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // keys go to the guest, which echoes
      raw.c_iflag &= ~static_cast<tcflag_t>(ICRNL);          // Enter is CR on a serial line
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      m_raw_mode_set = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  } else {
    std::ifstream f(source, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open serial input file '" + source + "': " + std::strerror(errno));
    char buf[4096];
    while (f.read(buf, sizeof buf) || f.gcount() > 0) {
      m_pending.insert(m_pending.end(), buf, buf + f.gcount());
      if (m_pending.size() > kMaxFileBytes)
        throw std::runtime_error("serial input file '" + source + "' is larger than " +
                                 std::to_string(kMaxFileBytes >> 20) + " MiB");
    }
  }
  SC_HAS_PROCESS(SerialInput);
  SC_THREAD(feed_thread);
}

SerialInput::~SerialInput() {
  if (m_raw_mode_set) restore_terminal();
}

void SerialInput::read_terminal() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  while (!m_terminal_eof && m_pending.size() < Uart16550::kRxFifoSize && poll(&p, 1, 0) > 0) {
    uint8_t buf[64];
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      m_terminal_eof = n == 0 || (errno != EINTR && errno != EAGAIN);
      break;
    }
    m_pending.insert(m_pending.end(), buf, buf + n);
  }
}

// Interactive only: while nothing is waiting to be delivered, keep simulated time from running
// ahead of the host's clock (at most one poll interval of sleep per check, so a run limit or a
// guest exit still ends the run promptly).
void SerialInput::pace_to_host_clock() {
  const uint64_t sim_ns = static_cast<uint64_t>(sc_time_stamp().to_seconds() * 1e9);
  const auto host_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - m_host_start).count());
  if (sim_ns > host_ns) std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(sim_ns - host_ns, m_poll_ns)));
}

void SerialInput::feed_thread() {
  const sc_time poll = sc_time(static_cast<double>(m_poll_ns), SC_NS);
  for (;;) {
    wait(poll);
    if (m_terminal) read_terminal();
    while (!m_pending.empty() && m_uart.rts() && m_uart.rx_room() > 0) {
      m_uart.receive(m_pending.front());
      m_pending.pop_front();
      ++m_delivered;
    }
    if (m_terminal && m_pending.empty()) pace_to_host_clock();
    if (m_pending.empty() && (!m_terminal || m_terminal_eof)) return;  // nothing more will come
  }
}

}  // namespace vmxsim::platform
