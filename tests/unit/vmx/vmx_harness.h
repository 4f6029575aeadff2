// A minimal VMX harness for unit tests, copied from the dispatcher of tests/fuzz/vmentry_fuzz.cc:
// a bare Core (tests/unit/cpu/test_machine.h, no SystemC) in 64-bit mode runs host code that does
// VMXON, VMCLEAR, VMPTRLD, one VMWRITE per VMCS field (values from a table the test fills) and
// VMLAUNCH. HOST_RIP points at a HLT. The default guest is a copy of the 64-bit host state with
// HLT exiting, sharing the host's IDT (each exception vector's handler is a HLT stub at
// TestMachine::kStubs + 16 * vector, so a delivered guest exception ends in a HLT exit).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cpu/core.h"
#include "tests/unit/cpu/test_machine.h"
#include "tests/unit/vmx/vmcs_baseline.h"
#include "vmx_model/vmcs.h"
#include "vmx_model/segment_fields.h"
#include "vmx_model/vmcs_fields.h"
#include "vmx_model/vmx_defs.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::test {

class VmxHarness {
 public:
  using F = vmx::VmcsField;
  static constexpr unsigned kN = vmx::kNumVmcsFields;
  // Memory map (RAM 4 MiB); below 0x100000 the TestMachine's own structures.
  static constexpr size_t kRam = 4u << 20;
  static constexpr uint64_t kVmxon = 0x100000, kVmcs = 0x101000, kHostCode = 0x103000,
                            kPtrs = 0x105000, kTable = 0x106000, kGuestCode = 0x108000,
                            kGuestData = 0x109000, kMsrArea = 0x120000, kIoBitmapA = 0x130000,
                            kIoBitmapB = 0x131000, kMsrBitmap = 0x132000, kVapic = 0x133000,
                            kApicAccess = 0x134000, kGuestStack = 0x1f0000;

  enum class Result { kVmfailInvalid, kVmfailValid, kExit, kOther };

  VmxHarness() : m(kRam) {}
  // With the caller's core parameters (the timing tests turn the timing models on).
  explicit VmxHarness(const cpu::CoreParams& params) : m(kRam, params) {}

  cpu::Core& core() { return m.core(); }
  const vmx::Vmcs& vmcs() { return m.core().vmx().vmcs(); }
  uint64_t field(F f) { return vmcs().get(f); }
  uint32_t exit_reason() { return vmcs().get32(F::VM_EXIT_REASON); }
  uint32_t vm_instruction_error() { return vmcs().get32(F::VM_INSTRUCTION_ERROR); }
  uint64_t guest_rip() { return vmcs().get(F::GUEST_RIP); }
  static uint64_t stub(unsigned vector) { return TestMachine::kStubs + 16 * vector; }

  // Long mode, CR4.VMXE, IA32_FEATURE_CONTROL locked, the capability MSRs, the dispatcher and
  // the baseline VMCS values. Returns false (with `why`) when something basic fails.
  bool setup(std::string& why) {
    using namespace vmxsim::cpu;
    cpu::Core& c = m.core();
    m.enter_long_mode();
    m.state().cr4 |= cr4::kVmxe;
    c.mode_changed();
    if (!c.write_msr(vmx::msr::kFeatureControl, vmx::feature_control::kLock | vmx::feature_control::kVmxOutsideSmx)) {
      why = "IA32_FEATURE_CONTROL write refused";
      return false;
    }
    uint64_t basic = 0;
    if (!c.read_msr(vmx::msr::kVmxBasic, basic)) { why = "IA32_VMX_BASIC unreadable"; return false; }
    auto rd = [&](uint32_t msr) { uint64_t v = 0; c.read_msr(msr, v); return v; };
    true_pin = rd(vmx::msr::kTruePinbasedCtls);
    true_proc = rd(vmx::msr::kTrueProcbasedCtls);
    proc2 = rd(vmx::msr::kProcbasedCtls2);
    true_exit = rd(vmx::msr::kTrueExitCtls);
    true_entry = rd(vmx::msr::kTrueEntryCtls);
    const uint32_t rev = static_cast<uint32_t>(basic & 0x7fffffff);
    m.write_value<uint32_t>(kVmxon, rev);
    m.write_value<uint32_t>(kVmcs, rev);
    m.write_value<uint64_t>(kPtrs, kVmxon);
    m.write_value<uint64_t>(kPtrs + 8, kVmcs);
    build_dispatcher();
    baseline();
    return true;
  }

  // Capability checks: the control bit may be 1.
  static bool allowed1(uint64_t cap, uint32_t bit) { return (cap >> 32) & bit; }

  void set(F f, uint64_t x) { v[static_cast<unsigned>(f)] = x; }
  uint64_t get(F f) const { return v[static_cast<unsigned>(f)]; }
  void set_bits(F f, uint64_t bits) { v[static_cast<unsigned>(f)] |= bits; }

  void guest_code(const std::vector<uint8_t>& code) { m.write(kGuestCode, code); }

  // Runs the dispatcher: VMXON ... VMLAUNCH, then the guest until the VM exit's HLT (or the
  // budget). Classifies where the host stopped.
  Result launch(cpu::Cycles budget = 2'000'000) {
    using namespace vmxsim::cpu;
    cpu::Core& c = m.core();
    m.write(kTable, v, sizeof v);
    c.s.gpr[kRbx] = kPtrs;
    c.s.gpr[kR12] = kPtrs + 8;
    c.s.gpr[kRsi] = kTable;
    c.s.gpr[kR8] = 1;  // VMCLEAR first
    c.s.rip = kHostCode;
    c.run(c.cycles() + budget);
    const uint64_t rip = c.s.rip;
    if (rip == addr("host_rip") + 1) return Result::kExit;
    if (rip == addr("fail_launch") + 1)
      return (c.rflags() & rflags::kZf) ? Result::kVmfailValid : Result::kVmfailInvalid;
    return Result::kOther;
  }

  TestMachine m;
  uint64_t v[kN] = {};
  uint64_t true_pin = 0, true_proc = 0, proc2 = 0, true_exit = 0, true_entry = 0;

 private:
  // Host code (a tiny assembler with rel32 fix-ups, as in the fuzzer).
  std::vector<uint8_t> b;
  std::vector<std::pair<size_t, std::string>> fix;
  std::map<std::string, size_t> labels;
  void db(std::initializer_list<int> bytes) { for (int x : bytes) b.push_back(static_cast<uint8_t>(x)); }
  void d32(uint32_t x) { for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(x >> (8 * i))); }
  void label(const std::string& n) { labels[n] = b.size(); }
  void jcc(uint8_t cc, const std::string& target) {
    db({0x0f, 0x80 | cc});
    fix.emplace_back(b.size(), target);
    d32(0);
  }

 public:
  uint64_t addr(const std::string& n) const { return kHostCode + labels.at(n); }

 private:
  void build_dispatcher() {
    // RBX = &VMXON pointer, R12 = &VMCS pointer, RSI = value table, R8 bit 0: VMCLEAR first.
    label("start");
    db({0xf3, 0x0f, 0xc7, 0x33});  // vmxon [rbx]
    jcc(0x6, "fail_vmxon");         // jbe
    db({0x41, 0xf6, 0xc0, 0x01});  // test r8b, 1
    jcc(0x4, "skip_clear");         // jz
    db({0x66, 0x41, 0x0f, 0xc7, 0x34, 0x24});  // vmclear [r12]
    jcc(0x6, "fail_clear");
    label("skip_clear");
    db({0x41, 0x0f, 0xc7, 0x34, 0x24});  // vmptrld [r12]
    jcc(0x6, "fail_ptrld");
    for (unsigned i = 0; i < kN; ++i) {
      db({0xbf});
      d32(vmx::field_info(i).encoding);  // mov edi, encoding
      db({0x0f, 0x79, 0xbe});            // vmwrite rdi, [rsi + disp32] (read-only fields fail)
      d32(8 * i);
    }
    label("launch");
    db({0x0f, 0x01, 0xc2});  // vmlaunch
    label("fail_launch");
    db({0xf4});
    label("fail_vmxon");
    db({0xf4});
    label("fail_clear");
    db({0xf4});
    label("fail_ptrld");
    db({0xf4});
    label("host_rip");
    db({0xf4});
    for (auto& [pos, name] : fix) {
      const int32_t rel = static_cast<int32_t>(labels.at(name) - (pos + 4));
      std::memcpy(&b[pos], &rel, 4);
    }
    m.write(kHostCode, b);
  }

  // The 64-bit guest: a copy of the host's state, HLT exiting, no exceptions intercepted.
  void baseline() {
    using namespace vmxsim::cpu;
    const CpuState h = m.state();
    fill_baseline_vmcs(v, h, TrueControls{true_pin, true_proc, true_exit, true_entry},
                       VmcsLayout{kIoBitmapA, kIoBitmapB, kMsrBitmap, kMsrArea, kVapic, kApicAccess,
                                  kGuestStack, kGuestCode, addr("host_rip")},
                       true);
    for (unsigned i = 0; i < kNumSegs; ++i) set_guest_segment(v, i, h.seg[i]);
    set(F::GUEST_IDTR_BASE, h.idtr.base);
    set(F::GUEST_IDTR_LIMIT, h.idtr.limit);
    set(F::GUEST_CR0, h.cr0);
    set(F::GUEST_CR3, h.cr3);
    set(F::GUEST_CR4, h.cr4);
    set(F::GUEST_IA32_EFER, h.efer);
  }
};

}  // namespace vmxsim::test
