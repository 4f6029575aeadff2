// The exit cost model (vmx_model/vmx_costs.h): fixed microcode cycles of VM entry and VM exit,
// a cost per optional state component the controls make a transition load or save, and the VMX
// unit's memory traffic (the VMCS region, MSR lists) through the timing model's caches.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cpu/timing/timing_model.h"
#include "tests/unit/timing/timed_params.h"
#include "tests/unit/vmx/vmx_harness.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
namespace vx = vmxsim::vmx;
using F = vx::VmcsField;
using R = VmxHarness::Result;

constexpr uint32_t kExit = 100, kEntry = 50, kComponent = 7, kMsrEntry = 3;
const std::vector<uint8_t> kVmcall = {0x0f, 0x01, 0xc1};

CoreParams costed(CoreParams p) {
  p.vmx_costs.exit_cycles = kExit;
  p.vmx_costs.entry_cycles = kEntry;
  p.vmx_costs.state_component_cycles = kComponent;
  p.vmx_costs.msr_list_entry_cycles = kMsrEntry;
  return p;
}

// One VMLAUNCH into a guest whose first instruction (VMCALL) exits: the transition cycles.
class VmxCosts : public ::testing::Test {
 protected:
  explicit VmxCosts(CoreParams p = costed(TestMachine::default_params())) : h(p) {}
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(h.setup(why)) << why;
    h.guest_code(kVmcall);
  }
  uint64_t round_trip() {
    EXPECT_EQ(h.launch(), R::kExit) << h.core().vmx().m_last_entry_failure;
    EXPECT_EQ(h.exit_reason(), vx::kExitVmcall);
    return h.core().vmx().m_cycles_transitions;
  }
  VmxHarness h;
};

TEST_F(VmxCosts, FixedPartWithoutOptionalComponents) {
  // The baseline VMCS: 64-bit host and guest, no EFER/PAT/debug-control loads or saves.
  h.set(F::VM_ENTRY_CONTROLS, h.get(F::VM_ENTRY_CONTROLS) &
                                  ~(vx::entryc::kLoadEfer | vx::entryc::kLoadPat | vx::entryc::kLoadDebugControls));
  h.set(F::VM_EXIT_CONTROLS, h.get(F::VM_EXIT_CONTROLS) &
                                 ~(vx::exitc::kSaveEfer | vx::exitc::kLoadEfer | vx::exitc::kSavePat |
                                   vx::exitc::kLoadPat | vx::exitc::kSaveDebugControls));
  const uint32_t entry_ctl = static_cast<uint32_t>(h.get(F::VM_ENTRY_CONTROLS));
  const uint32_t exit_ctl = static_cast<uint32_t>(h.get(F::VM_EXIT_CONTROLS));
  // Controls the capability MSRs force to 1 would still count: the test needs none of them.
  ASSERT_EQ(entry_ctl & (vx::entryc::kLoadDebugControls | vx::entryc::kLoadPat | vx::entryc::kLoadEfer), 0u);
  ASSERT_EQ(exit_ctl & vx::exitc::kSaveDebugControls, 0u);
  EXPECT_EQ(round_trip(), kEntry + kExit);
}

TEST_F(VmxCosts, EachOptionalComponentCostsItsCycles) {
  h.set(F::VM_ENTRY_CONTROLS, h.get(F::VM_ENTRY_CONTROLS) & ~vx::entryc::kLoadDebugControls);
  h.set(F::VM_EXIT_CONTROLS, h.get(F::VM_EXIT_CONTROLS) & ~vx::exitc::kSaveDebugControls);
  // EFER: loaded on entry, saved and loaded on exit; PAT: saved on exit. Four components.
  h.set_bits(F::VM_ENTRY_CONTROLS, vx::entryc::kLoadEfer);
  h.set_bits(F::VM_EXIT_CONTROLS, vx::exitc::kSaveEfer | vx::exitc::kLoadEfer | vx::exitc::kSavePat);
  h.set(F::GUEST_IA32_EFER, h.core().s.efer);
  h.set(F::HOST_IA32_EFER, h.core().s.efer);
  EXPECT_EQ(round_trip(), kEntry + kExit + 4 * kComponent);
}

TEST_F(VmxCosts, MsrListEntriesCostTheirCycles) {
  h.set(F::VM_ENTRY_CONTROLS, h.get(F::VM_ENTRY_CONTROLS) & ~vx::entryc::kLoadDebugControls);
  h.set(F::VM_EXIT_CONTROLS, h.get(F::VM_EXIT_CONTROLS) & ~vx::exitc::kSaveDebugControls);
  // Two entries in the VM-exit MSR-store list (IA32_SYSENTER_CS, IA32_SYSENTER_ESP).
  h.m.write_value<uint64_t>(VmxHarness::kMsrArea, 0x174);
  h.m.write_value<uint64_t>(VmxHarness::kMsrArea + 16, 0x175);
  h.set(F::VM_EXIT_MSR_STORE_ADDR, VmxHarness::kMsrArea);
  h.set(F::VM_EXIT_MSR_STORE_COUNT, 2);
  EXPECT_EQ(round_trip(), kEntry + kExit + 2 * kMsrEntry);
}

// With the timing model on, the VMX unit's own memory references go through the caches: VMPTRLD
// fills the VMCS cache from the region (one read per field), VMCLEAR of the current VMCS writes
// it back. Without that traffic the L1D would see only the host's own loads (one VMWRITE source
// operand per field).
class VmxCostsTimed : public VmxCosts {
 protected:
  VmxCostsTimed() : VmxCosts(costed(timed_params())) {}
  uint64_t l1d_accesses() {
    const auto& st = h.core().timing_model()->caches().stats(timing::CacheHierarchy::kL1d);
    return st.hits + st.misses;
  }
};

TEST_F(VmxCostsTimed, VmcsRegionTrafficGoesThroughTheCaches) {
  const uint64_t before = l1d_accesses();
  round_trip();
  // VMWRITE sources (kNumVmcsFields loads) + the VMPTRLD fill (kNumVmcsFields reads) at least.
  EXPECT_GE(l1d_accesses() - before, 2u * vx::kNumVmcsFields);
}

}  // namespace
}  // namespace vmxsim::test
