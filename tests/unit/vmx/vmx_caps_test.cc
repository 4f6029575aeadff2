// Capability MSRs are self-consistent (SDM Appendix A) and honest: a feature switched off in
// the CPU profile disappears from them.
#include <gtest/gtest.h>

#include "cpu/cpu_features.h"
#include "vmx_model/vmx_caps.h"
#include "vmx_model/vmx_defs.h"

namespace vmxsim::vmx {
namespace {

constexpr uint64_t kCr4 = 0x3727ff;  // a typical set of implemented CR4 bits

void expect_consistent(uint64_t cap, const char* name) {
  const uint32_t must1 = static_cast<uint32_t>(cap), may1 = static_cast<uint32_t>(cap >> 32);
  EXPECT_EQ(must1 & ~may1, 0u) << name << ": a must-be-1 bit is not allowed to be 1";
}

TEST(VmxCaps, ControlMsrsAreConsistent) {
  const VmxCaps c = make_vmx_caps(cpu::CpuFeatures{}, kCr4, 40);
  expect_consistent(c.pinbased, "pinbased");
  expect_consistent(c.procbased, "procbased");
  expect_consistent(c.procbased2, "procbased2");
  expect_consistent(c.exit, "exit");
  expect_consistent(c.entry, "entry");
  // TRUE controls may only relax the default1 bits (SDM A.2).
  EXPECT_EQ(static_cast<uint32_t>(c.true_procbased) & ~static_cast<uint32_t>(c.procbased), 0u);
  EXPECT_EQ(c.true_procbased >> 32, c.procbased >> 32);
  EXPECT_TRUE(c.basic & (1ull << 55));
  EXPECT_EQ((c.basic >> 32) & 0x1fff, 4096u);
  EXPECT_EQ(c.basic & 0x7fffffff, VmxCaps::kRevision);
  // CR0/CR4 fixed bits: what must be 1 is allowed to be 1.
  EXPECT_EQ(c.cr0_fixed0 & ~c.cr0_fixed1, 0u);
  EXPECT_EQ(c.cr4_fixed0 & ~c.cr4_fixed1, 0u);
}

TEST(VmxCaps, SwitchedOffFeaturesAreNotAdvertised) {
  cpu::CpuFeatures f;
  f.vmx_preemption_timer = false;
  f.vmx_vpid = false;
  const VmxCaps c = make_vmx_caps(f, kCr4, 40);
  EXPECT_FALSE((c.pinbased >> 32) & pin::kPreemptionTimer);
  EXPECT_FALSE((c.exit >> 32) & exitc::kSavePreemptionTimer);
  EXPECT_FALSE((c.procbased2 >> 32) & proc2::kEnableVpid);
  EXPECT_EQ(c.ept_vpid & (1ull << 32), 0u);
}

TEST(VmxCaps, OptionalVmxFeaturesSwitchOff) {
  cpu::CpuFeatures f;
  const VmxCaps on = make_vmx_caps(f, kCr4, 40);
  EXPECT_TRUE((on.pinbased >> 32) & pin::kPostedInterrupts);
  EXPECT_TRUE((on.procbased2 >> 32) & proc2::kVirtIntrDelivery);
  EXPECT_TRUE((on.procbased2 >> 32) & proc2::kVmcsShadowing);
  EXPECT_EQ(on.vmfunc, 1u);
  EXPECT_TRUE((on.procbased2 >> 32) & proc2::kEnablePml);
  EXPECT_TRUE((on.procbased2 >> 32) & proc2::kModeBasedEpt);
  f.vmx_apicv = false;
  f.vmx_pml = false;
  f.vmx_mbec = false;
  f.vmx_vmcs_shadowing = false;
  f.vmx_vmfunc = false;
  const VmxCaps c = make_vmx_caps(f, kCr4, 40);
  EXPECT_FALSE((c.pinbased >> 32) & pin::kPostedInterrupts);
  EXPECT_FALSE((c.procbased2 >> 32) & proc2::kApicRegisterVirt);
  EXPECT_FALSE((c.procbased2 >> 32) & proc2::kVirtIntrDelivery);
  EXPECT_FALSE((c.procbased2 >> 32) & proc2::kVmcsShadowing);
  EXPECT_FALSE((c.procbased2 >> 32) & proc2::kEnableVmfunc);
  EXPECT_EQ(c.vmfunc, 0u);
  EXPECT_FALSE((c.procbased2 >> 32) & proc2::kEnablePml);
  EXPECT_FALSE((c.procbased2 >> 32) & proc2::kModeBasedEpt);
  // What predates APICv stays: the APIC-access page, x2APIC-mode virtualization (and the TPR
  // shadow in the primary controls).
  EXPECT_TRUE((c.procbased2 >> 32) & proc2::kVirtApicAccesses);
  EXPECT_TRUE((c.procbased2 >> 32) & proc2::kVirtX2apicMode);
  EXPECT_TRUE((c.procbased >> 32) & proc::kUseTprShadow);
}

TEST(VmxCaps, AllowedChecksMustAndMayBits) {
  const uint64_t cap = 0x16 | (0x16ull << 32) | (0x1ull << 32);
  EXPECT_TRUE(VmxCaps::allowed(cap, 0x16));
  EXPECT_TRUE(VmxCaps::allowed(cap, 0x17));
  EXPECT_FALSE(VmxCaps::allowed(cap, 0x06));   // a must-be-1 bit is 0
  EXPECT_FALSE(VmxCaps::allowed(cap, 0x56));   // a bit outside the allowed-1 settings
}

TEST(VmxCaps, CapabilityMsrNumbers) {
  const VmxCaps c = make_vmx_caps(cpu::CpuFeatures{}, kCr4, 40);
  uint64_t v = 0;
  for (uint32_t m = 0x480; m <= 0x491; ++m) EXPECT_TRUE(c.read_msr(m, v)) << std::hex << m;
  EXPECT_FALSE(c.read_msr(0x492, v));
  EXPECT_TRUE(c.read_msr(msr::kVmxBasic, v));
  EXPECT_EQ(v, c.basic);
}

}  // namespace
}  // namespace vmxsim::vmx
