// The local APIC timer (SDM Vol. 3 §10.5.4): one-shot, periodic and TSC-deadline modes.
//
// The counter is not stepped: it is a function of time. A running timer counts down from
// m_timer_count, starting at input tick m_timer_anchor, one step every timer_divisor() ticks,
// so the current count, the expiry tick and the expiry cycle are all computed on demand.
// Expiries are processed lazily (timer_catch_up) by update() and before any register write that
// changes the timer, so an expiry always sees the LVT setting that was in force when it happened.
#include "platform/devices/local_apic.h"

namespace vmxsim::platform {

namespace {
constexpr unsigned kModeOneShot = 0, kModePeriodic = 1, kModeTscDeadline = 2;
uint64_t clamp64(unsigned __int128 v) {
  return v > ~uint64_t{0} ? ~uint64_t{0} : static_cast<uint64_t>(v);
}
}  // namespace

uint32_t LocalApic::timer_divisor() const {
  // Divide configuration bits 3, 1:0: 000 -> 2, 001 -> 4, ..., 110 -> 128, 111 -> 1.
  const unsigned code = ((m_tdcr >> 1) & 4) | (m_tdcr & 3);
  return code == 7 ? 1 : 2u << code;
}

uint64_t LocalApic::ticks_at(uint64_t cycles) const {
  return clamp64(static_cast<unsigned __int128>(cycles) * m_params.timer_hz / m_params.core_hz);
}

uint64_t LocalApic::cycles_at(uint64_t ticks) const {
  const unsigned __int128 num = static_cast<unsigned __int128>(ticks) * m_params.core_hz;
  return clamp64((num + m_params.timer_hz - 1) / m_params.timer_hz);
}

void LocalApic::timer_changed() {
  if (m_link) m_link->apic_timer_changed();
}

void LocalApic::timer_fire() {
  ++m_stat_timer;
  const uint32_t lvt = m_lvt[kLvtTimer];
  if (!(lvt & (1u << 16))) accept(static_cast<uint8_t>(lvt), DeliveryMode::kFixed, true, false);
}

void LocalApic::timer_catch_up(uint64_t ticks) {
  if (!m_timer_running) return;
  const uint64_t div = timer_divisor();
  const uint64_t end = m_timer_anchor + uint64_t{m_timer_count} * div;
  if (ticks < end) return;
  if (timer_mode() == kModePeriodic && m_timer_initial != 0) {
    // Reload from the initial count; periods missed since then raise one interrupt (IRR is a
    // single bit), and the phase stays locked to the first expiry.
    const uint64_t period = uint64_t{m_timer_initial} * div;
    m_timer_anchor = end + (ticks - end) / period * period;
    m_timer_count = m_timer_initial;
  } else {
    m_timer_running = false;
    m_timer_count = 0;
  }
  timer_fire();
}

uint32_t LocalApic::timer_count_at(uint64_t ticks) const {
  if (!m_timer_running) return 0;
  const uint64_t div = timer_divisor();
  const uint64_t end = m_timer_anchor + uint64_t{m_timer_count} * div;
  if (ticks < end) return static_cast<uint32_t>(m_timer_count - (ticks - m_timer_anchor) / div);
  if (timer_mode() != kModePeriodic || m_timer_initial == 0) return 0;
  const uint64_t period = uint64_t{m_timer_initial} * div;
  return static_cast<uint32_t>(m_timer_initial - ((ticks - end) % period) / div);
}

uint32_t LocalApic::timer_current_count() const {
  if (timer_mode() == kModeTscDeadline) return 0;
  return timer_count_at(now_ticks());
}

void LocalApic::timer_write_initial(uint32_t v) {
  if (timer_mode() == kModeTscDeadline) return;  // ignored in TSC-deadline mode
  const uint64_t t = now_ticks();
  timer_catch_up(t);
  m_timer_initial = v;
  m_timer_running = v != 0;
  m_timer_anchor = t;
  m_timer_count = v;
  timer_changed();
}

void LocalApic::timer_write_divide(uint32_t v) {
  const uint64_t t = now_ticks();
  timer_catch_up(t);
  if (m_timer_running) {
    // Continue from the current count at the new rate.
    m_timer_count = timer_count_at(t);
    m_timer_anchor = t;
  }
  m_tdcr = v & 0xb;
  timer_changed();
}

// Called after timer_catch_up() and after the new LVT value is in place.
void LocalApic::timer_lvt_changed(uint32_t old_lvt) {
  const unsigned old_mode = (old_lvt >> 17) & 3, new_mode = timer_mode();
  if (old_mode != new_mode && (old_mode == kModeTscDeadline || new_mode == kModeTscDeadline)) {
    // Switching into or out of TSC-deadline mode disarms the timer (SDM §10.5.4.1).
    m_timer_running = false;
    m_timer_count = 0;
    m_timer_initial = 0;
    m_tsc_deadline = 0;
  }
  // One-shot <-> periodic keeps counting from the current value (an expired one-shot timer
  // stays at zero).
  timer_changed();
}

bool LocalApic::tsc_deadline_write(uint64_t v) {
  if (timer_mode() != kModeTscDeadline) return true;  // ignored outside TSC-deadline mode
  m_tsc_deadline = v;
  if (v != 0 && m_link && m_link->now_tsc() >= v) {
    // A deadline already passed fires at once.
    m_tsc_deadline = 0;
    timer_fire();
  }
  timer_changed();
  return true;
}

uint64_t LocalApic::next_event_cycles() const {
  if (timer_mode() == kModeTscDeadline)
    return (m_tsc_deadline && m_link) ? m_link->cycles_at_tsc(m_tsc_deadline) : ~uint64_t{0};
  if (!m_timer_running) return ~uint64_t{0};
  return cycles_at(m_timer_anchor + uint64_t{m_timer_count} * timer_divisor());
}

void LocalApic::update() {
  timer_catch_up(now_ticks());
  if (timer_mode() == kModeTscDeadline && m_tsc_deadline && m_link &&
      m_link->now_tsc() >= m_tsc_deadline) {
    m_tsc_deadline = 0;
    timer_fire();
  }
}

}  // namespace vmxsim::platform
