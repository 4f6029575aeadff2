// A bare Core for unit tests and the differential tester: RAM in a std::vector behind a minimal
// CpuEnv, no SystemC. It builds the system structures a test needs (GDT, IDT with one HLT stub
// per exception vector, identity page tables), puts the core into 64-bit, 32-bit protected or
// real mode, places code, and runs until the core halts.
//
// Physical memory layout (all below kFreeBase is owned by the machine):
//   0x1000 GDT   0x2000 IDT   0x3000 exception stubs (16 bytes per vector, each a HLT)
//   0x4000 TSS (ring-0 stack for exceptions from CPL 3 and virtual-8086 mode)
//   0x10000 page tables (user-accessible)   0xf0000 ring-0 stack top   0xff000 default stack top
//   kFreeBase (0x100000) and above: free for tests
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cpu/code_map.h"
#include "cpu/core.h"
#include "cpu/cpu_env.h"

namespace vmxsim::test {

// CpuEnv over a vector of bytes: RAM is direct-mapped; anything else reads as all-ones and
// ignores writes; no devices, no MSRs; an interrupt only when a test sets `pending_vector`
// (it stays pending: acknowledging does not clear it).
class TestEnv final : public cpu::CpuEnv {
 public:
  explicit TestEnv(size_t ram_bytes) : m_ram(ram_bytes) {}

  uint8_t* dmi_page(uint64_t paddr, bool) override {
    return paddr < m_ram.size() ? m_ram.data() + (paddr & ~0xfffull) : nullptr;
  }
  uint64_t phys_read(uint64_t, unsigned size, cpu::Cycles&) override {
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  }
  void phys_write(uint64_t, unsigned, uint64_t, cpu::Cycles&) override {}
  uint32_t io_read(uint16_t, unsigned size, cpu::Cycles&) override {
    return size >= 4 ? ~0u : (1u << (8 * size)) - 1;
  }
  void io_write(uint16_t port, unsigned, uint32_t value, cpu::Cycles&) override {
    last_io_port = port;
    last_io_value = value;
  }
  bool msr_read(uint32_t, uint64_t&) override { return false; }
  bool msr_write(uint32_t, uint64_t) override { return false; }
  int pending_interrupt() override { return pending_vector; }
  void acknowledge_interrupt(int) override {}
  void set_tpr(uint8_t) override {}
  uint8_t get_tpr() override { return 0; }
  void triple_fault(const char* why) override { triple_fault_reason = why ? why : "?"; }

  std::vector<uint8_t>& ram() { return m_ram; }

  std::string triple_fault_reason;  // empty: no triple fault
  int pending_vector = -1;          // the interrupt controller's output, -1: none
  int last_io_port = -1;
  uint32_t last_io_value = 0;

 private:
  std::vector<uint8_t> m_ram;
};

// The outcome of TestMachine::run.
struct RunResult {
  cpu::StopReason stop = cpu::StopReason::kQuantum;
  bool halted = false;        // the core executed a HLT (the test's own or an exception stub's)
  int exception = -1;         // vector whose stub halted the core, or -1
  uint64_t error_code = 0;    // error code pushed for `exception`, if it has one
  uint64_t fault_rip = 0;     // RIP saved in the exception frame
  bool triple_fault = false;
};

class TestMachine {
 public:
  static constexpr uint64_t kGdt = 0x1000;
  static constexpr uint64_t kIdt = 0x2000;
  static constexpr uint64_t kStubs = 0x3000;  // HLT for vector v at kStubs + 16 * v
  static constexpr uint64_t kTss = 0x4000;
  static constexpr uint64_t kRing0StackTop = 0xf0000;
  static constexpr uint64_t kPageTables = 0x10000;
  static constexpr uint64_t kFreeBase = 0x100000;
  static constexpr uint64_t kDefaultStackTop = 0xff000;

  // Selectors of the flat descriptors in the GDT (all DPL 0 unless noted).
  static constexpr uint16_t kCode64 = 0x08, kData = 0x10, kCode32 = 0x18, kCode16 = 0x20,
                            kData16 = 0x28, kCode64User = 0x33, kDataUser = 0x3b;

  explicit TestMachine(size_t ram_bytes = 16u << 20);
  // With the caller's core parameters (timing tests turn the timing models on).
  TestMachine(size_t ram_bytes, const cpu::CoreParams& params);
  // The parameters the default constructor uses: every latency 1, timing off.
  static cpu::CoreParams default_params();
  ~TestMachine();
  TestMachine(const TestMachine&) = delete;
  TestMachine& operator=(const TestMachine&) = delete;

  cpu::Core& core() { return *m_core; }
  cpu::CpuState& state() { return m_core->s; }
  TestEnv& env() { return m_env; }
  cpu::CodeMap& code_map() { return m_code_map; }
  std::vector<uint8_t>& ram() { return m_env.ram(); }

  // Modes. Each sets CR0/CR4/EFER, GDTR/IDTR and the segment caches directly, CPL 0, RSP at
  // kDefaultStackTop, RFLAGS = 2.
  // 64-bit mode with identity paging of the first 1 GiB (2 MiB pages).
  void enter_long_mode();
  // 32-bit flat protected mode; `paging` adds identity paging of the first 1 GiB (4 MiB pages).
  void enter_protected_mode(bool paging = false);
  // Real mode, all segments 0.
  void enter_real_mode();
  void set_cpl(unsigned cpl) { m_core->set_cpl(cpl); }

  // Physical memory. Writes tell the CodeMap, so decoded blocks over them are dropped.
  void write(uint64_t paddr, const void* src, size_t n);
  void write(uint64_t paddr, const std::vector<uint8_t>& bytes) { write(paddr, bytes.data(), bytes.size()); }
  void read(uint64_t paddr, void* dst, size_t n) const;
  template <typename T>
  T read(uint64_t paddr) const {
    T v;
    read(paddr, &v, sizeof v);
    return v;
  }
  template <typename T>
  void write_value(uint64_t paddr, T v) { write(paddr, &v, sizeof v); }

  // Registers and flags.
  uint64_t& gpr(unsigned r) { return m_core->s.gpr[r]; }
  uint64_t rflags() const { return m_core->rflags(); }
  void set_rflags(uint64_t v) { m_core->set_rflags(v); }

  // Runs from `rip` (CS-relative) until the core halts or `max_cycles` pass. A halted core is
  // woken first, so run() can be called again after a HLT.
  RunResult run(uint64_t rip, cpu::Cycles max_cycles = 1'000'000);
  // Places `code` followed by a HLT at physical (= linear) address `addr` and runs it.
  RunResult run_code(uint64_t addr, const std::vector<uint8_t>& code, cpu::Cycles max_cycles = 1'000'000);

 private:
  void build_gdt();
  void build_idt(bool long_mode);
  void build_tss(bool long_mode);
  void build_page_tables_64();
  void build_page_tables_32();
  void wake();

  TestEnv m_env;
  cpu::CodeMap m_code_map;
  std::unique_ptr<cpu::Core> m_core;
};

}  // namespace vmxsim::test
