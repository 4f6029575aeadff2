// Event delivery: exceptions and interrupts through the IVT/IDT in every mode, #DF and triple
// fault, IRET, and the block-boundary attention handler (SDM Vol. 3 §6).
#include <algorithm>
#include <cstdio>

#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

namespace {

// Exception classes for the double-fault rules (SDM Vol. 3 Table 6-4/6-5).
enum class FaultClass { kBenign, kContributory, kPageFault };
FaultClass fault_class(uint8_t v) {
  switch (v) {
    case kDe: case kTs: case kNp: case kSsFault: case kGp: return FaultClass::kContributory;
    case kPf: return FaultClass::kPageFault;
    default: return FaultClass::kBenign;
  }
}

bool causes_double_fault(uint8_t first, uint8_t second) {
  const FaultClass a = fault_class(first), b = fault_class(second);
  if (a == FaultClass::kContributory && b == FaultClass::kContributory) return true;
  if (a == FaultClass::kPageFault && b != FaultClass::kBenign) return true;
  return false;
}

}  // namespace

void Core::raise(uint8_t vector) { throw GuestFault{vector, false, 0, 0}; }
void Core::raise(uint8_t vector, uint32_t error) { throw GuestFault{vector, true, error, 0}; }

void Core::handle_fault(const GuestFault& f, bool set_rf) {
  if (f.vector < 32) ++m_exceptions[f.vector];
  uint8_t vector = f.vector;
  bool has_error = f.has_error;
  uint32_t error = f.error;
  uint64_t cr2 = f.cr2;
  // The faulting instruction did not complete: its data-breakpoint hits, and debug traps deferred
  // by a preceding MOV SS, are dropped.
  m_pending_db = 0;
  for (unsigned depth = 0;; ++depth) {
    try {
      // In VMX non-root operation the exception bitmap may turn the exception into a VM exit
      // (#PF: the exit qualification is the faulting address and CR2 is not written).
      if (VMXSIM_UNLIKELY(m_vmx_nonroot) &&
          m_vmx->exception_exits(vector, has_error, error, vector == kPf ? cr2 : 0, false,
                                 vmx::intr::kHardwareException)) {
        m_vmx->end_delivery();
        throw vmx::VmxTransition{false};
      }
      if (vector == kPf) s.cr2 = cr2;
      m_interrupt_shadow = m_movss_shadow = false;
      // Faults push RFLAGS with RF set, so that IRET back to the instruction does not re-trigger
      // an instruction breakpoint (SDM Vol. 3 §17.3.1.1); the instruction-breakpoint #DB itself
      // pushes RF as it is (0).
      m_delivering_fault = set_rf || depth > 0;
      if (VMXSIM_UNLIKELY(m_vmx_nonroot)) m_vmx->begin_delivery(vector, vmx::intr::kHardwareException, has_error, error);
      deliver_event(vector, has_error, error, false, s.rip);
      if (VMXSIM_UNLIKELY(m_vmx_nonroot)) m_vmx->end_delivery();
      m_delivering_fault = false;
      return;
    } catch (const GuestFault& second) {
      m_delivering_fault = false;
      if (second.vector < 32) ++m_exceptions[second.vector];
      if (vector == kDf || depth > 4) {
        if (m_params.trace_events)
          std::fprintf(stderr, "cpu%u triple fault: vector %u during delivery of %u\n",
                       m_params.apic_id, second.vector, vector);
        if (m_vmx_nonroot) {  // a guest's triple fault is a VM exit (SDM §26.2)
          m_vmx->end_delivery();
          m_vmx->on_triple_fault();
          throw vmx::VmxTransition{false};
        }
        enter_shutdown("triple fault");
        return;
      }
      if (causes_double_fault(vector, second.vector)) {
        vector = kDf;
        has_error = true;
        error = 0;
      } else {
        vector = second.vector;
        has_error = second.has_error;
        error = second.error;
        cr2 = second.cr2;
      }
    }
  }
}

// Delivers `vector`. Faults during delivery propagate as GuestFault (the caller applies the
// double-fault rules). `software` is INT n/INT3/INTO: the gate DPL is checked against CPL and
// the error-code EXT bit is 0; external events and exceptions set EXT in error codes.
void Core::deliver_event(uint8_t vector, bool has_error, uint32_t error, bool software,
                         uint64_t return_rip) {
  if (VMXSIM_UNLIKELY(m_params.trace_events))
    std::fprintf(stderr, "cpu%u event: vector %u%s error %#x at %04x:%#llx (cr2 %#llx)\n",
                 m_params.apic_id, vector, software ? " (software)" : "", has_error ? error : 0,
                 s.seg[kCs].selector, static_cast<unsigned long long>(s.rip),
                 static_cast<unsigned long long>(s.cr2));
  // Every delivery takes time (at least a cycle): a guest whose fault handler itself faults
  // forever still lets simulated time, and with it timers and the run's limits, advance.
  m_cycles += std::max<Cycles>(1, m_params.latency[static_cast<int>(TimingClass::kEvent)]);
  const uint32_t ext = software ? 0 : 1;
  const uint64_t old_flags = rflags() | (m_delivering_fault ? rflags::kRf : 0);
  // A #DB clears DR7.GD so that the handler may use the debug registers (SDM §17.2.4), once the
  // delivery can no longer fault (INT1 must restart with it set). INT n, INT3 and INTO do not
  // single-step into the handler: the delivery clears TF.
  const bool clear_gd = vector == kDb && !software;
  if (software) m_step_rule = StepRule::kSuppress;

  if (!protected_mode()) {
    // Real mode: IVT entry of 4 bytes (SDM Vol. 3 §20.1.4).
    if (vector * 4u + 3 > s.idtr.limit) raise(kGp, vector * 8u + 2 + ext);
    const uint32_t ent = static_cast<uint32_t>(read_system(s.idtr.base + vector * 4u, 4));
    // FLAGS, CS, IP: every slot is probed before the first is written, so that a fault (#SS,
    // or an EPT violation in an unrestricted guest) leaves SP and the stack as they were.
    const uint64_t sp = stack_pointer(), mask = stack_mask();
    const uint64_t frame[3] = {old_flags, s.seg[kCs].selector, return_rip};
    uint64_t lin[3];
    for (unsigned i = 0; i < 3; ++i) {
      lin[i] = stack_linear((sp - 2 * (i + 1)) & mask, 2, true);
      probe_write(lin[i], 2);
    }
    for (unsigned i = 0; i < 3; ++i) write<2>(lin[i], frame[i]);
    set_stack_pointer(sp - 6);
    Segment cs = s.seg[kCs];
    cs.selector = static_cast<uint16_t>(ent >> 16);
    cs.base = static_cast<uint64_t>(cs.selector) << 4;
    set_segment(kCs, cs);
    m_rflags_other &= ~(rflags::kIf | rflags::kTf | rflags::kAc | rflags::kRf);
    if (clear_gd) s.dr[7] &= ~dr7::kGd;
    s.rip = ent & 0xffff;
    s.gpr[kRegNextRip] = s.rip;
    return;
  }

  const bool lm = long_mode();
  const unsigned gate_size = lm ? 16 : 8;
  const uint32_t idt_err = vector * 8u + 2 + ext;
  if (vector * gate_size + gate_size - 1 > s.idtr.limit) raise(kGp, idt_err);
  const uint64_t lo = read_system(s.idtr.base + vector * gate_size, 8);
  const uint64_t hi = lm ? read_system(s.idtr.base + vector * gate_size + 8, 8) : 0;
  const unsigned type = (lo >> 40) & 0xf;
  const unsigned gate_dpl = (lo >> 45) & 3;
  const bool present = (lo >> 47) & 1;
  bool gate32 = true, trap_gate = false;
  if (lm) {
    if (type != 0xe && type != 0xf) raise(kGp, idt_err);
    trap_gate = type == 0xf;
  } else {
    switch (type) {
      case 0x6: gate32 = false; break;
      case 0x7: gate32 = false; trap_gate = true; break;
      case 0xe: break;
      case 0xf: trap_gate = true; break;
      default: raise(kGp, idt_err);  // task gates are not modelled
    }
  }
  if (software && gate_dpl < m_cpl) raise(kGp, vector * 8u + 2);
  if (!present) raise(kNp, idt_err);
  const uint16_t cs_sel = static_cast<uint16_t>(lo >> 16);
  uint64_t offset = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull);
  if (lm) offset |= (hi & 0xffffffffull) << 32;
  if ((cs_sel & 0xfffc) == 0) raise(kGp, ext);
  const uint64_t cs_desc = read_descriptor(cs_sel, kGp);
  Segment cs = segment_from_descriptor(cs_sel, cs_desc);
  const unsigned cs_dpl = (cs.ar >> ar::kDplShift) & 3;
  if (!(cs.ar & ar::kS) || !(cs.ar & ar::kCodeBit) || cs_dpl > m_cpl) raise(kGp, (cs_sel & 0xfffc) + ext);
  if (!(cs.ar & ar::kP)) raise(kNp, (cs_sel & 0xfffc) + ext);
  if (lm && (!(cs.ar & ar::kL) || (cs.ar & ar::kDb))) raise(kGp, (cs_sel & 0xfffc) + ext);
  const bool conforming = cs.ar & ar::kCodeConforming;
  const bool was_v86 = v86_mode();
  const unsigned new_cpl = conforming ? m_cpl : cs_dpl;
  if (was_v86 && new_cpl != 0) raise(kGp, (cs_sel & 0xfffc) + ext);
  const bool stack_switch = new_cpl < m_cpl || (lm && ((lo >> 32) & 7) != 0);
  const unsigned ist = lm ? ((lo >> 32) & 7) : 0;

  const uint64_t old_ss = s.seg[kSs].selector;
  const uint64_t old_rsp = s.gpr[kRsp];
  const uint16_t old_cs = s.seg[kCs].selector;

  if (lm) {
    // IA-32e mode delivery: 64-bit pushes, RSP aligned to 16 (SDM Vol. 3 §6.14).
    uint64_t rsp = old_rsp;
    Segment new_ss = s.seg[kSs];
    if (new_cpl < m_cpl || ist) {
      if (ist) {
        rsp = read_system(s.tr.base + 0x24 + 8 * (ist - 1), 8);
      } else {
        if (0x04 + 8 * new_cpl + 7 > s.tr.limit) raise(kTs, s.tr.selector & 0xfffc);
        rsp = read_system(s.tr.base + 0x04 + 8 * new_cpl, 8);
      }
      if (new_cpl < m_cpl) {
        new_ss = Segment{};
        new_ss.selector = static_cast<uint16_t>(new_cpl);
        new_ss.ar = ar::kUnusable | (new_cpl << ar::kDplShift);
      }
    }
    rsp &= ~0xfull;
    const uint64_t frame[6] = {old_ss, old_rsp, old_flags, old_cs, return_rip, error};
    const unsigned nwords = has_error ? 6 : 5;
    uint64_t lin[6];
    for (unsigned i = 0; i < nwords; ++i) {
      rsp -= 8;
      if (!is_canonical(rsp)) raise(kSsFault, 0);
      lin[i] = rsp;
    }
    write_system_frame(lin, frame, nwords, 8);
    if (new_cpl < m_cpl) set_segment(kSs, new_ss);
    s.gpr[kRsp] = rsp;
  } else {
    // Legacy protected-mode delivery (SDM Vol. 3 §6.12.1).
    const unsigned w = gate32 ? 4 : 2;
    uint64_t sp;
    Segment ss = s.seg[kSs];
    if (new_cpl < m_cpl) {
      // New stack from the TSS (32-bit TSS: ESPn at 4 + 8n, SSn at 8 + 8n).
      const bool tss32 = (s.tr.ar & 0x8) != 0;
      uint16_t ss_sel;
      if (tss32) {
        if (8 * new_cpl + 8 + 3 > s.tr.limit) raise(kTs, s.tr.selector & 0xfffc);
        sp = read_system(s.tr.base + 4 + 8 * new_cpl, 4);
        ss_sel = static_cast<uint16_t>(read_system(s.tr.base + 8 + 8 * new_cpl, 2));
      } else {
        if (4 * new_cpl + 4 + 1 > s.tr.limit) raise(kTs, s.tr.selector & 0xfffc);
        sp = read_system(s.tr.base + 2 + 4 * new_cpl, 2);
        ss_sel = static_cast<uint16_t>(read_system(s.tr.base + 4 + 4 * new_cpl, 2));
      }
      if ((ss_sel & 0xfffc) == 0) raise(kTs, ext);
      const uint64_t ssd = read_descriptor(ss_sel, kTs);
      ss = segment_from_descriptor(ss_sel, ssd);
      const unsigned ss_dpl = (ss.ar >> ar::kDplShift) & 3;
      if ((ss_sel & 3) != new_cpl || ss_dpl != new_cpl || !(ss.ar & ar::kS) ||
          (ss.ar & ar::kCodeBit) || !(ss.ar & ar::kDataWritable))
        raise(kTs, (ss_sel & 0xfffc) + ext);
      if (!(ss.ar & ar::kP)) raise(kSsFault, (ss_sel & 0xfffc) + ext);
    } else {
      sp = stack_pointer();
    }
    const bool ss32 = ss.ar & ar::kDb;
    const uint64_t sp_mask = ss32 ? 0xffffffffull : 0xffffull;
    uint64_t frame[10];
    unsigned n = 0;
    if (was_v86) {
      frame[n++] = s.seg[kGs].selector;
      frame[n++] = s.seg[kFs].selector;
      frame[n++] = s.seg[kDs].selector;
      frame[n++] = s.seg[kEs].selector;
    }
    if (new_cpl < m_cpl) {
      frame[n++] = old_ss;
      frame[n++] = old_rsp;
    }
    frame[n++] = old_flags;
    frame[n++] = old_cs;
    frame[n++] = return_rip;
    if (has_error) frame[n++] = error;
    uint64_t lin[10];
    for (unsigned i = 0; i < n; ++i) {
      sp = (sp - w) & sp_mask;
      if (sp + w - 1 > ss.limit && !(ss.ar & ar::kDataExpandDown)) raise(kSsFault, 0);
      lin[i] = ss.base + sp;
    }
    write_system_frame(lin, frame, n, w);
    if (new_cpl < m_cpl) {
      s.seg[kSs] = ss;
      s.seg[kSs].ar |= ar::kAccessed;
    }
    if (ss32)
      s.gpr[kRsp] = sp & 0xffffffff;
    else
      s.gpr[kRsp] = (s.gpr[kRsp] & ~0xffffull) | (sp & 0xffff);
    if (was_v86) {
      for (unsigned sr : {kGs, kFs, kDs, kEs}) {
        Segment z;
        z.ar = ar::kUnusable;
        s.seg[sr] = z;
      }
    }
    if (!gate32) offset &= 0xffff;
  }
  (void)stack_switch;

  cs.selector = static_cast<uint16_t>((cs_sel & 0xfffc) | new_cpl);
  cs.ar |= ar::kAccessed;
  s.seg[kCs] = cs;
  m_rflags_other &= ~(rflags::kTf | rflags::kNt | rflags::kRf | rflags::kVm);
  if (!trap_gate) m_rflags_other &= ~rflags::kIf;
  m_cpl = new_cpl;
  mode_changed();
  if (clear_gd) s.dr[7] &= ~dr7::kGd;
  s.rip = offset;
  s.gpr[kRegNextRip] = offset;
}

void Core::iret(unsigned opsize) {
  const unsigned w = opsize;
  if (!protected_mode() || v86_mode()) {
    // Real mode, or VM86 with IOPL 3 (SDM IRET pseudo-code, REAL-ADDRESS-MODE / V86).
    if (v86_mode() && ((m_rflags_other & rflags::kIoplMask) >> rflags::kIoplShift) != 3) raise_gp0();
    // All three slots are read before SP moves (a fault in the third restarts the instruction).
    const uint64_t ip = stack_read(0, w);
    const uint16_t cs = static_cast<uint16_t>(stack_read(w, w));
    const uint64_t fl = stack_read(2 * w, w);
    set_stack_pointer(stack_pointer() + 3 * w);
    uint64_t keep = rflags();
    uint64_t mask = w == 4 ? 0x257fd5ull : 0xffffull;  // VM, VIP, VIF, IOPL kept as below
    if (v86_mode()) mask &= ~rflags::kIoplMask;
    mask &= ~(rflags::kVm | rflags::kVif | rflags::kVip);
    Segment sg = s.seg[kCs];
    sg.selector = cs;
    sg.base = static_cast<uint64_t>(cs) << 4;
    set_segment(kCs, sg);
    set_rflags((keep & ~mask) | (fl & mask));
    set_next_rip(ip & (w == 4 ? 0xffffffffull : 0xffffull));
    unblock_nmi_on_iret();
    m_attention = true;
    return;
  }
  if (m_rflags_other & rflags::kNt && !long_mode()) raise_gp0();  // task return: not modelled

  const bool lm64 = in_64bit_mode();
  const uint64_t sp0 = stack_pointer();
  const unsigned as = stack_addr_size();
  const uint64_t amask = as == 8 ? ~0ull : as == 4 ? 0xffffffffull : 0xffffull;
  auto peek = [&](unsigned idx) {
    const uint64_t off = (sp0 + idx * w) & amask;
    return read_sized(as == 8 ? off : linear_seg(kSs, off, w, false), w);
  };
  const uint64_t new_rip = peek(0);
  const uint16_t new_cs = static_cast<uint16_t>(peek(1));
  const uint64_t new_flags = peek(2);

  if (!long_mode() && (new_flags & rflags::kVm) && m_cpl == 0 && w == 4) {
    // Return to virtual-8086 mode (SDM IRET: RETURN-TO-VIRTUAL-8086-MODE).
    const uint64_t esp = peek(3);
    const uint16_t ss = static_cast<uint16_t>(peek(4));
    const uint16_t es = static_cast<uint16_t>(peek(5)), ds = static_cast<uint16_t>(peek(6));
    const uint16_t fs = static_cast<uint16_t>(peek(7)), gs = static_cast<uint16_t>(peek(8));
    set_rflags(new_flags);
    m_cpl = 3;
    mode_changed();
    load_segment(kCs, new_cs);
    load_segment(kSs, ss);
    load_segment(kEs, es);
    load_segment(kDs, ds);
    load_segment(kFs, fs);
    load_segment(kGs, gs);
    s.gpr[kRsp] = esp & 0xffffffff;
    set_next_rip(new_rip & 0xffff);
    unblock_nmi_on_iret();
    m_attention = true;
    return;
  }

  const unsigned rpl = new_cs & 3;
  if ((new_cs & 0xfffc) == 0) raise_gp0();
  const uint64_t desc = read_descriptor(new_cs, kGp);
  Segment cs = segment_from_descriptor(new_cs, desc);
  const unsigned dpl = (cs.ar >> ar::kDplShift) & 3;
  const uint32_t err = new_cs & 0xfffc;
  if (!(cs.ar & ar::kS) || !(cs.ar & ar::kCodeBit) || rpl < m_cpl) raise(kGp, err);
  if ((cs.ar & ar::kCodeConforming) ? dpl > rpl : dpl != rpl) raise(kGp, err);
  if (!(cs.ar & ar::kP)) raise(kNp, err);
  if (long_mode() && (cs.ar & ar::kL) && (cs.ar & ar::kDb)) raise(kGp, err);

  const bool outer = rpl > m_cpl;
  uint64_t new_rsp = 0;
  uint16_t new_ss = 0;
  if (outer || lm64) {
    new_rsp = peek(3);
    new_ss = static_cast<uint16_t>(peek(4));
  }
  Segment ss_seg;
  if (outer || lm64) {
    const bool null_ss_ok = long_mode() && (cs.ar & ar::kL) && rpl != 3;
    if ((new_ss & 0xfffc) == 0) {
      if (!null_ss_ok) raise_gp0();
      ss_seg.selector = new_ss;
      ss_seg.ar = ar::kUnusable | (rpl << ar::kDplShift);
    } else {
      const uint64_t ssd = read_descriptor(new_ss, kGp);
      ss_seg = segment_from_descriptor(new_ss, ssd);
      const unsigned ss_dpl = (ss_seg.ar >> ar::kDplShift) & 3;
      if ((new_ss & 3) != rpl || ss_dpl != rpl || !(ss_seg.ar & ar::kS) ||
          (ss_seg.ar & ar::kCodeBit) || !(ss_seg.ar & ar::kDataWritable))
        raise(kGp, new_ss & 0xfffc);
      if (!(ss_seg.ar & ar::kP)) raise(kSsFault, new_ss & 0xfffc);
      ss_seg.ar |= ar::kAccessed;
    }
  }

  // RFLAGS update rules: IOPL only at CPL 0, IF only when CPL <= IOPL, VM/VIF/VIP at CPL 0.
  const unsigned old_cpl = m_cpl;
  const unsigned iopl = (m_rflags_other & rflags::kIoplMask) >> rflags::kIoplShift;
  uint64_t mask = rflags::kArith | rflags::kTf | rflags::kDf | rflags::kNt | rflags::kOf |
                  rflags::kRf | rflags::kAc | rflags::kId;
  if (old_cpl <= iopl) mask |= rflags::kIf;
  if (old_cpl == 0) mask |= rflags::kIoplMask | rflags::kVif | rflags::kVip;
  if (w == 2) mask &= 0xffff;
  const uint64_t flags_val = (rflags() & ~mask) | (new_flags & mask);

  cs.ar |= ar::kAccessed;
  s.seg[kCs] = cs;
  m_cpl = rpl;
  if (outer || lm64) {
    s.seg[kSs] = ss_seg;
    s.gpr[kRsp] = w == 4 ? (new_rsp & 0xffffffff) : w == 2 ? ((s.gpr[kRsp] & ~0xffffull) | (new_rsp & 0xffff)) : new_rsp;
    if (!(ss_seg.ar & ar::kDb) && !long_mode() && w == 4)
      s.gpr[kRsp] = (s.gpr[kRsp] & ~0xffffull) | (new_rsp & 0xffff);
  } else {
    set_stack_pointer((sp0 + 3 * w) & amask);
  }
  set_rflags(flags_val);
  if (outer) {
    // Data segments not accessible at the new CPL become null (SDM IRET: RETURN-TO-OUTER):
    // the selector is cleared and the register unusable; the hidden base stays (it is still
    // the FS/GS base in 64-bit mode).
    for (unsigned sr : {kEs, kDs, kFs, kGs}) {
      Segment& d = s.seg[sr];
      const unsigned ddpl = (d.ar >> ar::kDplShift) & 3;
      const bool conf_code = (d.ar & ar::kCodeBit) && (d.ar & ar::kCodeConforming);
      if (!(d.ar & ar::kUnusable) && !conf_code && ddpl < m_cpl) {
        d.selector = 0;
        d.ar = ar::kUnusable;
      }
    }
  }
  mode_changed();
  uint64_t rip = new_rip;
  if (!in_64bit_mode()) rip &= (w == 2) ? 0xffff : 0xffffffff;
  set_next_rip(rip);
  unblock_nmi_on_iret();
  m_attention = true;
}

// IRET ends NMI blocking; in a guest with virtual NMIs it ends virtual-NMI blocking instead.
void Core::unblock_nmi_on_iret() {
  if (VMXSIM_UNLIKELY(m_vmx_nonroot) && m_vmx->on_iret()) return;
  m_nmi_blocked = false;
}

bool Core::deliverable_interrupt() {
  return (m_rflags_other & rflags::kIf) && !m_interrupt_shadow;
}

// INIT and SIPI (SDM Vol. 3C "Restrictions on VMX Operation", "Other Causes of VM Exits" and VM
// entry's "Activity State"). INIT is blocked in VMX root operation and in a guest's wait-for-SIPI
// state: blocked means held, not lost -- VM entry and VMXOFF ask for attention so that a held INIT
// is looked at again (it then exits the guest, or resets the processor once it left VMX
// operation). In any other guest state INIT is a VM exit that consumes it. A SIPI counts only in
// the wait-for-SIPI state (a VM exit in a guest, the start-up otherwise) and is discarded in
// every other state.
void Core::handle_init_sipi() {
  if (m_init_pending) {
    if (m_vmx_nonroot) {
      if (m_activity != ActivityState::kWaitForSipi) {
        m_init_pending = false;
        m_vmx->init_signal_exit();
        throw vmx::VmxTransition{false};
      }
    } else if (!m_vmx->in_vmx_operation()) {
      m_init_pending = false;
      const bool bsp = s.apic_base & (1ull << 8);
      reset(bsp);  // an AP then waits for SIPI
      m_env.init_performed();
    }
  }
  if (m_sipi_pending) {
    m_sipi_pending = false;
    if (m_activity != ActivityState::kWaitForSipi) return;
    if (m_vmx_nonroot) {
      m_vmx->sipi_exit(m_sipi_vector);
      throw vmx::VmxTransition{false};
    }
    Segment cs = s.seg[kCs];
    cs.selector = static_cast<uint16_t>(m_sipi_vector) << 8;
    cs.base = static_cast<uint64_t>(m_sipi_vector) << 12;
    set_segment(kCs, cs);
    s.rip = 0;
    m_activity = ActivityState::kActive;
  }
}

void Core::handle_attention() {
  m_attention = false;
  if (m_init_pending || m_sipi_pending) handle_init_sipi();
  if (m_activity == ActivityState::kShutdown || m_activity == ActivityState::kWaitForSipi) return;
  // A guest's monitor-trap-flag exit comes first: it saves pending debug exceptions.
  if (VMXSIM_UNLIKELY(m_vmx_nonroot) && m_vmx->check_mtf()) return switch_context(false);
  try {
    // Debug traps of the previous instruction come before NMI and interrupts (SDM Vol. 3
    // Table 6-2); after a single-stepped HLT they wait for the event that ends the halt.
    if (VMXSIM_UNLIKELY(m_pending_db) && !m_movss_shadow) {
      if (m_activity == ActivityState::kActive || (m_nmi_pending && !m_nmi_blocked) ||
          (deliverable_interrupt() && m_env.pending_interrupt() >= 0)) {
        m_activity = ActivityState::kActive;
        deliver_debug_trap();
      }
    }
    // Guest events that become VM exits (preemption timer, windows, NMI, external interrupts)
    // come after pending debug exceptions (SDM §26.7.4, kvm-unit-tests preemption_timer_zero).
    if (VMXSIM_UNLIKELY(m_vmx_nonroot) && m_vmx->check_pending_events()) return switch_context(false);
    if (m_nmi_pending && !m_nmi_blocked && !m_interrupt_shadow) {
      m_nmi_pending = false;
      m_nmi_blocked = true;
      m_activity = ActivityState::kActive;
      ++m_exceptions[kNmi];
      if (VMXSIM_UNLIKELY(m_vmx_nonroot)) m_vmx->begin_delivery(kNmi, vmx::intr::kNmi, false, 0);
      deliver_event(kNmi, false, 0, false, s.rip);
      if (VMXSIM_UNLIKELY(m_vmx_nonroot)) m_vmx->end_delivery();
    }
    if (deliverable_interrupt()) {
      const int v = m_env.pending_interrupt();
      if (v >= 0) {
        m_env.acknowledge_interrupt(v);
        m_activity = ActivityState::kActive;
        ++m_interrupts[v & 0xff];
        if (VMXSIM_UNLIKELY(m_vmx_nonroot)) m_vmx->begin_delivery(static_cast<uint8_t>(v), vmx::intr::kExternal, false, 0);
        deliver_event(static_cast<uint8_t>(v), false, 0, false, s.rip);
        if (VMXSIM_UNLIKELY(m_vmx_nonroot)) m_vmx->end_delivery();
        // Another interrupt may be pending behind this one (re-checked once IF is set again).
        m_attention = true;
      }
    }
  } catch (const GuestFault& f) {
    handle_fault(f);
  }
  if (m_interrupt_shadow || (m_nmi_pending && !m_nmi_blocked)) m_attention = true;
}

// After an instruction executed at instruction granularity (or a block whose last instruction
// set a step rule): the single-step trap (SDM Vol. 3 §17.3.1.4: DR6.BS, RIP of the next
// instruction) joins the data-breakpoint hits of the instruction in one #DB, unless a MOV SS
// defers them past the next instruction or the core halted (handle_attention delivers them).
void Core::after_single_step(bool tf_before) {
  const StepRule rule = m_step_rule;
  m_step_rule = StepRule::kNormal;
  bool trap = tf_before;
  if (rule == StepRule::kSuppress) trap = false;
  if (rule == StepRule::kAfterIfTf) trap = m_rflags_other & rflags::kTf;
  if (trap) m_pending_db |= dr6::kBs;
  if (!m_pending_db || m_movss_shadow) return;
  // Under the monitor trap flag the MTF VM exit comes first and saves the trap as a pending
  // debug exception (SDM §26.7.2).
  if (VMXSIM_UNLIKELY(m_vmx_nonroot) && m_vmx->mtf_enabled()) {
    m_attention = true;
    return;
  }
  if (m_activity != ActivityState::kActive) {
    m_attention = true;
    return;
  }
  deliver_debug_trap();
}

}  // namespace vmxsim::cpu
