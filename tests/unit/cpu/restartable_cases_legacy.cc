// Restartable-instruction cases outside 64-bit mode (restartable.h): 32-bit protected mode with
// paging (far RET/CALL/JMP, IRETD to the same level, to CPL 3 and to virtual-8086 mode,
// PUSHAD/POPAD, ENTER/LEAVE, INT n and INTO with stack switches, LSS, POP SS, LGDT), virtual-8086
// mode (the real-address-mode paths of IRET, far RET and CALL, PUSHA/POPA, ENTER/LEAVE, PUSH/POP
// m16, and INT n into ring 0), and real mode, where the only faults are stack-limit #SS.
#include "tests/unit/cpu/restartable.h"

namespace vmxsim::test::restart {

using namespace vmxsim::cpu;

namespace {

const Bytes kHlt = {0xf4}, kInt3 = {0xcc};

void put32(TestMachine& m, uint64_t a, uint32_t v) { m.write_value<uint32_t>(a, v); }
void put16(TestMachine& m, uint64_t a, uint16_t v) { m.write_value<uint16_t>(a, v); }
Bytes abs32(const Bytes& opcode, uint8_t modrm, uint64_t addr) { return opcode + Bytes{modrm} + imm32(addr); }

const uint64_t S0 = stack_page(0), S1 = stack_page(1), S2 = stack_page(2), S3 = stack_page(3);
const uint64_t D0 = data_page(0), D1 = data_page(1);
const uint64_t G1 = gdt_page(1), G2 = gdt_page(2);

Case make(std::string name, Mode mode, std::vector<Fault> faults,
          std::function<void(TestMachine&, Start&, unsigned)> setup, bool ends_in_int3 = false) {
  Case c;
  c.name = std::move(name);
  c.mode = mode;
  c.faults = std::move(faults);
  c.setup = std::move(setup);
  c.ends_in_int3 = ends_in_int3;
  return c;
}

// Faults of `n` contiguous stack slots read upwards from rSP: fault k opens page S1 with slot k
// (the case puts rSP at S1 - size * k).
std::vector<Fault> read_slots(const std::vector<std::string>& names, uint64_t page) {
  std::vector<Fault> f;
  for (const std::string& s : names) f.push_back(page_fault(s + " slot", page));
  return f;
}

// --- 32-bit protected mode ---------------------------------------------------------------------

Case retf32(bool outer, bool fresh_ss) {
  std::vector<Fault> f = {page_fault("EIP slot", S0), page_fault("CS slot", S1),
                          page_fault("CS descriptor", G1)};
  if (outer) {
    f.push_back(page_fault("ESP slot", S2));
    f.push_back(page_fault("SS slot", S3));
    f.push_back(page_fault("SS descriptor", G2));
    if (fresh_ss) f.push_back(write_fault("SS descriptor accessed-bit write", G2));
  }
  return make(
      std::string("retf ") + (outer ? "imm16 to CPL 3" : "same level") +
          (fresh_ss ? " with SS accessed bit clear" : "") + " (32-bit)",
      Mode::k32, f,
      [outer, fresh_ss](TestMachine& m, Start& st, unsigned) {
        const uint16_t pop_bytes = 8184;  // from the CS slot (start of S1) to the end of S2
        m.write(kCode, outer ? Bytes{0xca} + imm16(pop_bytes) : Bytes{0xcb});
        m.write(kTarget, outer ? kInt3 : kHlt);
        const uint64_t sp = S1 - 4;
        st.gpr[kRsp] = sp;
        put32(m, sp, static_cast<uint32_t>(kTarget));
        put32(m, sp + 4, outer ? kCode32UserSel : kCode32Sel);
        if (outer) {
          put32(m, sp + 8 + pop_bytes, 0x36000);
          put32(m, sp + 12 + pop_bytes, fresh_ss ? kDataUserFreshSel : kDataUserSel);
        }
      },
      outer);
}

// IRETD to the same level (3 slots), to CPL 3 (5 slots) or to virtual-8086 mode (9 slots).
enum class IretTo { kSame, kOuter, kV86 };
Case iret32(IretTo to) {
  static const std::vector<std::string> kNames = {"EIP", "CS", "EFLAGS", "ESP", "SS", "ES", "DS", "FS", "GS"};
  const unsigned n = to == IretTo::kSame ? 3 : to == IretTo::kOuter ? 5 : 9;
  std::vector<Fault> f = read_slots(std::vector<std::string>(kNames.begin(), kNames.begin() + n), S1);
  if (to != IretTo::kV86) f.push_back(page_fault("CS descriptor", G1));
  if (to == IretTo::kOuter) f.push_back(page_fault("SS descriptor", G2));
  const char* name = to == IretTo::kSame    ? "iretd same level"
                     : to == IretTo::kOuter ? "iretd to CPL 3"
                                            : "iretd to virtual-8086 mode";
  return make(
      name, Mode::k32, f,
      [to, n](TestMachine& m, Start& st, unsigned k) {
        m.write(kCode, {0xcf});
        m.write(kTarget, to == IretTo::kSame ? kHlt : kInt3);
        const uint64_t sp = S1 - 4 * (k < n ? k : 0);
        st.gpr[kRsp] = sp;
        uint32_t frame[9] = {static_cast<uint32_t>(kTarget), kCode32Sel, 0x2c7, 0, 0, 0, 0, 0, 0};
        if (to == IretTo::kOuter) {
          frame[1] = kCode32UserSel;
          frame[3] = 0x36000;
          frame[4] = kDataUserSel;
        } else if (to == IretTo::kV86) {
          const uint32_t v86[9] = {0x2000, 0x7000, 0x232c7 /* VM, IOPL 3 */, 0x6000, 0x3000, 0x4000, 0x4000,
                                   0x4000, 0x4000};
          std::memcpy(frame, v86, sizeof frame);
        }
        for (unsigned i = 0; i < n; ++i) put32(m, sp + 4 * i, frame[i]);
      },
      to != IretTo::kSame);
}

std::vector<Case> far32() {
  std::vector<Case> v;
  v.push_back(make(
      "call far ptr16:32", Mode::k32,
      {page_fault("CS descriptor", G1), page_fault("pushed CS slot", S1), page_fault("pushed EIP slot", S0)},
      [](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, Bytes{0x9a} + imm32(kTarget) + imm16(kCode32Sel));
        m.write(kTarget, kHlt);
        st.gpr[kRsp] = S1 + 4;
      }));
  for (bool call : {true, false}) {
    std::vector<Fault> f = {page_fault("pointer offset", D0), page_fault("pointer selector", D1),
                            page_fault("CS descriptor", G1)};
    if (call) {
      f.push_back(page_fault("pushed CS slot", S1));
      f.push_back(page_fault("pushed EIP slot", S0));
    }
    v.push_back(make(std::string(call ? "call" : "jmp") + " far m16:32", Mode::k32, f,
                     [call](TestMachine& m, Start& st, unsigned) {
                       m.write(kCode, abs32({0xff}, call ? 0x1d : 0x2d, D1 - 4));
                       m.write(kTarget, kHlt);
                       put32(m, D1 - 4, static_cast<uint32_t>(kTarget));
                       put16(m, D1, kCode32Sel);
                       st.gpr[kRsp] = S1 + 4;
                     }));
  }
  return v;
}

// PUSHA/POPA at `size` bytes per register, in 32-bit mode or virtual-8086 mode.
std::vector<Case> pusha_popa(Mode mode, unsigned size) {
  static const std::vector<std::string> kPushed = {"AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI"};
  const std::string sfx = mode == Mode::k32 ? " (32-bit)" : " (virtual-8086 mode)";
  const uint64_t base = mode == Mode::kV86 ? S0 : 0;  // SS base in virtual-8086 mode
  std::vector<Case> v;
  std::vector<Fault> push_faults, pop_faults;
  for (unsigned k = 0; k < 8; ++k) push_faults.push_back(page_fault("push of " + kPushed[k], S0));
  for (unsigned k = 0; k < 8; ++k) pop_faults.push_back(page_fault("pop into " + kPushed[7 - k], S1));
  v.push_back(make(
      size == 4 ? "pushad" + sfx : "pusha" + sfx, mode, push_faults,
      [size, base](TestMachine& m, Start& st, unsigned k) {
        m.write(kCode, Bytes{0x60} + kInt3);
        st.gpr[kRsp] = S1 + size * k - base;
      },
      true));
  v.push_back(make(
      size == 4 ? "popad" + sfx : "popa" + sfx, mode, pop_faults,
      [size, base](TestMachine& m, Start& st, unsigned k) {
        m.write(kCode, Bytes{0x61} + kInt3);
        st.gpr[kRsp] = S1 - size * k - base;
        for (unsigned i = 0; i < 8; ++i)
          m.write(S1 - size * k + size * i, imm32(0x10101010u * (i + 1)).data(), size);
      },
      true));
  return v;
}

// ENTER imm16, 3 (32-bit; two frame pointers copied) or ENTER imm16, 2 (virtual-8086 mode; one).
Case enter_legacy(Mode mode) {
  const bool v86 = mode == Mode::kV86;
  const unsigned size = v86 ? 2 : 4, level = v86 ? 2 : 3;
  std::vector<Fault> f;
  for (unsigned k = 0; k < level + 1; ++k) f.push_back(page_fault("push " + std::to_string(k), S0));
  // 32-bit: copies from [EBP-4] (D1) and [EBP-8] (D0); virtual-8086 mode: [BP-2] at S2.
  if (v86) {
    f.push_back(page_fault("read of [BP-2]", S2));
  } else {
    f.push_back(page_fault("read of [EBP-4]", D1));
    f.push_back(page_fault("read of [EBP-8]", D0));
  }
  f.push_back(page_fault("new stack top", v86 ? stack_page(15) : S0 - kPage));
  return make(
      v86 ? "enter 0x1000, 2 (virtual-8086 mode)" : "enter 0x1000, 3 (32-bit)", mode, f,
      [v86, size, level](TestMachine& m, Start& st, unsigned k) {
        m.write(kCode, Bytes{0xc8, 0x00, 0x10, static_cast<uint8_t>(level)} + kInt3);
        const uint64_t base = v86 ? S0 : 0;
        st.gpr[kRsp] = S1 + size * (k <= level ? k : 0) - base;
        st.gpr[kRbp] = (v86 ? S2 + 2 : D1 + 4) - base;
        put32(m, v86 ? S2 : D1, 0xaaaa);
        put32(m, D1 - 4, 0xbbbb);
      },
      true);
}

Case leave_legacy(Mode mode) {
  const uint64_t base = mode == Mode::kV86 ? S0 : 0;
  return make(
      mode == Mode::kV86 ? "leave (virtual-8086 mode)" : "leave (32-bit)", mode,
      {page_fault("saved frame pointer", S0)},
      [base](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, Bytes{0xc9} + kInt3);
        st.gpr[kRbp] = S0 + 0x800 - base;
        put32(m, S0 + 0x800, 0x7777);
      },
      true);
}

// INT n into ring 0 through an IDT at kIdt (gate code segment kCode32Sel on G1) with the ring-0 stack
// from a TSS at kTss (SS0 = kDataSel on G2): from CPL 3 (5 frame slots) or from virtual-8086 mode (9).
// Fault k < slots: the frame's slot k opens S0. INTO at CPL 0 pushes 3 slots on the current stack.
Case int_legacy(Mode mode, uint8_t vector, bool into) {
  const bool v86 = mode == Mode::kV86;
  const unsigned slots = into ? 3 : v86 ? 9 : 5;
  static const std::vector<std::string> kV86Frame = {"GS",  "FS",     "DS", "ES", "SS",
                                                     "ESP", "EFLAGS", "CS", "EIP"};
  std::vector<Fault> f;
  for (unsigned k = 0; k < slots; ++k) f.push_back(page_fault("frame slot " + kV86Frame[9 - slots + k], S0));
  f.push_back(page_fault("IDT gate", kIdt));
  f.push_back(page_fault("gate CS descriptor", G1));
  if (!into) {
    f.push_back(page_fault("TSS ESP0/SS0", kTss));
    f.push_back(page_fault("SS0 descriptor", G2));
  }
  const std::string name =
      into ? "into at CPL 0"
           : "int " + std::to_string(vector) + (v86 ? " from virtual-8086 mode" : " from CPL 3");
  return make(name, mode, f, [v86, vector, into, slots](TestMachine& m, Start& st, unsigned k) {
    m.write(kCode, into ? Bytes{0xce} : Bytes{0xcd, vector});
    m.write(kTarget, kHlt);
    Bytes idt(2048);
    m.read(st.idtr.base, idt.data(), idt.size());
    const uint64_t gate = (kTarget & 0xffff) | (uint64_t{kCode32Sel} << 16) | (0xeeull << 40) |
                          (((kTarget >> 16) & 0xffff) << 48);
    std::memcpy(&idt[8 * vector], &gate, 8);
    m.write(kIdt, idt);
    st.idtr.base = kIdt;
    const uint32_t top = static_cast<uint32_t>(S1 + 4 * (k < slots ? k : 0));
    if (into) {
      st.gpr[kRsp] = top;
      st.rflags |= rflags::kOf;
      return;
    }
    Bytes tss(0x68, 0);
    std::memcpy(&tss[4], &top, 4);
    tss[8] = static_cast<uint8_t>(kDataSel);
    tss[9] = static_cast<uint8_t>(kDataSel >> 8);
    tss[0x66] = 0x68;
    m.write(kTss, tss);
    st.tr.base = kTss;
    if (!v86) to_user32(st);
  });
}

std::vector<Case> segments32() {
  std::vector<Case> v;
  for (bool fresh : {false, true}) {
    std::vector<Fault> f = {page_fault("offset", D0), page_fault("selector", D1),
                            page_fault("SS descriptor", G2)};
    if (fresh) f.push_back(write_fault("SS descriptor accessed-bit write", G2));
    v.push_back(make(std::string("lss esp, m16:32") + (fresh ? " accessed bit clear" : ""), Mode::k32, f,
                     [fresh](TestMachine& m, Start&, unsigned) {
                       m.write(kCode, abs32({0x0f, 0xb2}, 0x25, D1 - 4) + kHlt);
                       put32(m, D1 - 4, 0x36000);
                       put16(m, D1, fresh ? kDataFreshSel : kDataSel);
                     }));
  }
  v.push_back(make("pop ss (32-bit)", Mode::k32,
                   {page_fault("stack slot", S0), page_fault("SS descriptor", G2),
                    write_fault("SS descriptor accessed-bit write", G2)},
                   [](TestMachine& m, Start& st, unsigned) {
                     m.write(kCode, Bytes{0x17, 0x90} + kHlt);
                     st.gpr[kRsp] = S0 + 0x800;
                     put32(m, S0 + 0x800, kDataFreshSel);
                   }));
  // MOVSB with an FS override: the source is FS:ESI (FS based at D2), the destination ES:EDI.
  v.push_back(make("fs movsb (32-bit)", Mode::k32,
                   {page_fault("source", data_page(2)), page_fault("destination", D1)},
                   [](TestMachine& m, Start& st, unsigned) {
                     m.write(kCode, Bytes{0x64, 0xa4} + kHlt);
                     st.seg[kFs].base = data_page(2);
                     m.write_value<uint8_t>(data_page(2) + 0x10, 0x5a);
                     st.gpr[kRsi] = 0x10;
                     st.gpr[kRdi] = D1 + 0x10;
                   }));
  v.push_back(make("lgdt m16&32", Mode::k32, {page_fault("limit", D0), page_fault("base", D1)},
                   [](TestMachine& m, Start&, unsigned) {
                     m.write(kCode, abs32({0x0f, 0x01}, 0x15, D1 - 2) + kHlt);
                     put16(m, D1 - 2, static_cast<uint16_t>(kGdtLimit - 8));
                     put32(m, D1, static_cast<uint32_t>(kGdt));
                   }));
  return v;
}

// --- virtual-8086 mode: CS = 0x7000 (kCode), SS = 0x3000 (kStack), DS = ES = 0x4000 (kData) ----

std::vector<Case> v86() {
  std::vector<Case> v;
  const uint64_t base = S0;  // SS base
  v.push_back(make(
      "iret (virtual-8086 mode)", Mode::kV86, read_slots({"IP", "CS", "FLAGS"}, S1),
      [base](TestMachine& m, Start& st, unsigned k) {
        m.write(kCode, {0xcf});
        m.write(kTarget, kInt3);
        const uint64_t sp = S1 - 2 * k;
        st.gpr[kRsp] = sp - base;
        put16(m, sp, 0x2000);
        put16(m, sp + 2, 0x7000);
        put16(m, sp + 4, 0x00c7);
      },
      true));
  for (bool imm : {false, true}) {
    v.push_back(make(
        std::string("retf") + (imm ? " imm16" : "") + " (virtual-8086 mode)", Mode::kV86,
        read_slots({"IP", "CS"}, S1),
        [base, imm](TestMachine& m, Start& st, unsigned k) {
          m.write(kCode, imm ? Bytes{0xca, 0x00, 0x01} : Bytes{0xcb});
          m.write(kTarget, kInt3);
          const uint64_t sp = S1 - 2 * k;
          st.gpr[kRsp] = sp - base;
          put16(m, sp, 0x2000);
          put16(m, sp + 2, 0x7000);
        },
        true));
  }
  v.push_back(make(
      "call far ptr16:16 (virtual-8086 mode)", Mode::kV86,
      {page_fault("pushed CS slot", S1), page_fault("pushed IP slot", S0)},
      [base](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, Bytes{0x9a} + imm16(0x2000) + imm16(0x7000));
        m.write(kTarget, kInt3);
        st.gpr[kRsp] = S1 + 2 - base;
      },
      true));
  for (bool call : {true, false}) {
    std::vector<Fault> f = {page_fault("pointer offset", D0), page_fault("pointer selector", D1)};
    if (call) {
      f.push_back(page_fault("pushed CS slot", S1));
      f.push_back(page_fault("pushed IP slot", S0));
    }
    v.push_back(make(
        std::string(call ? "call" : "jmp") + " far m16:16 (virtual-8086 mode)", Mode::kV86, f,
        [base, call](TestMachine& m, Start& st, unsigned) {
          m.write(kCode, Bytes{0xff, static_cast<uint8_t>(call ? 0x1e : 0x2e)} + imm16(D1 - 2 - D0));
          m.write(kTarget, kInt3);
          put16(m, D1 - 2, 0x2000);
          put16(m, D1, 0x7000);
          st.gpr[kRsp] = S1 + 2 - base;
        },
        true));
  }
  v.push_back(make(
      "push word [mem] (virtual-8086 mode)", Mode::kV86,
      {page_fault("operand", D0), page_fault("stack slot", S0)},
      [base](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, Bytes{0xff, 0x36} + imm16(0x10) + kInt3);
        put16(m, D0 + 0x10, 0x1234);
        st.gpr[kRsp] = S1 - base;
      },
      true));
  v.push_back(make(
      "pop word [mem] (virtual-8086 mode)", Mode::kV86,
      {page_fault("stack slot", S0), page_fault("destination", D0)},
      [base](TestMachine& m, Start& st, unsigned) {
        m.write(kCode, Bytes{0x8f, 0x06} + imm16(0x10) + kInt3);
        put16(m, S0 + 0x800, 0x1234);
        st.gpr[kRsp] = 0x800;
      },
      true));
  for (Case& c : pusha_popa(Mode::kV86, 2)) v.push_back(std::move(c));
  v.push_back(enter_legacy(Mode::kV86));
  v.push_back(leave_legacy(Mode::kV86));
  v.push_back(int_legacy(Mode::kV86, 5, false));
  return v;
}

// --- real mode: SS = 0x3000; a stack slot faults when it lies above SS.limit (#SS) -------------

// Reads upwards from SP = 0x100: slot k is the first beyond limit 0x100 + size * k - 1.
std::vector<Fault> limit_reads(const std::vector<std::string>& names, unsigned size) {
  std::vector<Fault> f;
  for (unsigned k = 0; k < names.size(); ++k)
    f.push_back(limit_fault(names[k] + " slot", 0x100 + size * k - 1));
  return f;
}
// Pushes downwards from SP = size * k: slot k wraps to 0x10000 - size, above limit 0xfffd.
std::vector<Fault> limit_pushes(const std::vector<std::string>& names) {
  std::vector<Fault> f;
  for (const std::string& n : names) f.push_back(limit_fault(n + " slot", 0xfffd));
  return f;
}

std::vector<Case> real() {
  std::vector<Case> v;
  v.push_back(make("iret (real mode)", Mode::kReal, limit_reads({"IP", "CS", "FLAGS"}, 2),
                   [](TestMachine& m, Start& st, unsigned) {
                     m.write(kCode, {0xcf});
                     m.write(kTarget, kHlt);
                     st.gpr[kRsp] = 0x100;
                     put16(m, S0 + 0x100, 0x2000);
                     put16(m, S0 + 0x102, 0x7000);
                     put16(m, S0 + 0x104, 0x00c7);
                   }));
  v.push_back(make("retf (real mode)", Mode::kReal, limit_reads({"IP", "CS"}, 2),
                   [](TestMachine& m, Start& st, unsigned) {
                     m.write(kCode, {0xcb});
                     m.write(kTarget, kHlt);
                     st.gpr[kRsp] = 0x100;
                     put16(m, S0 + 0x100, 0x2000);
                     put16(m, S0 + 0x102, 0x7000);
                   }));
  v.push_back(make("call far ptr16:16 (real mode)", Mode::kReal, limit_pushes({"pushed CS", "pushed IP"}),
                   [](TestMachine& m, Start& st, unsigned k) {
                     m.write(kCode, Bytes{0x9a} + imm16(0x2000) + imm16(0x7000));
                     m.write(kTarget, kHlt);
                     st.gpr[kRsp] = 2 * k;
                   }));
  v.push_back(make("int 5 (real mode)", Mode::kReal, limit_pushes({"FLAGS", "CS", "IP"}),
                   [](TestMachine& m, Start& st, unsigned k) {
                     m.write(kCode, {0xcd, 0x05});
                     m.write(kTarget, kHlt);
                     put32(m, 5 * 4, 0x70002000);  // IVT: 7000:2000
                     st.gpr[kRsp] = 2 * k;
                   }));
  v.push_back(make("pusha (real mode)", Mode::kReal,
                   limit_pushes({"AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI"}),
                   [](TestMachine& m, Start& st, unsigned k) {
                     m.write(kCode, Bytes{0x60} + kHlt);
                     st.gpr[kRsp] = 2 * k;
                   }));
  v.push_back(make("popa (real mode)", Mode::kReal,
                   limit_reads({"DI", "SI", "BP", "SP", "BX", "DX", "CX", "AX"}, 2),
                   [](TestMachine& m, Start& st, unsigned) {
                     m.write(kCode, Bytes{0x61} + kHlt);
                     st.gpr[kRsp] = 0x100;
                     for (unsigned i = 0; i < 8; ++i)
                       put16(m, S0 + 0x100 + 2 * i, static_cast<uint16_t>(0x1111 * (i + 1)));
                   }));
  v.push_back(make("leave (real mode)", Mode::kReal, {limit_fault("saved BP", 0xff)},
                   [](TestMachine& m, Start& st, unsigned) {
                     m.write(kCode, Bytes{0xc9} + kHlt);
                     st.gpr[kRbp] = 0x100;
                     put16(m, S0 + 0x100, 0x4444);
                   }));
  return v;
}

}  // namespace

std::vector<Case> cases_32bit() {
  std::vector<Case> v = {retf32(false, false),  retf32(true, false),    retf32(true, true),
                         iret32(IretTo::kSame), iret32(IretTo::kOuter), iret32(IretTo::kV86)};
  for (Case& c : far32()) v.push_back(std::move(c));
  for (Case& c : pusha_popa(Mode::k32, 4)) v.push_back(std::move(c));
  v.push_back(enter_legacy(Mode::k32));
  v.push_back(leave_legacy(Mode::k32));
  v.push_back(int_legacy(Mode::k32, 7, false));
  v.push_back(int_legacy(Mode::k32, 4, true));
  for (Case& c : segments32()) v.push_back(std::move(c));
  return v;
}

std::vector<Case> cases_v86() { return v86(); }
std::vector<Case> cases_real() { return real(); }

}  // namespace vmxsim::test::restart
