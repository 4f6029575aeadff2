// APIC virtualization (SDM Vol. 3C chapter 30): the TPR shadow, virtualized x2APIC MSR accesses
// (TPR, EOI, self-IPI), virtual-interrupt evaluation and delivery through the guest IDT, EOI
// virtualization with the EOI-exit bitmap, and posted-interrupt processing. The virtual-APIC
// page (VIRTUAL_APIC_PAGE_ADDR) has the APIC's register layout: VTPR 0x80, VPPR 0xA0, VISR
// 0x100-0x170, VIRR 0x200-0x270; RVI and SVI are the guest interrupt status field.
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using F = VmcsField;

namespace {
constexpr unsigned kVtpr = 0x80, kVppr = 0xa0, kVisr = 0x100, kVirr = 0x200;
}

uint32_t VmxUnit::vapic_read(unsigned off) {
  return static_cast<uint32_t>(phys_read(m_vmcs.get(F::VIRTUAL_APIC_PAGE_ADDR) + off, 4));
}
void VmxUnit::vapic_write(unsigned off, uint32_t v) {
  phys_write(m_vmcs.get(F::VIRTUAL_APIC_PAGE_ADDR) + off, 4, v);
}
void VmxUnit::vapic_set_bit(unsigned base, unsigned vec, bool set) {
  const unsigned off = base + (vec / 32) * 16;
  const uint32_t r = vapic_read(off);
  vapic_write(off, set ? (r | (1u << (vec & 31))) : (r & ~(1u << (vec & 31))));
}
int VmxUnit::vapic_highest(unsigned base) {
  for (int i = 7; i >= 0; --i) {
    const uint32_t r = vapic_read(base + 16 * i);
    if (r) return 32 * i + (31 - __builtin_clz(r));
  }
  return -1;
}

void VmxUnit::set_interrupt_status(unsigned rvi, unsigned svi) {
  m_vmcs.set(F::GUEST_INTR_STATUS, (rvi & 0xff) | ((svi & 0xff) << 8));
}

// SDM §30.1.3: VPPR from VTPR and SVI.
void VmxUnit::update_vppr() {
  const uint32_t vtpr = vapic_read(kVtpr) & 0xff;
  const unsigned svi = (m_vmcs.get32(F::GUEST_INTR_STATUS) >> 8) & 0xff;
  vapic_write(kVppr, (vtpr >> 4) >= (svi >> 4) ? vtpr : (svi & 0xf0));
}

// SDM §30.2.1: a virtual interrupt is recognized when RVI[7:4] > VPPR[7:4].
void VmxUnit::evaluate_pending_virtual_interrupts() {
  if (!ctl_proc2(proc2::kVirtIntrDelivery)) return;
  const unsigned rvi = m_vmcs.get32(F::GUEST_INTR_STATUS) & 0xff;
  const unsigned vppr = vapic_read(kVppr) & 0xff;
  m_virq_pending = (rvi >> 4) > (vppr >> 4);
  if (m_virq_pending) request_attention();
}

// SDM §30.2.2: deliver the recognized virtual interrupt through the guest IDT (no VM exit).
void VmxUnit::deliver_virtual_interrupt() {
  cpu::Core& c = m_core;
  m_virq_pending = false;
  const unsigned vec = m_vmcs.get32(F::GUEST_INTR_STATUS) & 0xff;
  vapic_set_bit(kVirr, vec, false);
  vapic_set_bit(kVisr, vec, true);
  const int next = vapic_highest(kVirr);
  set_interrupt_status(next < 0 ? 0 : static_cast<unsigned>(next), vec);
  vapic_write(kVppr, vec & 0xf0);
  c.m_activity = cpu::ActivityState::kActive;
  begin_delivery(static_cast<uint8_t>(vec), intr::kExternal, false, 0);
  c.deliver_event(static_cast<uint8_t>(vec), false, 0, false, c.s.rip);
  end_delivery();
  evaluate_pending_virtual_interrupts();
}

// SDM §30.1.2: after a write to the VTPR (MOV to CR8, WRMSR 0x808, an APIC-access write).
void VmxUnit::virtualize_tpr_write(bool after_instruction) {
  if (ctl_proc2(proc2::kVirtIntrDelivery)) {
    update_vppr();
    evaluate_pending_virtual_interrupts();
    return;
  }
  const unsigned vtpr = vapic_read(kVtpr) & 0xff;
  if ((vtpr >> 4) < (m_vmcs.get32(F::TPR_THRESHOLD) & 0xf)) {
    if (after_instruction) exit_after_instruction(kExitTprBelowThreshold, 0);
    VmExit e;  // right after VM entry
    e.reason = kExitTprBelowThreshold;
    vm_exit(e);
    throw VmxTransition{true};
  }
}

// SDM §30.1.4: EOI virtualization.
void VmxUnit::virtualize_eoi() {
  const unsigned svi = (m_vmcs.get32(F::GUEST_INTR_STATUS) >> 8) & 0xff;
  vapic_set_bit(kVisr, svi, false);
  const int next = vapic_highest(kVisr);
  set_interrupt_status(m_vmcs.get32(F::GUEST_INTR_STATUS) & 0xff, next < 0 ? 0 : static_cast<unsigned>(next));
  update_vppr();
  const uint64_t bitmap = m_vmcs.get(field_plus_eoi(svi / 64));
  if ((bitmap >> (svi % 64)) & 1) exit_after_instruction(kExitVirtualizedEoi, svi);
  evaluate_pending_virtual_interrupts();
}

// SDM §30.1.5: self-IPI virtualization.
void VmxUnit::virtualize_self_ipi(unsigned vec) {
  vapic_set_bit(kVirr, vec, true);
  const unsigned rvi = m_vmcs.get32(F::GUEST_INTR_STATUS) & 0xff;
  if (vec > rvi) set_interrupt_status(vec, m_vmcs.get32(F::GUEST_INTR_STATUS) >> 8);
  evaluate_pending_virtual_interrupts();
}

VmcsField VmxUnit::field_plus_eoi(unsigned i) {
  return static_cast<F>(static_cast<unsigned>(F::EOI_EXIT_BITMAP0) + i);
}

bool VmxUnit::virtual_cr8_read(uint64_t& v) {
  if (!ctl_proc(proc::kUseTprShadow)) return false;
  v = (vapic_read(kVtpr) >> 4) & 0xf;
  return true;
}
bool VmxUnit::virtual_cr8_write(uint64_t v) {
  if (!ctl_proc(proc::kUseTprShadow)) return false;
  vapic_write(kVtpr, static_cast<uint32_t>((v & 0xf) << 4));
  virtualize_tpr_write(true);
  return true;
}

// x2APIC MSRs in a guest with "virtualize x2APIC mode" (SDM §30.5); called after the MSR bitmap
// let the access through. False: the access behaves normally.
bool VmxUnit::virtual_x2apic_read(uint32_t msr, uint64_t& v) {
  if (msr < 0x800 || msr > 0x8ff || !ctl_proc2(proc2::kVirtX2apicMode)) return false;
  const unsigned off = (msr & 0xff) << 4;
  if (msr == 0x808) {
    v = phys_read(m_vmcs.get(F::VIRTUAL_APIC_PAGE_ADDR) + kVtpr, 8);
    return true;
  }
  if (!ctl_proc2(proc2::kApicRegisterVirt)) return false;
  // The 8 bytes at the register's offset (SDM §30.5: also for the ICR, whose high half is then
  // the reserved dword at 0x304, not VICR_HI).
  v = phys_read(m_vmcs.get(F::VIRTUAL_APIC_PAGE_ADDR) + off, 8);
  return true;
}

bool VmxUnit::virtual_x2apic_write(uint32_t msr, uint64_t v) {
  if (msr < 0x800 || msr > 0x8ff || !ctl_proc2(proc2::kVirtX2apicMode)) return false;
  cpu::Core& c = m_core;
  if (msr == 0x808) {
    if (v >> 8) c.raise_gp0();
    vapic_write(kVtpr, static_cast<uint32_t>(v));
    virtualize_tpr_write(true);
    return true;
  }
  if (!ctl_proc2(proc2::kVirtIntrDelivery)) return false;
  if (msr == 0x80b) {  // EOI
    if (v != 0) c.raise_gp0();
    virtualize_eoi();
    return true;
  }
  if (msr == 0x83f) {  // SELF IPI
    if (v >> 8) c.raise_gp0();
    vapic_write(0x3f0, static_cast<uint32_t>(v));
    // An illegal vector is left to the VMM: APIC-write VM exit (SDM §30.5).
    if ((v & 0xff) < 16) exit_after_instruction(kExitApicWrite, 0x3f0);
    virtualize_self_ipi(v & 0xff);
    return true;
  }
  return false;
}

// SDM §30.6: a physical interrupt with the notification vector posts the descriptor's PIR
// into the VIRR instead of exiting.
void VmxUnit::process_posted_interrupts() {
  cpu::Core& c = m_core;
  const uint64_t desc = m_vmcs.get(F::POSTED_INTR_DESC_ADDR);
  c.m_env.end_of_interrupt();
  phys_write(desc + 32, 1, phys_read(desc + 32, 1) & ~1ull);  // clear ON
  unsigned rvi = m_vmcs.get32(F::GUEST_INTR_STATUS) & 0xff;
  for (unsigned i = 0; i < 8; ++i) {
    const uint32_t pir = static_cast<uint32_t>(phys_read(desc + 4 * i, 4));
    if (!pir) continue;
    phys_write(desc + 4 * i, 4, 0);
    vapic_write(kVirr + 16 * i, vapic_read(kVirr + 16 * i) | pir);
    rvi = std::max(rvi, 32 * i + (31 - __builtin_clz(pir)));
  }
  set_interrupt_status(rvi, m_vmcs.get32(F::GUEST_INTR_STATUS) >> 8);
  evaluate_pending_virtual_interrupts();
}

void VmxUnit::apic_virt_on_entry() {
  m_virq_pending = false;
  if (ctl_proc2(proc2::kVirtIntrDelivery)) {
    update_vppr();  // VM entry performs PPR virtualization, then evaluates (SDM §27.3.2.5)
    evaluate_pending_virtual_interrupts();
  } else if (ctl_proc(proc::kUseTprShadow) && !ctl_proc2(proc2::kVirtApicAccesses)) {
    virtualize_tpr_write(false);  // TPR below threshold right after VM entry (SDM §27.7.7)
  }
}

void VmxUnit::exit_after_instruction(uint32_t reason, uint64_t qualification) {
  cpu::Core& c = m_core;
  c.s.rip = c.next_rip();  // trap-like: the instruction completed
  VmExit e;
  e.reason = reason;
  e.qualification = qualification;
  vm_exit(e);
  throw VmxTransition{true};
}

// --- the APIC-access page (SDM §30.4): xAPIC MMIO of a guest ---------------------------------

namespace {
// Registers whose reads APIC-register virtualization serves from the virtual-APIC page.
bool read_virtualized(unsigned reg) {
  switch (reg) {
    case 0x20: case 0x30: case 0x80: case 0xb0: case 0xd0: case 0xe0: case 0xf0: case 0x280:
    case 0x300: case 0x310: case 0x380: case 0x3e0:
      return true;
    default:
      return (reg >= 0x100 && reg <= 0x270) || (reg >= 0x320 && reg <= 0x370);
  }
}
// Registers whose writes it stores in the virtual-APIC page, followed by an APIC-write exit.
bool write_virtualized(unsigned reg) {
  switch (reg) {
    case 0x20: case 0xb0: case 0xd0: case 0xe0: case 0xf0: case 0x280: case 0x300: case 0x380:
    case 0x3e0:
      return true;
    default:
      return reg >= 0x320 && reg <= 0x370;
  }
}
}  // namespace

[[noreturn]] void VmxUnit::apic_access_exit(unsigned off, unsigned type) {
  // Qualification (SDM Table 28-6): page offset, access type.
  exit_for_access(kExitApicAccess, (off & 0xfff) | (static_cast<uint64_t>(type) << 12));
}

uint64_t VmxUnit::apic_access_read(unsigned off, unsigned size) {
  const unsigned reg = off & ~0xfu;
  const bool in_register = (off & 0xf) + size <= 4;  // within the register's first dword
  const bool served = in_register && (ctl_proc2(proc2::kApicRegisterVirt)
                                          ? read_virtualized(reg)
                                          : (reg == kVtpr && ctl_proc(proc::kUseTprShadow)));
  if (!served) apic_access_exit(off, 0);  // linear read
  return phys_read(m_vmcs.get(F::VIRTUAL_APIC_PAGE_ADDR) + off, size);
}

void VmxUnit::apic_access_write(unsigned off, unsigned size, uint64_t v) {
  const unsigned reg = off & ~0xfu;
  const bool whole = (off & 0xf) == 0 && size == 4;
  const uint64_t page = m_vmcs.get(F::VIRTUAL_APIC_PAGE_ADDR);
  if (whole && reg == kVtpr && ctl_proc(proc::kUseTprShadow)) {
    phys_write(page + kVtpr, 4, v);
    virtualize_tpr_write(true);
    return;
  }
  if (whole && reg == 0xb0 && ctl_proc2(proc2::kVirtIntrDelivery)) {
    phys_write(page + 0xb0, 4, v);
    virtualize_eoi();
    return;
  }
  if (whole && reg == 0x310 && ctl_proc2(proc2::kApicRegisterVirt)) {
    phys_write(page + 0x310, 4, v & 0xff000000u);  // ICR high: only the destination byte
    return;
  }
  if (whole && ctl_proc2(proc2::kApicRegisterVirt) && write_virtualized(reg)) {
    phys_write(page + reg, 4, v);
    // A fixed self-IPI through the ICR (shorthand "self", edge) is virtualized with VID.
    const uint32_t icr = static_cast<uint32_t>(v);
    if (reg == 0x300 && ctl_proc2(proc2::kVirtIntrDelivery) && ((icr >> 18) & 3) == 1 &&
        ((icr >> 8) & 7) == 0 && !(icr & (1u << 15)) && (icr & 0xff) >= 16) {
      virtualize_self_ipi(icr & 0xff);
      return;
    }
    exit_after_instruction(kExitApicWrite, reg);  // trap-like: the VMM emulates the write
  }
  apic_access_exit(off, 1);  // linear write
}

}  // namespace vmxsim::vmx
