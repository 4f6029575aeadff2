#include "cpu/timing/tlb_model.h"

namespace vmxsim::cpu::timing {

namespace {
constexpr unsigned kShifts[3] = {12, 21, 30};
constexpr uint64_t kMarker = LruTags::kMarker;  // global page
// Tag layout: the page number in bits 0-51 (a 64-bit address >> 12 at most), the PCID's id in
// bits 52-55, the address-space id in bits 56-58, the STLB's size class in bits 61-62, the
// global marker in bit 63. The ids sit above the set-index bits of power-of-two structures, so
// a context's pages map to the same sets as anyone's; with PCID 0 (id 0) in the host (id 0) a
// tag is the page number alone.
constexpr unsigned kPcidShift = 52;
constexpr unsigned kAsidShift = 56;
constexpr uint64_t kPcidMask = uint64_t(PcidIds::kSlots - 1) << kPcidShift;
constexpr uint64_t kAsidMask = uint64_t(AddressSpaceIds::kSlots - 1) << kAsidShift;
constexpr uint64_t kSpaceMask = kAsidMask | kPcidMask;
static_assert((AddressSpaceIds::kSlots & (AddressSpaceIds::kSlots - 1)) == 0 &&
                  kAsidShift + 3 <= 61 && AddressSpaceIds::kSlots <= 8,
              "the address-space id must fit between the PCID id and the size class");
static_assert((PcidIds::kSlots & (PcidIds::kSlots - 1)) == 0 && PcidIds::kSlots <= 16,
              "the PCID id must fit between the page number and the address-space id");
// Matches the entries of one context (`asid` in tag position), or of one PCID of it (`space`:
// both ids in tag position).
auto of_context(uint64_t asid) {
  return [asid](uint64_t t) { return (t & kAsidMask) == asid; };
}
auto of_space(uint64_t space) {
  return [space](uint64_t t) { return (t & kSpaceMask) == space; };
}

unsigned size_index(unsigned page_shift) {
  return page_shift >= 30 ? 2 : page_shift >= 21 ? 1 : 0;
}
// STLB tags carry the size class in bits 61-62 so 4 KiB and 2 MiB pages share one array.
uint64_t stlb_tag(uint64_t lin, unsigned size) { return (lin >> kShifts[size]) | (uint64_t(size) << 61); }
}  // namespace

TlbModel::TlbModel(const TimingParams& p, CacheHierarchy& caches, WalkSource& walker)
    : m_caches(caches),
      m_walker(walker),
      m_stlb_latency(p.stlb_latency),
      m_walk_latency(p.walk_latency),
      m_pwc_latency(p.pwc_latency) {
  m_itlb.by_size[0].configure(p.itlb_4k.entries, p.itlb_4k.ways);
  m_itlb.by_size[1].configure(p.itlb_2m.entries, p.itlb_2m.ways);
  m_dtlb.by_size[0].configure(p.dtlb_4k.entries, p.dtlb_4k.ways);
  m_dtlb.by_size[1].configure(p.dtlb_2m.entries, p.dtlb_2m.ways);
  m_dtlb.by_size[2].configure(p.dtlb_1g.entries, p.dtlb_1g.ways);
  m_stlb.configure(p.stlb.entries, p.stlb.ways);
  for (auto& pwc : m_pwc) pwc.configure(p.pwc_entries, 0);
  for (Level1* l1 : {&m_itlb, &m_dtlb})
    for (auto& t : l1->by_size) t.set_compare_mask(~kMarker);

  m_stlb.set_compare_mask(~kMarker);
}

bool TlbModel::l1_lookup(Level1& l1, uint64_t lin, unsigned& shift) {
  for (unsigned s = 0; s < 3; ++s) {
    if (l1.by_size[s].present() && l1.by_size[s].lookup((lin >> kShifts[s]) | m_space_bits)) {
      shift = kShifts[s];
      return true;
    }
  }
  if (probe_globals()) {
    for (unsigned s = 0; s < 3; ++s) {
      if (l1.by_size[s].present() && l1.by_size[s].lookup_marked((lin >> kShifts[s]) | m_asid_bits)) {
        shift = kShifts[s];
        return true;
      }
    }
  }
  return false;
}

Cycles TlbModel::miss(Level1& l1, uint64_t lin, unsigned& shift) {
  // STLB: 4 KiB and 2 MiB entries (1 GiB pages live only in the first level on the parts we
  // model, so they always walk after an L1 miss — the PWC makes that walk short).
  for (unsigned probe = 0; probe < 2; ++probe) {
    // The current PCID's entries (with PCID 0 also the global ones), then another PCID's look
    // for a global entry.
    const bool global = probe == 1;
    if (global && !probe_globals()) break;
    for (unsigned s = 0; s < 2; ++s) {
      if (!m_stlb.present()) break;
      if (global ? !m_stlb.lookup_marked(stlb_tag(lin, s) | m_asid_bits)
                 : !m_stlb.lookup(stlb_tag(lin, s) | m_space_bits))
        continue;
      ++m_stats.stlb_hits;
      m_stats.stlb_cycles += m_stlb_latency;
      shift = kShifts[s];
      // The L1 of that size may be absent (no 1 GiB ITLB): then the 4 KiB one holds a fragment.
      const unsigned fill = l1.by_size[s].present() ? s : 0;
      l1.by_size[fill].insert((lin >> kShifts[fill]) | (global ? kMarker | m_asid_bits : m_space_bits));
      if (fill != s) shift = kShifts[fill];
      return m_stlb_latency;
    }
  }
  ++m_stats.stlb_misses;
  WalkRefs refs;
  if (!m_walker.walk(lin, refs)) {
    shift = 63;
    return 0;
  }
  // Paging off: nothing to walk, the "translation" is free (unless EPT translates it).
  const bool walked = refs.n || refs.ept_n[WalkRefs::kEptFinal];
  const Cycles c = walked ? walk(lin, refs) : 0;
  unsigned s = size_index(refs.page_shift);
  // A global translation is cached under PCID 0's id, where every PCID finds it.
  const uint64_t g = refs.global ? kMarker | m_asid_bits : m_space_bits;
  if (refs.global) m_has_globals[m_asid] = true;
  if (s < 2) m_stlb.insert(stlb_tag(lin, s) | g);
  if (!l1.by_size[s].present()) s = l1.by_size[1].present() && s == 2 ? 1 : 0;  // fragments
  l1.by_size[s].insert((lin >> kShifts[s]) | g);
  shift = kShifts[s];
  return walked ? m_stlb_latency + c : 0;
}

Cycles TlbModel::walk(uint64_t lin, WalkRefs& refs) {
  ++m_stats.walks;
  Cycles c = m_walk_latency;
  unsigned first = 0;
  if (refs.four_level) {
    // The deepest cached non-leaf entry lets the walk start below it (SDM Vol. 3 §4.10.3).
    for (int lvl = 2; lvl >= 0; --lvl) {
      if (static_cast<unsigned>(lvl) + 1 >= refs.n) continue;  // a leaf is not cached here
      if (m_pwc[lvl].lookup((lin >> (39 - 9 * lvl)) | m_space_bits)) {
        first = static_cast<unsigned>(lvl) + 1;
        ++m_stats.pwc_hits;
        c += m_pwc_latency;
        break;
      }
    }
    for (unsigned lvl = first; lvl < 3 && lvl + 1 < refs.n; ++lvl)
      m_pwc[lvl].insert((lin >> (39 - 9 * lvl)) | m_space_bits);
  }
  for (unsigned i = first; i < refs.n; ++i) {
    for (unsigned k = 0; k < refs.ept_n[i]; ++k) c += charge_walk_ref(refs.ept[i][k]);
    c += charge_walk_ref(refs.addr[i]);
  }
  for (unsigned k = 0; k < refs.ept_n[WalkRefs::kEptFinal]; ++k)
    c += charge_walk_ref(refs.ept[WalkRefs::kEptFinal][k]);
  m_stats.walk_cycles += c;
  return c;
}

Cycles TlbModel::side_slow(Side& sd, uint64_t lin) {
  unsigned shift;
  Cycles c = 0;
  if (l1_lookup(*sd.l1, lin, shift)) {
    ++*sd.hits;
  } else {
    ++*sd.misses;
    c = miss(*sd.l1, lin, shift);
  }
  sd.last_shift = shift;
  sd.last_tag = lin >> shift;
  return c;
}

template <typename Pred>
void TlbModel::erase_entries_if(Pred drop) {
  for (Level1* l1 : {&m_itlb, &m_dtlb})
    for (auto& t : l1->by_size) t.erase_if(drop);
  m_stlb.erase_if(drop);
  for (auto& pwc : m_pwc) pwc.erase_if(drop);
  forget_last_pages();
}

void TlbModel::flush(bool include_global) {
  // Paging-structure caches hold no global entries (SDM Vol. 3 §4.10.4.1): every one of the
  // context's goes.
  const uint64_t asid = m_asid_bits;
  erase_entries_if([asid, include_global](uint64_t t) {
    return (t & kAsidMask) == asid && (include_global || !(t & kMarker));
  });
  if (include_global) m_has_globals[m_asid] = false;
}

void TlbModel::flush_pcid(uint16_t pcid) {
  const int id = m_pcids[m_asid].find(pcid);
  if (id < 0) return;  // nothing cached for it
  const uint64_t space = m_asid_bits | uint64_t(id) << kPcidShift;
  erase_entries_if([space](uint64_t t) { return (t & kSpaceMask) == space && !(t & kMarker); });
}

void TlbModel::erase_page(uint64_t lin, uint64_t space) {
  for (Level1* l1 : {&m_itlb, &m_dtlb})
    for (unsigned s = 0; s < 3; ++s) l1->by_size[s].erase((lin >> kShifts[s]) | space);
  for (unsigned s = 0; s < 2; ++s) m_stlb.erase(stlb_tag(lin, s) | space);
}

void TlbModel::flush_page(uint64_t lin) {
  erase_page(lin, m_space_bits);
  // The global entry lives under PCID 0's id (PCID 0's own entry for the page goes too: more
  // than needed, which the SDM allows).
  if (m_pcid_bits) erase_page(lin, m_asid_bits);
  // INVLPG also invalidates all of the current PCID's paging-structure-cache entries (SDM
  // Vol. 3 §4.10.4.1).
  for (auto& pwc : m_pwc) pwc.erase_if(of_space(m_space_bits));
  forget_last_pages();
}

void TlbModel::flush_pcid_page(uint16_t pcid, uint64_t lin) {
  const int id = m_pcids[m_asid].find(pcid);
  if (id < 0) return;
  const uint64_t space = m_asid_bits | uint64_t(id) << kPcidShift;
  erase_page(lin, space);
  for (auto& pwc : m_pwc) pwc.erase_if(of_space(space));
  forget_last_pages();
}

void TlbModel::switch_pcid(uint16_t pcid) {
  if (pcid == m_pcid) return;
  bool reused = false;
  const uint64_t bits = uint64_t(m_pcids[m_asid].acquire(pcid, reused)) << kPcidShift;
  if (reused) {
    // The id's previous PCID loses its entries, or this one would hit them.
    ++m_stats.pcid_reuses;
    erase_entries_if(of_space(m_asid_bits | bits));
  }
  m_pcid = pcid;
  m_pcid_bits = bits;
  m_space_bits = m_asid_bits | m_pcid_bits;
  forget_last_pages();  // the shortcut pages belong to the PCID just left
}

void TlbModel::switch_context(uint64_t context, uint16_t pcid) {
  bool reused = false;
  const unsigned id = m_asids.acquire(context, reused);
  const uint64_t asid = uint64_t(id) << kAsidShift;
  if (reused) {
    // The slot's previous owner loses its entries, or the new context would hit them.
    ++m_stats.asid_reuses;
    erase_entries_if(of_context(asid));
    m_pcids[id].clear();
    m_has_globals[id] = false;
  }
  m_asid = id;
  m_asid_bits = asid;
  m_pcid = 0;
  m_pcid_bits = 0;
  m_space_bits = asid;
  switch_pcid(pcid);
  forget_last_pages();  // the shortcut pages belong to the context just left
}

void TlbModel::flush_guest_contexts() {
  constexpr uint64_t host = uint64_t(AddressSpaceIds::kHostAsid) << kAsidShift;
  erase_entries_if([](uint64_t t) { return (t & kAsidMask) != host; });
  for (unsigned id = 0; id < AddressSpaceIds::kSlots; ++id)
    if (id != AddressSpaceIds::kHostAsid) m_has_globals[id] = false;
}

}  // namespace vmxsim::cpu::timing
