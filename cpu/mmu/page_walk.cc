// Linear-to-physical translation on a fast-TLB miss: 32-bit, PAE and 4-level paging with
// accessed/dirty bits, NX, WP, SMEP, SMAP, protection keys off, and exact #PF error codes
// (SDM Vol. 3 §4.3-§4.7).
#include "cpu/code_map.h"
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

namespace {
constexpr uint64_t kPteP = 1ull << 0, kPteRw = 1ull << 1, kPteUs = 1ull << 2, kPteA = 1ull << 5,
                   kPteD = 1ull << 6, kPtePs = 1ull << 7, kPteG = 1ull << 8, kPteXd = 1ull << 63;
}  // namespace

uint64_t Core::translate(uint64_t lin, unsigned access) {
  ++m_tlb_misses;
  const bool write = access & kAccessWrite;
  const bool exec = access & kAccessExec;
  const bool implicit = access & kAccessImplicit;
  const bool user = m_cpl == 3 && !implicit;
  FastTlb& tlb = user ? m_ctx->cur->user : m_ctx->cur->sup;

  uint64_t phys;
  bool allow_write = true, page_user = true, global = false;
  // A guest with EPT: every guest-physical address the walk uses is translated again (the 2-D
  // walk); R/W/X (1/2/4) for the final access.
  const bool ept = VMXSIM_UNLIKELY(m_ept_active);
  const unsigned ept_access = exec ? 4u : write ? 2u : 1u;
  if (!(s.cr0 & cr0::kPg)) {
    phys = lin & (long_mode() ? ~0ull : 0xffffffffull);
  } else {
    ++m_page_walks;
    const uint64_t maxphy_mask = ((1ull << m_params.phys_addr_bits) - 1) & ~0xfffull;
    const bool nxe = s.efer & efer::kNxe;
    // Reserved physical-address bits and XD without NXE (PAE and 4-level formats).
    const uint64_t rsvd_hi = (~((1ull << m_params.phys_addr_bits) - 1) & 0x000fffffffffffffull) |
                             (nxe ? 0 : kPteXd);
    uint32_t err = (write ? pf::kW : 0) | (user ? pf::kU : 0) |
                   (exec && ((nxe && (s.cr4 & cr4::kPae)) || (s.cr4 & cr4::kSmep)) ? pf::kI : 0);
    auto fault = [&](uint32_t extra) {
      throw GuestFault{kPf, true, err | extra, lin};
    };
    // Entries whose A (and D) bits we set once the whole translation is known to succeed.
    uint64_t entry_addr[5];  // host-physical
    uint64_t entry_gpa[5];   // guest-physical (== entry_addr without EPT)
    uint64_t entry_val[5];
    unsigned entry_size = 8, n = 0;
    bool rw = true, us = true, xd = false;
    uint64_t page_mask;  // offset bits within the final page

    auto read_entry = [&](uint64_t addr) {
      const uint64_t hpa = ept ? m_vmx->ept_translate(addr, 1, true, true, lin) : addr;
      const uint64_t v = phys_read(hpa, entry_size);
      entry_gpa[n] = addr;
      entry_addr[n] = hpa;
      entry_val[n] = v;
      ++n;
      if (!(v & kPteP)) fault(0);
      rw = rw && (v & kPteRw);
      us = us && (v & kPteUs);
      if (entry_size == 8) xd = xd || (v & kPteXd);
      return v;
    };

    // The page directory and page table levels, shared by 4-level and PAE paging: a 2 MiB page
    // in the PDE, or a 4 KiB page in the PTE.
    auto walk_directory = [&](uint64_t directory) {
      uint64_t e = read_entry(directory + ((lin >> 21) & 0x1ff) * 8);
      if (e & rsvd_hi) fault(pf::kP | pf::kRsvd);
      if (e & kPtePs) {
        if (e & 0x1fe000ull) fault(pf::kP | pf::kRsvd);
        page_mask = (1ull << 21) - 1;
        phys = (e & maxphy_mask & ~page_mask) | (lin & page_mask);
      } else {
        e = read_entry((e & maxphy_mask) + ((lin >> 12) & 0x1ff) * 8);
        if (e & rsvd_hi) fault(pf::kP | pf::kRsvd);
        page_mask = 0xfff;
        phys = (e & maxphy_mask) | (lin & 0xfff);
      }
    };

    if (long_mode()) {
      // 4-level paging (SDM §4.5).
      uint64_t e = read_entry((s.cr3 & maxphy_mask) + ((lin >> 39) & 0x1ff) * 8);
      if (e & (rsvd_hi | kPtePs)) fault(pf::kP | pf::kRsvd);
      e = read_entry((e & maxphy_mask) + ((lin >> 30) & 0x1ff) * 8);
      if (e & rsvd_hi) fault(pf::kP | pf::kRsvd);
      if (e & kPtePs) {
        // 1 GiB pages: PS is reserved in a PDPTE without the feature (SDM §4.5.4).
        if (!m_params.features.page1gb || (e & 0x3fffe000ull)) fault(pf::kP | pf::kRsvd);
        page_mask = (1ull << 30) - 1;
        phys = (e & maxphy_mask & ~page_mask) | (lin & page_mask);
      } else {
        walk_directory(e & maxphy_mask);
      }
    } else if (s.cr4 & cr4::kPae) {
      // PAE paging (SDM §4.4). PDPTEs are read at walk time.
      const uint64_t pdpte_addr = (s.cr3 & 0xffffffe0ull) + ((lin >> 30) & 3) * 8;
      const uint64_t pdpte = (ept && m_pdptes_loaded) ? m_pdpte[(lin >> 30) & 3]
                             : phys_read(ept ? m_vmx->ept_translate(pdpte_addr, 1, true, true, lin) : pdpte_addr, 8);
      if (!(pdpte & kPteP)) fault(0);
      if (pdpte & (rsvd_hi | kPteXd | 0x1e6ull)) fault(pf::kP | pf::kRsvd);
      walk_directory(pdpte & maxphy_mask);
    } else {
      // 32-bit paging (SDM §4.3), with 4 MiB pages under CR4.PSE (PSE-36 address bits).
      entry_size = 4;
      uint64_t e = read_entry((s.cr3 & 0xfffff000ull) + ((lin >> 22) & 0x3ff) * 4);
      if ((e & kPtePs) && (s.cr4 & cr4::kPse)) {
        if (e & (1ull << 21)) fault(pf::kP | pf::kRsvd);
        page_mask = (1ull << 22) - 1;
        const uint64_t hi = ((e >> 13) & 0xff) << 32;
        phys = ((e & 0xffc00000ull) | hi) + (lin & page_mask);
      } else {
        e = read_entry((e & 0xfffff000ull) + ((lin >> 12) & 0x3ff) * 4);
        page_mask = 0xfff;
        phys = (e & 0xfffff000ull) | (lin & 0xfff);
      }
      (void)page_mask;
    }

    // Permission checks (SDM §4.6).
    const uint64_t last = entry_val[n - 1];
    global = (last & kPteG) && (s.cr4 & cr4::kPge);
    page_user = us;
    const bool wp = s.cr0 & cr0::kWp;
    if (user) {
      if (!us) fault(pf::kP);
      if (write && !rw) fault(pf::kP);
      allow_write = rw;
    } else {
      if (exec && us && (s.cr4 & cr4::kSmep)) fault(pf::kP);
      if (!exec && us && (s.cr4 & cr4::kSmap) &&
          (implicit || !(m_rflags_other & rflags::kAc)))
        fault(pf::kP);
      allow_write = rw || !wp;
      if (write && !allow_write) fault(pf::kP);
    }
    if (exec && xd && nxe) fault(pf::kP);

    // Success: set accessed bits, and the dirty bit of the final entry on a write.
    for (unsigned i = 0; i < n; ++i) {
      uint64_t v = entry_val[i];
      const uint64_t want = kPteA | ((i == n - 1 && write) ? kPteD : 0);
      if ((v & want) != want) {
        // Setting A/D is a locked read-modify-write of the guest paging structure: EPT must
        // allow both (an EPT violation reports read and write).
        const uint64_t hpa = ept ? m_vmx->ept_translate(entry_gpa[i], 3, true, true, lin) : entry_addr[i];
        phys_write(hpa, entry_size, v | want);
      }
    }
    // A write mapping in the fast TLB needs D already set, so that the first store through it
    // sets D (that happens here, on this miss).
    if (!write && !(last & kPteD)) allow_write = false;
  }

  unsigned ept_perms = 7;
  if (ept) {
    // Mode-based execute control tells supervisor-mode from user-mode linear addresses (with
    // paging off every address is a supervisor-mode one).
    const bool user_address = exec && (s.cr0 & cr0::kPg) && page_user;
    phys = m_vmx->ept_translate(phys, ept_access | (user_address ? vmx::VmxUnit::kEptAccessUserMode : 0u),
                                false, true, lin, &ept_perms);
  }

  // Install the translation when the page is RAM (a guest's APIC-access page never: its
  // accesses are virtualized on the slow path).
  const uint64_t ppage = phys & ~0xfffull;
  uint8_t* host = VMXSIM_UNLIKELY(ppage == m_apic_access_page) ? nullptr : m_env.dmi_page(ppage, true);
  if (host) {
    FastTlbEntry& e = tlb.entry(lin);
    // SMAP makes supervisor data accesses to user pages depend on RFLAGS.AC: keep them slow.
    const bool smap_sensitive = !user && page_user && (s.cr4 & cr4::kSmap);
    // Pages with an armed data breakpoint: the accesses it watches must reach the slow path.
    bool bp_read = false, bp_write = false;
    if (VMXSIM_UNLIKELY(m_bp_data_mask)) {
      bp_read = data_breakpoint_page(lin, false);
      bp_write = data_breakpoint_page(lin, true);
    }
    if (!smap_sensitive || exec) {
      if (e.phys_page != ppage || e.read_tag != (lin & ~0xfffull)) e = FastTlbEntry{};
      e.addend = reinterpret_cast<uint64_t>(host) - (lin & ~0xfffull);
      e.phys_page = ppage;
      e.global = global;
      if (!smap_sensitive && !bp_read && (ept_perms & 1)) e.read_tag = lin & ~0xfffull;
      if (allow_write && (ept_perms & 2) && !m_code_map.page_writes_tracked(ppage) && !smap_sensitive && !bp_write)
        e.write_tag = lin & ~0xfffull;
      tlb.note_installed(lin);
    }
  }
  return phys;
}

}  // namespace vmxsim::cpu
