// VMX instructions in the wrong mode raise the architectural fault (SDM Vol. 3C chapter 31,
// each instruction's "Operation" pseudo-code), never a simulator crash:
//   VMXON: #UD for a register operand, CR0.PE = 0, CR4.VMXE = 0, RFLAGS.VM = 1 or compatibility
//     mode; outside VMX operation #GP(0) for CPL > 0, CR0/CR4 outside the fixed bits, or
//     IA32_FEATURE_CONTROL not locked / VMX outside SMX off; in VMX root operation #GP(0) at CPL > 0.
//   VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH, VMRESUME, INVEPT, INVVPID: #UD
//     outside VMX operation, with CR0.PE = 0, RFLAGS.VM = 1 or in compatibility mode; then
//     #GP(0) for CPL > 0.
//   VMCALL: #UD outside VMX operation; in VMX root operation #UD with RFLAGS.VM = 1 or in
//     compatibility mode, then #GP(0) for CPL > 0.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/cpu/test_machine.h"
#include "vmx_model/vmx_defs.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;

constexpr uint64_t kVmxonRegion = 0x200000;
constexpr uint64_t kVmcsRegion = 0x201000;
constexpr uint64_t kOperand = 0x202000;  // m64 pointer / m128 descriptor
constexpr uint64_t kCode = 0x110000;
constexpr uint64_t kCode16 = 0x8000;     // real mode and virtual-8086 code (CS base)

enum class Insn { kVmxon, kVmxoff, kVmclear, kVmptrld, kVmptrst, kVmread, kVmwrite, kVmlaunch,
                  kVmresume, kVmcall, kInvept, kInvvpid };
const char* name(Insn i) {
  static const char* const n[] = {"VMXON", "VMXOFF", "VMCLEAR", "VMPTRLD", "VMPTRST", "VMREAD",
                                  "VMWRITE", "VMLAUNCH", "VMRESUME", "VMCALL", "INVEPT", "INVVPID"};
  return n[static_cast<int>(i)];
}
const Insn kAll[] = {Insn::kVmxon, Insn::kVmxoff, Insn::kVmclear, Insn::kVmptrld, Insn::kVmptrst,
                     Insn::kVmread, Insn::kVmwrite, Insn::kVmlaunch, Insn::kVmresume, Insn::kVmcall,
                     Insn::kInvept, Insn::kInvvpid};

// Encodings with the memory operand at [rbx] / [ebx] / [bx] (ModRM r/m = 011 in 32/64-bit,
// 111 in 16-bit addressing); register operands RAX/RCX.
std::vector<uint8_t> encode(Insn i, bool addr16) {
  const uint8_t m6 = addr16 ? 0x37 : 0x33;  // mod 00, reg /6, r/m [rbx] or [bx]
  const uint8_t m7 = addr16 ? 0x3f : 0x3b;  // /7
  const uint8_t r0 = addr16 ? 0x07 : 0x03;  // reg rax, r/m [rbx] or [bx]
  switch (i) {
    case Insn::kVmxon: return {0xf3, 0x0f, 0xc7, m6};
    case Insn::kVmxoff: return {0x0f, 0x01, 0xc4};
    case Insn::kVmclear: return {0x66, 0x0f, 0xc7, m6};
    case Insn::kVmptrld: return {0x0f, 0xc7, m6};
    case Insn::kVmptrst: return {0x0f, 0xc7, m7};
    case Insn::kVmread: return {0x0f, 0x78, 0xc8};   // vmread rax, rcx
    case Insn::kVmwrite: return {0x0f, 0x79, 0xc8};  // vmwrite rcx, rax
    case Insn::kVmlaunch: return {0x0f, 0x01, 0xc2};
    case Insn::kVmresume: return {0x0f, 0x01, 0xc3};
    case Insn::kVmcall: return {0x0f, 0x01, 0xc1};
    case Insn::kInvept: return {0x66, 0x0f, 0x38, 0x80, r0};
    case Insn::kInvvpid: return {0x66, 0x0f, 0x38, 0x81, r0};
  }
  return {};
}

struct Expect {
  int vector;  // -1: no fault
  bool gp0() const { return vector == kGp; }
};

class VmxModes : public ::testing::Test {
 protected:
  VmxModes() : m(16u << 20) {}

  void SetUp() override {
    uint64_t basic = 0;
    ASSERT_TRUE(m.core().read_msr(vmx::msr::kVmxBasic, basic));
    m.write_value<uint32_t>(kVmxonRegion, static_cast<uint32_t>(basic & 0x7fffffff));
    m.write_value<uint32_t>(kVmcsRegion, static_cast<uint32_t>(basic & 0x7fffffff));
  }

  void lock_feature_control() {
    uint64_t fc = 0;
    ASSERT_TRUE(m.core().read_msr(vmx::msr::kFeatureControl, fc));
    if (fc & vmx::feature_control::kLock) return;  // locked until reset
    ASSERT_TRUE(m.core().write_msr(vmx::msr::kFeatureControl,
                                   vmx::feature_control::kLock | vmx::feature_control::kVmxOutsideSmx));
  }
  void set_vmxe(bool on) {
    if (on) m.state().cr4 |= cr4::kVmxe; else m.state().cr4 &= ~cr4::kVmxe;
    m.core().mode_changed();
  }
  // Runs one instruction (then HLT); RBX/EBX/BX points at the operand.
  RunResult exec(Insn i, bool addr16 = false) {
    m.write_value<uint64_t>(kOperand, kVmxonRegion);
    m.write_value<uint64_t>(kOperand + 8, 0);
    m.gpr(kRbx) = addr16 ? kOperand - kCode16 : kOperand;  // 16-bit: DS base = CS base below
    m.gpr(kRax) = 2;      // INVEPT/INVVPID type (all contexts); VMWRITE value
    m.gpr(kRcx) = 0x681e; // GUEST_RIP encoding
    const uint64_t at = addr16 ? kCode16 : kCode;
    return m.run_code(at, encode(i, addr16));
  }
  // TestMachine::run wakes a halted core with a reset, which leaves VMX operation: VMXON, the
  // mode switch and the instruction under test run in one go.
  // `to`: 0 stay in 64-bit mode at CPL 0, 1 compatibility mode (RETF to the 32-bit code
  // segment), 3 CPL 3 (IRETQ).
  RunResult vmxon_then(unsigned to, std::vector<uint8_t> tail) {
    lock_feature_control();
    m.enter_long_mode();
    set_vmxe(true);
    std::vector<uint8_t> code = {0xf3, 0x0f, 0xc7, 0x33};  // vmxon [rbx]
    auto imm32 = [&](uint32_t v) { for (int k = 0; k < 4; ++k) code.push_back(static_cast<uint8_t>(v >> (8 * k))); };
    if (to == 1) {
      code.insert(code.end(), {0x6a, 0x18, 0x68});  // push 0x18; push target
      imm32(static_cast<uint32_t>(kCode + code.size() + 4 + 2));
      code.insert(code.end(), {0x48, 0xcb});        // retfq
    } else if (to == 3) {
      code.insert(code.end(), {0x6a, 0x3b, 0x68});  // push ss; push rsp
      imm32(0xfe000);
      code.insert(code.end(), {0x6a, 0x02, 0x6a, 0x33, 0x68});  // push rflags; push cs; push rip
      imm32(static_cast<uint32_t>(kCode + code.size() + 4 + 2));
      code.insert(code.end(), {0x48, 0xcf});        // iretq
    }
    code.insert(code.end(), tail.begin(), tail.end());
    m.write_value<uint64_t>(kOperand, kVmxonRegion);
    m.gpr(kRbx) = kOperand;
    m.gpr(kRax) = 2;
    m.gpr(kRcx) = 0x681e;
    return m.run_code(kCode, code);
  }
  void vmxon_64() {
    lock_feature_control();
    set_vmxe(true);
    const RunResult r = exec(Insn::kVmxon);
    ASSERT_EQ(r.exception, -1);
    ASSERT_TRUE(m.core().vmx().in_vmx_operation());
  }
  void enter_compat_mode() {
    Segment cs = m.state().seg[kCs];
    cs.selector = TestMachine::kCode32;
    cs.ar = (cs.ar & ~ar::kL) | ar::kDb;
    m.state().seg[kCs] = cs;
    m.core().mode_changed();
  }
  void enter_v86() {
    for (unsigned s = 0; s < kNumSegs; ++s) {
      Segment& g = m.state().seg[s];
      g.selector = static_cast<uint16_t>(kCode16 >> 4);
      g.base = kCode16;
      g.limit = 0xffff;
      g.ar = 0xf3;
    }
    m.set_rflags(rflags::kFixed1 | rflags::kVm);
    m.core().mode_changed();
    m.set_cpl(3);
  }
  void check(Insn i, const RunResult& r, Expect e, const std::string& mode) {
    SCOPED_TRACE(std::string(name(i)) + " in " + mode);
    EXPECT_FALSE(r.triple_fault);
    EXPECT_EQ(r.exception, e.vector) << name(i) << " in " << mode << ": expected "
                                     << (e.vector == kUd ? "#UD" : e.vector == kGp ? "#GP(0)" : "no fault")
                                     << ", got vector " << r.exception << " at rip " << std::hex << r.fault_rip << " error " << r.error_code << std::dec;
    if (e.gp0() && r.exception == kGp) {
      EXPECT_EQ(r.error_code, 0u);
    }
  }

  TestMachine m;
};

TEST_F(VmxModes, RealModeAllUd) {
  lock_feature_control();
  for (Insn i : kAll) {
    m.enter_real_mode();
    m.state().cr4 |= cr4::kVmxe;  // CR4.VMXE can be set in real mode; CR0.PE = 0 still means #UD
    m.core().mode_changed();
    for (unsigned s : {kDs, kEs}) { m.state().seg[s].base = kCode16; m.state().seg[s].selector = kCode16 >> 4; }
    m.core().mode_changed();
    check(i, exec(i, true), {kUd}, "real mode");
  }
}

TEST_F(VmxModes, ProtectedMode32OutsideVmxOperation) {
  lock_feature_control();
  for (Insn i : kAll) {
    if (i == Insn::kVmxon) continue;
    m.enter_protected_mode(true);
    set_vmxe(true);
    check(i, exec(i), {kUd}, "32-bit protected mode before VMXON");
  }
  // VMXON itself is legal in 32-bit protected mode with paging ...
  m.enter_protected_mode(true);
  set_vmxe(true);
  RunResult r = exec(Insn::kVmxon);
  EXPECT_EQ(r.exception, -1);
  EXPECT_TRUE(m.core().vmx().in_vmx_operation());
}

TEST_F(VmxModes, VmxonWithoutPagingGp) {
  // ... but CR0.PG is fixed to 1 in VMX operation (IA32_VMX_CR0_FIXED0): #GP(0).
  lock_feature_control();
  m.enter_protected_mode(false);
  set_vmxe(true);
  check(Insn::kVmxon, exec(Insn::kVmxon), {kGp}, "32-bit protected mode without paging");
  EXPECT_FALSE(m.core().vmx().in_vmx_operation());
}

TEST_F(VmxModes, CompatibilityModeAllUd) {
  lock_feature_control();
  for (Insn i : kAll) {
    m.enter_long_mode();
    set_vmxe(true);
    enter_compat_mode();
    check(i, exec(i), {kUd}, "compatibility mode before VMXON");
  }
}

// VMXON in 64-bit mode, then RETFQ into the 32-bit code segment (compatibility mode), then the
// instruction under test.
TEST_F(VmxModes, CompatibilityModeInVmxRootAllUd) {
  for (Insn i : kAll) {
    check(i, vmxon_then(1, encode(i, false)), {kUd}, "compatibility mode in VMX root operation");
    EXPECT_TRUE(m.core().vmx().in_vmx_operation());
    // The #UD came from compatibility mode: its frame (no error code) holds the 32-bit CS.
    EXPECT_EQ(m.read<uint64_t>(m.gpr(kRsp) + 8), TestMachine::kCode32);
  }
}

TEST_F(VmxModes, Cpl3BeforeVmxon) {
  lock_feature_control();
  for (Insn i : kAll) {
    m.enter_long_mode();
    set_vmxe(true);
    Segment cs = m.state().seg[kCs];
    m.set_cpl(3);
    // VMXON checks CPL only after the #UD conditions: #GP(0); the others are #UD outside VMX
    // operation whatever the CPL.
    check(i, exec(i), {i == Insn::kVmxon ? kGp : kUd}, "64-bit mode at CPL 3 before VMXON");
    (void)cs;
  }
}

TEST_F(VmxModes, Cpl3InVmxRootAllGp) {
  for (Insn i : kAll) {
    check(i, vmxon_then(3, encode(i, false)), {kGp}, "64-bit mode at CPL 3 in VMX root operation");
    EXPECT_TRUE(m.core().vmx().in_vmx_operation());
  }
}

TEST_F(VmxModes, BeforeVmxonAllUdButVmxon) {
  lock_feature_control();
  for (Insn i : kAll) {
    if (i == Insn::kVmxon) continue;
    m.enter_long_mode();
    set_vmxe(true);
    check(i, exec(i), {kUd}, "64-bit mode at CPL 0 before VMXON");
  }
}

TEST_F(VmxModes, Cr4VmxeClearAllUd) {
  lock_feature_control();
  for (Insn i : kAll) {
    m.enter_long_mode();
    set_vmxe(false);
    check(i, exec(i), {kUd}, "64-bit mode with CR4.VMXE = 0");
  }
}

TEST_F(VmxModes, VmxonFeatureControlUnlockedGp) {
  m.enter_long_mode();
  set_vmxe(true);
  check(Insn::kVmxon, exec(Insn::kVmxon), {kGp}, "64-bit mode with IA32_FEATURE_CONTROL unlocked");
}

TEST_F(VmxModes, VmxonFeatureControlVmxOffGp) {
  ASSERT_TRUE(m.core().write_msr(vmx::msr::kFeatureControl, vmx::feature_control::kLock));
  m.enter_long_mode();
  set_vmxe(true);
  check(Insn::kVmxon, exec(Insn::kVmxon), {kGp}, "64-bit mode with VMX outside SMX disabled");
}

TEST_F(VmxModes, Virtual8086ModeInVmxRootAllUd) {
  // VMXON in 32-bit protected mode with paging, then IRETD into virtual-8086 mode at 0800:0000.
  for (Insn i : kAll) {
    lock_feature_control();
    m.enter_protected_mode(true);
    set_vmxe(true);
    std::vector<uint8_t> code = {0xf3, 0x0f, 0xc7, 0x33};  // vmxon [ebx]
    auto push = [&](uint32_t v) {
      code.push_back(0x68);
      for (int k = 0; k < 4; ++k) code.push_back(static_cast<uint8_t>(v >> (8 * k)));
    };
    const uint32_t seg = kCode16 >> 4;
    for (int k = 0; k < 5; ++k) push(seg);  // GS, FS, DS, ES, SS
    push(0xfff0);                             // ESP
    push(rflags::kFixed1 | rflags::kVm);      // EFLAGS
    push(seg);                                // CS
    push(0);                                  // EIP
    code.push_back(0xcf);                     // iretd
    std::vector<uint8_t> v86 = encode(i, true);
    v86.push_back(0xf4);
    m.write(kCode16, v86);
    m.write_value<uint64_t>(kOperand, kVmxonRegion);
    m.gpr(kRbx) = kOperand;
    m.gpr(kRax) = 2;
    m.gpr(kRcx) = 0x681e;
    const RunResult r = m.run_code(kCode, code);
    check(i, r, {kUd}, "virtual-8086 mode in VMX root operation");
    EXPECT_TRUE(m.core().vmx().in_vmx_operation());
    EXPECT_EQ(r.fault_rip, 0u);  // the fault is at the instruction, in virtual-8086 mode
  }
}

TEST_F(VmxModes, ClearingCr4VmxeInVmxOperationGp) {
  // MOV to CR4 that clears VMXE in VMX operation: #GP(0) (SDM §24.8, IA32_VMX_CR4_FIXED0).
  const RunResult r = vmxon_then(0, {0x0f, 0x20, 0xe0,                     // mov rax, cr4
                                     0x48, 0x25, 0xff, 0xdf, 0xff, 0xff,   // and rax, ~0x2000
                                     0x0f, 0x22, 0xe0});                   // mov cr4, rax
  EXPECT_EQ(r.exception, kGp);
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_TRUE(m.state().cr4 & cr4::kVmxe);
}

TEST_F(VmxModes, VmxonInVmxRootAtCpl0FailsInvalid) {
  // VMXON in VMX root operation at CPL 0: VMfail (VMfailInvalid without a current VMCS), no fault.
  const RunResult r = vmxon_then(0, encode(Insn::kVmxon, false));
  EXPECT_EQ(r.exception, -1);
  EXPECT_TRUE(m.core().vmx().in_vmx_operation());
  EXPECT_TRUE(m.rflags() & rflags::kCf);
}

}  // namespace
}  // namespace vmxsim::test
