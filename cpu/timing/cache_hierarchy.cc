#include "cpu/timing/cache_hierarchy.h"

namespace vmxsim::cpu::timing {

namespace {
unsigned log2_floor(uint32_t v) {
  unsigned s = 0;
  while (v > 1) {
    v >>= 1;
    ++s;
  }
  return s;
}
}  // namespace

CacheHierarchy::CacheHierarchy(const TimingParams& p) {
  // One line size for the whole hierarchy (every x86 part since the Pentium 4 uses 64 bytes);
  // the L1D's is authoritative.
  m_line_shift = log2_floor(p.l1d.line_bytes ? p.l1d.line_bytes : 64);
  const CacheParams* levels[kLevels] = {&p.l1i, &p.l1d, &p.l2, &p.llc};
  for (unsigned l = 0; l < kLevels; ++l) {
    const CacheParams& c = *levels[l];
    m_tags[l].configure(c.size_bytes >> m_line_shift, c.ways);
    m_latency[l] = c.latency;
  }
  m_memory_latency = p.memory_latency;
  m_streams.assign(p.prefetch_streams, ~0ull);
}

// Whether `line` continues a tracked miss stream (and advances it); otherwise starts a stream.
bool CacheHierarchy::prefetched(uint64_t line) {
  if (m_streams.empty()) return false;
  for (uint64_t& next : m_streams) {
    if (next == line) {
      next = line + 1;
      return true;
    }
  }
  m_streams[m_stream_victim] = line + 1;
  m_stream_victim = (m_stream_victim + 1) % m_streams.size();
  return false;
}

Cycles CacheHierarchy::access_from(Level first, uint64_t line) {
  if (m_tags[first].present()) {
    if (m_tags[first].lookup(line)) {
      ++m_stats[first].hits;
      return m_latency[first];
    }
    ++m_stats[first].misses;
  }
  // A line the streamer fetched ahead is in the L2 by now (instruction fetch has its own
  // next-line logic, not modelled: code misses are rare in the loops that matter here).
  if (first == kL1d && prefetched(line)) {
    ++m_prefetch_hits;
    ++m_stats[kL2].hits;
    m_tags[kL2].access(line);
    m_tags[kLlc].access(line);
    m_tags[first].insert(line);
    return m_latency[kL2];
  }
  Cycles lat = m_memory_latency;
  bool served = false;
  for (unsigned l = kL2; l < kLevels; ++l) {
    if (!m_tags[l].present()) continue;
    if (m_tags[l].access(line)) {
      ++m_stats[l].hits;
      lat = m_latency[l];
      served = true;
      break;
    }
    ++m_stats[l].misses;
  }
  if (!served) ++m_memory_accesses;
  m_tags[first].insert(line);
  return lat;
}

}  // namespace vmxsim::cpu::timing
