// Helpers shared by the restartable-instruction cases and rigs (restartable.h).
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>

#include "tests/unit/cpu/restartable.h"

namespace vmxsim::test::restart {

using namespace vmxsim::cpu;

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

namespace {
Bytes little_endian(uint64_t v, unsigned n) {
  Bytes b;
  for (unsigned i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return b;
}
}  // namespace

Bytes imm16(uint64_t v) { return little_endian(v, 2); }
Bytes imm32(uint64_t v) { return little_endian(v, 4); }
Bytes imm64(uint64_t v) { return little_endian(v, 8); }

void write_gdt(TestMachine& m) {
  std::vector<uint64_t> gdt(kGdtLimit / 8 + 1, 0);
  m.read(TestMachine::kGdt, gdt.data(), 8 * 8);  // TestMachine's descriptors, accessed bits set
  auto at = [&](uint16_t sel) -> uint64_t& { return gdt[(sel & 0xfff8) / 8]; };
  at(kCode64Sel) = 0x00af9b000000ffffull;
  at(kCode64UserSel) = 0x00affb000000ffffull;
  at(kCode32Sel) = 0x00cf9b000000ffffull;
  at(kCode32UserSel) = 0x00cffb000000ffffull;
  at(kDataSel) = 0x00cf93000000ffffull;
  at(kDataUserSel) = 0x00cff3000000ffffull;
  at(kDataFreshSel) = 0x00cf92000000ffffull;
  at(kDataUserFreshSel) = 0x00cff2000000ffffull;
  m.write(kGdt, gdt.data(), gdt.size() * 8);
}

Segment flat_segment(uint16_t sel, bool code, unsigned dpl, bool l, bool db) {
  Segment s;
  s.selector = sel;
  s.base = 0;
  s.limit = 0xffffffff;
  s.ar = ar::kP | ar::kS | ar::kAccessed | ar::kG | (dpl << ar::kDplShift) |
         (code ? (ar::kCodeBit | ar::kCodeReadable) : ar::kDataWritable) | (l ? ar::kL : 0) |
         (db ? ar::kDb : 0);
  return s;
}

void to_user64(Start& st) {
  st.seg[kCs] = flat_segment(TestMachine::kCode64User, true, 3, true, false);
  st.seg[kSs] = flat_segment(TestMachine::kDataUser, false, 3, false, true);
  st.cpl = 3;
}

void to_user32(Start& st) {
  st.seg[kCs] = flat_segment(kCode32UserSel, true, 3, false, true);
  for (unsigned r : {kSs, cpu::kDs, kEs, kFs, kGs})
    st.seg[r] = flat_segment(kDataUserSel, false, 3, false, true);
  st.cpl = 3;
}

const std::vector<MemRange>& compared_memory() {
  static const std::vector<MemRange> ranges = {
      {kRegion, kRegionEnd},
      {TestMachine::kRing0StackTop - kPage, TestMachine::kRing0StackTop},
      {TestMachine::kDefaultStackTop - kPage, TestMachine::kDefaultStackTop},
  };
  return ranges;
}

uint8_t* Snapshot::at(uint64_t addr) {
  size_t off = 0;
  for (const MemRange& r : compared_memory()) {
    if (addr >= r.begin && addr < r.end) return &mem[off + (addr - r.begin)];
    off += r.end - r.begin;
  }
  ADD_FAILURE() << "address " << std::hex << addr << " is not in a compared range";
  static uint8_t dummy;
  return &dummy;
}

void fill_memory(Snapshot& snap, const TestMachine& m) {
  snap.mem.clear();
  for (const MemRange& r : compared_memory()) {
    const size_t off = snap.mem.size();
    snap.mem.resize(off + (r.end - r.begin));
    m.read(r.begin, snap.mem.data() + off, r.end - r.begin);
  }
}

void fill_extended(Snapshot& snap, const CpuState& s) {
  std::memcpy(snap.xmm, s.xmm, sizeof snap.xmm);
  std::memcpy(snap.x87, s.x87, sizeof snap.x87);
  snap.mxcsr = s.mxcsr;
  snap.fpu_cw = s.fpu_cw;
  snap.fpu_sw = s.fpu_sw;
  snap.fpu_tw = s.fpu_tw;
}

namespace {
const char* const kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
const char* const kSegNames[kNumSegs] = {"es", "cs", "ss", "ds", "fs", "gs"};
}  // namespace

void expect_same(const Snapshot& want, const Snapshot& got, const std::string& when) {
  SCOPED_TRACE(when);
  for (unsigned r = 0; r < 16; ++r) EXPECT_EQ(got.gpr[r], want.gpr[r]) << kGprNames[r];
  EXPECT_EQ(got.rip, want.rip) << "rip";
  EXPECT_EQ(got.rflags, want.rflags) << "rflags";
  EXPECT_EQ(got.cpl, want.cpl) << "cpl";
  for (unsigned i = 0; i < kNumSegs; ++i) {
    EXPECT_EQ(got.seg[i].selector, want.seg[i].selector) << kSegNames[i] << " selector";
    EXPECT_EQ(got.seg[i].base, want.seg[i].base) << kSegNames[i] << " base";
    EXPECT_EQ(got.seg[i].limit, want.seg[i].limit) << kSegNames[i] << " limit";
    EXPECT_EQ(got.seg[i].ar, want.seg[i].ar) << kSegNames[i] << " access rights";
  }
  EXPECT_EQ(got.gdtr.base, want.gdtr.base) << "gdtr base";
  EXPECT_EQ(got.gdtr.limit, want.gdtr.limit) << "gdtr limit";
  EXPECT_EQ(got.idtr.base, want.idtr.base) << "idtr base";
  EXPECT_EQ(got.idtr.limit, want.idtr.limit) << "idtr limit";
  EXPECT_EQ(std::memcmp(got.xmm, want.xmm, sizeof got.xmm), 0) << "xmm registers";
  EXPECT_EQ(std::memcmp(got.x87, want.x87, sizeof got.x87), 0) << "x87 registers";
  EXPECT_EQ(got.mxcsr, want.mxcsr) << "mxcsr";
  EXPECT_EQ(got.fpu_cw, want.fpu_cw) << "x87 control word";
  EXPECT_EQ(got.fpu_sw, want.fpu_sw) << "x87 status word";
  EXPECT_EQ(got.fpu_tw, want.fpu_tw) << "x87 tag word";
  ASSERT_EQ(got.mem.size(), want.mem.size());
  size_t off = 0;
  for (const MemRange& r : compared_memory()) {
    for (uint64_t a = r.begin; a < r.end; ++a, ++off) {
      if (got.mem[off] != want.mem[off]) {
        ADD_FAILURE() << "memory differs at " << std::hex << a << ": " << unsigned{got.mem[off]}
                      << ", expected " << unsigned{want.mem[off]};
        return;
      }
    }
  }
}

std::string test_name(const std::string& s) {
  std::string r;
  bool up = true;
  for (char ch : s) {
    if (std::isalnum(static_cast<unsigned char>(ch))) {
      r += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
      up = false;
    } else {
      up = true;
    }
  }
  return r;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

}  // namespace vmxsim::test::restart
