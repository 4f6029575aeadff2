// The execution loop: find or build the block at RIP, run it, deliver faults and interrupts at
// block boundaries (ARCHITECTURE §2-§3).
#include "cpu/core.h"

#include <algorithm>
#include <cstdio>

#include "cpu/code_map.h"
#include "cpu/decode/decoder.h"
#include "cpu/mmu/walk_refs.h"
#include "cpu/timing/block_schedule.h"
#include "cpu/timing/timing_model.h"
#include "sim/stats.h"
#include "vmx_model/vmx_caps.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

namespace {

// Lets the block cache and fast TLBs follow the CodeMap.
class CoreCodeListener final : public CodeListener {
 public:
  explicit CoreCodeListener(Core& c) : m_core(c) {}
  void code_written(uint64_t paddr, uint64_t len) override;
  void page_writes_tracked(uint64_t phys_page) override;
  void watched_line_written() override;

 private:
  Core& m_core;
};

}  // namespace

const char* to_string(TimingClass c) {
  static const char* const kNames[] = {"alu", "mov", "load", "store", "mul", "div", "branch",
                                       "call", "string", "serializing", "system", "msr", "cpuid",
                                       "cr_write", "invlpg", "io", "halt", "fpu", "sse", "nop",
                                       "event"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(TimingClass::kCount));
  return kNames[static_cast<int>(c)];
}

struct Core::Listener {
  explicit Listener(Core& c) : impl(c) {}
  CoreCodeListener impl;
};

Core::Core(CpuEnv& env, CodeMap& code_map, const CoreParams& params)
    : m_env(env), m_code_map(code_map), m_params(params), m_decoder(std::make_unique<Decoder>()) {
  m_listener = std::make_unique<Listener>(*this);
  m_code_map.add_listener(&m_listener->impl);
  if (params.timing.enabled) {
    m_walk_source = std::make_unique<CoreWalkSource>(*this);
    m_timing = std::make_unique<timing::TimingModel>(params.timing, *m_walk_source);
  }
  m_vmx = std::make_unique<vmx::VmxUnit>(
      *this, vmx::make_vmx_caps(params.features, cr4_supported(), params.phys_addr_bits), params.vmx_costs);
  reset(params.bsp);
}

Core::~Core() { m_code_map.remove_listener(&m_listener->impl); }

CodeListener* Core::code_listener() { return &m_listener->impl; }

void CoreCodeListener::code_written(uint64_t paddr, uint64_t len) {
  m_core.on_code_written(paddr, len);
}
void CoreCodeListener::page_writes_tracked(uint64_t phys_page) {
  m_core.on_page_writes_tracked(phys_page);
}
void CoreCodeListener::watched_line_written() { m_core.on_monitor_written(); }

void Core::on_code_written(uint64_t paddr, uint64_t len) {
  const unsigned n = m_blocks.invalidate_range(paddr, len);
  if (n) {
    m_smc_invalidations += n;
    // The running block may be among them: finish the current instruction and re-fetch.
    m_break_block = true;
  }
}

void Core::reset(bool bsp) {
  // SDM Vol. 3 Table 9-1: power-up and INIT state.
  const uint64_t apic_base = s.apic_base;
  const uint64_t feature_control = s.feature_control;
  s = CpuState{};
  if (m_init_count > 0) {  // INIT keeps these (SDM Vol. 3 §9.1.1)
    s.apic_base = apic_base;
    s.feature_control = feature_control;
  }
  s.apic_base = (s.apic_base & ~(1ull << 8)) | (bsp ? (1ull << 8) : 0);
  ++m_init_count;
  s.gpr[kRdx] = m_params.cpuid_family_model_stepping;
  for (unsigned i = 0; i < kNumSegs; ++i) {
    s.seg[i].selector = 0;
    s.seg[i].base = 0;
    s.seg[i].limit = 0xffff;
    s.seg[i].ar = ar::kP | ar::kS | ar::kDataWritable | ar::kAccessed;
  }
  s.seg[kCs].selector = 0xf000;
  s.seg[kCs].base = 0xffff0000;
  s.seg[kCs].ar = ar::kP | ar::kS | ar::kCodeBit | ar::kCodeReadable | ar::kAccessed;
  s.rip = 0xfff0;
  s.ldtr.ar = ar::kP | 2;   // LDT
  s.tr.ar = ar::kP | 11;    // busy 32-bit TSS
  flags.set_arith(0);
  m_rflags_other = rflags::kFixed1;
  m_activity = bsp ? ActivityState::kActive : ActivityState::kWaitForSipi;
  // IA32_MISC_ENABLE: fast strings, and the MONITOR FSM where MONITOR/MWAIT exist.
  s.misc_enable = misc_enable::kFastStrings | (m_params.features.monitor ? misc_enable::kMonitorFsm : 0);
  disarm_monitor();
  m_in_mwait = false;
  m_nmi_blocked = false;
  m_interrupt_shadow = m_movss_shadow = false;
  m_pending_db = 0;
  m_delivery_depth = 0;
  m_vmx_nonroot = false;
  m_ctx = &m_tlb_ctx[0];
  m_blocks.select_front(0);
  flush_guest_tlb_context();
  if (m_vmx) m_vmx->reset();
  mode_changed();
  debug_regs_changed();
  flush_tlb(true);
}

void Core::signal_sipi(uint8_t vector) {
  m_sipi_pending = true;
  m_sipi_vector = vector;
  m_attention = true;
}

void Core::set_rflags(uint64_t v) {
  // Bits 3, 5, 15 and 22-63 are reserved and read as 0; bit 1 reads as 1 (SDM Vol. 1 §3.4.3).
  v = (v & 0x3f7fd5ull) | rflags::kFixed1;
  const uint64_t old = m_rflags_other;
  flags.set_arith(v);
  m_rflags_other = (v & ~rflags::kArith) | rflags::kFixed1;
  if ((old ^ m_rflags_other) & (rflags::kVm | rflags::kAc)) mode_changed();
  if ((m_rflags_other & rflags::kIf) && !(old & rflags::kIf)) m_attention = true;
  if (m_rflags_other & rflags::kTf) m_attention = true;
}

void Core::update_seg_base(unsigned seg) {
  // 64-bit mode uses only the FS and GS bases (SDM Vol. 1 §3.4.2.1).
  const bool flat = (s.efer & efer::kLma) && (s.seg[kCs].ar & ar::kL) && seg != kFs && seg != kGs;
  m_seg_base[seg] = flat ? 0 : s.seg[seg].base;
}

uint64_t Core::reg_sized(unsigned r, unsigned size) const {
  switch (size) {
    case 1: return reg<1>(r);
    case 2: return reg<2>(r);
    case 4: return reg<4>(r);
    default: return reg<8>(r);
  }
}

void Core::set_reg_sized(unsigned r, unsigned size, uint64_t v) {
  switch (size) {
    case 1: set_reg<1>(r, v); break;
    case 2: set_reg<2>(r, v); break;
    case 4: set_reg<4>(r, v); break;
    default: set_reg<8>(r, v); break;
  }
}

void Core::set_cpl(unsigned cpl) {
  if (cpl == m_cpl) return;
  m_cpl = cpl;
  mode_changed();
}

void Core::mode_changed() {
  const bool lma = s.efer & efer::kLma;
  const bool cs_l = lma && (s.seg[kCs].ar & ar::kL);
  const bool v86 = m_rflags_other & rflags::kVm;
  if (!(s.cr0 & cr0::kPe))
    m_cpl = 0;
  else if (v86)
    m_cpl = 3;
  for (unsigned i = 0; i < kNumSegs; ++i) update_seg_base(i);
  m_seg_base[kSegNone] = 0;
  m_lin_mask = cs_l ? ~0ull : 0xffffffffull;
  DecodeMode dm;
  if (cs_l)
    dm = DecodeMode::k64;
  else if (!(s.cr0 & cr0::kPe) || v86)
    dm = DecodeMode::kReal16;
  else
    dm = (s.seg[kCs].ar & ar::kDb) ? DecodeMode::k32 : DecodeMode::k16;
  m_decode_mode = dm;
  m_stack32 = (s.seg[kSs].ar & ar::kDb) != 0;
  // The mode key separates blocks whose decoding or fetch permissions differ.
  m_mode_key = static_cast<uint32_t>(dm) | (m_stack32 ? 4u : 0u) | (m_cpl == 3 ? 8u : 0u);
  m_align_check = m_cpl == 3 && (s.cr0 & cr0::kAm) && (m_rflags_other & rflags::kAc);
  select_fast_tlb();
}

uint64_t Core::tsc_for_software() const {
  return VMXSIM_UNLIKELY(m_vmx_nonroot) ? m_vmx->guest_tsc(tsc()) : tsc();
}

uint64_t Core::next_internal_event() const {
  return m_vmx_nonroot ? m_vmx->preemption_deadline() : ~0ull;
}

bool Core::interrupt_wakes_halt() const {
  return (m_rflags_other & rflags::kIf) || (m_vmx_nonroot && m_vmx->external_interrupts_exit()) ||
         (in_mwait() && m_mwait_break_masked);
}

uint64_t Core::tsc() const {
  // The TSC runs at tsc_hz while the core runs at core_hz; both derive from simulated cycles.
  const unsigned __int128 t =
      static_cast<unsigned __int128>(m_cycles) * m_params.tsc_hz / m_params.core_hz;
  return static_cast<uint64_t>(t) + s.tsc_offset;
}

void Core::count_unimplemented(uint16_t mnemonic) {
  ++m_unimplemented;
  if (m_unimplemented <= 8)
    std::fprintf(stderr, "vmxsim: cpu%u: unimplemented instruction %s at rip=%#llx (raising #UD)\n",
                 m_params.apic_id, ZydisMnemonicGetString(static_cast<ZydisMnemonic>(mnemonic)),
                 static_cast<unsigned long long>(s.rip));
}

void Core::halt() {
  m_activity = ActivityState::kHalted;
  m_in_mwait = false;
  ++m_halts;
  m_break_block = true;
}

void Core::enter_shutdown(const char* why) {
  m_activity = ActivityState::kShutdown;
  m_shutdown_reason = why;
  m_break_block = true;
  m_env.triple_fault(why);
}

// Builds the block that starts at the current RIP.
const Block* Core::lookup_block() {
  const uint64_t lin = (m_seg_base[kCs] + s.rip) & m_lin_mask;
  if (const Block* b = m_blocks.front_lookup(lin, m_mode_key)) {
    ++m_block_lookups_fast;
    return b;
  }
  ++m_block_lookups_slow;
  if (!in_64bit_mode() && s.rip > s.seg[kCs].limit) raise_gp0();
  const uint64_t phys = translate(lin, kAccessExec);
  if (const Block* b = m_blocks.find(phys, m_mode_key)) {
    m_blocks.front_insert(lin, m_mode_key, b);
    return b;
  }
  const Block* b = build_block(lin, phys);
  m_blocks.front_insert(lin, m_mode_key, b);
  return b;
}

const Block* Core::build_block(uint64_t lin, uint64_t phys) {
  auto b = std::make_unique<Block>();
  b->phys = phys;
  b->mode_key = m_mode_key;
  uint64_t cur_lin = lin;
  uint64_t cur_phys = phys;
  uint64_t rip = s.rip;
  const uint64_t page_end = (phys & ~0xfffull) + 4096;
  while (b->ops.size() < m_params.max_block_ops) {
    uint8_t bytes[16];
    const size_t on_page = std::min<uint64_t>(15, page_end - cur_phys);
    fetch_phys(cur_phys, bytes, on_page);
    DecodedOp op;
    Decoder::Result r = m_decoder->decode(bytes, on_page, m_decode_mode, m_stack32, op);
    if (r == Decoder::Result::kNeedMoreBytes) {
      // The instruction crosses into the next page: it may only start a block of its own,
      // because the next page needs its own translation (which may fault).
      if (!b->ops.empty()) break;
      const uint64_t next_lin = (cur_lin + on_page) & m_lin_mask;
      if (!in_64bit_mode() && rip + on_page > s.seg[kCs].limit) raise_gp0();
      const uint64_t phys2 = translate(next_lin, kAccessExec);
      fetch_phys(phys2, bytes + on_page, 15 - on_page);
      r = m_decoder->decode(bytes, 15, m_decode_mode, m_stack32, op);
      b->phys2 = phys2 & ~0xfffull;
      m_code_map.mark_code(phys2 & ~0xfffull, op.len - on_page);
    }
    op.cycles = m_params.latency[static_cast<int>(op.tclass)];
    b->cycles += op.cycles;
    b->ops.push_back(op);
    cur_lin += op.len;
    cur_phys += op.len;
    rip += op.len;
    if (op.ends_block() || r == Decoder::Result::kInvalid || cur_phys >= page_end) break;
  }
  // With timing on, the block's base cycles come from the scheduler, not the sum of latencies.
  if (m_timing) b->cycles = timing::schedule_block(b->ops, m_params.latency, m_params.timing, &b->flow);
  b->phys_end = std::min(cur_phys, page_end);
  m_code_map.mark_code(phys, b->phys_end - phys);
  ++m_blocks_decoded;
  return m_blocks.insert(std::move(b));
}

void Core::fetch_phys(uint64_t paddr, uint8_t* dst, size_t n) {
  if (uint8_t* page = m_env.dmi_page(paddr, false)) {
    std::memcpy(dst, page + (paddr & 0xfff), n);
    return;
  }
  Cycles stall = 0;
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(m_env.phys_read(paddr + i, 1, stall));
  m_cycles += stall;
}

void Core::trace_instruction(const DecodedOp& op) const {
  std::fprintf(stderr, "cpu%u %04x:%016llx %-10s rax=%llx rcx=%llx rdx=%llx rbx=%llx rsp=%llx rflags=%llx\n",
               m_params.apic_id, s.seg[kCs].selector, static_cast<unsigned long long>(s.rip),
               ZydisMnemonicGetString(static_cast<ZydisMnemonic>(op.mnemonic)),
               static_cast<unsigned long long>(s.gpr[kRax]), static_cast<unsigned long long>(s.gpr[kRcx]),
               static_cast<unsigned long long>(s.gpr[kRdx]), static_cast<unsigned long long>(s.gpr[kRbx]),
               static_cast<unsigned long long>(s.gpr[kRsp]), static_cast<unsigned long long>(rflags()));
}

void Core::execute_block(const Block& b, unsigned max_ops) {
  if (m_timing) return execute_block_timed(b, max_ops);
  if (VMXSIM_UNLIKELY(m_params.trace_instructions)) max_ops = 1;
  const DecodedOp* op = b.ops.data();
  const DecodedOp* const end = op + std::min<size_t>(b.ops.size(), max_ops);
  m_cur_block = &b;
  m_cur_op = op;
  Cycles cycles = 0;
  for (; op != end; ++op) {
    m_cur_op = op;
    if (VMXSIM_UNLIKELY(m_params.trace_instructions)) trace_instruction(*op);
    s.gpr[kRegNextRip] = s.rip + op->len;
    op->fn(*this, *op);
    s.rip = s.gpr[kRegNextRip];
    cycles += op->cycles;
    if (VMXSIM_UNLIKELY(m_break_block)) {
      if (VMXSIM_UNLIKELY(m_switch != ContextSwitch::kNone)) return end_switched_block(b, op, cycles - op->cycles);
      ++op;
      break;
    }
  }
  m_instructions += static_cast<uint64_t>(op - b.ops.data());
  m_cycles += cycles;
  m_cur_block = nullptr;
}

void Core::end_switched_block(const Block& b, const DecodedOp* op, Cycles cycles) {
  const bool retired = m_switch == ContextSwitch::kRetired;
  m_instructions += static_cast<uint64_t>(op - b.ops.data()) + (retired ? 1 : 0);
  m_cycles += cycles + (retired ? op->cycles : 0);
  m_cur_block = nullptr;
}

void Core::after_context_switch() {
  m_switch = ContextSwitch::kNone;
  m_delivering_fault = false;
  m_step_rule = StepRule::kNormal;
}

StopReason Core::run(Cycles until) {
  m_until = until;
  m_blocks.free_retired();
  while (m_cycles < m_until) {
    try {
      // A guest's VMX-preemption timer expires at a block boundary.
      if (VMXSIM_UNLIKELY(m_vmx_nonroot) && m_cycles >= m_vmx->preemption_deadline()) m_attention = true;
      if (VMXSIM_UNLIKELY(m_attention)) {
        handle_attention();
        if (VMXSIM_UNLIKELY(m_switch != ContextSwitch::kNone)) {  // an event became a VM exit
          after_context_switch();
          continue;
        }
        if (m_stop_requested) {
          m_stop_requested = false;
          return StopReason::kRequested;
        }
      }
      if (m_activity != ActivityState::kActive) {
        switch (m_activity) {
          case ActivityState::kHalted:
            if (VMXSIM_UNLIKELY(m_in_mwait) && mwait_ended()) continue;
            return StopReason::kHalted;
          case ActivityState::kWaitForSipi: return StopReason::kWaitForSipi;
          default: return StopReason::kShutdown;
        }
      }
      m_break_block = false;
      try {
        const Block* b = lookup_block();
        ++m_blocks_executed;
        // An interrupt shadow (STI, MOV SS), RFLAGS.TF or RF, or an armed instruction breakpoint:
        // the debug path (instruction granularity where needed, cpu/debug.cc).
        // A guest under the monitor trap flag also runs one instruction at a time.
        const bool step = m_rflags_other & (rflags::kTf | rflags::kRf);
        const bool mtf = VMXSIM_UNLIKELY(m_vmx_nonroot) && m_vmx->mtf_enabled();
        if (VMXSIM_LIKELY(!m_interrupt_shadow && !step && !m_bp_exec_mask && !mtf)) {
          execute_block(*b, ~0u);
          if (VMXSIM_UNLIKELY(m_step_rule != StepRule::kNormal) && !context_switched()) after_single_step(false);
        } else {
          execute_debug(*b);
          if (mtf && m_vmx_nonroot && !context_switched()) m_vmx->after_guest_instruction();
        }
        if (VMXSIM_UNLIKELY(m_switch != ContextSwitch::kNone)) after_context_switch();
      } catch (const GuestFault& f) {
        retire_partial_block(false);
        handle_fault(f);
        // Under the monitor trap flag the MTF exit follows the delivery of the fault.
        if (VMXSIM_UNLIKELY(m_vmx_nonroot) && m_vmx->mtf_enabled()) m_vmx->after_guest_instruction();
      }
    } catch (const vmx::VmxTransition& t) {
      // A VM entry or exit switched the core to another context in the middle of a block (or
      // of an event delivery): account the retired part and continue at the new RIP.
      retire_partial_block(t.retired);
      after_context_switch();
    }
  }
  return StopReason::kQuantum;
}

// Retired instructions of an interrupted block count up to the current one, which counts only
// when it completed (`current_retired`); faults and VM exits leave RIP at the instruction.
void Core::retire_partial_block(bool current_retired) {
  if (!m_cur_block) return;
  const DecodedOp* end = m_cur_op + (current_retired ? 1 : 0);
  m_instructions += static_cast<uint64_t>(end - m_cur_block->ops.data());
  for (const DecodedOp* p = m_cur_block->ops.data(); p != end; ++p) m_cycles += p->cycles;
  m_cur_block = nullptr;
}

void Core::register_stats(StatRegistry& st, const std::string& p) {
  st.add_counter(p + ".instructions", "instructions", "instructions retired", &m_instructions);
  st.add_counter(p + ".cycles", "cycles", "simulated core cycles (including halted time)", &m_cycles);
  st.add_counter(p + ".halted_cycles", "cycles", "cycles spent in HLT or MWAIT", &m_halted_cycles);
  st.add_counter(p + ".halts", "events", "HLT instructions executed", &m_halts);
  st.add_counter(p + ".mwaits", "events", "MWAITs that waited (the monitor was armed)", &m_mwaits);
  st.add_counter(p + ".blocks_executed", "blocks", "basic blocks executed", &m_blocks_executed);
  st.add_counter(p + ".blocks_decoded", "blocks", "basic blocks decoded (block-cache misses)", &m_blocks_decoded);
  st.add_counter(p + ".block_lookups_fast", "lookups", "block lookups hit in the RIP front cache", &m_block_lookups_fast);
  st.add_counter(p + ".block_lookups_slow", "lookups", "block lookups that needed a translation", &m_block_lookups_slow);
  st.add_counter(p + ".smc_invalidations", "blocks", "blocks invalidated by writes to code", &m_smc_invalidations);
  st.add_counter(p + ".tlb_misses", "misses", "fast-TLB misses (slow-path translations)", &m_tlb_misses);
  st.add_counter(p + ".page_walks", "walks", "page-table walks", &m_page_walks);
  st.add_counter(p + ".unimplemented", "instructions", "instructions without an implementation (raised #UD)", &m_unimplemented);
  st.add_vector(p + ".exceptions", "events", "exceptions delivered, by vector", m_exceptions, 32,
                [](size_t i) { return "vec" + std::to_string(i); });
  st.add_vector(p + ".interrupts", "events", "external interrupts delivered, by vector", m_interrupts, 256,
                [](size_t i) { return "vec" + std::to_string(i); });
  const uint64_t* ins = &m_instructions;
  const uint64_t* blocks = &m_blocks_executed;
  const uint64_t* decoded = &m_blocks_decoded;
  const uint64_t* cyc = &m_cycles;
  const uint64_t* halted = &m_halted_cycles;
  st.add_formula(p + ".decode_cache_hit_rate", "%", "blocks executed without decoding",
                 [=] { return *blocks ? 100.0 * (1.0 - double(*decoded) / double(*blocks)) : 0.0; });
  st.add_formula(p + ".cpi", "cycles/instruction", "cycles per instruction while not halted",
                 [=] { return *ins ? double(*cyc - *halted) / double(*ins) : 0.0; });
  if (m_timing) m_timing->register_stats(st, p, &m_instructions);
  if (m_params.features.vmx) m_vmx->register_stats(st, p);
}

}  // namespace vmxsim::cpu
