// What the CPU profile decides for the timing models (ARCHITECTURE §3): cache, TLB, page-walk
// cache and branch-predictor geometry and latencies, and the issue/overlap factors of the block
// scheduler. Filled from the system.cpu.* keys (timing_config.cc); `enabled == false` (the
// `functional` profile) skips every model.
#pragma once

#include <cstdint>

namespace vmxsim::cpu::timing {

// A tags-only cache level. size_bytes == 0: the level is absent.
struct CacheParams {
  uint32_t size_bytes = 0;
  uint32_t ways = 1;
  uint32_t line_bytes = 64;
  uint32_t latency = 0;  // load-to-use cycles when the access hits here
};

// A TLB structure. ways == 0: fully associative. entries == 0: absent.
struct TlbParams {
  uint32_t entries = 0;
  uint32_t ways = 0;
};

struct TimingParams {
  bool enabled = false;

  CacheParams l1i, l1d, l2, llc;
  uint32_t memory_latency = 200;  // cycles for an access that misses every level
  // Stream prefetcher: a data miss to the line after a recent miss (one of this many tracked
  // streams) finds the line already fetched into the L2. 0: no prefetcher.
  uint32_t prefetch_streams = 16;

  TlbParams itlb_4k, itlb_2m;           // first-level instruction TLBs
  TlbParams dtlb_4k, dtlb_2m, dtlb_1g;  // first-level data TLBs
  TlbParams stlb;                       // unified second level (4 KiB and 2 MiB entries)
  uint32_t stlb_latency = 7;            // extra cycles for an L1 TLB miss that hits the STLB
  uint32_t walk_latency = 0;            // fixed page-walker overhead per walk, beyond references
  // Page-walk caches: entries per upper level (PML4E, PDPTE, PDE), fully associative.
  uint32_t pwc_entries = 0;
  uint32_t pwc_latency = 1;             // cycles for a reference served by a page-walk cache

  // gshare: 2^bp_table_bits two-bit counters indexed by (pc ^ global history).
  uint32_t bp_table_bits = 12;
  uint32_t bp_history_bits = 12;
  uint32_t mispredict_penalty = 15;
  uint32_t btb_entries = 512;           // indirect-target cache (direct mapped); 0: none
  uint32_t ras_entries = 16;            // return-address stack; 0: none

  // Block scheduler: ops issued per cycle, and how many independent misses overlap (an
  // independent load or store miss costs its latency divided by this).
  uint32_t issue_width = 4;
  uint32_t memory_parallelism = 1;
};

}  // namespace vmxsim::cpu::timing
