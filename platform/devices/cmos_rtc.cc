#include "platform/devices/cmos_rtc.h"

#include <algorithm>
#include <limits>

namespace vmxsim::platform {

namespace {

constexpr uint8_t kSeconds = 0, kAlarmSeconds = 1, kMinutes = 2, kAlarmMinutes = 3, kHours = 4, kAlarmHours = 5,
                  kWeekday = 6, kDay = 7, kMonth = 8, kYear = 9;
constexpr uint8_t kDividerMask = 0x70, kDividerNormal = 0x20;
constexpr uint64_t kDaySeconds = 86400;

// Days since 1970-01-01 of a civil date, and back (the era-based method for the proleptic
// Gregorian calendar: 400-year eras of 146097 days, years starting on March 1).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

CivilTime civil_from_epoch(uint64_t epoch_s) {
  const int64_t z = static_cast<int64_t>(epoch_s / kDaySeconds) + 719468;
  const uint64_t secs = epoch_s % kDaySeconds;
  const int64_t era = z / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  CivilTime t{};
  t.day = doy - (153 * mp + 2) / 5 + 1;
  t.month = mp < 10 ? mp + 3 : mp - 9;
  t.year = static_cast<unsigned>(yoe + era * 400 + (t.month <= 2));
  t.hour = static_cast<unsigned>(secs / 3600);
  t.minute = static_cast<unsigned>(secs / 60 % 60);
  t.second = static_cast<unsigned>(secs % 60);
  t.weekday = static_cast<unsigned>((epoch_s / kDaySeconds + 4) % 7);  // 1970-01-01 was a Thursday
  return t;
}

uint64_t epoch_from_civil(unsigned year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                          unsigned second) {
  const int64_t days = days_from_civil(year, month, day);
  const int64_t s = days * static_cast<int64_t>(kDaySeconds) + hour * 3600 + minute * 60 + second;
  return s < 0 ? 0 : static_cast<uint64_t>(s);
}

CmosRtc::CmosRtc(uint64_t start_epoch_s, uint64_t ram_size, unsigned cpus) : m_base_epoch_s(start_epoch_s) {
  m_ram[kRegA] = kDividerNormal | 0x06;  // 32.768 kHz time base, 1024 Hz periodic rate (BIOS default)
  m_ram[kRegB] = k24h;                   // BCD, 24-hour, no interrupts
  m_ram[kRegD] = kVrt;
  // Memory sizes in the NVRAM layout SeaBIOS reads and leaves (KiB below 640 KiB and from 1 MiB
  // to 64 MiB, 64 KiB units from 16 MiB to the PCI hole and above 4 GiB).
  const uint64_t low = std::min<uint64_t>(ram_size, 0xe0000000ull);
  const uint64_t ext_kb = low > (1u << 20) ? std::min<uint64_t>((low - (1u << 20)) / 1024, 0xfc00) : 0;
  const uint64_t above16 = low > (16u << 20) ? std::min<uint64_t>((low - (16u << 20)) >> 16, 0xffff) : 0;
  const uint64_t above4g = ram_size > low ? (ram_size - low) >> 16 : 0;
  m_ram[0x15] = 640 & 0xff;
  m_ram[0x16] = 640 >> 8;
  m_ram[0x17] = m_ram[0x30] = static_cast<uint8_t>(ext_kb);
  m_ram[0x18] = m_ram[0x31] = static_cast<uint8_t>(ext_kb >> 8);
  m_ram[0x34] = static_cast<uint8_t>(above16);
  m_ram[0x35] = static_cast<uint8_t>(above16 >> 8);
  m_ram[0x5b] = static_cast<uint8_t>(above4g);
  m_ram[0x5c] = static_cast<uint8_t>(above4g >> 8);
  m_ram[0x5d] = static_cast<uint8_t>(above4g >> 16);
  m_ram[0x5f] = static_cast<uint8_t>(cpus - 1);
  load_time_registers(start_epoch_s);
}

bool CmosRtc::running() const {
  return !(m_ram[kRegB] & kSet) && (m_ram[kRegA] & kDividerMask) == kDividerNormal;
}

uint64_t CmosRtc::epoch_at(uint64_t now_ps) const {
  if (!running()) return epoch_from_registers();
  return m_base_epoch_s + (now_ps > m_base_ps ? (now_ps - m_base_ps) / kPsPerSecond : 0);
}

uint64_t CmosRtc::periodic_ps_num() const {
  const unsigned rs = m_ram[kRegA] & 0x0f;
  if (rs == 0) return 0;
  const unsigned shift = rs <= 2 ? rs + 6 : rs - 1;  // RS 1, 2 alias 256 and 128 Hz
  return kPsPerSecond << shift;  // period = 2^shift / 32768 s
}

uint8_t CmosRtc::to_bcd_or_binary(unsigned v) const {
  return (m_ram[kRegB] & kDm) ? static_cast<uint8_t>(v) : static_cast<uint8_t>(((v / 10) << 4) | (v % 10));
}

unsigned CmosRtc::from_bcd_or_binary(uint8_t v) const {
  return (m_ram[kRegB] & kDm) ? v : (v >> 4) * 10 + (v & 0x0f);
}

uint8_t CmosRtc::encode_hour(unsigned hour) const {
  if (m_ram[kRegB] & k24h) return to_bcd_or_binary(hour);
  const unsigned h12 = hour % 12 == 0 ? 12 : hour % 12;
  return static_cast<uint8_t>(to_bcd_or_binary(h12) | (hour >= 12 ? 0x80 : 0));
}

unsigned CmosRtc::decode_hour(uint8_t v) const {
  if (m_ram[kRegB] & k24h) return from_bcd_or_binary(v);
  const unsigned h12 = from_bcd_or_binary(v & 0x7f) % 12;
  return h12 + ((v & 0x80) ? 12 : 0);
}

void CmosRtc::load_time_registers(uint64_t epoch_s) {
  const CivilTime t = civil_from_epoch(epoch_s);
  m_ram[kSeconds] = to_bcd_or_binary(t.second);
  m_ram[kMinutes] = to_bcd_or_binary(t.minute);
  m_ram[kHours] = encode_hour(t.hour);
  m_ram[kWeekday] = to_bcd_or_binary(t.weekday + 1);
  m_ram[kDay] = to_bcd_or_binary(t.day);
  m_ram[kMonth] = to_bcd_or_binary(t.month);
  m_ram[kYear] = to_bcd_or_binary(t.year % 100);
  m_ram[kCentury] = static_cast<uint8_t>(((t.year / 1000 % 10) << 4) | (t.year / 100 % 10));  // always BCD
}

uint64_t CmosRtc::epoch_from_registers() const {
  const unsigned century = (m_ram[kCentury] >> 4) * 10 + (m_ram[kCentury] & 0x0f);
  const unsigned year = century * 100 + from_bcd_or_binary(m_ram[kYear]) % 100;
  const unsigned month = std::clamp(from_bcd_or_binary(m_ram[kMonth]), 1u, 12u);
  const unsigned day = std::clamp(from_bcd_or_binary(m_ram[kDay]), 1u, 31u);
  return epoch_from_civil(year, month, day, std::min(decode_hour(m_ram[kHours]), 23u),
                          std::min(from_bcd_or_binary(m_ram[kMinutes]), 59u),
                          std::min(from_bcd_or_binary(m_ram[kSeconds]), 59u));
}

bool CmosRtc::alarm_matches(uint64_t epoch_s) const {
  const CivilTime t = civil_from_epoch(epoch_s);
  auto match = [](uint8_t alarm, uint8_t now) { return (alarm & 0xc0) == 0xc0 || alarm == now; };
  return match(m_ram[kAlarmSeconds], to_bcd_or_binary(t.second)) &&
         match(m_ram[kAlarmMinutes], to_bcd_or_binary(t.minute)) && match(m_ram[kAlarmHours], encode_hour(t.hour));
}

void CmosRtc::advance(uint64_t now_ps) {
  if (now_ps <= m_flags_ps) return;
  if (running()) {
    // Periodic flag: a period boundary (counted from the clock's base) lies in (m_flags_ps, now_ps].
    if (const uint64_t num = periodic_ps_num()) {
      auto periods = [&](uint64_t t) {
        return t > m_base_ps ? static_cast<uint64_t>(static_cast<unsigned __int128>(t - m_base_ps) * 32768 / num) : 0;
      };
      if (periods(now_ps) != periods(m_flags_ps)) m_flags |= kPf;
    }
    // Update-ended flag and the alarm, checked at the newest second boundary crossed.
    const uint64_t then_s = epoch_at(m_flags_ps), now_s = epoch_at(now_ps);
    if (now_s != then_s) {
      m_flags |= kUf;
      if (alarm_matches(now_s)) m_flags |= kAf;
    }
  }
  m_flags_ps = now_ps;
  update_irq();
}

uint64_t CmosRtc::next_event_ps(uint64_t now_ps) const {
  if (!running()) return std::numeric_limits<uint64_t>::max();
  const uint8_t b = m_ram[kRegB];
  uint64_t next = std::numeric_limits<uint64_t>::max();
  const uint64_t since = now_ps > m_base_ps ? now_ps - m_base_ps : 0;
  if (b & kPie) {
    if (const uint64_t num = periodic_ps_num()) {
      const auto k = static_cast<unsigned __int128>(since) * 32768 / num + 1;
      const auto at = (k * num + 32767) / 32768;  // first picosecond of period k
      next = std::min(next, m_base_ps + static_cast<uint64_t>(at));
    }
  }
  if (b & (kUie | kAie)) next = std::min(next, m_base_ps + (since / kPsPerSecond + 1) * kPsPerSecond);
  return next;
}

void CmosRtc::update_irq() {
  const uint8_t enabled = m_flags & m_ram[kRegB] & (kPf | kAf | kUf);
  const bool level = enabled != 0;
  if (level != m_irq_level) {
    m_irq_level = level;
    if (m_irq) m_irq(level);
  }
}

uint8_t CmosRtc::read_register(uint8_t index, uint64_t now_ps) {
  advance(now_ps);
  switch (index) {
    case kSeconds: case kMinutes: case kHours: case kWeekday: case kDay: case kMonth: case kYear: case kCentury:
      if (running()) load_time_registers(epoch_at(now_ps));
      return m_ram[index];
    case kRegA: {
      const bool uip = running() && (now_ps - std::min(now_ps, m_base_ps)) % kPsPerSecond >= kPsPerSecond - kUipWindowPs;
      return static_cast<uint8_t>((m_ram[kRegA] & 0x7f) | (uip ? kUip : 0));
    }
    case kRegC: {
      const uint8_t flags = m_flags;
      const bool irqf = (flags & m_ram[kRegB] & (kPf | kAf | kUf)) != 0;
      m_flags = 0;
      update_irq();
      return static_cast<uint8_t>(flags | (irqf ? kIrqf : 0));
    }
    case kRegD: return kVrt;
    default: return m_ram[index];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value, uint64_t now_ps) {
  advance(now_ps);
  switch (index) {
    case kRegA: {
      const bool was_running = running();
      m_ram[kRegA] = value & 0x7f;
      if (was_running && !running()) load_time_registers(epoch_at(now_ps));
      if (!was_running && running()) {  // the divider chain restarts: the next update is 1 s away
        m_base_epoch_s = epoch_from_registers();
        m_base_ps = now_ps;
      }
      break;
    }
    case kRegB: {
      const bool was_running = running();
      if (was_running && (value & kSet)) load_time_registers(epoch_at(now_ps));  // freeze what it showed
      const uint8_t old_b = m_ram[kRegB];
      m_ram[kRegB] = value;
      if ((old_b ^ value) & (kDm | k24h)) load_time_registers(was_running ? epoch_at(now_ps) : epoch_from_registers());
      if (!was_running && running()) {
        m_base_epoch_s = epoch_from_registers();
        m_base_ps = now_ps;
      }
      if (!running()) m_flags &= static_cast<uint8_t>(~kUf);
      update_irq();
      break;
    }
    case kRegC: case kRegD: break;  // read-only
    case kSeconds: case kMinutes: case kHours: case kWeekday: case kDay: case kMonth: case kYear: case kCentury:
      if (running()) {
        // Writing the time while the clock runs: take the new value from the next second on.
        load_time_registers(epoch_at(now_ps));
        m_ram[index] = value;
        m_base_epoch_s = epoch_from_registers();
        m_base_ps = now_ps;
      } else {
        m_ram[index] = value;
      }
      break;
    default: m_ram[index] = value; break;
  }
}

uint64_t CmosRtc::io_read(uint64_t offset, unsigned size, uint64_t now_ps) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t port = offset + i;
    const uint8_t b = port == 1 ? read_register(m_index & 0x7f, now_ps) : 0xff;  // the index port is write-only
    v |= uint64_t{b} << (8 * i);
  }
  return v;
}

void CmosRtc::io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) {
  for (unsigned i = 0; i < size; ++i) {
    const auto b = static_cast<uint8_t>(value >> (8 * i));
    if (offset + i == 0) m_index = b;
    else if (offset + i == 1) write_register(m_index & 0x7f, b, now_ps);
  }
}

}  // namespace vmxsim::platform
