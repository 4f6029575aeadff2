// One logical processor: architectural state, the memory path (fast TLB over DMI), exception
// and interrupt delivery, and the block-at-a-time execution loop (ARCHITECTURE §2-§4).
// SystemC-free: the CpuModule in cpu/sc/ drives it one quantum at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "cpu/block_cache.h"
#include "cpu/cpu_env.h"
#include "cpu/cpu_features.h"
#include "cpu/cpu_state.h"
#include "cpu/branch_hints.h"
#include "cpu/decoded_op.h"
#include "cpu/guest_fault.h"
#include "cpu/lazy_flags.h"
#include "cpu/mmu/fast_tlb.h"
#include "cpu/timing/timing_params.h"
#include "vmx_model/vmx_costs.h"


namespace vmxsim {
class StatRegistry;
}
namespace vmxsim::vmx {
class VmxUnit;
}

namespace vmxsim::cpu {

class CodeMap;
class CodeListener;
class CoreWalkSource;
class Decoder;
namespace timing {
class TimingModel;
}
enum class DecodeMode : uint8_t;

// Access kinds for translate() (combinable with kAccessImplicit).
constexpr unsigned kAccessRead = 0, kAccessWrite = 1, kAccessExec = 2;
constexpr unsigned kAccessImplicit = 4;  // supervisor-mode implicit access (GDT, IDT, TSS)

// What the CPU profile decides for the core (timing and identity). Filled by the CpuModule
// from the config tree.
struct CoreParams {
  uint32_t apic_id = 0;
  bool bsp = true;
  uint64_t tsc_hz = 2'000'000'000;          // TSC increments per second
  uint64_t core_hz = 2'000'000'000;         // cycles per second
  uint16_t latency[static_cast<int>(TimingClass::kCount)] = {};  // cycles per timing class
  unsigned max_block_ops = 64;
  // CPUID identity (the rest of CPUID is computed from features).
  uint32_t cpuid_family_model_stepping = 0x000506e3;  // Skylake
  uint32_t microcode_revision = 0xf0;  // IA32_BIOS_SIGN_ID[63:32]
  // The core crystal clock that CPUID.15H reports (TSC = crystal * EBX / EAX) and that clocks the
  // local APIC timer, as on Intel parts since Skylake; 0: CPUID.15H reports no crystal.
  uint64_t crystal_hz = 0;
  std::string vendor = "GenuineIntel";
  bool syscall_in_compat_mode = false;  // AMD semantics (vendor AuthenticAMD)
  CpuFeatures features;
  std::string brand = "vmxsim x86-64 processor";
  unsigned cpu_count = 1;
  unsigned phys_addr_bits = 40;
  // Debugging aids (stderr): every delivered exception/interrupt, every executed instruction.
  bool trace_events = false;
  bool trace_instructions = false;
  unsigned lin_addr_bits = 48;
  // Cache, TLB and branch-predictor timing (off: the functional profile, no models at all).
  timing::TimingParams timing;
  // Costs of VM entries, exits and VMX instructions (system.cpu.vmx.*).
  vmx::VmxCosts vmx_costs;
};

// When the single-step trap (RFLAGS.TF) follows an instruction: normally when TF was set before
// it; SYSCALL/SYSENTER clear TF without a trap; SYSRET/SYSEXIT trap when they set TF.
enum class StepRule : uint8_t { kNormal, kSuppress, kAfterIfTf };

enum class StopReason : uint8_t { kQuantum, kHalted, kWaitForSipi, kShutdown, kRequested };

enum class ActivityState : uint8_t { kActive, kHalted, kWaitForSipi, kShutdown };

class Core {
 public:
  Core(CpuEnv& env, CodeMap& code_map, const CoreParams& params);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // --- driving ---------------------------------------------------------------------------
  // Runs until the cycle counter reaches `until`, the core halts, or a stop is requested.
  StopReason run(Cycles until);
  void request_stop() { m_stop_requested = true; m_attention = true; }
  // An interrupt controller changed its output: re-evaluate at the next block boundary.
  void signal_interrupt() { m_attention = true; }
  void signal_nmi() { m_nmi_pending = true; m_attention = true; }
  void signal_init() { m_init_pending = true; m_attention = true; }
  void signal_sipi(uint8_t vector);
  void reset(bool bsp);  // power-on/INIT state (SDM Vol. 3 §9.1.1)
  void register_stats(StatRegistry& stats, const std::string& prefix);

  ActivityState activity() const { return m_activity; }
  Cycles cycles() const { return m_cycles; }
  void add_cycles(Cycles c) { m_cycles += c; }
  void set_cycles(Cycles c) { m_cycles = c; }  // HLT skipping ahead
  uint64_t instructions() const { return m_instructions; }
  uint64_t tsc() const;
  const CoreParams& params() const { return m_params; }
  // The platform tells the core what clocks its local APIC timer (CPUID.15H reports it).
  void set_crystal_hz(uint64_t hz) { m_params.crystal_hz = hz; }
  const char* shutdown_reason() const { return m_shutdown_reason; }

  // --- architectural state (handlers and the VMX unit use these) ------------------------------
  CpuState s;
  LazyFlags flags;
  uint64_t rflags() const { return (m_rflags_other & ~rflags::kArith) | flags.arith() | rflags::kFixed1; }
  void set_rflags(uint64_t v);  // writes every bit; updates mode-dependent state
  uint64_t rflags_other() const { return m_rflags_other; }
  unsigned cpl() const { return m_cpl; }
  bool long_mode() const { return s.efer & efer::kLma; }
  bool in_64bit_mode() const { return long_mode() && (s.seg[kCs].ar & ar::kL); }
  bool protected_mode() const { return s.cr0 & cr0::kPe; }
  bool v86_mode() const { return m_rflags_other & rflags::kVm; }
  CpuEnv& env() { return m_env; }

  // --- registers --------------------------------------------------------------------------
  template <unsigned Size>
  uint64_t reg(unsigned r) const {
    if constexpr (Size == 1) {
      if (r >= kRegHigh8) return (s.gpr[r - kRegHigh8] >> 8) & 0xff;
      return s.gpr[r] & 0xff;
    } else if constexpr (Size == 2) {
      return s.gpr[r] & 0xffff;
    } else if constexpr (Size == 4) {
      return s.gpr[r] & 0xffffffff;
    } else {
      return s.gpr[r];
    }
  }
  template <unsigned Size>
  void set_reg(unsigned r, uint64_t v) {
    if constexpr (Size == 1) {
      if (r >= kRegHigh8) {
        uint64_t& g = s.gpr[r - kRegHigh8];
        g = (g & ~0xff00ull) | ((v & 0xff) << 8);
      } else {
        s.gpr[r] = (s.gpr[r] & ~0xffull) | (v & 0xff);
      }
    } else if constexpr (Size == 2) {
      s.gpr[r] = (s.gpr[r] & ~0xffffull) | (v & 0xffff);
    } else if constexpr (Size == 4) {
      s.gpr[r] = v & 0xffffffff;  // 32-bit writes zero-extend (SDM Vol. 1 §3.4.1.1)
    } else {
      s.gpr[r] = v;
    }
  }
  uint64_t reg_sized(unsigned r, unsigned size) const;
  void set_reg_sized(unsigned r, unsigned size, uint64_t v);

  // --- instruction pointer -------------------------------------------------------------------
  // While an instruction executes, s.rip is its own address and next_rip() the following one;
  // a control transfer sets the next RIP.
  uint64_t next_rip() const { return s.gpr[kRegNextRip]; }
  void set_next_rip(uint64_t v) { s.gpr[kRegNextRip] = v; }
  // Branch to an offset within CS, applying the operand-size truncation of the instruction.
  void branch_near(uint64_t target, unsigned opsize);

  // --- memory: effective and linear addresses ------------------------------------------------
  uint64_t effective_address(const DecodedOp& op) const {
    static constexpr uint64_t kMask[9] = {0, 0, 0xffff, 0, 0xffffffff, 0, 0, 0, ~0ull};
    return (s.gpr[op.base] + (s.gpr[op.index] << op.scale) + op.disp) & kMask[op.addrsize];
  }
  uint64_t seg_base(unsigned seg) const { return m_seg_base[seg]; }
  // Linear address of a memory operand of `size` bytes, with segment-limit checks outside
  // 64-bit mode.
  uint64_t linear(const DecodedOp& op, unsigned size, bool write) {
    const uint64_t ea = effective_address(op);
    if (VMXSIM_UNLIKELY(op.attrs & attr::kCheckLimit)) check_segment(op.seg, ea, size, write);
    return (ea + m_seg_base[op.seg]) & m_lin_mask;
  }
  uint64_t linear_seg(unsigned seg, uint64_t ea, unsigned size, bool write) {
    if (VMXSIM_UNLIKELY(!in_64bit_mode())) check_segment(seg, ea, size, write);
    return (ea + m_seg_base[seg]) & m_lin_mask;
  }

  // --- memory: reads and writes of linear addresses --------------------------------------------
  template <unsigned Size>
  uint64_t read(uint64_t lin) {
    const FastTlbEntry& e = m_tlb->entry(lin);
    if (VMXSIM_LIKELY(e.read_tag == (lin & ~0xfffull) && (lin & 0xfff) <= 4096 - Size)) {
      typename Width<Size>::U v;
      std::memcpy(&v, reinterpret_cast<const uint8_t*>(lin + e.addend), Size);
      return v;
    }
    return read_slow(lin, Size);
  }
  template <unsigned Size>
  void write(uint64_t lin, uint64_t v) {
    const FastTlbEntry& e = m_tlb->entry(lin);
    if (VMXSIM_LIKELY(e.write_tag == (lin & ~0xfffull) && (lin & 0xfff) <= 4096 - Size)) {
      const typename Width<Size>::U t = static_cast<typename Width<Size>::U>(v);
      std::memcpy(reinterpret_cast<uint8_t*>(lin + e.addend), &t, Size);
      return;
    }
    write_slow(lin, Size, v);
  }
  // Checks that a write of `size` bytes at `lin` would succeed (for instructions that must fault
  // before changing any state, e.g. PUSH of a far return frame).
  void probe_write(uint64_t lin, unsigned size);
  // Checks that a read of `size` bytes at `lin` would succeed (without reading: no MMIO side
  // effects), for instructions that interleave reads and writes and must fault before either.
  void probe_read(uint64_t lin, unsigned size);
  uint8_t* host_ptr(uint64_t lin, unsigned n, bool write);
  uint64_t read_sized(uint64_t lin, unsigned size);
  void write_sized(uint64_t lin, unsigned size, uint64_t v);
  void read_bytes(uint64_t lin, void* dst, size_t n);
  void write_bytes(uint64_t lin, const void* src, size_t n);

  // Supervisor-mode implicit accesses (descriptor tables, TSS, IDT): CPL-independent.
  uint64_t read_system(uint64_t lin, unsigned size);
  void write_system(uint64_t lin, unsigned size, uint64_t v);

  // --- operands ---------------------------------------------------------------------------
  // Operand i of kind register or memory ("E" operands) at the instruction's operand size.
  template <unsigned Size>
  uint64_t read_op(const DecodedOp& op, unsigned i) {
    switch (op.kind[i]) {
      case OpKind::kReg: return reg<Size>(op.reg[i]);
      case OpKind::kMem: return read<Size>(linear(op, Size, false));
      default: return op.imm;
    }
  }
  template <unsigned Size>
  void write_op(const DecodedOp& op, unsigned i, uint64_t v) {
    if (op.kind[i] == OpKind::kReg)
      set_reg<Size>(op.reg[i], v);
    else
      write<Size>(linear(op, Size, true), v);
  }

  // --- stack ------------------------------------------------------------------------------
  // Push/pop with the current stack-address size (SS.B, or 64-bit mode). Each is restartable
  // on its own (rSP moves after the access); an instruction with several stack accesses reads
  // them with stack_read and probes its writes before it changes rSP or anything else, so
  // that a fault, or a VM exit in the middle of an access (EPT violation), finds the state
  // as before the instruction (SDM Vol. 3 §6.5).
  void push(uint64_t v, unsigned size);
  uint64_t pop(unsigned size);
  uint64_t stack_pointer() const;
  void set_stack_pointer(uint64_t v);
  unsigned stack_addr_size() const;
  uint64_t stack_mask() const;  // of the stack-address size
  // Linear address of the stack slot at stack offset `sp` (already masked): #SS(0) when it is
  // non-canonical or outside SS.
  uint64_t stack_linear(uint64_t sp, unsigned size, bool write);
  // The `size`-byte slot `offset` bytes above rSP (wrapping at the stack-address size), read
  // without moving rSP.
  uint64_t stack_read(uint64_t offset, unsigned size);

  // --- faults -----------------------------------------------------------------------------
  [[noreturn]] void raise(uint8_t vector);
  [[noreturn]] void raise(uint8_t vector, uint32_t error);
  [[noreturn]] void raise_gp0() { raise(kGp, 0); }
  [[noreturn]] void raise_ud() { raise(kUd); }
  // #SS(0) for stack-segment memory operands, #GP(0) otherwise.
  [[noreturn]] void raise_segment_fault(unsigned seg);
  void require_cpl0() {
    if (m_cpl != 0) raise_gp0();
  }

  // --- control and segment state (system handlers) ---------------------------------------------
  void write_cr0(uint64_t v);
  void write_cr3(uint64_t v);
  void write_cr4(uint64_t v);
  void write_cr8(uint64_t v);
  uint64_t read_cr8();
  void write_efer(uint64_t v);
  bool read_msr(uint32_t msr, uint64_t& v);   // false: #GP
  bool write_msr(uint32_t msr, uint64_t v);   // false: #GP
  void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) const;

  // Loads a segment register in the current mode with all descriptor checks (SDM Vol. 3 §5.5,
  // §3.4.3); raises #GP/#SS/#NP with selector error codes.
  void load_segment(unsigned seg, uint16_t selector);
  // The protected-mode part of load_segment without its effects: reads the descriptor and makes
  // the checks for privilege level `cpl` (`in64`: the load happens in 64-bit mode, where a null
  // SS is legal below CPL 3), returns the hidden part to load and the descriptor (`desc`, 0 for
  // a null selector). Instructions that load a segment after other checks (far RET to an outer
  // level) check first and commit with mark_descriptor_accessed and set_segment.
  Segment check_segment_load(unsigned seg, uint16_t selector, unsigned cpl, bool in64, uint64_t& desc);
  // Sets the accessed bit of a loaded descriptor in memory (SDM Vol. 3 §3.4.5.1); may fault.
  void mark_descriptor_accessed(uint16_t selector, uint64_t desc);
  // Loads the hidden cache directly (real mode, SYSCALL, VM entry, ...).
  void set_segment(unsigned seg, const Segment& v);
  // Reads the 8-byte descriptor for `selector` from the GDT/LDT, or raises #GP(selector).
  uint64_t read_descriptor(uint16_t selector, uint8_t fault_vector);
  static Segment segment_from_descriptor(uint16_t selector, uint64_t desc);
  void set_cpl(unsigned cpl);
  void mode_changed();        // CR0/CR4/EFER/CS/SS/RFLAGS.VM changes: recompute derived state
  void update_seg_base(unsigned seg);  // after writing s.seg[seg].base directly

  // --- translation contexts and TLB invalidation (cpu/mmu/tlb_contexts.cc) ------------------
  // Each drops translations from the fast TLB, the block cache's linear-RIP front and the
  // timing model's TLBs, within the current VMX translation context.
  // The PCID translations are made under now (SDM Vol. 3A §4.10.1): CR3[11:0] with CR4.PCIDE.
  uint16_t current_pcid() const {
    return (s.cr4 & cr4::kPcide) ? static_cast<uint16_t>(s.cr3 & 0xfff) : 0;
  }
  // CR3 or CR4.PCIDE changed: translate with current_pcid()'s translations from now on.
  void select_pcid();
  // Every PCID's translations, global ones too with `include_global` (MOV to CR0/CR4, INVPCID
  // types 2 and 3, VM entry and exit without VPID). Then select_pcid(): callers that loaded
  // CR3 or CR4 directly need nothing else.
  void flush_tlb(bool include_global);
  // The non-global translations of one PCID (MOV to CR3 without bit 63, INVPCID type 1).
  void flush_tlb_pcid(uint16_t pcid);
  // INVLPG: the page's translations for the current PCID and its global translation.
  void flush_tlb_page(uint64_t lin);
  // INVPCID type 0: the page's translations for `pcid`.
  void flush_tlb_pcid_page(uint16_t pcid, uint64_t lin);
  // VMX: switch the translation context (0 host, 1 guest with VPID); `tag` identifies the guest
  // context's VPID/EPTP, a different tag drops its translations.
  void switch_tlb_context(unsigned ctx, uint64_t tag);
  void flush_guest_tlb_context();

  // I/O permission for IN/OUT/INS/OUTS (SDM Vol. 1 §19.5): IOPL, then the TSS I/O bitmap.
  void check_io_permission(uint16_t port, unsigned size);
  // Far control transfers (JMP/CALL ptr or m16:xx, RETF) in every mode.
  void far_jump(uint16_t selector, uint64_t offset, unsigned opsize);
  void far_call(uint16_t selector, uint64_t offset, unsigned opsize);
  void far_return(unsigned opsize, uint16_t pop_bytes);
  // Halts the core until an interrupt (HLT).
  void halt();
  // MONITOR/MWAIT (cpu/monitor_wait.cc). MONITOR arms address-range monitoring of the line
  // holding linear address `lin` (translated like a 1-byte read); a store to it by any agent (this core, another core, a
  // device) disarms it. MWAIT with the monitor armed waits, like HLT, until that store or an
  // interrupt, NMI, INIT or VMX event; with `break_on_masked_interrupt` (ECX[0]) a pending
  // interrupt ends the wait even when RFLAGS.IF = 0. Without an armed monitor it returns at once.
  bool monitor_supported() const;  // the feature, and IA32_MISC_ENABLE's MONITOR FSM bit
  void arm_monitor(uint64_t lin);
  void mwait(bool break_on_masked_interrupt);
  bool monitor_armed() const { return m_monitor_armed; }
  // The core waits in MWAIT (rather than HLT): VMX saves it as the active state.
  bool in_mwait() const { return m_activity == ActivityState::kHalted && m_in_mwait; }
  void on_monitor_written();
  // Instruction-level side effects handlers need.
  void end_block() { m_break_block = true; }
  // An instruction handler performed a VM exit or a VM entry (vmx_model/), or a guest event at an
  // instruction boundary became a VM exit: the core now runs the other context, whose RIP is
  // already in place. The handler returns at once and the execution loop ends the block,
  // counting the instruction only when it `retired` (a VM entry; an exiting instruction did not
  // complete). Returning instead of unwinding keeps the most frequent VMX
  // transitions off the C++ exception path; exits from deep inside a memory access or an event
  // delivery still throw vmx::VmxTransition.
  void switch_context(bool retired) {
    m_switch = retired ? ContextSwitch::kRetired : ContextSwitch::kExited;
    m_break_block = true;
    s.gpr[kRegNextRip] = s.rip;
  }
  bool context_switched() const { return m_switch != ContextSwitch::kNone; }
  void set_step_rule(StepRule r) { m_step_rule = r; }
  void set_interrupt_shadow() { m_interrupt_shadow = true; m_break_block = true; }
  // MOV SS / POP SS: blocks interrupts and defers debug traps (single-step, data breakpoints) to
  // after the next instruction (SDM Vol. 3 §6.8.3). Only the first of consecutive loads counts.
  void set_movss_shadow() {
    if (m_interrupt_shadow) return;
    m_interrupt_shadow = m_movss_shadow = true;
    m_break_block = true;
  }
  // --- debug registers (SDM Vol. 3 §17.2-§17.3; cpu/debug.cc) ---------------------------------
  // Recomputes the armed breakpoints after DR0-DR3 or DR7 changed (MOV DR, VM entry/exit).
  void debug_regs_changed();
  // MOV DR with DR7.GD set: #DB (fault) with DR6.BD.
  void check_general_detect();
  // Drops the debug traps pending from a MOV SS (ICEBP's own #DB subsumes them).
  void discard_pending_debug() { m_pending_db = 0; }
  bool data_breakpoints_armed() const { return m_bp_data_mask != 0; }
  void count_unimplemented(uint16_t mnemonic);
  // Exception and interrupt delivery through the IDT (SDM Vol. 3 §6.12); `software` marks
  // INT n / INT3 / INTO (privilege check against the gate DPL, RIP after the instruction).
  void deliver_event(uint8_t vector, bool has_error, uint32_t error, bool software,
                     uint64_t return_rip);
  // IRET/IRETD/IRETQ in every mode.
  void iret(unsigned opsize);
  void enter_shutdown(const char* why);

  Decoder& decoder() { return *m_decoder; }
  // CodeMap notifications (through the core's listener).
  void on_code_written(uint64_t paddr, uint64_t len);
  void on_page_writes_tracked(uint64_t phys_page);
  BlockCache& block_cache() { return m_blocks; }
  // The cache/TLB/branch timing model, or nullptr when the profile turns timing off. The VMX
  // unit charges its own memory references (EPT walks, VMCS accesses) through it.
  timing::TimingModel* timing_model() { return m_timing.get(); }

  // --- VMX (vmx_model/) -------------------------------------------------------------------------
  // The VMX unit exists on every core; without the vmx feature CR4.VMXE cannot be set, so every
  // VMX instruction raises #UD.
  vmx::VmxUnit& vmx() { return *m_vmx; }
  bool vmx_nonroot() const { return m_vmx_nonroot; }
  // A guest runs with EPT: guest-physical addresses go through VmxUnit::ept_translate.
  bool ept_active() const { return m_ept_active; }
  // The TSC as software reads it (RDTSC, RDTSCP, RDMSR IA32_TSC): with TSC offsetting in VMX
  // non-root operation.
  uint64_t tsc_for_software() const;
  // CR4 bits this processor implements (MOV to CR4 raises #GP for others).
  uint64_t cr4_supported() const;
  // The next cycle at which the core itself has an event (VMX-preemption timer), or ~0.
  uint64_t next_internal_event() const;
  // Whether something besides INIT, SIPI, NMI and other cores can end a HLT now: a maskable
  // interrupt (RFLAGS.IF, a guest whose external interrupts cause VM exits, or MWAIT with
  // ECX[0]). A core in MWAIT waiting for a store is dormant like a HLT with interrupts off: only
  // another core can wake it, and the run ends when every core is dormant.
  bool interrupt_wakes_halt() const;

 private:
  struct Listener;
  friend class Decoder;
  friend class vmx::VmxUnit;  // VM entries and exits load and save the whole processor state
  const Block* build_block(uint64_t lin, uint64_t phys);
  void fetch_phys(uint64_t paddr, uint8_t* dst, size_t n);
  void after_single_step(bool tf_before);
  void execute_debug(const Block& b);
  uint32_t exec_breakpoint_hits(uint64_t lin) const;
  bool exec_breakpoint_in(uint64_t lin, uint64_t len) const;
  void check_data_breakpoints(uint64_t lin, unsigned size, bool write);
  bool data_breakpoint_page(uint64_t lin, bool write) const;
  void deliver_debug_trap();
  [[noreturn]] void raise_noncanonical();
  // Writes `n` slots of `size` bytes at linear `lin[i]` with supervisor implicit accesses (an
  // exception frame); every slot is translated before anything is written.
  static constexpr unsigned kMaxFrameSlots = 10;
  void write_system_frame(const uint64_t* lin, const uint64_t* v, unsigned n, unsigned size);
  uint64_t read_slow(uint64_t lin, unsigned size);
  void write_slow(uint64_t lin, unsigned size, uint64_t v);
  void check_segment(unsigned seg, uint64_t ea, unsigned size, bool write);
  // Translation of one linear address to a physical address (page walk on a fast-TLB miss).
  // Installs the fast-TLB entry for RAM pages. Raises #PF/#GP.
  uint64_t translate(uint64_t lin, unsigned access);
  uint64_t phys_read(uint64_t paddr, unsigned size);
  void phys_write(uint64_t paddr, unsigned size, uint64_t v);
  const Block* lookup_block();
  void execute_block(const Block& b, unsigned max_ops);
  void retire_partial_block(bool current_retired);
  // Ends a block whose op `op` switched context (switch_context): `cycles` is what the ops
  // before it cost. Accounts as retire_partial_block does.
  void end_switched_block(const Block& b, const DecodedOp* op, Cycles cycles);
  // Back in the run loop after a VM entry or exit, however it arrived.
  void after_context_switch();
  void execute_block_timed(const Block& b, unsigned max_ops);  // cpu/timing/timed_execution.cc
  void trace_instruction(const DecodedOp& op) const;
  void handle_attention();
  // INIT and SIPI at an instruction boundary: processed, held (blocked), a VM exit, or discarded.
  void handle_init_sipi();
  // `set_rf`: the frame's RFLAGS.RF is set (every fault but the instruction-breakpoint #DB).
  void handle_fault(const GuestFault& f, bool set_rf = true);
  bool deliverable_interrupt();
  bool mwait_ended();
  CodeListener* code_listener();
  void disarm_monitor();
  void unblock_nmi_on_iret();

  CpuEnv& m_env;
  CodeMap& m_code_map;
  CoreParams m_params;
  std::unique_ptr<Decoder> m_decoder;
  BlockCache m_blocks;
  std::unique_ptr<Listener> m_listener;
  std::unique_ptr<CoreWalkSource> m_walk_source;     // with m_timing only
  std::unique_ptr<timing::TimingModel> m_timing;     // nullptr: timing off
  std::unique_ptr<vmx::VmxUnit> m_vmx;
  bool m_vmx_nonroot = false;                        // in VMX non-root operation (a guest runs)
  bool m_ept_active = false;                         // ... with EPT
  uint64_t m_apic_access_page = ~0ull;               // ... with an APIC-access page (physical)
  // PAE PDPTEs a VM entry with EPT loaded from the VMCS (SDM §27.3.2.4); a guest MOV to CR0,
  // CR3 or CR4 reloads them from guest memory (then the walk reads them, through EPT).
  bool m_pdptes_loaded = false;
  uint64_t m_pdpte[4] = {};
  unsigned m_init_count = 0;

  // Derived from the architectural state by mode_changed().
  uint64_t m_rflags_other = rflags::kFixed1;  // RFLAGS without the arithmetic flags
  uint64_t m_seg_base[kNumSegs + 1] = {};     // [kSegNone] == 0
  uint64_t m_lin_mask = 0xffffffff;
  unsigned m_cpl = 0;
  uint32_t m_mode_key = 0;
  DecodeMode m_decode_mode{};
  bool m_stack32 = false;
  // Translation contexts: [0] the host (and a guest without VPID), [1] a guest with a VPID. A VM
  // entry/exit with VPID switches contexts instead of flushing (SDM §29.1); the guest context is
  // dropped when the VPID or EPTP it was filled under changes, and by INVVPID/INVEPT.
  // Within a context the fast TLB is tagged by PCID without a compare on the hot path: each of
  // the kPcidSlots most recently used PCIDs has its own pair of arrays, and m_tlb points into
  // the current one. A PCID without a slot takes the least recently used slot, whose
  // translations all go (hardware may always drop translations). Each slot caches its own copies
  // of global translations, so invalidating one visits every slot.
  static constexpr unsigned kPcidSlots = 4;
  static constexpr uint16_t kNoPcid = 0xffff;  // a slot nobody has used yet
  struct PcidSlot {
    FastTlb sup, user;
    uint16_t pcid = kNoPcid;
    uint64_t last_used = 0;
  };
  struct TlbContext {
    TlbContext() { slot[0].pcid = 0; }
    PcidSlot slot[kPcidSlots];
    PcidSlot* cur = &slot[0];
    PcidSlot* find(uint16_t pcid) {
      for (PcidSlot& sl : slot)
        if (sl.pcid == pcid) return &sl;
      return nullptr;
    }
  };
  TlbContext m_tlb_ctx[2];
  TlbContext* m_ctx = &m_tlb_ctx[0];
  uint64_t m_guest_ctx_tag = ~0ull;  // (EPTP, VPID) the guest context holds translations for
  uint64_t m_pcid_clock = 0;         // recency of PCID slots
  // Points m_tlb at the current slot's array for the CPL (or the empty one under #AC checks).
  void select_fast_tlb();
  // Drops `lin`'s page from every fast TLB (data breakpoints change what may be cached).
  void drop_fast_tlb_page_everywhere(uint64_t lin);
  // Alignment checking (CR0.AM, RFLAGS.AC, CPL 3) routes every access through the slow path,
  // where misaligned accesses raise #AC: the core then reads through this always-empty TLB.
  FastTlb m_tlb_none;
  bool m_align_check = false;
  FastTlb* m_tlb = &m_tlb_ctx[0].slot[0].sup;

  // Execution control.
  Cycles m_cycles = 0;
  Cycles m_until = 0;
  ActivityState m_activity = ActivityState::kActive;
  bool m_attention = false;
  bool m_break_block = false;
  enum class ContextSwitch : uint8_t { kNone, kExited, kRetired };
  ContextSwitch m_switch = ContextSwitch::kNone;  // switch_context() during the current block
  bool m_stop_requested = false;
  bool m_interrupt_shadow = false;
  bool m_movss_shadow = false;   // the shadow comes from MOV SS/POP SS (debug traps deferred)
  // Debug state derived from DR0-DR3/DR7 by debug_regs_changed(); bit i stands for DRi.
  uint8_t m_bp_exec_mask = 0;    // enabled instruction breakpoints
  uint8_t m_bp_data_mask = 0;    // enabled data breakpoints (writes, or reads and writes)
  uint8_t m_bp_read_mask = 0;    // the subset that also triggers on reads
  uint64_t m_bp_pages[4] = {~0ull, ~0ull, ~0ull, ~0ull};  // data-breakpoint pages kept off the fast TLB
  uint32_t m_pending_db = 0;     // DR6 bits of debug traps waiting for the instruction boundary
  bool m_nmi_pending = false;
  bool m_nmi_blocked = false;
  bool m_init_pending = false;
  bool m_monitor_armed = false;      // MONITOR armed a line (CodeMap watch)
  bool m_in_mwait = false;           // the halt came from MWAIT (valid while kHalted)
  bool m_mwait_break_masked = false; // ... with ECX[0]: masked interrupts end it
  bool m_sipi_pending = false;
  uint8_t m_sipi_vector = 0;
  unsigned m_delivery_depth = 0;  // nested exception delivery (#DF, triple fault)
  bool m_delivering_fault = false;  // the event being delivered is a fault (RF in the frame)
  StepRule m_step_rule = StepRule::kNormal;
  uint8_t m_first_fault_vector = 0;
  const char* m_shutdown_reason = "";
  const Block* m_cur_block = nullptr;
  const DecodedOp* m_cur_op = nullptr;

 public:
  // Statistics (registered with the StatRegistry; plain counters on the hot path).
  uint64_t m_instructions = 0;
  uint64_t m_blocks_executed = 0;
  uint64_t m_block_lookups_fast = 0;
  uint64_t m_block_lookups_slow = 0;
  uint64_t m_blocks_decoded = 0;
  uint64_t m_smc_invalidations = 0;
  uint64_t m_tlb_misses = 0;
  uint64_t m_page_walks = 0;
  uint64_t m_halts = 0;
  uint64_t m_mwaits = 0;
  uint64_t m_halted_cycles = 0;
  uint64_t m_exceptions[32] = {};
  uint64_t m_interrupts[256] = {};
  uint64_t m_unimplemented = 0;
};

}  // namespace vmxsim::cpu
