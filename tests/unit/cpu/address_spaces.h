// Several 4-level address spaces on a TestMachine in 64-bit mode, for PCID tests: each shares
// the machine's identity map of the first 1 GiB (so code, stack, descriptor tables and the
// tables themselves stay where they are) and maps the linear pages from kLin (1 GiB) through a
// page table of its own, so one linear page can mean a different physical page in each space.
// A small assembler writes the sequences the tests run: CR3/CR4 loads, reads of linear
// addresses into a result array, stores to paging entries, INVLPG and INVPCID.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test {

class AddressSpaces {
 public:
  static constexpr uint64_t kLin = 1ull << 30;  // PDPT entry 1: the first page of each space's own map
  static constexpr uint64_t kP = 1, kRw = 2, kUs = 4, kG = 1u << 8;
  static constexpr uint64_t kNoFlush = 1ull << 63;  // MOV to CR3 bit 63

  // `n` spaces, their paging structures at physical `base` (4 pages each, identity-mapped).
  AddressSpaces(TestMachine& m, unsigned n, uint64_t base) : m_m(m), m_base(base) {
    for (unsigned i = 0; i < n; ++i) {
      m.write_value<uint64_t>(pml4(i), pdpt(i) | kP | kRw | kUs);
      m.write_value<uint64_t>(pdpt(i), (TestMachine::kPageTables + 0x2000) | kP | kRw | kUs);
      m.write_value<uint64_t>(pdpt(i) + 8, pd(i) | kP | kRw | kUs);
      m.write_value<uint64_t>(pd(i), pt(i) | kP | kRw | kUs);
    }
  }
  // CR3 of space `i` with `pcid` in bits 11:0.
  uint64_t cr3(unsigned i, uint16_t pcid = 0) const { return pml4(i) | pcid; }
  // The page-table entry that maps `lin` (kLin <= lin < kLin + 2 MiB) in space `i`.
  uint64_t pte_addr(unsigned i, uint64_t lin) const { return pt(i) + ((lin - kLin) >> 12) * 8; }
  static uint64_t pte(uint64_t phys, bool global = false) {
    return phys | kP | kRw | kUs | (global ? kG : 0);
  }
  // Maps `lin` to `phys` in space `i` now (the test's code can do it later: PcidAsm::store).
  void map(unsigned i, uint64_t lin, uint64_t phys, bool global = false) {
    m_m.write_value<uint64_t>(pte_addr(i, lin), pte(phys, global));
  }

 private:
  uint64_t pml4(unsigned i) const { return m_base + i * 0x4000; }
  uint64_t pdpt(unsigned i) const { return pml4(i) + 0x1000; }
  uint64_t pd(unsigned i) const { return pml4(i) + 0x2000; }
  uint64_t pt(unsigned i) const { return pml4(i) + 0x3000; }
  TestMachine& m_m;
  uint64_t m_base;
};

// 64-bit code for the tests. Clobbers RAX, RCX, RDX.
class PcidAsm {
 public:
  // `results`: where read() stores (identity-mapped in every space); `scratch`: 16 bytes for
  // the INVPCID descriptor.
  PcidAsm(uint64_t results, uint64_t scratch) : m_results(results), m_scratch(scratch) {}

  void set_cr3(uint64_t v) { mov_rax(v); db({0x0f, 0x22, 0xd8}); }  // mov cr3, rax
  void set_cr4(uint64_t v) { mov_rax(v); db({0x0f, 0x22, 0xe0}); }  // mov cr4, rax
  // results[slot] = the 8 bytes at linear `lin`.
  void read(uint64_t lin, unsigned slot) {
    mov_rcx(lin);
    db({0x48, 0x8b, 0x11});  // mov rdx, [rcx]
    mov_rcx(m_results + 8 * slot);
    db({0x48, 0x89, 0x11});  // mov [rcx], rdx
  }
  // The 8 bytes at identity-mapped `addr` = v (a paging entry, say).
  void store(uint64_t addr, uint64_t v) {
    mov_rcx(addr);
    mov_rax(v);
    db({0x48, 0x89, 0x01});  // mov [rcx], rax
  }
  void invlpg(uint64_t lin) {
    mov_rcx(lin);
    db({0x0f, 0x01, 0x39});  // invlpg [rcx]
  }
  void invpcid(uint64_t type, uint16_t pcid, uint64_t lin = 0) {
    store(m_scratch, pcid);
    store(m_scratch + 8, lin);
    mov_rcx(m_scratch);
    mov_rax(type);
    db({0x66, 0x0f, 0x38, 0x82, 0x01});  // invpcid rax, [rcx]
  }
  const std::vector<uint8_t>& code() const { return m_b; }

 private:
  void db(std::initializer_list<int> bytes) {
    for (int x : bytes) m_b.push_back(static_cast<uint8_t>(x));
  }
  void imm64(uint64_t v) {
    for (int i = 0; i < 8; ++i) m_b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void mov_rax(uint64_t v) { db({0x48, 0xb8}); imm64(v); }
  void mov_rcx(uint64_t v) { db({0x48, 0xb9}); imm64(v); }

  uint64_t m_results, m_scratch;
  std::vector<uint8_t> m_b;
};

}  // namespace vmxsim::test
