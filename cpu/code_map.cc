#include "cpu/code_map.h"

#include <algorithm>

namespace vmxsim::cpu {

void CodeMap::remove_listener(CodeListener* l) {
  m_listeners.erase(std::remove(m_listeners.begin(), m_listeners.end(), l), m_listeners.end());
}

uint32_t CodeMap::line_mask(uint64_t offset, uint64_t len) {
  const unsigned first = static_cast<unsigned>(offset >> kLineShift);
  const unsigned last = static_cast<unsigned>((offset + len - 1) >> kLineShift);
  const uint32_t upto_last = last >= 31 ? ~0u : ((1u << (last + 1)) - 1);
  return upto_last & ~((1u << first) - 1);
}

void CodeMap::mark_code(uint64_t paddr, uint64_t len) {
  while (len > 0) {
    const uint64_t off = paddr & 0xfff;
    const uint64_t chunk = std::min<uint64_t>(len, 4096 - off);
    uint32_t& bits = m_lines[paddr >> 12];
    const bool was_code = bits != 0;
    bits |= line_mask(off, chunk);
    if (!was_code)
      for (CodeListener* l : m_listeners) l->page_writes_tracked(paddr & ~0xfffull);
    paddr += chunk;
    len -= chunk;
  }
}

bool CodeMap::note_write_slow(uint64_t paddr, uint64_t len) {
  bool hit = false;
  while (len > 0) {
    const uint64_t off = paddr & 0xfff;
    const uint64_t chunk = std::min<uint64_t>(len, 4096 - off);
    auto it = m_lines.find(paddr >> 12);
    if (it != m_lines.end() && (it->second & line_mask(off, chunk))) {
      hit = true;
      for (CodeListener* l : m_listeners) l->code_written(paddr, chunk);
    }
    paddr += chunk;
    len -= chunk;
  }
  return hit;
}

bool CodeMap::page_watched(uint64_t phys_page) const {
  for (const Watch& w : m_watches)
    if ((w.line & ~0xfffull) == (phys_page & ~0xfffull)) return true;
  return false;
}

void CodeMap::watch_line(uint64_t paddr, CodeListener* l) {
  unwatch(l);
  const uint64_t line = paddr & ~(kWatchLine - 1);
  const uint64_t page = line & ~0xfffull;
  const bool was_tracked = page_writes_tracked(page);
  m_watches.push_back(Watch{line, l});
  // Every core must stop storing to the page behind the map's back (the watcher itself too: a
  // store between MONITOR and MWAIT ends the wait before it starts).
  if (!was_tracked)
    for (CodeListener* x : m_listeners) x->page_writes_tracked(page);
}

void CodeMap::unwatch(CodeListener* l) {
  m_watches.erase(std::remove_if(m_watches.begin(), m_watches.end(),
                                 [l](const Watch& w) { return w.listener == l; }),
                  m_watches.end());
}

void CodeMap::check_watches(uint64_t paddr, uint64_t len) {
  for (size_t i = 0; i < m_watches.size();) {
    const Watch w = m_watches[i];
    if (paddr < w.line + kWatchLine && w.line < paddr + len) {
      m_watches.erase(m_watches.begin() + static_cast<std::ptrdiff_t>(i));
      w.listener->watched_line_written();
    } else {
      ++i;
    }
  }
}

}  // namespace vmxsim::cpu
