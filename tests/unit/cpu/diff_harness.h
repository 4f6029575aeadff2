// Differential execution of one instruction snippet: natively on the host (HostRunner) and in
// the simulator (TestMachine in 64-bit mode), from the same registers, flags and memory, and a
// comparison of all sixteen GPRs, the arithmetic flags and DF, the data window and the stack
// window, or of the exception raised.
//
// Flags the SDM leaves undefined are compared only when the host is an Intel processor (the
// simulator models Intel); on other hosts the caller's `undefined` mask removes them from the
// comparison.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/cpu/host_runner.h"
#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test {

namespace fl {
constexpr uint64_t CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
constexpr uint64_t kArith = CF | PF | AF | ZF | SF | OF;
}  // namespace fl

// Memory shared by both sides: a data window at the start of HostRunner's data area and a stack
// window below its default stack top.
constexpr uint64_t kDataWin = HostRunner::kData;
constexpr uint64_t kDataWinSize = 0x2000;  // two pages: accesses may straddle kDataWin + 0x1000
constexpr uint64_t kStackWin = HostRunner::kStackTop - 0x1800;  // includes a page boundary
constexpr uint64_t kStackWinSize = 0x1800;

struct DiffCase {
  HostState in;
  std::vector<uint8_t> data;   // kDataWinSize bytes (empty: zeros)
  std::vector<uint8_t> stack;  // kStackWinSize bytes (empty: zeros)
};

struct DiffOptions {
  uint64_t undefined = 0;        // flags undefined on the architecture for this case
  bool result_undefined = false; // registers and memory are architecturally undefined too
  // Applied to both output states before comparing (e.g. to drop bits that differ because the
  // host runs at CPL 3 and the simulator at CPL 0).
  std::function<void(HostState&)> normalize;
};

// Both sides' outcome of the last check (for reports that print the whole final states).
struct DiffOutcome {
  HostState host, sim;      // final registers and RFLAGS (at the faulting instruction on a fault)
  int host_signal = 0;      // 0: the host did not fault
  int sim_vector = -1;      // -1: the simulator raised no exception
};

class DiffRunner {
 public:
  DiffRunner();
  bool available() const { return m_host != nullptr; }
  const HostCpuInfo& host() const { return HostRunner::cpu_info(); }

  // Runs one case on both sides and compares. A failure message names the snippet and the
  // differences.
  ::testing::AssertionResult check(const std::string& name, const std::vector<uint8_t>& code,
                                   const DiffCase& c, const DiffOptions& o = {}) {
    return check_mode(false, name, code, c, o);
  }
  // The same for 32-bit code: compatibility mode on the host, 32-bit flat protected mode in the
  // simulator. Only the low halves of the eight legacy GPRs are compared.
  ::testing::AssertionResult check32(const std::string& name, const std::vector<uint8_t>& code,
                                     const DiffCase& c, const DiffOptions& o = {}) {
    return check_mode(true, name, code, c, o);
  }

  // Sweeps: counts cases and failures; reports at most a few failures per sweep.
  struct Tally {
    unsigned cases = 0, failures = 0, undefined_mismatches = 0;
  };
  Tally& tally() { return m_tally; }
  void reset_tally() { m_tally = {}; }

  TestMachine& machine() { return m_machine; }
  const DiffOutcome& last() const { return m_last; }

 private:
  ::testing::AssertionResult check_mode(bool compat, const std::string& name,
                                        const std::vector<uint8_t>& code, const DiffCase& c,
                                        const DiffOptions& o);

  HostRunner* m_host;
  TestMachine m_machine;    // 64-bit mode
  TestMachine m_machine32;  // 32-bit protected mode
  std::vector<uint8_t> m_loaded_code, m_loaded_code32;
  Tally m_tally;
  DiffOutcome m_last;
};

DiffRunner& diff_runner();

// Values that exercise carries, signs and boundaries at operand width `w` (bytes), masked to w.
std::vector<uint64_t> edge_values(unsigned w);
uint64_t width_mask(unsigned w);

// Register numbers in the SDM order used by HostState::gpr.
enum Reg : unsigned { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

// A deterministic starting state: distinctive garbage in every GPR, rSP at the stack top,
// rDI/rSI pointing into the data window.
HostState base_state(std::mt19937_64& rng);

}  // namespace vmxsim::test
