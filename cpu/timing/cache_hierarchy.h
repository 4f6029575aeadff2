// Tags-only cache hierarchy of one core: L1I and L1D in front of a unified L2 and LLC, then
// memory. Physically indexed; no data, no coherence, no dirty state: an access looks the line up
// level by level, fills every level it missed on the way back (mostly-inclusive, as Intel client
// parts and AMD's L2 behave), and returns the load-to-use latency of the level that served it.
// Stores allocate like loads (write-allocate); whether their latency is exposed is the caller's
// decision (the store buffer usually hides it). A stream prefetcher (the L2 streamer of Intel
// and AMD cores) serves a data miss from the L2 when it continues a recent sequential miss stream.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/timing/lru_tags.h"
#include "cpu/timing/timing_params.h"

namespace vmxsim::cpu::timing {

struct CacheLevelStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class CacheHierarchy {
 public:
  enum Level : unsigned { kL1i, kL1d, kL2, kLlc, kLevels };

  explicit CacheHierarchy(const TimingParams& p);

  // Latency of the level that holds the line of `paddr`, starting at L1D (data and page-walk
  // references) or L1I (instruction fetch). Lines are filled into every level that missed.
  Cycles access_data(uint64_t paddr) {
    const uint64_t line = paddr >> m_line_shift;
    if (line == m_last_data_line) {  // still the MRU line of its L1D set: a hit, no change
      ++m_stats[kL1d].hits;
      return m_latency[kL1d];
    }
    m_last_data_line = line;
    return access_from(kL1d, line);
  }
  Cycles access_fetch(uint64_t paddr) {
    const uint64_t line = paddr >> m_line_shift;
    if (line == m_last_fetch_line) {
      ++m_stats[kL1i].hits;
      return m_latency[kL1i];
    }
    m_last_fetch_line = line;
    return access_from(kL1i, line);
  }
  Cycles latency(Level l) const { return m_latency[l]; }
  Cycles memory_latency() const { return m_memory_latency; }
  unsigned line_shift() const { return m_line_shift; }
  const CacheLevelStats& stats(Level l) const { return m_stats[l]; }
  CacheLevelStats& stats(Level l) { return m_stats[l]; }
  uint64_t memory_accesses() const { return m_memory_accesses; }
  const uint64_t* memory_accesses_ptr() const { return &m_memory_accesses; }
  uint64_t prefetch_hits() const { return m_prefetch_hits; }
  const uint64_t* prefetch_hits_ptr() const { return &m_prefetch_hits; }

 private:
  Cycles access_from(Level first, uint64_t line);
  bool prefetched(uint64_t line);

  LruTags m_tags[kLevels];
  Cycles m_latency[kLevels] = {};
  Cycles m_memory_latency = 0;
  unsigned m_line_shift = 6;
  uint64_t m_last_data_line = ~0ull;
  uint64_t m_last_fetch_line = ~0ull;
  CacheLevelStats m_stats[kLevels];
  uint64_t m_memory_accesses = 0;
  std::vector<uint64_t> m_streams;  // next expected miss line of each tracked stream
  unsigned m_stream_victim = 0;     // round-robin replacement
  uint64_t m_prefetch_hits = 0;
};

}  // namespace vmxsim::cpu::timing
