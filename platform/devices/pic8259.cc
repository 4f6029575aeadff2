#include "platform/devices/pic8259.h"

namespace vmxsim::platform {

int Pic8259::priority_of(uint8_t mask) const {
  if (!mask) return 8;
  for (int p = 0; p < 8; ++p)
    if (mask & (1u << irq_at_priority(p))) return p;
  return 8;
}

void Pic8259::set_input(unsigned irq, bool level) {
  const uint8_t bit = static_cast<uint8_t>(1u << irq);
  if (m_elcr & bit) {
    // Level triggered: the request follows the line.
    m_irr = level ? (m_irr | bit) : (m_irr & ~bit);
  } else if (level && !(m_levels & bit)) {
    m_irr |= bit;  // rising edge
  }
  m_levels = level ? (m_levels | bit) : (m_levels & ~bit);
}

void Pic8259::set_cascade_input(bool level) {
  m_levels = level ? (m_levels | 0x04) : (m_levels & ~0x04);
  m_irr = level ? (m_irr | 0x04) : (m_irr & ~0x04);
}

int Pic8259::highest_request() const {
  const uint8_t pending = m_irr & ~m_imr;
  if (!pending) return -1;
  uint8_t in_service = m_isr;
  // Special mask mode: a masked in-service level no longer blocks lower priorities.
  if (m_special_mask) in_service &= ~m_imr;
  // Special fully nested mode: the slave may interrupt while IR2 is in service.
  if (m_sfnm && m_is_master_with_cascade) in_service &= ~0x04;
  const int req = priority_of(pending);
  return req < priority_of(in_service) ? irq_at_priority(req) : -1;
}

void Pic8259::acknowledge(unsigned irq) {
  const uint8_t bit = static_cast<uint8_t>(1u << irq);
  // Edge-triggered requests are consumed; level-triggered ones stay while the line is high.
  if (!(m_elcr & bit) && !(m_is_master_with_cascade && irq == 2)) m_irr &= ~bit;
  if (m_auto_eoi) {
    if (m_rotate_on_aeoi) m_lowest = static_cast<uint8_t>(irq);
  } else {
    m_isr |= bit;
  }
}

void Pic8259::eoi(unsigned irq, bool rotate) {
  m_isr &= ~(1u << irq);
  if (rotate) m_lowest = static_cast<uint8_t>(irq);
}

void Pic8259::write_command(uint8_t v) {
  if (v & 0x10) {
    // ICW1: start initialisation. IMR, ISR and edge-triggered requests are cleared, IR7 gets
    // the lowest priority, special mask mode and ICW4 functions are reset, reads return IRR.
    m_single = v & 0x02;
    m_ic4 = v & 0x01;
    m_imr = 0;
    m_isr = 0;
    m_irr &= m_elcr;
    m_lowest = 7;
    m_special_mask = false;
    m_read_isr = false;
    m_poll = false;
    m_auto_eoi = false;
    m_rotate_on_aeoi = false;
    m_sfnm = false;
    m_init_step = 2;
    return;
  }
  if (v & 0x08) {
    // OCW3.
    if (v & 0x04) m_poll = true;
    if (v & 0x02) m_read_isr = v & 0x01;
    if (v & 0x40) m_special_mask = v & 0x20;
    return;
  }
  // OCW2.
  const unsigned level = v & 7;
  switch (v >> 5) {
    case 1:  // non-specific EOI
    case 5: {  // rotate on non-specific EOI
      const int p = priority_of(m_isr);
      if (p < 8) eoi(static_cast<unsigned>(irq_at_priority(p)), (v >> 5) == 5);
      break;
    }
    case 3:  // specific EOI
      eoi(level, false);
      break;
    case 7:  // rotate on specific EOI
      eoi(level, true);
      break;
    case 4:
      m_rotate_on_aeoi = true;
      break;
    case 0:
      m_rotate_on_aeoi = false;
      break;
    case 6:  // set priority
      m_lowest = static_cast<uint8_t>(level);
      break;
    default:  // 2: no operation
      break;
  }
}

void Pic8259::write_data(uint8_t v) {
  switch (m_init_step) {
    case 2:  // ICW2
      m_vector_base = v & 0xf8;
      m_init_step = m_single ? (m_ic4 ? 4 : 0) : 3;
      return;
    case 3:  // ICW3
      m_icw3 = v;
      m_init_step = m_ic4 ? 4 : 0;
      return;
    case 4:  // ICW4
      m_auto_eoi = v & 0x02;
      m_sfnm = v & 0x10;
      m_init_step = 0;
      return;
    default:  // OCW1
      m_imr = v;
  }
}

uint8_t Pic8259::read_command() {
  if (m_poll) {
    // Poll command: the read acts as the interrupt acknowledge.
    m_poll = false;
    const int irq = highest_request();
    if (irq < 0) return 0;
    acknowledge(static_cast<unsigned>(irq));
    return static_cast<uint8_t>(0x80 | irq);
  }
  return m_read_isr ? m_isr : m_irr;
}

Pic8259Pair::Pic8259Pair() {
  m_chip[0].m_is_master_with_cascade = true;
  // IRQ0-2 (timer, keyboard, cascade) and IRQ8/IRQ13 (RTC, FPU) are edge-only on PC chipsets.
  m_chip[0].set_elcr_mask(0xf8);
  m_chip[1].set_elcr_mask(0xde);
}

void Pic8259Pair::set_irq(unsigned irq, bool level) {
  if (irq >= 16) return;
  m_chip[irq >> 3].set_input(irq & 7, level);
  update();
}

void Pic8259Pair::update() {
  m_chip[0].set_cascade_input(m_chip[1].highest_request() >= 0);
  const bool out = m_chip[0].highest_request() >= 0;
  if (out != m_intr) {
    m_intr = out;
    if (m_intr_cb) m_intr_cb(out);
  }
}

int Pic8259Pair::peek_vector() const {
  const int irq = m_chip[0].highest_request();
  if (irq < 0) return -1;
  if (irq != 2) return m_chip[0].vector_base() + irq;
  const int irq2 = m_chip[1].highest_request();
  return m_chip[1].vector_base() + (irq2 < 0 ? 7 : irq2);
}

int Pic8259Pair::acknowledge() {
  Pic8259& master = m_chip[0];
  Pic8259& slave = m_chip[1];
  const int irq = master.highest_request();
  int vector;
  if (irq < 0) {
    vector = master.vector_base() + 7;  // spurious IRQ7: ISR untouched
  } else if (irq == 2) {
    master.acknowledge(2);
    const int irq2 = slave.highest_request();
    if (irq2 < 0) {
      vector = slave.vector_base() + 7;  // spurious IRQ15
    } else {
      slave.acknowledge(static_cast<unsigned>(irq2));
      vector = slave.vector_base() + irq2;
    }
  } else {
    master.acknowledge(static_cast<unsigned>(irq));
    vector = master.vector_base() + irq;
  }
  update();
  return vector;
}

uint8_t Pic8259Pair::read_port(uint64_t port) {
  switch (port) {
    case 0x20: {
      const uint8_t v = m_chip[0].read_command();
      update();
      return v;
    }
    case 0x21:
      return m_chip[0].read_data();
    case 0xa0: {
      const uint8_t v = m_chip[1].read_command();
      update();
      return v;
    }
    case 0xa1:
      return m_chip[1].read_data();
    case 0x4d0:
      return m_chip[0].elcr();
    case 0x4d1:
      return m_chip[1].elcr();
  }
  return 0xff;
}

void Pic8259Pair::write_port(uint64_t port, uint8_t v) {
  switch (port) {
    case 0x20: m_chip[0].write_command(v); break;
    case 0x21: m_chip[0].write_data(v); break;
    case 0xa0: m_chip[1].write_command(v); break;
    case 0xa1: m_chip[1].write_data(v); break;
    case 0x4d0: m_chip[0].set_elcr(v); break;
    case 0x4d1: m_chip[1].set_elcr(v); break;
    default: return;
  }
  update();
}

uint64_t Pic8259Pair::io_read(uint64_t port, unsigned size, uint64_t) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint64_t{read_port(port + i)} << (8 * i);
  return v;
}

void Pic8259Pair::io_write(uint64_t port, unsigned size, uint64_t value, uint64_t) {
  for (unsigned i = 0; i < size; ++i) write_port(port + i, static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace vmxsim::platform
