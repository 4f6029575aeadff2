// 16550A UART as found at COM1 (0x3f8, ISA IRQ 4). Register map after the National Semiconductor
// PC16550D data sheet: RBR/THR and IER (DLL/DLM while LCR.DLAB = 1), IIR/FCR, LCR, MCR, LSR, MSR,
// SCR.
//
// Transmission is instantaneous: THR is always empty (LSR bits 5 and 6 always set), every byte
// goes straight to the output stream and into output(). Nothing arrives from outside except
// through receive(); in loopback mode (MCR bit 4) transmitted bytes come back on RBR and MSR
// mirrors MCR, which is how drivers probe for the chip. With IER bit 1 set the THR-empty
// interrupt is raised again after every transmitted byte (the line drops and rises, an edge for
// the PIC/IOAPIC). Like QEMU, the interrupt output is not gated by MCR.OUT2.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <iosfwd>
#include <string>

#include "platform/devices/io_device.h"

namespace vmxsim {
class Config;
class StatRegistry;
}  // namespace vmxsim

namespace vmxsim::platform {

class Uart16550 : public IoDevice {
 public:
  static constexpr unsigned kRxFifoSize = 16;

  // `path` is the config/stat prefix ("system.uart0"). `out` may be null (output kept in memory
  // only). Declares <path>.output_limit; registers <path>.tx_bytes, <path>.rx_bytes.
  Uart16550(Config& cfg, StatRegistry& stats, const std::string& path, std::ostream* out);

  // Interrupt request output (level); called on every change.
  void set_irq_callback(std::function<void(bool)> irq) { m_irq_cb = std::move(irq); }
  bool irq_level() const { return m_irq_level; }

  // Everything transmitted so far (up to output_limit bytes).
  const std::string& output() const { return m_output; }
  void clear_output() { m_output.clear(); }

  // A byte arriving on the serial line (dropped with an overrun error when the FIFO is full).
  void receive(uint8_t byte);
  // Bytes the receive FIFO can take before it overruns.
  unsigned rx_room() const { return kRxFifoSize - static_cast<unsigned>(m_rx.size()); }
  // Request To Send (MCR bit 1): the guest is ready to receive (hardware flow control).
  bool rts() const { return m_mcr & 0x02; }

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) override;

 private:
  uint8_t read_reg(unsigned reg);
  void write_reg(unsigned reg, uint8_t v);
  void transmit(uint8_t byte);
  uint8_t interrupt_id() const;  // IIR bits 3:0
  void update_irq();
  bool dlab() const { return m_lcr & 0x80; }
  bool loopback() const { return m_mcr & 0x10; }

  std::ostream* m_out;
  std::string m_output;
  uint64_t m_output_limit;
  std::function<void(bool)> m_irq_cb;
  bool m_irq_level = false;

  std::deque<uint8_t> m_rx;
  uint8_t m_ier = 0, m_lcr = 0, m_mcr = 0, m_fcr = 0, m_scr = 0, m_dll = 0x0c, m_dlm = 0;
  bool m_overrun = false;
  bool m_thre_pending = false;  // THR-empty interrupt condition (cleared by reading IIR)

  uint64_t m_tx_bytes = 0, m_rx_bytes = 0;
};

}  // namespace vmxsim::platform
