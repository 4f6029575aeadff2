// Control registers, EFER and the MSRs the core implements (SDM Vol. 3 §2.5, §2.2.1,
// Vol. 4 MSR list).
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {


uint64_t Core::cr4_supported() const {
  const CpuFeatures& f = m_params.features;
  return cr4::kVme | cr4::kPvi | cr4::kTsd | cr4::kDe | cr4::kPse | cr4::kPae | cr4::kMce |
         cr4::kPge | cr4::kPce | cr4::kOsfxsr | cr4::kOsxmmexcpt | cr4::kOsxsave |
         (f.umip ? cr4::kUmip : 0) | (f.pcid ? cr4::kPcide : 0) | (f.smep ? cr4::kSmep : 0) |
         (f.smap ? cr4::kSmap : 0) | (f.vmx ? cr4::kVmxe : 0);
}

void Core::write_cr0(uint64_t v) {
  if (v >> 32) raise_gp0();
  v |= cr0::kEt;
  // In VMX operation the IA32_VMX_CR0_FIXED bits may not change (SDM §24.8).
  if (m_vmx->in_vmx_operation() && !m_vmx->cr0_valid_in_vmx(v)) raise_gp0();
  if ((v & cr0::kPg) && !(v & cr0::kPe)) raise_gp0();
  if ((v & cr0::kNw) && !(v & cr0::kCd)) raise_gp0();
  const uint64_t old = s.cr0;
  if ((old & cr0::kPg) && !(v & cr0::kPg) && in_64bit_mode()) raise_gp0();
  // Nor can compatibility mode leave IA-32e mode while PCIDs are enabled (SDM Vol. 2B, MOV to
  // CR0; CR4.PCIDE exists only in IA-32e mode, §4.10.1).
  if ((old & cr0::kPg) && !(v & cr0::kPg) && (s.cr4 & cr4::kPcide)) raise_gp0();
  if (!(old & cr0::kPg) && (v & cr0::kPg) && (s.efer & efer::kLme)) {
    if (!(s.cr4 & cr4::kPae)) raise_gp0();
    if (s.seg[kCs].ar & ar::kL) raise_gp0();
    s.efer |= efer::kLma;
  }
  if (!(v & cr0::kPg)) s.efer &= ~efer::kLma;
  s.cr0 = v;
  m_pdptes_loaded = false;
  if ((old ^ v) & (cr0::kPg | cr0::kPe | cr0::kWp | cr0::kCd)) {
    flush_tlb(true);
    mode_changed();
    m_break_block = true;
  } else if ((old ^ v) & cr0::kAm) {
    mode_changed();  // alignment checking
    m_break_block = true;
  }
}

void Core::write_cr3(uint64_t v) {
  m_pdptes_loaded = false;  // PAE: the PDPTEs come from memory again
  const bool pcide = s.cr4 & cr4::kPcide;
  const bool no_flush = pcide && (v >> 63);
  if (pcide) v &= ~(1ull << 63);
  if (long_mode() && (v >> m_params.phys_addr_bits)) raise_gp0();
  s.cr3 = long_mode() ? v : (v & 0xffffffffull);
  // The new PCID's translations come into use; other PCIDs' and global ones stay. Without bit
  // 63 the new PCID's non-global translations go (SDM Vol. 3A §4.10.4.1).
  select_pcid();
  if (!no_flush)
    flush_tlb_pcid(current_pcid());
  else
    m_blocks.flush_front();  // keyed by linear RIP: CR3 may name other tables with the same PCID
  m_break_block = true;
}

void Core::write_cr4(uint64_t v) {
  if (v & ~cr4_supported()) raise_gp0();
  if (m_vmx->in_vmx_operation() && !m_vmx->cr4_valid_in_vmx(v)) raise_gp0();
  if (long_mode() && !(v & cr4::kPae)) raise_gp0();
  if ((v & cr4::kPcide) && !(s.cr4 & cr4::kPcide) && (!long_mode() || (s.cr3 & 0xfff))) raise_gp0();
  const uint64_t old = s.cr4;
  s.cr4 = v;
  m_pdptes_loaded = false;
  // Changing PGE, or PCIDE from 1 to 0, drops every PCID's translations, global ones too (SDM
  // Vol. 3A §4.10.4.1); the others need less, and flushing more is allowed. PCIDE from 0 to 1
  // keeps PCID 0 current (CR3[11:0] is 0).
  if ((old ^ v) & (cr4::kPge | cr4::kPae | cr4::kPse | cr4::kSmep | cr4::kSmap | cr4::kPcide))
    flush_tlb(true);
  mode_changed();
  m_break_block = true;
}

void Core::write_cr8(uint64_t v) {
  if (v & ~0xfull) raise_gp0();
  s.cr8 = v;
  m_env.set_tpr(static_cast<uint8_t>(v << 4));
  m_attention = true;  // a lower TPR may unmask a pending interrupt
}

uint64_t Core::read_cr8() { return (m_env.get_tpr() >> 4) & 0xf; }

void Core::write_efer(uint64_t v) {
  if (v & ~efer::kSupported) raise_gp0();
  if (((v ^ s.efer) & efer::kLme) && (s.cr0 & cr0::kPg)) raise_gp0();
  v = (v & ~efer::kLma) | (s.efer & efer::kLma);  // LMA is read-only
  const uint64_t old = s.efer;
  s.efer = v;
  if ((old ^ v) & efer::kNxe) flush_tlb(true);
  mode_changed();
}

bool Core::read_msr(uint32_t msr, uint64_t& v) {
  switch (msr) {
    case 0x10: v = tsc_for_software(); return true;          // IA32_TSC
    case 0x17: v = 0; return true;                           // IA32_PLATFORM_ID
    case 0x1b:  // IA32_APIC_BASE: the local APIC owns it when there is one
      if (!m_env.msr_read(msr, v)) v = s.apic_base;
      return true;
    case 0x3a: v = s.feature_control; return true;           // IA32_FEATURE_CONTROL
    case 0x8b: v = uint64_t{m_params.microcode_revision} << 32; return true;  // IA32_BIOS_SIGN_ID
    case 0x0: case 0x1: v = 0; return true;                  // IA32_P5_MC_ADDR/TYPE: no #MC yet
    case 0xfe: v = 0x508; return true;                       // IA32_MTRRCAP: 8 var, fixed, WC
    case 0x174: v = s.sysenter_cs; return true;
    case 0x175: v = s.sysenter_esp; return true;
    case 0x176: v = s.sysenter_eip; return true;
    case 0x179: v = CpuState::kMcBanks; return true;         // IA32_MCG_CAP: banks, no MCG_CTL
    case 0x17a: v = 0; return true;                          // IA32_MCG_STATUS
    case 0x400: case 0x404: case 0x408: case 0x40c: v = s.mc_ctl[(msr - 0x400) / 4]; return true;  // IA32_MCi_CTL
    case 0x401: case 0x405: case 0x409: case 0x40d: v = 0; return true;                 // IA32_MCi_STATUS
    case 0x402: case 0x406: case 0x40a: case 0x40e: v = s.mc_addr[(msr - 0x400) / 4]; return true;  // IA32_MCi_ADDR
    case 0x403: case 0x407: case 0x40b: case 0x40f: v = s.mc_misc[(msr - 0x400) / 4]; return true;  // IA32_MCi_MISC
    case 0x1a0: v = s.misc_enable; return true;
    case 0x1d9: v = s.debugctl; return true;                 // IA32_DEBUGCTL
    case 0x277: v = s.pat; return true;
    case 0x2ff: v = s.mtrr_def_type; return true;
    case 0x250: v = s.mtrr_fixed[0]; return true;
    case 0x258: v = s.mtrr_fixed[1]; return true;
    case 0x259: v = s.mtrr_fixed[2]; return true;
    case 0xc0000080: v = s.efer; return true;
    case 0xc0000081: v = s.star; return true;
    case 0xc0000082: v = s.lstar; return true;
    case 0xc0000083: v = s.cstar; return true;
    case 0xc0000084: v = s.fmask; return true;
    case 0xc0000100: v = s.seg[kFs].base; return true;
    case 0xc0000101: v = s.seg[kGs].base; return true;
    case 0xc0000102: v = s.kernel_gs_base; return true;
    case 0xc0000103:
      if (!m_params.features.rdtscp) return false;
      v = s.tsc_aux;
      return true;
    default: break;
  }
  if (msr >= 0x268 && msr <= 0x26f) { v = s.mtrr_fixed[3 + msr - 0x268]; return true; }
  if (msr >= 0x200 && msr <= 0x20f) { v = s.mtrr_var[msr - 0x200]; return true; }
  // The VMX capability MSRs exist only on a processor with VMX.
  if (msr >= 0x480 && msr <= 0x491) return m_params.features.vmx && m_vmx->caps().read_msr(msr, v);
  return m_env.msr_read(msr, v);
}

bool Core::write_msr(uint32_t msr, uint64_t v) {
  const uint64_t phys_mask = ~((1ull << m_params.phys_addr_bits) - 1);
  switch (msr) {
    case 0x10: s.tsc_offset = v - (tsc() - s.tsc_offset); return true;
    case 0x1b:
      // The local APIC checks reserved bits and mode transitions (SDM Vol. 3 §10.12.5).
      if (!m_env.msr_write(msr, v)) return false;
      if (!m_env.msr_read(msr, s.apic_base)) s.apic_base = v;
      return true;
    case 0x3a:
      if (s.feature_control & 1) return false;  // locked until reset
      s.feature_control = v;
      return true;
    case 0x8b: return true;
    case 0x174: s.sysenter_cs = v & 0xffff; return true;
    case 0x175: if (!is_canonical(v)) return false; s.sysenter_esp = v; return true;
    case 0x176: if (!is_canonical(v)) return false; s.sysenter_eip = v; return true;
    case 0x17a: return v == 0;
    // IA32_MCi_CTL: all errors reported or none (bits 0 and 10 may be clear, as KVM allows for
    // AMD's quirk); anything else is #GP, as on P6-family parts and under KVM.
    case 0x400: case 0x404: case 0x408: case 0x40c:
      if (v != 0 && (v | 0x401) != ~0ull) return false;
      s.mc_ctl[(msr - 0x400) / 4] = v;
      return true;
    case 0x401: case 0x405: case 0x409: case 0x40d: return v == 0;  // MCi_STATUS: only cleared
    case 0x402: case 0x406: case 0x40a: case 0x40e: s.mc_addr[(msr - 0x400) / 4] = v; return true;
    case 0x403: case 0x407: case 0x40b: case 0x40f: s.mc_misc[(msr - 0x400) / 4] = v; return true;
    case 0x1a0:
      // The MONITOR FSM bit exists only where MONITOR/MWAIT do; clearing it hides them.
      if (!m_params.features.monitor) v &= ~misc_enable::kMonitorFsm;
      s.misc_enable = v;
      return true;
    case 0x1d9:
      // LBR, BTF, TR, BTS, BTINT, BTS_OFF_OS/USR, FREEZE_LBRS/PERFMON_ON_PMI, FREEZE_WHILE_SMM.
      if (v & ~0x5fc3ull) return false;
      s.debugctl = v;
      return true;
    case 0x277:
      if (!pat_valid(v)) return false;
      s.pat = v;
      return true;
    case 0x2ff:
      if (v & ~0xcffull) return false;
      s.mtrr_def_type = v;
      return true;
    case 0x250: s.mtrr_fixed[0] = v; return true;
    case 0x258: s.mtrr_fixed[1] = v; return true;
    case 0x259: s.mtrr_fixed[2] = v; return true;
    case 0xc0000080: {
      if (v & ~efer::kSupported) return false;
      if (((v ^ s.efer) & efer::kLme) && (s.cr0 & cr0::kPg)) return false;
      write_efer(v);
      return true;
    }
    case 0xc0000081: s.star = v; return true;
    case 0xc0000082: if (!is_canonical(v)) return false; s.lstar = v; return true;
    case 0xc0000083: if (!is_canonical(v)) return false; s.cstar = v; return true;
    case 0xc0000084: s.fmask = v & 0xffffffffull; return true;
    case 0xc0000100:
      if (!is_canonical(v)) return false;
      s.seg[kFs].base = v;
      m_seg_base[kFs] = v;
      return true;
    case 0xc0000101:
      if (!is_canonical(v)) return false;
      s.seg[kGs].base = v;
      m_seg_base[kGs] = v;
      return true;
    case 0xc0000102: if (!is_canonical(v)) return false; s.kernel_gs_base = v; return true;
    case 0xc0000103:
      if ((v >> 32) || !m_params.features.rdtscp) return false;
      s.tsc_aux = v;
      return true;
    default: break;
  }
  if (msr >= 0x268 && msr <= 0x26f) { s.mtrr_fixed[3 + msr - 0x268] = v; return true; }
  if (msr >= 0x200 && msr <= 0x20f) {
    if (v & phys_mask & ~0xffffffffffff0000ull) return false;
    s.mtrr_var[msr - 0x200] = v;
    return true;
  }
  return m_env.msr_write(msr, v);
}

}  // namespace vmxsim::cpu
