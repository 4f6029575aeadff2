// Handler group: MONITOR and MWAIT (SDM Vol. 2 "MONITOR", "MWAIT"). The waiting itself is the
// core's (cpu/monitor_wait.cc); here are the checks, in the SDM's order: #UD (no feature, or
// CPL > 0, which takes priority over VM exits as a privilege fault), then the VM exit, then the
// operand checks.
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {

namespace {

void require_monitor_cpl0(Core& c) {
  if (!c.monitor_supported() || c.cpl() != 0) c.raise_ud();
}

// ECX (RCX in 64-bit mode) selects extensions.
uint64_t extensions(Core& c) { return c.in_64bit_mode() ? c.reg<8>(kRcx) : c.reg<4>(kRcx); }

// MONITOR: arms monitoring of the line at DS:rAX (segment overridable), checked and translated
// like a 1-byte read. No extensions exist: ECX must be 0. EDX carries hints (none defined).
void monitor(Core& c, const DecodedOp& op) {
  require_monitor_cpl0(c);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_monitor()) return;
  if (extensions(c) != 0) c.raise_gp0();
  c.arm_monitor(c.linear(op, 1, false));
}

// MWAIT: EAX holds the target C-state hint (every state is the same wait here); ECX[0] makes
// masked interrupts end the wait (CPUID.05H:ECX[1]); other ECX bits are reserved.
void mwait(Core& c, const DecodedOp&) {
  require_monitor_cpl0(c);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_mwait(c.monitor_armed())) return;
  const uint64_t ext = extensions(c);
  if (ext & ~1ull) c.raise_gp0();
  const bool break_on_masked = ext & 1;
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && break_on_masked && !(c.rflags() & rflags::kIf) &&
      c.vmx().interrupt_window_exiting())
    return;
  c.mwait(break_on_masked);
}

template <ExecFn F>
ExecFn select_always(const DecodedOp&) {
  return F;
}

}  // namespace

void register_monitor_mwait(IsaTable& t) {
  const char* g = "monitor_mwait";
  const uint16_t a = attr::kMayExitVmx | attr::kEndsBlock;
  t.add(ZYDIS_MNEMONIC_MONITOR, &select_always<&monitor>, TimingClass::kSystem, a, g);
  t.add(ZYDIS_MNEMONIC_MWAIT, &select_always<&mwait>, TimingClass::kHalt, a, g);
}

}  // namespace vmxsim::cpu
