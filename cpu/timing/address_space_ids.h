// Address-space ids of the timing TLB. Hardware tags TLB and paging-structure-cache entries
// with the VPID (and, for combined mappings, the EPTP root) they were made under, so a guest
// with a VPID keeps its translations across VM exits and never hits the host's or another
// guest's (SDM Vol. 3C §29.1-§29.3). The core names a translation context by a 64-bit tag (0:
// the host, VPID 0; VmxUnit::guest_tlb_tag() for a guest with VPID); this table gives each
// context a small id that fits in the spare high bits of a TLB tag, so a lookup compares the
// id together with the page number instead of searching.
//
// The table has a few slots, like the bounded tag space of real parts: the host keeps slot 0,
// guests share the rest, and a new guest context takes the least recently entered one. The
// caller must drop the entries of a reused slot (they belong to the evicted context).
#pragma once

#include <cstdint>

namespace vmxsim::cpu::timing {

class AddressSpaceIds {
 public:
  static constexpr unsigned kSlots = 8;  // 3 bits in a tag
  static constexpr uint64_t kHostContext = 0;
  static constexpr unsigned kHostAsid = 0;

  // The id of `context`, now the most recently entered. `reused`: the slot belonged to another
  // context until now.
  unsigned acquire(uint64_t context, bool& reused) {
    reused = false;
    if (context == kHostContext) return kHostAsid;
    ++m_clock;
    unsigned victim = 1;
    for (unsigned s = 1; s < kSlots; ++s) {
      if (m_last_entered[s] && m_context[s] == context) {
        m_last_entered[s] = m_clock;
        return s;
      }
      if (m_last_entered[s] < m_last_entered[victim]) victim = s;
    }
    reused = m_last_entered[victim] != 0;
    m_context[victim] = context;
    m_last_entered[victim] = m_clock;
    return victim;
  }

 private:
  uint64_t m_context[kSlots] = {};
  uint64_t m_last_entered[kSlots] = {};  // 0: never used
  uint64_t m_clock = 0;
};

}  // namespace vmxsim::cpu::timing
