// MONITOR/MWAIT: address-range monitoring and the wait it ends (SDM Vol. 2 "MONITOR", "MWAIT";
// Vol. 3 §9.10.4). The monitored line is a CodeMap watch: every store that could hit it — this
// core's and other cores' slow-path stores, DMA — passes the map, and cores stop mapping the
// page for fast stores while the watch exists. So a store from anywhere ends the wait exactly,
// without polling.
#include "cpu/code_map.h"
#include "cpu/core.h"

namespace vmxsim::cpu {

bool Core::monitor_supported() const {
  return m_params.features.monitor && (s.misc_enable & misc_enable::kMonitorFsm);
}

void Core::arm_monitor(uint64_t lin) {
  // Checked like a 1-byte read: canonical form, then #PF / EPT violation.
  if (long_mode() && !is_canonical(lin)) raise_noncanonical();
  const uint64_t paddr = translate(lin, kAccessRead);
  // Only write-back memory can be monitored; for MMIO (no store there passes the CodeMap) the
  // monitor stays unarmed and MWAIT returns at once, as the SDM allows for other memory types.
  disarm_monitor();
  if (!m_env.dmi_page(paddr, false)) return;
  m_monitor_armed = true;
  m_code_map.watch_line(paddr, code_listener());
}

void Core::disarm_monitor() {
  if (m_monitor_armed) m_code_map.unwatch(code_listener());
  m_monitor_armed = false;
}

void Core::on_monitor_written() {
  m_monitor_armed = false;
  // A waiting core resumes after the MWAIT; the core that stored may be another one, running
  // ahead in its quantum: wake the waiter's thread.
  if (in_mwait()) {
    m_attention = true;
    m_env.wake_from_wait();
  }
}

void Core::mwait(bool break_on_masked_interrupt) {
  // A triggered (or never armed) monitor: the wait ends before it begins.
  if (!m_monitor_armed) return;
  m_activity = ActivityState::kHalted;
  m_in_mwait = true;
  m_mwait_break_masked = break_on_masked_interrupt;
  ++m_mwaits;
  m_break_block = true;
}

// While halted in MWAIT: the events besides those that end any halt (delivered interrupts,
// NMI, INIT, VMX events — handle_attention resumes the core for those).
bool Core::mwait_ended() {
  if (m_monitor_armed && !(m_mwait_break_masked && m_env.pending_interrupt() >= 0)) return false;
  disarm_monitor();
  m_activity = ActivityState::kActive;
  m_in_mwait = false;
  return true;
}

}  // namespace vmxsim::cpu
