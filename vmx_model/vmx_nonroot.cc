// Instructions in VMX non-root operation (SDM Vol. 3C chapter 26): the exits the execution
// controls ask for, with their exit qualifications, and the changed behaviour of the
// instructions that do not exit (CR read shadows, guest/host masks, TSC offsetting).
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using cpu::Core;
using F = VmcsField;

VmExit VmxUnit::instruction_exit(uint32_t reason, uint64_t qualification) const {
  VmExit e;
  e.reason = reason;
  e.qualification = qualification;
  e.has_instr = true;
  e.instr_len = m_core.m_cur_op ? m_core.m_cur_op->len : 0;
  return e;
}

bool VmxUnit::exit_for_instruction(uint32_t reason, uint64_t qualification, uint32_t instr_info) {
  VmExit e = instruction_exit(reason, qualification);
  e.instr_info = instr_info;
  vm_exit(e);
  m_core.switch_context(false);
  return true;
}

void VmxUnit::exit_for_access(uint32_t reason, uint64_t qualification) {
  vm_exit(instruction_exit(reason, qualification));
  throw VmxTransition{false};
}

bool VmxUnit::on_hlt() {
  return ctl_proc(proc::kHltExiting) && exit_for_instruction(kExitHlt);
}
bool VmxUnit::on_invlpg(uint64_t lin) {
  return ctl_proc(proc::kInvlpgExiting) && exit_for_instruction(kExitInvlpg, lin);
}
bool VmxUnit::on_rdpid() {
  if (!ctl_proc2(proc2::kEnableRdtscp)) m_core.raise_ud();
  return false;
}

bool VmxUnit::on_rdtsc(bool rdtscp) {
  if (rdtscp && !ctl_proc2(proc2::kEnableRdtscp)) m_core.raise_ud();
  return ctl_proc(proc::kRdtscExiting) && exit_for_instruction(rdtscp ? kExitRdtscp : kExitRdtsc);
}
bool VmxUnit::on_rdpmc() {
  return ctl_proc(proc::kRdpmcExiting) && exit_for_instruction(kExitRdpmc);
}
bool VmxUnit::on_pause() {
  return ctl_proc(proc::kPauseExiting) && exit_for_instruction(kExitPause);
}
bool VmxUnit::on_mwait(bool monitor_armed) {
  return ctl_proc(proc::kMwaitExiting) && exit_for_instruction(kExitMwait, monitor_armed ? 1 : 0);
}
bool VmxUnit::on_monitor() {
  return ctl_proc(proc::kMonitorExiting) && exit_for_instruction(kExitMonitor);
}
bool VmxUnit::on_wbinvd() {
  return ctl_proc2(proc2::kWbinvdExiting) && exit_for_instruction(kExitWbinvd);
}
bool VmxUnit::on_rdrand(bool seed) {
  return ctl_proc2(seed ? proc2::kRdseedExiting : proc2::kRdrandExiting) &&
         exit_for_instruction(seed ? kExitRdseed : kExitRdrand);
}
bool VmxUnit::on_invpcid() {
  // INVPCID is #UD in a guest unless enabled; with INVLPG exiting it exits (SDM §26.3).
  if (!ctl_proc2(proc2::kEnableInvpcid)) m_core.raise_ud();
  return ctl_proc(proc::kInvlpgExiting) && exit_for_instruction(kExitInvpcid);
}

bool VmxUnit::on_desc_table(bool gdtr_idtr, unsigned instr_id, const cpu::DecodedOp& op) {
  if (!ctl_proc2(proc2::kDescTableExiting)) return false;
  // Instruction information (SDM Tables 28-10/28-11): operand form as for VMX instructions,
  // bits 29:28 the instruction identity.
  uint32_t info = instruction_info(op, 0, 3) & ~(0xfu << 28);
  info |= (instr_id & 3) << 28;
  return exit_for_instruction(gdtr_idtr ? kExitGdtrIdtrAccess : kExitLdtrTrAccess,
                       op.kind[0] == cpu::OpKind::kMem ? static_cast<uint64_t>(op.disp) : 0, info);
}

// MSR bitmaps (SDM §25.6.9): read-low, read-high, write-low, write-high quarters of one 4 KiB
// page for MSRs 0-0x1fff and 0xc0000000-0xc0001fff; every other MSR exits.
bool VmxUnit::on_msr_access(uint32_t msr, bool write) {
  const uint32_t reason = write ? kExitWrmsr : kExitRdmsr;
  if (!ctl_proc(proc::kUseMsrBitmaps)) return exit_for_instruction(reason);
  uint64_t off = write ? 2048 : 0;
  if (msr >= 0xc0000000 && msr <= 0xc0001fff) off += 1024;
  else if (msr > 0x1fff) return exit_for_instruction(reason);
  const uint32_t idx = msr & 0x1fff;
  const bool exits = phys_read(m_vmcs.get(F::MSR_BITMAP) + off + idx / 8, 1) & (1u << (idx & 7));
  return exits && exit_for_instruction(reason);
}

bool VmxUnit::on_io(uint16_t port, unsigned size, bool in, bool string, bool rep, bool imm,
                    const cpu::DecodedOp& op) {
  bool exits;
  if (ctl_proc(proc::kUseIoBitmaps)) {
    // One bit per port in bitmap A (0-0x7fff) and B (0x8000-0xffff); an access that wraps
    // past 0xffff exits (SDM §26.1.3).
    exits = false;
    for (unsigned i = 0; i < size && !exits; ++i) {
      const uint32_t p = port + i;
      if (p > 0xffff) { exits = true; break; }
      const uint64_t base = m_vmcs.get(p < 0x8000 ? F::IO_BITMAP_A : F::IO_BITMAP_B);
      if (phys_read(base + (p & 0x7fff) / 8, 1) & (1u << (p & 7))) exits = true;
    }
  } else {
    exits = ctl_proc(proc::kUncondIoExiting);
  }
  if (!exits) return false;
  // Exit qualification (SDM Table 28-5): size-1, direction, string, REP, immediate, port.
  uint64_t q = (size - 1) | (in ? 8u : 0u) | (string ? 16u : 0u) | (rep ? 32u : 0u) |
               (imm ? 64u : 0u) | (static_cast<uint64_t>(port) << 16);
  Core& c = m_core;
  VmExit e = instruction_exit(kExitIoInstruction, q);
  if (string) {
    // INS/OUTS instruction information (IA32_VMX_BASIC[54]): address size and segment; the
    // guest-linear address of the string element.
    const unsigned seg = in ? static_cast<unsigned>(cpu::kEs) : operand_segment(op);
    const unsigned as = op.addrsize == 8 ? 2 : op.addrsize == 4 ? 1 : 0;
    e.instr_info = (as << 7) | (seg << 15);
    const uint64_t ea = in ? c.s.gpr[cpu::kRdi] : c.s.gpr[cpu::kRsi];
    const uint64_t mask = op.addrsize == 8 ? ~0ull : op.addrsize == 4 ? 0xffffffffull : 0xffffull;
    e.guest_linear = c.seg_base(seg) + (ea & mask);
    e.has_linear = true;
  }
  vm_exit(e);
  m_core.switch_context(false);
  return true;
}

uint64_t VmxUnit::guest_visible_cr0(uint64_t cr0) const {
  const uint64_t mask = m_vmcs.get(F::CR0_GUEST_HOST_MASK);
  return (cr0 & ~mask) | (m_vmcs.get(F::CR0_READ_SHADOW) & mask);
}
uint64_t VmxUnit::guest_visible_cr4(uint64_t cr4) const {
  const uint64_t mask = m_vmcs.get(F::CR4_GUEST_HOST_MASK);
  return (cr4 & ~mask) | (m_vmcs.get(F::CR4_READ_SHADOW) & mask);
}

// Exit qualification for control-register accesses (SDM Table 28-3).
namespace {
uint64_t cr_qual(unsigned cr, unsigned type, unsigned gpr) { return cr | (type << 4) | (gpr << 8); }
}  // namespace

// A MOV CR exit; the value it returns is unused (the caller sees Core::context_switched()).
uint64_t VmxUnit::cr_access_exit(uint64_t qualification) {
  exit_for_instruction(kExitCrAccess, qualification);
  return 0;
}

uint64_t VmxUnit::on_mov_to_cr(unsigned cr, uint64_t value, unsigned gpr) {
  Core& c = m_core;
  switch (cr) {
    case 0: case 4: {
      const uint64_t mask = m_vmcs.get(cr == 0 ? F::CR0_GUEST_HOST_MASK : F::CR4_GUEST_HOST_MASK);
      const uint64_t shadow = m_vmcs.get(cr == 0 ? F::CR0_READ_SHADOW : F::CR4_READ_SHADOW);
      if ((value ^ shadow) & mask) return cr_access_exit(cr_qual(cr, 0, gpr));
      // Bits owned by the host keep their current values.
      const uint64_t cur = cr == 0 ? c.s.cr0 : c.s.cr4;
      return (value & ~mask) | (cur & mask);
    }
    case 3: {
      if (!ctl_proc(proc::kCr3LoadExiting)) return value;
      const uint32_t n = m_vmcs.get32(F::CR3_TARGET_COUNT);
      for (uint32_t i = 0; i < n && i < 4; ++i)
        if (m_vmcs.get(static_cast<F>(static_cast<unsigned>(F::CR3_TARGET_VALUE0) + i)) == value) return value;
      return cr_access_exit(cr_qual(3, 0, gpr));
    }
    case 8:
      if (ctl_proc(proc::kCr8LoadExiting)) return cr_access_exit(cr_qual(8, 0, gpr));
      return value;
    default:
      return value;
  }
}

uint64_t VmxUnit::on_mov_from_cr(unsigned cr, unsigned gpr) {
  Core& c = m_core;
  switch (cr) {
    case 0: return guest_visible_cr0(c.s.cr0);
    case 4: return guest_visible_cr4(c.s.cr4);
    case 3:
      if (ctl_proc(proc::kCr3StoreExiting)) return cr_access_exit(cr_qual(3, 1, gpr));
      return c.s.cr3;
    case 8: {
      if (ctl_proc(proc::kCr8StoreExiting)) return cr_access_exit(cr_qual(8, 1, gpr));
      uint64_t v;
      return virtual_cr8_read(v) ? v : c.read_cr8();
    }
    default:
      return 0;
  }
}

bool VmxUnit::on_clts() {
  // CLTS exits when the host owns CR0.TS and the shadow says TS is set (SDM §26.1.3); with the
  // shadow clear it completes without touching the host-owned TS.
  const bool host_owned = m_vmcs.get(F::CR0_GUEST_HOST_MASK) & cpu::cr0::kTs;
  if (host_owned && (m_vmcs.get(F::CR0_READ_SHADOW) & cpu::cr0::kTs))
    return exit_for_instruction(kExitCrAccess, cr_qual(0, 2, 0));
  return host_owned;
}

uint64_t VmxUnit::on_lmsw(uint16_t value, bool mem, uint64_t lin) {
  // LMSW exits if it would set a host-owned bit of PE/MP/EM/TS to a value other than the shadow,
  // or clear a host-owned PE that the shadow has set (SDM §26.1.3).
  const uint64_t mask = m_vmcs.get(F::CR0_GUEST_HOST_MASK) & 0xf;
  const uint64_t shadow = m_vmcs.get(F::CR0_READ_SHADOW);
  const bool exits = ((value ^ shadow) & mask & 0xe) || ((mask & 1) && !(shadow & 1) && (value & 1));
  if (exits) {
    uint64_t q = cr_qual(0, 3, 0) | (mem ? 64u : 0u) | (static_cast<uint64_t>(value) << 16);
    VmExit e = instruction_exit(kExitCrAccess, q);
    if (mem) { e.guest_linear = lin; e.has_linear = true; }
    vm_exit(e);
    m_core.switch_context(false);
  }
  return mask;  // the caller keeps these CR0 bits
}

bool VmxUnit::on_mov_dr(unsigned dr, bool to_dr, unsigned gpr) {
  return ctl_proc(proc::kMovDrExiting) &&
         exit_for_instruction(kExitDrAccess, dr | (to_dr ? 0u : 16u) | (gpr << 8));
}

uint64_t VmxUnit::guest_tsc(uint64_t host_tsc) const {
  return ctl_proc(proc::kUseTscOffsetting) ? host_tsc + m_vmcs.get(F::TSC_OFFSET) : host_tsc;
}

}  // namespace vmxsim::vmx
