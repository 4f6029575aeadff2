#include "tests/unit/cpu/host_runner.h"

#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <asm/ldt.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace vmxsim::test {

namespace {

// Runner-private memory in the scratch page.
constexpr uint64_t kSavedRsp = HostRunner::kScratch;
constexpr uint64_t kStateGpr = HostRunner::kScratch + 8;         // 16 x 8 bytes
constexpr uint64_t kStateFlags = HostRunner::kScratch + 8 + 128;
constexpr uint64_t kScratchStackTop = HostRunner::kScratch + 0x8000;
constexpr uint64_t kFlagMask = 0x8d5 | 0x400;  // CF PF AF ZF SF OF, DF
// Compatibility-mode entry: a far pointer (m16:32) to the 32-bit prologue, and the ESP that
// holds the far return frame.
constexpr uint64_t kFarPtr = HostRunner::kScratch + 0x200;
constexpr uint64_t kSavedEsp32 = HostRunner::kScratch + 0x208;
constexpr uint64_t kScratchStack32Top = kScratchStackTop - 0x1000;
constexpr uint64_t kEntry32 = HostRunner::kCodePage + 0x800;    // 64-bit side
constexpr uint64_t kPrologue32 = HostRunner::kCodePage + 0x2800;  // 32-bit side
constexpr uint16_t kUser32Cs = 0x23, kUserDs = 0x2b;              // Linux x86-64 GDT
constexpr uint16_t kLdtCs = 0x07;                                 // LDT entry 0, RPL 3

sigjmp_buf g_jump;
HostState* g_fault_state = nullptr;

void on_signal(int sig, siginfo_t*, void* ctx) {
  if (g_fault_state) {
    const greg_t* g = static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs;
    static const int kMap[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                 REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
    for (int i = 0; i < 16; ++i) g_fault_state->gpr[i] = static_cast<uint64_t>(g[kMap[i]]);
    g_fault_state->rflags = static_cast<uint64_t>(g[REG_EFL]);
  }
  siglongjmp(g_jump, sig);
}

class Emitter {
 public:
  explicit Emitter(uint8_t* p) : m_p(p) {}
  void b(std::initializer_list<uint8_t> bytes) {
    for (uint8_t x : bytes) *m_p++ = x;
  }
  void d32(uint32_t v) {
    std::memcpy(m_p, &v, 4);
    m_p += 4;
  }
  // mov [abs32], r64  /  mov r64, [abs32]
  void store(unsigned r, uint64_t addr) { modrm_abs(0x89, r, addr); }
  void load(unsigned r, uint64_t addr) { modrm_abs(0x8b, r, addr); }
  uint8_t* pos() const { return m_p; }

 private:
  void modrm_abs(uint8_t opc, unsigned r, uint64_t addr) {
    b({static_cast<uint8_t>(0x48 | (r >= 8 ? 4 : 0)), opc, static_cast<uint8_t>(((r & 7) << 3) | 4), 0x25});
    d32(static_cast<uint32_t>(addr));
  }
  uint8_t* m_p;
};

void emit_prologue(uint8_t* at) {
  Emitter e(at);
  e.b({0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57});  // push rbx rbp r12-r15
  e.store(4, kSavedRsp);
  e.b({0x48, 0xc7, 0xc4});  // mov rsp, imm32
  e.d32(static_cast<uint32_t>(kScratchStackTop));
  e.b({0xff, 0x34, 0x25});  // push qword [flags]
  e.d32(static_cast<uint32_t>(kStateFlags));
  e.b({0x9d});  // popfq
  for (unsigned r = 0; r < 16; ++r)
    if (r != 4) e.load(r, kStateGpr + 8 * r);
  e.load(4, kStateGpr + 8 * 4);
  const uint8_t* after = e.pos() + 5;
  e.b({0xe9});  // jmp snippet
  e.d32(static_cast<uint32_t>(HostRunner::kSnippet - reinterpret_cast<uint64_t>(after)));
}

void emit_epilogue(uint8_t* at) {
  Emitter e(at);
  e.store(4, kStateGpr + 8 * 4);
  e.b({0x48, 0xc7, 0xc4});
  e.d32(static_cast<uint32_t>(kScratchStackTop));
  for (unsigned r = 0; r < 16; ++r)
    if (r != 4) e.store(r, kStateGpr + 8 * r);
  e.b({0x9c, 0x58});  // pushfq; pop rax
  e.store(0, kStateFlags);
  e.b({0xfc});  // cld: the ABI wants DF clear
  e.load(4, kSavedRsp);
  e.b({0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3});
}

// 64-bit: call far to the compatibility-mode prologue and come back.
void emit_entry32(uint8_t* at) {
  Emitter e(at);
  e.b({0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57});
  e.store(4, kSavedRsp);
  e.b({0x48, 0xc7, 0xc4});
  e.d32(static_cast<uint32_t>(kScratchStackTop));
  e.b({0xff, 0x1c, 0x25});  // call far [m16:32]
  e.d32(static_cast<uint32_t>(kFarPtr));
  e.b({0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0});  // xor eax, eax; mov ds, eax; mov es, eax
  e.load(4, kSavedRsp);
  e.b({0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3});
}

// 32-bit code: mov r32, [abs] is 8b /r with modrm 00 r 101 + disp32.
void load32(Emitter& e, unsigned r, uint64_t addr) {
  e.b({0x8b, static_cast<uint8_t>((r << 3) | 5)});
  e.d32(static_cast<uint32_t>(addr));
}
void store32(Emitter& e, unsigned r, uint64_t addr) {
  e.b({0x89, static_cast<uint8_t>((r << 3) | 5)});
  e.d32(static_cast<uint32_t>(addr));
}

void emit_prologue32(uint8_t* at) {
  Emitter e(at);
  e.b({0xb8});  // mov eax, user data selector
  e.d32(kUserDs);
  e.b({0x8e, 0xd8, 0x8e, 0xc0});  // mov ds, eax; mov es, eax
  store32(e, 4, kSavedEsp32);
  e.b({0xbc});  // mov esp, scratch
  e.d32(static_cast<uint32_t>(kScratchStack32Top));
  e.b({0xff, 0x35});  // push dword [flags]
  e.d32(static_cast<uint32_t>(kStateFlags));
  e.b({0x9d});
  for (unsigned r = 0; r < 8; ++r)
    if (r != 4) load32(e, r, kStateGpr + 8 * r);
  load32(e, 4, kStateGpr + 8 * 4);
  const uint8_t* after = e.pos() + 5;
  e.b({0xe9});
  e.d32(static_cast<uint32_t>(HostRunner::kSnippet32 - reinterpret_cast<uint64_t>(after)));
}

void emit_epilogue32(uint8_t* at) {
  Emitter e(at);
  store32(e, 4, kStateGpr + 8 * 4);
  e.b({0xbc});
  e.d32(static_cast<uint32_t>(kScratchStack32Top));
  for (unsigned r = 0; r < 8; ++r)
    if (r != 4) store32(e, r, kStateGpr + 8 * r);
  e.b({0x9c, 0x58});  // pushfd; pop eax
  store32(e, 0, kStateFlags);
  e.b({0xfc});
  load32(e, 4, kSavedEsp32);
  e.b({0xcb});  // retf
}

}  // namespace

const HostCpuInfo& HostRunner::cpu_info() {
  static const HostCpuInfo info = [] {
    HostCpuInfo i;
    unsigned a, b, c, d;
    __cpuid(0, a, b, c, d);
    char v[13] = {};
    std::memcpy(v, &b, 4);
    std::memcpy(v + 4, &d, 4);
    std::memcpy(v + 8, &c, 4);
    i.vendor = v;
    i.intel = i.vendor == "GenuineIntel";
    const unsigned max = a;
    __cpuid(1, a, b, c, d);
    i.popcnt = c & (1u << 23);
    i.movbe = c & (1u << 22);
    if (max >= 7) {
      __cpuid_count(7, 0, a, b, c, d);
      i.bmi1 = b & (1u << 3);
      i.bmi2 = b & (1u << 8);
      i.adx = b & (1u << 19);
    }
    __cpuid(0x80000000, a, b, c, d);
    if (a >= 0x80000001) {
      __cpuid(0x80000001, a, b, c, d);
      i.lzcnt = c & (1u << 5);
    }
    return i;
  }();
  return info;
}

HostRunner* HostRunner::instance() {
  static HostRunner* runner = [] {
    auto* r = new HostRunner;
    if (!r->init()) {
      delete r;
      return static_cast<HostRunner*>(nullptr);
    }
    return r;
  }();
  return runner;
}

bool HostRunner::init() {
  void* code = mmap(reinterpret_cast<void*>(kCodePage), 0x10000, PROT_READ | PROT_WRITE | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != reinterpret_cast<void*>(kCodePage)) return false;
  void* data = mmap(reinterpret_cast<void*>(kData), 0x100000, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (data != reinterpret_cast<void*>(kData)) return false;
  emit_prologue(reinterpret_cast<uint8_t*>(kCodePage));
  emit_entry32(reinterpret_cast<uint8_t*>(kEntry32));
  emit_prologue32(reinterpret_cast<uint8_t*>(kPrologue32));
  const uint32_t off = static_cast<uint32_t>(kPrologue32);
  std::memcpy(reinterpret_cast<void*>(kFarPtr), &off, 4);
  std::memcpy(reinterpret_cast<void*>(kFarPtr + 4), &kUser32Cs, 2);
  static uint8_t alt_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = &on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGFPE, SIGSEGV, SIGILL, SIGBUS, SIGTRAP}) sigaction(sig, &sa, nullptr);
  return true;
}

int HostRunner::run(const std::vector<uint8_t>& bytes, HostState& st) {
  uint8_t* snippet = reinterpret_cast<uint8_t*>(kSnippet);
  std::memcpy(snippet, bytes.data(), bytes.size());
  emit_epilogue(snippet + bytes.size());
  std::memcpy(reinterpret_cast<void*>(kStateGpr), st.gpr, sizeof st.gpr);
  const uint64_t flags = (st.rflags & kFlagMask) | 2;
  std::memcpy(reinterpret_cast<void*>(kStateFlags), &flags, 8);
  g_fault_state = &st;
  const int sig = sigsetjmp(g_jump, 1);
  if (sig != 0) {
    g_fault_state = nullptr;
    return sig;
  }
  reinterpret_cast<void (*)()>(kCodePage)();
  g_fault_state = nullptr;
  std::memcpy(st.gpr, reinterpret_cast<void*>(kStateGpr), sizeof st.gpr);
  std::memcpy(&st.rflags, reinterpret_cast<void*>(kStateFlags), 8);
  return 0;
}

bool HostRunner::compat_available() {
  if (m_compat >= 0) return m_compat;
  HostState st;
  m_compat = run32({0x90}, st) == 0;
  if (!m_compat) {
    // The GDT's 32-bit user code segment did not work: try one of our own in the LDT.
    user_desc d{};
    d.entry_number = 0;
    d.limit = 0xfffff;
    d.seg_32bit = 1;
    d.contents = MODIFY_LDT_CONTENTS_CODE;
    d.limit_in_pages = 1;
    d.useable = 1;
    if (syscall(SYS_modify_ldt, 1, &d, sizeof d) == 0) {
      std::memcpy(reinterpret_cast<void*>(kFarPtr + 4), &kLdtCs, 2);
      m_compat = run32({0x90}, st) == 0;
    }
  }
  return m_compat;
}

int HostRunner::run32(const std::vector<uint8_t>& bytes, HostState& st) {
  uint8_t* snippet = reinterpret_cast<uint8_t*>(kSnippet32);
  std::memcpy(snippet, bytes.data(), bytes.size());
  emit_epilogue32(snippet + bytes.size());
  uint64_t regs[16] = {};
  for (unsigned r = 0; r < 8; ++r) regs[r] = st.gpr[r] & 0xffffffff;
  std::memcpy(reinterpret_cast<void*>(kStateGpr), regs, sizeof regs);
  const uint64_t flags = (st.rflags & kFlagMask) | 2;
  std::memcpy(reinterpret_cast<void*>(kStateFlags), &flags, 8);
  g_fault_state = &st;
  const int sig = sigsetjmp(g_jump, 1);
  if (sig != 0) {
    g_fault_state = nullptr;
    for (unsigned r = 0; r < 16; ++r) st.gpr[r] = r < 8 ? st.gpr[r] & 0xffffffff : 0;
    st.rflags &= 0xffffffff;
    return sig;
  }
  reinterpret_cast<void (*)()>(kEntry32)();
  g_fault_state = nullptr;
  std::memcpy(regs, reinterpret_cast<void*>(kStateGpr), sizeof regs);
  for (unsigned r = 0; r < 16; ++r) st.gpr[r] = r < 8 ? regs[r] & 0xffffffff : 0;
  std::memcpy(&st.rflags, reinterpret_cast<void*>(kStateFlags), 8);
  st.rflags &= 0xffffffff;
  return 0;
}

}  // namespace vmxsim::test
