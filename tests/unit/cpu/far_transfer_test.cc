// Far transfers between 64-bit mode and compatibility mode (SDM Vol. 2 "RET", "JMP"): with a
// 64-bit operand size (REX.W) into a 32-bit code segment, the new EIP keeps 32 bits. (A RETFQ
// once kept only 16, which sent the VMX mode tests into the GDT.)
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kCode = 0x110000;  // above 64 KiB: a 16-bit IP would lose bit 20

void imm32(Bytes& b, uint32_t v) {
  for (int k = 0; k < 4; ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k)));
}

class FarTransfer : public ::testing::Test {
 protected:
  void SetUp() override { m.enter_long_mode(); }
  TestMachine m;
};

TEST_F(FarTransfer, RetfqIntoCompatibilityModeKeeps32BitEip) {
  Bytes code = {0x6a, static_cast<uint8_t>(TestMachine::kCode32), 0x68};  // push CS; push EIP
  imm32(code, static_cast<uint32_t>(kCode + code.size() + 4 + 2));
  code.insert(code.end(), {0x48, 0xcb});        // retfq
  code.insert(code.end(), {0xb8, 0x2a, 0, 0, 0});  // mov eax, 42 (in compatibility mode)
  m.gpr(kRax) = 0;
  const RunResult r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax), 42u);
  EXPECT_EQ(m.state().seg[kCs].selector, TestMachine::kCode32);
  EXPECT_FALSE(m.core().in_64bit_mode());
  EXPECT_EQ(m.state().rip, kCode + code.size() + 1);  // after the final HLT
}

TEST_F(FarTransfer, JmpFarM16_64IntoCompatibilityModeKeeps32BitEip) {
  constexpr uint64_t kPtr = 0x120000;
  Bytes code = {0x48, 0xff, 0x2c, 0x25};  // jmp far qword [kPtr] (REX.W FF /5, m16:64)
  imm32(code, static_cast<uint32_t>(kPtr));
  const uint64_t target = kCode + code.size();
  code.insert(code.end(), {0xb8, 0x2a, 0, 0, 0});  // mov eax, 42
  m.write_value<uint64_t>(kPtr, target);
  m.write_value<uint16_t>(kPtr + 8, TestMachine::kCode32);
  m.gpr(kRax) = 0;
  const RunResult r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax), 42u);
  EXPECT_FALSE(m.core().in_64bit_mode());
}

}  // namespace
}  // namespace vmxsim::test
