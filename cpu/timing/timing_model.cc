#include "cpu/timing/timing_model.h"

#include <algorithm>

#include "sim/stats.h"

namespace vmxsim::cpu::timing {

TimingModel::TimingModel(const TimingParams& p, WalkSource& walker)
    : m_params(p),
      m_caches(m_params),
      m_tlb(m_params, m_caches, walker),
      m_bp(m_params),
      m_l1i_latency(p.l1i.latency),
      m_l1d_latency(p.l1d.latency),
      m_mispredict_penalty(p.mispredict_penalty),
      m_mlp(std::max<uint32_t>(1, p.memory_parallelism)),
      m_width(std::max<uint32_t>(1, p.issue_width)) {}

Cycles TimingModel::flow(const uint32_t* f, size_t n) {
  const uint64_t before = m_frontier;
  uint64_t issue = m_width.divide(m_issue_x);
  if (issue + kWindowCycles < m_frontier) issue = m_frontier - kWindowCycles;
  const uint64_t w = m_width.divisor();
  m_issue_x = std::max(m_issue_x, issue * w) + f[0];
  uint64_t end = std::max(m_frontier, m_width.divide(m_issue_x + w - 1));
  // New ready times are computed from the old ones first (a block reads its inputs before it
  // writes its outputs), then stored.
  uint64_t ready[17];
  unsigned reg[17], k = 0;
  for (size_t i = 2; i < n && k < 17;) {
    const uint32_t h = f[i++];
    uint64_t t = issue + ((h >> 8) & 0xffff);
    for (uint32_t d = h >> 24; d > 0 && i < n; --d) {
      const uint32_t w = f[i++];
      t = std::max(t, m_ready[w & 0xff] + (w >> 8));
    }
    reg[k] = h & 0xff;
    ready[k++] = t;
    end = std::max(end, t);
  }
  for (unsigned j = 0; j < k; ++j) m_ready[reg[j]] = ready[j];
  if (f[1]) {
    // Serializing: everything in flight completes, then the instruction runs alone.
    for (uint64_t r : m_ready) end = std::max(end, r);
    end += f[1];
    for (uint64_t& r : m_ready) r = end;
    m_issue_x = end * w;
  }
  m_frontier = end;
  return end - before;
}

void TimingModel::register_stats(StatRegistry& st, const std::string& prefix,
                                 const uint64_t* instructions) {
  const std::string p = prefix + ".timing";
  const uint64_t* ins = instructions;
  auto mpki = [ins](const uint64_t* misses) {
    return [ins, misses] { return *ins ? 1000.0 * double(*misses) / double(*ins) : 0.0; };
  };
  auto rate = [](const uint64_t* hits, const uint64_t* misses) {
    return [hits, misses] {
      const double n = double(*hits) + double(*misses);
      return n > 0 ? 100.0 * double(*hits) / n : 0.0;
    };
  };
  auto level = [&](const std::string& name, const uint64_t* hits, const uint64_t* misses,
                   const std::string& what) {
    st.add_counter(p + "." + name + ".hits", "accesses", what + " hits", hits);
    st.add_counter(p + "." + name + ".misses", "accesses", what + " misses", misses);
    st.add_formula(p + "." + name + ".hit_rate", "%", what + " hit rate", rate(hits, misses));
    st.add_formula(p + "." + name + ".mpki", "misses/kinstr", what + " misses per 1000 instructions",
                   mpki(misses));
  };
  static const char* const kCacheNames[] = {"l1i", "l1d", "l2", "llc"};
  for (unsigned l = 0; l < CacheHierarchy::kLevels; ++l) {
    const CacheLevelStats& s = m_caches.stats(static_cast<CacheHierarchy::Level>(l));
    level(kCacheNames[l], &s.hits, &s.misses, std::string(kCacheNames[l]) + " cache");
  }
  st.add_counter(p + ".memory_accesses", "accesses", "accesses that missed every cache level",
                 m_caches.memory_accesses_ptr());
  st.add_counter(p + ".prefetch_hits", "accesses", "L1D misses served from the L2 by the stream prefetcher",
                 m_caches.prefetch_hits_ptr());

  const TlbStats& t = m_tlb.stats();
  level("itlb", &t.l1i_hits, &t.l1i_misses, "first-level instruction TLB");
  level("dtlb", &t.l1d_hits, &t.l1d_misses, "first-level data TLB");
  level("stlb", &t.stlb_hits, &t.stlb_misses, "second-level TLB");
  st.add_counter(p + ".walks", "walks", "page walks of the timing TLB", &t.walks);
  st.add_counter(p + ".walk_refs", "references", "page-table references charged through the caches", &t.walk_refs);
  st.add_counter(p + ".pwc_hits", "walks", "walks shortened by a page-walk cache", &t.pwc_hits);
  st.add_counter(p + ".walk_cycles", "cycles", "cycles of page walks", &t.walk_cycles);
  st.add_counter(p + ".stlb_cycles", "cycles", "cycles of STLB hits", &t.stlb_cycles);
  st.add_counter(p + ".asid_reuses", "contexts",
                 "guest translation contexts whose TLB entries made room for another's", &t.asid_reuses);
  st.add_counter(p + ".pcid_reuses", "PCIDs",
                 "PCIDs whose TLB entries made room for another PCID's", &t.pcid_reuses);

  const BranchStats& b = m_bp.stats();
  st.add_counter(p + ".branch.conditional", "branches", "conditional branches", &b.conditional);
  st.add_counter(p + ".branch.conditional_mispredicts", "branches", "mispredicted conditional branches", &b.conditional_mispredicts);
  st.add_counter(p + ".branch.indirect", "branches", "indirect jumps and calls", &b.indirect);
  st.add_counter(p + ".branch.indirect_mispredicts", "branches", "mispredicted indirect jumps and calls", &b.indirect_mispredicts);
  st.add_counter(p + ".branch.returns", "branches", "returns", &b.returns);
  st.add_counter(p + ".branch.return_mispredicts", "branches", "mispredicted returns", &b.return_mispredicts);
  const uint64_t* cm = &b.conditional_mispredicts;
  const uint64_t* im = &b.indirect_mispredicts;
  const uint64_t* rm = &b.return_mispredicts;
  st.add_formula(p + ".branch.mpki", "mispredicts/kinstr", "branch mispredictions per 1000 instructions",
                 [=] { return *ins ? 1000.0 * double(*cm + *im + *rm) / double(*ins) : 0.0; });

  // The CPI stack: each component's cycles per instruction; they sum to the timed CPI.
  const struct {
    const char* name;
    const uint64_t* cycles;
    const char* desc;
  } parts[] = {
      {"base", &m_cpi.base, "scheduled cycles of non-serializing instructions"},
      {"serializing", &m_cpi.serializing, "serializing and system instruction latencies"},
      {"ifetch", &m_cpi.ifetch, "instruction-cache miss stalls"},
      {"data", &m_cpi.data, "data-cache miss stalls"},
      {"tlb", &m_cpi.tlb, "STLB hits and page walks"},
      {"branch", &m_cpi.branch, "branch misprediction penalties"},
  };
  for (const auto& part : parts) {
    st.add_counter(p + ".cycles." + part.name, "cycles", part.desc, part.cycles);
    const uint64_t* c = part.cycles;
    st.add_formula(p + ".cpi_stack." + part.name, "cycles/instruction",
                   std::string("CPI stack: ") + part.desc,
                   [ins, c] { return *ins ? double(*c) / double(*ins) : 0.0; });
  }
}

}  // namespace vmxsim::cpu::timing
