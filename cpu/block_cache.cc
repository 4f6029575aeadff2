#include "cpu/block_cache.h"

#include <algorithm>

namespace vmxsim::cpu {

const Block* BlockCache::find(uint64_t phys, uint32_t mode_key) const {
  auto it = m_by_key.find(key(phys, mode_key));
  if (it == m_by_key.end()) return nullptr;
  const Block* b = it->second.get();
  return (b->phys == phys && b->mode_key == mode_key) ? b : nullptr;
}

const Block* BlockCache::insert(std::unique_ptr<Block> b) {
  Block* raw = b.get();
  auto& slot = m_by_key[key(raw->phys, raw->mode_key)];
  if (slot) retire(slot.release());  // stale block under the same key
  slot = std::move(b);
  m_by_page[raw->phys >> 12].push_back(raw);
  if (raw->phys2 != ~0ull) m_by_page[raw->phys2 >> 12].push_back(raw);
  return raw;
}

void BlockCache::retire(Block* b) {
  b->valid = false;
  m_retired.emplace_back(b);
}

unsigned BlockCache::invalidate_range(uint64_t paddr, uint64_t len) {
  unsigned count = 0;
  const uint64_t end = paddr + len;
  for (uint64_t page = paddr >> 12; page <= (end - 1) >> 12; ++page) {
    auto pit = m_by_page.find(page);
    if (pit == m_by_page.end()) continue;
    std::vector<Block*>& list = pit->second;
    for (size_t i = 0; i < list.size();) {
      Block* b = list[i];
      const bool overlaps = !b->valid || (b->phys < end && paddr < b->phys_end) ||
                            (b->phys2 != ~0ull && (b->phys2 >> 12) == page);
      if (!overlaps) {
        ++i;
        continue;
      }
      list[i] = list.back();
      list.pop_back();
      if (!b->valid) continue;  // already retired through its other page
      auto kit = m_by_key.find(key(b->phys, b->mode_key));
      if (kit != m_by_key.end() && kit->second.get() == b) {
        kit->second.release();
        m_by_key.erase(kit);
        retire(b);
        ++count;
      }
    }
    if (list.empty()) m_by_page.erase(pit);
  }
  return count;
}

void BlockCache::invalidate_all() {
  for (auto& kv : m_by_key) retire(kv.second.release());
  m_by_key.clear();
  m_by_page.clear();
  flush_all_fronts();
}

void BlockCache::free_retired() {
  if (m_retired.empty()) return;
  // Front-cache entries (of any context) may still point at retired blocks: drop them all
  // before freeing.
  flush_all_fronts();
  // A block on two pages was removed from one page's list only; drop the other reference.
  for (const auto& b : m_retired) {
    for (uint64_t page : {b->phys >> 12, b->phys2 >> 12}) {
      auto it = m_by_page.find(page);
      if (it == m_by_page.end()) continue;
      auto& list = it->second;
      list.erase(std::remove(list.begin(), list.end(), b.get()), list.end());
      if (list.empty()) m_by_page.erase(it);
    }
  }
  m_retired.clear();
}

}  // namespace vmxsim::cpu
