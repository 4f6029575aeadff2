// Random-sequence differential tester: random user-mode integer instruction sequences (seq_gen.h)
// run natively on the host CPU and in the simulator from the same registers, flags and memory;
// all sixteen GPRs, the arithmetic flags, DF, the data window and the stack window must agree.
// Flags the SDM leaves undefined at the end of a sequence are masked on non-Intel hosts (the
// rules are in seq_gen.h).
//
// Environment:
//   VMXSIM_DIFF_SEQUENCES=N   sequences to run (default 20000)
//   VMXSIM_DIFF_SEED=S        base seed (default 1); sequence i uses a seed derived from (S, i)
//   VMXSIM_DIFF_FIRST=I       index of the first sequence (to rerun one reported sequence)
//   VMXSIM_DIFF_REPORTS=K     mismatches reported in full (default 5; all are counted)
//   VMXSIM_DIFF_SUMMARY=path  also write the coverage summary to a file
//
// A mismatch report gives the seeds, the minimised sequence (units removed while it still
// mismatches), its disassembly, the initial state and both final states.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "cpu/decode/isa_table.h"
#include "tests/isa/seq_gen.h"

namespace vmxsim::test::isa {
namespace {

using namespace fl;

const char* const kRegNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

uint64_t env_u64(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : def;
}

uint64_t case_seed(uint64_t base, uint64_t index) {
  uint64_t z = base * 0x9e3779b97f4a7c15ull + index + 0x632be59bd9b4e019ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool host_executes_lzcnt() {
  HostState st;
  st.gpr[RCX] = 0;
  st.gpr[RAX] = 0x1234;
  HostRunner::instance()->run({0xf3, 0x0f, 0xbd, 0xc1}, st);  // lzcnt eax, ecx (BSR: unchanged)
  return st.gpr[RAX] == 32;
}

// Whether the host executes `bytes` (with RDI pointing into the data window) without a fault.
bool host_runs(const std::vector<uint8_t>& bytes) {
  HostState st;
  st.gpr[RSP] = HostRunner::kStackTop;
  st.gpr[RDI] = kDataWin;
  return HostRunner::instance()->run(bytes, st) == 0;
}

// Whether gs:[rdi] is [rdi] on the host (Linux leaves GS's base at 0 in user space).
bool host_gs_base_zero() {
  for (uint64_t off : {0x40ull, 0x1238ull}) {
    HostState st;
    st.gpr[RSP] = HostRunner::kStackTop;
    st.gpr[RDI] = kDataWin + off;
    const uint64_t probe = 0x5a5a0000c3c3ull ^ off;
    std::memcpy(reinterpret_cast<void*>(kDataWin + off), &probe, 8);
    if (HostRunner::instance()->run({0x65, 0x48, 0x8b, 0x07}, st) != 0 || st.gpr[RAX] != probe)  // mov rax, gs:[rdi]
      return false;
  }
  return true;
}

GenOptions host_options() {
  const HostCpuInfo& h = HostRunner::cpu_info();
  GenOptions o;
  o.bmi1 = h.bmi1;
  o.bmi2 = h.bmi2;
  o.movbe = h.movbe;
  o.lzcnt = host_executes_lzcnt();
  o.clflushopt = host_runs({0x66, 0x0f, 0xae, 0x3f});  // clflushopt [rdi]
  o.clwb = host_runs({0x66, 0x0f, 0xae, 0x37});        // clwb [rdi]
  o.prefetchwt1 = host_runs({0x0f, 0x0d, 0x17});       // prefetchwt1 [rdi]
  o.gs_base_zero = host_gs_base_zero();
  o.allow_undefined_reads = h.intel;
  return o;
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

struct RunOutcome {
  bool ok = false;
  std::string message;
  DiffOutcome last;
  Replay replay;
};

RunOutcome run_sequence(const Sequence& seq, const DiffCase& c, bool allow_undefined_reads) {
  RunOutcome r;
  r.replay = replay(seq, allow_undefined_reads);
  if (!r.replay.valid) throw std::logic_error("isa_diff_test: sequence violates its own rules");
  DiffOptions o;
  o.undefined = r.replay.undefined;
  const auto code = assemble(seq, HostRunner::kSnippet);
  // The host appends its epilogue; the 32-bit snippet area starts 8 KiB further.
  if (code.size() > HostRunner::kSnippet32 - HostRunner::kSnippet - 0x400)
    throw std::logic_error("isa_diff_test: sequence too long for the snippet area");
  const auto res = diff_runner().check("sequence", code, c, o);
  r.ok = static_cast<bool>(res);
  if (!r.ok) r.message = res.message();
  r.last = diff_runner().last();
  return r;
}

// Drops units while the sequence still mismatches (and still obeys the generator's rules).
Sequence minimise(Sequence seq, const DiffCase& c, bool allow) {
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = seq.size(); i-- > 0 && seq.size() > 1;) {
      Sequence cand = seq;
      cand.erase(cand.begin() + static_cast<long>(i));
      if (!replay(cand, allow).valid) continue;
      if (!run_sequence(cand, c, allow).ok) {
        seq = std::move(cand);
        changed = true;
      }
    }
  }
  return seq;
}

std::string state_lines(const HostState& a, const HostState* other) {
  std::ostringstream s;
  for (unsigned r = 0; r < 16; ++r) {
    const bool diff = other && other->gpr[r] != a.gpr[r];
    s << (diff ? " *" : "  ") << kRegNames[r] << (std::strlen(kRegNames[r]) == 2 ? " " : "") << "="
      << hex(a.gpr[r]) << (r % 4 == 3 ? "\n" : "");
  }
  s << "   flags: " << flag_names(a.rflags & (kArith | DF));
  if (other && ((a.rflags ^ other->rflags) & (kArith | DF)))
    s << "   (differ: " << flag_names((a.rflags ^ other->rflags) & (kArith | DF)) << ")";
  s << "\n";
  return s.str();
}

std::string report(uint64_t base_seed, uint64_t index, const Sequence& original, const Sequence& min,
                   const DiffCase& c, const RunOutcome& r) {
  std::ostringstream s;
  const auto code = assemble(min, HostRunner::kSnippet);
  s << "MISMATCH: VMXSIM_DIFF_SEED=" << base_seed << " VMXSIM_DIFF_FIRST=" << index
    << " VMXSIM_DIFF_SEQUENCES=1  (sequence seed " << hex(case_seed(base_seed, index)) << ")\n"
    << "minimised from " << original.size() << " to " << min.size() << " units, "
    << flatten(min).size() << " instructions:\n"
    << disassemble(code, HostRunner::kSnippet)
    << "flags masked as undefined at the end: " << flag_names(r.replay.undefined) << "\n"
    << "initial state (rbp = data window + 0x800, rsp = stack window + 0x400; memory from the seed):\n"
    << state_lines(c.in, nullptr) << "host final state"
    << (r.last.host_signal ? " (signal " + std::to_string(r.last.host_signal) + ")" : std::string())
    << ":\n" << state_lines(r.last.host, &r.last.sim) << "simulator final state"
    << (r.last.sim_vector >= 0 ? " (exception " + std::to_string(r.last.sim_vector) + ")" : std::string())
    << ":\n" << state_lines(r.last.sim, &r.last.host) << "differences:\n" << r.message << "\n";
  return s.str();
}

struct Coverage {
  uint64_t sequences = 0, instructions = 0, units = 0, setup = 0, faulted = 0, fault_units = 0;
  std::map<std::string, uint64_t> forms;          // "mnemonic form" -> executed count
  std::map<std::string, uint64_t> mnemonics;
  std::map<std::string, uint64_t> addressing;
  std::map<std::string, uint64_t> masked;          // "mnemonic FLAG" -> masked differences
  std::map<std::string, uint64_t> faults;
  uint64_t masked_sequences = 0;
  uint64_t page_crossing = 0;  // sequences with an instruction across a code page boundary

  void add(const Sequence& seq, const RunOutcome& r) {
    ++sequences;
    units += seq.size();
    const auto flat = flatten(seq);
    for (const Insn* in : flat) {
      ++instructions;
      setup += in->setup;
      ++forms[in->key];
      ++mnemonics[ZydisMnemonicGetString(in->mnemonic)];
      if (!in->addressing.empty()) ++addressing[in->addressing];
    }
    if (!seq.empty() && seq.back().may_fault) ++fault_units;
    if (!flat.empty() && flat[0]->bytes.size() > 0x100) ++page_crossing;
    if (r.last.host_signal) {
      ++faulted;
      ++faults["host signal " + std::to_string(r.last.host_signal) + " / simulator vector " +
               std::to_string(r.last.sim_vector)];
    }
    const FlagSet d = (r.last.host.rflags ^ r.last.sim.rflags) & r.replay.undefined & kArith;
    if (d && !r.last.host_signal) {
      ++masked_sequences;
      for (unsigned b = 0; b < 12; ++b)
        if ((d >> b) & 1) {
          const int src = r.replay.source[b];
          const std::string who = src >= 0 && src < static_cast<int>(flat.size())
                                      ? ZydisMnemonicGetString(flat[src]->mnemonic) : "?";
          ++masked[who + " " + flag_names(1ull << b)];
        }
    }
  }

  std::string summary(const GenOptions& o) const {
    std::ostringstream s;
    s << "=== isa_diff coverage ===\n"
      << "sequences: " << sequences << "   units: " << units << "   instructions executed: "
      << instructions << " (" << setup << " of them setup)\n"
      << "sequences ending in a possibly faulting instruction: " << fault_units << ", faulted: "
      << faulted << "\n";
    for (const auto& [k, n] : faults) s << "  " << k << ": " << n << "\n";
    s << "sequences with an instruction across a code page boundary: " << page_crossing << "\n";
    s << "distinct mnemonics: " << mnemonics.size() << "   distinct (mnemonic, form): " << forms.size()
      << "\n"
      << "host: " << HostRunner::cpu_info().vendor << (o.bmi1 ? " bmi1" : "") << (o.bmi2 ? " bmi2" : "")
      << (o.lzcnt ? " lzcnt" : "") << (o.movbe ? " movbe" : "") << (o.clflushopt ? " clflushopt" : "")
      << (o.clwb ? " clwb" : "") << (o.prefetchwt1 ? " prefetchwt1" : "")
      << (o.gs_base_zero ? " gs-base-0" : "") << "\n";
    s << "--- per (mnemonic, form): executed count ---\n";
    std::string cur;
    std::string line;
    for (const auto& [key, n] : forms) {
      // Group by mnemonic (the key without its prefixes and operands).
      std::string mn = key;
      for (const char* p : {"lock ", "rep ", "repe ", "repne ", "a32 "})
        while (mn.rfind(p, 0) == 0) mn = mn.substr(std::strlen(p));
      mn = mn.substr(0, mn.find(' '));
      if (mn != cur) {
        if (!line.empty()) s << line << "\n";
        cur = mn;
        line = "  " + mn + ":";
      }
      line += "  [" + key + "] " + std::to_string(n);
    }
    if (!line.empty()) s << line << "\n";
    s << "--- memory addressing modes ---\n";
    for (const auto& [k, n] : addressing) s << "  " << k << ": " << n << "\n";
    s << "--- supported user-mode integer mnemonics never generated ---\n";
    const std::set<std::string> groups = {"arithmetic", "logic_shift", "mul_div", "bit_ops",
                                          "data_movement", "string_ops", "control_transfer", "misc"};
    const auto& table = cpu::IsaTable::instance();
    unsigned never = 0;
    for (ZydisMnemonic m : table.mnemonics()) {
      const cpu::IsaEntry* e = table.find(m);
      if (!e || !groups.count(e->group)) continue;
      const std::string name = ZydisMnemonicGetString(m);
      if (mnemonics.count(name)) continue;
      ++never;
      const char* why = excluded_reason(m);
      s << "  " << name << " (" << e->group << "): " << (why ? why : "not generated") << "\n";
    }
    if (!never) s << "  (none)\n";
    s << "--- flag differences masked as SDM-undefined (host vs simulator) ---\n"
      << "sequences with a masked difference: " << masked_sequences << "\n";
    for (const auto& [k, n] : masked) s << "  " << k << " (poisoned by this instruction): " << n << "\n";
    s << "--- instructions with a redundant prefix ---\n ";
    for (const auto& [k, n] : redundant_prefixes()) s << " " << k << ": " << n;
    s << "\n";
    if (!encode_failures().empty()) {
      s << "--- encoder refusals (the generator drew again) ---\n ";
      for (const auto& [k, n] : encode_failures()) s << " " << k << ":" << n;
      s << "\n";
    }
    return s.str();
  }
};

class IsaDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!diff_runner().available()) GTEST_SKIP() << "host runner: fixed mappings unavailable";
  }
};

TEST_F(IsaDiff, RandomSequences) {
  const uint64_t count = env_u64("VMXSIM_DIFF_SEQUENCES", 20000);
  const uint64_t seed = env_u64("VMXSIM_DIFF_SEED", 1);
  const uint64_t first = env_u64("VMXSIM_DIFF_FIRST", 0);
  const uint64_t max_reports = env_u64("VMXSIM_DIFF_REPORTS", 5);
  const GenOptions opt = host_options();
  Coverage cov;
  uint64_t mismatches = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = first; i < first + count; ++i) {
    Generator gen(opt, case_seed(seed, i));
    const Sequence seq = gen.sequence();
    const DiffCase c = gen.initial_state();
    const RunOutcome r = run_sequence(seq, c, opt.allow_undefined_reads);
    cov.add(seq, r);
    if (r.ok) continue;
    ++mismatches;
    if (mismatches <= max_reports) {
      const Sequence min = minimise(seq, c, opt.allow_undefined_reads);
      const RunOutcome rm = run_sequence(min, c, opt.allow_undefined_reads);
      ADD_FAILURE() << report(seed, i, seq, min, c, rm.ok ? r : rm);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string sum = cov.summary(opt);
  char tail[200];
  std::snprintf(tail, sizeof tail, "=== %" PRIu64 " sequences (seed %" PRIu64 ", first %" PRIu64
                ") in %.1f s: %" PRIu64 " mismatches ===\n", count, seed, first, secs, mismatches);
  sum += tail;
  std::fputs(sum.c_str(), stdout);
  std::fflush(stdout);
  if (const char* path = std::getenv("VMXSIM_DIFF_SUMMARY")) std::ofstream(path) << sum;
  RecordProperty("sequences", static_cast<int>(count));
  RecordProperty("mismatches", static_cast<int>(mismatches));
  EXPECT_EQ(mismatches, 0u);
}

// The generator's own invariants: deterministic, within its rules, only instructions the
// simulator implements, code within the snippet area.
TEST_F(IsaDiff, GeneratorInvariants) {
  const GenOptions opt = host_options();
  const auto& table = cpu::IsaTable::instance();
  for (uint64_t i = 0; i < 300; ++i) {
    Generator a(opt, case_seed(7, i)), b(opt, case_seed(7, i));
    const Sequence sa = a.sequence(), sb = b.sequence();
    const auto ca = assemble(sa, HostRunner::kSnippet), cb = assemble(sb, HostRunner::kSnippet);
    ASSERT_EQ(ca, cb) << "generation is not deterministic";
    ASSERT_TRUE(replay(sa, opt.allow_undefined_reads).valid);
    ASSERT_LT(ca.size(), 0x1c00u);
    ASSERT_GE(sa.size(), opt.min_units);
    for (const Insn* in : flatten(sa)) {
      if (in->mnemonic == ZYDIS_MNEMONIC_INVALID) continue;  // a deliberate #UD
      ASSERT_NE(table.find(in->mnemonic), nullptr) << in->key << " is not in the simulator's ISA table";
    }
  }
}

// The definedness rules on a few hand-written cases.
TEST_F(IsaDiff, TrackerRules) {
  auto insn = [](FlagSet reads, FlagSet defines, FlagSet undefines) {
    Insn in;
    in.reads = reads;
    in.defines = defines;
    in.undefines = undefines;
    return in;
  };
  Tracker t(false);
  const Insn mul = insn(0, CF | OF, SF | ZF | AF | PF);
  const Insn setz = insn(ZF, 0, 0), adc = insn(CF, kArith, 0), add = insn(0, kArith, 0);
  const Insn inc = insn(0, kArith & ~CF, 0), div = insn(0, 0, kArith);
  ASSERT_TRUE(t.admits(mul));
  t.apply(mul, 0);
  EXPECT_EQ(t.undefined(), SF | ZF | AF | PF);
  EXPECT_FALSE(t.admits(setz));  // ZF undefined after MUL
  EXPECT_TRUE(t.admits(adc));    // CF defined after MUL
  t.apply(div, 1);
  EXPECT_EQ(t.undefined(), kArith);
  t.apply(inc, 2);               // INC leaves CF alone: still undefined
  EXPECT_EQ(t.undefined(), CF);
  EXPECT_FALSE(t.admits(adc));
  EXPECT_EQ(t.undefined_source(0), 1);
  t.apply(add, 3);
  EXPECT_EQ(t.undefined(), 0u);
  Insn needs_cl;
  needs_cl.needs.push_back({RCX, 0xff, 5});
  EXPECT_FALSE(t.admits(needs_cl));
  Insn mov_cl;
  mov_cl.writes = 1u << RCX;
  mov_cl.set_reg = RCX;
  mov_cl.set_value = {0xff, 5};
  t.apply(mov_cl, 4);
  EXPECT_TRUE(t.admits(needs_cl));
  Insn clobber;
  clobber.writes = 1u << RCX;
  t.apply(clobber, 5);
  EXPECT_FALSE(t.admits(needs_cl));
  Insn push;
  push.stack_delta = -8;
  for (int i = 0; i < kStackReach / 8; ++i) t.apply(push, 6 + i);
  EXPECT_FALSE(t.admits(push));  // RSP would leave its window
}

}  // namespace
}  // namespace vmxsim::test::isa
