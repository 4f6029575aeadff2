// The VMX unit of one logical processor (ARCHITECTURE §5): VMX operation, the current VMCS and
// its processor-side cache, VM entry with the SDM's checks, VM exits as values, and the
// non-root behaviour the execution controls ask for. The core's instruction handlers call in
// here; the unit changes the core's architectural state through the core's own interfaces.
#pragma once

#include <cstdint>
#include <string>

#include "cpu/cpu_state.h"
#include "vmx_model/vmcs.h"
#include "vmx_model/vmx_caps.h"
#include "vmx_model/vmx_costs.h"
#include "vmx_model/vmx_defs.h"

namespace vmxsim {
class StatRegistry;
}
namespace vmxsim::cpu {
class Core;
struct DecodedOp;
struct GuestFault;
}  // namespace vmxsim::cpu

namespace vmxsim::vmx {

// A VM exit as a value (SDM §28.2): what the exit-information fields receive.
struct VmExit {
  uint32_t reason = 0;                 // basic reason; bit 31 for VM-entry failures
  uint64_t qualification = 0;
  uint32_t intr_info = 0, intr_error = 0;
  uint32_t instr_len = 0, instr_info = 0;
  uint64_t guest_linear = 0, guest_physical = 0;
  bool has_instr = false;              // instruction length (and info) are defined
  bool has_linear = false, has_physical = false;
};

// Thrown out of an instruction handler after a VM entry or exit switched the core between the
// host and the guest: the block loop stops executing the current block. `retired`: the
// instruction completed (VMLAUNCH/VMRESUME entering the guest), rather than causing an exit.
struct VmxTransition {
  bool retired;
};

class VmxUnit {
 public:
  // CR0 bits VM entry and VM exit never change: ET, NW, CD and the reserved bits 15:6, 17,
  // 28:19 (SDM §27.3.2.1, §28.5.1).
  static constexpr uint64_t kCr0Unchanged = cpu::cr0::kEt | cpu::cr0::kNw | cpu::cr0::kCd |
                                            0xffc0ull | (1ull << 17) | (0x3ffull << 19);

  VmxUnit(cpu::Core& core, const VmxCaps& caps, const VmxCosts& costs);

  const VmxCaps& caps() const { return m_caps; }
  bool in_vmx_operation() const { return m_vmxon; }
  bool current_vmcs_valid() const { return m_current != kInvalidPtr; }
  const Vmcs& vmcs() const { return m_vmcs; }
  void register_stats(StatRegistry& st, const std::string& prefix);
  // INIT and power-on leave VMX operation state as SDM §24.8 describes (INIT is blocked in VMX
  // root operation; the platform resets us only on power-on).
  void reset();

  // --- VMX instructions (vmx_instructions.cc) --------------------------------------------------
  void vmxon(const cpu::DecodedOp& op);
  void vmxoff(const cpu::DecodedOp& op);
  void vmclear(const cpu::DecodedOp& op);
  void vmptrld(const cpu::DecodedOp& op);
  void vmptrst(const cpu::DecodedOp& op);
  void vmread(const cpu::DecodedOp& op);
  void vmwrite(const cpu::DecodedOp& op);
  void vmlaunch_vmresume(const cpu::DecodedOp& op, bool launch);
  void vmcall(const cpu::DecodedOp& op);
  void vmfunc(const cpu::DecodedOp& op);
  void invept(const cpu::DecodedOp& op);
  void invvpid(const cpu::DecodedOp& op);

  // --- non-root operation (vmx_nonroot.cc) -----------------------------------------------------
  // An instruction's VM exit: performs it and marks the core's context switched
  // (Core::switch_context); returns true. The handler that called it must return at once.
  bool exit_for_instruction(uint32_t reason, uint64_t qualification = 0, uint32_t instr_info = 0);
  // The same exit from inside a memory access (APIC-access page), where no handler can return at
  // once: unwinds to the execution loop with VmxTransition.
  [[noreturn]] void exit_for_access(uint32_t reason, uint64_t qualification);
  // Each returns true when the instruction exited (its handler returns at once), false when it
  // executes.
  [[nodiscard]] bool on_hlt();
  [[nodiscard]] bool on_invlpg(uint64_t lin);
  [[nodiscard]] bool on_rdtsc(bool rdtscp);
  [[nodiscard]] bool on_rdpid();  // #UD unless "enable RDTSCP"; never exits (SDM 26.3)
  [[nodiscard]] bool on_rdpmc();
  [[nodiscard]] bool on_pause();
  // MWAIT's exit qualification says whether the monitor was armed (bit 0).
  [[nodiscard]] bool on_mwait(bool monitor_armed);
  [[nodiscard]] bool on_monitor();
  [[nodiscard]] bool on_wbinvd();
  [[nodiscard]] bool on_rdrand(bool seed);
  [[nodiscard]] bool on_invpcid();
  [[nodiscard]] bool on_desc_table(bool gdtr_idtr, unsigned instr_id, const cpu::DecodedOp& op);
  [[nodiscard]] bool on_msr_access(uint32_t msr, bool write);  // RDMSR/WRMSR
  // I/O: `string`/`rep` for INS/OUTS, `imm` when the port came from an immediate.
  [[nodiscard]] bool on_io(uint16_t port, unsigned size, bool in, bool string, bool rep, bool imm,
                           const cpu::DecodedOp& op);
  [[nodiscard]] bool on_mov_dr(unsigned dr, bool to_dr, unsigned gpr);
  // These return a value and may exit: the caller checks Core::context_switched() after them.
  // MOV to CR0/CR3/CR4/CR8: the value to load (CR0/CR4 with the bits the guest/host mask
  // protects kept from the current value).
  uint64_t on_mov_to_cr(unsigned cr, uint64_t value, unsigned gpr);
  // MOV from CR: the value the guest sees (read shadows for CR0/CR4).
  uint64_t on_mov_from_cr(unsigned cr, unsigned gpr);
  uint64_t guest_visible_cr0(uint64_t cr0) const;
  uint64_t guest_visible_cr4(uint64_t cr4) const;
  // LMSW: the CR0 bits the caller keeps (host-owned).
  uint64_t on_lmsw(uint16_t value, bool mem, uint64_t lin);
  // CLTS: true when the guest's CLTS must leave CR0.TS alone, because the host owns it or
  // because CLTS exited.
  [[nodiscard]] bool on_clts();
  // TSC as the guest sees it (TSC offsetting).
  uint64_t guest_tsc(uint64_t host_tsc) const;
  // CR0/CR4 fixed bits in VMX operation (MOV to CR0/CR4 and VM entry): #GP when violated.
  bool cr0_valid_in_vmx(uint64_t cr0) const;
  bool cr4_valid_in_vmx(uint64_t cr4) const;

  // --- events in non-root operation (vmx_events.cc) ------------------------------------------
  // A fault or exception reached delivery: VM exit if the exception bitmap says so (then true).
  bool exception_exits(uint8_t vector, bool has_error, uint32_t error, uint64_t cr2,
                       bool software, uint32_t type);
  // Block-boundary checks: MTF, preemption timer, NMI/interrupt windows, NMIs and external
  // interrupts (true: a VM exit happened or an event was delivered; the caller re-evaluates).
  bool check_pending_events();
  bool check_mtf();  // a pending monitor-trap-flag VM exit (highest priority)
  // The triple fault / shutdown of a guest becomes exit reason 2.
  void on_triple_fault();
  // INIT in a guest not waiting for SIPI (exit reason 3); a SIPI in a guest waiting for one
  // (exit reason 4, the vector in the qualification). Neither touches the guest's registers.
  void init_signal_exit();
  void sipi_exit(uint8_t vector);
  // While the core delivers an event through the guest IDT (IDT-vectoring information).
  void begin_delivery(uint8_t vector, uint32_t type, bool has_error, uint32_t error);
  void end_delivery() { m_vectoring_info = 0; }
  // IRET in a guest: true when it cleared virtual-NMI blocking (then NMI blocking is untouched).
  bool on_iret() {
    if (!ctl_pin(pin::kVirtualNmis)) return false;
    m_virtual_nmi_blocked = false;
    request_attention();
    return true;
  }
  bool external_interrupts_exit() const { return ctl_pin(pin::kExtIntExiting); }
  // MWAIT with ECX[0] = 1 and RFLAGS.IF = 0 does not wait while interrupt-window exiting is on
  // (SDM §26.3: the interrupt window must be able to open).
  bool interrupt_window_exiting() const { return ctl_proc(proc::kIntrWindowExiting); }
  // Monitor trap flag: the guest runs one instruction at a time and exits after each.
  bool mtf_enabled() const { return ctl_proc(proc::kMonitorTrapFlag); }
  void after_guest_instruction() {
    m_mtf_pending = true;
    request_attention();
  }
  // The cycle at which the VMX-preemption timer fires (~0 when not armed), for the run loop
  // and for waking a halted guest.
  uint64_t preemption_deadline() const { return m_preempt_deadline; }

  // --- APIC virtualization (apic_virt.cc) ------------------------------------------------------
  bool virtual_cr8_read(uint64_t& v);    // TPR shadow; false: CR8 behaves normally
  bool virtual_cr8_write(uint64_t v);
  bool virtual_x2apic_read(uint32_t msr, uint64_t& v);
  bool virtual_x2apic_write(uint32_t msr, uint64_t v);
  // VM entry: the TPR-threshold check or the evaluation of pending virtual interrupts.
  void apic_virt_on_entry();
  // A guest's data access to the APIC-access page (offset within the page): served from the
  // virtual-APIC page, or an APIC-access / APIC-write VM exit.
  uint64_t apic_access_read(unsigned off, unsigned size);
  void apic_access_write(unsigned off, unsigned size, uint64_t v);

  // --- EPT (ept.cc) ---------------------------------------------------------------------------
  // Guest-physical -> host-physical for an access (bits: 1 read, 2 write, 4 execute); EPT
  // violations and misconfigurations exit (throwing VmxTransition). `paging_structure`: the
  // access is the processor's own read of a guest paging-structure entry for `lin`.
  // `perms_out` (optional) receives the permissions the core's TLB may cache for the page.
  // With mode-based execute control, a fetch adds kEptAccessUserMode when the linear address is
  // a user-mode one (U/S = 1 at every guest paging level).
  static constexpr unsigned kEptAccessUserMode = 8;
  uint64_t ept_translate(uint64_t gpa, unsigned access, bool paging_structure, bool lin_valid,
                         uint64_t lin, unsigned* perms_out = nullptr);
  bool ept_enabled() const { return ctl_proc2(proc2::kEnableEpt); }
  // The EPT entries a walk of `gpa` reads (for the timing model; no side effects, no exits).
  // False when EPT does not map it.
  bool ept_walk_refs(uint64_t gpa, uint64_t refs[4], unsigned& n, uint64_t& hpa);

  // --- VM exits (vm_exit.cc) ------------------------------------------------------------------
  void vm_exit(const VmExit& e);

 private:
  static constexpr uint64_t kInvalidPtr = ~0ull;

  // vmx_instructions.cc helpers
  bool vmx_mode_ok() const;      // not #UD for VMX instructions other than VMXON
  void vm_succeed();
  void vm_fail(uint32_t error);  // VMfailInvalid without a current VMCS, else VMfailValid
  void vm_fail_invalid();
  bool valid_phys_addr(uint64_t a) const;
  uint64_t read_operand_addr(const cpu::DecodedOp& op);  // the m64 operand
  void load_vmcs(uint64_t addr);
  void flush_current();  // write the cached VMCS back to its region
  void write_back(const Vmcs& v, uint64_t addr);
  void read_region(Vmcs& v, uint64_t addr);
  bool shadow_access(uint64_t encoding, bool write);
  // The segment of an instruction's memory operand for VM-exit information (DS when it names
  // none, as in 64-bit mode without an override).
  static unsigned operand_segment(const cpu::DecodedOp& op);
  // The checks VMREAD and VMWRITE share, in the SDM's order (#UD, exit, #GP, VMfail): false
  // when the instruction already ended; else the operand size, field and high-half access.
  bool vmcs_access_checks(const cpu::DecodedOp& op, bool write, unsigned& size, VmcsField& f, bool& high);
  // A VM exit caused by the current instruction (its length recorded).
  VmExit instruction_exit(uint32_t reason, uint64_t qualification) const;
  uint64_t read_field(VmcsField f);
  void write_field(VmcsField f, uint64_t v);
  uint32_t instruction_info(const cpu::DecodedOp& op, unsigned reg1_operand, unsigned reg2_operand) const;

  // vm_entry.cc
  bool check_controls(std::string& why);
  bool eptp_valid(uint64_t eptp, std::string& why) const;
  // The guest translation context's identity (EPTP and VPID): a change drops its TLB entries.
  uint64_t guest_tlb_tag() const;
  bool check_host_state(std::string& why);
  bool check_guest_state(std::string& why, uint64_t& qualification);
  void load_guest_state();
  bool load_msr_list(uint64_t addr, uint32_t count, uint32_t& failed_index);
  void inject_event();
  void arm_preemption_timer();
  void fail_entry(uint32_t reason, uint64_t qualification, const std::string& why);

  // transition_costs.cc: the variable part of a VM entry's / VM exit's cost (vmx_costs.h).
  unsigned entry_state_components() const;  // after the guest state was loaded
  // While the guest state is still loaded; an entry failure saves none of it.
  unsigned exit_state_components(bool saves_guest) const;
  // A PAE guest with EPT: VM entry loads and VM exit saves the PDPTE fields (SDM §27.3.4).
  bool guest_pdptes_in_vmcs() const;

  // ept.cc: page-modification logging of a page whose EPT dirty flag is being set.
  void log_modified_page(uint64_t gpa);

  // vm_exit.cc
  void save_guest_state(const VmExit& e);
  void load_host_state();
  void store_msr_list(uint64_t addr, uint32_t count);
  void vmx_abort(uint32_t indicator);
  uint32_t vapic_read(unsigned off);
  void vapic_write(unsigned off, uint32_t v);
  void vapic_set_bit(unsigned base, unsigned vec, bool set);
  int vapic_highest(unsigned base);
  void set_interrupt_status(unsigned rvi, unsigned svi);
  void update_vppr();
  void evaluate_pending_virtual_interrupts();
  void deliver_virtual_interrupt();
  void virtualize_tpr_write(bool after_instruction);
  void virtualize_eoi();
  void virtualize_self_ipi(unsigned vec);
  void process_posted_interrupts();
  static VmcsField field_plus_eoi(unsigned i);
  [[noreturn]] void exit_after_instruction(uint32_t reason, uint64_t qualification);
  [[noreturn]] void apic_access_exit(unsigned off, unsigned type);
  uint64_t cr_access_exit(uint64_t qualification);
  void charge_region_references(uint64_t addr);
  [[noreturn]] void ept_exit(uint32_t reason, uint64_t gpa, uint64_t qual, bool lin_valid, uint64_t lin);

  void request_attention();
  uint64_t phys_read(uint64_t paddr, unsigned size);
  // A read of guest-physical memory through EPT when it is on (ept.cc).
  uint64_t guest_phys_read(uint64_t gpa, unsigned size);
  void phys_write(uint64_t paddr, unsigned size, uint64_t v);
  bool ctl_pin(uint32_t b) const { return m_vmcs.get32(VmcsField::PIN_BASED_VM_EXEC_CONTROL) & b; }
  bool ctl_proc(uint32_t b) const { return m_vmcs.get32(VmcsField::CPU_BASED_VM_EXEC_CONTROL) & b; }
  bool ctl_proc2(uint32_t b) const {
    return ctl_proc(proc::kActivateSecondary) && (m_vmcs.get32(VmcsField::SECONDARY_VM_EXEC_CONTROL) & b);
  }
  bool ctl_exit(uint32_t b) const { return m_vmcs.get32(VmcsField::VM_EXIT_CONTROLS) & b; }
  bool ctl_entry(uint32_t b) const { return m_vmcs.get32(VmcsField::VM_ENTRY_CONTROLS) & b; }
  uint64_t tsc_to_cycles(uint64_t tsc_ticks) const;

  cpu::Core& m_core;
  VmxCaps m_caps;
  VmxCosts m_costs;
  bool m_vmxon = false;
  uint64_t m_vmxon_ptr = kInvalidPtr;
  uint64_t m_current = kInvalidPtr;
  Vmcs m_vmcs;
  // Non-root bookkeeping.
  uint64_t m_preempt_deadline = ~0ull;  // core cycle of the preemption-timer expiry
  uint64_t m_preempt_deadline_tsc = 0;  // the same in (unadjusted) TSC ticks
  bool m_mtf_pending = false;
  bool m_virtual_nmi_blocked = false;
  bool m_virq_pending = false;  // a virtual interrupt is recognized (RVI above VPPR)
  uint32_t m_vectoring_info = 0, m_vectoring_error = 0;
  uint64_t m_entry_cycle = 0;  // core cycle of the last VM entry (for time in non-root)
  // The exit whose handling (root-mode time until the next VM entry) is being timed, or -1.
  int m_handled_reason = -1;
  uint64_t m_exit_end_cycle = 0;

 public:
  // Statistics.
  uint64_t m_exits[kNumExitReasons] = {};
  uint64_t m_entries = 0, m_entry_failures = 0, m_vmfails = 0;
  uint64_t m_cycles_nonroot = 0, m_cycles_transitions = 0;
  // Root-mode cycles from the end of a VM exit to the start of the next VM entry, by the exit's
  // basic reason: what the hypervisor's handler costs, per exit reason.
  uint64_t m_handler_cycles[kNumExitReasons] = {};
  std::string m_last_entry_failure;  // name of the check that failed last (traces, tests)
};

}  // namespace vmxsim::vmx
