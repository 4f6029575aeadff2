// Restartable instructions (SDM Vol. 3 §6.5, §6.6): a fault in the middle of an instruction, or a
// VM exit for an EPT violation caused by one of its accesses, leaves the registers, rSP, the
// segment registers with their hidden parts, CPL, RFLAGS and memory (but for accessed and dirty
// flags) as they were before it, so that it can run again. REP string instructions restart with
// the iterations they completed (rSI, rDI, rCX and the elements moved so far).
//
// A Case is one instruction in one mode, with every memory access it makes on a page of its own
// (stack slots, memory operands, descriptor tables, the IDT and the TSS) and one Fault per access.
// A rig (tests/unit/cpu/restartable_test.cc with #PF, tests/unit/vmx/restartable_ept_test.cc with
// EPT violations) runs it once without a fault, and for each fault: takes the page away, runs
// the instruction, checks the fault and that the state is the state before the instruction, gives
// the page back and checks that the retried instruction ends like the run without a fault.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cpu/cpu_state.h"
#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test::restart {

using Bytes = std::vector<uint8_t>;

Bytes operator+(Bytes a, const Bytes& b);
Bytes imm16(uint64_t v);
Bytes imm32(uint64_t v);
Bytes imm64(uint64_t v);

// The test region: mapped with 4 KiB pages (identity) in every paging mode, so that one page can
// be taken away. Each structure a case touches sits on its own page.
constexpr uint64_t kPage = 0x1000;
constexpr uint64_t kRegion = 0x20000, kRegionEnd = 0x80000;
constexpr uint64_t kStack = 0x30000;  // stack pages S0 = kStack, S1 = kStack + kPage, ...
constexpr uint64_t kData = 0x40000;   // memory-operand pages D0, D1, ...
constexpr uint64_t kGdt = 0x50000;    // 3 pages: TestMachine's descriptors, code, data
constexpr uint32_t kGdtLimit = 3 * kPage - 1;
constexpr uint64_t kIdt = 0x58000;     // where a case moves the IDT
constexpr uint64_t kTss = 0x5a000;     // where a case moves the TSS
constexpr uint64_t kCode = 0x70000;    // the instruction under test
constexpr uint64_t kTarget = 0x72000;  // where control transfers go
inline constexpr uint64_t stack_page(unsigned n) { return kStack + n * kPage; }
inline constexpr uint64_t data_page(unsigned n) { return kData + n * kPage; }
inline constexpr uint64_t gdt_page(unsigned n) { return kGdt + n * kPage; }

// Selectors of the test GDT beyond TestMachine's: code segments on its page 1, data segments on
// page 2 (so that reading a code and a stack descriptor fault separately). The "Fresh" ones
// have the accessed bit clear: loading them writes the descriptor.
constexpr uint16_t kCode64Sel = 0x1000, kCode64UserSel = 0x1008 | 3, kCode32Sel = 0x1010,
                   kCode32UserSel = 0x1018 | 3;
constexpr uint16_t kDataSel = 0x2000, kDataUserSel = 0x2008 | 3, kDataFreshSel = 0x2010,
                   kDataUserFreshSel = 0x2018 | 3;
// Writes the test GDT (TestMachine's eight descriptors and the ones above) at kGdt.
void write_gdt(TestMachine& m);

enum class Mode { k64, k32, kV86, kReal };

// The state a case starts from. A rig fills it with its mode's defaults (flat CPL-0 segments,
// a distinct value in every GPR), the case adjusts it, the rig loads it.
struct Start {
  uint64_t gpr[16] = {};
  uint64_t rip = kCode;  // CS-relative
  uint64_t rflags = 2;
  cpu::Segment seg[cpu::kNumSegs];
  unsigned cpl = 0;
  cpu::DescriptorTable idtr;
  cpu::Segment tr;
  uint64_t cr4_or = 0;
};
cpu::Segment flat_segment(uint16_t sel, bool code, unsigned dpl, bool l, bool db);
// CPL 3 in 64-bit mode (TestMachine's user selectors) or 32-bit protected mode (the test GDT's).
void to_user64(Start& st);
void to_user32(Start& st);

// One memory access of the instruction made to fault.
struct Fault {
  std::string what;
  uint64_t page = 0;  // taken away (not present), or only its write permission
  bool write_protect = false;
  // Real mode has no paging: the fault is then an SS limit below the slot (#SS).
  bool by_limit = false;
  uint32_t ss_limit = 0;
};
inline Fault page_fault(std::string what, uint64_t page) {
  return Fault{std::move(what), page, false, false, 0};
}
inline Fault write_fault(std::string what, uint64_t page) {
  return Fault{std::move(what), page, true, false, 0};
}
inline Fault limit_fault(std::string what, uint32_t limit) {
  return Fault{std::move(what), 0, false, true, limit};
}

// The compared state. Memory: the test region, the ring-0 stack page and the default stack page
// (where the event at the end of a case leaves its frame); never page tables.
struct Snapshot {
  uint64_t gpr[16] = {};
  uint64_t rip = 0, rflags = 0;
  unsigned cpl = 0;
  cpu::Segment seg[cpu::kNumSegs];
  cpu::DescriptorTable gdtr, idtr;
  uint8_t xmm[16][16] = {};
  uint8_t x87[8][16] = {};
  uint32_t mxcsr = 0;
  uint16_t fpu_cw = 0, fpu_sw = 0, fpu_tw = 0;
  std::vector<uint8_t> mem;
  uint8_t* at(uint64_t addr);  // a byte of `mem` by physical address
};
struct MemRange {
  uint64_t begin, end;
};
const std::vector<MemRange>& compared_memory();
void fill_memory(Snapshot& snap, const TestMachine& m);
void fill_extended(Snapshot& snap, const cpu::CpuState& s);
void expect_same(const Snapshot& want, const Snapshot& got, const std::string& when);

struct Case {
  std::string name;
  Mode mode;
  std::vector<Fault> faults;
  // Writes the code, the data and the start state for the run that makes fault `k` (a case may
  // move the stack so that the faulting slot is the first one on its page).
  std::function<void(TestMachine&, Start&, unsigned k)> setup;
  // REP string instructions: the state at fault `k` is the state after the iterations it
  // completed; this turns the start snapshot into it.
  std::function<void(Snapshot&, unsigned k)> progress;
  // How the run ends: HLT at CPL 0, or INT3 (CPL 3, virtual-8086 mode) into the exception stub.
  bool ends_in_int3 = false;
};

std::vector<Case> cases_64bit();
std::vector<Case> cases_32bit();
std::vector<Case> cases_v86();
std::vector<Case> cases_real();

// gtest parameter names: letters, digits and '_'; and how gtest prints a case.
std::string test_name(const std::string& s);
void PrintTo(const Case& c, std::ostream* os);

}  // namespace vmxsim::test::restart
