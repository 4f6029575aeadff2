#include "platform/devices/uart16550.h"

#include <ostream>

#include "sim/config.h"
#include "sim/stats.h"

namespace vmxsim::platform {

namespace {
enum Reg : unsigned { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kIerRda = 0x01, kIerThre = 0x02, kIerRls = 0x04;
constexpr uint8_t kIirNone = 0x01, kIirRls = 0x06, kIirRda = 0x04, kIirThre = 0x02;
}  // namespace

Uart16550::Uart16550(Config& cfg, StatRegistry& stats, const std::string& path, std::ostream* out)
    : m_out(out) {
  m_output_limit = cfg.declare_uint(path + ".output_limit", 64ull << 20, "bytes",
                                    "transmitted bytes kept in memory for tests and Python", 0);
  stats.add_counter(path + ".tx_bytes", "bytes", "bytes transmitted by the guest", &m_tx_bytes);
  stats.add_counter(path + ".rx_bytes", "bytes", "bytes received (loopback or receive())",
                    &m_rx_bytes);
}

uint8_t Uart16550::interrupt_id() const {
  if ((m_ier & kIerRls) && m_overrun) return kIirRls;
  if ((m_ier & kIerRda) && !m_rx.empty()) return kIirRda;
  if ((m_ier & kIerThre) && m_thre_pending) return kIirThre;
  return kIirNone;
}

void Uart16550::update_irq() {
  const bool level = interrupt_id() != kIirNone;
  if (level == m_irq_level) return;
  m_irq_level = level;
  if (m_irq_cb) m_irq_cb(level);
}

void Uart16550::receive(uint8_t byte) {
  if (m_rx.size() >= kRxFifoSize) {
    m_overrun = true;
  } else {
    m_rx.push_back(byte);
    ++m_rx_bytes;
  }
  update_irq();
}

void Uart16550::transmit(uint8_t byte) {
  ++m_tx_bytes;
  if (loopback()) {
    receive(byte);
    return;
  }
  if (m_output.size() < m_output_limit) m_output.push_back(static_cast<char>(byte));
  if (m_out) {
    m_out->put(static_cast<char>(byte));
    if (byte == '\n') m_out->flush();
  }
}

uint8_t Uart16550::read_reg(unsigned reg) {
  switch (reg) {
    case kRbrThr: {
      if (dlab()) return m_dll;
      if (m_rx.empty()) return 0;
      const uint8_t v = m_rx.front();
      m_rx.pop_front();
      update_irq();
      return v;
    }
    case kIer:
      return dlab() ? m_dlm : m_ier;
    case kIirFcr: {
      const uint8_t id = interrupt_id();
      // Reading IIR while THR-empty is the reported source acknowledges it (PC16550D §8.6.3).
      if (id == kIirThre) {
        m_thre_pending = false;
        update_irq();
      }
      return static_cast<uint8_t>(id | ((m_fcr & 0x01) ? 0xc0 : 0));
    }
    case kLcr:
      return m_lcr;
    case kMcr:
      return m_mcr;
    case kLsr: {
      uint8_t v = kLsrThre | kLsrTemt;
      if (!m_rx.empty()) v |= kLsrDr;
      if (m_overrun) v |= kLsrOe;
      m_overrun = false;  // error bits clear on read
      update_irq();
      return v;
    }
    case kMsr:
      if (loopback()) {
        // CTS <- RTS, DSR <- DTR, RI <- OUT1, DCD <- OUT2.
        return static_cast<uint8_t>(((m_mcr & 0x02) << 3) | ((m_mcr & 0x01) << 5) |
                                    ((m_mcr & 0x04) << 4) | ((m_mcr & 0x08) << 4));
      }
      return 0xb0;  // CTS, DSR, DCD: a connected terminal
    case kScr:
      return m_scr;
  }
  return 0xff;
}

void Uart16550::write_reg(unsigned reg, uint8_t v) {
  switch (reg) {
    case kRbrThr:
      if (dlab()) {
        m_dll = v;
        return;
      }
      m_thre_pending = false;
      update_irq();
      transmit(v);
      m_thre_pending = true;  // the byte left at once: THR is empty again
      update_irq();
      return;
    case kIer:
      if (dlab()) {
        m_dlm = v;
        return;
      }
      // Enabling the THR-empty interrupt while THR is empty raises it immediately.
      if ((v & kIerThre) && !(m_ier & kIerThre)) m_thre_pending = true;
      m_ier = v & 0x0f;
      update_irq();
      return;
    case kIirFcr:
      m_fcr = v & 0xc9;
      if (v & 0x02) m_rx.clear();
      update_irq();
      return;
    case kLcr:
      m_lcr = v;
      return;
    case kMcr:
      m_mcr = v & 0x1f;
      return;
    case kScr:
      m_scr = v;
      return;
    default:
      return;  // LSR and MSR are read-only here
  }
}

uint64_t Uart16550::io_read(uint64_t offset, unsigned size, uint64_t) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i)
    v |= uint64_t{offset + i < 8 ? read_reg(static_cast<unsigned>(offset + i)) : uint8_t{0xff}}
         << (8 * i);
  return v;
}

void Uart16550::io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t) {
  for (unsigned i = 0; i < size; ++i)
    if (offset + i < 8) write_reg(static_cast<unsigned>(offset + i), static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace vmxsim::platform
