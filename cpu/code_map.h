// Which physical memory holds decoded code (ARCHITECTURE §2, self-modifying code). One bit per
// 128-byte line of each 4 KiB page. Every writer of guest memory that bypasses the cores' fast
// path (core slow-path stores, DMA, the loader, a debugger) calls note_write(); when the write
// touches a line with code, every registered listener (each core's block cache) invalidates
// the blocks there. Cores keep fast-path write mappings only for pages without code, so the
// common store never consults this map.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace vmxsim::cpu {

class CodeListener {
 public:
  virtual ~CodeListener() = default;
  // Code in [paddr, paddr + len) was overwritten.
  virtual void code_written(uint64_t paddr, uint64_t len) = 0;
  // A page that held no code now does: drop fast write mappings of it.
  virtual void page_became_code(uint64_t phys_page) = 0;
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
  // Returns true if the write touched code (and listeners were told).
  bool note_write(uint64_t paddr, uint64_t len) {
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

  std::unordered_map<uint64_t, uint32_t> m_lines;  // physical page number -> line bits
  std::vector<CodeListener*> m_listeners;
};

}  // namespace vmxsim::cpu
