#include "platform/devices/acpi_pm.h"

namespace vmxsim::platform {

uint16_t AcpiPmTimer::status(uint64_t now_ps) const {
  uint16_t s = m_sts;
  if ((ticks_at(now_ps) >> 23) != m_tmr_epoch) s |= kTmrSts;
  return s;
}

uint8_t AcpiPmTimer::read_byte(uint64_t offset, uint64_t now_ps, uint32_t timer) {
  switch (offset) {
    case 0: return static_cast<uint8_t>(status(now_ps));
    case 1: return static_cast<uint8_t>(status(now_ps) >> 8);
    case 2: return static_cast<uint8_t>(m_en);
    case 3: return static_cast<uint8_t>(m_en >> 8);
    case 4: return static_cast<uint8_t>(m_cnt);
    case 5: return static_cast<uint8_t>(m_cnt >> 8);
    case 8: case 9: case 10: case 11: return static_cast<uint8_t>(timer >> (8 * (offset - 8)));
  }
  return 0xff;
}

uint64_t AcpiPmTimer::io_read(uint64_t offset, unsigned size, uint64_t now_ps) {
  // The timer is sampled once per access, so a 32-bit read is coherent.
  const uint32_t timer = counter_at(now_ps);
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint64_t{read_byte(offset + i, now_ps, timer)} << (8 * i);
  return v;
}

void AcpiPmTimer::io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) {
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t off = offset + i;
    const auto b = static_cast<uint8_t>(value >> (8 * i));
    switch (off) {
      case 0:
        if (b & kTmrSts) m_tmr_epoch = ticks_at(now_ps) >> 23;
        m_sts &= static_cast<uint16_t>(~(b & 0xfe));
        break;
      case 1: m_sts &= static_cast<uint16_t>(~(uint16_t{b} << 8)); break;
      case 2: m_en = static_cast<uint16_t>((m_en & 0xff00) | b); break;
      case 3: m_en = static_cast<uint16_t>((m_en & 0x00ff) | (uint16_t{b} << 8)); break;
      case 4: m_cnt = static_cast<uint16_t>((m_cnt & 0xff00) | b | kSciEn); break;
      case 5: {
        const uint16_t hi = static_cast<uint16_t>(uint16_t{b} << 8);
        m_cnt = static_cast<uint16_t>((m_cnt & 0x00ff) | (hi & ~kSlpEn));  // SLP_EN is write-only
        if ((hi & kSlpEn) && m_on_sleep) m_on_sleep((hi >> 10) & 7);
        break;
      }
      default: break;  // the timer is read-only
    }
  }
}

}  // namespace vmxsim::platform
