// Simulator-only checks of behaviour the host cannot show from user mode (segment registers,
// privilege rules of POPF, 32-bit-only instructions, faults and their atomicity) and of the
// Intel choices for SDM-undefined flags.
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test {
namespace {

using namespace vmxsim::cpu;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kCode = TestMachine::kFreeBase;
constexpr uint64_t kBuf = TestMachine::kFreeBase + 0x10000;
constexpr uint64_t CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
constexpr uint64_t kArith = CF | PF | AF | ZF | SF | OF;

class Machine64 : public ::testing::Test {
 protected:
  void SetUp() override { m.enter_long_mode(); }
  RunResult run(const Bytes& code) { return m.run_code(kCode, code); }
  uint64_t arith() { return m.rflags() & kArith; }
  TestMachine m;
};

class Machine32 : public Machine64 {
 protected:
  void SetUp() override { m.enter_protected_mode(); }
};

// --- RDPID ----------------------------------------------------------------------------------

TEST_F(Machine64, RdpidReadsTscAuxZeroExtendedAtAnyCpl) {
  m.state().tsc_aux = 0x12345678;
  m.gpr(kRax) = ~0ull;
  m.gpr(kRbx) = ~0ull;
  m.state().cr4 |= cr4::kTsd;  // RDPID ignores CR4.TSD, unlike RDTSC/RDTSCP
  RunResult r = run({0xf3, 0x0f, 0xc7, 0xf8, 0xf3, 0x0f, 0xc7, 0xfb});  // rdpid rax; rdpid rbx
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax), 0x12345678u);
  EXPECT_EQ(m.gpr(kRbx), 0x12345678u);
}

TEST_F(Machine32, RdpidWritesThe32BitRegister) {
  m.state().tsc_aux = 0xabcdef01;
  m.gpr(kRcx) = 0;
  RunResult r = run({0xf3, 0x0f, 0xc7, 0xf9});  // rdpid ecx
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRcx), 0xabcdef01u);
}

TEST(Rdpid, UndefinedWithoutTheFeature) {
  CoreParams p = TestMachine::default_params();
  p.features.rdpid = false;
  TestMachine m(16u << 20, p);
  m.enter_long_mode();
  RunResult r = m.run_code(kCode, {0xf3, 0x0f, 0xc7, 0xf8});
  EXPECT_EQ(r.exception, 6);
}

// --- machine-check banks --------------------------------------------------------------------

// The rules kvm-unit-tests' msr.flat checks (and KVM enforces): CTL all-or-nothing, STATUS only
// cleared, ADDR/MISC any value, banks beyond MCG_CAP.Count absent.
TEST(MachineCheckBanks, CtlAllOrNothingStatusClearedAddrMiscAnyValue) {
  TestMachine m;
  Core& c = m.core();
  uint64_t v = 0;
  ASSERT_TRUE(c.read_msr(0x179, v));
  const unsigned banks = v & 0xff;
  ASSERT_EQ(banks, 4u);
  const uint64_t noncanonical = 0xaaaaaaaaaaaaaaaaull;
  for (unsigned i = 0; i < banks; ++i) {
    const uint32_t base = 0x400 + 4 * i;
    EXPECT_TRUE(c.write_msr(base, ~0ull));
    EXPECT_TRUE(c.read_msr(base, v));
    EXPECT_EQ(v, ~0ull);
    EXPECT_TRUE(c.write_msr(base, 0));
    EXPECT_FALSE(c.write_msr(base, noncanonical)) << "CTL " << i;
    EXPECT_TRUE(c.write_msr(base + 1, 0));
    EXPECT_FALSE(c.write_msr(base + 1, 1)) << "STATUS " << i;
    for (uint32_t reg : {base + 2, base + 3}) {
      EXPECT_TRUE(c.write_msr(reg, noncanonical));
      EXPECT_TRUE(c.read_msr(reg, v));
      EXPECT_EQ(v, noncanonical);
    }
  }
  EXPECT_FALSE(c.read_msr(0x400 + 4 * banks, v));
  EXPECT_FALSE(c.write_msr(0x400 + 4 * banks + 2, 0));
}

// --- faults ---------------------------------------------------------------------------------

TEST_F(Machine64, DivideByZeroAndOverflowRaiseDe) {
  m.gpr(kRax) = 1234;
  m.gpr(kRdx) = 0;
  m.gpr(kRcx) = 0;
  RunResult r = run({0x48, 0xf7, 0xf1});  // div rcx
  EXPECT_EQ(r.exception, kDe);
  EXPECT_EQ(r.fault_rip, kCode);
  EXPECT_EQ(m.gpr(kRax), 1234u);

  m.gpr(kRax) = 0x8000000000000000ull;
  m.gpr(kRdx) = ~0ull;
  m.gpr(kRcx) = ~0ull;
  r = run({0x48, 0xf7, 0xf9});  // idiv rcx: INT64_MIN / -1
  EXPECT_EQ(r.exception, kDe);
  EXPECT_EQ(m.gpr(kRax), 0x8000000000000000ull);

  m.gpr(kRax) = 0x80;
  m.gpr(kRcx) = 0xff;
  r = run({0xf6, 0xf9});  // idiv cl: 128 / -1 = -128 fits in AL
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax) & 0xffff, 0x0080u);
  m.gpr(kRax) = 0xff80;
  r = run({0xf6, 0xf9});  // -128 / -1 with AX = -128
  EXPECT_EQ(r.exception, kDe);
  m.gpr(kRax) = 0xff81;
  r = run({0xf6, 0xf9});  // -127 / -1 = 127
  EXPECT_EQ(r.exception, -1);
  EXPECT_EQ(m.gpr(kRax) & 0xffff, 0x007fu);
}

TEST_F(Machine64, LockedRegisterDestinationIsUd) {
  EXPECT_EQ(run({0xf0, 0x01, 0xc8}).exception, kUd);        // lock add eax, ecx
  EXPECT_EQ(run({0xf0, 0x0f, 0xa3, 0x07}).exception, kUd);  // lock bt [rdi], eax
  EXPECT_EQ(run({0xf0, 0x89, 0x07}).exception, kUd);        // lock mov [rdi], eax
  m.gpr(kRdi) = kBuf;
  EXPECT_EQ(run({0xf0, 0x01, 0x0f}).exception, -1);         // lock add [rdi], ecx
}

TEST_F(Machine64, Cmpxchg16bNeedsAlignment) {
  m.gpr(kRdi) = kBuf + 8;
  RunResult r = run({0x48, 0x0f, 0xc7, 0x0f});
  EXPECT_EQ(r.exception, kGp);
  EXPECT_EQ(r.error_code, 0u);
  m.gpr(kRdi) = kBuf;
  EXPECT_EQ(run({0x48, 0x0f, 0xc7, 0x0f}).exception, -1);
}

TEST_F(Machine64, PopToFaultingMemoryKeepsRsp) {
  const uint64_t rsp = m.gpr(kRsp);
  m.gpr(kRax) = 0x8000000000000000ull;  // non-canonical
  RunResult r = run({0x8f, 0x00});       // pop qword [rax]
  EXPECT_EQ(r.exception, kGp);
  // The exception frame sits below the original rSP: rSP before delivery was unchanged.
  EXPECT_EQ(m.read<uint64_t>(m.gpr(kRsp) + 8 * 4), rsp + 0) << "saved RSP in the frame";
}

TEST_F(Machine64, EnterFaultRestoresRbpAndRsp) {
  const uint64_t rsp = m.gpr(kRsp);
  m.gpr(kRbp) = 0x0000800000000010ull;  // the nesting level reads [rbp - 8]: non-canonical, #SS
  RunResult r = run({0xc8, 0x10, 0x00, 0x02});  // enter 0x10, 2
  EXPECT_EQ(r.exception, kSsFault);
  EXPECT_EQ(m.gpr(kRbp), 0x0000800000000010ull);
  EXPECT_EQ(m.read<uint64_t>(m.gpr(kRsp) + 8 * 4), rsp) << "saved RSP in the frame";
}

// --- segment registers ---------------------------------------------------------------------------

TEST_F(Machine64, MovToAndFromSegmentRegisters) {
  m.gpr(kRax) = 0xffff0000ffff0010ull;
  RunResult r = run({0x8e, 0xd8});  // mov ds, ax
  ASSERT_EQ(r.exception, -1);
  EXPECT_EQ(m.state().seg[kDs].selector, 0x10);

  m.gpr(kRcx) = ~0ull;
  run({0x8c, 0xd9});  // mov ecx, ds: zero-extended
  EXPECT_EQ(m.gpr(kRcx), 0x10u);
  m.gpr(kRcx) = ~0ull;
  run({0x66, 0x8c, 0xd9});  // mov cx, ds: low 16 bits only
  EXPECT_EQ(m.gpr(kRcx), 0xffffffffffff0010ull);

  m.gpr(kRdi) = kBuf;
  m.write_value<uint64_t>(kBuf, ~0ull);
  run({0x48, 0x8c, 0x1f});  // mov [rdi], ds: always 16 bits
  EXPECT_EQ(m.read<uint64_t>(kBuf), 0xffffffffffff0010ull);

  EXPECT_EQ(run({0x8e, 0xc8}).exception, kUd);  // mov cs, ax

  m.gpr(kRax) = 0x48;  // beyond the GDT limit
  r = run({0x8e, 0xd8});
  EXPECT_EQ(r.exception, kGp);
  EXPECT_EQ(r.error_code, 0x48u);

  m.gpr(kRax) = 0x10;
  EXPECT_EQ(run({0x8e, 0xd0}).exception, -1);  // mov ss, ax
  EXPECT_EQ(m.state().seg[kSs].selector, 0x10);
}

TEST_F(Machine64, PushSegmentRegisterWritesSixteenBits) {
  m.state().seg[kFs].selector = 0x10;
  const uint64_t rsp = m.gpr(kRsp);
  m.write_value<uint64_t>(rsp - 8, ~0ull);
  run({0x0f, 0xa0});  // push fs
  EXPECT_EQ(m.gpr(kRsp), rsp - 8);
  EXPECT_EQ(m.read<uint64_t>(rsp - 8), 0xffffffffffff0010ull);
  run({0x66, 0x0f, 0xa0});  // push fs (16-bit)
  EXPECT_EQ(m.gpr(kRsp), rsp - 10);
  EXPECT_EQ(m.read<uint16_t>(rsp - 10), 0x10);

  m.write_value<uint64_t>(m.gpr(kRsp) - 8, 0x10);
  m.gpr(kRsp) -= 8;
  EXPECT_EQ(run({0x0f, 0xa9}).exception, -1);  // pop gs
  EXPECT_EQ(m.state().seg[kGs].selector, 0x10);
  EXPECT_EQ(m.gpr(kRsp), rsp - 10);
}

TEST_F(Machine32, PushPopSegmentsAndPopSs) {
  const uint64_t esp = m.gpr(kRsp);
  m.write_value<uint32_t>(esp - 4, 0xaaaaaaaa);
  m.gpr(kRax) = 0;
  // push ds; pop ss; push cs; pop eax
  ASSERT_EQ(run({0x1e, 0x17, 0x0e, 0x58}).exception, -1);
  EXPECT_EQ(m.gpr(kRsp), esp);
  EXPECT_EQ(m.state().seg[kSs].selector, TestMachine::kData);
  // A 32-bit push of a segment register writes only the selector (recent Intel processors).
  EXPECT_EQ(m.gpr(kRax), 0xaaaa0000u | TestMachine::kCode32);
  m.gpr(kRax) = TestMachine::kCode32;
  EXPECT_EQ(run({0x50, 0x17}).exception, kGp);  // push eax; pop ss with a code selector
  // POP SS faulted before moving ESP; the exception frame (EFLAGS, CS, EIP, error) is below.
  EXPECT_EQ(m.gpr(kRsp), esp - 4 - 16);
}

// --- 32-bit only instructions ----------------------------------------------------------------------

TEST_F(Machine32, PushadPopad) {
  const uint32_t regs[8] = {0x11111111, 0x22222222, 0x33333333, 0x44444444, 0, 0x66666666, 0x77777777, 0x88888888};
  for (unsigned r = 0; r < 8; ++r)
    if (r != kRsp) m.gpr(r) = regs[r];
  const uint64_t esp = m.gpr(kRsp);
  ASSERT_EQ(run({0x60}).exception, -1);  // pushad
  EXPECT_EQ(m.gpr(kRsp), esp - 32);
  for (unsigned r = 0; r < 8; ++r) {
    const uint32_t expect = r == kRsp ? static_cast<uint32_t>(esp) : regs[r];
    EXPECT_EQ(m.read<uint32_t>(esp - 4 - 4 * r), expect) << "slot " << r;
  }
  for (unsigned r = 0; r < 8; ++r)
    if (r != kRsp) m.gpr(r) = 0;
  m.write_value<uint32_t>(esp - 4 - 4 * kRsp, 0xdead);  // the stored ESP is skipped
  ASSERT_EQ(run({0x61}).exception, -1);  // popad
  EXPECT_EQ(m.gpr(kRsp), esp);
  for (unsigned r = 0; r < 8; ++r)
    if (r != kRsp) {
      EXPECT_EQ(m.gpr(r), regs[r]);
    }

  m.gpr(kRax) = 0xaaaabbbb;
  ASSERT_EQ(run({0x66, 0x60, 0x66, 0x61}).exception, -1);  // pusha; popa (16-bit)
  EXPECT_EQ(m.gpr(kRax), 0xaaaabbbbu);
  EXPECT_EQ(m.gpr(kRsp), esp);
}

struct BcdCase {
  const char* name;
  Bytes code;
  uint16_t ax_in;
  uint64_t flags_in;
  uint16_t ax_out;
  uint64_t flags_out;  // CF, AF, SF, ZF, PF (OF is 0 on Intel)
};

TEST_F(Machine32, DecimalAdjust) {
  const BcdCase cases[] = {
      // SDM examples: 79h + 35h = AEh, DAA -> 14h, CF=1, AF=1.
      {"daa", {0x27}, 0x00ae, 0, 0x0014, CF | AF},
      // 35h - 47h = EEh (CF=1, AF=1), DAS -> 88h, CF=1, AF=1.
      {"das", {0x2f}, 0x00ee, CF | AF, 0x0088, CF | AF | SF | PF},
      {"daa no adjust", {0x27}, 0x0045, 0, 0x0045, 0},
      {"daa low", {0x27}, 0x000b, 0, 0x0011, AF | PF},
      {"daa carry", {0x27}, 0x009a, 0, 0x0000, CF | AF | ZF | PF},
      {"das borrow", {0x2f}, 0x0003, AF, 0x00fd, CF | AF | SF},
      {"aaa", {0x37}, 0x0011, AF, 0x0107, CF | AF},
      {"aaa no adjust", {0x37}, 0x0235, 0, 0x0205, 0},
      {"aaa wrap", {0x37}, 0x00fb, 0, 0x0201, CF | AF},
      {"aas", {0x3f}, 0x01fd, CF | AF, 0x0007, CF | AF},
      {"aas no adjust", {0x3f}, 0x0506, 0, 0x0506, PF},
      {"aam", {0xd4, 0x0a}, 0x004f, 0, 0x0709, PF},
      {"aam 16", {0xd4, 0x10}, 0x00ab, 0, 0x0a0b, 0},
      {"aam zero", {0xd4, 0x0a}, 0x1230, CF | AF | OF, 0x0408, 0},
      {"aad", {0xd5, 0x0a}, 0x0709, 0, 0x004f, 0},
      {"aad 16", {0xd5, 0x10}, 0x0a0b, 0, 0x00ab, SF},
      {"aad zero", {0xd5, 0x0a}, 0x0000, CF | OF, 0x0000, ZF | PF},
  };
  for (const BcdCase& c : cases) {
    m.gpr(kRax) = 0x12340000u | c.ax_in;
    m.set_rflags(2 | c.flags_in);
    ASSERT_EQ(run(c.code).exception, -1) << c.name;
    EXPECT_EQ(m.gpr(kRax), 0x12340000u | c.ax_out) << c.name;
    const uint64_t expect_pf = __builtin_parity(c.ax_out & 0xff) ? 0 : PF;
    EXPECT_EQ(arith() & ~PF, c.flags_out & ~PF) << c.name;
    EXPECT_EQ(arith() & PF, expect_pf) << c.name << " (PF follows AL)";
  }
  m.gpr(kRax) = 0x55;
  EXPECT_EQ(run({0xd4, 0x00}).exception, kDe);  // aam 0
  EXPECT_EQ(m.gpr(kRax), 0x55u);
}

// --- PUSHF / POPF privilege rules ----------------------------------------------------------------

constexpr uint64_t kIf = 1u << 9, kIopl = 3u << 12, kNt = 1u << 14, kRf = 1u << 16, kVm = 1u << 17,
                   kAc = 1u << 18, kVif = 1u << 19, kVip = 1u << 20, kId = 1u << 21, kTf = 1u << 8;

TEST_F(Machine64, PopfAtCpl0ChangesIoplAndIfButNeverVmRfVifVip) {
  m.set_rflags(2);
  m.gpr(kRax) = kArith | kIf | kIopl | kNt | kRf | kVm | kAc | kVif | kVip | kId | 0x400 | (1ull << 40);
  ASSERT_EQ(run({0x50, 0x9d}).exception, -1);  // push rax; popfq
  EXPECT_EQ(m.rflags(), 2 | kArith | kIf | kIopl | kNt | kAc | kId | 0x400);
}

TEST_F(Machine64, PopfAtCpl3KeepsIoplAndIf) {
  m.state().seg[kCs] = {TestMachine::kCode64User, 0, 0xffffffff,
                        ar::kP | ar::kS | ar::kAccessed | (3u << ar::kDplShift) | ar::kCodeBit | ar::kCodeReadable | ar::kL | ar::kG};
  m.state().seg[kSs] = {TestMachine::kDataUser, 0, 0xffffffff,
                        ar::kP | ar::kS | ar::kAccessed | (3u << ar::kDplShift) | ar::kDataWritable | ar::kDb | ar::kG};
  m.set_cpl(3);
  m.set_rflags(2 | kIf);
  m.gpr(kRax) = kIopl | CF;  // try IOPL = 3, IF = 0
  ASSERT_EQ(run({0x50, 0x9d}).exception, -1);
  EXPECT_EQ(m.rflags(), 2 | kIf | CF);

  m.set_rflags(2 | kIopl);  // IOPL 3: IF may change, IOPL may not (CPL > 0)
  m.gpr(kRax) = kIf;
  ASSERT_EQ(run({0x50, 0x9d}).exception, -1);
  EXPECT_EQ(m.rflags(), 2 | kIf | kIopl);
}

TEST_F(Machine64, PushfClearsVmAndRf) {
  m.set_rflags(2 | kRf | CF | kAc);
  ASSERT_EQ(run({0x9c, 0x58}).exception, -1);  // pushfq; pop rax
  EXPECT_EQ(m.gpr(kRax), 2 | CF | kAc);
}

TEST(RealMode, PopfSixteenBitChangesAllLowFlags) {
  TestMachine m;
  m.enter_real_mode();
  m.set_rflags(2);
  m.gpr(kRax) = 0x7fd5 & ~kTf;  // IOPL, NT, IF, DF and the arithmetic flags
  ASSERT_EQ(m.run_code(0x8000, {0x50, 0x9d}).exception, -1);  // push ax; popf
  EXPECT_EQ(m.rflags() & 0xffff, (0x7fd5u & ~kTf) | 2);
}

TEST_F(Machine32, Virtual8086PushfPopfFaultWithLowIopl) {
  m.set_rflags(2 | kVm);  // virtual-8086 mode, IOPL 0
  m.state().seg[kCs].base = 0;
  m.state().seg[kSs].base = 0;
  m.gpr(kRsp) = 0x8000;
  EXPECT_EQ(m.run_code(0x7000, {0x9c}).exception, kGp);  // pushf
  m.set_rflags(2 | kVm);
  EXPECT_EQ(m.run_code(0x7000, {0x9d}).exception, kGp);  // popf
}

// --- Intel choices for SDM-undefined flags -----------------------------------------------------------

TEST_F(Machine64, IntelUndefinedFlags) {
  // MUL/IMUL: SF and PF from the low half, ZF = AF = 0.
  m.gpr(kRax) = 0xff;
  m.gpr(kRcx) = 0xff;
  m.set_rflags(2 | ZF | AF);
  run({0xf6, 0xe1});  // mul cl: AX = 0xfe01
  EXPECT_EQ(m.gpr(kRax) & 0xffff, 0xfe01u);
  EXPECT_EQ(arith(), CF | OF);
  m.gpr(kRax) = 0x80;
  m.gpr(kRcx) = 1;
  run({0xf6, 0xe1});
  EXPECT_EQ(arith(), SF);  // 0x80: SF, odd parity, no overflow

  // DIV/IDIV leave every flag alone.
  m.gpr(kRax) = 100;
  m.gpr(kRdx) = 0;
  m.gpr(kRcx) = 7;
  m.set_rflags(2 | CF | ZF | OF);
  run({0x48, 0xf7, 0xf1});
  EXPECT_EQ(arith(), CF | ZF | OF);

  // BSF of 0: ZF = PF = 1, others 0, destination kept.
  m.gpr(kRax) = 0x1234567890ull;
  m.gpr(kRcx) = 0;
  m.set_rflags(2 | CF | SF | OF | AF);
  run({0x0f, 0xbc, 0xc1});  // bsf eax, ecx
  EXPECT_EQ(m.gpr(kRax), 0x1234567890ull);
  EXPECT_EQ(arith(), ZF | PF);
  m.gpr(kRcx) = 0x80;
  run({0x0f, 0xbc, 0xc1});
  EXPECT_EQ(m.gpr(kRax), 7u);
  EXPECT_EQ(arith(), 0u);  // index 7 has odd parity

  // SHL by more than 1: OF from the first step (bit 31 ^ bit 30 of the input), AF = 0.
  m.gpr(kRax) = 0x40000000;
  m.gpr(kRcx) = 3;
  m.set_rflags(2 | AF);
  run({0xd3, 0xe0});
  EXPECT_EQ(m.gpr(kRax), 0u);
  EXPECT_EQ(arith(), OF | ZF | PF);

  // SHR by more than 1: OF = MSB of the input.
  m.gpr(kRax) = 0x80000000;
  run({0xd3, 0xe8});
  EXPECT_EQ(m.gpr(kRax), 0x10000000u);
  EXPECT_EQ(arith(), OF | PF);

  // RCR AL by 9 rotates through all nine bits: no change at all.
  m.gpr(kRax) = 0x5a;
  m.gpr(kRcx) = 9;
  m.set_rflags(2 | CF);
  run({0xd2, 0xd8});
  EXPECT_EQ(m.gpr(kRax), 0x5au);
  EXPECT_EQ(arith(), CF);

  // 16-bit SHLD with a count above 16 shifts dst:src:dst.
  m.gpr(kRax) = 0x1234;
  m.gpr(kRdx) = 0xabcd;
  m.gpr(kRcx) = 20;
  run({0x66, 0x0f, 0xa5, 0xd0});  // shld ax, dx, cl
  EXPECT_EQ(m.gpr(kRax), 0xbcd1u);
  // 16-bit SHRD with a count above 16.
  m.gpr(kRax) = 0x1234;
  run({0x66, 0x0f, 0xad, 0xd0});  // shrd ax, dx, cl
  EXPECT_EQ(m.gpr(kRax), 0x4abcu);
}

TEST_F(Machine64, XlatUsesAddressSize) {
  m.write_value<uint8_t>(kBuf + 0x80, 0x5c);
  m.gpr(kRbx) = kBuf;
  m.gpr(kRax) = 0xffffff80;
  ASSERT_EQ(run({0xd7}).exception, -1);
  EXPECT_EQ(m.gpr(kRax), 0xffffff5cu);
}

TEST_F(Machine64, CmovFalseZeroExtends32BitDestination) {
  m.gpr(kRax) = 0xffffffff12345678ull;
  m.set_rflags(2);          // ZF = 0
  run({0x0f, 0x44, 0xc1});  // cmovz eax, ecx
  EXPECT_EQ(m.gpr(kRax), 0x12345678u);
}

}  // namespace
}  // namespace vmxsim::test
