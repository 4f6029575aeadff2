// Timing model of the profile's TLB hierarchy: first-level instruction and data TLBs per page
// size, a unified second-level TLB (STLB), page-walk caches for the upper paging levels, and the
// charge for each page-table reference through the cache hierarchy.
//
// This is a tags model beside the architectural translation cache (cpu/mmu/fast_tlb.h): the fast
// TLB decides *what* a translation is and when it goes stale; this model decides what a lookup
// *costs* on a processor with the profile's TLB geometry. When it misses, it asks a WalkSource for
// the physical addresses the hardware walk would read (a side-effect-free walk of the current
// tables, cpu/mmu/walk_refs.cc) and charges them.
//
// Every entry (first level, STLB, page-walk caches) carries the ids of the translation context
// it was made in (address_space_ids.h): the host or one guest with a VPID, and within it the
// PCID. Lookups see the current context's entries of the current PCID and its global entries
// (tagged with PCID 0's id, SDM Vol. 3A §4.10.2.4); invalidations follow SDM §4.10.4.1 and apply
// to the current VMX context only, as on hardware with VPIDs.
#pragma once

#include <cstdint>

#include "cpu/cpu_state.h"
#include "cpu/timing/address_space_ids.h"
#include "cpu/timing/cache_hierarchy.h"
#include "cpu/timing/lru_tags.h"
#include "cpu/timing/timing_params.h"

namespace vmxsim::cpu::timing {

// The page-table entries a walk of one linear address reads, outermost first.
struct WalkRefs {
  uint64_t addr[5] = {};
  unsigned n = 0;
  unsigned page_shift = 12;  // 12, 21 (2 MiB), 22 (4 MiB, 32-bit paging), 30 (1 GiB)
  bool global = false;
  bool four_level = false;   // addr[0..2] are PML4E/PDPTE/PDE: the page-walk caches apply
  // A guest with EPT (the 2-D walk): the EPT entries read to translate each guest reference
  // (ept[i] before addr[i]) and the final guest-physical address (ept[kEptFinal]).
  static constexpr unsigned kEptFinal = 5;
  uint64_t ept[6][4] = {};
  unsigned ept_n[6] = {};
};

class WalkSource {
 public:
  virtual ~WalkSource() = default;
  // False when the address does not translate (nothing is charged then: the access faulted).
  virtual bool walk(uint64_t lin, WalkRefs& out) = 0;
};

struct TlbStats {
  uint64_t l1d_hits = 0, l1d_misses = 0;
  uint64_t l1i_hits = 0, l1i_misses = 0;
  uint64_t stlb_hits = 0, stlb_misses = 0;
  uint64_t walks = 0;
  uint64_t walk_refs = 0;         // page-table references charged through the caches
  uint64_t pwc_hits = 0;          // walks that started below the root thanks to a PWC
  uint64_t walk_cycles = 0;       // cycles charged for walks (references + PWC + overhead)
  uint64_t stlb_cycles = 0;       // cycles charged for STLB hits
  uint64_t asid_reuses = 0;       // guest contexts whose id went to another (entries dropped)
  uint64_t pcid_reuses = 0;       // PCIDs whose id went to another PCID (entries dropped)
};

class TlbModel {
 public:
  TlbModel(const TimingParams& p, CacheHierarchy& caches, WalkSource& walker);

  // Cycles beyond a first-level hit for a data access / instruction fetch at `lin`.
  Cycles data(uint64_t lin) { return side(m_data, lin); }
  Cycles fetch(uint64_t lin) { return side(m_fetch, lin); }
  // One page-table reference of a walk (the page walker's own accesses, or the VMX unit's EPT
  // references of a 2-D walk): served by the data-side caches.
  Cycles charge_walk_ref(uint64_t paddr) {
    ++m_stats.walk_refs;
    return m_caches.access_data(paddr);
  }
  // Architectural invalidations (MOV CR3, INVLPG, ...) drop the model's entries too, so the cost
  // of refilling them shows. They apply to the current translation context.
  // Every PCID's entries (and the global ones with `include_global`): INVPCID types 2 and 3,
  // MOV to CR4 changing PGE or PCIDE, VM entry and exit without VPID.
  void flush(bool include_global);
  // The non-global entries of one PCID, page-walk caches included: MOV to CR3 without bit 63,
  // INVPCID type 1.
  void flush_pcid(uint16_t pcid);
  // INVLPG: the current PCID's entries for `lin`, the global one, and the current PCID's
  // page-walk-cache entries.
  void flush_page(uint64_t lin);
  // INVPCID type 0: `pcid`'s entries for `lin` and its page-walk-cache entries.
  void flush_pcid_page(uint16_t pcid, uint64_t lin);
  // The PCID the core now translates with (CR3[11:0] with CR4.PCIDE, else 0). Other PCIDs'
  // entries stay, invisible to lookups.
  void switch_pcid(uint16_t pcid);
  // VMX: the translation context the core now runs in (AddressSpaceIds::kHostContext, or a
  // guest's VmxUnit::guest_tlb_tag()) and its current PCID. Entries of other contexts stay,
  // invisible to lookups.
  void switch_context(uint64_t context, uint16_t pcid = 0);
  // INVVPID / INVEPT: drops the entries of every guest context (a superset of any single-context
  // type, which the SDM allows); the host's stay.
  void flush_guest_contexts();

  const TlbStats& stats() const { return m_stats; }
  TlbStats& stats() { return m_stats; }

 private:
  // A first-level TLB split by page size, as the profiles describe them.
  struct Level1 {
    LruTags by_size[3];  // 4 KiB, 2 MiB (and 4 MiB), 1 GiB
  };
  // One side (data or instruction) of the first level, with the page its previous access used:
  // still the MRU entry of its TLB, so a repeat is a hit without a lookup.
  struct Side {
    Level1* l1;
    uint64_t* hits;
    uint64_t* misses;
    uint64_t last_tag = ~0ull;
    unsigned last_shift = 63;
  };
  Cycles side(Side& sd, uint64_t lin) {
    if ((lin >> sd.last_shift) == sd.last_tag) {
      ++*sd.hits;
      return 0;
    }
    return side_slow(sd, lin);
  }
  Cycles side_slow(Side& sd, uint64_t lin);
  // L1 miss: STLB, then a walk. Fills `l1` and the STLB; returns cycles and the page shift.
  Cycles miss(Level1& l1, uint64_t lin, unsigned& shift);
  bool l1_lookup(Level1& l1, uint64_t lin, unsigned& shift);
  // Global entries live under PCID 0's id: another PCID looks for them after its own miss, if
  // the context has any.
  bool probe_globals() const { return m_pcid_bits != 0 && m_has_globals[m_asid]; }
  // Drops `lin`'s first-level and STLB entries tagged `space` (ids in tag position).
  void erase_page(uint64_t lin, uint64_t space);
  Cycles walk(uint64_t lin, WalkRefs& refs);
  // Drops every entry, in every structure, for which `drop(tag)` holds.
  template <typename Pred>
  void erase_entries_if(Pred drop);
  void forget_last_pages() { m_data.last_tag = m_fetch.last_tag = ~0ull; }

  CacheHierarchy& m_caches;
  WalkSource& m_walker;
  Level1 m_itlb, m_dtlb;
  LruTags m_stlb;
  LruTags m_pwc[3];  // PML4E (lin >> 39), PDPTE (lin >> 30), PDE (lin >> 21)
  // The current context's id and its current PCID's id, each already shifted into tag
  // position; m_space_bits, both, is OR-ed into every tag a lookup, fill or invalidation uses.
  AddressSpaceIds m_asids;
  PcidIds m_pcids[AddressSpaceIds::kSlots];  // per context
  bool m_has_globals[AddressSpaceIds::kSlots] = {};  // a global entry may be cached
  unsigned m_asid = AddressSpaceIds::kHostAsid;
  uint16_t m_pcid = 0;
  uint64_t m_asid_bits = 0, m_pcid_bits = 0, m_space_bits = 0;
  Cycles m_stlb_latency, m_walk_latency, m_pwc_latency;
  TlbStats m_stats;
  Side m_data{&m_dtlb, &m_stats.l1d_hits, &m_stats.l1d_misses};
  Side m_fetch{&m_itlb, &m_stats.l1i_hits, &m_stats.l1i_misses};
};

}  // namespace vmxsim::cpu::timing
