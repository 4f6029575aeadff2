#include "tests/unit/cpu/test_machine.h"

#include <algorithm>
#include <stdexcept>

namespace vmxsim::test {

using namespace vmxsim::cpu;

namespace {

constexpr uint64_t kP = 1, kRw = 2, kUs = 4, kPs = 1u << 7;

CoreParams test_params() {
  CoreParams p;
  std::fill(std::begin(p.latency), std::end(p.latency), 1);
  return p;
}

// Segment caches in the VMX access-rights layout (cpu_state.h).
Segment flat(uint16_t sel, bool code, unsigned dpl, bool l, bool db, bool big) {
  Segment s;
  s.selector = sel;
  s.base = 0;
  s.limit = big ? 0xffffffff : 0xffff;
  s.ar = ar::kP | ar::kS | ar::kAccessed | (dpl << ar::kDplShift) |
         (code ? (ar::kCodeBit | ar::kCodeReadable) : ar::kDataWritable) | (l ? ar::kL : 0) |
         (db ? ar::kDb : 0) | (big ? ar::kG : 0);
  return s;
}

bool has_error_code(int v) {
  switch (v) {
    case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21: case 29: case 30:
      return true;
    default:
      return false;
  }
}

}  // namespace

TestMachine::TestMachine(size_t ram_bytes) : TestMachine(ram_bytes, test_params()) {}

TestMachine::TestMachine(size_t ram_bytes, const CoreParams& params) : m_env(ram_bytes) {
  if (ram_bytes < kFreeBase + 0x10000) throw std::invalid_argument("TestMachine: RAM too small");
  m_core = std::make_unique<Core>(m_env, m_code_map, params);
  build_gdt();
}

CoreParams TestMachine::default_params() { return test_params(); }

TestMachine::~TestMachine() = default;

void TestMachine::write(uint64_t paddr, const void* src, size_t n) {
  if (paddr + n > ram().size()) throw std::out_of_range("TestMachine::write beyond RAM");
  std::memcpy(ram().data() + paddr, src, n);
  if (n) m_code_map.note_write(paddr, n);
}

void TestMachine::read(uint64_t paddr, void* dst, size_t n) const {
  const auto& r = const_cast<TestEnv&>(m_env).ram();
  if (paddr + n > r.size()) throw std::out_of_range("TestMachine::read beyond RAM");
  std::memcpy(dst, r.data() + paddr, n);
}

void TestMachine::build_gdt() {
  const uint64_t gdt[] = {
      0,
      0x00af9b000000ffffull,  // 0x08 64-bit code
      0x00cf93000000ffffull,  // 0x10 flat data
      0x00cf9b000000ffffull,  // 0x18 32-bit code
      0x00009b000000ffffull,  // 0x20 16-bit code, 64 KiB
      0x000093000000ffffull,  // 0x28 16-bit data, 64 KiB
      0x00affb000000ffffull,  // 0x30 64-bit code, DPL 3
      0x00cff3000000ffffull,  // 0x38 flat data, DPL 3
  };
  write(kGdt, gdt, sizeof gdt);
  state().gdtr.base = kGdt;
  state().gdtr.limit = sizeof gdt - 1;
  // One HLT per exception vector.
  std::vector<uint8_t> stubs(32 * 16, 0x90);
  for (unsigned v = 0; v < 32; ++v) stubs[v * 16] = 0xf4;
  write(kStubs, stubs);
}

void TestMachine::build_idt(bool long_mode) {
  std::vector<uint8_t> idt(256 * 16, 0);
  for (unsigned v = 0; v < 32; ++v) {
    const uint64_t off = kStubs + 16 * v;
    const uint16_t sel = long_mode ? kCode64 : kCode32;
    // Interrupt gate, present, DPL 3 (so that INT n works at any CPL).
    const uint64_t lo = (off & 0xffff) | (uint64_t{sel} << 16) | (0xeeull << 40) | (((off >> 16) & 0xffff) << 48);
    if (long_mode) {
      const uint64_t hi = off >> 32;
      std::memcpy(&idt[v * 16], &lo, 8);
      std::memcpy(&idt[v * 16 + 8], &hi, 8);
    } else {
      std::memcpy(&idt[v * 8], &lo, 8);
    }
  }
  write(kIdt, idt);
  state().idtr.base = kIdt;
  state().idtr.limit = long_mode ? 256 * 16 - 1 : 256 * 8 - 1;
}

// TSS with the ring-0 stack: RSP0 at offset 4 (64-bit TSS) or ESP0/SS0 at 4/8 (32-bit TSS).
void TestMachine::build_tss(bool long_mode) {
  uint8_t tss[0x68] = {};
  if (long_mode) {
    const uint64_t rsp0 = kRing0StackTop;
    std::memcpy(tss + 4, &rsp0, 8);
  } else {
    const uint32_t esp0 = static_cast<uint32_t>(kRing0StackTop);
    const uint16_t ss0 = kData;
    std::memcpy(tss + 4, &esp0, 4);
    std::memcpy(tss + 8, &ss0, 2);
  }
  tss[0x66] = sizeof tss;  // I/O bitmap base beyond the limit: no I/O bitmap
  write(kTss, tss, sizeof tss);
  Segment& tr = state().tr;
  tr.selector = 0x40;
  tr.base = kTss;
  tr.limit = sizeof tss - 1;
  tr.ar = ar::kP | 11;  // busy 32/64-bit TSS
}

// PML4 -> PDPT -> one page directory of 512 2 MiB pages.
void TestMachine::build_page_tables_64() {
  std::vector<uint64_t> t(3 * 512, 0);
  t[0] = (kPageTables + 0x1000) | kP | kRw | kUs;
  t[512] = (kPageTables + 0x2000) | kP | kRw | kUs;
  for (uint64_t i = 0; i < 512; ++i) t[1024 + i] = (i << 21) | kP | kRw | kUs | kPs;
  write(kPageTables, t.data(), t.size() * 8);
}

// 32-bit paging: one page directory with 256 4 MiB pages (CR4.PSE).
void TestMachine::build_page_tables_32() {
  std::vector<uint32_t> pd(1024, 0);
  for (uint32_t i = 0; i < 256; ++i) pd[i] = (i << 22) | kP | kRw | kUs | kPs;
  write(kPageTables, pd.data(), pd.size() * 4);
}

void TestMachine::enter_long_mode() {
  build_idt(true);
  build_tss(true);
  build_page_tables_64();
  CpuState& s = state();
  s.cr0 = cr0::kPe | cr0::kMp | cr0::kEt | cr0::kNe | cr0::kWp | cr0::kPg;
  s.cr4 = cr4::kPae | cr4::kOsfxsr | cr4::kOsxmmexcpt;
  s.cr3 = kPageTables;
  s.efer = efer::kLme | efer::kLma | efer::kNxe | efer::kSce;
  s.seg[kCs] = flat(kCode64, true, 0, true, false, true);
  for (unsigned r : {kSs, kDs, kEs, kFs, kGs}) s.seg[r] = flat(kData, false, 0, false, true, true);
  s.gpr[kRsp] = kDefaultStackTop;
  m_core->set_rflags(rflags::kFixed1);
  m_core->mode_changed();
  m_core->set_cpl(0);
  m_core->flush_tlb(true);
}

void TestMachine::enter_protected_mode(bool paging) {
  build_idt(false);
  build_tss(false);
  CpuState& s = state();
  s.cr0 = cr0::kPe | cr0::kMp | cr0::kEt | cr0::kNe;
  s.cr4 = cr4::kOsfxsr | cr4::kOsxmmexcpt;
  s.efer = 0;
  if (paging) {
    build_page_tables_32();
    s.cr0 |= cr0::kPg | cr0::kWp;
    s.cr4 |= cr4::kPse;
    s.cr3 = kPageTables;
  }
  s.seg[kCs] = flat(kCode32, true, 0, false, true, true);
  for (unsigned r : {kSs, kDs, kEs, kFs, kGs}) s.seg[r] = flat(kData, false, 0, false, true, true);
  s.gpr[kRsp] = kDefaultStackTop;
  m_core->set_rflags(rflags::kFixed1);
  m_core->mode_changed();
  m_core->set_cpl(0);
  m_core->flush_tlb(true);
}

void TestMachine::enter_real_mode() {
  // IVT at 0: vector v -> 0000:kStubs + 16 v.
  std::vector<uint32_t> ivt(256, 0);
  for (unsigned v = 0; v < 32; ++v) ivt[v] = static_cast<uint32_t>(kStubs + 16 * v);
  write(0, ivt.data(), ivt.size() * 4);
  CpuState& s = state();
  s.idtr.base = 0;
  s.idtr.limit = 0x3ff;
  s.cr0 = cr0::kEt | cr0::kNe;
  s.cr4 = 0;
  s.efer = 0;
  s.seg[kCs] = flat(0, true, 0, false, false, false);
  for (unsigned r : {kSs, kDs, kEs, kFs, kGs}) s.seg[r] = flat(0, false, 0, false, false, false);
  s.gpr[kRsp] = 0xfff0;
  m_core->set_rflags(rflags::kFixed1);
  m_core->mode_changed();
  m_core->flush_tlb(true);
}

// A halted core only wakes for an interrupt; tests instead reset it and put the state back.
void TestMachine::wake() {
  if (m_core->activity() == ActivityState::kActive) return;
  const CpuState saved = m_core->s;
  const uint64_t fl = m_core->rflags();
  const unsigned cpl = m_core->cpl();
  m_core->reset(true);
  m_core->s = saved;
  m_core->set_rflags(fl);
  m_core->mode_changed();
  m_core->set_cpl(cpl);
  m_core->debug_regs_changed();  // the restored DR0-DR3/DR7 bypassed MOV DR
  m_core->flush_tlb(true);
}

RunResult TestMachine::run(uint64_t rip, Cycles max_cycles) {
  wake();
  m_env.triple_fault_reason.clear();
  state().rip = rip;
  const Segment cs_before = state().seg[kCs], ss_before = state().seg[kSs];
  RunResult r;
  r.stop = m_core->run(m_core->cycles() + max_cycles);
  r.halted = m_core->activity() == ActivityState::kHalted;
  r.triple_fault = !m_env.triple_fault_reason.empty();
  if (!r.halted) return r;
  const CpuState& s = state();
  const uint64_t hlt = ((s.seg[kCs].base + s.rip - 1) & 0xffffffffffffull);
  if (hlt < kStubs || hlt >= kStubs + 32 * 16 || (hlt - kStubs) % 16 != 0) return r;
  r.exception = static_cast<int>((hlt - kStubs) / 16);
  const bool err = has_error_code(r.exception) && m_core->protected_mode();
  if (m_core->long_mode()) {
    const uint64_t sp = s.gpr[kRsp];
    if (err) r.error_code = read<uint64_t>(sp);
    r.fault_rip = read<uint64_t>(sp + (err ? 8 : 0));
  } else if (m_core->protected_mode()) {
    const uint64_t sp = s.seg[kSs].base + (s.gpr[kRsp] & 0xffffffff);
    if (err) r.error_code = read<uint32_t>(sp);
    r.fault_rip = read<uint32_t>(sp + (err ? 4 : 0));
  } else {
    const uint64_t sp = s.seg[kSs].base + (s.gpr[kRsp] & 0xffff);
    r.fault_rip = read<uint16_t>(sp);
  }
  // HLT at CPL 3 raises #GP(0). When the test's code ends in a HLT at CPL 3, treat that as the
  // end of the run and put back the user-mode state the exception delivery replaced.
  if (r.exception == kGp && r.error_code == 0 && m_core->protected_mode() && !m_core->v86_mode()) {
    const bool lm = m_core->long_mode();
    const uint64_t sp = lm ? s.gpr[kRsp] : s.seg[kSs].base + (s.gpr[kRsp] & 0xffffffff);
    const uint64_t cs_sel = lm ? read<uint64_t>(sp + 16) : read<uint32_t>(sp + 8);
    const uint64_t fault_lin = cs_before.base + r.fault_rip;
    if ((cs_sel & 3) == 3 && fault_lin < ram().size() && ram()[fault_lin] == 0xf4) {
      const uint64_t fl = lm ? read<uint64_t>(sp + 24) : read<uint32_t>(sp + 12);
      const uint64_t user_sp = lm ? read<uint64_t>(sp + 32) : read<uint32_t>(sp + 16);
      CpuState& st = state();
      st.seg[kCs] = cs_before;
      st.seg[kSs] = ss_before;
      st.gpr[kRsp] = user_sp;
      st.rip = r.fault_rip + 1;
      m_core->set_rflags(fl & ~rflags::kRf);  // the #GP frame has RF set; the HLT did not
      m_core->mode_changed();
      m_core->set_cpl(3);
      r.exception = -1;
      r.error_code = 0;
      r.fault_rip = 0;
    }
  }
  return r;
}

RunResult TestMachine::run_code(uint64_t addr, const std::vector<uint8_t>& code, Cycles max_cycles) {
  std::vector<uint8_t> bytes = code;
  bytes.push_back(0xf4);
  write(addr, bytes);
  return run(addr - state().seg[kCs].base, max_cycles);
}

}  // namespace vmxsim::test
