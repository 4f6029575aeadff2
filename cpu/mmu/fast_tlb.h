// The core's translation cache for the data and fetch paths: a direct-mapped array of
// linear-page -> host-pointer entries for RAM pages (ARCHITECTURE §4). It is architecturally a
// TLB: a translation stays in use until INVLPG, a CR3 write or another flush removes it, exactly
// as hardware may keep it. One instance per privilege class (supervisor, user) so that a hit
// needs no permission check: an entry is installed only for accesses the page walk allowed.
// Entries carry no PCID: the core keeps one pair of instances per recently used PCID
// (Core::PcidSlot, cpu/mmu/tlb_contexts.cc).
// Write tags are withheld for pages that hold decoded code, so every store to such a page takes
// the slow path, where self-modifying code is detected.
#pragma once

#include <cstdint>

namespace vmxsim::cpu {

struct FastTlbEntry {
  uint64_t read_tag = ~0ull;   // linear page address when reads may use `addend`
  uint64_t write_tag = ~0ull;  // linear page address when writes may use `addend`
  uint64_t addend = 0;         // host address = linear address + addend
  uint64_t phys_page = ~0ull;  // physical page address, for code-page write protection
  bool global = false;         // survives CR3 writes (PTE.G with CR4.PGE)
};

class FastTlb {
 public:
  static constexpr unsigned kEntries = 512;

  static unsigned index(uint64_t lin) { return (lin >> 12) & (kEntries - 1); }
  FastTlbEntry& entry(uint64_t lin) { return m_e[index(lin)]; }
  const FastTlbEntry& entry(uint64_t lin) const { return m_e[index(lin)]; }

  // The page walk installed an entry at `lin`'s slot: remember the slot so that a flush visits
  // only occupied slots (guests that flush on every context switch would otherwise pay for the
  // whole array each time).
  void note_installed(uint64_t lin) {
    const unsigned i = index(lin);
    if (!m_listed[i]) {
      m_listed[i] = true;
      m_used[m_nused++] = static_cast<uint16_t>(i);
    }
  }
  void flush(bool include_global) {
    unsigned keep = 0;
    for (unsigned k = 0; k < m_nused; ++k) {
      const unsigned i = m_used[k];
      if (include_global || !m_e[i].global) {
        m_e[i] = FastTlbEntry{};
        m_listed[i] = false;
      } else {
        m_used[keep++] = static_cast<uint16_t>(i);
      }
    }
    m_nused = keep;
  }
  void flush_page(uint64_t lin) {
    FastTlbEntry& e = entry(lin);
    if (e.read_tag == (lin & ~0xfffull) || e.write_tag == (lin & ~0xfffull)) e = FastTlbEntry{};
  }
  // A physical page now holds code: stores to it must take the slow path. Only listed slots
  // can hold a translation (see note_installed).
  void protect_code_page(uint64_t phys_page) {
    for (unsigned k = 0; k < m_nused; ++k) {
      FastTlbEntry& e = m_e[m_used[k]];
      if (e.phys_page == phys_page) e.write_tag = ~0ull;
    }
  }

 private:
  FastTlbEntry m_e[kEntries];
  bool m_listed[kEntries] = {};
  uint16_t m_used[kEntries] = {};
  unsigned m_nused = 0;
};

}  // namespace vmxsim::cpu
