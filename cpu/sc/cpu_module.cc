#include "cpu/sc/cpu_module.h"

#include <cstdio>
#include <cstring>

namespace vmxsim::cpu {

using namespace sc_core;

CpuModule::CpuModule(sc_module_name name, CodeMap& code_map, const CoreParams& params,
                     uint64_t quantum_cycles, Limits limits, StopHandler on_stop)
    : sc_module(name),
      mem_socket("mem_socket"),
      io_socket("io_socket"),
      m_core(std::make_unique<Core>(*this, code_map, params)),
      m_quantum_cycles(quantum_cycles ? quantum_cycles : 1),
      m_period_ps(1'000'000'000'000ull / params.core_hz),
      m_limits(limits),
      m_on_stop(std::move(on_stop)) {
  if (m_period_ps == 0) m_period_ps = 1;
  SC_HAS_PROCESS(CpuModule);
  SC_THREAD(run_thread);
}

CpuModule::~CpuModule() = default;

sc_time CpuModule::cycles_to_time(uint64_t cycles) const {
  return sc_time::from_value(cycles * m_period_ps * (sc_time(1, SC_PS).value()));
}

uint64_t CpuModule::time_to_cycles(const sc_time& t) const {
  return t.value() / sc_time(1, SC_PS).value() / m_period_ps;
}

std::string CpuModule::where() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, " at %04x:%016llx", m_core->s.seg[kCs].selector,
                static_cast<unsigned long long>(m_core->s.rip));
  return std::string(name()) + buf + (m_core->vmx_nonroot() ? " (VMX non-root)" : "");
}

sc_time CpuModule::local_time_offset() const {
  const sc_time core_time = cycles_to_time(m_core->cycles());
  return core_time > sc_time_stamp() ? core_time - sc_time_stamp() : SC_ZERO_TIME;
}

// Under temporal decoupling a core acts at its local time, ahead of SystemC time by its offset;
// devices act at SystemC time.
static sc_time local_time_of_caller() {
  const sc_process_handle caller = sc_get_current_process_handle();
  const auto* cpu =
      caller.valid() ? dynamic_cast<const CpuModule*>(caller.get_parent_object()) : nullptr;
  return cpu ? sc_time_stamp() + cpu->local_time_offset() : sc_time_stamp();
}

void CpuModule::wake() {
  // A core sleeping in HLT resumes when the waker sent the wake-up, not at the start of the
  // waker's quantum (else the sleep is cut short by up to a quantum).
  const sc_time at = local_time_of_caller();
  if (!m_woken || at < m_wake_at) m_wake_at = at;
  m_woken = true;
  m_core->signal_interrupt();
  m_wake_event.notify(at - sc_time_stamp());
}

void CpuModule::sleep_until_woken(uint64_t timer_cycles) {
  const bool timer = timer_cycles != ~0ull;
  const sc_time timer_at = timer ? cycles_to_time(timer_cycles) : SC_ZERO_TIME;
  for (;;) {
    const sc_time now = sc_time_stamp();
    if (m_woken && m_wake_at <= now) return;
    if (timer && timer_at <= now) return;
    if (!timer && !m_woken) {
      wait(m_wake_event);
      continue;
    }
    sc_time until = timer ? timer_at : m_wake_at;
    if (m_woken && m_wake_at < until) until = m_wake_at;
    // The event also ends the wait: an earlier wake-up may arrive meanwhile.
    wait(until - now, m_wake_event);
  }
}

void CpuModule::run_thread() {
  Core& core = *m_core;
  for (;;) {
    // The core never runs behind global time (it may have slept).
    const uint64_t now = time_to_cycles(sc_time_stamp());
    if (core.cycles() < now) core.set_cycles(now);

    uint64_t until = core.cycles() + m_quantum_cycles;
    if (m_apic) until = std::min(until, std::max(m_apic->next_event_cycles(), core.cycles() + 1));
    until = std::min(until, std::max(core.next_internal_event(), core.cycles() + 1));
    if (m_limits.max_cycles) until = std::min(until, m_limits.max_cycles);
    const StopReason r = core.run(until);
    if (m_apic) m_apic->update();

    if (m_limits.max_instructions && core.instructions() >= m_limits.max_instructions) {
      m_on_stop("instruction limit reached (" + std::to_string(m_limits.max_instructions) +
                    " instructions; " + where() + ")", 6);
      wait(m_wake_event);
      continue;
    }
    if (m_limits.max_cycles && core.cycles() >= m_limits.max_cycles) {
      m_on_stop("cycle limit reached (" + std::to_string(m_limits.max_cycles) + " cycles; " + where() + ")", 6);
      wait(m_wake_event);
      continue;
    }

    switch (r) {
      case StopReason::kQuantum:
      case StopReason::kRequested:
        wait(local_time_offset());  // synchronise with the rest of the system
        break;
      case StopReason::kHalted:
      case StopReason::kWaitForSipi: {
        // Sleep until the next local timer event or until something wakes us. A wake-up that
        // arrives while we catch up with global time (an IPI from a core that ran meanwhile)
        // must not be lost: an sc_event notified with nobody waiting is gone.
        m_woken = false;
        wait(local_time_offset());
        // Dormant: nothing but INIT/SIPI or an NMI can wake the core (a guest's preemption timer
        // and external-interrupt exiting keep it awake).
        const bool dormant = r == StopReason::kWaitForSipi ||
                             (!core.interrupt_wakes_halt() && core.next_internal_event() == ~0ull);
        if (dormant && m_on_dormant) m_on_dormant(true);
        uint64_t next = m_apic && r == StopReason::kHalted ? m_apic->next_event_cycles() : ~0ull;
        // A halted guest also wakes for its VMX-preemption timer.
        if (r == StopReason::kHalted) next = std::min(next, core.next_internal_event());
        // A cycle limit ends the wait too: time passes while nothing retires (masked interrupt
        // sources with a timer still ticking), and the limit must still end the run.
        if (m_limits.max_cycles) next = std::min(next, m_limits.max_cycles);
        const uint64_t before = core.cycles();
        sleep_until_woken(next);
        core.set_cycles(std::max(before, time_to_cycles(sc_time_stamp())));
        core.m_halted_cycles += core.cycles() - before;
        if (dormant && m_on_dormant) m_on_dormant(false);
        if (m_apic) m_apic->update();
        core.signal_interrupt();
        break;
      }
      case StopReason::kShutdown:
        if (!m_shutdown_reported) {
          m_shutdown_reported = true;
          m_on_stop(std::string("guest shutdown: ") + core.shutdown_reason(), 4);
        }
        wait(m_wake_event);
        break;
    }
  }
}

void CpuModule::transport(tlm_utils::simple_initiator_socket<CpuModule>& s, tlm::tlm_command cmd,
                          uint64_t addr, unsigned size, uint8_t* data) {
  tlm::tlm_generic_payload trans;
  sc_time delay = local_time_offset();
  trans.set_command(cmd);
  trans.set_address(addr);
  trans.set_data_ptr(data);
  trans.set_data_length(size);
  trans.set_streaming_width(size);
  trans.set_byte_enable_ptr(nullptr);
  trans.set_dmi_allowed(false);
  trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  s->b_transport(trans, delay);
}

uint8_t* CpuModule::dmi_page(uint64_t paddr, bool write) {
  if (m_apic && m_apic->mmio_owns(paddr)) return nullptr;
  const uint64_t page = paddr & ~0xfffull;
  // RAM grants DMI per 2 MiB chunk: the slot of the chunk is the likely hit.
  const DmiRegion& likely = m_dmi[(page >> 21) % kDmiSlots];
  if (likely.start <= page && page + 0xfff <= likely.end && (!write || likely.writable))
    return likely.ptr + (page - likely.start);
  if (page == m_dmi_denied_page) return nullptr;
  for (const DmiRegion& r : m_dmi)
    if (r.start <= page && page + 0xfff <= r.end && (!write || r.writable))
      return r.ptr + (page - r.start);
  tlm::tlm_generic_payload trans;
  tlm::tlm_dmi dmi;
  trans.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  trans.set_address(page);
  trans.set_data_length(0);
  if (!mem_socket->get_direct_mem_ptr(trans, dmi) || dmi.get_start_address() > page ||
      dmi.get_end_address() < page + 0xfff || (write && !dmi.is_write_allowed())) {
    m_dmi_denied_page = page;
    return nullptr;
  }
  DmiRegion& slot = m_dmi[(page >> 21) % kDmiSlots];
  slot.start = dmi.get_start_address();
  slot.end = dmi.get_end_address();
  slot.ptr = dmi.get_dmi_ptr();
  slot.writable = dmi.is_write_allowed();
  return slot.ptr + (page - slot.start);
}

uint64_t CpuModule::phys_read(uint64_t paddr, unsigned size, Cycles& stall) {
  if (m_apic && m_apic->mmio_owns(paddr)) return m_apic->mmio_read(paddr, size);
  uint8_t buf[8] = {};
  transport(mem_socket, tlm::TLM_READ_COMMAND, paddr, size, buf);
  uint64_t v = 0;
  std::memcpy(&v, buf, size);
  (void)stall;
  return v;
}

void CpuModule::phys_write(uint64_t paddr, unsigned size, uint64_t value, Cycles& stall) {
  if (m_apic && m_apic->mmio_owns(paddr)) {
    m_apic->mmio_write(paddr, size, value);
    return;
  }
  uint8_t buf[8];
  std::memcpy(buf, &value, 8);
  transport(mem_socket, tlm::TLM_WRITE_COMMAND, paddr, size, buf);
  (void)stall;
}

uint32_t CpuModule::io_read(uint16_t port, unsigned size, Cycles& stall) {
  uint8_t buf[4] = {};
  transport(io_socket, tlm::TLM_READ_COMMAND, port, size, buf);
  uint32_t v = 0;
  std::memcpy(&v, buf, size);
  (void)stall;
  return v;
}

void CpuModule::io_write(uint16_t port, unsigned size, uint32_t value, Cycles& stall) {
  uint8_t buf[4];
  std::memcpy(buf, &value, 4);
  transport(io_socket, tlm::TLM_WRITE_COMMAND, port, size, buf);
  (void)stall;
}

bool CpuModule::msr_read(uint32_t msr, uint64_t& value) { return m_apic && m_apic->msr_read(msr, value); }
bool CpuModule::msr_write(uint32_t msr, uint64_t value) { return m_apic && m_apic->msr_write(msr, value); }
int CpuModule::pending_interrupt() { return m_apic ? m_apic->pending_interrupt() : -1; }
void CpuModule::acknowledge_interrupt(int vector) {
  if (m_apic) m_apic->acknowledge(vector);
}
void CpuModule::end_of_interrupt() {
  if (m_apic) m_apic->end_of_interrupt();
}

void CpuModule::set_tpr(uint8_t tpr) {
  if (m_apic) m_apic->set_tpr(tpr);
}
uint8_t CpuModule::get_tpr() { return m_apic ? m_apic->get_tpr() : 0; }

void CpuModule::triple_fault(const char* why) {
  // Reported by run_thread when the core returns kShutdown.
  (void)why;
}

}  // namespace vmxsim::cpu
