// One core's timing model (ARCHITECTURE §3-§4): the cache hierarchy, the TLB hierarchy with
// page-walk caches, and the branch predictor of the CPU profile, plus the CPI-stack counters.
// The core creates it only when the profile turns timing on (system.cpu.timing_model), and then
// runs its blocks through a timed copy of the execution loop (cpu/timing/timed_execution.cc):
// the functional profile never touches any of this.
//
// Every charge function returns the stall in core cycles and books it in the CPI stack; the
// caller adds it to the core's cycle counter.
#pragma once

#include <cstdint>
#include <string>

#include "cpu/cpu_state.h"
#include "cpu/timing/branch_predictor.h"
#include "cpu/timing/cache_hierarchy.h"
#include "cpu/timing/divider.h"
#include "cpu/timing/timing_params.h"
#include "cpu/timing/tlb_model.h"

namespace vmxsim {
class StatRegistry;
}

namespace vmxsim::cpu::timing {

// Where the cycles went (each stall is booked once, in the first component that applies).
struct CpiStack {
  uint64_t base = 0;         // scheduled block cycles of non-serializing instructions
  uint64_t serializing = 0;  // serializing/system instruction latencies
  uint64_t ifetch = 0;       // L1I misses
  uint64_t data = 0;         // L1D misses of loads and stores
  uint64_t tlb = 0;          // STLB hits and page walks (instruction and data side)
  uint64_t branch = 0;       // misprediction penalties
};

class TimingModel {
 public:
  TimingModel(const TimingParams& p, WalkSource& walker);

  // Instruction fetch of a block at linear `lin`, physical bytes [phys, phys_end).
  Cycles fetch(uint64_t lin, uint64_t phys, uint64_t phys_end) {
    Cycles tlb = m_tlb.fetch(lin);
    Cycles stall = 0;
    const unsigned sh = m_caches.line_shift();
    for (uint64_t line = phys >> sh; line <= (phys_end - 1) >> sh; ++line) {
      const Cycles lat = m_caches.access_fetch(line << sh);
      if (lat > m_l1i_latency) stall += lat - m_l1i_latency;
    }
    m_cpi.tlb += tlb;
    m_cpi.ifetch += stall;
    return tlb + stall;
  }
  // A load or store of the line holding `paddr` at linear `lin`. `dependent`: the address came
  // from a load, so the miss latency is fully exposed; otherwise misses overlap
  // (memory_parallelism at a time).
  Cycles data(uint64_t lin, uint64_t paddr, bool dependent) {
    const Cycles tlb = m_tlb.data(lin);
    m_cpi.tlb += tlb;
    return tlb + data_stall(paddr, dependent);
  }
  // A physical reference of the VMX unit (VMCS region fill and write-back, MSR lists, bitmaps,
  // the virtual-APIC page, the posted-interrupt descriptor): through the data caches, no TLB;
  // its misses overlap like independent loads. Booked as data time.
  Cycles physical(uint64_t paddr) { return data_stall(paddr, false); }
  // One page-table reference (paging-structure entry) at `paddr`: its full latency through the
  // data caches. Booked as TLB time. The VMX unit charges EPT references of a 2-D walk here.
  Cycles charge_walk_ref(uint64_t paddr) {
    const Cycles c = m_tlb.charge_walk_ref(paddr);
    m_cpi.tlb += c;
    return c;
  }
  // A branch resolved: returns the misprediction penalty or 0.
  Cycles branch(BranchKind kind, uint64_t pc, uint64_t target, uint64_t fallthrough) {
    if (!m_bp.resolve(kind, pc, target, fallthrough)) return 0;
    m_cpi.branch += m_mispredict_penalty;
    return m_mispredict_penalty;
  }
  // A whole block ran: advances the runtime dataflow by the block's summary (block_schedule.h)
  // and returns the cycles by which the completion frontier moved. Consecutive blocks overlap
  // where their register chains are independent; the front end runs at most kWindowCycles
  // ahead of completion (the reorder buffer's reach).
  Cycles flow(const uint32_t* summary, size_t n);
  // A block that stopped early was charged its ops' own cycles: completion moves by as much.
  void flow_skip(Cycles c) { m_frontier += c; }
  static constexpr Cycles kWindowCycles = 64;

  // TLB invalidations and PCID switches of the current translation context (tlb_model.h).
  void flush_tlb(bool include_global) { m_tlb.flush(include_global); }
  void flush_tlb_pcid(uint16_t pcid) { m_tlb.flush_pcid(pcid); }
  void flush_tlb_page(uint64_t lin) { m_tlb.flush_page(lin); }
  void flush_tlb_pcid_page(uint16_t pcid, uint64_t lin) { m_tlb.flush_pcid_page(pcid, lin); }
  void switch_pcid(uint16_t pcid) { m_tlb.switch_pcid(pcid); }
  // VMX translation contexts (tlb_model.h): the core now runs in `context` (0: the host, else
  // a guest with VPID) with PCID `pcid`, or INVVPID/INVEPT dropped every guest context's entries.
  void switch_tlb_context(uint64_t context, uint16_t pcid) { m_tlb.switch_context(context, pcid); }
  void flush_guest_tlb_contexts() { m_tlb.flush_guest_contexts(); }

  CpiStack& cpi() { return m_cpi; }
  const CacheHierarchy& caches() const { return m_caches; }
  const TlbModel& tlb() const { return m_tlb; }
  const BranchPredictor& predictor() const { return m_bp; }
  const TimingParams& params() const { return m_params; }

  // Statistics under `prefix` (system.cpuN): per-level hits/misses/MPKI, walks, mispredictions,
  // and the CPI stack as formulas over `instructions`.
  void register_stats(StatRegistry& st, const std::string& prefix, const uint64_t* instructions);

 private:
  TimingParams m_params;
  CacheHierarchy m_caches;
  TlbModel m_tlb;
  BranchPredictor m_bp;
  Cycles m_l1i_latency, m_l1d_latency, m_mispredict_penalty;
  Cycles m_mlp;
  CpiStack m_cpi;
  Cycles data_stall(uint64_t paddr, bool dependent) {
    const Cycles lat = m_caches.access_data(paddr);
    Cycles stall = 0;
    if (lat > m_l1d_latency) {
      stall = lat - m_l1d_latency;
      if (!dependent) stall /= m_mlp;
    }
    m_cpi.data += stall;
    return stall;
  }
  // Runtime dataflow: when each register's value is ready, the issue clock (in 1/issue_width
  // cycles) and the completion frontier, all in the model's own cycle count.
  uint64_t m_ready[17] = {};
  uint64_t m_issue_x = 0;
  uint64_t m_frontier = 0;
  Divider m_width;  // issue width
};

}  // namespace vmxsim::cpu::timing
