// EPT features beyond the walk: page-modification logging (SDM §29.3.6) and mode-based execute
// control (§29.3.3.2). PML: with EPT accessed/dirty flags on, the guest-physical address of a
// page whose EPT dirty flag goes from 0 to 1 is written at the PML index, which counts down;
// with the index outside 0-511 the access is a "PML full" VM exit (reason 62) instead, before
// anything is logged or written. MBEC: a fetch from a user-mode linear address (U/S = 1 at every
// guest paging level, whatever the CPL) needs bit 10 (XU) of the EPT entries, one from a
// supervisor-mode address bit 2 (XS).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/vmx/vmx_harness.h"

namespace vmxsim::test {
namespace {

namespace vx = vmxsim::vmx;
using F = vx::VmcsField;
using R = VmxHarness::Result;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kEptPml4 = 0x170000, kEptPdpt = 0x171000, kEptPd = 0x172000;
constexpr uint64_t kXs = 1 << 2, kXu = 1 << 10, kRw = 3;

// Identity EPT over the harness's 4 MiB: write-back 2 MiB pages with `perms`, A/D flags clear.
void identity_ept(VmxHarness& h, uint64_t perms) {
  h.m.write_value<uint64_t>(kEptPml4, kEptPdpt | 7 | kXu);
  h.m.write_value<uint64_t>(kEptPdpt, kEptPd | 7 | kXu);
  for (uint64_t i = 0; i < 2; ++i) h.m.write_value<uint64_t>(kEptPd + 8 * i, (i << 21) | (1 << 7) | (6 << 3) | perms);
}
constexpr uint64_t kEptpAd = kEptPml4 | (1 << 6) | (3 << 3) | 6;  // WB, 4 levels, A/D flags on
constexpr uint64_t kPmlLog = 0x180000;
constexpr uint64_t kData = 0x200000;
// mov dword [kData + 0x123], 42; hlt
const Bytes kStoreThenHlt = {0xc7, 0x04, 0x25, 0x23, 0x01, 0x20, 0x00, 0x2a, 0x00, 0x00, 0x00, 0xf4};

class Pml : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(h.setup(why)) << why;
    ASSERT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kEnablePml));
    identity_ept(h, kRw | kXs);
    h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kActivateSecondary);
    h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableEpt | vx::proc2::kEnablePml);
    h.set(F::EPT_POINTER, kEptpAd);
    h.set(F::PML_ADDRESS, kPmlLog);
    h.guest_code(kStoreThenHlt);
  }
  uint64_t logged(unsigned i) { return h.m.read<uint64_t>(kPmlLog + 8 * i); }
  VmxHarness h;
};

TEST_F(Pml, DirtiedPagesAreLoggedDownwardFromTheIndex) {
  h.set(F::GUEST_PML_INDEX, 511);
  ASSERT_EQ(h.launch(), R::kExit) << h.core().vmx().m_last_entry_failure;
  EXPECT_EQ(h.exit_reason(), vx::kExitHlt);
  const unsigned index = static_cast<unsigned>(h.field(F::GUEST_PML_INDEX));
  ASSERT_LT(index, 511u);  // the store's page, and the guest paging structures whose A/D flags it set
  bool found = false;
  for (unsigned i = index + 1; i <= 511; ++i) {
    EXPECT_EQ(logged(i) & 0xfff, 0u) << "entry " << i;
    if (logged(i) == kData) found = true;
  }
  EXPECT_TRUE(found) << "the stored-to page is not in the log";
  EXPECT_EQ(h.m.read<uint32_t>(kData + 0x123), 42u);
  // The page is dirty in EPT now; a second launch writes it again without logging it again.
  const uint64_t pd = h.m.read<uint64_t>(kEptPd + 8);
  EXPECT_TRUE(pd & (1 << 9));  // dirty
}

TEST_F(Pml, FullLogIsAVmExitBeforeTheAccess) {
  h.set(F::GUEST_PML_INDEX, 0xffff);
  ASSERT_EQ(h.launch(), R::kExit) << h.core().vmx().m_last_entry_failure;
  EXPECT_EQ(h.exit_reason(), vx::kExitPmlFull);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode);  // nothing retired
  EXPECT_EQ(h.field(F::GUEST_PML_INDEX), 0xffffu);
  EXPECT_EQ(h.m.read<uint32_t>(kData + 0x123), 0u);
  EXPECT_EQ(logged(511), 0u);
}

TEST_F(Pml, EntryRequiresEptAndAnAlignedAddress) {
  h.set(F::PML_ADDRESS, kPmlLog | 0x800);
  EXPECT_EQ(h.launch(), R::kVmfailValid);
  EXPECT_EQ(h.vm_instruction_error(), 7u);  // invalid control fields
  EXPECT_EQ(h.core().vmx().m_last_entry_failure, "PML address");
}

// The harness's guest runs at CPL 0 on page tables that are user-accessible at every level: its
// code sits at user-mode linear addresses.
class Mbec : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(h.setup(why)) << why;
    ASSERT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kModeBasedEpt));
    h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kActivateSecondary);
    h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableEpt);
    h.set(F::EPT_POINTER, kEptPml4 | (3 << 3) | 6);
    h.guest_code({0x90, 0xf4});  // nop; hlt
  }
  void run(uint64_t perms, bool mbec) {
    identity_ept(h, perms);
    if (mbec) h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kModeBasedEpt);
    ASSERT_EQ(h.launch(), R::kExit) << h.core().vmx().m_last_entry_failure;
  }
  VmxHarness h;
};

TEST_F(Mbec, UserModeAddressFetchNeedsXu) {
  run(kRw | kXs, true);
  EXPECT_EQ(h.exit_reason(), vx::kExitEptViolation);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode);
  // Fetch (bit 2); readable, writable, supervisor-executable (bits 3-5); not user-executable
  // (bit 6); the linear address is valid and the access was to the translation (bits 7-8).
  EXPECT_EQ(h.field(F::EXIT_QUALIFICATION) & 0x1ff, 0x4u | (7u << 3) | (1u << 7) | (1u << 8));
  EXPECT_EQ(h.field(F::GUEST_PHYSICAL_ADDRESS), VmxHarness::kGuestCode);
}

TEST_F(Mbec, UserModeAddressRunsWithXuAlone) {
  run(kRw | kXu, true);
  EXPECT_EQ(h.exit_reason(), vx::kExitHlt);
  EXPECT_EQ(h.guest_rip(), VmxHarness::kGuestCode + 1);
}

TEST_F(Mbec, WithoutMbecXsGovernsEveryFetch) {
  run(kRw | kXu, false);
  EXPECT_EQ(h.exit_reason(), vx::kExitEptViolation);
  EXPECT_EQ(h.field(F::EXIT_QUALIFICATION) & 0x3f, 0x4u | (3u << 3));  // fetch; readable, writable
}

TEST_F(Mbec, EntryRequiresEpt) {
  h.set(F::SECONDARY_VM_EXEC_CONTROL, h.get(F::SECONDARY_VM_EXEC_CONTROL) & ~uint64_t{vx::proc2::kEnableEpt});
  h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kModeBasedEpt);
  EXPECT_EQ(h.launch(), R::kVmfailValid);
  EXPECT_EQ(h.core().vmx().m_last_entry_failure, "mode-based execute control without EPT");
}

}  // namespace
}  // namespace vmxsim::test
