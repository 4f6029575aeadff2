// The two cascaded 8259A PICs of a PC (Intel 8259A data sheet): master at 0x20-0x21, slave at
// 0xa0-0xa1 on the master's IR2, plus the edge/level control registers (ELCR) at 0x4d0-0x4d1.
// The device decodes absolute port numbers: map each window with target_offset = base
// (bus.map(i, 0x20, 2, "pic_master", 0x20), (…, 0xa0, 2, "pic_slave", 0xa0), (…, 0x4d0, 2,
// "elcr", 0x4d0)).
//
// Implemented: ICW1-ICW4 (vector base, cascade, AEOI, SFNM, single mode), OCW1 masks, OCW2
// (non-specific/specific EOI, rotation, set priority), OCW3 (read IRR/ISR, poll, special mask
// mode), edge triggering with the ELCR selecting level triggering per line, spurious IRQ7/IRQ15
// on an acknowledge with nothing pending. The cascade input IR2 follows the slave's INT output
// as a level. Not modelled: buffered mode, 8080 call format.
#pragma once

#include <cstdint>
#include <functional>

#include "platform/devices/ext_int.h"
#include "platform/devices/io_device.h"

namespace vmxsim::platform {

// One 8259A.
class Pic8259 {
 public:
  void set_input(unsigned irq, bool level);
  void set_cascade_input(bool level);  // master IR2 from the slave INT output
  // The IRQ (0-7) the chip would present on INTA, or -1 (INT deasserted).
  int highest_request() const;
  void acknowledge(unsigned irq);  // INTA: IRR -> ISR (or auto-EOI)
  uint8_t vector_base() const { return m_vector_base; }

  void write_command(uint8_t v);  // even port
  void write_data(uint8_t v);     // odd port
  uint8_t read_command();         // even port: IRR, ISR or poll result
  uint8_t read_data() const { return m_imr; }

  uint8_t irr() const { return m_irr; }
  uint8_t isr() const { return m_isr; }
  uint8_t imr() const { return m_imr; }
  uint8_t elcr() const { return m_elcr; }
  void set_elcr(uint8_t v) {
    m_elcr = v & m_elcr_mask;
    m_irr = static_cast<uint8_t>((m_irr & ~m_elcr) | (m_levels & m_elcr));
  }
  void set_elcr_mask(uint8_t m) { m_elcr_mask = m; }
  bool initializing() const { return m_init_step != 0; }

 private:
  int priority_of(uint8_t mask) const;  // 0 = highest priority, 8 = none
  int irq_at_priority(int p) const { return (p + m_lowest + 1) & 7; }
  void eoi(unsigned irq, bool rotate);

  uint8_t m_irr = 0, m_isr = 0, m_imr = 0xff, m_elcr = 0, m_elcr_mask = 0xff;
  uint8_t m_levels = 0;  // current input levels
  uint8_t m_vector_base = 0;
  uint8_t m_lowest = 7;  // IRQ with the lowest priority
  uint8_t m_icw3 = 0;
  unsigned m_init_step = 0;  // 0 ready, 2/3/4 expecting ICW2/3/4
  bool m_single = false, m_ic4 = false, m_auto_eoi = false, m_rotate_on_aeoi = false;
  bool m_sfnm = false, m_special_mask = false, m_read_isr = false, m_poll = false;
  bool m_is_master_with_cascade = false;

  friend class Pic8259Pair;
};

class Pic8259Pair : public IoDevice, public ExtIntController {
 public:
  Pic8259Pair();

  // INTR output to the CPU (LINT0 of the BSP's local APIC); called on every change.
  void set_intr_callback(std::function<void(bool)> cb) { m_intr_cb = std::move(cb); }
  bool intr() const { return m_intr; }

  // ISA IRQ 0-15 input level. Edge-triggered lines latch on the rising edge.
  void set_irq(unsigned irq, bool level);

  // INTA cycle: the vector, with ISR updated (IRQ7/IRQ15 spurious vector when nothing pends).
  int acknowledge();
  // The vector acknowledge() would return now, or -1 when INTR is deasserted. No side effects.
  int peek_vector() const;

  int extint_peek() override { return peek_vector(); }
  int extint_acknowledge() override { return acknowledge(); }

  const Pic8259& master() const { return m_chip[0]; }
  const Pic8259& slave() const { return m_chip[1]; }

  // Absolute port numbers 0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1.
  uint64_t io_read(uint64_t port, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t port, unsigned size, uint64_t value, uint64_t now_ps) override;

 private:
  uint8_t read_port(uint64_t port);
  void write_port(uint64_t port, uint8_t v);
  void update();

  Pic8259 m_chip[2];
  std::function<void(bool)> m_intr_cb;
  bool m_intr = false;
};

}  // namespace vmxsim::platform
