// Debug registers and debug exceptions (SDM Vol. 3 Chapter 17): instruction breakpoints
// (faults, suppressed by RFLAGS.RF), data breakpoints (traps after the instruction), general
// detect, single-step, and the MOV SS deferral of debug traps.
//
// Zero cost while nothing is armed: the block loop takes the debug path only when an
// instruction breakpoint is enabled (and then single-steps only blocks that contain a breakpoint
// address), and data breakpoints keep their pages off the fast TLB so that only accesses to
// those pages reach the checks in the slow memory path. I/O breakpoints (R/W = 10 with CR4.DE)
// are not modelled.
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

namespace {

// DR7 fields of breakpoint i (SDM Vol. 3 §17.2.4).
bool bp_enabled(uint64_t dr7, unsigned i) { return (dr7 >> (2 * i)) & 3; }
unsigned bp_rw(uint64_t dr7, unsigned i) { return (dr7 >> (16 + 4 * i)) & 3; }
uint64_t bp_len(uint64_t dr7, unsigned i) {
  static constexpr uint64_t kLen[4] = {1, 2, 8, 4};  // LEN 00, 01, 10, 11
  return kLen[(dr7 >> (18 + 4 * i)) & 3];
}

}  // namespace

void Core::debug_regs_changed() {
  const uint64_t dr7 = s.dr[7];
  uint8_t exec = 0, data = 0, read = 0;
  uint64_t pages[4] = {~0ull, ~0ull, ~0ull, ~0ull};
  for (unsigned i = 0; i < 4; ++i) {
    if (!bp_enabled(dr7, i)) continue;
    switch (bp_rw(dr7, i)) {
      case 0: exec |= 1u << i; break;
      case 1: data |= 1u << i; break;
      case 3: data |= 1u << i; read |= 1u << i; break;
      default: break;  // I/O breakpoint (CR4.DE) or undefined: not modelled
    }
    // An aligned 1/2/4/8-byte range never crosses a page.
    if (data & (1u << i)) pages[i] = (s.dr[i] & ~(bp_len(dr7, i) - 1)) & ~0xfffull;
  }
  // Drop the fast-TLB entries of the pages that gain or lose a data breakpoint, in every
  // PCID's and VMX context's arrays: any of them may be the one in use later.
  for (unsigned i = 0; i < 4; ++i) {
    for (uint64_t p : {m_bp_pages[i], pages[i]}) {
      if (p == ~0ull) continue;
      drop_fast_tlb_page_everywhere(p);
    }
    m_bp_pages[i] = pages[i];
  }
  m_bp_exec_mask = exec;
  m_bp_data_mask = data;
  m_bp_read_mask = read;
  m_break_block = true;
}

void Core::check_general_detect() {
  if (VMXSIM_LIKELY(!(s.dr[7] & dr7::kGd))) return;
  // SDM §17.3.1.3: fault before the MOV DR executes; DR6.BD reports it, DR7.GD is cleared on
  // delivery (deliver_event).
  s.dr[6] = (s.dr[6] & ~dr6::kBMask) | dr6::kBd;
  raise(kDb);
}

uint32_t Core::exec_breakpoint_hits(uint64_t lin) const {
  uint32_t hits = 0;
  for (unsigned i = 0; i < 4; ++i)
    if ((m_bp_exec_mask >> i) & 1) {
      // Instruction breakpoints use LEN 00 (other lengths are undefined): the address of the
      // instruction's first byte, aligned like a data breakpoint of that length.
      const uint64_t len = bp_len(s.dr[7], i);
      if (((s.dr[i] ^ lin) & m_lin_mask & ~(len - 1)) == 0) hits |= 1u << i;
    }
  return hits;
}

bool Core::exec_breakpoint_in(uint64_t lin, uint64_t len) const {
  for (unsigned i = 0; i < 4; ++i)
    if ((m_bp_exec_mask >> i) & 1) {
      const uint64_t a = s.dr[i] & m_lin_mask & ~(bp_len(s.dr[7], i) - 1);
      if (a - lin < len) return true;
    }
  return false;
}

bool Core::data_breakpoint_page(uint64_t lin, bool write) const {
  const uint8_t mask = write ? m_bp_data_mask : m_bp_read_mask;
  const uint64_t page = lin & ~0xfffull;
  for (unsigned i = 0; i < 4; ++i)
    if (((mask >> i) & 1) && m_bp_pages[i] == page) return true;
  return false;
}

// A data access of `size` bytes at `lin` completed: note the breakpoints it hit (SDM §17.3.1.2).
// The trap follows the instruction (after_single_step / handle_attention).
void Core::check_data_breakpoints(uint64_t lin, unsigned size, bool write) {
  const uint8_t mask = write ? m_bp_data_mask : m_bp_read_mask;
  uint32_t hits = 0;
  for (unsigned i = 0; i < 4; ++i) {
    if (!((mask >> i) & 1)) continue;
    const uint64_t len = bp_len(s.dr[7], i);
    const uint64_t a = s.dr[i] & m_lin_mask & ~(len - 1);
    // Overlap of [lin, lin+size) and [a, a+len), wrap-safe.
    if (a - lin < size || lin - a < len) hits |= 1u << i;
  }
  if (hits) {
    m_pending_db |= hits;
    m_break_block = true;
    m_attention = true;
  }
}

// Delivers the debug traps pending at this instruction boundary as one #DB: B0-B3 report
// exactly the breakpoints hit, BS/BD/BT accumulate (software clears them).
void Core::deliver_debug_trap() {
  const uint32_t bits = m_pending_db;
  m_pending_db = 0;
  // A guest's #DB may exit instead: the exit qualification reports the DR6 bits and DR6 itself
  // is left alone (SDM §28.2.1).
  if (VMXSIM_UNLIKELY(m_vmx_nonroot) &&
      m_vmx->exception_exits(kDb, false, 0, bits, false, vmx::intr::kHardwareException))
    throw vmx::VmxTransition{false};
  s.dr[6] = (s.dr[6] & ~dr6::kBMask) | bits;
  ++m_exceptions[kDb];
  try {
    deliver_event(kDb, false, 0, false, s.rip);
  } catch (const GuestFault& f) {
    handle_fault(f);
  }
}

// One pass of the block loop while RFLAGS.TF/RF, an interrupt shadow or an instruction
// breakpoint needs attention at instruction granularity.
void Core::execute_debug(const Block& b) {
  const bool tf = m_rflags_other & rflags::kTf;
  const bool rf = m_rflags_other & rflags::kRf;
  const bool shadow_before = m_interrupt_shadow;
  // Instruction breakpoints are not checked on the instruction after MOV SS (its boundary
  // inhibits debug exceptions) nor while RF is set.
  if (m_bp_exec_mask && !rf && !m_movss_shadow) {
    const uint64_t lin = (m_seg_base[kCs] + s.rip) & m_lin_mask;
    const bool mtf = m_vmx_nonroot && m_vmx->mtf_enabled();
    if (!tf && !shadow_before && !mtf && !exec_breakpoint_in(lin, b.phys_end - b.phys)) {
      execute_block(b, ~0u);
      if (VMXSIM_UNLIKELY(m_step_rule != StepRule::kNormal) && !context_switched()) after_single_step(false);
      return;
    }
    if (const uint32_t hits = exec_breakpoint_hits(lin)) {
      // Fault before the instruction (SDM §17.3.1.1): the frame holds RF = 0; the handler
      // sets RF in it to resume.
      s.dr[6] = (s.dr[6] & ~dr6::kBMask) | hits;
      handle_fault(GuestFault{kDb, false, 0, 0}, false);
      return;
    }
  }
  // RF suppresses instruction breakpoints for one instruction; the processor clears it when
  // that instruction completes (or faults: the fault frame has RF set anyway).
  m_rflags_other &= ~rflags::kRf;
  execute_block(b, 1);
  if (context_switched()) return;  // the VM entry or exit set up the other context's state
  if (shadow_before) m_interrupt_shadow = m_movss_shadow = false;
  after_single_step(tf);
}

}  // namespace vmxsim::cpu
