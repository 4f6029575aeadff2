// Runs a snippet of 64-bit instruction bytes natively on the host CPU with a given register and
// flags state, and reads the state back: the reference side of the differential tests.
//
// The snippet executes at the fixed address kSnippet and its data window is at the fixed
// address kData, both mapped in the test process at those exact addresses. A TestMachine in
// 64-bit mode (identity paging) can place the same bytes and data at the same addresses, so
// RIP-relative operands, absolute addresses and pointers in registers mean the same thing on
// both sides and every register can be compared directly.
//
// Faults in the snippet (SIGFPE for #DE, SIGSEGV, SIGILL, SIGTRAP, SIGBUS) are caught; the
// result then carries the signal and the registers at the faulting instruction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vmxsim::test {

struct HostState {
  uint64_t gpr[16] = {};  // in SDM order: rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15
  uint64_t rflags = 2;    // only CF, PF, AF, ZF, SF, DF and OF are loaded
};

struct HostCpuInfo {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  bool intel = false;
  bool bmi1 = false, bmi2 = false, lzcnt = false, popcnt = false, movbe = false, adx = false;
};

class HostRunner {
 public:
  static constexpr uint64_t kCodePage = 0x00900000;          // trampolines
  static constexpr uint64_t kSnippet = 0x00901000;           // the instructions under test
  static constexpr uint64_t kSnippet32 = 0x00903000;         // same, for 32-bit code
  static constexpr uint64_t kData = 0x00800000;              // test data window
  static constexpr uint64_t kDataSize = 0x10000;
  static constexpr uint64_t kStackTop = kData + kDataSize;   // default rSP for snippets
  static constexpr uint64_t kScratch = 0x00880000;           // runner-private

  // The process-wide runner, or nullptr if the fixed addresses cannot be mapped.
  static HostRunner* instance();
  static const HostCpuInfo& cpu_info();

  // Runs `bytes` once with `st` as input; on return `st` holds the output state. Returns 0, or
  // the signal number if the snippet faulted.
  int run(const std::vector<uint8_t>& bytes, HostState& st);
  // Same for 32-bit code, run in compatibility mode (Linux's 32-bit user code segment) at
  // kSnippet32 with DS = ES = SS = the 32-bit user data segment. Only the low 32 bits of the
  // eight legacy GPRs are loaded and stored (the upper halves come back as zero).
  int run32(const std::vector<uint8_t>& bytes, HostState& st);
  // Whether the host lets this process run 32-bit code (some virtual machines and kernels
  // refuse 32-bit code segments).
  bool compat_available();

  uint8_t* data() { return reinterpret_cast<uint8_t*>(kData); }

 private:
  HostRunner() = default;
  bool init();
  int m_compat = -1;  // unknown, 0, 1
};

}  // namespace vmxsim::test
