// Events in VMX non-root operation (SDM Vol. 3C §26.2, §26.7, §27.2): exceptions against the
// exception bitmap, the block-boundary VM exits (MTF, preemption timer, NMI and interrupt
// windows, NMIs, external interrupts), triple faults, INIT and SIPI, and the IDT-vectoring
// information of an event whose delivery caused an exit. Also construction, reset and statistics
// of the unit.
#include "cpu/core.h"
#include "sim/stats.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using cpu::Core;
using F = VmcsField;

VmxUnit::VmxUnit(Core& core, const VmxCaps& caps, const VmxCosts& costs)
    : m_core(core), m_caps(caps), m_costs(costs) {}

void VmxUnit::reset() {
  m_vmxon = false;
  m_vmxon_ptr = m_current = kInvalidPtr;
  m_preempt_deadline = ~0ull;
  m_mtf_pending = m_virtual_nmi_blocked = m_virq_pending = false;
  m_vectoring_info = 0;
}

void VmxUnit::request_attention() { m_core.m_attention = true; }

void VmxUnit::begin_delivery(uint8_t vector, uint32_t type, bool has_error, uint32_t error) {
  m_vectoring_info = vector | (type << intr::kTypeShift) | (has_error ? intr::kDeliverErrorCode : 0) | intr::kValid;
  m_vectoring_error = error;
}

bool VmxUnit::exception_exits(uint8_t vector, bool has_error, uint32_t error, uint64_t qual,
                              bool software, uint32_t type) {
  const uint32_t bitmap = m_vmcs.get32(F::EXCEPTION_BITMAP);
  bool exits = bitmap & (1u << vector);
  if (vector == cpu::kPf) {
    // #PF: bit 14 selects whether a match of the error code against mask/match exits or not.
    const uint32_t mask = m_vmcs.get32(F::PAGE_FAULT_ERROR_CODE_MASK);
    const uint32_t match = m_vmcs.get32(F::PAGE_FAULT_ERROR_CODE_MATCH);
    const bool m = (error & mask) == match;
    exits = exits ? m : !m;
  }
  if (!exits) return false;
  // Software exceptions (INT3, INTO, INT1) record their instruction's length.
  VmExit e = software ? instruction_exit(kExitExceptionNmi, qual) : VmExit{};
  e.reason = kExitExceptionNmi;
  e.qualification = qual;
  e.intr_info = vector | (type << intr::kTypeShift) | (has_error ? intr::kDeliverErrorCode : 0) | intr::kValid;
  e.intr_error = error;
  vm_exit(e);
  return true;
}

void VmxUnit::on_triple_fault() {
  VmExit e;
  e.reason = kExitTripleFault;
  vm_exit(e);
}

void VmxUnit::init_signal_exit() {
  VmExit e;
  e.reason = kExitInit;
  vm_exit(e);
}

void VmxUnit::sipi_exit(uint8_t vector) {
  VmExit e;
  e.reason = kExitSipi;
  e.qualification = vector;
  vm_exit(e);
}

bool VmxUnit::check_mtf() {
  if (!m_mtf_pending) return false;
  m_mtf_pending = false;
  VmExit e;
  e.reason = kExitMonitorTrapFlag;
  vm_exit(e);
  return true;
}

bool VmxUnit::check_pending_events() {
  Core& c = m_core;
  VmExit e;
  // Priority (SDM §26.7, Table 7-2 with VMX): MTF (check_mtf), pending debug exceptions (the
  // core), VMX-preemption timer, NMI window, NMI, interrupt window, external interrupt.
  if (m_preempt_deadline != ~0ull && c.cycles() >= m_preempt_deadline) {
    e.reason = kExitPreemptionTimer;
    vm_exit(e);
    return true;
  }
  const bool movss = c.m_movss_shadow, sti = c.m_interrupt_shadow && !c.m_movss_shadow;
  if (ctl_proc(proc::kNmiWindowExiting) && !m_virtual_nmi_blocked && !movss && !sti) {
    e.reason = kExitNmiWindow;
    vm_exit(e);
    return true;
  }
  if (c.m_nmi_pending && ctl_pin(pin::kNmiExiting) && !movss && !sti) {
    c.m_nmi_pending = false;
    e.reason = kExitExceptionNmi;
    e.intr_info = 2 | (intr::kNmi << intr::kTypeShift) | intr::kValid;
    vm_exit(e);
    return true;
  }
  if (ctl_proc(proc::kIntrWindowExiting) && (c.rflags() & cpu::rflags::kIf) && !c.m_interrupt_shadow) {
    e.reason = kExitInterruptWindow;
    vm_exit(e);
    return true;
  }
  if (ctl_pin(pin::kExtIntExiting)) {
    const int vec = c.m_env.pending_interrupt();
    if (vec >= 0 && ctl_pin(pin::kPostedInterrupts) &&
        static_cast<unsigned>(vec) == (m_vmcs.get(F::POSTED_INTR_NV) & 0xff)) {
      // The notification vector: posted-interrupt processing instead of a VM exit.
      c.m_env.acknowledge_interrupt(vec);
      process_posted_interrupts();
    } else if (vec >= 0) {
      e.reason = kExitExternalInterrupt;
      if (ctl_exit(exitc::kAckIntrOnExit)) {
        c.m_env.acknowledge_interrupt(vec);
        e.intr_info = static_cast<uint32_t>(vec & 0xff) | (intr::kExternal << intr::kTypeShift) | intr::kValid;
      }
      vm_exit(e);
      return true;
    }
  }
  // A recognized virtual interrupt is delivered through the guest IDT when the guest could take
  // an interrupt (SDM §30.2.2); it also ends a HLT.
  if (m_virq_pending && (c.rflags() & cpu::rflags::kIf) && !c.m_interrupt_shadow) {
    deliver_virtual_interrupt();
    return true;
  }
  return false;
}

namespace {
// Statistic names by basic exit reason: the SDM name, or reasonN where there is none.
std::string exit_stat_name(size_t i) {
  const std::string n = exit_reason_name(static_cast<unsigned>(i));
  return n == "unknown" ? "reason" + std::to_string(i) : n;
}
}  // namespace

void VmxUnit::register_stats(StatRegistry& st, const std::string& p) {
  st.add_counter(p + ".vmx.entries", "entries", "successful VM entries (VMLAUNCH/VMRESUME)", &m_entries);
  st.add_counter(p + ".vmx.entry_failures", "entries", "VM entries that failed on guest state or MSR loading (exit reasons 33, 34)", &m_entry_failures);
  st.add_counter(p + ".vmx.vmfails", "instructions", "VMX instructions that ended in VMfailInvalid or VMfailValid", &m_vmfails);
  st.add_counter(p + ".vmx.cycles_nonroot", "cycles", "cycles spent in VMX non-root operation", &m_cycles_nonroot);
  st.add_counter(p + ".vmx.cycles_transitions", "cycles", "cycles charged to VM entries and exits", &m_cycles_transitions);
  st.add_vector(p + ".vmx.exits", "exits", "VM exits by basic exit reason", m_exits, kNumExitReasons,
                exit_stat_name);
  st.add_vector(p + ".vmx.handler_cycles", "cycles",
                "root-mode cycles from the end of a VM exit to the next VM entry, by the exit's basic "
                "reason (divide by vmx.exits.<reason> for the handler's average)",
                m_handler_cycles, kNumExitReasons, exit_stat_name);
  const uint64_t* exits = m_exits;
  const uint64_t* trans = &m_cycles_transitions;
  const uint64_t* nonroot = &m_cycles_nonroot;
  const uint64_t* total = &m_core.m_cycles;
  st.add_formula(p + ".vmx.cycles_root", "cycles",
                 "cycles outside VMX non-root operation and transitions (root mode, halted time included)",
                 [=] { return static_cast<double>(*total - *nonroot - *trans); });
  st.add_formula(p + ".vmx.exits_total", "exits", "VM exits of every reason", [=] {
    double n = 0;
    for (unsigned i = 0; i < kNumExitReasons; ++i) n += static_cast<double>(exits[i]);
    return n;
  });
  st.add_formula(p + ".vmx.cycles_per_transition_pair", "cycles", "transition cycles per VM exit (exit + following entry)", [=] {
    double n = 0;
    for (unsigned i = 0; i < kNumExitReasons; ++i) n += static_cast<double>(exits[i]);
    return n > 0 ? static_cast<double>(*trans) / n : 0.0;
  });
}

}  // namespace vmxsim::vmx
