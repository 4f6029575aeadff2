// Debug registers and debug exceptions (SDM Vol. 3 Chapter 17): instruction breakpoints (fault,
// RF), data breakpoints (trap), general detect, single-step and its MOV SS deferral. The
// exception stubs halt, so a #DB shows as exception 1 with the frame on the stack.
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kCode = TestMachine::kFreeBase;
constexpr uint64_t kBuf = TestMachine::kFreeBase + 0x10000;
constexpr uint64_t kRf = rflags::kRf, kTf = rflags::kTf;

void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
Bytes mov_rax_imm64(uint64_t v) {
  Bytes b = {0x48, 0xb8};
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return b;
}
// mov DRn, rax / mov rax, DRn
Bytes mov_dr_rax(unsigned n) { return {0x0f, 0x23, static_cast<uint8_t>(0xc0 | (n << 3))}; }
Bytes mov_rax_dr(unsigned n) { return {0x0f, 0x21, static_cast<uint8_t>(0xc0 | (n << 3))}; }
// Loads DRn (n < 4) with `addr` and DR7 with `dr7`.
Bytes arm(unsigned n, uint64_t addr, uint64_t dr7) {
  Bytes b = mov_rax_imm64(addr);
  append(b, mov_dr_rax(n));
  append(b, mov_rax_imm64(dr7));
  append(b, mov_dr_rax(7));
  return b;
}

class DebugRegs : public ::testing::Test {
 protected:
  void SetUp() override { m.enter_long_mode(); }
  // RFLAGS saved in the 64-bit exception frame (no error code) of the halted stub.
  uint64_t frame_rflags() { return m.read<uint64_t>(m.gpr(kRsp) + 16); }
  TestMachine m;
};

TEST_F(DebugRegs, InstructionBreakpointFaultsAndRfSuppressesIt) {
  Bytes code = arm(0, 0, 0x402);  // G0, R/W0 = 00 (execute), LEN0 = 00; address patched below
  code.push_back(0x90);           // nop
  const uint64_t target = kCode + code.size();
  append(code, {0x48, 0xff, 0xc1});  // target: inc rcx
  const Bytes fixed = arm(0, target, 0x402);
  std::copy(fixed.begin(), fixed.end(), code.begin());

  m.gpr(kRcx) = 0;
  RunResult r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, target);        // fault: before the instruction
  EXPECT_EQ(m.gpr(kRcx), 0u);            // ... which did not execute
  EXPECT_EQ(m.state().dr[6], 0xffff0ff1u);  // B0
  EXPECT_EQ(frame_rflags() & kRf, 0u);   // the instruction-breakpoint frame has RF clear

  // Resuming without RF faults again; with RF the instruction runs once and RF is cleared.
  r = m.run(target);
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, target);
  m.set_rflags(m.rflags() | kRf);
  r = m.run(target);
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRcx), 1u);
  EXPECT_EQ(m.rflags() & kRf, 0u);

  // Disabled in DR7 (only the address left in DR0): no #DB.
  code = mov_rax_imm64(0x400);
  append(code, mov_dr_rax(7));
  const uint64_t target2 = kCode + code.size();
  append(code, {0x48, 0xff, 0xc1});
  m.state().dr[0] = target2;
  r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRcx), 2u);
}

TEST_F(DebugRegs, DataWriteBreakpointTrapsAfterTheInstruction) {
  // DR1 = kBuf+4, 4 bytes, writes only: G1 | R/W1 = 01 | LEN1 = 11.
  m.gpr(kRbx) = kBuf + 6;
  Bytes code = {0x89, 0x83, 0x00, 0x01, 0x00, 0x00};  // mov [rbx+0x100], eax (page in the TLB)
  append(code, arm(1, kBuf + 4, 0x00d00408));
  append(code, {0x8b, 0x03});                                // mov eax, [rbx]: read, no trap
  append(code, {0xc7, 0x43, 0x02, 0x07, 0x00, 0x00, 0x00});  // mov dword [rbx+2], 7: no overlap
  append(code, {0xc7, 0x03, 0x2a, 0x00, 0x00, 0x00});        // mov dword [rbx], 42: overlaps
  const uint64_t after = kCode + code.size();
  append(code, {0x48, 0xff, 0xc1});  // inc rcx
  m.gpr(kRcx) = 0;
  RunResult r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, after);  // trap: after the store
  EXPECT_EQ(m.read<uint32_t>(kBuf + 6), 42u);
  EXPECT_EQ(m.gpr(kRcx), 0u);
  EXPECT_EQ(m.state().dr[6], 0xffff0ff2u);  // B1 only

  // Read/write breakpoint (R/W1 = 11) on a 2-byte range: a 1-byte read of its second byte.
  code = arm(1, kBuf + 0x22, 0x00700408);
  append(code, {0x8a, 0x43, 0x1d});  // mov al, [rbx+0x1d] = kBuf+0x23
  const uint64_t after2 = kCode + code.size();
  append(code, {0x90});
  r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, after2);
  EXPECT_EQ(m.state().dr[6], 0xffff0ff2u);
}

TEST_F(DebugRegs, RepStringTrapsAfterTheIterationThatHit) {
  // DR2 = kBuf+4, 1 byte, writes: G2 | R/W2 = 01.
  Bytes code = arm(2, kBuf + 4, 0x01000420);
  append(code, {0xb0, 0x5a});  // mov al, 0x5a
  const uint64_t rep = kCode + code.size();
  append(code, {0xf3, 0xaa});  // rep stosb
  m.gpr(kRdi) = kBuf;
  m.gpr(kRcx) = 16;
  RunResult r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, rep);  // count not exhausted: RIP stays at the instruction
  EXPECT_EQ(m.gpr(kRcx), 11u);
  EXPECT_EQ(m.gpr(kRdi), kBuf + 5);
  EXPECT_EQ(m.read<uint8_t>(kBuf + 4), 0x5au);
  EXPECT_EQ(m.read<uint8_t>(kBuf + 5), 0u);
  EXPECT_EQ(m.state().dr[6], 0xffff0ff4u);
  // Resuming completes the rest without another hit.
  r = m.run(rep);
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRcx), 0u);
  EXPECT_EQ(m.read<uint8_t>(kBuf + 15), 0x5au);
}

TEST_F(DebugRegs, GeneralDetectFaultsOnMovDr) {
  Bytes code = mov_rax_imm64(0x2400);  // DR7.GD
  append(code, mov_dr_rax(7));
  const uint64_t access = kCode + code.size();
  append(code, mov_rax_dr(6));
  RunResult r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, access);       // fault: the MOV DR did not execute
  EXPECT_EQ(m.state().dr[6], 0xffff2ff0u);  // BD
  EXPECT_EQ(m.state().dr[7], 0x400u);   // GD cleared on delivery
  EXPECT_NE(frame_rflags() & kRf, 0u);  // an ordinary fault frame: RF set
  // With GD clear the access succeeds.
  r = m.run(access);
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax), 0xffff2ff0u);
}

TEST_F(DebugRegs, SingleStepIsDeferredPastMovSs) {
  // Without MOV SS: the trap follows the first instruction.
  m.set_rflags(m.rflags() | kTf);
  RunResult r = m.run_code(kCode, {0x90, 0x90});
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, kCode + 1);
  EXPECT_EQ(m.state().dr[6], 0xffff4ff0u);  // BS

  // MOV SS defers it to after the next instruction: one #DB, after the NOP.
  m.state().dr[6] = 0xffff0ff0;
  m.gpr(kRax) = TestMachine::kData;
  m.set_rflags((m.rflags() | kTf) & ~kRf);
  r = m.run_code(kCode, {0x8e, 0xd0, 0x90, 0x90});  // mov ss, ax; nop; nop
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, kCode + 3);
  EXPECT_EQ(m.state().dr[6], 0xffff4ff0u);
}

TEST_F(DebugRegs, DataBreakpointOnMovSsIsDeferredToo) {
  // DR0 = kBuf, 2 bytes, reads and writes; MOV SS reads the selector from there.
  m.write_value<uint16_t>(kBuf, TestMachine::kData);
  m.gpr(kRbx) = kBuf;
  Bytes code = arm(0, kBuf, 0x00070402);  // G0 | R/W0 = 11 | LEN0 = 01
  const uint64_t movss = kCode + code.size();
  append(code, {0x8e, 0x13, 0x90, 0x90});  // mov ss, [rbx]; nop; nop
  RunResult r = m.run_code(kCode, code);
  EXPECT_EQ(r.exception, kDb);
  EXPECT_EQ(r.fault_rip, movss + 3);  // after the NOP that follows MOV SS
  EXPECT_EQ(m.state().dr[6], 0xffff0ff1u);
}

}  // namespace
}  // namespace vmxsim::test
