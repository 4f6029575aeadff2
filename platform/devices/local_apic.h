// Local APIC of one logical processor (SDM Vol. 3 Chapter 10), xAPIC and x2APIC modes.
//
// Not a TLM target: the core's CpuModule routes the xAPIC MMIO page (at base_address(), only
// while xapic_mmio_active(); otherwise that page is ordinary memory) and the MSRs for which
// handles_msr() is true (IA32_APIC_BASE 0x1b, IA32_TSC_DEADLINE 0x6e0, x2APIC 0x800-0x8ff) here.
// A false return from msr_read/msr_write means #GP(0).
//
// Time: everything derives from the core's cycle count (ApicCoreLink::now_cycles). The timer
// input clock is `timer_hz` (the APIC bus / crystal clock, before the divide configuration);
// core cycle c corresponds to timer tick floor(c * timer_hz / core_hz), so there is no drift and
// the same run gives the same ticks on any host. The TSC-deadline mode compares the link's
// now_tsc() with IA32_TSC_DEADLINE. The CpuModule ends its quantum at next_event_cycles() and
// calls update() there, which raises the timer interrupt; register writes that change the
// timer call ApicCoreLink::apic_timer_changed() so it can re-read next_event_cycles().
//
// Reset state follows SDM §10.4.7.1, with one deviation taken from QEMU: on the BSP, LVT LINT0
// powers up as ExtINT, unmasked (0x700), which is what a BIOS leaves behind, so the 8259 reaches
// the core through the "virtual wire" without firmware. INIT (init_reset) masks it like every LVT.
#pragma once

#include <cstdint>
#include <string>

#include "platform/devices/apic_bus.h"
#include "platform/devices/ext_int.h"

namespace vmxsim {
class Config;
class StatRegistry;
}  // namespace vmxsim

namespace vmxsim::platform {

// Implemented by the CpuModule, one per core.
class ApicCoreLink {
 public:
  virtual ~ApicCoreLink() = default;
  // pending_interrupt() may have changed (an IRR bit was set, PPR dropped, ExtINT asserted).
  virtual void apic_interrupt() = 0;
  // An NMI was accepted (has_nmi() is true until ack_nmi()).
  virtual void apic_nmi() = 0;
  // An INIT was accepted. The core decides (blocked in VMX root operation, a VM exit in non-root
  // operation, ...) and calls LocalApic::init_reset() when it performs the INIT.
  virtual void apic_init() = 0;
  // A start-up IPI arrived (meaningful only in wait-for-SIPI state).
  virtual void apic_sipi(uint8_t vector) = 0;
  // The core's cycle count at this instant (including the local time in its quantum).
  virtual uint64_t now_cycles() = 0;
  // The TSC at this instant, and the first core cycle at which the TSC reaches `tsc`. The
  // defaults describe a TSC that counts core cycles.
  virtual uint64_t now_tsc() { return now_cycles(); }
  virtual uint64_t cycles_at_tsc(uint64_t tsc) { return tsc; }
  // next_event_cycles() may have changed.
  virtual void apic_timer_changed() {}
};

struct LocalApicParams {
  uint32_t apic_id = 0;
  bool bsp = false;
  uint64_t core_hz = 2'000'000'000;   // core clock
  uint64_t timer_hz = 1'000'000'000;  // APIC timer input clock (before the divider)
  unsigned phys_addr_bits = 46;       // MAXPHYADDR: IA32_APIC_BASE bits above are reserved
  bool x2apic_supported = true;       // IA32_APIC_BASE bit 10 writable
};

class LocalApic {
 public:
  static constexpr uint64_t kDefaultBase = 0xfee00000;
  static constexpr uint32_t kVersion = 0x00050014;  // version 0x14, max LVT entry 5
  static constexpr uint32_t kMsrApicBase = 0x1b, kMsrTscDeadline = 0x6e0;
  static constexpr uint64_t kBaseBsp = 1u << 8, kBaseExtd = 1u << 10, kBaseEnable = 1u << 11;

  enum Lvt : unsigned { kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kNumLvt };

  // `bus` and `link` may be null (unit tests); without a bus only self-IPIs are delivered.
  LocalApic(const LocalApicParams& params, ApicBus* bus, ApicCoreLink* link);

  // Declares <path>.timer_hz (e.g. path = "system.cpu0.lapic") and fills the rest from arguments.
  static LocalApicParams params_from_config(Config& cfg, const std::string& path,
                                            uint32_t apic_id, bool bsp, uint64_t core_hz,
                                            unsigned phys_addr_bits, bool x2apic_supported);
  // <prefix>.interrupts_accepted, .ipis_sent, .eois, .timer_fires, .nmis, .inits, .sipis.
  void register_stats(StatRegistry& stats, const std::string& prefix);

  // The 8259 pair answering INTA for ExtINT delivery (LINT0 virtual wire, IOAPIC ExtINT).
  void set_ext_int_controller(ExtIntController* pic) { m_pic = pic; }
  void set_link(ApicCoreLink* link) { m_link = link; }

  void reset();       // power-on / RESET
  void init_reset();  // INIT: everything but IA32_APIC_BASE and the ID (SDM §10.4.7.3)

  // ---- core interface
  // Highest deliverable vector: the highest IRR vector whose priority class is above PPR while
  // software-enabled, else an ExtINT vector from the 8259 when LINT0 is in ExtINT mode (or the
  // APIC is hardware-disabled: the 8259 then drives INTR directly); -1 when nothing is pending.
  int pending_interrupt();
  // INTA for the vector pending_interrupt() returned: IRR -> ISR, or the 8259's INTA cycle.
  void acknowledge(int vector);
  // An EOI the processor itself performs (posted-interrupt processing), in either APIC mode.
  void end_of_interrupt() { do_eoi(); }
  void set_tpr(uint8_t cr8) { write_tpr(static_cast<uint8_t>((cr8 & 0xf) << 4)); }  // MOV CR8
  uint8_t get_tpr() const { return m_tpr >> 4; }
  bool has_nmi() const { return m_nmi_pending; }
  void ack_nmi() { m_nmi_pending = false; }
  // Core cycle at which the timer next expires (may be in the past until update() runs), or
  // UINT64_MAX.
  uint64_t next_event_cycles() const;
  // Processes timer expiries up to now_cycles(); raises the timer interrupt.
  void update();

  // ---- register interfaces
  uint64_t apic_base_msr() const { return m_apic_base; }
  uint64_t base_address() const;
  bool hw_enabled() const { return m_apic_base & kBaseEnable; }
  bool x2apic_mode() const { return (m_apic_base & (kBaseEnable | kBaseExtd)) == (kBaseEnable | kBaseExtd); }
  bool xapic_mmio_active() const { return hw_enabled() && !x2apic_mode(); }
  bool sw_enabled() const { return m_svr & 0x100; }

  // xAPIC MMIO, offset within the 4 KiB page. Registers are 32 bits on 16-byte boundaries:
  // reads of other bytes return the register's bytes shifted (or 0), writes only take effect
  // as aligned 32-bit (or wider, low half used) stores.
  uint32_t mmio_read(uint32_t offset, unsigned size);
  void mmio_write(uint32_t offset, unsigned size, uint64_t value);
  static bool handles_msr(uint32_t msr) {
    return msr == kMsrApicBase || msr == kMsrTscDeadline || (msr >= 0x800 && msr <= 0x8ff);
  }
  bool msr_read(uint32_t msr, uint64_t& value);
  bool msr_write(uint32_t msr, uint64_t value);

  // ---- from the bus and the pins
  void accept(uint8_t vector, DeliveryMode mode, bool level, bool level_trigger);
  void set_lint(unsigned pin, bool level);
  bool matches_physical(uint32_t dest, bool x2apic_format) const;
  bool matches_logical(uint32_t dest, bool x2apic_format) const;

  // ---- inspection (tests, tracing)
  uint32_t id() const { return m_id; }
  uint32_t initial_id() const { return m_params.apic_id; }
  uint32_t ldr() const { return m_ldr; }
  uint8_t tpr() const { return m_tpr; }
  uint8_t ppr() const;
  uint8_t apr() const;
  uint32_t lvt(Lvt which) const { return m_lvt[which]; }
  bool irr_bit(unsigned v) const { return bit(m_irr, v); }
  bool isr_bit(unsigned v) const { return bit(m_isr, v); }
  bool tmr_bit(unsigned v) const { return bit(m_tmr, v); }
  int highest_irr() const { return highest(m_irr); }
  int highest_isr() const { return highest(m_isr); }
  uint32_t timer_current_count() const;
  uint64_t tsc_deadline() const { return m_tsc_deadline; }

 private:
  static bool bit(const uint32_t* a, unsigned v) { return a[(v >> 5) & 7] & (1u << (v & 31)); }
  static void set_bit(uint32_t* a, unsigned v) { a[(v >> 5) & 7] |= 1u << (v & 31); }
  static void clear_bit(uint32_t* a, unsigned v) { a[(v >> 5) & 7] &= ~(1u << (v & 31)); }
  static int highest(const uint32_t* a);

  // Register file by index (offset >> 4). read_reg returns false for a register that does not
  // exist in the current mode; write_reg returns false for a write the mode forbids (x2APIC #GP).
  bool read_reg(unsigned index, uint64_t& value);
  bool write_reg(unsigned index, uint64_t value);
  void write_tpr(uint8_t v);
  void write_svr(uint32_t v);
  void write_lvt(unsigned which, uint32_t v);
  void write_esr();
  void do_eoi();
  void send_ipi();
  void signal_error(uint32_t esr_bits);
  bool write_apic_base(uint64_t value);
  uint32_t x2apic_ldr() const {
    return ((m_id & 0xffff0u) << 12) | (1u << (m_id & 0xf));
  }
  void notify_interrupt();
  uint64_t now_cycles() const;
  bool extint_route() const;

  // Timer (local_apic_timer.cc).
  unsigned timer_mode() const { return (m_lvt[kLvtTimer] >> 17) & 3; }
  uint32_t timer_divisor() const;
  uint64_t ticks_at(uint64_t cycles) const;     // timer input ticks at a core cycle
  uint64_t cycles_at(uint64_t ticks) const;     // first core cycle with ticks_at() >= ticks
  uint64_t now_ticks() const { return ticks_at(now_cycles()); }
  void timer_catch_up(uint64_t ticks);          // fire expiries up to `ticks`
  void timer_fire();
  void timer_write_initial(uint32_t v);
  void timer_write_divide(uint32_t v);
  void timer_lvt_changed(uint32_t old_lvt);
  uint32_t timer_count_at(uint64_t ticks) const;
  bool tsc_deadline_write(uint64_t v);
  void timer_changed();

  LocalApicParams m_params;
  ApicBus* m_bus;
  ApicCoreLink* m_link;
  ExtIntController* m_pic = nullptr;

  uint64_t m_apic_base = 0;
  uint32_t m_id = 0;
  uint8_t m_tpr = 0;
  uint32_t m_ldr = 0, m_dfr = 0xffffffff, m_svr = 0xff;
  uint32_t m_irr[8] = {}, m_isr[8] = {}, m_tmr[8] = {};
  uint32_t m_esr = 0, m_esr_pending = 0;
  uint32_t m_icr_lo = 0, m_icr_hi = 0;
  uint32_t m_lvt[kNumLvt] = {};
  bool m_lint_level[2] = {false, false};
  bool m_nmi_pending = false;
  bool m_extint_msg = false;     // an ExtINT message arrived (IOAPIC or LINT) and is not acked
  bool m_ack_from_pic = false;   // the last pending_interrupt() answer came from the 8259

  // Timer: counting down from m_timer_count at tick m_timer_anchor, m_timer_divisor ticks each.
  uint32_t m_timer_initial = 0, m_tdcr = 0;
  bool m_timer_running = false;
  uint64_t m_timer_anchor = 0;
  uint32_t m_timer_count = 0;
  uint64_t m_tsc_deadline = 0;

  uint64_t m_stat_accepted = 0, m_stat_ipis = 0, m_stat_eois = 0, m_stat_timer = 0,
           m_stat_nmis = 0, m_stat_inits = 0, m_stat_sipis = 0;
};

}  // namespace vmxsim::platform
