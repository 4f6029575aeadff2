// Extended page tables (SDM Vol. 3C §29.3): the guest-physical to host-physical walk with its
// permissions, misconfigurations, accessed/dirty flags and the EPT-violation / misconfiguration
// VM exits. The core calls ept_translate() for every guest-physical address it uses while a
// guest runs with EPT: its own page-walk references, the final translation, and the paging-off
// case of an unrestricted guest. The timing model charges the 2-D walk (up to 24 references)
// when its own TLB misses: ept_walk_refs() lists the EPT references without side effects.
#include <cstring>

#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using F = VmcsField;

namespace {
constexpr uint64_t kR = 1, kW = 2, kX = 4;
constexpr uint64_t kEptLarge = 1ull << 7, kEptA = 1ull << 8, kEptD = 1ull << 9;
// Mode-based execute control: bit 2 of an entry allows fetches from supervisor-mode linear
// addresses, bit 10 from user-mode ones (SDM §29.3.3.2).
constexpr uint64_t kEptXUser = 1ull << 10;

bool bad_memory_type(uint64_t e) {
  const unsigned t = (e >> 3) & 7;
  return t == 2 || t == 3 || t == 7;
}
}  // namespace

[[noreturn]] void VmxUnit::ept_exit(uint32_t reason, uint64_t gpa, uint64_t qual, bool lin_valid, uint64_t lin) {
  VmExit e;
  e.reason = reason;
  e.qualification = qual;
  e.guest_physical = gpa;
  e.has_physical = true;
  if (lin_valid) {
    e.guest_linear = lin;
    e.has_linear = true;
  }
  vm_exit(e);
  throw VmxTransition{false};
}

uint64_t VmxUnit::ept_translate(uint64_t gpa, unsigned access, bool paging_structure, bool lin_valid,
                                uint64_t lin, unsigned* perms_out) {
  cpu::Core& c = m_core;
  const uint64_t eptp = m_vmcs.get(F::EPT_POINTER);
  const unsigned maxphy = c.params().phys_addr_bits;
  const uint64_t addr_mask = ((1ull << maxphy) - 1) & ~0xfffull;
  const uint64_t rsvd_hi = ~((1ull << maxphy) - 1) & 0x000fffffffffffffull;
  const bool ad = eptp & (1ull << 6);
  const bool mbec = ctl_proc2(proc2::kModeBasedEpt);
  // A fetch from a user-mode linear address (U/S = 1 at every guest paging level) needs XU.
  const bool user_fetch = mbec && (access & kX) && (access & kEptAccessUserMode);
  access &= 7;
  // With accessed/dirty flags on, the processor's accesses to guest paging structures are
  // writes for EPT (it may set their A/D bits; SDM §29.3.3.2).
  if (paging_structure && ad) access |= kW;
  uint64_t table = eptp & addr_mask;
  uint64_t perm = kR | kW | kX;
  bool xu = true;  // execute for user-mode linear addresses, with MBEC
  uint64_t entry_addr[4];
  uint64_t entry_val[4];
  unsigned n = 0;
  uint64_t hpa = 0;
  auto violation = [&](uint64_t perms) {
    // Bits 3-5: the AND of bits 2:0 of the entries used; bit 6 with MBEC: the AND of their XU.
    uint64_t q = (access & 7) | ((perms & 7) << 3) | (mbec && xu ? (1u << 6) : 0);
    if (lin_valid) q |= (1u << 7) | (paging_structure ? 0 : (1u << 8));
    ept_exit(kExitEptViolation, gpa, q, lin_valid, lin);
  };
  for (int level = 4; level >= 1; --level) {
    const uint64_t addr = table + ((gpa >> (12 + 9 * (level - 1))) & 0x1ff) * 8;
    // The core's phys_read, not the VMX unit's: the timing model charges this walk through its
    // TLB model (walk_refs), not as VMX memory traffic.
    const uint64_t e = m_core.phys_read(addr, 8);
    entry_addr[n] = addr;
    entry_val[n] = e;
    ++n;
    // Not present (bits 2:0 clear, and with MBEC bit 10 too): no permissions to report.
    if ((e & 7) == 0 && !(mbec && (e & kEptXUser))) {
      xu = false;
      violation(0);
    }
    // Misconfigurations (SDM §29.3.3.1): write without read, reserved bits, bad memory types.
    bool misconfig = (e & 3) == kW || (e & rsvd_hi);
    const bool leaf = level == 1 || (level <= 3 && (e & kEptLarge));
    if (level == 4) misconfig = misconfig || (e & 0xf8);
    if (level == 3 && (e & kEptLarge)) misconfig = misconfig || !(m_caps.ept_vpid & (1ull << 17)) || (e & 0x3ffff000ull);
    if (level == 2 && (e & kEptLarge)) misconfig = misconfig || (e & 0x1ff000ull);
    if (!leaf && level < 4) misconfig = misconfig || (e & 0x78);
    if (leaf) misconfig = misconfig || bad_memory_type(e);
    if (misconfig) ept_exit(kExitEptMisconfig, gpa, 0, false, 0);
    perm &= e & 7;
    xu = xu && (e & kEptXUser);
    if (leaf) {
      const uint64_t page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
      hpa = (e & addr_mask & ~page_mask) | (gpa & page_mask);
      break;
    }
    table = e & addr_mask;
  }
  // The fetch permission that applies: XS (bit 2) or, for a user-mode address with MBEC, XU.
  const uint64_t usable = user_fetch ? ((perm & ~kX) | (xu ? kX : 0)) : perm;
  if ((access & usable) != access) violation(perm);
  if (perms_out) {
    // What the core's fast TLB may cache for this page: writes only once the dirty flag is
    // set (or A/D flags are off), so that the first write through it sets D here.
    const bool dirty_ok = !ad || (access & kW) || (entry_val[n - 1] & kEptD);
    *perms_out = static_cast<unsigned>(usable & (dirty_ok ? 7 : (kR | kX)));
  }
  if (ad) {
    // Page-modification logging (SDM §29.3.6): the dirty flag of the page going from 0 to 1 is
    // logged first; with the log full the access becomes a VM exit instead.
    if ((access & kW) && !(entry_val[n - 1] & kEptD) && ctl_proc2(proc2::kEnablePml)) log_modified_page(gpa);
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t want = kEptA | ((i == n - 1 && (access & kW)) ? kEptD : 0);
      if ((entry_val[i] & want) != want) m_core.phys_write(entry_addr[i], 8, entry_val[i] | want);
    }
  }
  return hpa;
}

void VmxUnit::log_modified_page(uint64_t gpa) {
  const uint16_t index = static_cast<uint16_t>(m_vmcs.get(F::GUEST_PML_INDEX));
  if (index > 511) {  // a page-modification log-full event (exit reason 62); nothing is logged
    VmExit e;
    e.reason = kExitPmlFull;
    vm_exit(e);
    throw VmxTransition{false};
  }
  phys_write(m_vmcs.get(F::PML_ADDRESS) + 8 * index, 8, gpa & ~0xfffull);
  m_vmcs.set(F::GUEST_PML_INDEX, static_cast<uint16_t>(index - 1));  // 0 wraps to 0xffff: full
}

bool VmxUnit::ept_walk_refs(uint64_t gpa, uint64_t refs[4], unsigned& n, uint64_t& hpa) {
  const uint64_t eptp = m_vmcs.get(F::EPT_POINTER);
  const unsigned maxphy = m_core.params().phys_addr_bits;
  const uint64_t addr_mask = ((1ull << maxphy) - 1) & ~0xfffull;
  uint64_t table = eptp & addr_mask;
  n = 0;
  for (int level = 4; level >= 1; --level) {
    const uint64_t addr = table + ((gpa >> (12 + 9 * (level - 1))) & 0x1ff) * 8;
    refs[n++] = addr;
    const uint8_t* page = m_core.env().dmi_page(addr, false);
    if (!page) return false;
    uint64_t e;
    std::memcpy(&e, page + (addr & 0xfff), 8);
    if ((e & 7) == 0 && !(ctl_proc2(proc2::kModeBasedEpt) && (e & kEptXUser))) return false;
    if (level == 1 || (level <= 3 && (e & kEptLarge))) {
      const uint64_t page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
      hpa = (e & addr_mask & ~page_mask) | (gpa & page_mask);
      return true;
    }
    table = e & addr_mask;
  }
  return false;
}

uint64_t VmxUnit::guest_phys_read(uint64_t gpa, unsigned size) {
  if (!m_core.ept_active()) return phys_read(gpa, size);
  return phys_read(ept_translate(gpa, kR, false, false, 0, nullptr), size);
}

}  // namespace vmxsim::vmx
