// The timing TLB keeps each translation context apart (cpu/timing/address_space_ids.h): a
// guest with a VPID keeps its entries across VM exits, never hits the host's or another VPID's,
// loses them to INVVPID/INVEPT; a guest without VPID shares VPID 0 with the host, so every VM
// entry and exit flushes. A host on a bare Core with timing on (vmx_harness.h) launches a guest
// and then runs a script, one round per VM exit; the tests count the timing model's page walks
// of whole runs that differ in one step.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cpu/timing/timing_model.h"
#include "tests/unit/timing/timed_params.h"
#include "tests/unit/vmx/vmx_harness.h"

namespace vmxsim::test {
namespace {

namespace vx = vmx;
using F = vmx::VmcsField;
using Bytes = std::vector<uint8_t>;

// Beyond the harness's memory: the host's exit handler, its script, a page table splitting the
// 2 MiB page at 0x200000 into 4 KiB pages, so each data page below is a TLB entry of its own,
// and an identity EPT (2 MiB pages, write-back) for guests that use one.
constexpr uint64_t kHandler = 0x140000, kScript = 0x150000, kPt = 0x160000;
constexpr uint64_t kEptPml4 = 0x170000, kEptPdpt = 0x171000, kEptPd = 0x172000;
constexpr uint64_t kEptp = kEptPml4 | (3 << 3) | 6;
constexpr uint64_t kX = 0x200000, kY = 0x201000;
// A host page the dispatcher has already touched: reading it costs the host no walk.
constexpr uint64_t kNeutral = VmxHarness::kTable;

// What the host does at one VM exit before it resumes the guest, and what the guest reads then.
struct Round {
  uint64_t host_reads = kNeutral;
  uint64_t guest_reads = kX;
  uint16_t vpid = 1;                 // written to VIRTUAL_PROCESSOR_ID before the VMRESUME
  uint64_t invalidate_type = ~0ull;  // INVVPID of `vpid` (or INVEPT) with this type (~0: none)
};

// The guest's controls, and which invalidation the handler executes.
struct GuestSetup {
  bool vpid = true;     // VPID 1 at VMLAUNCH
  bool ept = false;     // the identity EPT
  bool invept = false;  // the handler's invalidation is INVEPT of kEptp, not INVVPID
};

uint32_t encoding(F f) { return vmx::field_info(f).encoding; }

void put32(Bytes& b, uint32_t x) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

// The VM-exit handler (HOST_RIP). R14 walks the script, 48 bytes a round: host read address,
// guest read address (0: stop), VPID, invalidation type + 1 (0: none), the INVVPID or INVEPT
// descriptor. The guest reads [R13] and halts (HLT exits), so the handler points GUEST_RIP back
// at its start.
Bytes exit_handler(bool invept) {
  Bytes b = {0x49, 0x8b, 0x06,         // mov rax, [r14]
             0x48, 0x8b, 0x00,         // mov rax, [rax]
             0x49, 0x8b, 0x56, 0x10,   // mov rdx, [r14+16]
             0xbf};                    // mov edi, VIRTUAL_PROCESSOR_ID
  put32(b, encoding(F::VIRTUAL_PROCESSOR_ID));
  b.insert(b.end(), {0x0f, 0x79, 0xfa,                          // vmwrite rdi, rdx
                     0x49, 0x8b, 0x56, 0x18,                    // mov rdx, [r14+24]
                     0x48, 0x85, 0xd2,                          // test rdx, rdx
                     0x74, 0x0a,                                // jz +10 (none)
                     0x48, 0xff, 0xca,                          // dec rdx
                     0x66, 0x41, 0x0f, 0x38,                    // invvpid (81) / invept (80)
                     invept ? 0x80 : 0x81, 0x56, 0x20,          //   rdx, [r14+32]
                     0x4d, 0x8b, 0x6e, 0x08,                    // mov r13, [r14+8]
                     0x49, 0x83, 0xc6, 0x30,                    // add r14, 48
                     0x4d, 0x85, 0xed,                          // test r13, r13
                     0x74, 0x11,                                // jz +17 (done)
                     0xbf});                                    // mov edi, GUEST_RIP
  put32(b, encoding(F::GUEST_RIP));
  b.push_back(0xb8);  // mov eax, guest code
  put32(b, static_cast<uint32_t>(VmxHarness::kGuestCode));
  b.insert(b.end(), {0x0f, 0x79, 0xf8,  // vmwrite rdi, rax
                     0x0f, 0x01, 0xc3,  // vmresume
                     0xf4,              // hlt: VMRESUME failed
                     0xf4});            // done: hlt
  return b;
}

// VMLAUNCH of a guest that reads `first`, then `rounds`, then the host halts (the handler stops
// only at the script's end, so every round ran). The timing TLB's page walks of the whole run,
// from the core's reset state.
uint64_t walks(uint64_t first, const std::vector<Round>& rounds,
               const GuestSetup& setup = GuestSetup{}) {
  VmxHarness h(timed_params());
  std::string why;
  EXPECT_TRUE(h.setup(why)) << why;
  EXPECT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kEnableVpid));
  h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kActivateSecondary);
  if (setup.vpid) {
    h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableVpid);
    h.set(F::VIRTUAL_PROCESSOR_ID, 1);
  }
  if (setup.ept) {
    EXPECT_TRUE(VmxHarness::allowed1(h.proc2, vx::proc2::kEnableEpt));
    h.m.write_value<uint64_t>(kEptPml4, kEptPdpt | 7);
    h.m.write_value<uint64_t>(kEptPdpt, kEptPd | 7);
    for (uint64_t i = 0; i < 2; ++i)  // the harness's 4 MiB of RAM: RWX, write-back, 2 MiB pages
      h.m.write_value<uint64_t>(kEptPd + 8 * i, (i << 21) | (1 << 7) | (6 << 3) | 7);
    h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableEpt);
    h.set(F::EPT_POINTER, kEptp);
  }
  h.set(F::HOST_RIP, kHandler);
  const Bytes handler = exit_handler(setup.invept);
  h.m.write(kHandler, handler);
  h.guest_code({0x49, 0x8b, 0x45, 0x00});  // mov rax, [r13] (then the harness's code: a HLT)
  h.m.write_value<uint8_t>(VmxHarness::kGuestCode + 4, 0xf4);

  std::vector<uint64_t> pt(512);
  for (uint64_t i = 0; i < 512; ++i) pt[i] = (kX + (i << 12)) | 7;
  h.m.write(kPt, pt.data(), pt.size() * 8);
  h.m.write_value<uint64_t>(TestMachine::kPageTables + 0x2000 + 8, kPt | 7);  // PDE[1]

  std::vector<uint64_t> script;
  for (const Round& r : rounds)
    script.insert(script.end(), {r.host_reads, r.guest_reads, r.vpid,
                                 r.invalidate_type == ~0ull ? 0 : r.invalidate_type + 1,
                                 setup.invept ? kEptp : r.vpid, 0});
  script.insert(script.end(), {kNeutral, 0, 1, 0, 0, 0});  // the last exit: halt
  h.m.write(kScript, script.data(), script.size() * 8);

  h.core().s.gpr[cpu::kR13] = first;
  h.core().s.gpr[cpu::kR14] = kScript;
  h.launch();
  EXPECT_EQ(h.core().s.rip, kHandler + handler.size()) << "the host did not finish its script";
  EXPECT_EQ(h.exit_reason(), vx::kExitHlt);
  return h.core().timing_model()->tlb().stats().walks;
}

TEST(VpidTimingTlb, GuestTranslationsSurviveExitAndReentry) {
  // Neither the guest's code and data pages nor the host's handler pages walk again.
  EXPECT_EQ(walks(kX, {Round{}, Round{}, Round{}}), walks(kX, {}));
}

TEST(VpidTimingTlb, GuestNeverHitsTheHostsEntry) {
  // The guest reads X after the host read it, and the host reads X after the guest did: each
  // read walks, so reading X in the host adds exactly its own walk.
  Round host_then_guest;
  host_then_guest.host_reads = kX;
  EXPECT_EQ(walks(kY, {host_then_guest}), walks(kY, {Round{}}) + 1);
  EXPECT_EQ(walks(kX, {host_then_guest}), walks(kX, {Round{}}) + 1);
}

TEST(VpidTimingTlb, TwoVpidsDoNotShareEntries) {
  Round vpid2;
  vpid2.vpid = 2;
  // VPID 2's first entry walks the guest's code page and X; then both contexts stay.
  EXPECT_EQ(walks(kX, {vpid2, Round{}, vpid2}), walks(kX, {Round{}, Round{}, Round{}}) + 2);
}

TEST(VpidTimingTlb, InvvpidDropsTheGuestsEntriesOnly) {
  const uint64_t kept = walks(kX, {Round{}});
  for (uint64_t type : {0, 1, 2, 3}) {
    Round inv;
    inv.invalidate_type = type;
    // The guest walks its code page and X again; the host's own entries stay (its handler and
    // script pages do not walk again).
    EXPECT_EQ(walks(kX, {inv}), kept + 2) << "INVVPID type " << type;
  }
}

TEST(VpidTimingTlb, WithoutVpidEntryAndExitFlush) {
  // Each extra round trip: after the exit the host walks its handler's code page (its script,
  // in the same 2 MiB page, then comes from the unified STLB); after the entry the guest walks
  // its code page and X.
  const GuestSetup no_vpid{false};
  EXPECT_EQ(walks(kX, {Round{}, Round{}, Round{}}, no_vpid), walks(kX, {}, no_vpid) + 3 * 3);
}

TEST(VpidTimingTlb, WithEptContextsSurviveAndInveptDropsThem) {
  const GuestSetup ept{true, true};
  // The guest's context is (VPID, EPTP): kept across exits like a VPID-only one.
  EXPECT_EQ(walks(kX, {Round{}, Round{}, Round{}}, ept), walks(kX, {}, ept));
  const GuestSetup invept{true, true, true};
  const uint64_t kept = walks(kX, {Round{}}, invept);
  for (uint64_t type : {1, 2}) {  // single-context, all-context
    Round inv;
    inv.invalidate_type = type;
    EXPECT_EQ(walks(kX, {inv}, invept), kept + 2) << "INVEPT type " << type;
  }
}

}  // namespace
}  // namespace vmxsim::test
