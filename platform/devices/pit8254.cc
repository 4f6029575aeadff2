#include "platform/devices/pit8254.h"

#include <limits>

namespace vmxsim::platform {

namespace {
constexpr uint64_t kPsPerSecond = 1'000'000'000'000ull;

uint64_t ticks_to_ps(uint64_t ticks) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ticks) * kPsPerSecond /
                               Pit8254::kClockHz);
}
}  // namespace

uint64_t Pit8254::ticks_since_start(const Channel& c, uint64_t now_ps) const {
  if (now_ps <= c.start_ps) return 0;
  return static_cast<uint64_t>(static_cast<unsigned __int128>(now_ps - c.start_ps) * kClockHz /
                               kPsPerSecond);
}

uint16_t Pit8254::current_count(const Channel& c, uint64_t now_ps) const {
  if (!c.counting) return static_cast<uint16_t>(c.reload);
  const uint64_t t = ticks_since_start(c, now_ps);
  switch (c.mode) {
    case 2: return static_cast<uint16_t>(c.reload - (t % c.reload));
    case 3: {
      // Counts down by two through each half period.
      const uint64_t half = (c.reload + 1) / 2;
      return static_cast<uint16_t>(c.reload - 2 * (t % half));
    }
    default:  // modes 0 and 4 wrap after terminal count
      return static_cast<uint16_t>((c.reload - t) & 0xffff);
  }
}

void Pit8254::load(Channel& c, uint32_t value, uint64_t now_ps) {
  c.reload = value == 0 ? 0x10000 : value;
  c.counting = true;
  c.start_ps = now_ps;
}

void Pit8254::write_control(uint8_t v, uint64_t now_ps) {
  const unsigned sel = v >> 6;
  if (sel == 3) {
    // Read-back command: bit 5 clear latches counts, bit 4 clear latches status.
    for (unsigned i = 0; i < 3; ++i) {
      if (!(v & (2u << i))) continue;
      Channel& c = m_ch[i];
      if (!(v & 0x20) && !c.latched) {
        c.latched = true;
        c.latch = current_count(c, now_ps);
      }
      if (!(v & 0x10) && !c.status_latched) {
        c.status_latched = true;
        c.status = static_cast<uint8_t>((output(c, now_ps) ? 0x80 : 0) | (c.access << 4) |
                                        (c.mode << 1));
      }
    }
    return;
  }
  Channel& c = m_ch[sel];
  const unsigned access = (v >> 4) & 3;
  if (access == 0) {  // counter latch command
    if (!c.latched) {
      c.latched = true;
      c.latch = current_count(c, now_ps);
    }
    return;
  }
  c.access = static_cast<uint8_t>(access);
  c.mode = static_cast<uint8_t>((v >> 1) & 7);
  if (c.mode > 5) c.mode -= 4;  // 6 and 7 alias 2 and 3
  c.counting = false;           // a new control word stops the count until it is loaded
  c.write_msb_next = false;
  c.read_msb_next = false;
  c.latched = false;
}

bool Pit8254::output(const Channel& c, uint64_t now_ps) const {
  if (!c.counting) return c.mode != 0;
  const uint64_t t = ticks_since_start(c, now_ps);
  switch (c.mode) {
    case 0: return t >= c.reload;
    case 2: return (t % c.reload) != c.reload - 1;
    case 3: return (t % c.reload) < (c.reload + 1) / 2;
    case 4: return t != c.reload;
    default: return true;
  }
}

uint64_t Pit8254::io_read(uint64_t port, unsigned size, uint64_t now_ps) {
  if (port < 0x40 || port > 0x42) return size_mask(size);
  Channel& c = m_ch[port - 0x40];
  if (c.status_latched) {
    c.status_latched = false;
    return c.status;
  }
  const uint16_t v = c.latched ? c.latch : current_count(c, now_ps);
  uint8_t out;
  switch (c.access) {
    case 1: out = v & 0xff; c.latched = false; break;
    case 2: out = v >> 8; c.latched = false; break;
    default:
      out = c.read_msb_next ? (v >> 8) : (v & 0xff);
      if (c.read_msb_next) c.latched = false;
      c.read_msb_next = !c.read_msb_next;
      break;
  }
  return out;
}

void Pit8254::io_write(uint64_t port, unsigned size, uint64_t value, uint64_t now_ps) {
  (void)size;
  const uint8_t v = static_cast<uint8_t>(value);
  if (port == 0x43) {
    write_control(v, now_ps);
    return;
  }
  if (port < 0x40 || port > 0x42) return;
  Channel& c = m_ch[port - 0x40];
  switch (c.access) {
    case 1: load(c, v, now_ps); break;
    case 2: load(c, static_cast<uint32_t>(v) << 8, now_ps); break;
    default:
      if (!c.write_msb_next) {
        c.write_lsb = v;
        c.counting = c.counting && c.mode != 0;  // mode 0 stops on the first byte
      } else {
        load(c, c.write_lsb | (static_cast<uint32_t>(v) << 8), now_ps);
      }
      c.write_msb_next = !c.write_msb_next;
      break;
  }
}

uint64_t Pit8254::next_irq0_ps(uint64_t now_ps) const {
  const Channel& c = m_ch[0];
  if (!c.counting) return std::numeric_limits<uint64_t>::max();
  if (c.mode == 0 || c.mode == 4) {
    const uint64_t at = c.start_ps + ticks_to_ps(c.reload + (c.mode == 4 ? 1 : 0));
    return at >= now_ps ? at : std::numeric_limits<uint64_t>::max();
  }
  // Periodic modes: a rising edge at the start of every period after the first.
  const uint64_t t = ticks_since_start(c, now_ps);
  uint64_t k = t / c.reload + 1;
  uint64_t at = c.start_ps + ticks_to_ps(k * c.reload);
  if (at < now_ps) at = c.start_ps + ticks_to_ps((k + 1) * c.reload);
  return at;
}

void Pit8254::bios_defaults(uint64_t now_ps) {
  Channel& c = m_ch[0];
  c.access = 3;
  c.mode = 3;
  load(c, 0, now_ps);
}

}  // namespace vmxsim::platform
