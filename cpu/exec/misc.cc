// Handler group: misc — NOPs and hints, fences, cache-line maintenance, UD0/UD1/UD2, RDRAND and
// RDSEED, CPUID, RDTSC, RDTSCP and RDPMC.
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

namespace {

// NOP (90, 66 90, 0F 1F /0 and the reserved-NOP hint space 0F 19-1F), PAUSE (a spin-loop hint;
// it may cause a VM exit, which the VMX unit decides), fences (the core executes in order and
// memory is coherent), and the prefetches (which never fault).
void nop(Core&, const DecodedOp&) {}
void pause(Core& c, const DecodedOp&) {
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_pause()) return;
}

// UD0, UD1, UD2: the architecturally undefined instructions.
void ud(Core& c, const DecodedOp&) { c.raise_ud(); }

// CLFLUSH, CLFLUSHOPT, CLWB m8: no cache is modelled, but the access is checked like a byte load
// (segment limit, canonical address, page fault; SDM Vol. 2 "CLFLUSH").
void clflush_Mb(Core& c, const DecodedOp& op) {
  // TODO(core): a translate-only probe for reads would avoid touching MMIO registers here.
  (void)c.read<1>(c.linear(op, 1, false));
}

// RDRAND/RDSEED: deterministic values, so that a run repeats exactly (ARCHITECTURE §3). The value
// is a SplitMix64 hash of a fixed constant, the APIC ID, the instructions this core retired and
// the instruction's address: a pure function of the guest's progress, independent of the
// configuration's timing, different for every execution. CF = 1 (a value is always available);
// OF, SF, ZF, AF, PF are cleared.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

template <unsigned S>
void rdrand_Rv(Core& c, const DecodedOp& op) {
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_rdrand(op.mnemonic == ZYDIS_MNEMONIC_RDSEED)) return;
  constexpr uint64_t kSeed = 0x766d7873696d2d72ull;  // "vmxsim-r"
  const uint64_t v = splitmix64(splitmix64(kSeed ^ (uint64_t{c.params().apic_id} << 48) ^
                                           (op.mnemonic == ZYDIS_MNEMONIC_RDSEED ? 1 : 0)) ^
                                splitmix64(c.instructions()) ^ c.s.rip);
  c.set_reg<S>(op.reg[0], v);
  c.flags.set_arith(rflags::kCf);
}

ExecFn select_rdrand(const DecodedOp& op) {
  if (op.nops != 1 || !is_reg(op, 0)) return nullptr;
  return VMXSIM_BY_SIZE_V(rdrand_Rv, op.opsize);
}

// CPUID: EAX = leaf, ECX = subleaf; the results zero-extend into RAX, RBX, RCX, RDX.
void cpuid(Core& c, const DecodedOp&) {
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().exit_for_instruction(vmx::kExitCpuid)) return;  // always
  uint32_t out[4];
  c.cpuid(static_cast<uint32_t>(c.reg<4>(kRax)), static_cast<uint32_t>(c.reg<4>(kRcx)), out);
  c.set_reg<4>(kRax, out[0]);
  c.set_reg<4>(kRbx, out[1]);
  c.set_reg<4>(kRcx, out[2]);
  c.set_reg<4>(kRdx, out[3]);
}

// RDTSC/RDTSCP: #GP(0) when CR4.TSD = 1 and CPL > 0 (in real mode CPL is 0).
inline void check_tsd(Core& c) {
  if ((c.s.cr4 & cr4::kTsd) && c.cpl() != 0) c.raise_gp0();
}
void rdtsc(Core& c, const DecodedOp&) {
  check_tsd(c);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_rdtsc(false)) return;
  const uint64_t t = c.tsc_for_software();
  c.set_reg<4>(kRax, t);
  c.set_reg<4>(kRdx, t >> 32);
}
void rdtscp(Core& c, const DecodedOp&) {
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_rdtsc(true)) return;  // #UD unless enabled, then exit
  check_tsd(c);
  const uint64_t t = c.tsc_for_software();
  c.set_reg<4>(kRax, t);
  c.set_reg<4>(kRdx, t >> 32);
  c.set_reg<4>(kRcx, c.s.tsc_aux);
}

// RDPID: IA32_TSC_AUX into a register, 64 bits in 64-bit mode (zero-extended) and 32 otherwise;
// no CR4.TSD check. In VMX non-root operation #UD unless "enable RDTSCP" (it never exits).
template <unsigned S>
void rdpid_R(Core& c, const DecodedOp& op) {
  if (!c.params().features.rdpid) c.raise_ud();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot())) (void)c.vmx().on_rdpid();
  c.set_reg<S>(op.reg[0], c.s.tsc_aux);
}

ExecFn select_rdpid(const DecodedOp& op) {
  if (op.nops != 1 || !is_reg(op, 0)) return nullptr;
  return op.opsize == 8 ? &rdpid_R<8> : &rdpid_R<4>;
}

// RDPMC: #GP(0) at CPL > 0 unless CR4.PCE (a privilege check, ahead of the VM exit), then the
// VM exit, then the counter index in ECX. vmxsim models no performance-monitoring counters
// (CPUID leaf 0AH reports none), so every index is invalid: #GP(0).
void rdpmc(Core& c, const DecodedOp&) {
  if (c.cpl() != 0 && !(c.s.cr4 & cr4::kPce)) c.raise_gp0();
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_rdpmc()) return;
  c.raise_gp0();
}

template <ExecFn F>
ExecFn select_always(const DecodedOp&) {
  return F;
}

ExecFn select_clflush(const DecodedOp& op) {
  return (op.nops == 1 && is_mem(op, 0)) ? &clflush_Mb : nullptr;
}

}  // namespace

void register_misc(IsaTable& t) {
  const char* g = "misc";
  constexpr TimingClass kNop = TimingClass::kNop;
  t.add(ZYDIS_MNEMONIC_NOP, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_PAUSE, &select_always<&pause>, kNop, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_LFENCE, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_SFENCE, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_MFENCE, &select_always<&nop>, TimingClass::kSerializing, 0, g);
  t.add(ZYDIS_MNEMONIC_PREFETCH, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_PREFETCHW, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_PREFETCHWT1, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_PREFETCHNTA, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_PREFETCHT0, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_PREFETCHT1, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_PREFETCHT2, &select_always<&nop>, kNop, 0, g);
  t.add(ZYDIS_MNEMONIC_CLFLUSH, &select_clflush, TimingClass::kStore, 0, g);
  t.add(ZYDIS_MNEMONIC_CLFLUSHOPT, &select_clflush, TimingClass::kStore, 0, g);
  t.add(ZYDIS_MNEMONIC_CLWB, &select_clflush, TimingClass::kStore, 0, g);
  t.add(ZYDIS_MNEMONIC_UD0, &select_always<&ud>, TimingClass::kSystem, attr::kEndsBlock, g);
  t.add(ZYDIS_MNEMONIC_UD1, &select_always<&ud>, TimingClass::kSystem, attr::kEndsBlock, g);
  t.add(ZYDIS_MNEMONIC_UD2, &select_always<&ud>, TimingClass::kSystem, attr::kEndsBlock, g);
  t.add(ZYDIS_MNEMONIC_RDRAND, &select_rdrand, TimingClass::kSystem, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_RDSEED, &select_rdrand, TimingClass::kSystem, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_CPUID, &select_always<&cpuid>, TimingClass::kCpuid, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_RDTSC, &select_always<&rdtsc>, TimingClass::kSystem, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_RDTSCP, &select_always<&rdtscp>, TimingClass::kSystem, attr::kMayExitVmx, g);
  t.add(ZYDIS_MNEMONIC_RDPID, &select_rdpid, TimingClass::kSystem, 0, g);
  // AMD's SVM and other AMD-only instructions: modelled, and #UD, because this CPU lacks them
  // (no SVM, no RDPRU, no CLZERO/MONITORX in CPUID), not counted as unimplemented.
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_VMMCALL, ZYDIS_MNEMONIC_VMRUN, ZYDIS_MNEMONIC_VMLOAD, ZYDIS_MNEMONIC_VMSAVE,
                          ZYDIS_MNEMONIC_STGI, ZYDIS_MNEMONIC_CLGI, ZYDIS_MNEMONIC_SKINIT, ZYDIS_MNEMONIC_INVLPGA,
                          ZYDIS_MNEMONIC_RDPRU, ZYDIS_MNEMONIC_CLZERO, ZYDIS_MNEMONIC_MONITORX, ZYDIS_MNEMONIC_MWAITX})
    t.add(m, &select_always<&ud>, TimingClass::kSystem, attr::kEndsBlock, g);
  t.add(ZYDIS_MNEMONIC_RDPMC, &select_always<&rdpmc>, TimingClass::kSystem, attr::kMayExitVmx, g);
}

}  // namespace vmxsim::cpu
