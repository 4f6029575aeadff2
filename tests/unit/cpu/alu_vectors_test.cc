// Differential tests of the integer instruction groups: each instruction form runs natively on
// the host CPU and in the simulator from the same inputs, at every operand width, over edge-case
// and random operands; results, the six arithmetic flags and DF must agree (see diff_harness.h
// for how flags the SDM leaves undefined are handled on non-Intel hosts).
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/cpu/diff_harness.h"

namespace vmxsim::test {
namespace {

using Bytes = std::vector<uint8_t>;
using namespace fl;

// Instruction bytes for operand width w: [66] legacy [REX.W] opcode tail.
Bytes enc(unsigned w, const Bytes& legacy, const Bytes& opcode, const Bytes& tail) {
  Bytes b;
  if (w == 2) b.push_back(0x66);
  b.insert(b.end(), legacy.begin(), legacy.end());
  if (w == 8) b.push_back(0x48);
  b.insert(b.end(), opcode.begin(), opcode.end());
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

void put_imm(Bytes& b, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put_mem(DiffCase& c, uint64_t addr, uint64_t v, unsigned w) {
  c.data.resize(kDataWinSize, 0);
  for (unsigned i = 0; i < w; ++i) c.data[addr - kDataWin + i] = static_cast<uint8_t>(v >> (8 * i));
}

// opcode modrm disp32 with the displacement reaching `target` from kSnippet.
Bytes rip_rel(Bytes b, uint64_t target) {
  const uint64_t next = HostRunner::kSnippet + b.size() + 4;
  put_imm(b, target - next, 4);
  return b;
}

// opcode followed by an absolute address of `n` bytes (MOV moffs forms).
Bytes moffs(Bytes b, uint64_t addr, unsigned n) {
  put_imm(b, addr, n);
  return b;
}

const char* wname(unsigned w) { return w == 1 ? "8" : w == 2 ? "16" : w == 4 ? "32" : "64"; }

class AluVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!diff_runner().available()) GTEST_SKIP() << "host runner: fixed mappings unavailable";
    diff_runner().reset_tally();
  }
  void TearDown() override {
    if (!diff_runner().available()) return;
    const auto& t = diff_runner().tally();
    if (t.failures > m_printed)
      ADD_FAILURE() << t.failures << " of " << t.cases << " cases differ (" << m_printed << " shown)";
    RecordProperty("cases", static_cast<int>(t.cases));
    RecordProperty("undefined_flag_differences", static_cast<int>(t.undefined_mismatches));
    if (t.undefined_mismatches)
      std::printf("[ info     ] %u of %u cases differ only in SDM-undefined flags (host %s)\n",
                  t.undefined_mismatches, t.cases, diff_runner().host().vendor.c_str());
  }

  void check(const std::string& name, const Bytes& code, const DiffCase& c, const DiffOptions& o = {}) {
    const auto r = diff_runner().check(name, code, c, o);
    if (!r && m_printed < 6) {
      ++m_printed;
      ADD_FAILURE() << r.message();
    }
  }

  HostState base() { return base_state(rng); }

  // Operand values: the edge cases of width w plus `extra` random ones, each with random bits
  // above the operand width (they must be preserved, or zeroed for 32-bit destinations).
  std::vector<uint64_t> values(unsigned w, unsigned extra) {
    std::vector<uint64_t> v = edge_values(w);
    for (unsigned i = 0; i < extra; ++i) v.push_back(rng() & width_mask(w));
    return v;
  }
  uint64_t garbage(uint64_t v, unsigned w) { return v | (rng() & ~width_mask(w)); }

  std::mt19937_64 rng{0x5eed1234};
  unsigned m_printed = 0;
};

// --- ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST ------------------------------------------------

struct BinOp {
  const char* name;
  uint8_t base;   // opcode of the Eb,Gb form; +1 Ev,Gv; +2 Gb,Eb; +3 Gv,Ev; +4 AL,Ib; +5 rAX,Iz
  uint8_t digit;  // /digit in 80/81/83
  uint64_t undefined;
};
const BinOp kBinOps[] = {
    {"add", 0x00, 0, 0}, {"or", 0x08, 1, AF},  {"adc", 0x10, 2, 0}, {"sbb", 0x18, 3, 0},
    {"and", 0x20, 4, AF}, {"sub", 0x28, 5, 0}, {"xor", 0x30, 6, AF}, {"cmp", 0x38, 7, 0},
};

TEST_F(AluVectors, BinaryRegReg) {
  for (const BinOp& op : kBinOps)
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const uint8_t opc = static_cast<uint8_t>(op.base + (w == 1 ? 0 : 1));
      const Bytes ev_gv = enc(w, {}, {opc}, {0xc8});                              // op rAX, rCX
      const Bytes gv_ev = enc(w, {}, {static_cast<uint8_t>(opc + 2)}, {0xc1});    // op rAX, rCX
      const std::string name = std::string(op.name) + wname(w);
      for (uint64_t a : values(w, 6))
        for (uint64_t b : values(w, 6))
          for (uint64_t f : {uint64_t{0}, kArith}) {
            DiffCase c{base()};
            c.in.gpr[RAX] = garbage(a, w);
            c.in.gpr[RCX] = garbage(b, w);
            c.in.rflags = f;
            check(name + " Ev,Gv", ev_gv, c, {op.undefined});
            if ((a ^ b) & 1) check(name + " Gv,Ev", gv_ev, c, {op.undefined});
          }
    }
}

TEST_F(AluVectors, BinaryHighByteRegisters) {
  for (const BinOp& op : kBinOps) {
    const Bytes code = {op.base, 0xec};  // op ah, ch
    for (uint64_t a : values(1, 8))
      for (uint64_t b : values(1, 8)) {
        DiffCase c{base()};
        c.in.gpr[RAX] = (rng() & ~0xff00ull) | (a << 8);
        c.in.gpr[RCX] = (rng() & ~0xff00ull) | (b << 8);
        c.in.rflags = rng() & kArith;
        check(std::string(op.name) + " ah,ch", code, c, {op.undefined});
      }
  }
}

TEST_F(AluVectors, BinaryMemory) {
  for (const BinOp& op : kBinOps)
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const uint8_t opc = static_cast<uint8_t>(op.base + (w == 1 ? 0 : 1));
      const Bytes mem_reg = enc(w, {}, {opc}, {0x0f});                              // op [rdi], rCX
      const Bytes reg_mem = enc(w, {}, {static_cast<uint8_t>(opc + 2)}, {0x0f});    // op rCX, [rdi]
      const Bytes locked = [&] { Bytes b = mem_reg; b.insert(b.begin(), 0xf0); return b; }();
      const std::string name = std::string(op.name) + wname(w);
      for (int i = 0; i < 150; ++i) {
        const auto vs = edge_values(w);
        const uint64_t a = i < 40 ? vs[i % vs.size()] : rng() & width_mask(w);
        const uint64_t b = i < 40 ? vs[(i * 7 + 3) % vs.size()] : rng() & width_mask(w);
        DiffCase c{base()};
        put_mem(c, c.in.gpr[RDI], garbage(a, w) & width_mask(w), w);
        c.data[c.in.gpr[RDI] - kDataWin + w] = 0xa5;  // a neighbour that must survive
        c.in.gpr[RCX] = garbage(b, w);
        c.in.rflags = rng() & kArith;
        check(name + " [rdi],rcx", mem_reg, c, {op.undefined});
        check(name + " rcx,[rdi]", reg_mem, c, {op.undefined});
        if (op.base != 0x38) check("lock " + name + " [rdi],rcx", locked, c, {op.undefined});
      }
    }
}

TEST_F(AluVectors, BinaryImmediate) {
  for (const BinOp& op : kBinOps)
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const std::string name = std::string(op.name) + wname(w);
      const unsigned immw = w == 1 ? 1 : w == 2 ? 2 : 4;
      for (uint64_t imm : {uint64_t{0}, uint64_t{1}, uint64_t{0x7f}, uint64_t{0x80}, uint64_t{0xff},
                           uint64_t{0x8000}, uint64_t{0x7fffffff}, uint64_t{0x80000000}, rng(), rng()}) {
        imm &= width_mask(immw);
        // 80/81 /digit with a full-size immediate, on a register and on memory.
        Bytes r = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0x80 : 0x81)}, {static_cast<uint8_t>(0xc0 | op.digit << 3)});
        put_imm(r, imm, immw);
        Bytes m = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0x80 : 0x81)}, {static_cast<uint8_t>(0x07 | op.digit << 3)});
        put_imm(m, imm, immw);
        // 83 /digit ib (sign-extended) and the accumulator short form.
        Bytes s8 = enc(w, {}, {0x83}, {static_cast<uint8_t>(0xc0 | op.digit << 3)});
        put_imm(s8, imm, 1);
        Bytes acc = enc(w, {}, {static_cast<uint8_t>(op.base + (w == 1 ? 4 : 5))}, {});
        put_imm(acc, imm, immw);
        for (uint64_t a : values(w, 4)) {
          DiffCase c{base()};
          c.in.gpr[RAX] = garbage(a, w);
          put_mem(c, c.in.gpr[RDI], a, w);
          c.in.rflags = rng() & kArith;
          check(name + " r,imm", r, c, {op.undefined});
          check(name + " m,imm", m, c, {op.undefined});
          if (w != 1) check(name + " r,imm8", s8, c, {op.undefined});
          check(name + " acc,imm", acc, c, {op.undefined});
        }
      }
    }
}

TEST_F(AluVectors, Test) {
  for (unsigned w : {1u, 2u, 4u, 8u}) {
    const unsigned immw = w == 1 ? 1 : w == 2 ? 2 : 4;
    const Bytes rr = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0x84 : 0x85)}, {0xc8});
    const Bytes mr = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0x84 : 0x85)}, {0x0f});
    for (uint64_t a : values(w, 8))
      for (uint64_t b : values(w, 8)) {
        DiffCase c{base()};
        c.in.gpr[RAX] = garbage(a, w);
        c.in.gpr[RCX] = garbage(b, w);
        put_mem(c, c.in.gpr[RDI], a, w);
        c.in.rflags = rng() & kArith;
        check(std::string("test") + wname(w), rr, c, {AF});
        check(std::string("test m") + wname(w), mr, c, {AF});
        Bytes ri = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xf6 : 0xf7)}, {0xc0});
        put_imm(ri, b, immw);
        Bytes ai = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xa8 : 0xa9)}, {});
        put_imm(ai, b, immw);
        if ((a & 7) == 0) {
          check(std::string("test imm") + wname(w), ri, c, {AF});
          check(std::string("test acc imm") + wname(w), ai, c, {AF});
        }
      }
  }
}

// --- INC, DEC, NEG, NOT -----------------------------------------------------------------------

TEST_F(AluVectors, Unary) {
  struct U { const char* name; uint8_t opc8, opcv, digit; };
  const U ops[] = {{"inc", 0xfe, 0xff, 0}, {"dec", 0xfe, 0xff, 1}, {"not", 0xf6, 0xf7, 2}, {"neg", 0xf6, 0xf7, 3}};
  for (const U& u : ops)
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const uint8_t opc = w == 1 ? u.opc8 : u.opcv;
      const Bytes r = enc(w, {}, {opc}, {static_cast<uint8_t>(0xc0 | u.digit << 3)});
      const Bytes hi = {opc, static_cast<uint8_t>(0xc4 | u.digit << 3)};  // on ah
      const Bytes m = enc(w, {0xf0}, {opc}, {static_cast<uint8_t>(0x07 | u.digit << 3)});  // lock, [rdi]
      for (uint64_t a : values(w, 24))
        for (uint64_t f : {uint64_t{0}, kArith, rng() & kArith}) {
          DiffCase c{base()};
          c.in.gpr[RAX] = garbage(a, w);
          put_mem(c, c.in.gpr[RDI], a, w);
          c.in.rflags = f;
          const std::string name = std::string(u.name) + wname(w);
          check(name, r, c);
          check(name + " [rdi]", m, c);
          if (w == 1) {
            c.in.gpr[RAX] = (c.in.gpr[RAX] & ~0xff00ull) | (a << 8);
            check(name + " ah", hi, c);
          }
        }
    }
}

// --- shifts and rotates -------------------------------------------------------------------------

struct ShiftOp {
  const char* name;
  uint8_t digit;
};
const ShiftOp kShifts[] = {{"rol", 0}, {"ror", 1}, {"rcl", 2}, {"rcr", 3},
                           {"shl", 4}, {"shr", 5}, {"sal", 6}, {"sar", 7}};

// Flags and results the SDM leaves undefined for a shift/rotate by `count` (raw CL/imm).
DiffOptions shift_undefined(uint8_t digit, unsigned w, unsigned raw_count) {
  const unsigned n = raw_count & (w == 8 ? 63 : 31);
  DiffOptions o;
  if (n == 0) return o;  // nothing changes
  const bool rotate = digit < 4;
  if (rotate) {
    if (n != 1) o.undefined = OF;
  } else {
    o.undefined = AF | (n != 1 ? OF : 0);
    // SHL/SHR: CF undefined when the count is at least the operand width.
    if ((digit == 4 || digit == 5 || digit == 6) && n >= 8 * w) o.undefined |= CF;
  }
  return o;
}

TEST_F(AluVectors, ShiftByCl) {
  for (const ShiftOp& s : kShifts)
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const Bytes code = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xd2 : 0xd3)}, {static_cast<uint8_t>(0xc0 | s.digit << 3)});
      const std::string name = std::string(s.name) + wname(w) + " cl";
      for (uint64_t a : values(w, 4))
        for (unsigned n = 0; n < 68; ++n)
          for (uint64_t f : {uint64_t{0}, kArith}) {
            DiffCase c{base()};
            c.in.gpr[RAX] = garbage(a, w);
            c.in.gpr[RCX] = (rng() & ~0xffull) | (n == 67 ? 0x80 + (rng() & 0x7f) : n);
            c.in.rflags = f ^ (rng() & (AF | PF));
            check(name, code, c, shift_undefined(s.digit, w, c.in.gpr[RCX] & 0xff));
          }
    }
}

TEST_F(AluVectors, ShiftByImmediateAndOne) {
  for (const ShiftOp& s : kShifts)
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const std::string name = std::string(s.name) + wname(w);
      const Bytes one = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xd0 : 0xd1)}, {static_cast<uint8_t>(0xc0 | s.digit << 3)});
      const Bytes mem_one = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xd0 : 0xd1)}, {static_cast<uint8_t>(0x07 | s.digit << 3)});
      for (unsigned n : {0u, 1u, 2u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 32u, 33u, 63u, 64u, 200u}) {
        Bytes ib = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xc0 : 0xc1)}, {static_cast<uint8_t>(0xc0 | s.digit << 3)});
        ib.push_back(static_cast<uint8_t>(n));
        Bytes mib = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xc0 : 0xc1)}, {static_cast<uint8_t>(0x07 | s.digit << 3)});
        mib.push_back(static_cast<uint8_t>(n));
        for (uint64_t a : values(w, 4)) {
          DiffCase c{base()};
          c.in.gpr[RAX] = garbage(a, w);
          put_mem(c, c.in.gpr[RDI], a, w);
          c.in.rflags = rng() & kArith;
          check(name + " imm", ib, c, shift_undefined(s.digit, w, n));
          check(name + " [rdi],imm", mib, c, shift_undefined(s.digit, w, n));
          if (n == 1) {
            check(name + " 1", one, c, shift_undefined(s.digit, w, 1));
            check(name + " [rdi],1", mem_one, c, shift_undefined(s.digit, w, 1));
          }
        }
      }
    }
}

// SHLD/SHRD: OF undefined for counts above 1, AF always; 16-bit counts above 16 leave the
// result and all flags undefined.
DiffOptions shxd_undefined(unsigned w, unsigned raw) {
  const unsigned n = raw & (w == 8 ? 63 : 31);
  DiffOptions o;
  if (n == 0) return o;
  o.undefined = AF | (n != 1 ? OF : 0);
  if (w == 2 && n > 16) {
    o.undefined = kArith;
    o.result_undefined = !diff_runner().host().intel;
  }
  return o;
}

TEST_F(AluVectors, DoubleShift) {
  for (bool right : {false, true})
    for (unsigned w : {2u, 4u, 8u}) {
      const std::string name = std::string(right ? "shrd" : "shld") + wname(w);
      const Bytes cl = enc(w, {}, {0x0f, static_cast<uint8_t>(right ? 0xad : 0xa5)}, {0xd0});  // eax, edx, cl
      const Bytes mcl = enc(w, {}, {0x0f, static_cast<uint8_t>(right ? 0xad : 0xa5)}, {0x17}); // [rdi], edx, cl
      for (uint64_t a : values(w, 3))
        for (unsigned n = 0; n < 66; ++n) {
          DiffCase c{base()};
          c.in.gpr[RAX] = garbage(a, w);
          c.in.gpr[RDX] = garbage(rng() & width_mask(w), w);
          c.in.gpr[RCX] = (rng() & ~0xffull) | n;
          put_mem(c, c.in.gpr[RDI], a, w);
          c.in.rflags = rng() & kArith;
          check(name + " cl", cl, c, shxd_undefined(w, n));
          if (n % 5 == 0) check(name + " [rdi] cl", mcl, c, shxd_undefined(w, n));
          if (n % 3 == 0) {
            Bytes ib = enc(w, {}, {0x0f, static_cast<uint8_t>(right ? 0xac : 0xa4)}, {0xd0, static_cast<uint8_t>(n)});
            check(name + " imm", ib, c, shxd_undefined(w, n));
          }
        }
    }
}

// --- MUL, IMUL, DIV, IDIV -----------------------------------------------------------------------

TEST_F(AluVectors, MultiplyOneOperand) {
  for (bool sign : {false, true})
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const uint8_t digit = sign ? 5 : 4;
      const Bytes r = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xf6 : 0xf7)}, {static_cast<uint8_t>(0xc1 | digit << 3)});
      const Bytes m = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xf6 : 0xf7)}, {static_cast<uint8_t>(0x07 | digit << 3)});
      const std::string name = std::string(sign ? "imul" : "mul") + wname(w);
      for (uint64_t a : values(w, 8))
        for (uint64_t b : values(w, 8)) {
          DiffCase c{base()};
          c.in.gpr[RAX] = garbage(a, w);
          c.in.gpr[RCX] = garbage(b, w);
          put_mem(c, c.in.gpr[RDI], b, w);
          c.in.rflags = rng() & kArith;
          check(name + " rcx", r, c, {SF | ZF | AF | PF});
          if ((a + b) % 4 == 0) check(name + " [rdi]", m, c, {SF | ZF | AF | PF});
        }
    }
}

TEST_F(AluVectors, MultiplySignedTwoAndThreeOperands) {
  for (unsigned w : {2u, 4u, 8u}) {
    const std::string name = std::string("imul") + wname(w);
    const Bytes two = enc(w, {}, {0x0f, 0xaf}, {0xc1});     // imul eax, ecx
    const Bytes two_m = enc(w, {}, {0x0f, 0xaf}, {0x07});   // imul eax, [rdi]
    for (uint64_t a : values(w, 8))
      for (uint64_t b : values(w, 8)) {
        DiffCase c{base()};
        c.in.gpr[RAX] = garbage(a, w);
        c.in.gpr[RCX] = garbage(b, w);
        put_mem(c, c.in.gpr[RDI], b, w);
        c.in.rflags = rng() & kArith;
        check(name + " r,r", two, c, {SF | ZF | AF | PF});
        if ((a ^ b) % 3 == 0) check(name + " r,[rdi]", two_m, c, {SF | ZF | AF | PF});
        if ((a + b) % 5 == 0) {
          Bytes ib = enc(w, {}, {0x6b}, {0xc1});  // imul eax, ecx, imm8
          ib.push_back(static_cast<uint8_t>(a));
          Bytes iz = enc(w, {}, {0x69}, {0xc1});  // imul eax, ecx, imm16/32
          put_imm(iz, a, w == 2 ? 2 : 4);
          check(name + " r,r,ib", ib, c, {SF | ZF | AF | PF});
          check(name + " r,r,iz", iz, c, {SF | ZF | AF | PF});
        }
      }
  }
}

TEST_F(AluVectors, Divide) {
  for (bool sign : {false, true})
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      const uint8_t digit = sign ? 7 : 6;
      const Bytes r = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xf6 : 0xf7)}, {static_cast<uint8_t>(0xc1 | digit << 3)});
      const Bytes m = enc(w, {}, {static_cast<uint8_t>(w == 1 ? 0xf6 : 0xf7)}, {static_cast<uint8_t>(0x07 | digit << 3)});
      const std::string name = std::string(sign ? "idiv" : "div") + wname(w);
      const uint64_t mask = width_mask(w);
      const uint64_t smin = 1ull << (8 * w - 1);
      for (uint64_t d : values(w, 10))
        for (int i = 0; i < 40; ++i) {
          // Dividends: small, large (overflowing), the INT_MIN / -1 case, and random.
          uint64_t lo = rng() & mask, hi;
          switch (i % 5) {
            case 0: hi = 0; break;
            case 1: hi = sign ? ((lo & smin) ? mask : 0) : (d ? (rng() % d) : 0); break;
            case 2: hi = rng() & mask; break;
            case 3: hi = sign ? mask : 0; lo = smin; break;
            default: hi = sign ? ((rng() & 1) ? mask : 0) : 0; break;
          }
          DiffCase c{base()};
          if (w == 1) {
            c.in.gpr[RAX] = garbage(lo | (hi << 8), 2);
          } else {
            c.in.gpr[RAX] = garbage(lo, w);
            c.in.gpr[RDX] = garbage(hi, w);
          }
          c.in.gpr[RCX] = garbage(d, w);
          put_mem(c, c.in.gpr[RDI], d, w);
          c.in.rflags = rng() & kArith;
          check(name + " rcx", r, c, {kArith});
          if (i % 4 == 0) check(name + " [rdi]", m, c, {kArith});
        }
    }
}

// --- bit operations -------------------------------------------------------------------------------

TEST_F(AluVectors, BitTest) {
  const char* names[] = {"bt", "bts", "btr", "btc"};
  const uint8_t rr_opc[] = {0xa3, 0xab, 0xb3, 0xbb};
  for (unsigned k = 0; k < 4; ++k)
    for (unsigned w : {2u, 4u, 8u}) {
      const std::string name = std::string(names[k]) + wname(w);
      const Bytes rr = enc(w, {}, {0x0f, rr_opc[k]}, {0xc8});  // bt rax, rcx
      Bytes mr = enc(w, {}, {0x0f, rr_opc[k]}, {0x0f});        // bt [rdi], rcx
      if (k) mr.insert(mr.begin(), 0xf0);
      for (int i = 0; i < 300; ++i) {
        DiffCase c{base()};
        c.in.gpr[RAX] = rng();
        // Bit offsets: in range, beyond the operand, and negative (other memory words).
        const int64_t off = i < 100 ? i : static_cast<int64_t>(rng() % 8000) - 4000;
        c.in.gpr[RCX] = garbage(static_cast<uint64_t>(off) & width_mask(w), w);
        c.data.resize(kDataWinSize);
        for (auto& b : c.data) b = static_cast<uint8_t>(rng());
        c.in.rflags = rng() & kArith;
        check(name + " r,r", rr, c, {OF | SF | ZF | AF | PF});
        check(name + " [rdi],r", mr, c, {OF | SF | ZF | AF | PF});
        if (i % 10 == 0) {
          const uint8_t n = static_cast<uint8_t>(rng());
          Bytes ri = enc(w, {}, {0x0f, 0xba}, {static_cast<uint8_t>(0xe0 | k << 3), n});
          Bytes mi = enc(w, {}, {0x0f, 0xba}, {static_cast<uint8_t>(0x27 | k << 3), n});
          check(name + " r,imm", ri, c, {OF | SF | ZF | AF | PF});
          check(name + " [rdi],imm", mi, c, {OF | SF | ZF | AF | PF});
        }
      }
    }
}

TEST_F(AluVectors, BitScanAndCount) {
  const auto& host = diff_runner().host();
  struct S { const char* name; Bytes legacy; uint8_t opc; uint64_t undefined; bool needs_lzcnt; };
  const S ops[] = {{"bsf", {}, 0xbc, CF | OF | SF | AF | PF, false},
                   {"bsr", {}, 0xbd, CF | OF | SF | AF | PF, false},
                   {"tzcnt", {0xf3}, 0xbc, OF | SF | AF | PF, false},
                   {"lzcnt", {0xf3}, 0xbd, OF | SF | AF | PF, true},
                   {"popcnt", {0xf3}, 0xb8, 0, false}};
  for (const S& s : ops) {
    if (s.needs_lzcnt) {
      // A hypervisor may hide the CPUID bit; what matters is whether the host executes LZCNT.
      HostState st;
      st.gpr[RCX] = 0;
      HostRunner::instance()->run({0xf3, 0x0f, 0xbd, 0xc1}, st);
      if (st.gpr[RAX] != 32 && !host.lzcnt) continue;
    }
    for (unsigned w : {2u, 4u, 8u}) {
      const Bytes rr = enc(w, s.legacy, {0x0f, s.opc}, {0xc1});
      const Bytes rm = enc(w, s.legacy, {0x0f, s.opc}, {0x07});
      for (uint64_t v : values(w, 40)) {
        for (uint64_t x : {v, v << 7, v >> 3, v & (0 - v)}) {
          x &= width_mask(w);
          DiffCase c{base()};
          c.in.gpr[RCX] = garbage(x, w);
          put_mem(c, c.in.gpr[RDI], x, w);
          c.in.rflags = rng() & kArith;
          check(std::string(s.name) + wname(w), rr, c, {s.undefined});
          check(std::string(s.name) + wname(w) + " [rdi]", rm, c, {s.undefined});
        }
      }
    }
  }
}

// BMI1/BMI2 (VEX): operands eax/rax, ecx/rcx, edx/rdx as in the comments.
TEST_F(AluVectors, Bmi) {
  const auto& host = diff_runner().host();
  if (!host.bmi1 || !host.bmi2) GTEST_SKIP() << "host lacks BMI1/BMI2";
  struct B { const char* name; Bytes code32; uint64_t undefined; };
  // C4 <RXB.mmmmm> <W.vvvv.L.pp> opcode modrm [imm]
  const B ops[] = {
      {"andn eax,ecx,edx", {0xc4, 0xe2, 0x70, 0xf2, 0xc2}, AF | PF},
      {"blsi eax,ecx", {0xc4, 0xe2, 0x78, 0xf3, 0xd9}, AF | PF},
      {"blsmsk eax,ecx", {0xc4, 0xe2, 0x78, 0xf3, 0xd1}, AF | PF},
      {"blsr eax,ecx", {0xc4, 0xe2, 0x78, 0xf3, 0xc9}, AF | PF},
      {"bextr eax,edx,ecx", {0xc4, 0xe2, 0x70, 0xf7, 0xc2}, AF | SF | PF},
      {"bzhi eax,edx,ecx", {0xc4, 0xe2, 0x70, 0xf5, 0xc2}, AF | PF},
      {"shlx eax,edx,ecx", {0xc4, 0xe2, 0x71, 0xf7, 0xc2}, 0},
      {"sarx eax,edx,ecx", {0xc4, 0xe2, 0x72, 0xf7, 0xc2}, 0},
      {"shrx eax,edx,ecx", {0xc4, 0xe2, 0x73, 0xf7, 0xc2}, 0},
      {"pdep eax,ecx,edx", {0xc4, 0xe2, 0x73, 0xf5, 0xc2}, 0},
      {"pext eax,ecx,edx", {0xc4, 0xe2, 0x72, 0xf5, 0xc2}, 0},
      {"mulx eax,ecx,edx", {0xc4, 0xe2, 0x73, 0xf6, 0xc2}, 0},
      {"mulx eax,eax,edx", {0xc4, 0xe2, 0x7b, 0xf6, 0xc2}, 0},
      {"rorx eax,ecx,5", {0xc4, 0xe3, 0x7b, 0xf0, 0xc1, 0x05}, 0},
      {"rorx eax,ecx,33", {0xc4, 0xe3, 0x7b, 0xf0, 0xc1, 0x21}, 0},
  };
  for (const B& b : ops)
    for (unsigned w : {4u, 8u}) {
      Bytes code = b.code32;
      if (w == 8) code[2] |= 0x80;  // VEX.W
      Bytes mem = code;
      mem[4] = static_cast<uint8_t>((mem[4] & 0x38) | 0x07);  // r/m operand -> [rdi]
      for (int i = 0; i < 400; ++i) {
        DiffCase c{base()};
        const auto vs = edge_values(w);
        for (unsigned r : {RAX, RCX, RDX}) c.in.gpr[r] = i < 200 ? garbage(vs[rng() % vs.size()], w) : rng();
        if (i % 3 == 0) c.in.gpr[RCX] = (c.in.gpr[RCX] & ~0xffffull) | (rng() % 80) | ((rng() % 80) << 8);
        put_mem(c, c.in.gpr[RDI], c.in.gpr[b.name[0] == 'b' && b.name[1] == 'l' ? RCX : RDX], w);
        c.in.rflags = rng() & kArith;
        check(std::string(b.name) + (w == 8 ? " (W1)" : ""), code, c, {b.undefined});
        if (i % 4 == 0) check(std::string(b.name) + (w == 8 ? " (W1)" : "") + " mem", mem, c, {b.undefined});
      }
    }
}

// --- data movement ---------------------------------------------------------------------------------

TEST_F(AluVectors, ExtendAndMove) {
  const std::vector<std::pair<const char*, Bytes>> forms = {
      {"movzx eax,cl", {0x0f, 0xb6, 0xc1}},        {"movzx ax,cl", {0x66, 0x0f, 0xb6, 0xc1}},
      {"movzx rax,cl", {0x48, 0x0f, 0xb6, 0xc1}},  {"movzx eax,cx", {0x0f, 0xb7, 0xc1}},
      {"movzx rax,cx", {0x48, 0x0f, 0xb7, 0xc1}},  {"movsx eax,cl", {0x0f, 0xbe, 0xc1}},
      {"movsx ax,cl", {0x66, 0x0f, 0xbe, 0xc1}},   {"movsx rax,cl", {0x48, 0x0f, 0xbe, 0xc1}},
      {"movsx eax,cx", {0x0f, 0xbf, 0xc1}},        {"movsx rax,cx", {0x48, 0x0f, 0xbf, 0xc1}},
      {"movsxd rax,ecx", {0x48, 0x63, 0xc1}},      {"movsxd eax,ecx", {0x63, 0xc1}},
      {"movsxd ax,cx", {0x66, 0x63, 0xc1}},        {"movzx eax,ch", {0x0f, 0xb6, 0xc5}},
      {"movsx rax,byte [rdi]", {0x48, 0x0f, 0xbe, 0x07}}, {"movzx eax,word [rdi]", {0x0f, 0xb7, 0x07}},
      {"movsxd rax,[rdi]", {0x48, 0x63, 0x07}},
      {"mov al,cl", {0x88, 0xc8}},                 {"mov ah,cl", {0x88, 0xcc}},
      {"mov ax,cx", {0x66, 0x89, 0xc8}},           {"mov eax,ecx", {0x89, 0xc8}},
      {"mov rax,rcx", {0x48, 0x89, 0xc8}},         {"mov [rdi],ecx", {0x89, 0x0f}},
      {"mov cx,[rdi]", {0x66, 0x8b, 0x0f}},        {"mov byte [rdi],0x85", {0xc6, 0x07, 0x85}},
      {"mov qword [rdi],-2", {0x48, 0xc7, 0x07, 0xfe, 0xff, 0xff, 0xff}},
      {"mov eax,imm32", {0xb8, 0x78, 0x56, 0x34, 0x92}},
      {"mov rax,imm64", {0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x91}},
      {"mov ax,imm16", {0x66, 0xb8, 0x34, 0x92}},  {"mov ch,imm8", {0xb5, 0x85}},
      {"mov rax,imm32 (C7)", {0x48, 0xc7, 0xc0, 0x00, 0x00, 0x00, 0x80}},
      {"mov eax,[rip+disp] (data window)", rip_rel({0x8b, 0x05}, kDataWin + 0x123)},
      {"mov eax,[moffs64]", moffs({0xa1}, kDataWin + 0x231, 8)},
      {"mov al,[moffs64]", moffs({0xa0}, kDataWin + 0x232, 8)},
      {"mov rax,[moffs64]", moffs({0x48, 0xa1}, kDataWin + 0x233, 8)},
      {"mov ax,[moffs32] (addr32)", moffs({0x66, 0x67, 0xa1}, kDataWin + 0x234, 4)},
      {"mov [moffs64],eax", moffs({0xa3}, kDataWin + 0x235, 8)},
      {"mov [moffs64],al", moffs({0xa2}, kDataWin + 0x236, 8)},
      {"mov [moffs32],rax (addr32)", moffs({0x67, 0x48, 0xa3}, kDataWin + 0x237, 4)},
      {"lea eax,[rcx+rdx*4+0x10]", {0x8d, 0x44, 0x91, 0x10}},
      {"lea rax,[rcx+rdx*8-8]", {0x48, 0x8d, 0x44, 0xd1, 0xf8}},
      {"lea ax,[rcx+rdx]", {0x66, 0x8d, 0x04, 0x11}},
      {"lea eax,[ecx+edx*2]", {0x67, 0x8d, 0x04, 0x51}},
      {"lea rax,[rip-0x100]", {0x48, 0x8d, 0x05, 0x00, 0xff, 0xff, 0xff}},
      {"bswap eax", {0x0f, 0xc8}},                 {"bswap rax", {0x48, 0x0f, 0xc8}},
      {"bswap ax", {0x66, 0x0f, 0xc8}},            {"bswap r9", {0x49, 0x0f, 0xc9}},
      {"movbe eax,[rdi]", {0x0f, 0x38, 0xf0, 0x07}}, {"movbe rax,[rdi]", {0x48, 0x0f, 0x38, 0xf0, 0x07}},
      {"movbe ax,[rdi]", {0x66, 0x0f, 0x38, 0xf0, 0x07}}, {"movbe [rdi],ecx", {0x0f, 0x38, 0xf1, 0x0f}},
      {"movbe [rdi],cx", {0x66, 0x0f, 0x38, 0xf1, 0x0f}}, {"movbe [rdi],rcx", {0x48, 0x0f, 0x38, 0xf1, 0x0f}},
      {"cbw", {0x66, 0x98}},   {"cwde", {0x98}},   {"cdqe", {0x48, 0x98}},
      {"cwd", {0x66, 0x99}},   {"cdq", {0x99}},    {"cqo", {0x48, 0x99}},
      {"lahf", {0x9f}},        {"sahf", {0x9e}},   {"clc", {0xf8}},   {"stc", {0xf9}},
      {"cmc", {0xf5}},         {"cld", {0xfc}},    {"std", {0xfd}},
      {"xlat", {0xd7}},        {"xlat (addr32)", {0x67, 0xd7}},
      {"xchg eax,ecx (91)", {0x91}}, {"xchg eax,eax (87 c0)", {0x87, 0xc0}}, {"xchg r8,rax", {0x49, 0x90}},
      {"xchg cl,ah", {0x86, 0xe1}},  {"xchg [rdi],ecx", {0x87, 0x0f}}, {"xchg [rdi],cx", {0x66, 0x87, 0x0f}},
      {"nop", {0x90}},
  };
  for (const auto& f : forms)
    for (int i = 0; i < 120; ++i) {
      DiffCase c{base()};
      const auto vs = edge_values(8);
      for (unsigned r : {RAX, RCX, RDX}) c.in.gpr[r] = i < 60 ? vs[rng() % vs.size()] ^ (rng() & 0xffff0000ull) : rng();
      c.in.gpr[RBX] = kDataWin + 0x100 + (rng() & 0xff);
      if (f.first[0] == 'l' && f.first[1] == 'e') c.in.gpr[RDX] &= 0xffffffff;
      c.data.resize(kDataWinSize);
      for (auto& b : c.data) b = static_cast<uint8_t>(rng());
      c.in.rflags = rng() & (kArith | DF);
      check(f.first, f.second, c);
    }
}

TEST_F(AluVectors, ConditionalMoveAndSet) {
  for (unsigned cc = 0; cc < 16; ++cc)
    for (unsigned w : {2u, 4u, 8u}) {
      const Bytes cmov = enc(w, {}, {0x0f, static_cast<uint8_t>(0x40 | cc)}, {0xc1});
      const Bytes cmov_m = enc(w, {}, {0x0f, static_cast<uint8_t>(0x40 | cc)}, {0x07});
      const Bytes set_r = {0x0f, static_cast<uint8_t>(0x90 | cc), 0xc0};
      const Bytes set_hi = {0x0f, static_cast<uint8_t>(0x90 | cc), 0xc4};
      const Bytes set_m = {0x0f, static_cast<uint8_t>(0x90 | cc), 0x07};
      for (unsigned f = 0; f < 64; ++f) {
        DiffCase c{base()};
        c.in.rflags = (f & 1 ? CF : 0) | (f & 2 ? PF : 0) | (f & 4 ? ZF : 0) | (f & 8 ? SF : 0) |
                      (f & 16 ? OF : 0) | (f & 32 ? AF : 0);
        c.data.resize(kDataWinSize);
        for (auto& b : c.data) b = static_cast<uint8_t>(rng());
        check("cmovcc", cmov, c);
        check("cmovcc [rdi]", cmov_m, c);
        if (w == 4) {
          check("setcc al", set_r, c);
          check("setcc ah", set_hi, c);
          check("setcc [rdi]", set_m, c);
        }
      }
    }
}

TEST_F(AluVectors, ExchangeAndCompare) {
  for (unsigned w : {1u, 2u, 4u, 8u}) {
    const uint8_t v = w == 1 ? 0 : 1;
    const std::vector<std::pair<std::string, Bytes>> forms = {
        {"xadd rcx,rdx", enc(w, {}, {0x0f, static_cast<uint8_t>(0xc0 | v)}, {0xd1})},
        {"xadd rcx,rcx", enc(w, {}, {0x0f, static_cast<uint8_t>(0xc0 | v)}, {0xc9})},
        {"lock xadd [rdi],rdx", enc(w, {0xf0}, {0x0f, static_cast<uint8_t>(0xc0 | v)}, {0x17})},
        {"cmpxchg rcx,rdx", enc(w, {}, {0x0f, static_cast<uint8_t>(0xb0 | v)}, {0xd1})},
        {"cmpxchg rax,rdx", enc(w, {}, {0x0f, static_cast<uint8_t>(0xb0 | v)}, {0xd0})},
        {"lock cmpxchg [rdi],rdx", enc(w, {0xf0}, {0x0f, static_cast<uint8_t>(0xb0 | v)}, {0x17})},
        {"xchg rcx,rdx", enc(w, {}, {static_cast<uint8_t>(0x86 | v)}, {0xd1})},
    };
    for (const auto& f : forms)
      for (int i = 0; i < 200; ++i) {
        DiffCase c{base()};
        const auto vs = edge_values(w);
        const uint64_t a = vs[rng() % vs.size()];
        c.in.gpr[RAX] = garbage(a, w);
        c.in.gpr[RCX] = garbage(i % 2 ? a : vs[rng() % vs.size()], w);  // equal half of the time
        c.in.gpr[RDX] = rng();
        put_mem(c, c.in.gpr[RDI], i % 3 ? a : rng(), w);
        c.in.rflags = rng() & kArith;
        check(f.first + " " + wname(w), f.second, c);
      }
  }
  for (bool wide : {false, true}) {
    const Bytes code = wide ? Bytes{0xf0, 0x48, 0x0f, 0xc7, 0x0f} : Bytes{0xf0, 0x0f, 0xc7, 0x0f};
    for (int i = 0; i < 200; ++i) {
      DiffCase c{base()};
      c.data.resize(kDataWinSize);
      for (auto& b : c.data) b = static_cast<uint8_t>(rng());
      if (i % 2) {
        std::memcpy(&c.in.gpr[RAX], &c.data[0x400], 8);
        std::memcpy(&c.in.gpr[RDX], &c.data[0x408], 8);
        if (!wide) {
          c.in.gpr[RDX] = (c.in.gpr[RAX] >> 32) | (rng() << 32);
          c.in.gpr[RAX] = (c.in.gpr[RAX] & 0xffffffff) | (rng() << 32);
        }
      }
      c.in.rflags = rng() & kArith;
      check(wide ? "cmpxchg16b" : "cmpxchg8b", code, c);
    }
  }
}

TEST_F(AluVectors, StackInstructions) {
  const std::vector<std::pair<const char*, Bytes>> forms = {
      {"push rcx; pop rdx", {0x51, 0x5a}},
      {"push cx; pop dx", {0x66, 0x51, 0x66, 0x5a}},
      {"push r9; pop r10", {0x41, 0x51, 0x41, 0x5a}},
      {"push rsp; pop rax", {0x54, 0x58}},
      {"push imm8", {0x6a, 0x80}},
      {"push imm32", {0x68, 0x00, 0x00, 0x00, 0x80}},
      {"push imm16", {0x66, 0x68, 0x34, 0x92}},
      {"push [rdi]", {0xff, 0x37}},
      {"pop [rdi]", {0x8f, 0x07}},
      {"pop [rsp]", {0x8f, 0x04, 0x24}},
      {"pop [rsp+8]", {0x8f, 0x44, 0x24, 0x08}},
      {"pop rsp", {0x5c}},
      {"push rax; popfq; pushfq; pop rcx", {0x50, 0x9d, 0x9c, 0x59}},
      {"pushf (16); pop cx", {0x66, 0x9c, 0x66, 0x59}},
      {"enter 0x20,0", {0xc8, 0x20, 0x00, 0x00}},
      {"enter 0x10,1", {0xc8, 0x10, 0x00, 0x01}},
      {"enter 0x08,3", {0xc8, 0x08, 0x00, 0x03}},
      {"enter (16) 4,2", {0x66, 0xc8, 0x04, 0x00, 0x02}},
      {"leave", {0xc9}},
      {"leave (16)", {0x66, 0xc9}},
  };
  for (const auto& f : forms)
    for (int i = 0; i < 60; ++i) {
      DiffCase c{base()};
      // POPFQ input: arithmetic flags and DF, with IF = 1 as the host (CPL 3, IOPL 0) cannot
      // change IF.
      c.in.gpr[RAX] = (rng() & 0xcd5) | 0x202;
      c.in.gpr[RBP] = HostRunner::kStackTop - 0x100 - 8 * (rng() % 16);
      c.data.resize(kDataWinSize);
      for (auto& b : c.data) b = static_cast<uint8_t>(rng());
      c.stack.resize(kStackWinSize);
      for (auto& b : c.stack) b = static_cast<uint8_t>(rng());
      c.in.rflags = rng() & (kArith | DF);
      check(f.first, f.second, c);
    }
}

// --- 32-bit code (compatibility mode on the host, protected mode in the simulator) --------------

TEST_F(AluVectors, DecimalAdjustExhaustive) {
  if (!HostRunner::instance()->compat_available()) GTEST_SKIP() << "the host does not run 32-bit code";
  struct D { const char* name; Bytes code; uint64_t undefined; };
  const D ops[] = {{"daa", {0x27}, OF},           {"das", {0x2f}, OF},
                   {"aaa", {0x37}, OF | SF | ZF | PF}, {"aas", {0x3f}, OF | SF | ZF | PF},
                   {"aam 10", {0xd4, 0x0a}, OF | AF | CF}, {"aam 7", {0xd4, 0x07}, OF | AF | CF},
                   {"aam 0", {0xd4, 0x00}, OF | AF | CF}, {"aad 10", {0xd5, 0x0a}, OF | AF | CF},
                   {"aad 0xff", {0xd5, 0xff}, OF | AF | CF}};
  for (const D& d : ops)
    for (unsigned al = 0; al < 256; ++al)
      for (uint64_t ah : {uint64_t{0}, uint64_t{1}, uint64_t{0x7f}, uint64_t{0xff}})
        for (uint64_t f : {uint64_t{0}, CF, AF, CF | AF}) {
          DiffCase c{base()};
          c.in.gpr[RAX] = (rng() & 0xffff0000) | (ah << 8) | al;
          c.in.rflags = f | (rng() & (PF | ZF | SF | OF));
          const auto r = diff_runner().check32(d.name, d.code, c, {d.undefined});
          if (!r && m_printed < 6) {
            ++m_printed;
            ADD_FAILURE() << r.message();
          }
        }
}

TEST_F(AluVectors, LegacyOnlyInstructions32) {
  if (!HostRunner::instance()->compat_available()) GTEST_SKIP() << "the host does not run 32-bit code";
  const std::vector<std::pair<const char*, Bytes>> forms = {
      {"pushad; popad", {0x60, 0x61}},
      {"pushad; pop eax; pop ecx", {0x60, 0x58, 0x59, 0x5a, 0x5b, 0x5d, 0x5d, 0x5e, 0x5f}},
      {"pusha (16); popa (16)", {0x66, 0x60, 0x66, 0x61}},
      {"pusha (16); pop ax", {0x66, 0x60, 0x66, 0x58}},
      {"popad", {0x61}},
      {"popa (16)", {0x66, 0x61}},
      {"inc eax; dec ecx; inc di; dec sp", {0x40, 0x49, 0x66, 0x47, 0x66, 0x4c}},
      {"enter 0x10,2", {0xc8, 0x10, 0x00, 0x02}},
      {"enter (16) 8,1", {0x66, 0xc8, 0x08, 0x00, 0x01}},
      {"leave", {0xc9}},
      {"lea eax,[bx+si+0x10] (addr16)", {0x67, 0x8d, 0x40, 0x10}},
      {"lea ax,[bp+di-2] (addr16)", {0x66, 0x67, 0x8d, 0x43, 0xfe}},
      {"add eax,ecx; adc edx,ebx", {0x01, 0xc8, 0x11, 0xda}},
      {"shld eax,edx,cl", {0x0f, 0xa5, 0xd0}},
      {"imul eax,ecx,0x1234", {0x69, 0xc1, 0x34, 0x12, 0x00, 0x00}},
      {"mul ecx", {0xf7, 0xe1}},
      {"div ecx", {0xf7, 0xf1}},
      {"cmpxchg8b [edi]", {0x0f, 0xc7, 0x0f}},
      {"bt [esi],ecx", {0x0f, 0xa3, 0x0e}},
      {"push imm8; pop edx", {0x6a, 0x85, 0x5a}},
      {"mov eax,[moffs32]", moffs({0xa1}, kDataWin + 0x40, 4)},
  };
  for (const auto& f : forms)
    for (int i = 0; i < 200; ++i) {
      DiffCase c{base()};
      for (unsigned r : {RAX, RCX, RDX, RBX}) c.in.gpr[r] = rng() & 0xffffffff;
      if (i % 2) c.in.gpr[RCX] &= 0x3f;
      if (std::string(f.first).find("bt ") != std::string::npos)
        c.in.gpr[RCX] = static_cast<uint32_t>(static_cast<int32_t>(rng() % 8000) - 4000);
      c.in.gpr[RBP] = HostRunner::kStackTop - 0x100 - 4 * (rng() % 16);
      c.data.resize(kDataWinSize);
      for (auto& b : c.data) b = static_cast<uint8_t>(rng());
      c.stack.resize(kStackWinSize);
      for (auto& b : c.stack) b = static_cast<uint8_t>(rng());
      c.in.rflags = rng() & (kArith | DF);
      DiffOptions o;
      const std::string n = f.first;
      if (n.find("shld") != std::string::npos) o = shxd_undefined(4, c.in.gpr[RCX] & 0xff);
      if (n.find("mul") != std::string::npos) o.undefined = SF | ZF | AF | PF;
      if (n.find("div") != std::string::npos) o.undefined = kArith;
      if (n.find("bt ") != std::string::npos) o.undefined = OF | SF | ZF | AF | PF;
      const auto r = diff_runner().check32(f.first, f.second, c, o);
      if (!r && m_printed < 6) {
        ++m_printed;
        ADD_FAILURE() << r.message();
      }
    }
}

}  // namespace
}  // namespace vmxsim::test
