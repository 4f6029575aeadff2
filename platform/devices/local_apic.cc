#include "platform/devices/local_apic.h"

#include "sim/config.h"
#include "sim/stats.h"

namespace vmxsim::platform {

namespace {
// Register indexes (MMIO offset >> 4, x2APIC MSR - 0x800), SDM Vol. 3 Table 10-1 and 10-6.
enum Reg : unsigned {
  kRegId = 0x02, kRegVersion = 0x03, kRegTpr = 0x08, kRegApr = 0x09, kRegPpr = 0x0a,
  kRegEoi = 0x0b, kRegRrd = 0x0c, kRegLdr = 0x0d, kRegDfr = 0x0e, kRegSvr = 0x0f,
  kRegIsr = 0x10, kRegTmr = 0x18, kRegIrr = 0x20, kRegEsr = 0x28, kRegCmci = 0x2f,
  kRegIcrLo = 0x30, kRegIcrHi = 0x31, kRegLvtTimer = 0x32, kRegLvtError = 0x37,
  kRegTimerInitial = 0x38, kRegTimerCurrent = 0x39, kRegTimerDivide = 0x3e, kRegSelfIpi = 0x3f,
};
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kLvtRemoteIrr = 1u << 14;
constexpr uint32_t kLvtLevel = 1u << 15;
// Writable bits per LVT (timer, thermal, perf, LINT0, LINT1, error).
constexpr uint32_t kLvtWritable[LocalApic::kNumLvt] = {0x000700ff, 0x000107ff, 0x000107ff,
                                                       0x0001a7ff, 0x0001a7ff, 0x000100ff};
constexpr uint32_t kIcrLoWritable = 0x000ccfff;
// x2APIC ICR bits that must be zero (bit 12, delivery status, is ignored), as KVM checks.
constexpr uint64_t kX2IcrReserved = 0xfff00000u | (3u << 16) | (1u << 13);
constexpr uint32_t kEsrSendIllegalVector = 1u << 5, kEsrReceiveIllegalVector = 1u << 6,
                   kEsrIllegalRegister = 1u << 7;
}  // namespace

LocalApic::LocalApic(const LocalApicParams& params, ApicBus* bus, ApicCoreLink* link)
    : m_params(params), m_bus(bus), m_link(link) {
  reset();
}

LocalApicParams LocalApic::params_from_config(Config& cfg, const std::string& path,
                                              uint32_t apic_id, bool bsp, uint64_t core_hz,
                                              unsigned phys_addr_bits, bool x2apic_supported) {
  LocalApicParams p;
  p.apic_id = apic_id;
  p.bsp = bsp;
  p.core_hz = core_hz;
  p.phys_addr_bits = phys_addr_bits;
  p.x2apic_supported = x2apic_supported;
  p.timer_hz = cfg.declare_uint(path + ".timer_hz", p.timer_hz, "Hz",
                                "APIC timer input clock before the divide configuration", 1,
                                1'000'000'000'000ull);
  return p;
}

void LocalApic::register_stats(StatRegistry& stats, const std::string& prefix) {
  stats.add_counter(prefix + ".interrupts_accepted", "interrupts",
                    "fixed/lowest-priority interrupts set in IRR", &m_stat_accepted);
  stats.add_counter(prefix + ".ipis_sent", "IPIs", "interprocessor interrupts sent (ICR, SELF IPI)",
                    &m_stat_ipis);
  stats.add_counter(prefix + ".eois", "EOIs", "end-of-interrupt writes", &m_stat_eois);
  stats.add_counter(prefix + ".timer_fires", "expiries", "APIC timer expiries", &m_stat_timer);
  stats.add_counter(prefix + ".nmis", "NMIs", "NMIs accepted", &m_stat_nmis);
  stats.add_counter(prefix + ".inits", "INITs", "INIT messages accepted", &m_stat_inits);
  stats.add_counter(prefix + ".sipis", "SIPIs", "start-up IPIs accepted", &m_stat_sipis);
}

void LocalApic::reset() {
  m_apic_base = kDefaultBase | kBaseEnable | (m_params.bsp ? kBaseBsp : 0);
  m_id = m_params.apic_id;
  init_reset();
  m_nmi_pending = false;
  if (m_params.bsp) m_lvt[kLvtLint0] = 0x700;  // ExtINT virtual wire, as a BIOS leaves it
}

void LocalApic::init_reset() {
  m_tpr = 0;
  m_ldr = x2apic_mode() ? x2apic_ldr() : 0;
  m_dfr = 0xffffffff;
  m_svr = 0xff;
  for (unsigned i = 0; i < 8; ++i) m_irr[i] = m_isr[i] = m_tmr[i] = 0;
  m_esr = m_esr_pending = 0;
  m_icr_lo = m_icr_hi = 0;
  for (uint32_t& l : m_lvt) l = kLvtMasked;
  m_extint_msg = false;
  m_ack_from_pic = false;
  m_timer_initial = 0;
  m_tdcr = 0;
  m_timer_running = false;
  m_timer_count = 0;
  m_tsc_deadline = 0;
  timer_changed();
}

uint64_t LocalApic::now_cycles() const { return m_link ? m_link->now_cycles() : 0; }

void LocalApic::notify_interrupt() {
  if (m_link) m_link->apic_interrupt();
}

uint64_t LocalApic::base_address() const {
  const uint64_t phys_mask = (m_params.phys_addr_bits >= 64)
                                 ? ~uint64_t{0}
                                 : (uint64_t{1} << m_params.phys_addr_bits) - 1;
  return m_apic_base & phys_mask & ~uint64_t{0xfff};
}

int LocalApic::highest(const uint32_t* a) {
  for (int i = 7; i >= 0; --i)
    if (a[i]) return i * 32 + 31 - __builtin_clz(a[i]);
  return -1;
}

// SDM §10.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4.
uint8_t LocalApic::ppr() const {
  const int isrv = highest(m_isr);
  const unsigned isr_class = isrv < 0 ? 0 : static_cast<unsigned>(isrv) >> 4;
  if ((m_tpr >> 4) >= isr_class) return m_tpr;
  return static_cast<uint8_t>(isr_class << 4);
}

// SDM §10.6.2.4 (arbitration priority for lowest-priority delivery).
uint8_t LocalApic::apr() const {
  const int isrv = highest(m_isr), irrv = highest(m_irr);
  const unsigned tpr_c = m_tpr >> 4;
  const unsigned isr_c = isrv < 0 ? 0 : static_cast<unsigned>(isrv) >> 4;
  const unsigned irr_c = irrv < 0 ? 0 : static_cast<unsigned>(irrv) >> 4;
  if (tpr_c >= irr_c && tpr_c > isr_c) return m_tpr;
  unsigned c = tpr_c;
  if (isr_c > c) c = isr_c;
  if (irr_c > c) c = irr_c;
  return static_cast<uint8_t>(c << 4);
}

bool LocalApic::extint_route() const {
  if (!m_pic) return false;
  if (!hw_enabled()) return true;  // no APIC: the 8259 drives INTR directly
  const uint32_t lint0 = m_lvt[kLvtLint0];
  return m_extint_msg || (!(lint0 & kLvtMasked) && ((lint0 >> 8) & 7) == 7);
}

int LocalApic::pending_interrupt() {
  m_ack_from_pic = false;
  if (hw_enabled() && sw_enabled()) {
    const int irrv = highest(m_irr);
    if (irrv >= 0 && (static_cast<unsigned>(irrv) & 0xf0) > (ppr() & 0xf0u)) return irrv;
  }
  if (extint_route()) {
    const int v = m_pic->extint_peek();
    if (v >= 0) {
      m_ack_from_pic = true;
      return v;
    }
  }
  return -1;
}

void LocalApic::acknowledge(int vector) {
  if (vector < 0 || vector > 255) return;
  if (m_ack_from_pic || !irr_bit(static_cast<unsigned>(vector))) {
    m_ack_from_pic = false;
    if (extint_route()) {
      m_pic->extint_acknowledge();
      m_extint_msg = false;
    }
    return;
  }
  clear_bit(m_irr, static_cast<unsigned>(vector));
  set_bit(m_isr, static_cast<unsigned>(vector));
}

void LocalApic::write_tpr(uint8_t v) {
  const bool lowered = v < m_tpr;
  m_tpr = v;
  if (lowered) notify_interrupt();
}

void LocalApic::accept(uint8_t vector, DeliveryMode mode, bool level, bool level_trigger) {
  if (!hw_enabled()) return;
  switch (mode) {
    case DeliveryMode::kFixed:
    case DeliveryMode::kLowestPriority:
      if (vector < 16) {
        signal_error(kEsrReceiveIllegalVector);
        return;
      }
      set_bit(m_irr, vector);
      if (level_trigger)
        set_bit(m_tmr, vector);
      else
        clear_bit(m_tmr, vector);
      ++m_stat_accepted;
      notify_interrupt();
      return;
    case DeliveryMode::kNmi:
      ++m_stat_nmis;
      m_nmi_pending = true;
      if (m_link) m_link->apic_nmi();
      return;
    case DeliveryMode::kInit:
      if (level_trigger && !level) return;  // INIT level de-assert: no effect on modern CPUs
      ++m_stat_inits;
      if (m_link) m_link->apic_init();
      return;
    case DeliveryMode::kStartUp:
      ++m_stat_sipis;
      if (m_link) m_link->apic_sipi(vector);
      return;
    case DeliveryMode::kExtInt:
      m_extint_msg = true;
      notify_interrupt();
      return;
    case DeliveryMode::kSmi:
    default:
      return;  // no SMM
  }
}

void LocalApic::set_lint(unsigned pin, bool level) {
  if (pin > 1) return;
  const bool rising = level && !m_lint_level[pin];
  m_lint_level[pin] = level;
  if (!hw_enabled()) {
    // Without the APIC, LINT0 is INTR and LINT1 is NMI.
    if (pin == 0 && level) notify_interrupt();
    if (pin == 1 && rising) {
      ++m_stat_nmis;
      m_nmi_pending = true;
      if (m_link) m_link->apic_nmi();
    }
    return;
  }
  uint32_t& lvt = m_lvt[kLvtLint0 + pin];
  if (lvt & kLvtMasked) return;
  const auto mode = static_cast<DeliveryMode>((lvt >> 8) & 7);
  switch (mode) {
    case DeliveryMode::kExtInt:
      if (level) notify_interrupt();
      return;
    case DeliveryMode::kNmi:
    case DeliveryMode::kInit:
      if (rising) accept(0, mode, true, false);
      return;
    case DeliveryMode::kFixed:
      if (lvt & kLvtLevel) {
        // Level-triggered LINT: remote IRR holds further deliveries until the EOI.
        if (level && !(lvt & kLvtRemoteIrr)) {
          lvt |= kLvtRemoteIrr;
          accept(static_cast<uint8_t>(lvt), mode, true, true);
        }
      } else if (rising) {
        accept(static_cast<uint8_t>(lvt), mode, true, false);
      }
      return;
    default:
      return;
  }
}

void LocalApic::signal_error(uint32_t esr_bits) {
  m_esr_pending |= esr_bits;
  const uint32_t lvt = m_lvt[kLvtError];
  if (!(lvt & kLvtMasked) && (lvt & 0xff) >= 16)
    accept(static_cast<uint8_t>(lvt), DeliveryMode::kFixed, true, false);
}

void LocalApic::write_esr() {
  // A write latches the errors detected since the last write (SDM §10.5.3).
  m_esr = m_esr_pending;
  m_esr_pending = 0;
}

void LocalApic::do_eoi() {
  const int v = highest(m_isr);
  if (v < 0) return;
  ++m_stat_eois;
  clear_bit(m_isr, static_cast<unsigned>(v));
  for (unsigned pin = 0; pin < 2; ++pin) {
    uint32_t& lvt = m_lvt[kLvtLint0 + pin];
    if ((lvt & kLvtRemoteIrr) && (lvt & 0xff) == static_cast<uint32_t>(v)) {
      lvt &= ~kLvtRemoteIrr;
      if (m_lint_level[pin]) set_lint(pin, true);
    }
  }
  // Level-triggered: tell the IOAPIC (no EOI-broadcast suppression: version bit 24 is 0).
  if (bit(m_tmr, static_cast<unsigned>(v)) && m_bus) m_bus->broadcast_eoi(static_cast<uint8_t>(v));
  notify_interrupt();
}

void LocalApic::write_svr(uint32_t v) {
  timer_catch_up(now_ticks());
  m_svr = v & 0x3ff;
  if (!sw_enabled()) {
    // Software disable masks every LVT (SDM §10.4.7.2).
    for (uint32_t& l : m_lvt) l |= kLvtMasked;
    timer_changed();
  } else {
    notify_interrupt();
  }
}

void LocalApic::write_lvt(unsigned which, uint32_t v) {
  const uint32_t old = m_lvt[which];
  if (which == kLvtTimer) timer_catch_up(now_ticks());
  uint32_t nv = (v & kLvtWritable[which]) | (old & kLvtRemoteIrr);
  if (!sw_enabled()) nv |= kLvtMasked;
  m_lvt[which] = nv;
  if (which == kLvtTimer) timer_lvt_changed(old);
  if (which == kLvtLint0 || which == kLvtLint1) {
    if (!(nv & kLvtLevel)) m_lvt[which] &= ~kLvtRemoteIrr;
    // A pin held high under the new setting: ExtINT and level-triggered fixed take effect now
    // (edge-triggered modes wait for the next rising edge).
    if (m_lint_level[which - kLvtLint0]) set_lint(which - kLvtLint0, true);
  }
}

void LocalApic::send_ipi() {
  ApicMessage m;
  m.vector = static_cast<uint8_t>(m_icr_lo);
  m.mode = static_cast<DeliveryMode>((m_icr_lo >> 8) & 7);
  m.logical = m_icr_lo & (1u << 11);
  m.level = m_icr_lo & (1u << 14);
  m.level_trigger = m_icr_lo & (1u << 15);
  m.shorthand = static_cast<uint8_t>((m_icr_lo >> 18) & 3);
  m.x2apic_dest = x2apic_mode();
  m.dest = x2apic_mode() ? m_icr_hi : (m_icr_hi >> 24);
  if ((m.mode == DeliveryMode::kFixed || m.mode == DeliveryMode::kLowestPriority) &&
      m.vector < 16) {
    signal_error(kEsrSendIllegalVector);
    return;
  }
  if (m.mode == DeliveryMode::kExtInt || static_cast<unsigned>(m.mode) == 3) return;  // reserved
  ++m_stat_ipis;
  if (m_bus) {
    m_bus->send(m, this);
  } else if (m.shorthand == 1 || m.shorthand == 2 ||
             (m.shorthand == 0 && (m.logical ? matches_logical(m.dest, m.x2apic_dest)
                                             : matches_physical(m.dest, m.x2apic_dest)))) {
    accept(m.vector, m.mode, m.level, m.level_trigger);
  }
}

bool LocalApic::matches_physical(uint32_t dest, bool x2apic_format) const {
  if (x2apic_format ? dest == 0xffffffffu : dest == 0xffu) return true;
  if (x2apic_mode() || x2apic_format) return dest == m_id;
  return (dest & 0xff) == (m_id & 0xff);
}

bool LocalApic::matches_logical(uint32_t dest, bool x2apic_format) const {
  if (x2apic_format ? dest == 0xffffffffu : dest == 0xffu) return true;
  if (x2apic_mode()) {
    // x2APIC cluster model: dest[31:16] cluster, dest[15:0] bitmap (SDM §10.12.10.2).
    return (dest >> 16) == (m_ldr >> 16) && (dest & m_ldr & 0xffff) != 0;
  }
  const uint32_t mda = dest & 0xff, ldr = m_ldr >> 24;
  if ((m_dfr >> 28) == 0xf) return (mda & ldr) != 0;  // flat model
  // Cluster model: high nibble cluster (15 = all clusters), low nibble bitmap.
  if ((mda >> 4) != 0xf && (mda >> 4) != (ldr >> 4)) return false;
  return (mda & ldr & 0xf) != 0;
}

bool LocalApic::read_reg(unsigned index, uint64_t& v) {
  const bool x2 = x2apic_mode();
  v = 0;
  switch (index) {
    case kRegId: v = x2 ? m_id : (m_id << 24); return true;
    case kRegVersion: v = kVersion; return true;
    case kRegTpr: v = m_tpr; return true;
    case kRegApr: v = apr(); return !x2;
    case kRegPpr: v = ppr(); return true;
    case kRegEoi: return !x2;  // write-only; xAPIC reads 0
    case kRegRrd: return !x2;
    case kRegLdr: v = m_ldr; return true;
    case kRegDfr: v = m_dfr; return !x2;
    case kRegSvr: v = m_svr; return true;
    case kRegEsr: v = m_esr; return true;
    case kRegIcrLo:
      v = m_icr_lo;
      if (x2) v |= uint64_t{m_icr_hi} << 32;
      return true;
    case kRegIcrHi: v = m_icr_hi; return !x2;
    case kRegTimerInitial: v = m_timer_initial; return true;
    case kRegTimerCurrent: v = timer_current_count(); return true;
    case kRegTimerDivide: v = m_tdcr; return true;
    default: break;
  }
  if (index >= kRegIsr && index < kRegIsr + 8) { v = m_isr[index - kRegIsr]; return true; }
  if (index >= kRegTmr && index < kRegTmr + 8) { v = m_tmr[index - kRegTmr]; return true; }
  if (index >= kRegIrr && index < kRegIrr + 8) { v = m_irr[index - kRegIrr]; return true; }
  if (index >= kRegLvtTimer && index <= kRegLvtError) {
    v = m_lvt[index - kRegLvtTimer];
    return true;
  }
  return false;
}

bool LocalApic::write_reg(unsigned index, uint64_t value) {
  const bool x2 = x2apic_mode();
  const auto v = static_cast<uint32_t>(value);
  if (index >= kRegLvtTimer && index <= kRegLvtError) {
    write_lvt(index - kRegLvtTimer, v);
    return true;
  }
  switch (index) {
    case kRegId:
      if (x2) return false;  // read-only in x2APIC mode
      m_id = v >> 24;
      return true;
    case kRegTpr: write_tpr(static_cast<uint8_t>(v)); return true;
    case kRegEoi:
      if (x2 && value != 0) return false;
      do_eoi();
      return true;
    case kRegLdr:
      if (x2) return false;
      m_ldr = v & 0xff000000u;
      return true;
    case kRegDfr:
      if (x2) return false;
      m_dfr = v | 0x0fffffffu;
      return true;
    case kRegSvr: write_svr(v); return true;
    case kRegEsr:
      if (x2 && value != 0) return false;
      write_esr();
      return true;
    case kRegIcrLo:
      if (x2) {
        if (value & kX2IcrReserved) return false;
        m_icr_hi = static_cast<uint32_t>(value >> 32);
      }
      m_icr_lo = v & kIcrLoWritable;
      send_ipi();
      return true;
    case kRegIcrHi:
      if (x2) return false;
      m_icr_hi = v & 0xff000000u;
      return true;
    case kRegTimerInitial: timer_write_initial(v); return true;
    case kRegTimerDivide: timer_write_divide(v); return true;
    case kRegSelfIpi:
      // x2APIC only; bits 31:8 are reserved (SDM Vol. 3 §10.12.11: #GP on a non-zero write).
      if (!x2 || (v & ~0xffull)) return false;
      ++m_stat_ipis;
      if ((v & 0xff) < 16) {
        signal_error(kEsrSendIllegalVector);
        return true;
      }
      accept(static_cast<uint8_t>(v), DeliveryMode::kFixed, true, false);
      return true;
    default:
      return false;  // read-only or nonexistent
  }
}

uint32_t LocalApic::mmio_read(uint32_t offset, unsigned size) {
  if (!xapic_mmio_active()) return 0;
  const unsigned index = (offset >> 4) & 0xff;
  const unsigned byte = offset & 0xf;
  uint64_t v = 0;
  if (!read_reg(index, v)) {
    signal_error(kEsrIllegalRegister);
    return 0;
  }
  if (byte >= 4) return 0;
  v = static_cast<uint32_t>(v) >> (8 * byte);
  return size >= 4 ? static_cast<uint32_t>(v) : static_cast<uint32_t>(v & ((1u << (8 * size)) - 1));
}

void LocalApic::mmio_write(uint32_t offset, unsigned size, uint64_t value) {
  if (!xapic_mmio_active()) return;
  if ((offset & 0xf) != 0 || size < 4) return;  // registers take aligned 32-bit stores only
  const unsigned index = (offset >> 4) & 0xff;
  uint64_t dummy;  // writes to read-only registers are ignored; to nonexistent ones, an error
  if (!write_reg(index, static_cast<uint32_t>(value)) && !read_reg(index, dummy))
    signal_error(kEsrIllegalRegister);
}

bool LocalApic::msr_read(uint32_t msr, uint64_t& value) {
  if (msr == kMsrApicBase) {
    value = m_apic_base;
    return true;
  }
  if (msr == kMsrTscDeadline) {
    value = timer_mode() == 2 ? m_tsc_deadline : 0;
    return true;
  }
  if (msr < 0x800 || msr > 0x8ff || !x2apic_mode()) return false;
  return read_reg(msr - 0x800, value);
}

bool LocalApic::msr_write(uint32_t msr, uint64_t value) {
  if (msr == kMsrApicBase) return write_apic_base(value);
  if (msr == kMsrTscDeadline) return tsc_deadline_write(value);
  if (msr < 0x800 || msr > 0x8ff || !x2apic_mode()) return false;
  const unsigned index = msr - 0x800;
  if (index != kRegIcrLo && (value >> 32) != 0) return false;  // bits 63:32 reserved
  return write_reg(index, value);
}

// SDM §10.12.5: valid transitions are disabled <-> xAPIC, xAPIC -> x2APIC, x2APIC -> disabled.
bool LocalApic::write_apic_base(uint64_t value) {
  uint64_t reserved = 0x2ffu;  // bits 7:0 and 9
  if (m_params.phys_addr_bits < 64) reserved |= ~((uint64_t{1} << m_params.phys_addr_bits) - 1);
  if (!m_params.x2apic_supported) reserved |= kBaseExtd;
  if (value & reserved) return false;
  const bool en = value & kBaseEnable, extd = value & kBaseExtd;
  const bool was_en = hw_enabled(), was_x2 = x2apic_mode();
  if (!en && extd) return false;                 // invalid state
  if (was_x2 && en && !extd) return false;       // x2APIC -> xAPIC
  if (!was_en && en && extd) return false;       // disabled -> x2APIC
  const uint64_t new_base = (value & ~kBaseBsp) | (m_apic_base & kBaseBsp);
  if (was_en && !en) {
    // Disabling resets the APIC; it comes back as after power-up (xAPIC, initial ID).
    timer_catch_up(now_ticks());
    m_apic_base = new_base;
    m_id = m_params.apic_id;
    init_reset();
    notify_interrupt();  // the 8259 now drives INTR directly
    return true;
  }
  m_apic_base = new_base;
  if (!was_x2 && x2apic_mode()) {
    // Entering x2APIC mode: 32-bit ID from the initial APIC ID, LDR derived from it.
    m_id = m_params.apic_id;
    m_ldr = x2apic_ldr();
  }
  return true;
}

}  // namespace vmxsim::platform
