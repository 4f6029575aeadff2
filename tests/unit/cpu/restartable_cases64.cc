// Restartable-instruction cases in 64-bit mode (restartable.h): far and near transfers, IRETQ,
// the stack instructions, string instructions, the locked read-modify-writes, FXSAVE/XSAVE and
// their restores, descriptor-table and segment loads, INT n. Every access on a page of its own;
// contiguous stack slots are split by moving rSP so that the faulting slot opens its page.
#include "tests/unit/cpu/restartable.h"

namespace vmxsim::test::restart {

using namespace vmxsim::cpu;

namespace {

const Bytes kHlt = {0xf4}, kInt3 = {0xcc};

void put64(TestMachine& m, uint64_t a, uint64_t v) { m.write_value<uint64_t>(a, v); }
void put32(TestMachine& m, uint64_t a, uint32_t v) { m.write_value<uint32_t>(a, v); }
void put16(TestMachine& m, uint64_t a, uint16_t v) { m.write_value<uint16_t>(a, v); }
Bytes abs32(const Bytes& opcode_modrm, uint64_t addr) { return opcode_modrm + Bytes{0x25} + imm32(addr); }

const uint64_t S0 = stack_page(0), S1 = stack_page(1), S2 = stack_page(2), S3 = stack_page(3);
const uint64_t D0 = data_page(0), D1 = data_page(1), D2 = data_page(2), D3 = data_page(3);
const uint64_t G1 = gdt_page(1), G2 = gdt_page(2);

// --- far RET, IRETQ -----------------------------------------------------------------------------

// RETFQ (optionally imm16) to kCode64Sel:kTarget, or to CPL 3 with SS:RSP above the parameters.
// Slots: RIP at the end of S0, CS at the start of S1; with `outer`, RSP at the end of S2 and SS
// at the start of S3 (imm16 = 8176 skips from one to the other).
Case retf64(bool outer, bool fresh_ss) {
  Case c;
  c.name = std::string("retfq ") + (outer ? "imm16 to CPL 3" : "same level") +
           (fresh_ss ? " with SS accessed bit clear" : "");
  c.mode = Mode::k64;
  c.ends_in_int3 = outer;
  c.faults = {page_fault("RIP slot", S0), page_fault("CS slot", S1), page_fault("CS descriptor", G1)};
  if (outer) {
    c.faults.push_back(page_fault("RSP slot", S2));
    c.faults.push_back(page_fault("SS slot", S3));
    c.faults.push_back(page_fault("SS descriptor", G2));
    if (fresh_ss) c.faults.push_back(write_fault("SS descriptor accessed-bit write", G2));
  }
  c.setup = [outer, fresh_ss](TestMachine& m, Start& st, unsigned) {
    const uint16_t pop_bytes = 8176;
    m.write(kCode, outer ? Bytes{0x48, 0xca} + imm16(pop_bytes) : Bytes{0x48, 0xcb});
    m.write(kTarget, outer ? kInt3 : kHlt);
    const uint64_t sp = S1 - 8;
    st.gpr[kRsp] = sp;
    put64(m, sp, kTarget);
    put64(m, sp + 8, outer ? kCode64UserSel : kCode64Sel);
    if (outer) {
      put64(m, sp + 16 + pop_bytes, 0x36000);
      put64(m, sp + 24 + pop_bytes, fresh_ss ? kDataUserFreshSel : kDataUserSel);
    }
  };
  return c;
}

// IRETQ: RIP, CS, RFLAGS, RSP, SS. Fault k < 5: the page starting at slot k is absent.
Case iret64(bool outer) {
  Case c;
  c.name = std::string("iretq ") + (outer ? "to CPL 3" : "same level");
  c.mode = Mode::k64;
  c.ends_in_int3 = outer;
  const char* slot[5] = {"RIP slot", "CS slot", "RFLAGS slot", "RSP slot", "SS slot"};
  for (unsigned k = 0; k < 5; ++k) c.faults.push_back(page_fault(slot[k], S1));
  c.faults.push_back(page_fault("CS descriptor", G1));
  c.faults.push_back(page_fault("SS descriptor", G2));
  c.setup = [outer](TestMachine& m, Start& st, unsigned k) {
    m.write(kCode, {0x48, 0xcf});
    m.write(kTarget, outer ? kInt3 : kHlt);
    const uint64_t sp = S1 - 8 * (k < 5 ? k : 0);
    st.gpr[kRsp] = sp;
    const uint64_t frame[5] = {kTarget, outer ? kCode64UserSel : kCode64Sel, 0x2c7, 0x36000,
                               outer ? kDataUserSel : kDataSel};
    for (unsigned i = 0; i < 5; ++i) put64(m, sp + 8 * i, frame[i]);
  };
  return c;
}

// --- far CALL/JMP through memory ----------------------------------------------------------------

// CALL/JMP FAR m16:64 (REX.W) or m16:32: the offset ends D0, the selector starts D1; CALL pushes
// CS (start of S1) and RIP (end of S0).
Case far_mem64(bool call, bool rex_w) {
  Case c;
  const unsigned w = rex_w ? 8 : 4;
  c.name = std::string(call ? "call" : "jmp") + " far m16:" + (rex_w ? "64" : "32 to compatibility mode");
  c.mode = Mode::k64;
  c.faults = {page_fault("pointer offset", D0), page_fault("pointer selector", D1),
              page_fault("CS descriptor", G1)};
  if (call) {
    c.faults.push_back(page_fault("pushed CS slot", S1));
    c.faults.push_back(page_fault("pushed RIP slot", S0));
  }
  c.setup = [call, rex_w, w](TestMachine& m, Start& st, unsigned) {
    const Bytes op = {0xff, static_cast<uint8_t>(call ? 0x1c : 0x2c)};
    m.write(kCode, (rex_w ? Bytes{0x48} : Bytes{}) + abs32(op, D1 - w));
    m.write(kTarget, kHlt);
    if (rex_w)
      put64(m, D1 - 8, kTarget);
    else
      put32(m, D1 - 4, static_cast<uint32_t>(kTarget));
    put16(m, D1, rex_w ? kCode64Sel : kCode32Sel);
    st.gpr[kRsp] = S1 + w;
  };
  return c;
}

// --- near transfers and stack instructions ------------------------------------------------------

Case simple64(std::string name, std::vector<Fault> faults,
              std::function<void(TestMachine&, Start&, unsigned)> setup, bool ends_in_int3 = false) {
  Case c;
  c.name = std::move(name);
  c.mode = Mode::k64;
  c.faults = std::move(faults);
  c.setup = std::move(setup);
  c.ends_in_int3 = ends_in_int3;
  return c;
}

std::vector<Case> near_and_stack() {
  std::vector<Case> v;
  v.push_back(simple64("call qword [mem]", {page_fault("target", D0), page_fault("pushed RIP slot", S0)},
                       [](TestMachine& m, Start& st, unsigned) {
                         m.write(kCode, abs32({0xff, 0x14}, D0 + 0x100));
                         m.write(kTarget, kHlt);
                         put64(m, D0 + 0x100, kTarget);
                         st.gpr[kRsp] = S1;
                       }));
  v.push_back(
      simple64("ret imm16", {page_fault("return address", S0)}, [](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, Bytes{0xc2} + imm16(0x20));
        m.write(kTarget, kHlt);
        st.gpr[kRsp] = S0 + 0x800;
        put64(m, S0 + 0x800, kTarget);
      }));
  v.push_back(simple64("push qword [mem]", {page_fault("operand", D0), page_fault("stack slot", S0)},
                       [](TestMachine& m, Start& st, unsigned) {
                         m.write(kCode, abs32({0xff, 0x34}, D0 + 0x10) + kHlt);
                         put64(m, D0 + 0x10, 0x1122334455667788ull);
                         st.gpr[kRsp] = S1;
                       }));
  v.push_back(simple64(
      "pop qword [mem]",
      {page_fault("stack slot", S0), page_fault("destination", D0), write_fault("read-only destination", D0)},
      [](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, abs32({0x8f, 0x04}, D0 + 0x10) + kHlt);
        st.gpr[kRsp] = S0 + 0x800;
        put64(m, S0 + 0x800, 0x1122334455667788ull);
      }));
  // POP [RSP+8]: the destination is addressed with the incremented RSP (S1 + 8).
  v.push_back(simple64("pop qword [rsp+8]", {page_fault("stack slot", S0), page_fault("destination", S1)},
                       [](TestMachine& m, Start& st, unsigned) {
                         m.write(kCode, Bytes{0x8f, 0x44, 0x24, 0x08} + kHlt);
                         st.gpr[kRsp] = S1 - 8;
                         put64(m, S1 - 8, 0x1122334455667788ull);
                       }));
  v.push_back(simple64("popfq", {page_fault("stack slot", S0)}, [](TestMachine& m, Start& st, unsigned) {
    m.write(kCode, Bytes{0x9d} + kHlt);
    st.gpr[kRsp] = S0 + 0x800;
    put64(m, S0 + 0x800, 0x8d7);
  }));
  // ENTER 0x1000, 3: push RBP; copy [RBP-8], [RBP-16]; push the frame pointer; the new stack top
  // must be writable. Faults 0-3: push k is the first on S0; 4, 5: the copied slots (D1, D0);
  // 6: the new stack top (the page below S0).
  Case enter = simple64("enter 0x1000, 3",
                        {page_fault("push of RBP", S0), page_fault("push of the first copy", S0),
                         page_fault("push of the second copy", S0),
                         page_fault("push of the frame pointer", S0), page_fault("read of [RBP-8]", D1),
                         page_fault("read of [RBP-16]", D0), page_fault("new stack top", S0 - kPage)},
                        [](TestMachine& m, Start& st, unsigned k) {
                          m.write(kCode, Bytes{0xc8, 0x00, 0x10, 0x03} + kHlt);
                          st.gpr[kRsp] = S1 + 8 * (k < 4 ? k : 0);
                          st.gpr[kRbp] = D1 + 8;
                          put64(m, D1, 0xaaaa);
                          put64(m, D1 - 8, 0xbbbb);
                        });
  v.push_back(enter);
  v.push_back(simple64("leave", {page_fault("saved RBP", S0)}, [](TestMachine& m, Start& st, unsigned) {
    m.write(kCode, Bytes{0xc9} + kHlt);
    st.gpr[kRbp] = S0 + 0x800;
    put64(m, S0 + 0x800, 0x7777);
  }));
  v.push_back(simple64("pop fs",
                       {page_fault("stack slot", S0), page_fault("FS descriptor", G2),
                        write_fault("FS descriptor accessed-bit write", G2)},
                       [](TestMachine& m, Start& st, unsigned) {
                         m.write(kCode, Bytes{0x0f, 0xa1} + kHlt);
                         st.gpr[kRsp] = S0 + 0x800;
                         put64(m, S0 + 0x800, kDataFreshSel);
                       }));
  return v;
}

// --- string instructions ------------------------------------------------------------------------

// MOVSQ, CMPSB: one source (D0) and one destination (D1) access.
std::vector<Case> strings() {
  std::vector<Case> v;
  v.push_back(simple64(
      "movsq",
      {page_fault("source", D0), page_fault("destination", D1), write_fault("read-only destination", D1)},
      [](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, Bytes{0x48, 0xa5} + kHlt);
        put64(m, D0 + 0x10, 0x0123456789abcdefull);
        st.gpr[kRsi] = D0 + 0x10;
        st.gpr[kRdi] = D1 + 0x10;
      }));
  v.push_back(simple64("cmpsb", {page_fault("first operand", D0), page_fault("second operand", D1)},
                       [](TestMachine& m, Start& st, unsigned) {
                         m.write(kCode, Bytes{0xa6} + kHlt);
                         m.write_value<uint8_t>(D0 + 0x10, 5);
                         m.write_value<uint8_t>(D1 + 0x10, 9);
                         st.gpr[kRsi] = D0 + 0x10;
                         st.gpr[kRdi] = D1 + 0x10;
                       }));
  // REP MOVSB / REPE CMPSB of 64 bytes: the source crosses from D0 to D1 after 16 bytes, the
  // destination from D2 to D3 after 40. A fault restarts after the completed iterations.
  static const uint64_t kDone[4] = {0, 16, 0, 40};
  for (bool cmps : {false, true}) {
    Case c = simple64(cmps ? "repe cmpsb across pages" : "rep movsb across pages",
                      {page_fault("source start", D0), page_fault("source after 16 bytes", D1),
                       page_fault("destination start", D2), page_fault("destination after 40 bytes", D3)},
                      [cmps](TestMachine& m, Start& st, unsigned) {
                        m.write(kCode, Bytes{0xf3, static_cast<uint8_t>(cmps ? 0xa6 : 0xa4)} + kHlt);
                        Bytes src(64);
                        for (unsigned i = 0; i < 64; ++i) src[i] = static_cast<uint8_t>(0x40 + i);
                        m.write(D1 - 16, src);
                        if (cmps) m.write(D3 - 40, src);
                        st.gpr[kRsi] = D1 - 16;
                        st.gpr[kRdi] = D3 - 40;
                        st.gpr[kRcx] = 64;
                      });
    c.progress = [cmps](Snapshot& s, unsigned k) {
      const uint64_t n = kDone[k];
      if (!n) return;
      for (uint64_t i = 0; i < n; ++i) *s.at(s.gpr[kRdi] + i) = *s.at(s.gpr[kRsi] + i);
      s.gpr[kRsi] += n;
      s.gpr[kRdi] += n;
      s.gpr[kRcx] -= n;
      if (cmps) s.rflags = (s.rflags & ~rflags::kArith) | rflags::kZf | rflags::kPf;  // equal bytes
    };
    v.push_back(c);
  }
  Case stos =
      simple64("rep stosq across pages", {page_fault("first element", D0), page_fault("ninth element", D1)},
               [](TestMachine& m, Start& st, unsigned) {
                 m.write(kCode, Bytes{0xf3, 0x48, 0xab} + kHlt);
                 st.gpr[kRdi] = D1 - 64;
                 st.gpr[kRcx] = 16;
               });
  stos.progress = [](Snapshot& s, unsigned k) {
    if (k == 0) return;
    for (unsigned i = 0; i < 8; ++i) std::memcpy(s.at(s.gpr[kRdi] + 8 * i), &s.gpr[kRax], 8);
    s.gpr[kRdi] += 64;
    s.gpr[kRcx] -= 8;
  };
  v.push_back(stos);
  return v;
}

// --- read-modify-write with a memory operand that crosses from D0 to D1 -------------------------

std::vector<Fault> crossing_faults() {
  return {page_fault("first page", D0), page_fault("second page", D1),
          write_fault("first page read-only", D0), write_fault("second page read-only", D1)};
}

Case rmw(std::string name, Bytes code, uint64_t addr, std::vector<Fault> faults) {
  return simple64(std::move(name), std::move(faults), [code, addr](TestMachine& m, Start& st, unsigned) {
    m.write(kCode, code + kHlt);
    put64(m, addr, 0x1111222233334444ull);
    put64(m, addr + 8, 0x5555666677778888ull);
    st.gpr[kRax] = 0x1111222233334444ull;  // CMPXCHG: equal, so that the store changes memory
    st.gpr[kRdx] = 0x5555666677778888ull;
    st.gpr[kRcx] = 3;
  });
}

std::vector<Case> read_modify_write() {
  const uint64_t x = D1 - 4;
  std::vector<Case> v;
  v.push_back(rmw("xchg [mem], rax", Bytes{0x48} + abs32({0x87, 0x04}, x), x, crossing_faults()));
  v.push_back(
      rmw("cmpxchg [mem], rcx", Bytes{0xf0, 0x48} + abs32({0x0f, 0xb1, 0x0c}, x), x, crossing_faults()));
  v.push_back(rmw("xadd [mem], rcx", Bytes{0xf0, 0x48} + abs32({0x0f, 0xc1, 0x0c}, x), x, crossing_faults()));
  v.push_back(rmw("cmpxchg8b [mem]", abs32({0x0f, 0xc7, 0x0c}, x), x, crossing_faults()));
  v.push_back(rmw("cmpxchg16b [mem]", Bytes{0x48} + abs32({0x0f, 0xc7, 0x0c}, D0 + 0x100), D0 + 0x100,
                  {page_fault("operand", D0), write_fault("read-only operand", D0)}));
  v.push_back(rmw("add [mem], rax", Bytes{0x48} + abs32({0x01, 0x04}, x), x, crossing_faults()));
  v.push_back(rmw("shl qword [mem], cl", Bytes{0x48} + abs32({0xd3, 0x24}, x), x, crossing_faults()));
  return v;
}

// --- FXSAVE/FXRSTOR, XSAVE/XRSTOR, SSE/MMX stores -----------------------------------------------

void fill_vector_state(TestMachine& m) {
  CpuState& s = m.state();
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned b = 0; b < 16; ++b) s.xmm[i][b] = static_cast<uint8_t>(0x10 * i + b);
  for (unsigned i = 0; i < 8; ++i) {
    for (unsigned b = 0; b < 8; ++b) s.x87[i][b] = static_cast<uint8_t>(0x80 + 8 * i + b);
    s.x87[i][8] = 0x3f;  // exponent: a normal number
    s.x87[i][9] = 0x40;
  }
  s.fpu_tw = 0;
  s.fpu_cw = 0x27f;
  s.mxcsr = 0x1fa0;
}

// An FXSAVE/XSAVE image at D1 - 256 (crossing into D1) with values unlike the registers.
void write_image(TestMachine& m, bool xsave) {
  Bytes img(576, 0);
  for (unsigned i = 160; i < 416; ++i) img[i] = static_cast<uint8_t>(0xa5 ^ i);
  for (unsigned i = 0; i < 8; ++i) img[32 + 16 * i + 9] = 0x40;
  img[0] = 0x7f;  // FCW 0x037f
  img[1] = 0x03;
  img[4] = 0xff;   // abridged tag: all valid
  img[24] = 0x80;  // MXCSR 0x1f80
  img[25] = 0x1f;
  if (xsave) img[512] = 3;  // XSTATE_BV: x87 and SSE
  m.write(D1 - 256, img.data(), xsave ? 576 : 512);
}

std::vector<Case> vector_state() {
  std::vector<Case> v;
  const uint64_t area = D1 - 256;
  auto with_xsave = [](Start& st, TestMachine& m) {
    st.cr4_or |= cr4::kOsxsave;
    m.state().xcr0 = 3;
    st.gpr[kRax] = 3;
    st.gpr[kRdx] = 0;
  };
  v.push_back(simple64("fxsave", crossing_faults(), [area](TestMachine& m, Start&, unsigned) {
    m.write(kCode, abs32({0x0f, 0xae, 0x04}, area) + kHlt);
    fill_vector_state(m);
  }));
  v.push_back(simple64("fxrstor", {page_fault("first page", D0), page_fault("second page", D1)},
                       [area](TestMachine& m, Start&, unsigned) {
                         m.write(kCode, abs32({0x0f, 0xae, 0x0c}, area) + kHlt);
                         fill_vector_state(m);
                         write_image(m, false);
                       }));
  v.push_back(simple64("xsave", crossing_faults(), [area, with_xsave](TestMachine& m, Start& st, unsigned) {
    m.write(kCode, abs32({0x0f, 0xae, 0x24}, area) + kHlt);
    fill_vector_state(m);
    with_xsave(st, m);
  }));
  v.push_back(simple64("xrstor", {page_fault("first page", D0), page_fault("second page (and header)", D1)},
                       [area, with_xsave](TestMachine& m, Start& st, unsigned) {
                         m.write(kCode, abs32({0x0f, 0xae, 0x2c}, area) + kHlt);
                         fill_vector_state(m);
                         write_image(m, true);
                         with_xsave(st, m);
                       }));
  v.push_back(simple64("movdqu [mem], xmm0", crossing_faults(), [](TestMachine& m, Start&, unsigned) {
    m.write(kCode, abs32({0xf3, 0x0f, 0x7f, 0x04}, D1 - 8) + kHlt);
    fill_vector_state(m);
  }));
  v.push_back(simple64("movdqu xmm0, [mem]", {page_fault("first page", D0), page_fault("second page", D1)},
                       [](TestMachine& m, Start&, unsigned) {
                         m.write(kCode, abs32({0xf3, 0x0f, 0x6f, 0x04}, D1 - 8) + kHlt);
                         fill_vector_state(m);
                         put64(m, D1 - 8, 0x0102030405060708ull);
                         put64(m, D1, 0x1112131415161718ull);
                       }));
  v.push_back(simple64("maskmovq mm0, mm1", crossing_faults(), [](TestMachine& m, Start& st, unsigned) {
    m.write(kCode, Bytes{0x0f, 0xf7, 0xc1} + kHlt);
    fill_vector_state(m);
    std::memset(m.state().x87[1], 0x80, 8);  // MM1: every byte selected (TOP = 0: MMn is ST(n))
    st.gpr[kRdi] = D1 - 4;
  }));
  return v;
}

// --- descriptor tables and segment loads --------------------------------------------------------

std::vector<Case> tables_and_segments() {
  std::vector<Case> v;
  // LGDT/LIDT m16&64: the limit ends D0, the base is on D1. The loaded tables are the current ones
  // with a smaller limit.
  for (bool idt : {false, true}) {
    v.push_back(simple64(
        idt ? "lidt" : "lgdt", {page_fault("limit", D0), page_fault("base", D1)},
        [idt](TestMachine& m, Start& st, unsigned) {
          m.write(kCode, abs32({0x0f, 0x01, static_cast<uint8_t>(idt ? 0x1c : 0x14)}, D1 - 2) + kHlt);
          put16(m, D1 - 2, static_cast<uint16_t>((idt ? st.idtr.limit : kGdtLimit) - 8));
          put64(m, D1, idt ? st.idtr.base : kGdt);
        }));
  }
  v.push_back(simple64("sgdt", crossing_faults(), [](TestMachine& m, Start&, unsigned) {
    m.write(kCode, abs32({0x0f, 0x01, 0x04}, D1 - 2) + kHlt);
  }));
  // LSS RSP / LFS RAX, m16:64: the offset ends D0, the selector starts D1, the descriptor on G2.
  for (bool ss : {true, false}) {
    for (bool fresh : {false, true}) {
      std::vector<Fault> f = {page_fault("offset", D0), page_fault("selector", D1),
                              page_fault("descriptor", G2)};
      if (fresh) f.push_back(write_fault("descriptor accessed-bit write", G2));
      v.push_back(simple64(
          std::string(ss ? "lss rsp" : "lfs rax") + ", m16:64" + (fresh ? " accessed bit clear" : ""), f,
          [ss, fresh](TestMachine& m, Start&, unsigned) {
            m.write(kCode, Bytes{0x48} +
                               abs32({0x0f, static_cast<uint8_t>(ss ? 0xb2 : 0xb4),
                                      static_cast<uint8_t>(ss ? 0x24 : 0x04)},
                                     D1 - 8) +
                               kHlt);
            put64(m, D1 - 8, 0x36000);
            put16(m, D1, fresh ? kDataFreshSel : kDataSel);
          }));
    }
  }
  v.push_back(simple64("mov ss, [mem]",
                       {page_fault("selector", D0), page_fault("descriptor", G2),
                        write_fault("descriptor accessed-bit write", G2)},
                       [](TestMachine& m, Start&, unsigned) {
                         m.write(kCode, abs32({0x8e, 0x14}, D0 + 0x10) + kHlt);
                         put16(m, D0 + 0x10, kDataFreshSel);
                       }));
  return v;
}

// --- INT n, INT3 ---------------------------------------------------------------------------------

// INT n with the IDT at kIdt, the gate's code segment kCode64Sel (G1) and, from CPL 3, RSP0 in a TSS
// at kTss. The 16-byte aligned frame of five slots: fault k (0, 2, 4) opens S0 with slot k.
Case int64(uint8_t vector, bool from_user) {
  Case c;
  c.name = (vector == 3 ? std::string("int3") : "int " + std::to_string(vector)) +
           (from_user ? " from CPL 3" : " at CPL 0");
  c.mode = Mode::k64;
  c.faults = {page_fault("frame slot 0 (SS)", S0), page_fault("frame slot 2 (RFLAGS)", S0),
              page_fault("frame slot 4 (RIP)", S0), page_fault("IDT gate", kIdt),
              page_fault("gate CS descriptor", G1)};
  if (from_user) c.faults.push_back(page_fault("TSS RSP0", kTss));
  c.setup = [vector, from_user](TestMachine& m, Start& st, unsigned k) {
    m.write(kCode, vector == 3 ? kInt3 : Bytes{0xcd, vector});
    m.write(kTarget, kHlt);
    Bytes idt(4096);
    m.read(st.idtr.base, idt.data(), 4096);
    const uint64_t lo = (kTarget & 0xffff) | (uint64_t{kCode64Sel} << 16) | (0xeeull << 40) |
                        (((kTarget >> 16) & 0xffff) << 48);
    std::memcpy(&idt[16 * vector], &lo, 8);
    std::memset(&idt[16 * vector + 8], 0, 8);
    m.write(kIdt, idt);
    st.idtr.base = kIdt;
    const uint64_t top = S1 + 8 * (k < 3 ? 2 * k : 0);
    if (from_user) {
      Bytes tss(0x68, 0);
      std::memcpy(&tss[4], &top, 8);
      tss[0x66] = 0x68;
      m.write(kTss, tss);
      st.tr.base = kTss;
      to_user64(st);
    } else {
      st.gpr[kRsp] = top;
    }
  };
  return c;
}

}  // namespace

std::vector<Case> cases_64bit() {
  std::vector<Case> v = {retf64(false, false),   retf64(true, false),   retf64(true, true),
                         iret64(false),          iret64(true),          far_mem64(true, true),
                         far_mem64(true, false), far_mem64(false, true)};
  for (auto* group : {&near_and_stack, &strings, &read_modify_write, &vector_state, &tables_and_segments})
    for (Case& c : (*group)()) v.push_back(std::move(c));
  v.push_back(int64(7, true));
  v.push_back(int64(7, false));
  v.push_back(int64(3, true));
  return v;
}

}  // namespace vmxsim::test::restart
