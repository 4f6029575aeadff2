// VM-entry fuzz target (the VMX issue: "a fuzz target feeds random VMCS contents through VM
// entry: at least 1,000,000 entries without a crash or sanitizer report").
//
// A bare Core (tests/unit/cpu/test_machine.h) in 64-bit mode executes, per iteration, host code
// that does VMXON, VMCLEAR, VMPTRLD, one VMWRITE per VMCS field (values from a table the driver
// fills) and VMLAUNCH or VMRESUME. The VMCS values come from a mix of strategies: fully random,
// a known-good guest (64-bit copy of the host, 32-bit paged, or unrestricted real mode) with 1-3
// fields mutated, random controls inside/outside the capability MSRs, random event injection,
// random MSR-load/store lists, random guest code. HOST_RIP points at a HLT the driver detects.
// Every iteration runs for a bounded number of cycles; a guest still in VMX non-root operation
// afterwards is taken out with an INIT (exit reason 3; a SIPI, exit reason 4, from the
// wait-for-SIPI state, where INIT is blocked), then the core is reset and the host
// state, the system structures and the host code are put back.
//
// Deterministic: splitmix64 from the seed; the RNG of iteration i depends only on (seed, i).
// Usage: vmentry_fuzz [--seed N] [--entries N] [--start I] [--verbose] [--strict]
//        (or VMXSIM_FUZZ_SEED / VMXSIM_FUZZ_ENTRIES). Exit status 0: no escaped exception and
//        every sanity check held (--strict: and no livelock); a crash or sanitizer report ends
//        the process anyway.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu/core.h"
#include "tests/unit/cpu/test_machine.h"
#include "tests/unit/vmx/vmcs_baseline.h"
#include "vmx_model/vmcs.h"
#include "vmx_model/segment_fields.h"
#include "vmx_model/vmcs_fields.h"
#include "vmx_model/vmx_defs.h"
#include "vmx_model/vmx_unit.h"

namespace {

using namespace vmxsim;
using namespace vmxsim::cpu;
using vmxsim::test::TestMachine;
using vmxsim::test::TrueControls;
using vmxsim::test::VmcsLayout;
using vmxsim::test::fill_baseline_vmcs;
using vmxsim::test::set_guest_segment;
namespace vx = vmxsim::vmx;
using F = vx::VmcsField;
constexpr unsigned kN = vx::kNumVmcsFields;

// ---------------------------------------------------------------------------------------------
// Memory map (RAM 4 MiB). Below 0x100000: the TestMachine's GDT/IDT/stubs/TSS/page tables and a
// real-mode IVT at 0 for the real-mode guest template.
constexpr size_t kRam = 4u << 20;
constexpr uint64_t kVmxon = 0x100000;
constexpr uint64_t kVmcs = 0x101000;
constexpr uint64_t kHostCode = 0x103000;   // dispatcher, up to 0x105000
constexpr uint64_t kPtrs = 0x105000;       // [0] VMXON pointer, [8] VMCS pointer
constexpr uint64_t kTable = 0x106000;      // VMWRITE values, 8 bytes per field
constexpr uint64_t kGuestCode = 0x108000;  // fixed guest code variants
constexpr uint64_t kGuestData = 0x109000;
constexpr uint64_t kRandomCode = 0x10a000; // random guest bytes
constexpr uint64_t kMsrArea = 0x120000;    // MSR lists (64 KiB)
constexpr uint64_t kIoBitmapA = 0x130000, kIoBitmapB = 0x131000, kMsrBitmap = 0x132000,
                   kVapic = 0x133000, kApicAccess = 0x134000, kPostedDesc = 0x135000;
constexpr uint64_t kEpt = 0x140000;        // PML4, PDPT (1 GiB pages)
constexpr uint64_t kPd32 = 0x150000;       // 32-bit page directory (4 MiB pages)
constexpr uint64_t kIdt32 = 0x151000;      // 32-bit IDT for the 32-bit guest
constexpr uint64_t kGuestStack = 0x1f0000;
constexpr uint64_t kEptp = kEpt | 6 | (3 << 3);  // WB, 4-level

// ---------------------------------------------------------------------------------------------
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  bool chance(unsigned pct) { return below(100) < pct; }
};

// A tiny assembler: bytes plus rel32 fix-ups.
struct Asm {
  std::vector<uint8_t> b;
  uint64_t base;
  std::vector<std::pair<size_t, std::string>> fix;
  std::map<std::string, size_t> labels;
  explicit Asm(uint64_t base_) : base(base_) {}
  void db(std::initializer_list<int> bytes) { for (int x : bytes) b.push_back(static_cast<uint8_t>(x)); }
  void d32(uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i))); }
  void label(const std::string& n) { labels[n] = b.size(); }
  void jcc(uint8_t cc, const std::string& target) {  // 0F 8x rel32
    db({0x0f, 0x80 | cc});
    fix.emplace_back(b.size(), target);
    d32(0);
  }
  uint64_t addr(const std::string& n) const { return base + labels.at(n); }
  void finish() {
    for (auto& [pos, name] : fix) {
      const int32_t rel = static_cast<int32_t>(labels.at(name) - (pos + 4));
      std::memcpy(&b[pos], &rel, 4);
    }
  }
};

// ---------------------------------------------------------------------------------------------
enum Strategy { kRandom, kMutate, kControls, kInject, kMsrLists, kGuestBytes, kBaselineOnly, kNumStrategies };
const char* const kStrategyName[] = {"fully random", "baseline + 1-3 mutated fields",
                                     "random controls (in/out of caps)", "random event injection",
                                     "random MSR lists", "random guest code bytes",
                                     "unmutated baseline (sanity)"};
enum Template { kT64, kT32, kTReal, kNumTemplates };
const char* const kTemplateName[] = {"64-bit", "32-bit paged", "unrestricted real mode"};

enum Outcome {
  kOutVmfailInvalid, kOutVmfailValid, kOutEntryFailure, kOutExit, kOutForcedInit,
  kOutFaultVmxInsn, kOutHostFault, kOutShutdownRoot, kOutHostElsewhere, kOutSetupFail,
  kOutStuckNonroot, kNumOutcomes
};
const char* const kOutcomeName[] = {
    "VMfailInvalid", "VMfailValid", "VM-entry failure (exit 33/34)", "VM exit to HOST_RIP",
    "guest still in non-root after budget (INIT/SIPI exit forced)", "fault raised by a VMX instruction",
    "host faulted after the VM exit", "shutdown in root operation (triple fault / VMX abort)",
    "host elsewhere after budget (fuzzed host state)", "VMXON/VMCLEAR/VMPTRLD failed",
    "stuck in non-root even after INIT/SIPI"};

struct Stats {
  uint64_t iterations = 0, entries_attempted = 0, entries_ok = 0;
  uint64_t outcome[kNumOutcomes] = {};
  uint64_t vmfail_valid[64] = {};
  uint64_t entry_fail[2] = {};         // 33, 34
  uint64_t exit_reason[vx::kNumExitReasons] = {};
  uint64_t forced_exit_reason[vx::kNumExitReasons] = {};
  uint64_t vmx_fault[32] = {};
  uint64_t host_fault[32] = {};
  uint64_t strategy[kNumStrategies] = {};
  uint64_t strategy_ok[kNumStrategies] = {};
  uint64_t tmpl[kNumTemplates] = {};
  uint64_t tmpl_ok[kNumTemplates] = {};
  uint64_t launch = 0, resume = 0;
  uint64_t guest_halted = 0, guest_shutdown = 0, guest_timeout = 0, guest_wait_sipi = 0;
  uint64_t vmx_aborts = 0, triple_faults = 0, host_not_at_host_rip = 0, multiple_exits = 0;
  std::map<std::string, uint64_t> entry_check;  // failing check names (VMfailValid 7/8, exit 33)
  uint64_t anomalies = 0;
  uint64_t livelocks = 0;
  uint64_t escaped = 0;
};

// Core::run(until) returns when the cycle counter reaches `until`; a core that makes no progress
// in cycles (e.g. an endless chain of exception deliveries, which cost no cycles) never returns.
// The watchdog notices a run whose cycle count has not moved for 100 ms of wall time and stops
// it with Core::request_stop() (the driver then counts a livelock: a simulator bug).
class Watchdog {
 public:
  explicit Watchdog(Core& c) : m_core(c), m_thread([this] { loop(); }) {}
  ~Watchdog() {
    m_quit = true;
    m_thread.join();
  }
  void begin() { ++m_gen; m_running = true; }
  void end() { m_running = false; }
  bool fired() { return m_fired.exchange(false); }

 private:
  void loop() {
    using clock = std::chrono::steady_clock;
    uint64_t last_gen = ~0ull, last_cycles = 0;
    auto since = clock::now();
    while (!m_quit) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!m_running) { last_gen = ~0ull; continue; }
      const uint64_t g = m_gen, cyc = m_core.cycles();  // a racy read of a counter, on purpose
      if (g != last_gen || cyc != last_cycles) {
        last_gen = g;
        last_cycles = cyc;
        since = clock::now();
      } else if (clock::now() - since > std::chrono::milliseconds(100)) {
        m_fired = true;
        m_core.request_stop();
        since = clock::now();
      }
    }
  }
  Core& m_core;
  std::atomic<bool> m_running{false}, m_quit{false}, m_fired{false};
  std::atomic<uint64_t> m_gen{0};
  std::thread m_thread;
};

// ---------------------------------------------------------------------------------------------
class Fuzzer {
 public:
  Fuzzer(uint64_t seed, bool verbose)
      : m_seed(seed), m_verbose(verbose), m_m(kRam), m_host(kHostCode), m_dog(m_m.core()) {}

  void setup();
  void iteration(uint64_t index);
  void report(double seconds) const;
  const Stats& stats() const { return m_st; }
  uint64_t dispatch_cycles() const { return m_dispatch_cycles; }

 private:
  // Value generation.
  void baseline(Template t, uint64_t* v);
  void mutate_field(Rng& r, uint64_t* v, unsigned i);
  uint64_t interesting(Rng& r, unsigned i, const uint64_t* v);
  void random_controls(Rng& r, uint64_t* v);
  void random_injection(Rng& r, uint64_t* v);
  void random_msr_lists(Rng& r, uint64_t* v);
  uint64_t ctl_within(Rng& r, uint64_t cap) {
    const uint32_t must1 = static_cast<uint32_t>(cap), may1 = static_cast<uint32_t>(cap >> 32);
    return must1 | (static_cast<uint32_t>(r.next()) & may1);
  }
  // Machine state.
  void restore();
  void snapshot_region(uint64_t a, size_t n) { m_golden.push_back({a, std::vector<uint8_t>(m_m.ram().begin() + a, m_m.ram().begin() + a + n)}); }
  bool in_dispatcher(uint64_t lin) const { return lin >= kHostCode && lin < kHostCode + m_host.b.size(); }
  void anomaly(uint64_t index, const std::string& what);

  uint64_t m_seed;
  bool m_verbose;
  TestMachine m_m;
  Asm m_host;
  CpuState m_host_state;
  uint64_t m_host_rflags = 0;
  vx::VmxCaps m_caps;
  unsigned m_maxphy = 40;
  uint64_t m_guest_variant[16] = {};
  unsigned m_num_variants = 0;
  uint64_t m_dispatch_cycles = 0;
  uint64_t m_budget = 0;
  struct Region { uint64_t addr; std::vector<uint8_t> bytes; };
  std::vector<Region> m_golden;
  Stats m_st;
  unsigned m_anomalies_printed = 0, m_livelocks_printed = 0;
  Watchdog m_dog;
  bool m_livelock = false;
  void run_for(uint64_t cycles) {
    Core& c = m_m.core();
    m_dog.begin();
    c.run(c.cycles() + cycles);
    m_dog.end();
    if (m_dog.fired()) m_livelock = true;
  }
};

void Fuzzer::anomaly(uint64_t index, const std::string& what) {
  ++m_st.anomalies;
  if (m_anomalies_printed++ < 20)
    std::fprintf(stderr, "ANOMALY seed %" PRIu64 " iteration %" PRIu64 ": %s\n", m_seed, index, what.c_str());
}

void Fuzzer::setup() {
  TestMachine& m = m_m;
  Core& c = m.core();
  m.enter_long_mode();
  m.state().cr4 |= cr4::kVmxe;
  c.mode_changed();
  // IA32_FEATURE_CONTROL: lock + VMX outside SMX.
  if (!c.write_msr(vx::msr::kFeatureControl, vx::feature_control::kLock | vx::feature_control::kVmxOutsideSmx))
    throw std::runtime_error("IA32_FEATURE_CONTROL write refused");
  uint64_t basic = 0;
  if (!c.read_msr(vx::msr::kVmxBasic, basic)) throw std::runtime_error("IA32_VMX_BASIC unreadable");
  m_caps = c.vmx().caps();
  for (uint32_t msr = vx::msr::kVmxBasic; msr <= vx::msr::kVmfunc; ++msr) {
    uint64_t v = 0;
    if (!c.read_msr(msr, v)) continue;
    switch (msr) {  // what the driver uses comes from RDMSR, as a hypervisor would see it
      case vx::msr::kTruePinbasedCtls: m_caps.true_pinbased = v; break;
      case vx::msr::kTrueProcbasedCtls: m_caps.true_procbased = v; break;
      case vx::msr::kProcbasedCtls2: m_caps.procbased2 = v; break;
      case vx::msr::kTrueExitCtls: m_caps.true_exit = v; break;
      case vx::msr::kTrueEntryCtls: m_caps.true_entry = v; break;
      case vx::msr::kMisc: m_caps.misc = v; break;
      default: break;
    }
  }
  m_maxphy = c.params().phys_addr_bits;
  const uint32_t rev = static_cast<uint32_t>(basic & 0x7fffffff);
  m.write_value<uint32_t>(kVmxon, rev);
  m.write_value<uint32_t>(kVmcs, rev);
  m.write_value<uint64_t>(kPtrs, kVmxon);
  m.write_value<uint64_t>(kPtrs + 8, kVmcs);

  // Dispatcher. RBX = &VMXON pointer, R12 = &VMCS pointer, RSI = value table, R8 bit 0: VMCLEAR
  // first, bit 1: VMRESUME instead of VMLAUNCH.
  Asm& a = m_host;
  a.label("start");
  a.db({0xf3, 0x0f, 0xc7, 0x33});  // vmxon [rbx]
  a.jcc(0x6, "fail_vmxon");         // jbe
  a.db({0x41, 0xf6, 0xc0, 0x01});  // test r8b, 1
  a.jcc(0x4, "skip_clear");         // jz
  a.db({0x66, 0x41, 0x0f, 0xc7, 0x34, 0x24});  // vmclear [r12]
  a.jcc(0x6, "fail_clear");
  a.label("skip_clear");
  a.db({0x41, 0x0f, 0xc7, 0x34, 0x24});  // vmptrld [r12]
  a.jcc(0x6, "fail_ptrld");
  for (unsigned i = 0; i < kN; ++i) {
    a.db({0xbf});
    a.d32(vx::field_info(i).encoding);  // mov edi, encoding
    a.db({0x0f, 0x79, 0xbe});           // vmwrite rdi, [rsi + disp32]
    a.d32(8 * i);
  }
  a.db({0x41, 0xf6, 0xc0, 0x02});  // test r8b, 2
  a.jcc(0x5, "resume");             // jnz
  a.label("launch");
  a.db({0x0f, 0x01, 0xc2});         // vmlaunch
  a.label("fail_launch");
  a.db({0xf4});
  a.label("resume");
  a.db({0x0f, 0x01, 0xc3});         // vmresume
  a.label("fail_resume");
  a.db({0xf4});
  a.label("fail_vmxon");
  a.db({0xf4});
  a.label("fail_clear");
  a.db({0xf4});
  a.label("fail_ptrld");
  a.db({0xf4});
  a.label("host_rip");
  a.db({0xf4});
  a.finish();
  if (a.b.size() > 0x2000) throw std::runtime_error("dispatcher too large");
  m.write(kHostCode, a.b);

  // Guest code variants (64-bit encodings; the 32-bit and real-mode guests decode them their way).
  std::vector<uint8_t> g;
  auto variant = [&](std::initializer_list<int> bytes) {
    m_guest_variant[m_num_variants++] = kGuestCode + g.size();
    for (int x : bytes) g.push_back(static_cast<uint8_t>(x));
    for (int x : {0x0f, 0x01, 0xc1, 0xf4, 0xeb, 0xfe}) g.push_back(static_cast<uint8_t>(x));  // vmcall; hlt; jmp $
    while (g.size() % 64) g.push_back(0xcc);
  };
  variant({});                                                  // vmcall
  variant({0x31, 0xc0, 0x0f, 0xa2});                            // xor eax,eax; cpuid
  variant({0xf4});                                              // hlt
  variant({0x48, 0xc7, 0xc0, 0x44, 0x33, 0x22, 0x11, 0x48, 0x01, 0xc3, 0x48, 0x89, 0x04, 0x25,
           0x00, 0x90, 0x10, 0x00, 0x50, 0x59});                // mov rax,imm; add rbx,rax; mov [0x109000],rax; push; pop
  variant({0x0f, 0x0b});                                        // ud2
  variant({0xcc});                                              // int3
  variant({0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xe0,
           0x0f, 0x22, 0xe0});                                  // mov cr3/cr0/cr4 round trips
  variant({0x0f, 0x31, 0xb9, 0x10, 0x00, 0x00, 0x00, 0x0f, 0x32, 0xe4, 0x80, 0xe6, 0x80, 0x0f, 0x01,
           0x38, 0xf3, 0x90, 0x0f, 0x01, 0xf9});                // rdtsc; rdmsr TSC; in; out; invlpg; pause; rdtscp
  variant({0xeb, 0xfe});                                        // jmp $ (spins until the budget ends)
  variant({0xb8, 0x10, 0x00, 0x00, 0x00, 0x8e, 0xd0, 0xfb, 0x90, 0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00,
           0x01, 0x00, 0x00, 0x9d, 0x90, 0x90});                // mov ss; sti; pushf; set TF; popf
  variant({0x0f, 0x78, 0xc8, 0x0f, 0x79, 0xc8, 0x0f, 0x01, 0xc2, 0x0f, 0xc7, 0x33, 0x0f, 0x01, 0xc4});  // vmread/vmwrite/vmlaunch/vmptrld/vmxoff
  variant({0x0f, 0x01, 0x04, 0x25, 0x00, 0x91, 0x10, 0x00, 0x0f, 0x00, 0xc8});  // sgdt [0x109100]; str eax
  variant({0x0f, 0x01, 0x1c, 0x25, 0x00, 0x92, 0x10, 0x00, 0xcc});  // lidt [0x109200] (limit 0); int3: triple fault
  variant({0x0f, 0x09, 0x0f, 0x01, 0xd0, 0x0f, 0xc7, 0xf0});    // wbinvd; xgetbv; rdrand
  m.write(kGuestCode, g);

  // Real-mode IVT at 0 (-> the stubs), a 32-bit IDT, a 32-bit page directory, the EPT.
  std::vector<uint32_t> ivt(256, 0);
  for (unsigned v = 0; v < 32; ++v) ivt[v] = static_cast<uint32_t>(TestMachine::kStubs + 16 * v);
  m.write(0, ivt.data(), ivt.size() * 4);
  std::vector<uint64_t> idt32(256, 0);
  for (unsigned v = 0; v < 32; ++v) {
    const uint64_t off = TestMachine::kStubs + 16 * v;
    idt32[v] = (off & 0xffff) | (uint64_t{TestMachine::kCode32} << 16) | (0xeeull << 40) | ((off >> 16) << 48);
  }
  m.write(kIdt32, idt32.data(), idt32.size() * 8);
  std::vector<uint32_t> pd(1024, 0);
  for (uint32_t i = 0; i < 256; ++i) pd[i] = (i << 22) | 0x87;
  m.write(kPd32, pd.data(), pd.size() * 4);
  std::vector<uint64_t> ept(1024, 0);
  ept[0] = (kEpt + 0x1000) | 7;
  for (uint64_t i = 0; i < 4; ++i) ept[512 + i] = (i << 30) | 7 | (6 << 3) | (1 << 7);
  m.write(kEpt, ept.data(), ept.size() * 8);
  // limit 0 IDTR image at 0x109200 (zero already).

  // Golden copies of what the fuzzing may break.
  snapshot_region(0, 0x5000);                       // IVT, GDT, IDT, stubs, TSS
  snapshot_region(TestMachine::kPageTables, 0x3000);
  snapshot_region(kVmxon, 0x10);
  snapshot_region(kHostCode, 0x3000);               // dispatcher + pointers
  snapshot_region(kGuestCode, 0x1000);
  snapshot_region(kEpt, 0x2000);
  snapshot_region(kPd32, 0x2000);

  m_host_state = m.state();
  m_host_rflags = c.rflags();

  // Calibrate the budget: cycles from the start to the VMLAUNCH with a valid baseline.
  uint64_t v[kN];
  baseline(kT64, v);
  m.write(kTable, v, sizeof v);
  const uint64_t c0 = c.cycles();
  c.s.gpr[kRbx] = kPtrs;
  c.s.gpr[kR12] = kPtrs + 8;
  c.s.gpr[kRsi] = kTable;
  c.s.gpr[kR8] = 1;
  c.s.rip = kHostCode;
  c.run(c0 + 10'000'000);
  if (c.vmx().m_entries != 1 || c.vmx().vmcs().get32(F::VM_EXIT_REASON) != vx::kExitVmcall)
    throw std::runtime_error("calibration: the baseline guest did not enter and exit with VMCALL (" +
                             c.vmx().m_last_entry_failure + ")");
  m_dispatch_cycles = c.cycles() - c0;
  m_budget = m_dispatch_cycles + 4000;
  c.vmx().m_entries = 0;
  std::fill(std::begin(c.vmx().m_exits), std::end(c.vmx().m_exits), 0);
}

// The 64-bit guest is the host's own state; the others switch mode.
void Fuzzer::baseline(Template t, uint64_t* v) {
  const CpuState& h = m_host_state;
  std::fill(v, v + kN, 0);
  auto set = [&](F f, uint64_t x) { v[static_cast<unsigned>(f)] = x; };
  auto must1 = [](uint64_t cap) { return static_cast<uint32_t>(cap); };
  auto seg = [&](unsigned slot, const Segment& s) { set_guest_segment(v, slot, s); };
  fill_baseline_vmcs(v, h,
                     TrueControls{m_caps.true_pinbased, m_caps.true_procbased, m_caps.true_exit, m_caps.true_entry},
                     VmcsLayout{kIoBitmapA, kIoBitmapB, kMsrBitmap, kMsrArea, kVapic, kApicAccess, kGuestStack,
                                kGuestCode, m_host.addr("host_rip")},
                     t == kT64);
  // What the fuzzer's controls may turn on points at valid structures too.
  set(F::VIRTUAL_PROCESSOR_ID, 1);
  set(F::POSTED_INTR_DESC_ADDR, kPostedDesc);
  set(F::EPT_POINTER, kEptp);
  Segment tr = h.tr;  // the real-mode template changes its type
  tr.limit = 0x67;
  switch (t) {
    case kT64:
      set(F::GUEST_CR0, h.cr0);
      set(F::GUEST_CR3, h.cr3);
      set(F::GUEST_CR4, h.cr4);
      set(F::GUEST_IA32_EFER, h.efer);
      for (unsigned i = 0; i < kNumSegs; ++i) seg(i, h.seg[i]);
      set(F::GUEST_IDTR_BASE, h.idtr.base);
      set(F::GUEST_IDTR_LIMIT, h.idtr.limit);
      break;
    case kT32: {
      set(F::GUEST_CR0, cr0::kPe | cr0::kMp | cr0::kEt | cr0::kNe | cr0::kWp | cr0::kPg);
      set(F::GUEST_CR3, kPd32);
      set(F::GUEST_CR4, cr4::kVmxe | cr4::kPse | cr4::kOsfxsr);
      set(F::GUEST_IA32_EFER, 0);
      for (unsigned i = 0; i < kNumSegs; ++i) {
        Segment s = h.seg[i];
        if (i == kCs) { s.selector = TestMachine::kCode32; s.ar = (s.ar & ~ar::kL) | ar::kDb; }
        seg(i, s);
      }
      set(F::GUEST_IDTR_BASE, kIdt32);
      set(F::GUEST_IDTR_LIMIT, 256 * 8 - 1);
      break;
    }
    case kTReal: {
      set(F::CPU_BASED_VM_EXEC_CONTROL, must1(m_caps.true_procbased) | vx::proc::kHltExiting | vx::proc::kActivateSecondary);
      set(F::SECONDARY_VM_EXEC_CONTROL, vx::proc2::kEnableEpt | vx::proc2::kUnrestrictedGuest | vx::proc2::kEnableVpid);
      set(F::GUEST_CR0, cr0::kEt | cr0::kNe);
      set(F::GUEST_CR3, 0);
      set(F::GUEST_CR4, cr4::kVmxe);
      set(F::GUEST_IA32_EFER, 0);
      for (unsigned i = 0; i < kNumSegs; ++i) {
        Segment s;
        s.selector = 0;
        s.base = 0;
        s.limit = 0xffff;
        s.ar = ar::kP | ar::kS | ar::kAccessed | (i == kCs ? ar::kCodeBit | ar::kCodeReadable : ar::kDataWritable);
        if (i == kCs) { s.base = kGuestCode; s.selector = static_cast<uint16_t>(kGuestCode >> 4); }
        if (i == kSs) { s.base = 0x1e0000; s.selector = 0x1e00; }  // SS base need not match
        seg(i, s);
      }
      tr.ar = ar::kP | 3;  // busy 16-bit TSS
      seg(7, tr);
      set(F::GUEST_RIP, 0);
      set(F::GUEST_RSP, 0xfff0);
      set(F::GUEST_IDTR_BASE, 0);
      set(F::GUEST_IDTR_LIMIT, 0x3ff);
      break;
    }
    default: break;
  }
}

uint64_t Fuzzer::interesting(Rng& r, unsigned i, const uint64_t* v) {
  static const uint64_t kEdges[] = {
      0, ~0ull, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
      0x100000000ull, 0x00007fffffffffffull, 0x0000800000000000ull, 0xffff800000000000ull,
      0xffff7fffffffffffull, 0x8000000000000000ull, 0x7fffffffffffffffull, 0xfff, 0x1000,
      0xfffff000, 0x000000ffffffffffull, 0x0000010000000000ull, 0x3ff, 0x67, 0x8b, 0x9b, 0x93,
      0xa09b, 0xc093, 0x10000 /* unusable */, 0xf3};
  switch (r.below(7)) {
    case 0: return kEdges[r.below(sizeof kEdges / sizeof kEdges[0])];
    case 1: return 1ull << r.below(64);
    case 2: return (1ull << m_maxphy) - (r.below(2) ? 0x1000 : 0) + (r.below(2) ? 0 : 0x1000);
    case 3: return (r.below(kRam) & ~0xfffull) | (r.chance(80) ? 0 : r.below(16));
    case 4: return r.below(32);
    case 5: return v[r.below(kN)];
    default: return r.next();
  }
}

void Fuzzer::mutate_field(Rng& r, uint64_t* v, unsigned i) {
  uint64_t& x = v[i];
  switch (r.below(6)) {
    case 0: x = r.next(); break;
    case 1: x ^= 1ull << r.below(vx::field_info(i).width == vx::FieldWidth::k16 ? 16
                                   : vx::field_info(i).width == vx::FieldWidth::k32 ? 32 : 64); break;
    case 2: x ^= (1ull << r.below(64)) | (1ull << r.below(64)); break;
    case 3: x = interesting(r, i, v); break;
    case 4: x += r.below(2) ? 1 : -1; break;
    default: x = interesting(r, i, v) ^ (r.chance(50) ? 0 : 1ull << r.below(64)); break;
  }
}

void Fuzzer::random_controls(Rng& r, uint64_t* v) {
  auto set = [&](F f, uint64_t x) { v[static_cast<unsigned>(f)] = x; };
  const bool within = r.chance(70);
  auto ctl = [&](uint64_t cap) -> uint64_t {
    if (within) return ctl_within(r, cap);
    switch (r.below(3)) {
      case 0: return static_cast<uint32_t>(r.next());
      case 1: return ctl_within(r, cap) ^ (1u << r.below(32));
      default: return ctl_within(r, cap) & ~(1u << r.below(32));
    }
  };
  set(F::PIN_BASED_VM_EXEC_CONTROL, ctl(m_caps.true_pinbased));
  set(F::CPU_BASED_VM_EXEC_CONTROL, ctl(m_caps.true_procbased));
  set(F::SECONDARY_VM_EXEC_CONTROL, ctl(m_caps.procbased2));
  uint64_t exitv = ctl(m_caps.true_exit);
  uint64_t entryv = ctl(m_caps.true_entry);
  if (within && r.chance(80)) {  // keep the address-space controls right most of the time
    exitv |= vx::exitc::kHostAddrSpaceSize;
    const bool g64 = v[static_cast<unsigned>(F::GUEST_CR0)] & cr0::kPg && v[static_cast<unsigned>(F::VM_ENTRY_CONTROLS)] & vx::entryc::kIa32eModeGuest;
    entryv = g64 ? entryv | vx::entryc::kIa32eModeGuest : entryv & ~vx::entryc::kIa32eModeGuest;
  }
  set(F::VM_EXIT_CONTROLS, exitv);
  set(F::VM_ENTRY_CONTROLS, entryv);
  if (r.chance(50)) set(F::EXCEPTION_BITMAP, r.chance(50) ? r.next() : ~0ull);
  if (r.chance(30)) set(F::PAGE_FAULT_ERROR_CODE_MASK, r.below(32));
  if (r.chance(30)) set(F::PAGE_FAULT_ERROR_CODE_MATCH, r.below(32));
  if (r.chance(30)) set(F::CR3_TARGET_COUNT, r.below(6));
  if (r.chance(50)) set(F::VMX_PREEMPTION_TIMER_VALUE, r.below(r.chance(50) ? 4 : 1000));
  if (r.chance(30)) set(F::CR0_GUEST_HOST_MASK, r.next());
  if (r.chance(30)) set(F::CR4_GUEST_HOST_MASK, r.next());
  if (r.chance(20)) set(F::TPR_THRESHOLD, r.below(32));
  if (r.chance(20)) set(F::VIRTUAL_PROCESSOR_ID, r.below(3));
  if (r.chance(20)) set(F::TSC_OFFSET, r.next());
  if (r.chance(10)) set(F::EPT_POINTER, kEptp ^ (1ull << r.below(12)));
  if (r.chance(10)) set(F::POSTED_INTR_NV, r.below(0x200));
  if (r.chance(30)) {  // ask for EPT + unrestricted guest explicitly
    v[static_cast<unsigned>(F::CPU_BASED_VM_EXEC_CONTROL)] |= vx::proc::kActivateSecondary;
    v[static_cast<unsigned>(F::SECONDARY_VM_EXEC_CONTROL)] |= vx::proc2::kEnableEpt | (r.chance(50) ? vx::proc2::kUnrestrictedGuest : 0);
  }
}

void Fuzzer::random_injection(Rng& r, uint64_t* v) {
  auto set = [&](F f, uint64_t x) { v[static_cast<unsigned>(f)] = x; };
  const uint32_t type = static_cast<uint32_t>(r.below(8));
  uint32_t vec = static_cast<uint32_t>(r.chance(60) ? r.below(32) : r.below(256));
  if (type == vx::intr::kNmi && r.chance(80)) vec = 2;
  if (type == vx::intr::kOtherEvent && r.chance(80)) vec = 0;
  bool err = vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17;
  err = type == vx::intr::kHardwareException ? err : false;
  if (r.chance(10)) err = !err;
  uint32_t info = vx::intr::kValid | (type << vx::intr::kTypeShift) | vec | (err ? vx::intr::kDeliverErrorCode : 0);
  if (r.chance(5)) info |= 1u << (12 + r.below(19));
  set(F::VM_ENTRY_INTR_INFO, info);
  set(F::VM_ENTRY_EXCEPTION_ERROR_CODE, r.chance(90) ? r.below(0x10000) : r.next());
  set(F::VM_ENTRY_INSTRUCTION_LEN, r.chance(90) ? r.below(16) : r.next());
  if (r.chance(30)) set(F::GUEST_RFLAGS, 2 | (r.chance(50) ? rflags::kIf : 0) | (r.chance(20) ? rflags::kTf : 0));
  if (r.chance(30)) set(F::GUEST_INTERRUPTIBILITY_INFO, r.below(r.chance(80) ? 16 : 64));
  if (r.chance(30)) set(F::GUEST_ACTIVITY_STATE, r.below(r.chance(90) ? 4 : 8));
  if (r.chance(20)) set(F::GUEST_PENDING_DBG_EXCEPTIONS, r.chance(50) ? (1u << 14) : r.below(0x10000));
  if (r.chance(20)) set(F::EXCEPTION_BITMAP, r.next());
  if (r.chance(20)) {  // MTF for "other event" injections
    v[static_cast<unsigned>(F::CPU_BASED_VM_EXEC_CONTROL)] |= vx::proc::kMonitorTrapFlag;
  }
  if (r.chance(20)) {  // virtual NMIs
    v[static_cast<unsigned>(F::PIN_BASED_VM_EXEC_CONTROL)] |= vx::pin::kNmiExiting | (r.chance(50) ? vx::pin::kVirtualNmis : 0);
  }
  if (r.chance(10)) set(F::GUEST_IDTR_LIMIT, r.below(0x200));
}

void Fuzzer::random_msr_lists(Rng& r, uint64_t* v) {
  static const uint32_t kMsrs[] = {0x10, 0x3a, 0x174, 0x175, 0x176, 0x1d9, 0x277, 0x2ff, 0x1a0,
                                   0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
                                   0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0x9e, 0x9b,
                                   0x808, 0x80b, 0x480, 0x48d, 0x200, 0x20f, 0x250, 0x1b,
                                   0xffffffff, 0, 0x8b, 0x17a};
  auto set = [&](F f, uint64_t x) { v[static_cast<unsigned>(f)] = x; };
  const F addrs[] = {F::VM_ENTRY_MSR_LOAD_ADDR, F::VM_EXIT_MSR_STORE_ADDR, F::VM_EXIT_MSR_LOAD_ADDR};
  const F counts[] = {F::VM_ENTRY_MSR_LOAD_COUNT, F::VM_EXIT_MSR_STORE_COUNT, F::VM_EXIT_MSR_LOAD_COUNT};
  for (unsigned l = 0; l < 3; ++l) {
    if (!r.chance(60)) continue;
    const unsigned n = static_cast<unsigned>(r.below(24));
    uint64_t base = kMsrArea + 0x4000 * l + 16 * r.below(64);
    std::vector<uint8_t> bytes(16 * n);
    for (unsigned k = 0; k < n; ++k) {
      uint32_t idx = r.chance(85) ? kMsrs[r.below(sizeof kMsrs / 4)] : static_cast<uint32_t>(r.next());
      uint32_t rsvd = r.chance(95) ? 0 : static_cast<uint32_t>(r.next());
      uint64_t data = r.chance(30) ? 0 : r.chance(50) ? r.below(0x100000) : r.next();
      if (idx == 0x277 && r.chance(70)) data = 0x0007040600070406ull;
      if (idx == 0xc0000080 && r.chance(70)) data = m_host_state.efer;
      std::memcpy(&bytes[16 * k], &idx, 4);
      std::memcpy(&bytes[16 * k + 4], &rsvd, 4);
      std::memcpy(&bytes[16 * k + 8], &data, 8);
    }
    if (n) m_m.write(base, bytes);
    switch (r.below(10)) {
      case 0: base = r.next(); break;
      case 1: base += 1 + r.below(15); break;
      case 2: base = kRam - 16 * r.below(4); break;                    // runs off the end of RAM
      case 3: base = (1ull << m_maxphy) - 16 * r.below(4); break;      // beyond MAXPHYADDR
      default: break;
    }
    set(addrs[l], base);
    uint64_t cnt = n;
    switch (r.below(8)) {
      case 0: cnt = r.next() & 0xffffffff; break;
      case 1: cnt = n + 1 + r.below(4); break;   // runs into whatever follows
      case 2: cnt = r.below(n + 1); break;
      default: break;
    }
    set(counts[l], cnt);
  }
}

// Puts back the system structures and the host code if the last iteration overwrote them.
void Fuzzer::restore() {
  auto& ram = m_m.ram();
  for (const Region& g : m_golden)
    if (std::memcmp(ram.data() + g.addr, g.bytes.data(), g.bytes.size()) != 0) m_m.write(g.addr, g.bytes);
}

void Fuzzer::iteration(uint64_t index) {
  Rng r{m_seed ^ (index * 0xd1b54a32d192ed03ull)};
  r.next();
  TestMachine& m = m_m;
  Core& c = m.core();
  vx::VmxUnit& u = c.vmx();
  ++m_st.iterations;

  // Fresh processor: power-on reset (leaves VMX operation; IA32_FEATURE_CONTROL stays locked),
  // then the 64-bit host state of setup().
  c.reset(true);
  restore();
  c.s = m_host_state;
  c.set_rflags(m_host_rflags);
  c.mode_changed();
  c.set_cpl(0);
  c.debug_regs_changed();
  c.flush_tlb(true);
  m.env().triple_fault_reason.clear();

  // The VMCS contents.
  const Strategy strat = static_cast<Strategy>(
      [&] {
        const uint64_t p = r.below(100);
        if (p < 10) return kRandom;
        if (p < 50) return kMutate;
        if (p < 68) return kControls;
        if (p < 80) return kInject;
        if (p < 90) return kMsrLists;
        if (p < 97) return kGuestBytes;
        return kBaselineOnly;
      }());
  const Template tmpl = strat == kBaselineOnly ? static_cast<Template>(r.below(kNumTemplates))
                        : r.chance(70) ? kT64 : static_cast<Template>(1 + r.below(2));
  uint64_t v[kN];
  baseline(tmpl, v);
  unsigned variant = static_cast<unsigned>(r.below(m_num_variants));
  if (variant == 8 && !r.chance(10)) variant = 0;  // the spinning guest is expensive: rarely
  if (strat == kBaselineOnly) variant = 0;
  const uint64_t code = m_guest_variant[variant];
  v[static_cast<unsigned>(F::GUEST_RIP)] = tmpl == kTReal ? code - kGuestCode : code;
  std::string mutated;
  switch (strat) {
    case kRandom:
      for (unsigned i = 0; i < kN; ++i) {
        const uint64_t x = r.next();
        v[i] = r.chance(10) ? interesting(r, i, v) : r.chance(50) ? x : (x & (r.chance(50) ? 0xffff : 0xffffffff));
      }
      break;
    case kMutate: {
      const unsigned n = 1 + static_cast<unsigned>(r.below(3));
      for (unsigned k = 0; k < n; ++k) {
        const unsigned i = static_cast<unsigned>(r.below(kN));
        mutate_field(r, v, i);
        if (m_verbose) {
          char buf[40];
          std::snprintf(buf, sizeof buf, "=%#" PRIx64, v[i]);
          mutated += std::string(" ") + vx::field_info(i).name + buf;
        }
      }
      break;
    }
    case kControls: random_controls(r, v); break;
    case kInject: random_injection(r, v); break;
    case kMsrLists: random_msr_lists(r, v); break;
    case kGuestBytes: {
      std::vector<uint8_t> bytes(64);
      for (auto& b : bytes) b = static_cast<uint8_t>(r.next());
      if (r.chance(50)) for (size_t k = 0; k < bytes.size(); k += 7) { bytes[k] = 0x0f; }  // more two-byte opcodes
      m.write(kRandomCode, bytes);
      v[static_cast<unsigned>(F::GUEST_RIP)] = tmpl == kTReal ? kRandomCode - kGuestCode : kRandomCode;
      if (r.chance(30)) mutate_field(r, v, static_cast<unsigned>(r.below(kN)));
      break;
    }
    default: break;
  }
  ++m_st.strategy[strat];
  ++m_st.tmpl[tmpl];
  m.write(kTable, v, sizeof v);
  m.write_value<uint32_t>(kVmcs + vx::region::kRevisionOffset, vx::VmxCaps::kRevision);

  // VMCLEAR + VMLAUNCH normally; sometimes VMRESUME of a VMCS whose region says "launched", and
  // the mismatched pairs (VMfailValid 4/5).
  uint64_t r8 = 1;
  const uint64_t mode = r.below(100);
  uint32_t launched_state = 0;
  if (mode < 75) {
    r8 = 1;  // clear + launch
  } else if (mode < 90) {
    r8 = 2;  // no clear, resume, region launched
    launched_state = 1;
  } else if (mode < 95) {
    r8 = 3;  // clear + resume: VMfailValid 5
  } else {
    r8 = 0;  // no clear, launch of a launched VMCS: VMfailValid 4
    launched_state = 1;
  }
  m.write_value<uint32_t>(kVmcs + vx::region::kLaunchStateOffset, launched_state);
  (r8 & 2) ? ++m_st.resume : ++m_st.launch;

  c.s.gpr[kRbx] = kPtrs;
  c.s.gpr[kR12] = kPtrs + 8;
  c.s.gpr[kRsi] = kTable;
  c.s.gpr[kR8] = r8;
  c.s.rip = kHostCode;
  const uint64_t entries0 = u.m_entries;
  uint64_t exits0[vx::kNumExitReasons];
  std::memcpy(exits0, u.m_exits, sizeof exits0);
  ++m_st.entries_attempted;
  if (m_verbose) {
    std::fprintf(stderr, "iter %" PRIu64 ": %s, %s guest, variant %u, r8=%" PRIu64 "%s%s\n", index,
                 kStrategyName[strat], kTemplateName[tmpl], variant, r8, mutated.empty() ? "" : ", mutated:",
                 mutated.c_str());
    std::fflush(stderr);
  }
  m_livelock = false;
  run_for(m_budget);
  const bool livelock_run = m_livelock;
  const uint64_t stop_rip = c.s.rip, stop_cs_base = c.s.seg[kCs].base;
  const uint32_t stop_cs_limit = c.s.seg[kCs].limit;
  const bool stop_nonroot = c.vmx_nonroot();

  const bool entered = u.m_entries != entries0;
  if (entered) {
    ++m_st.entries_ok;
    ++m_st.strategy_ok[strat];
    ++m_st.tmpl_ok[tmpl];
  }
  Outcome out = kOutHostElsewhere;
  std::string detail;
  if (c.vmx_nonroot()) {
    switch (c.activity()) {
      case ActivityState::kHalted: ++m_st.guest_halted; break;
      case ActivityState::kShutdown: ++m_st.guest_shutdown; break;
      case ActivityState::kWaitForSipi: ++m_st.guest_wait_sipi; break;
      default: ++m_st.guest_timeout; break;
    }
    out = kOutForcedInit;
    // INIT exits with reason 3, except from wait-for-SIPI, where INIT is blocked (SDM §26.2,
    // "INIT signals"): there a SIPI exits with reason 4.
    const bool waits_for_sipi = c.activity() == ActivityState::kWaitForSipi;
    if (waits_for_sipi)
      c.signal_sipi(0x12);
    else
      c.signal_init();
    run_for(2000);
    if (c.vmx_nonroot()) {
      out = kOutStuckNonroot;
      anomaly(index, waits_for_sipi ? "guest still in VMX non-root operation after a SIPI"
                                    : "guest still in VMX non-root operation after an INIT");
    }
    for (unsigned k = 0; k < vx::kNumExitReasons; ++k) m_st.forced_exit_reason[k] += u.m_exits[k] - exits0[k];
  } else {
    const uint64_t lin = (c.s.seg[kCs].base + c.s.rip - 1) & 0xffffffffffffull;
    const bool halted = c.activity() == ActivityState::kHalted;
    const vx::Vmcs& vm = u.vmcs();
    const bool exited = std::memcmp(u.m_exits, exits0, sizeof exits0) != 0;
    const bool at_stub = halted && lin >= TestMachine::kStubs && lin < TestMachine::kStubs + 32 * 16 &&
                         (lin - TestMachine::kStubs) % 16 == 0;
    const unsigned vec = at_stub ? static_cast<unsigned>((lin - TestMachine::kStubs) / 16) : 0;
    if (c.activity() == ActivityState::kShutdown) {
      out = kOutShutdownRoot;
      if (std::strcmp(c.shutdown_reason(), "VMX abort") == 0) ++m_st.vmx_aborts; else ++m_st.triple_faults;
      if (exited) {  // a VMX abort or a triple fault of the host after the exit
        const uint32_t reason = vm.get32(F::VM_EXIT_REASON);
        if (reason & vx::kExitReasonEntryFailure)
          ++m_st.entry_fail[(reason & 0xffff) == vx::kExitMsrLoading ? 1 : 0];
        else
          ++m_st.exit_reason[(reason & 0xffff) % vx::kNumExitReasons];
      }
    } else if (exited) {
      // A VM exit (or VM-entry failure) loaded the host state. With a fuzzed host state the host
      // may then have run anywhere (even the dispatcher again, whose VMWRITEs may overwrite the
      // exit information): the unit's exit counters say what happened, the VMCS only when the
      // host went straight to the HLT at HOST_RIP.
      unsigned first = vx::kNumExitReasons, n_exits = 0;
      for (unsigned k = 0; k < vx::kNumExitReasons; ++k) {
        if (u.m_exits[k] == exits0[k]) continue;
        n_exits += static_cast<unsigned>(u.m_exits[k] - exits0[k]);
        if (first == vx::kNumExitReasons) first = k;
      }
      const bool host_ok = halted && lin == m_host.addr("host_rip");
      const uint32_t reason = vm.get32(F::VM_EXIT_REASON);
      if (host_ok && n_exits == 1 && (reason & 0xffff) != first)
        anomaly(index, "VM_EXIT_REASON " + std::to_string(reason) + " but the unit counted exit " + std::to_string(first));
      const bool entry_failure = first == vx::kExitInvalidGuestState || first == vx::kExitMsrLoading;
      if (host_ok && n_exits == 1 && entry_failure != bool(reason & vx::kExitReasonEntryFailure))
        anomaly(index, "exit reason bit 31 disagrees with the basic reason " + std::to_string(first));
      if (entry_failure) {
        out = kOutEntryFailure;
        ++m_st.entry_fail[first == vx::kExitMsrLoading ? 1 : 0];
        if (first == vx::kExitInvalidGuestState) ++m_st.entry_check["33: " + u.m_last_entry_failure];
        if (entered && n_exits == 1) anomaly(index, "entry failure counted as a successful entry");
      } else {
        out = kOutExit;
        ++m_st.exit_reason[first];
        if (!entered) anomaly(index, "VM exit " + std::to_string(first) + " without a successful VM entry");
      }
      if (n_exits > 1) ++m_st.multiple_exits;
      if (at_stub) {
        out = kOutHostFault;
        ++m_st.host_fault[vec];
      } else if (!host_ok) {
        ++m_st.host_not_at_host_rip;
      }
    } else if (entered) {
      anomaly(index, "VM entry without a VM exit, yet in root operation");
    } else if (halted && (lin == m_host.addr("fail_launch") || lin == m_host.addr("fail_resume"))) {
      const uint64_t fl = c.rflags();
      if (fl & rflags::kCf) {
        out = kOutVmfailInvalid;
      } else if (fl & rflags::kZf) {
        out = kOutVmfailValid;
        const uint32_t err = vm.get32(F::VM_INSTRUCTION_ERROR);
        ++m_st.vmfail_valid[err < 64 ? err : 63];
        if (err == vx::kErrEntryInvalidControls || err == vx::kErrEntryInvalidHostState)
          ++m_st.entry_check[std::to_string(err) + ": " + u.m_last_entry_failure];
        // VMWRITE wrote every field: the current VMCS must hold the table (truncated to each
        // field's width), apart from the VM-instruction error the VMfail just set.
        for (unsigned i = 0; i < kN; ++i) {
          if (i == static_cast<unsigned>(F::VM_INSTRUCTION_ERROR)) continue;
          if (vm.value[i] != vx::truncate_to_width(static_cast<F>(i), v[i]))
            anomaly(index, std::string("VMCS field ") + vx::field_info(i).name + " differs from the VMWRITE value");
        }
      } else {
        anomaly(index, "VMLAUNCH/VMRESUME fell through without CF or ZF");
      }
    } else if (halted && (lin == m_host.addr("fail_vmxon") || lin == m_host.addr("fail_clear") ||
                          lin == m_host.addr("fail_ptrld"))) {
      out = kOutSetupFail;
      anomaly(index, std::string("VMXON/VMCLEAR/VMPTRLD failed at ") +
                         (lin == m_host.addr("fail_vmxon") ? "VMXON" : lin == m_host.addr("fail_clear") ? "VMCLEAR" : "VMPTRLD") +
                         ", error " + std::to_string(vm.get32(F::VM_INSTRUCTION_ERROR)));
    } else if (at_stub) {
      // The fault RIP from the host's 64-bit frame (after an error code for those vectors).
      const bool err = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
      const uint64_t sp = c.s.gpr[kRsp];
      uint64_t frip = 0;
      if (sp + 16 <= kRam) frip = m.read<uint64_t>(sp + (err ? 8 : 0));
      out = kOutFaultVmxInsn;
      ++m_st.vmx_fault[vec];
      anomaly(index, "fault vector " + std::to_string(vec) + " in the dispatcher at offset " +
                         std::to_string(frip - kHostCode));
    } else {
      anomaly(index, "no VM exit, no VMfail, no fault: rip " + std::to_string(c.s.rip));
    }
  }
  if (livelock_run || m_livelock) {
    ++m_st.livelocks;
    if (m_livelocks_printed++ < 20)
      std::fprintf(stderr, "LIVELOCK seed %" PRIu64 " iteration %" PRIu64 ": Core::run made no progress in cycles "
                   "(%s guest, %s; stopped %s at rip %#" PRIx64 ", cs.base %#" PRIx64 " limit %#x)\n",
                   m_seed, index, kTemplateName[tmpl], kStrategyName[strat], stop_nonroot ? "in the guest" : "in root",
                   stop_rip, stop_cs_base, stop_cs_limit);
  }
  if (!m.env().triple_fault_reason.empty() && out != kOutShutdownRoot) ++m_st.triple_faults;
  ++m_st.outcome[out];
  if (strat == kBaselineOnly && (out != kOutExit || u.vmcs().get32(F::VM_EXIT_REASON) != vx::kExitVmcall ||
                                 !entered) && r8 != 3 && r8 != 0)
    anomaly(index, std::string("unmutated ") + kTemplateName[tmpl] + " baseline did not enter and exit with VMCALL: " +
                       kOutcomeName[out] + " (" + u.m_last_entry_failure + ")");
  if (m_verbose)
    std::fprintf(stderr, "  -> %s; exit reason %#x, error %u, last check '%s'\n", kOutcomeName[out],
                 u.vmcs().get32(F::VM_EXIT_REASON), u.vmcs().get32(F::VM_INSTRUCTION_ERROR),
                 u.m_last_entry_failure.c_str());
}

void Fuzzer::report(double seconds) const {
  const Stats& s = m_st;
  auto pct = [&](uint64_t n) { return s.iterations ? 100.0 * n / s.iterations : 0.0; };
  std::printf("== vmentry_fuzz: seed %" PRIu64 ", %" PRIu64 " iterations (VMLAUNCH %" PRIu64 ", VMRESUME %" PRIu64
              ") in %.2f s = %.0f entries/s; dispatcher %" PRIu64 " cycles, budget %" PRIu64 " ==\n",
              m_seed, s.iterations, s.launch, s.resume, seconds, seconds > 0 ? s.iterations / seconds : 0.0,
              m_dispatch_cycles, m_budget);
  std::printf("successful VM entries: %" PRIu64 " (%.1f%%)\n", s.entries_ok, pct(s.entries_ok));
  std::printf("-- outcomes --\n");
  for (unsigned i = 0; i < kNumOutcomes; ++i)
    std::printf("  %-58s %10" PRIu64 "  %5.1f%%\n", kOutcomeName[i], s.outcome[i], pct(s.outcome[i]));
  std::printf("-- VMfailValid by VM-instruction error --\n");
  for (unsigned i = 0; i < 64; ++i)
    if (s.vmfail_valid[i]) std::printf("  error %2u  %10" PRIu64 "\n", i, s.vmfail_valid[i]);
  std::printf("-- VM-entry failures --\n  33 invalid guest state  %10" PRIu64 "\n  34 MSR loading          %10" PRIu64 "\n",
              s.entry_fail[0], s.entry_fail[1]);
  std::printf("-- VM exits to HOST_RIP by basic reason --\n");
  for (unsigned i = 0; i < vx::kNumExitReasons; ++i)
    if (s.exit_reason[i]) std::printf("  %2u %-28s %10" PRIu64 "\n", i, vx::exit_reason_name(i), s.exit_reason[i]);
  std::printf("-- exits after the budget (INIT forced by the driver; guest halted %" PRIu64 ", shutdown %" PRIu64
              ", wait-for-SIPI %" PRIu64 ", running %" PRIu64 ") --\n",
              s.guest_halted, s.guest_shutdown, s.guest_wait_sipi, s.guest_timeout);
  for (unsigned i = 0; i < vx::kNumExitReasons; ++i)
    if (s.forced_exit_reason[i]) std::printf("  %2u %-28s %10" PRIu64 "\n", i, vx::exit_reason_name(i), s.forced_exit_reason[i]);
  std::printf("-- faults raised by VMX instructions in the dispatcher --\n");
  bool any = false;
  for (unsigned i = 0; i < 32; ++i)
    if (s.vmx_fault[i]) { any = true; std::printf("  vector %2u  %10" PRIu64 "\n", i, s.vmx_fault[i]); }
  if (!any) std::printf("  none\n");
  std::printf("-- host faults after a VM exit (fuzzed host state), by vector --\n");
  any = false;
  for (unsigned i = 0; i < 32; ++i)
    if (s.host_fault[i]) { any = true; std::printf("  vector %2u  %10" PRIu64 "\n", i, s.host_fault[i]); }
  if (!any) std::printf("  none\n");
  std::printf("-- VM exits after which the host did not halt at HOST_RIP (fuzzed host state): %" PRIu64
              "; iterations with more than one VM exit (the host re-entered): %" PRIu64 " --\n",
              s.host_not_at_host_rip, s.multiple_exits);
  std::printf("-- shutdowns: triple faults %" PRIu64 ", VMX aborts %" PRIu64 " --\n", s.triple_faults, s.vmx_aborts);
  std::printf("-- strategies (iterations / successful entries) --\n");
  for (unsigned i = 0; i < kNumStrategies; ++i)
    std::printf("  %-40s %10" PRIu64 " %10" PRIu64 "\n", kStrategyName[i], s.strategy[i], s.strategy_ok[i]);
  std::printf("-- guest templates (iterations / successful entries) --\n");
  for (unsigned i = 0; i < kNumTemplates; ++i)
    std::printf("  %-40s %10" PRIu64 " %10" PRIu64 "\n", kTemplateName[i], s.tmpl[i], s.tmpl_ok[i]);
  std::printf("-- most frequent failing entry checks (error 7/8, exit 33) --\n");
  std::vector<std::pair<uint64_t, std::string>> checks;
  for (auto& [k, n] : s.entry_check) checks.emplace_back(n, k);
  std::sort(checks.rbegin(), checks.rend());
  for (size_t i = 0; i < checks.size() && i < 25; ++i) std::printf("  %10" PRIu64 "  %s\n", checks[i].first, checks[i].second.c_str());
  std::printf("  (%zu distinct checks)\n", checks.size());
  std::printf("-- livelocks (Core::run without progress, stopped by the watchdog) %" PRIu64 " --\n", s.livelocks);
  std::printf("-- anomalies %" PRIu64 ", escaped exceptions %" PRIu64 " --\n", s.anomalies, s.escaped);
}

uint64_t parse_u64(const char* s) { return std::strtoull(s, nullptr, 0); }

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 1, entries = 20000, start = 0;
  bool verbose = false, strict = false;
  if (const char* e = std::getenv("VMXSIM_FUZZ_SEED")) seed = parse_u64(e);
  if (const char* e = std::getenv("VMXSIM_FUZZ_ENTRIES")) entries = parse_u64(e);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> uint64_t {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return parse_u64(argv[++i]);
    };
    if (a == "--seed") seed = val();
    else if (a == "--entries") entries = val();
    else if (a == "--start") start = val();
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (a == "--strict") strict = true;  // livelocks fail the run too
    else {
      std::fprintf(stderr, "usage: %s [--seed N] [--entries N] [--start I] [--verbose] [--strict]\n", argv[0]);
      return 2;
    }
  }
  Fuzzer f(seed, verbose);
  try {
    f.setup();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "setup failed: %s\n", e.what());
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t escaped = 0;
  for (uint64_t i = start; i < start + entries; ++i) {
    try {
      f.iteration(i);
    } catch (const std::exception& e) {
      ++escaped;
      std::fprintf(stderr, "FAIL seed %" PRIu64 " iteration %" PRIu64 ": exception escaped the core: %s\n", seed, i, e.what());
    } catch (...) {
      ++escaped;
      std::fprintf(stderr, "FAIL seed %" PRIu64 " iteration %" PRIu64 ": non-std exception escaped the core\n", seed, i);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  f.report(secs);
  if (escaped) std::printf("FAILED: %" PRIu64 " exceptions escaped\n", escaped);
  const bool ok = escaped == 0 && f.stats().anomalies == 0 && (!strict || f.stats().livelocks == 0);
  std::printf("%s\n", ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}
