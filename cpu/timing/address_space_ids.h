// Address-space ids of the timing TLB. Hardware tags TLB and paging-structure-cache entries
// with the VPID (and, for combined mappings, the EPTP root) they were made under, so a guest
// with a VPID keeps its translations across VM exits and never hits the host's or another
// guest's (SDM Vol. 3C §29.1-§29.3), and within one VPID with the PCID (Vol. 3A §4.10.1), so a
// MOV to CR3 with bit 63 set keeps every PCID's translations. The core names a translation
// context by a 64-bit tag (0: the host, VPID 0; VmxUnit::guest_tlb_tag() for a guest with VPID)
// and a PCID by its 12-bit value; these tables give each a small id that fits in the spare high
// bits of a TLB tag, so a lookup compares the ids together with the page number instead of
// searching.
//
// The tables have a few slots, like the bounded tag space of real parts: name 0 (the host,
// PCID 0) keeps id 0, the others share the rest, and a new name takes the id of the least
// recently acquired one. The caller must drop the entries of a reused id (they belong to the
// evicted name).
#pragma once

#include <cstdint>

namespace vmxsim::cpu::timing {

template <unsigned Slots>
class LruIds {
 public:
  static constexpr unsigned kSlots = Slots;

  // The id of `name`, now the most recently acquired. `reused`: the id belonged to another name
  // until now.
  unsigned acquire(uint64_t name, bool& reused) {
    reused = false;
    if (name == 0) return 0;
    ++m_clock;
    unsigned victim = 1;
    for (unsigned s = 1; s < kSlots; ++s) {
      if (m_last_acquired[s] && m_name[s] == name) {
        m_last_acquired[s] = m_clock;
        return s;
      }
      if (m_last_acquired[s] < m_last_acquired[victim]) victim = s;
    }
    reused = m_last_acquired[victim] != 0;
    m_name[victim] = name;
    m_last_acquired[victim] = m_clock;
    return victim;
  }
  // The id `name` holds, or -1; its recency does not change.
  int find(uint64_t name) const {
    if (name == 0) return 0;
    for (unsigned s = 1; s < kSlots; ++s)
      if (m_last_acquired[s] && m_name[s] == name) return static_cast<int>(s);
    return -1;
  }
  // Every id free again (their entries are gone).
  void clear() { *this = LruIds{}; }

 private:
  uint64_t m_name[kSlots] = {};
  uint64_t m_last_acquired[kSlots] = {};  // 0: never used
  uint64_t m_clock = 0;
};

// VMX translation contexts: 8 ids (3 bits in a tag); the host keeps id 0.
class AddressSpaceIds : public LruIds<8> {
 public:
  static constexpr uint64_t kHostContext = 0;
  static constexpr unsigned kHostAsid = 0;
};

// The PCIDs of one translation context: 16 ids (4 bits in a tag). PCID 0 keeps id 0, which
// also tags the context's global translations (they are shared by every PCID).
using PcidIds = LruIds<16>;

}  // namespace vmxsim::cpu::timing
