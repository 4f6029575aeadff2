#include "cpu/mmu/walk_refs.h"

#include <cstring>

#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

namespace {
constexpr uint64_t kPteP = 1ull << 0, kPtePs = 1ull << 7, kPteG = 1ull << 8;
}  // namespace

uint64_t CoreWalkSource::read_entry(uint64_t paddr, unsigned size) {
  // Paging structures in anything but RAM read as not present (the walk stops).
  const uint8_t* page = m_core.env().dmi_page(paddr, false);
  if (!page) return 0;
  uint64_t v = 0;
  std::memcpy(&v, page + (paddr & 0xfff), size);
  return v;
}

// Same level structure as Core::translate (SDM Vol. 3 §4.3-§4.5), addresses only.
bool CoreWalkSource::walk(uint64_t lin, timing::WalkRefs& out) {
  const CpuState& s = m_core.s;
  out = timing::WalkRefs{};
  // A guest with EPT: each guest-physical address is first translated through EPT, whose
  // entry references the walk also makes (the 2-D walk). False when EPT does not map it.
  const bool ept = m_core.ept_active();
  bool ept_ok = true;
  auto ept_translate = [&](uint64_t gpa, unsigned slot) {
    uint64_t hpa = gpa;
    if (ept && !m_core.vmx().ept_walk_refs(gpa, out.ept[slot], out.ept_n[slot], hpa)) ept_ok = false;
    return hpa;
  };
  if (!(s.cr0 & cr0::kPg)) {
    out.page_shift = 30;  // no paging: nothing to walk, one large "page"
    if (ept) {
      ept_translate(lin, timing::WalkRefs::kEptFinal);
      out.page_shift = 12;
    }
    return ept_ok;
  }
  const uint64_t mask = ((1ull << m_core.params().phys_addr_bits) - 1) & ~0xfffull;
  auto ref = [&](uint64_t addr, unsigned size) {
    const unsigned slot = out.n;
    const uint64_t hpa = ept_translate(addr, slot);
    out.addr[out.n++] = hpa;
    return ept_ok ? read_entry(hpa, size) : 0;
  };
  uint64_t e = 0;
  // Page directory and page table, shared by 4-level and PAE paging.
  auto walk_directory = [&](uint64_t directory) {
    e = ref(directory + ((lin >> 21) & 0x1ff) * 8, 8);
    if (!(e & kPteP)) return false;
    out.page_shift = 21;
    if (e & kPtePs) return true;
    e = ref((e & mask) + ((lin >> 12) & 0x1ff) * 8, 8);
    out.page_shift = 12;
    return (e & kPteP) != 0;
  };
  if (m_core.long_mode()) {
    out.four_level = true;
    e = ref((s.cr3 & mask) + ((lin >> 39) & 0x1ff) * 8, 8);
    if (!(e & kPteP)) return false;
    e = ref((e & mask) + ((lin >> 30) & 0x1ff) * 8, 8);
    if (!(e & kPteP)) return false;
    if (e & kPtePs) {
      out.page_shift = 30;
    } else if (!walk_directory(e & mask)) {
      return false;
    }
  } else if (s.cr4 & cr4::kPae) {
    // PDPTEs are loaded with CR3 on hardware (SDM §4.4.1): not a walk reference.
    const uint64_t pdpte = read_entry((s.cr3 & 0xffffffe0ull) + ((lin >> 30) & 3) * 8, 8);
    if (!(pdpte & kPteP) || !walk_directory(pdpte & mask)) return false;
  } else {
    e = ref((s.cr3 & 0xfffff000ull) + ((lin >> 22) & 0x3ff) * 4, 4);
    if (!(e & kPteP)) return false;
    if ((e & kPtePs) && (s.cr4 & cr4::kPse)) {
      out.page_shift = 22;
    } else {
      e = ref((e & 0xfffff000ull) + ((lin >> 12) & 0x3ff) * 4, 4);
      if (!(e & kPteP)) return false;
      out.page_shift = 12;
    }
  }
  out.global = (e & kPteG) && (s.cr4 & cr4::kPge);
  if (ept) {
    // The final guest-physical address (a 4 KiB page of it: the combined translation is cached
    // at the smaller of the two page sizes; 4 KiB is the conservative choice).
    const uint64_t page = (1ull << out.page_shift) - 1;
    const uint64_t gpa = ((out.page_shift == 22 ? (e & 0xffc00000ull) : (e & mask & ~page))) | (lin & page);
    ept_translate(gpa, timing::WalkRefs::kEptFinal);
    out.page_shift = 12;
  }
  return ept_ok;
}

}  // namespace vmxsim::cpu
