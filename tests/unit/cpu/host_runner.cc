#include "tests/unit/cpu/host_runner.h"

#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstring>

namespace vmxsim::test {

namespace {

// Runner-private memory in the scratch page.
constexpr uint64_t kSavedRsp = HostRunner::kScratch;
constexpr uint64_t kStateGpr = HostRunner::kScratch + 8;         // 16 x 8 bytes
constexpr uint64_t kStateFlags = HostRunner::kScratch + 8 + 128;
constexpr uint64_t kScratchStackTop = HostRunner::kScratch + 0x8000;
constexpr uint64_t kFlagMask = 0x8d5 | 0x400;  // CF PF AF ZF SF OF, DF

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

}  // namespace vmxsim::test
