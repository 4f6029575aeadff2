// The execution loop with the timing models on: Core::execute_block plus, per block, the
// instruction fetch (ITLB, L1I per line), per memory op the data access (DTLB, L1D...), and at the
// block's end the branch outcome. It is a separate copy of the loop so that the functional
// profile pays nothing for the models (one pointer test per block in execute_block).
//
// Data accesses are charged from the op's memory operand: its linear address is computed before
// the handler runs (the handler may overwrite the base register), and its physical address is
// read from the fast-TLB entry the access left behind. MMIO (no fast-TLB entry) is not cached.
// Implicit stack accesses (PUSH, POP, CALL, RET) are not charged: the stack's lines are hot.
#include <algorithm>

#include "cpu/core.h"
#include "cpu/timing/block_schedule.h"
#include "cpu/timing/timing_model.h"

namespace vmxsim::cpu {

namespace {
// Fast REP string microcode moves about this many bytes per cycle on recent cores (Intel
// optimization manual §3.7.6 "Enhanced REP MOVSB and STOSB"); the block schedule gave the
// instruction one issue slot.
constexpr uint64_t kStringBytesPerCycle = 16;
}  // namespace

void Core::execute_block_timed(const Block& b, unsigned max_ops) {
  timing::TimingModel& t = *m_timing;
  if (VMXSIM_UNLIKELY(m_params.trace_instructions)) max_ops = 1;
  m_cycles += t.fetch((m_seg_base[kCs] + s.rip) & m_lin_mask, b.phys, b.phys_end);

  const DecodedOp* op = b.ops.data();
  const DecodedOp* const end = op + std::min<size_t>(b.ops.size(), max_ops);
  m_cur_block = &b;
  m_cur_op = op;
  Cycles cycles = 0, serial = 0;
  uint64_t op_rip = s.rip;
  // Charges the line of `lin` if the access left a RAM translation in the fast TLB.
  auto charge = [&](uint64_t lin, bool dependent) {
    const FastTlbEntry& e = m_tlb->entry(lin);
    const uint64_t page = lin & ~0xfffull;
    if (e.read_tag == page || e.write_tag == page)
      m_cycles += t.data(lin, e.phys_page | (lin & 0xfff), dependent);
  };
  for (; op != end; ++op) {
    m_cur_op = op;
    op_rip = s.rip;
    if (VMXSIM_UNLIKELY(m_params.trace_instructions)) trace_instruction(*op);
    s.gpr[kRegNextRip] = s.rip + op->len;
    const uint8_t tf = op->tflags;
    if (tf & timing::tflag::kMem) {
      const uint64_t lin = (effective_address(*op) + m_seg_base[op->seg]) & m_lin_mask;
      op->fn(*this, *op);
      if (VMXSIM_LIKELY(m_switch == ContextSwitch::kNone)) charge(lin, tf & timing::tflag::kDependent);
    } else if (VMXSIM_UNLIKELY(tf & timing::tflag::kString)) {
      const uint64_t rsi = s.gpr[kRsi], rdi = s.gpr[kRdi];
      op->fn(*this, *op);
      if (VMXSIM_UNLIKELY(m_switch != ContextSwitch::kNone)) return end_switched_block(b, op, cycles);
      // The ranges the string op walked (either direction), one charge per line, overlapped.
      const unsigned sh = t.caches().line_shift();
      uint64_t bytes = 0;
      for (int k = 0; k < 2; ++k) {
        const uint64_t before = k ? rdi : rsi, after = s.gpr[k ? kRdi : kRsi];
        if (before == after) continue;
        const uint64_t lo = std::min(before, after), hi = std::max(before, after);
        bytes = std::max(bytes, hi - lo);
        const uint64_t base = m_seg_base[k ? kEs : op->seg];
        for (uint64_t line = lo >> sh; line <= (hi - 1) >> sh; ++line)
          charge(((line << sh) + base) & m_lin_mask, false);
      }
      m_cycles += bytes / kStringBytesPerCycle;
      t.cpi().base += bytes / kStringBytesPerCycle;
    } else {
      op->fn(*this, *op);
    }
    s.rip = s.gpr[kRegNextRip];
    cycles += op->cycles;
    if (VMXSIM_UNLIKELY(tf & timing::tflag::kSerial)) serial += op->cycles;
    if (VMXSIM_UNLIKELY(m_break_block)) {
      // A VM entry or exit: accounted as when one unwinds out of the block (the timing of the
      // transition itself is the VMX unit's).
      if (VMXSIM_UNLIKELY(m_switch != ContextSwitch::kNone)) return end_switched_block(b, op, cycles - op->cycles);
      ++op;
      break;
    }
  }
  m_instructions += static_cast<uint64_t>(op - b.ops.data());
  if (op == b.ops.data() + b.ops.size() && !b.flow.empty()) {
    // The whole block ran: its chains overlap with the neighbouring blocks' (runtime dataflow).
    cycles = t.flow(b.flow.data(), b.flow.size());
    serial = std::min<Cycles>(cycles, b.flow[1]);
  } else {
    t.flow_skip(cycles);
  }
  m_cycles += cycles;
  t.cpi().base += cycles - serial;
  t.cpi().serializing += serial;
  m_cur_block = nullptr;
  // Branches end blocks: the last op that ran is the only one that can be one.
  if (op != b.ops.data()) {
    const DecodedOp& last = op[-1];
    const timing::BranchKind kind = timing::branch_kind(last.tflags);
    if (kind != timing::BranchKind::kNone) m_cycles += t.branch(kind, op_rip, s.rip, op_rip + last.len);
  }
}

}  // namespace vmxsim::cpu
