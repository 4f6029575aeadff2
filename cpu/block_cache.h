// Decoded basic blocks, keyed by the physical address of their first byte and the mode bits
// that change decoding (ARCHITECTURE §2), with a small direct-mapped front cache keyed by the
// linear RIP so that a hit needs no translation. There is one front cache per translation
// context of the core (the host's and a VPID-tagged guest's, Core::switch_tlb_context), so VM
// exits and entries keep both. A front cache is emptied whenever the translations of its
// context may have changed (generation counter), blocks are invalidated by self-modifying
// code through the CodeMap, and invalidated blocks are freed only at safe points (never while
// one may be executing).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/decoded_op.h"

namespace vmxsim::cpu {

struct Block {
  uint64_t phys = 0;       // physical address of the first byte
  uint64_t phys_end = 0;   // one past the last byte on the first page
  uint64_t phys2 = ~0ull;  // second physical page when the last instruction crosses a page
  uint32_t mode_key = 0;
  bool valid = true;
  Cycles cycles = 0;       // sum of the ops' base cycles
  std::vector<uint32_t> flow;  // timing model's dataflow summary (cpu/timing/block_schedule.h)
  std::vector<DecodedOp> ops;
};

class BlockCache {
 public:
  static constexpr unsigned kFrontEntries = 4096;
  static constexpr unsigned kFrontContexts = 2;

  const Block* front_lookup(uint64_t lin_rip, uint32_t mode_key) const {
    const Front& f = m_front->entries[(lin_rip ^ (lin_rip >> 12)) & (kFrontEntries - 1)];
    if (f.lin_rip == lin_rip && f.mode_key == mode_key && f.gen == m_front->gen && f.block->valid)
      return f.block;
    return nullptr;
  }
  void front_insert(uint64_t lin_rip, uint32_t mode_key, const Block* b) {
    Front& f = m_front->entries[(lin_rip ^ (lin_rip >> 12)) & (kFrontEntries - 1)];
    f = Front{lin_rip, mode_key, m_front->gen, b};
  }
  // The translation context whose front cache lookups use (0 host, 1 guest with VPID).
  void select_front(unsigned ctx) { m_front = &m_fronts[ctx % kFrontContexts]; }
  void flush_front() { ++m_front->gen; }                                  // the current context's
  void flush_front(unsigned ctx) { ++m_fronts[ctx % kFrontContexts].gen; }
  void flush_all_fronts() {
    for (FrontCache& f : m_fronts) ++f.gen;
  }

  const Block* find(uint64_t phys, uint32_t mode_key) const;
  const Block* insert(std::unique_ptr<Block> b);
  // Invalidates every block that overlaps [paddr, paddr + len). Returns how many.
  unsigned invalidate_range(uint64_t paddr, uint64_t len);
  void invalidate_all();
  // Frees invalidated blocks; call only when no block is executing.
  void free_retired();
  size_t size() const { return m_by_key.size(); }

 private:
  struct Front {
    uint64_t lin_rip = ~0ull;
    uint32_t mode_key = 0;
    uint64_t gen = 0;
    const Block* block = nullptr;
  };
  static uint64_t key(uint64_t phys, uint32_t mode_key) {
    return phys ^ (static_cast<uint64_t>(mode_key) << 52);
  }
  void retire(Block* b);

  struct FrontCache {
    Front entries[kFrontEntries];
    uint64_t gen = 1;
  };
  FrontCache m_fronts[kFrontContexts];
  FrontCache* m_front = &m_fronts[0];
  std::unordered_map<uint64_t, std::unique_ptr<Block>> m_by_key;
  std::unordered_map<uint64_t, std::vector<Block*>> m_by_page;  // physical page -> blocks
  std::vector<std::unique_ptr<Block>> m_retired;
};

}  // namespace vmxsim::cpu
