#include "tests/unit/cpu/diff_harness.h"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace vmxsim::test {

namespace {

const char* const kRegNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

std::string hex_bytes(const std::vector<uint8_t>& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x ", x);
    s += buf;
  }
  if (!s.empty()) s.pop_back();
  return s;
}

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string flag_names(uint64_t f) {
  static const struct { uint64_t bit; const char* name; } kNames[] = {
      {fl::CF, "CF"}, {fl::PF, "PF"}, {fl::AF, "AF"}, {fl::ZF, "ZF"},
      {fl::SF, "SF"}, {fl::DF, "DF"}, {fl::OF, "OF"}};
  std::string s;
  for (const auto& n : kNames)
    if (f & n.bit) s += std::string(s.empty() ? "" : " ") + n.name;
  return s.empty() ? "-" : s;
}

// Exception vectors a host signal may stand for.
bool vector_matches(int sig, int vector) {
  switch (sig) {
    case SIGFPE: return vector == 0;
    case SIGILL: return vector == 6;
    case SIGSEGV: return vector == 12 || vector == 13 || vector == 14;
    case SIGBUS: return vector == 12 || vector == 13 || vector == 17;
    case SIGTRAP: return vector == 1 || vector == 3;
    default: return false;
  }
}

}  // namespace

uint64_t width_mask(unsigned w) { return w >= 8 ? ~0ull : (1ull << (8 * w)) - 1; }

std::vector<uint64_t> edge_values(unsigned w) {
  const uint64_t m = width_mask(w);
  const uint64_t sb = 1ull << (8 * w - 1);
  const uint64_t raw[] = {0, 1, 2, 3, 4, 7, 8, 9, 0xf, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x7f,
                          0x80, 0x99, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
                          0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
                          0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull,
                          0x5555555555555555ull, 0xaaaaaaaaaaaaaaaaull, 0x0123456789abcdefull,
                          sb - 1, sb, sb + 1, m - 1, m};
  std::vector<uint64_t> v;
  for (uint64_t x : raw) {
    x &= m;
    bool dup = false;
    for (uint64_t y : v) dup |= y == x;
    if (!dup) v.push_back(x);
  }
  return v;
}

HostState base_state(std::mt19937_64& rng) {
  HostState s;
  for (auto& g : s.gpr) g = rng();
  s.gpr[RSP] = HostRunner::kStackTop;
  s.gpr[RDI] = kDataWin + 0x400;
  s.gpr[RSI] = kDataWin + 0x800;
  s.rflags = 2;
  return s;
}

DiffRunner::DiffRunner() : m_host(HostRunner::instance()) {
  m_machine.enter_long_mode();
  m_machine32.enter_protected_mode();
}

DiffRunner& diff_runner() {
  static DiffRunner r;
  return r;
}

::testing::AssertionResult DiffRunner::check_mode(bool compat, const std::string& name,
                                                  const std::vector<uint8_t>& code, const DiffCase& c,
                                                  const DiffOptions& o) {
  ++m_tally.cases;
  std::vector<uint8_t> data = c.data, stack = c.stack;
  data.resize(kDataWinSize, 0);
  stack.resize(kStackWinSize, 0);

  // Host.
  HostState h = c.in;
  std::memcpy(reinterpret_cast<void*>(kDataWin), data.data(), kDataWinSize);
  std::memcpy(reinterpret_cast<void*>(kStackWin), stack.data(), kStackWinSize);
  const int sig = compat ? m_host->run32(code, h) : m_host->run(code, h);
  std::vector<uint8_t> h_data(kDataWinSize), h_stack(kStackWinSize);
  std::memcpy(h_data.data(), reinterpret_cast<void*>(kDataWin), kDataWinSize);
  std::memcpy(h_stack.data(), reinterpret_cast<void*>(kStackWin), kStackWinSize);

  // Simulator.
  TestMachine& m = compat ? m_machine32 : m_machine;
  const uint64_t entry = compat ? HostRunner::kSnippet32 : HostRunner::kSnippet;
  std::vector<uint8_t>& loaded = compat ? m_loaded_code32 : m_loaded_code;
  if (code != loaded) {
    std::vector<uint8_t> bytes = code;
    bytes.push_back(0xf4);
    m.write(entry, bytes);
    loaded = code;
  }
  m.write(kDataWin, data);
  m.write(kStackWin, stack);
  for (unsigned r = 0; r < 16; ++r) m.gpr(r) = compat ? (r < 8 ? c.in.gpr[r] & 0xffffffff : 0) : c.in.gpr[r];
  // IF = 1 as on the host (user mode), so that PUSHF images agree.
  m.set_rflags((c.in.rflags & (fl::kArith | fl::DF)) | 0x202);
  const RunResult rr = m.run(entry, 100000);
  HostState s;
  for (unsigned r = 0; r < 16; ++r) s.gpr[r] = compat ? (r < 8 ? m.gpr(r) & 0xffffffff : 0) : m.gpr(r);
  s.rflags = m.rflags();
  std::vector<uint8_t> s_data(kDataWinSize), s_stack(kStackWinSize);
  m.read(kDataWin, s_data.data(), kDataWinSize);
  m.read(kStackWin, s_stack.data(), kStackWinSize);

  m_last.host = h;
  m_last.sim = s;
  m_last.host_signal = sig;
  m_last.sim_vector = rr.exception;

  const bool intel = host().intel;
  const uint64_t flag_mask = (fl::kArith | fl::DF) & ~(intel ? 0 : o.undefined);
  if (!intel && ((h.rflags ^ s.rflags) & o.undefined & fl::kArith)) ++m_tally.undefined_mismatches;

  std::ostringstream err;
  const bool faulted = sig != 0 || rr.exception >= 0;
  if (faulted) {
    if (sig == 0) err << "  simulator raised vector " << rr.exception << ", the host did not fault\n";
    else if (rr.exception < 0) err << "  host got signal " << sig << ", the simulator raised nothing\n";
    else if (!vector_matches(sig, rr.exception))
      err << "  host signal " << sig << " vs simulator vector " << rr.exception << "\n";
  } else if (!rr.halted) {
    err << "  simulator did not reach the HLT (stop reason " << static_cast<int>(rr.stop) << ")\n";
  }
  if (err.str().empty()) {
    if (!faulted && o.normalize) {
      o.normalize(h);
      o.normalize(s);
    }
    if (!o.result_undefined || faulted) {
      for (unsigned r = 0; r < 16; ++r) {
        if (faulted && r == RSP) continue;  // the simulator's rSP holds the exception frame
        if (h.gpr[r] != s.gpr[r])
          err << "  " << kRegNames[r] << ": host " << hex64(h.gpr[r]) << " sim " << hex64(s.gpr[r]) << "\n";
      }
      for (size_t i = 0; i < kDataWinSize; ++i)
        if (h_data[i] != s_data[i]) {
          err << "  data[" << hex64(kDataWin + i) << "]: host " << hex64(h_data[i]) << " sim "
              << hex64(s_data[i]) << "\n";
          break;
        }
      if (!faulted)
        for (size_t i = 0; i < kStackWinSize; ++i)
          if (h_stack[i] != s_stack[i]) {
            err << "  stack[" << hex64(kStackWin + i) << "]: host " << hex64(h_stack[i]) << " sim "
                << hex64(s_stack[i]) << "\n";
            break;
          }
    }
    if ((h.rflags ^ s.rflags) & flag_mask)
      err << "  flags: host " << flag_names(h.rflags & flag_mask) << " sim "
          << flag_names(s.rflags & flag_mask) << " (differ: " << flag_names((h.rflags ^ s.rflags) & flag_mask)
          << ")\n";
  }
  if (err.str().empty()) return ::testing::AssertionSuccess();
  ++m_tally.failures;
  std::ostringstream msg;
  msg << name << " [" << hex_bytes(code) << "]\n  input:";
  for (unsigned r : {RAX, RCX, RDX, RBX, RSI, RDI})
    msg << " " << kRegNames[r] << "=" << hex64(compat ? c.in.gpr[r] & 0xffffffff : c.in.gpr[r]);
  msg << " flags=" << flag_names(c.in.rflags & (fl::kArith | fl::DF)) << "\n" << err.str();
  return ::testing::AssertionFailure() << msg.str();
}

}  // namespace vmxsim::test
