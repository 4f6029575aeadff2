#include "platform/devices/io_apic.h"

namespace vmxsim::platform {

namespace {
constexpr uint64_t kMasked = 1u << 16, kLevel = 1u << 15, kRemoteIrr = 1u << 14;
constexpr uint64_t kLogical = 1u << 11;
// Writable: vector, delivery mode, destination mode, polarity, trigger, mask, destination.
constexpr uint64_t kWritable = 0xff000000'0001afffull;
}  // namespace

IoApic::IoApic(ApicBus& bus, uint8_t id) : m_bus(bus), m_id(id & 0xf) {
  for (uint64_t& e : m_redir) e = kMasked;
  m_bus.add_eoi_listener([this](uint8_t vector) { eoi(vector); });
}

void IoApic::deliver(unsigned pin) {
  const uint64_t e = m_redir[pin];
  ApicMessage m;
  m.vector = static_cast<uint8_t>(e);
  m.mode = static_cast<DeliveryMode>((e >> 8) & 7);
  m.logical = e & kLogical;
  m.level = true;
  m.level_trigger = e & kLevel;
  m.dest = static_cast<uint32_t>(e >> 56);
  m.x2apic_dest = false;
  const unsigned accepted = m_bus.send(m, nullptr);
  const bool counts_remote_irr =
      m.mode == DeliveryMode::kFixed || m.mode == DeliveryMode::kLowestPriority;
  if (m.level_trigger && counts_remote_irr && accepted) m_redir[pin] |= kRemoteIrr;
}

void IoApic::service(unsigned pin) {
  const uint64_t e = m_redir[pin];
  if ((e & kLevel) && !(e & kMasked) && !(e & kRemoteIrr) && (m_levels & (1u << pin)))
    deliver(pin);
}

void IoApic::set_irq(unsigned pin, bool level) {
  if (pin >= kPins) return;
  const uint32_t bit = 1u << pin;
  const bool rising = level && !(m_levels & bit);
  m_levels = level ? (m_levels | bit) : (m_levels & ~bit);
  const uint64_t e = m_redir[pin];
  if (e & kMasked) return;
  if (e & kLevel)
    service(pin);
  else if (rising)
    deliver(pin);
}

void IoApic::eoi(uint8_t vector) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    uint64_t& e = m_redir[pin];
    if ((e & kLevel) && (e & kRemoteIrr) && static_cast<uint8_t>(e) == vector) {
      e &= ~kRemoteIrr;
      service(pin);
    }
  }
}

uint32_t IoApic::read_register(uint8_t index) const {
  switch (index) {
    case 0x00: return uint32_t{m_id} << 24;
    case 0x01: return kVersion;
    case 0x02: return uint32_t{m_id} << 24;  // arbitration ID
  }
  if (index >= 0x10 && index < 0x10 + 2 * kPins) {
    const uint64_t e = m_redir[(index - 0x10) / 2];
    return static_cast<uint32_t>((index & 1) ? e >> 32 : e);
  }
  return 0;
}

void IoApic::write_register(uint8_t index, uint32_t value) {
  if (index == 0x00) {
    m_id = (value >> 24) & 0xf;
    return;
  }
  if (index < 0x10 || index >= 0x10 + 2 * kPins) return;
  const unsigned pin = (index - 0x10) / 2;
  uint64_t& e = m_redir[pin];
  const uint64_t merged = (index & 1) ? (e & 0xffffffffull) | (uint64_t{value} << 32)
                                      : (e & ~0xffffffffull) | value;
  e = (merged & kWritable) | (e & kRemoteIrr);
  if (!(e & kLevel)) e &= ~kRemoteIrr;  // Remote IRR is undefined for edge-triggered entries
  // Unmasking (or reprogramming) a level-triggered pin that is still asserted delivers it.
  service(pin);
}

uint64_t IoApic::io_read(uint64_t offset, unsigned size, uint64_t) {
  if (offset < 4) return m_regsel >> (8 * offset) & size_mask(size);
  if (offset >= 0x10 && offset < 0x14)
    return (read_register(m_regsel) >> (8 * (offset - 0x10))) & size_mask(size);
  return 0;
}

void IoApic::io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t) {
  if (offset == 0) {
    m_regsel = static_cast<uint8_t>(value);
    return;
  }
  if (offset >= 0x10 && offset < 0x14) {
    // Narrow writes merge into the selected register.
    const unsigned shift = static_cast<unsigned>(8 * (offset - 0x10));
    const uint64_t mask = size_mask(size) << shift;
    const uint64_t cur = read_register(m_regsel);
    write_register(m_regsel, static_cast<uint32_t>((cur & ~mask) | ((value << shift) & mask)));
  }
}

}  // namespace vmxsim::platform
