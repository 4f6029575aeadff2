// A set-associative array of tags with exact LRU replacement: the common shape of every cache
// level, TLB and page-walk cache in the timing model. Each set keeps its ways in recency order
// (way 0 is the most recently used), so the usual hit — the line or page touched a moment ago —
// is found by the first compare, and a fully associative structure is one set of N ways.
// Tags are opaque 64-bit values; ~0 marks an empty way. TLBs keep a marker in bit 63 (global
// pages) that lookups ignore: set_compare_mask(~kMarker).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace vmxsim::cpu::timing {

class LruTags {
 public:
  static constexpr uint64_t kEmpty = ~0ull;
  static constexpr uint64_t kMarker = 1ull << 63;

  LruTags() = default;
  // `entries` total, `ways` per set (0 or >= entries: fully associative). entries == 0: the
  // structure is absent and every lookup misses.
  LruTags(uint32_t entries, uint32_t ways) { configure(entries, ways); }

  void configure(uint32_t entries, uint32_t ways) {
    if (entries == 0) {
      m_sets = m_ways = 0;
      m_tags.clear();
      return;
    }
    if (ways == 0 || ways > entries) ways = entries;
    m_ways = ways;
    m_sets = std::max<uint32_t>(1, entries / ways);
    m_pow2 = (m_sets & (m_sets - 1)) == 0;
    m_tags.assign(static_cast<size_t>(m_sets) * m_ways, kEmpty);
  }
  void set_compare_mask(uint64_t m) { m_cmp = m; }
  bool present() const { return m_ways != 0; }
  uint32_t sets() const { return m_sets; }
  uint32_t ways() const { return m_ways; }

  // Hit: the tag becomes most recently used. Miss: nothing changes.
  bool lookup(uint64_t tag) {
    if (!m_ways) return false;
    uint64_t* set = set_of(tag);
    for (uint32_t w = 0; w < m_ways; ++w) {
      if ((set[w] & m_cmp) == tag) {
        const uint64_t t = set[w];
        std::move_backward(set, set + w, set + w + 1);
        set[0] = t;
        return true;
      }
    }
    return false;
  }
  // lookup() that only a marked tag (a global page) satisfies.
  bool lookup_marked(uint64_t tag) {
    if (!m_ways) return false;
    uint64_t* set = set_of(tag);
    for (uint32_t w = 0; w < m_ways; ++w) {
      if ((set[w] & m_cmp) == tag && (set[w] & kMarker)) {
        const uint64_t t = set[w];
        std::move_backward(set, set + w, set + w + 1);
        set[0] = t;
        return true;
      }
    }
    return false;
  }
  // Installs `tag` as most recently used, evicting the least recently used way.
  void insert(uint64_t tag) {
    if (!m_ways) return;
    uint64_t* set = set_of(tag);
    std::move_backward(set, set + m_ways - 1, set + m_ways);
    set[0] = tag;
  }
  // lookup(), and insert() on a miss. Returns whether it hit.
  bool access(uint64_t tag) {
    if (lookup(tag)) return true;
    insert(tag);
    return false;
  }
  // Drops every way that matches `tag` (a page may sit in a set twice, marked and unmarked);
  // the other ways keep their order.
  void erase(uint64_t tag) {
    if (!m_ways) return;
    uint64_t* set = set_of(tag);
    uint32_t keep = 0;
    for (uint32_t w = 0; w < m_ways; ++w)
      if ((set[w] & m_cmp) != tag) set[keep++] = set[w];
    std::fill(set + keep, set + m_ways, kEmpty);
  }
  // Drops every tag for which `drop(tag)` is true.
  template <typename Pred>
  void erase_if(Pred drop) {
    for (uint32_t s = 0; s < m_sets; ++s) {
      uint64_t* set = &m_tags[static_cast<size_t>(s) * m_ways];
      uint32_t keep = 0;
      for (uint32_t w = 0; w < m_ways; ++w)
        if (set[w] != kEmpty && !drop(set[w])) set[keep++] = set[w];
      std::fill(set + keep, set + m_ways, kEmpty);
    }
  }
  void clear() { std::fill(m_tags.begin(), m_tags.end(), kEmpty); }

 private:
  uint64_t* set_of(uint64_t tag) {
    tag &= m_cmp;
    const uint64_t s = m_pow2 ? (tag & (m_sets - 1)) : (tag % m_sets);
    return &m_tags[static_cast<size_t>(s) * m_ways];
  }

  uint32_t m_sets = 0, m_ways = 0;
  bool m_pow2 = true;
  uint64_t m_cmp = ~0ull;
  std::vector<uint64_t> m_tags;
};

}  // namespace vmxsim::cpu::timing
