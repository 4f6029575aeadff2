#include "cpu/timing/timing_config.h"

#include <string>

#include "sim/config.h"

namespace vmxsim::cpu::timing {

namespace {

uint32_t u32(Config& cfg, const std::string& key, uint64_t def, const char* unit, const std::string& desc,
             uint64_t min, uint64_t max) {
  return static_cast<uint32_t>(cfg.declare_uint(key, def, unit, desc, min, max));
}

CacheParams cache(Config& cfg, const std::string& name, const std::string& what, uint32_t size,
                  uint32_t ways, uint32_t latency) {
  const std::string k = "system.cpu." + name;
  CacheParams c;
  c.size_bytes = u32(cfg, k + ".size", size, "bytes", what + " capacity (0: absent)", 0, 1u << 31);
  c.ways = u32(cfg, k + ".ways", ways, "ways", what + " associativity", 1, 64);
  c.line_bytes = u32(cfg, k + ".line", 64, "bytes", what + " line size", 16, 256);
  c.latency = u32(cfg, k + ".latency", latency, "cycles", what + " load-to-use latency on a hit", 0, 10000);
  return c;
}

TlbParams tlb(Config& cfg, const std::string& name, const std::string& what, uint32_t entries,
              uint32_t ways) {
  const std::string k = "system.cpu." + name;
  TlbParams t;
  t.entries = u32(cfg, k + ".entries", entries, "entries", what + " entries (0: absent)", 0, 1u << 20);
  t.ways = u32(cfg, k + ".ways", ways, "ways", what + " associativity (0: fully associative)", 0, 1u << 20);
  return t;
}

}  // namespace

TimingParams declare_timing_params(Config& cfg) {
  TimingParams p;
  p.enabled = cfg.declare_bool("system.cpu.timing_model", false,
                               "cache, TLB and branch-predictor timing models (off: one latency per "
                               "instruction class and nothing else, the fastest mode)");
  // Defaults: Skylake client (Intel optimization manual Table 2-5/2-6, 7-cpu.com).
  p.l1i = cache(cfg, "l1i", "L1 instruction cache", 32 << 10, 8, 4);
  p.l1d = cache(cfg, "l1d", "L1 data cache", 32 << 10, 8, 4);
  p.l2 = cache(cfg, "l2", "L2 cache", 256 << 10, 4, 12);
  p.llc = cache(cfg, "llc", "last-level cache", 8 << 20, 16, 42);
  p.memory_latency = u32(cfg, "system.cpu.memory_latency", 250, "cycles",
                         "load-to-use latency of an access that misses every cache level", 0, 100000);
  p.prefetch_streams = u32(cfg, "system.cpu.prefetch_streams", 16, "streams",
                           "sequential miss streams the L2 stream prefetcher tracks (0: no prefetcher)", 0, 1024);
  p.itlb_4k = tlb(cfg, "itlb", "L1 instruction TLB (4 KiB pages)", 128, 8);
  p.itlb_2m = tlb(cfg, "itlb_2m", "L1 instruction TLB (2 MiB pages)", 8, 0);
  p.dtlb_4k = tlb(cfg, "dtlb", "L1 data TLB (4 KiB pages)", 64, 4);
  p.dtlb_2m = tlb(cfg, "dtlb_2m", "L1 data TLB (2 MiB pages)", 32, 4);
  p.dtlb_1g = tlb(cfg, "dtlb_1g", "L1 data TLB (1 GiB pages)", 4, 0);
  p.stlb = tlb(cfg, "stlb", "second-level TLB (4 KiB and 2 MiB pages)", 1536, 12);
  p.stlb_latency = u32(cfg, "system.cpu.stlb.latency", 9, "cycles",
                       "extra cycles of an L1 TLB miss that hits the STLB", 0, 10000);
  p.walk_latency = u32(cfg, "system.cpu.walk.latency", 0, "cycles",
                       "fixed page-walker overhead per walk, beyond its memory references", 0, 10000);
  p.pwc_entries = u32(cfg, "system.cpu.pwc.entries", 32, "entries",
                      "page-walk cache entries per upper paging level (PML4E, PDPTE, PDE; 0: none)", 0, 1u << 16);
  p.pwc_latency = u32(cfg, "system.cpu.pwc.latency", 1, "cycles",
                      "cycles of a walk step served by a page-walk cache", 0, 1000);
  p.bp_table_bits = u32(cfg, "system.cpu.bp.table_bits", 14, "bits",
                        "gshare table size: 2^bits two-bit counters", 1, 28);
  p.bp_history_bits = u32(cfg, "system.cpu.bp.history_bits", 14, "bits",
                          "gshare global-history length", 0, 64);
  p.mispredict_penalty = u32(cfg, "system.cpu.bp.mispredict_penalty", 16, "cycles",
                             "cycles lost per mispredicted branch", 0, 10000);
  p.btb_entries = u32(cfg, "system.cpu.bp.btb_entries", 1024, "entries",
                      "indirect-branch target cache entries (direct mapped; 0: always mispredict)", 0, 1u << 24);
  p.ras_entries = u32(cfg, "system.cpu.bp.ras_entries", 16, "entries",
                      "return-address stack depth (0: returns always mispredict)", 0, 1024);
  p.issue_width = u32(cfg, "system.cpu.issue_width", 4, "instructions",
                      "instructions issued per cycle by the block scheduler", 1, 64);
  p.memory_parallelism = u32(cfg, "system.cpu.memory_parallelism", 8, "misses",
                             "independent cache misses in flight: their latency is divided by this", 1, 256);
  return p;
}

}  // namespace vmxsim::cpu::timing
