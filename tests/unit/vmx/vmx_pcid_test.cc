// PCIDs across VM entries and exits with VPID (SDM Vol. 3C §29.1, §29.4.1): translations are
// tagged by VPID and PCID together, and a VM entry or exit that loads a CR3 with another PCID
// translates with that PCID's translations from the first access on, although the VPID's
// translations stay. Two address spaces (tests/unit/cpu/address_spaces.h) map one linear page
// to different physical pages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/cpu/address_spaces.h"
#include "tests/unit/vmx/vmx_harness.h"

namespace vmxsim::test {
namespace {

namespace vx = vmx;
using F = vmx::VmcsField;
using Bytes = std::vector<uint8_t>;

// Above the harness's memory (it ends below 0x200000; RAM is 4 MiB).
constexpr uint64_t kTables = 0x200000, kPageA = 0x300000, kPageB = 0x301000;
constexpr uint64_t kHandler = 0x310000, kCr3List = 0x311000, kResults = 0x312000;
constexpr uint64_t kLin = AddressSpaces::kLin;
constexpr uint64_t kValueA = 0xaaaa, kValueB = 0xbbbb;

void put32(Bytes& b, uint32_t x) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
void put64(Bytes& b, uint64_t x) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

// A harness with VPID 1 and the two spaces: A maps kLin to kPageA, B to kPageB.
struct PcidHarness {
  PcidHarness() {
    std::string why;
    EXPECT_TRUE(h.setup(why)) << why;
    EXPECT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kEnableVpid));
    h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kActivateSecondary);
    h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableVpid);
    h.set(F::VIRTUAL_PROCESSOR_ID, 1);
    spaces.map(0, kLin, kPageA);
    spaces.map(1, kLin, kPageB);
    h.m.write_value<uint64_t>(kPageA, kValueA);
    h.m.write_value<uint64_t>(kPageB, kValueB);
  }
  VmxHarness h;
  AddressSpaces spaces{h.m, 2, kTables};
};

TEST(VmxPcid, VmExitLoadingAnotherPcidTranslatesWithIt) {
  PcidHarness t;
  cpu::Core& c = t.h.core();
  c.write_cr4(c.s.cr4 | cpu::cr4::kPcide);
  c.write_cr3(t.spaces.cr3(0, 1));
  EXPECT_EQ(c.read<8>(kLin), kValueA);  // the host's translation for PCID 1
  t.h.set(F::HOST_CR4, c.s.cr4);
  t.h.set(F::HOST_CR3, t.spaces.cr3(1, 2));
  ASSERT_EQ(t.h.launch(), VmxHarness::Result::kExit);
  EXPECT_EQ(t.h.exit_reason(), vx::kExitHlt);
  EXPECT_EQ(c.current_pcid(), 2);
  EXPECT_EQ(c.read<8>(kLin), kValueB);
}

// The guest reads kLin into the next result slot and halts; the host's exit handler loads the
// next guest CR3 from a list and resumes it, until the list ends.
TEST(VmxPcid, VmEntryLoadingAnotherGuestPcidTranslatesWithIt) {
  PcidHarness t;
  VmxHarness& h = t.h;
  const uint64_t cr3s[] = {t.spaces.cr3(1, 2), t.spaces.cr3(0, 1)};
  h.m.write(kCr3List, cr3s, sizeof cr3s);
  h.set(F::GUEST_CR4, h.get(F::GUEST_CR4) | cpu::cr4::kPcide);
  h.set(F::GUEST_CR3, t.spaces.cr3(0, 1));
  h.set(F::HOST_RIP, kHandler);

  Bytes guest = {0x48, 0xb9};  // mov rcx, kLin
  put64(guest, kLin);
  guest.insert(guest.end(), {0x48, 0x8b, 0x11,         // mov rdx, [rcx]
                             0x49, 0x89, 0x55, 0x00,   // mov [r13], rdx
                             0x49, 0x83, 0xc5, 0x08,   // add r13, 8
                             0xf4});                   // hlt (exits)
  h.guest_code(guest);

  Bytes b = {0x4d, 0x85, 0xf6,  // test r14, r14
             0x74, 0x00,        // jz done (patched below)
             0x49, 0xff, 0xce,  // dec r14
             0xbf};             // mov edi, GUEST_CR3
  put32(b, vmx::field_info(F::GUEST_CR3).encoding);
  b.insert(b.end(), {0x49, 0x8b, 0x07,         // mov rax, [r15]
                     0x0f, 0x79, 0xf8,         // vmwrite rdi, rax
                     0x49, 0x83, 0xc7, 0x08,   // add r15, 8
                     0xbf});                   // mov edi, GUEST_RIP
  put32(b, vmx::field_info(F::GUEST_RIP).encoding);
  b.push_back(0xb8);  // mov eax, guest code
  put32(b, static_cast<uint32_t>(VmxHarness::kGuestCode));
  b.insert(b.end(), {0x0f, 0x79, 0xf8,  // vmwrite rdi, rax
                     0x0f, 0x01, 0xc3,  // vmresume
                     0xf4,              // hlt: VMRESUME failed
                     0xf4});            // done: hlt
  b[4] = static_cast<uint8_t>(b.size() - 1 - 5);  // done: the last HLT
  h.m.write(kHandler, b);

  cpu::Core& c = h.core();
  c.s.gpr[cpu::kR13] = kResults;
  c.s.gpr[cpu::kR14] = 2;
  c.s.gpr[cpu::kR15] = kCr3List;
  h.launch();
  EXPECT_EQ(c.s.rip, kHandler + b.size()) << "the host did not resume the guest twice";
  EXPECT_EQ(h.m.read<uint64_t>(kResults), kValueA);
  EXPECT_EQ(h.m.read<uint64_t>(kResults + 8), kValueB);  // same VPID, PCID 2
  EXPECT_EQ(h.m.read<uint64_t>(kResults + 16), kValueA);
}

}  // namespace
}  // namespace vmxsim::test
