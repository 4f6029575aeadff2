// The VMX capability MSRs (SDM Appendix A), computed once per core from the CPU profile's
// features. Capabilities are honest (ARCHITECTURE §5): a control is allowed to be 1 only when
// vmxsim implements it, so hypervisors probe and adapt exactly as on hardware.
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"

namespace vmxsim::vmx {

struct VmxCaps {
  uint64_t basic = 0;
  // Control MSRs: bits 31:0 allowed 0-settings (1 = must be 1), bits 63:32 allowed 1-settings.
  uint64_t pinbased = 0, procbased = 0, procbased2 = 0, exit = 0, entry = 0;
  uint64_t true_pinbased = 0, true_procbased = 0, true_exit = 0, true_entry = 0;
  uint64_t misc = 0;
  uint64_t cr0_fixed0 = 0, cr0_fixed1 = 0, cr4_fixed0 = 0, cr4_fixed1 = 0;
  uint64_t vmcs_enum = 0;
  uint64_t ept_vpid = 0;
  uint64_t vmfunc = 0;
  unsigned preemption_timer_rate = 5;  // the timer counts down every 2^rate TSC ticks

  static constexpr uint32_t kRevision = 0x00000042;

  // Allowed: every must-be-1 bit set, no bit outside the allowed-1 settings. The TRUE MSRs are
  // what VM entry checks (SDM §26.2.1.1: the default1 bits that TRUE reports as 0 may be 0).
  static bool allowed(uint64_t cap, uint32_t v) {
    const uint32_t must1 = static_cast<uint32_t>(cap);
    const uint32_t may1 = static_cast<uint32_t>(cap >> 32);
    return (v & must1) == must1 && (v & ~may1) == 0;
  }
  // The value of a capability MSR (0x480-0x491), false for other MSR numbers.
  bool read_msr(uint32_t msr, uint64_t& v) const;
};

// `cr4_supported`: the CR4 bits the core implements (IA32_VMX_CR4_FIXED1).
VmxCaps make_vmx_caps(const cpu::CpuFeatures& f, uint64_t cr4_supported, unsigned phys_addr_bits);

}  // namespace vmxsim::vmx
