// Two CpuModules under temporal decoupling (one topology per process, TOOLCHAIN pitfall 3): a
// core halted in HLT that another core wakes (as an NMI IPI does) resumes at the waker's local
// time, not at the start of the waker's quantum. Both cores run real-mode code from RAM; the
// waker counts down a loop and then writes a port whose device signals the sleeper; the
// sleeper's NMI handler writes another port. Each device access carries its core's local time.
#include <gtest/gtest.h>

#include <systemc>

#include <functional>
#include <vector>

#include "cpu/code_map.h"
#include "cpu/sc/cpu_module.h"
#include "mem/bus.h"
#include "mem/ram.h"
#include "platform/devices/io_device.h"
#include "platform/devices/tlm_device.h"
#include "tests/unit/cpu/test_machine.h"

using namespace sc_core;
namespace cpu = vmxsim::cpu;
namespace plat = vmxsim::platform;

namespace {

// A write-only port that hands the access time (picoseconds) to `on_write`.
class Port final : public plat::IoDevice {
 public:
  explicit Port(std::function<void(uint64_t now_ps)> on_write) : m_on_write(std::move(on_write)) {}
  uint64_t io_read(uint64_t, unsigned, uint64_t) override { return 0; }
  void io_write(uint64_t, unsigned, uint64_t, uint64_t now_ps) override { m_on_write(now_ps); }

 private:
  std::function<void(uint64_t)> m_on_write;
};

constexpr uint64_t kRamSize = 1u << 20;
// The waker's loop (two one-cycle instructions per iteration, 200,000 cycles) ends a third of
// the way into its fourth quantum, long after the sleeper halted in its first one.
constexpr uint64_t kQuantumCycles = 60'000;
constexpr uint32_t kLoopIterations = 100'000;
constexpr uint16_t kWakePort = 0x90, kProbePort = 0x80;
constexpr uint64_t kSleeperCode = 0x1000, kNmiHandler = 0x2000, kWakerCode = 0x3000;

void ignore_stop(const std::string&, int) {}

struct Top {
  cpu::CodeMap code_map;
  vmxsim::mem::Bus mem_bus{"mem_bus"};
  vmxsim::mem::Bus io_bus{"io_bus", 0xffff};
  vmxsim::mem::Ram ram{"ram", kRamSize, &code_map};
  cpu::CpuModule waker{"waker", code_map, params(0), kQuantumCycles, {}, ignore_stop};
  cpu::CpuModule sleeper{"sleeper", code_map, params(1), kQuantumCycles, {}, ignore_stop};
  uint64_t sent_ps = 0, woke_ps = 0;
  unsigned wakes = 0;
  Port wake_port{[this](uint64_t now) {
    sent_ps = now;
    sleeper.core().signal_nmi();
    sleeper.wake();
  }};
  Port probe_port{[this](uint64_t now) {
    woke_ps = now;
    ++wakes;
  }};
  plat::TlmDevice wake_t{"wake_port", wake_port};
  plat::TlmDevice probe_t{"probe_port", probe_port};

  // Both cores start active (as a BSP does); every instruction takes one cycle.
  static cpu::CoreParams params(uint32_t apic_id) {
    cpu::CoreParams p = vmxsim::test::TestMachine::default_params();
    p.apic_id = apic_id;
    return p;
  }

  Top() {
    mem_bus.initiator_socket.bind(ram.socket);
    mem_bus.map(0, 0, kRamSize, "ram");
    io_bus.initiator_socket.bind(wake_t.socket);
    io_bus.initiator_socket.bind(probe_t.socket);
    io_bus.map(0, kWakePort, 1, "wake_port");
    io_bus.map(1, kProbePort, 1, "probe_port");
    for (cpu::CpuModule* m : {&waker, &sleeper}) {
      m->mem_socket.bind(mem_bus.target_socket);
      m->io_socket.bind(io_bus.target_socket);
    }
    // Sleeper: hlt; jmp $-1 (with IF = 0 only the NMI wakes it). NMI handler: out 0x80, al; iret.
    put(kSleeperCode, {0xf4, 0xeb, 0xfd});
    put(kNmiHandler, {0xe6, kProbePort, 0xcf});
    put(8, {kNmiHandler & 0xff, kNmiHandler >> 8, 0, 0});  // IVT[2] = 0000:2000
    // Waker: mov ecx, N; l: dec ecx; jnz l; out 0x90, al; hlt; jmp $-1.
    put(kWakerCode, {0x66, 0xb9, kLoopIterations & 0xff, (kLoopIterations >> 8) & 0xff,
                     (kLoopIterations >> 16) & 0xff, kLoopIterations >> 24, 0x66, 0x49, 0x75, 0xfc,
                     0xe6, kWakePort, 0xf4, 0xeb, 0xfd});
    start_at(waker, kWakerCode);
    start_at(sleeper, kSleeperCode);
  }

  void put(uint64_t addr, const std::vector<uint8_t>& bytes) {
    ram.write(addr, bytes.data(), bytes.size());
  }
  // Real mode at 0000:rip (the reset state's CS base is 0xffff0000).
  static void start_at(cpu::CpuModule& m, uint64_t rip) {
    cpu::Core& c = m.core();
    c.s.seg[cpu::kCs].selector = 0;
    c.s.seg[cpu::kCs].base = 0;
    c.s.seg[cpu::kSs].base = 0;
    c.s.gpr[cpu::kRsp] = 0x8000;
    c.s.rip = rip;
    c.mode_changed();
  }
};

TEST(CpuWake, HaltedCoreResumesAtTheWakersLocalTime) {
  Top t;
  sc_start(2, SC_MS);
  ASSERT_EQ(t.wakes, 1u) << "the NMI woke the sleeper once";
  const uint64_t loop_ps = 2ull * kLoopIterations * 500;  // 2 GHz: 500 ps per cycle
  EXPECT_GE(t.sent_ps, loop_ps) << "the waker's port write carries its local time";
  EXPECT_GE(t.woke_ps, t.sent_ps) << "the sleeper ran its NMI handler before the NMI was sent";
  if (t.woke_ps >= t.sent_ps) {
    EXPECT_LT(t.woke_ps - t.sent_ps, 1'000'000u) << "woken late (ps)";
  }
}

}  // namespace

int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
