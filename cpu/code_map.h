// Which physical memory holds decoded code (ARCHITECTURE §2, self-modifying code), and which
// lines a MONITOR armed. One bit per 128-byte line of each 4 KiB page for code. Every writer of
// guest memory that bypasses the cores' fast path (core slow-path stores, DMA, the loader, a
// debugger) calls note_write(); when the write touches a line with code, every registered
// listener (each core's block cache) invalidates the blocks there; when it touches a monitored
// line, the core that armed the monitor is told. Cores keep fast-path write mappings only for
// pages without either, so the common store never consults this map.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "cpu/branch_hints.h"

namespace vmxsim::cpu {

class CodeListener {
 public:
  virtual ~CodeListener() = default;
  // Code in [paddr, paddr + len) was overwritten.
  virtual void code_written(uint64_t paddr, uint64_t len) = 0;
  // Writes to a page that were not tracked now are (it holds code or a monitored line): drop
  // fast write mappings of it.
  virtual void page_writes_tracked(uint64_t phys_page) = 0;
  // The line this listener watches (watch_line) was written; the watch is gone.
  virtual void watched_line_written() {}
};

class CodeMap {
 public:
  static constexpr unsigned kLineShift = 7;  // 128-byte lines, 32 per page

  void add_listener(CodeListener* l) { m_listeners.push_back(l); }
  void remove_listener(CodeListener* l);

  // Mark [paddr, paddr + len) as holding decoded code (len may cross into the next page).
  void mark_code(uint64_t paddr, uint64_t len);
  bool page_has_code(uint64_t phys_page) const {
    auto it = m_lines.find(phys_page >> 12);
    return it != m_lines.end() && it->second != 0;
  }
  // Whether stores to the page must take the slow path (code or a monitored line on it).
  bool page_writes_tracked(uint64_t phys_page) const {
    return page_has_code(phys_page) || (VMXSIM_UNLIKELY(!m_watches.empty()) && page_watched(phys_page));
  }

  // Address-range monitoring (MONITOR/MWAIT): `l` is told once when any writer stores to the
  // kWatchLine-byte line holding `paddr`. A listener watches at most one line; watching
  // another replaces it.
  static constexpr uint64_t kWatchLine = 64;
  void watch_line(uint64_t paddr, CodeListener* l);
  void unwatch(CodeListener* l);

  // Returns true if the write touched code (and listeners were told).
  bool note_write(uint64_t paddr, uint64_t len) {
    if (VMXSIM_UNLIKELY(!m_watches.empty())) check_watches(paddr, len);
    auto it = m_lines.find(paddr >> 12);
    if (it == m_lines.end() || it->second == 0) {
      if (((paddr & 0xfff) + len) <= 4096) return false;
    }
    return note_write_slow(paddr, len);
  }
  // The code on these pages is gone (all listeners invalidated everything there).
  void clear_page(uint64_t phys_page) { m_lines.erase(phys_page >> 12); }

 private:
  bool note_write_slow(uint64_t paddr, uint64_t len);
  static uint32_t line_mask(uint64_t offset_in_page, uint64_t len);
  bool page_watched(uint64_t phys_page) const;
  void check_watches(uint64_t paddr, uint64_t len);

  struct Watch {
    uint64_t line;  // physical address, kWatchLine-aligned
    CodeListener* listener;
  };
  std::unordered_map<uint64_t, uint32_t> m_lines;  // physical page number -> line bits
  std::vector<CodeListener*> m_listeners;
  std::vector<Watch> m_watches;  // at most one per core
};

}  // namespace vmxsim::cpu
