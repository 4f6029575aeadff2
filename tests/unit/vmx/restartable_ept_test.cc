// Restartable instructions under EPT (tests/unit/cpu/restartable.h): the 64-bit cases run as a
// VMX guest, and each access faults as an EPT violation instead of a #PF (the page's EPT entry
// not present, or without write permission). The VM exit saves the guest state in the middle of
// the instruction: it must be the state before the instruction (SDM Vol. 3C §28.2: a VM exit
// for an EPT violation is fault-like), and after the host restores the entry and resumes, the
// instruction runs again and ends as it does without the violation. Found booting Linux KVM on
// vmxsim: far RET had popped RIP and CS when the GDT read exited, and the retried RET popped
// garbage (#GP, #DF, triple fault).
#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <string>

#include "tests/unit/cpu/restartable.h"
#include "tests/unit/vmx/vmx_harness.h"

namespace vmxsim::test::restart {

namespace {

namespace vx = vmxsim::vmx;
using namespace vmxsim::cpu;
using F = vx::VmcsField;

// Identity EPT over the harness's 4 MiB: 4 KiB pages below 2 MiB (the test region among them),
// one 2 MiB page above. Write-back, no accessed/dirty flags.
constexpr uint64_t kEptPml4 = 0x160000, kEptPdpt = 0x161000, kEptPd = 0x162000, kEptPt = 0x163000;
constexpr uint64_t kEptWb = 6 << 3, kEptRwx = 7, kEptRx = 5;
// The host after a VM exit: spins until the test writes 1 at kGo, then clears it and resumes
// the guest, touching no general-purpose register.
constexpr uint64_t kHostTail = 0x10c000, kGo = VmxHarness::kGuestData + 0x100;
constexpr cpu::Cycles kBudget = 200'000;

class EptRig {
 public:
  EptRig() {
    std::string why;
    m_ok = h.setup(why);
    EXPECT_TRUE(m_ok) << why;
    write_gdt(h.m);
    h.m.write_value<uint64_t>(kEptPml4, kEptPdpt | kEptRwx);
    h.m.write_value<uint64_t>(kEptPdpt, kEptPd | kEptRwx);
    h.m.write_value<uint64_t>(kEptPd, kEptPt | kEptRwx);
    h.m.write_value<uint64_t>(kEptPd + 8, (1ull << 21) | (1 << 7) | kEptWb | kEptRwx);
    for (uint64_t i = 0; i < 512; ++i)
      h.m.write_value<uint64_t>(kEptPt + 8 * i, (i << 12) | kEptWb | kEptRwx);
    h.set_bits(F::CPU_BASED_VM_EXEC_CONTROL, vx::proc::kActivateSecondary);
    h.set_bits(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableEpt);
    h.set(F::EPT_POINTER, kEptPml4 | (3 << 3) | 6);
    // tail: cmp dword [kGo], 0; je tail; mov dword [kGo], 0; vmresume; hlt
    const Bytes tail = Bytes{0x83, 0x3c, 0x25} + imm32(kGo) + Bytes{0x00, 0x74, 0xf6, 0xc7, 0x04, 0x25} +
                       imm32(kGo) + imm32(0) + Bytes{0x0f, 0x01, 0xc3, 0xf4};
    h.m.write(kHostTail, tail);
    h.set(F::HOST_RIP, kHostTail);
  }

  bool ok() const { return m_ok; }

  // The harness's 64-bit guest as a Start: CPL 0, the host's segments, IDT and TSS.
  Start start() {
    Start st;
    for (unsigned r = 0; r < 16; ++r) st.gpr[r] = 0x0101010101010101ull * (r + 1);
    st.gpr[kRsp] = TestMachine::kDefaultStackTop;
    for (unsigned i = 0; i < kNumSegs; ++i) st.seg[i] = field_segment(i);
    st.tr = field_segment(7);
    st.idtr.base = h.get(F::GUEST_IDTR_BASE);
    st.idtr.limit = static_cast<uint32_t>(h.get(F::GUEST_IDTR_LIMIT));
    return st;
  }

  // Loads the start state: the VMCS guest fields, and the GPRs through a prologue of MOVs just
  // before kCode, where the guest starts.
  void apply(const Start& st) {
    Bytes prologue;
    for (unsigned r = 0; r < 16; ++r) {
      if (r == kRsp) continue;
      prologue = prologue +
                 Bytes{static_cast<uint8_t>(0x48 | (r >> 3)), static_cast<uint8_t>(0xb8 + (r & 7))} +
                 imm64(st.gpr[r]);
    }
    h.m.write(kCode - prologue.size(), prologue);
    h.set(F::GUEST_RIP, kCode - prologue.size());
    h.set(F::GUEST_RSP, st.gpr[kRsp]);
    h.set(F::GUEST_RFLAGS, st.rflags);
    for (unsigned i = 0; i < kNumSegs; ++i) set_guest_segment(h.v, i, st.seg[i]);
    set_guest_segment(h.v, 7, st.tr);
    h.set(F::GUEST_IDTR_BASE, st.idtr.base);
    h.set(F::GUEST_IDTR_LIMIT, st.idtr.limit);
    h.set(F::GUEST_GDTR_BASE, kGdt);
    h.set(F::GUEST_GDTR_LIMIT, kGdtLimit);
    h.set(F::GUEST_CR4, h.get(F::GUEST_CR4) | st.cr4_or);
    h.set(F::CR4_READ_SHADOW, h.get(F::GUEST_CR4));
  }

  void fault(const Fault& f, bool on) {
    const uint64_t perms = !on ? kEptRwx : f.write_protect ? kEptRx : 0;
    h.m.write_value<uint64_t>(kEptPt + 8 * (f.page >> 12), f.page | kEptWb | perms);
  }

  // Runs to the first VM exit; the exit reason, or -1 when the guest did not exit.
  int launch() {
    h.launch(kBudget);
    return exited();
  }
  int resume() {
    h.m.write_value<uint32_t>(kGo, 1);
    h.core().run(h.core().cycles() + kBudget);
    return exited();
  }

  Snapshot snapshot() {
    const vx::Vmcs& v = h.vmcs();
    Snapshot sn;
    std::memcpy(sn.gpr, h.core().s.gpr, sizeof sn.gpr);
    sn.gpr[kRsp] = v.get(F::GUEST_RSP);
    sn.rip = v.get(F::GUEST_RIP);
    sn.rflags = v.get(F::GUEST_RFLAGS);
    for (unsigned i = 0; i < kNumSegs; ++i) sn.seg[i] = vx::guest_segment(v, i);
    sn.cpl = (sn.seg[kSs].ar >> ar::kDplShift) & 3;
    sn.gdtr = {v.get(F::GUEST_GDTR_BASE), v.get32(F::GUEST_GDTR_LIMIT)};
    sn.idtr = {v.get(F::GUEST_IDTR_BASE), v.get32(F::GUEST_IDTR_LIMIT)};
    fill_extended(sn, h.core().s);
    fill_memory(sn, h.m);
    return sn;
  }

  VmxHarness h;

 private:
  Segment field_segment(unsigned slot) {
    Segment s;
    s.selector = static_cast<uint16_t>(h.get(vx::field_plus(F::GUEST_ES_SELECTOR, slot)));
    s.base = h.get(vx::field_plus(F::GUEST_ES_BASE, slot));
    s.limit = static_cast<uint32_t>(h.get(vx::field_plus(F::GUEST_ES_LIMIT, slot)));
    s.ar = static_cast<uint32_t>(h.get(vx::field_plus(F::GUEST_ES_AR_BYTES, slot)));
    return s;
  }
  int exited() {
    if (h.core().vmx_nonroot() || !h.core().vmx().m_last_entry_failure.empty()) return -1;
    return static_cast<int>(h.exit_reason() & 0xffff);
  }
  bool m_ok = false;
};

void check_fault(const Case& c, unsigned k) {
  const Fault& f = c.faults[k];
  // The state before the instruction, as a VM exit saves it: the same start with VMCALL in place
  // of the instruction (the code bytes put back for the memory comparison).
  EptRig ref;
  ASSERT_TRUE(ref.ok());
  Start st = ref.start();
  c.setup(ref.h.m, st, k);
  uint8_t code[3];
  ref.h.m.read(kCode, code, 3);
  ref.h.m.write(kCode, {0x0f, 0x01, 0xc1});
  ref.apply(st);
  ASSERT_EQ(ref.launch(), static_cast<int>(vx::kExitVmcall)) << ref.h.core().vmx().m_last_entry_failure;
  ref.h.m.write(kCode, code, 3);
  Snapshot expected = ref.snapshot();
  if (c.progress) c.progress(expected, k);

  EptRig clean;
  ASSERT_TRUE(clean.ok());
  Start st2 = clean.start();
  c.setup(clean.h.m, st2, k);
  clean.apply(st2);
  ASSERT_EQ(clean.launch(), static_cast<int>(vx::kExitHlt)) << "without a violation";
  const Snapshot done = clean.snapshot();

  EptRig rig;
  ASSERT_TRUE(rig.ok());
  Start st3 = rig.start();
  c.setup(rig.h.m, st3, k);
  rig.apply(st3);
  rig.fault(f, true);
  ASSERT_EQ(rig.launch(), static_cast<int>(vx::kExitEptViolation)) << "the access did not exit";
  EXPECT_EQ(rig.h.field(F::GUEST_PHYSICAL_ADDRESS) & ~0xfffull, f.page);
  expect_same(expected, rig.snapshot(), "at the EPT violation");

  rig.fault(f, false);
  ASSERT_EQ(rig.resume(), static_cast<int>(vx::kExitHlt)) << "retry";
  expect_same(done, rig.snapshot(), "after the retry");
}

class RestartableEpt : public ::testing::TestWithParam<Case> {};

TEST_P(RestartableEpt, EachAccessExitsWithTheStateAsBeforeAndTheRetryCompletes) {
  const Case& c = GetParam();
  for (unsigned k = 0; k < c.faults.size(); ++k) {
    SCOPED_TRACE("violation " + std::to_string(k) + ": " + c.faults[k].what);
    check_fault(c, k);
  }
}

INSTANTIATE_TEST_SUITE_P(Mode64, RestartableEpt, ::testing::ValuesIn(cases_64bit()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return test_name(info.param.name);
                         });

}  // namespace
}  // namespace vmxsim::test::restart
