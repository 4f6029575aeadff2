// One SystemC topology (TOOLCHAIN pitfall 3: one elaboration per process): a test initiator on
// a memory bus (RAM, a sparse 64 GiB RAM, the IOAPIC) and a port bus (UART, debug exit, fw_cfg,
// ACPI PM block, PIC, PCI host), driven through b_transport, DMI and debug transport. The
// topology is built on first use; ctest runs each test in its own process.
#include <gtest/gtest.h>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "cpu/code_map.h"
#include "mem/bus.h"
#include "mem/ram.h"
#include "platform/devices/acpi_pm.h"
#include "platform/devices/apic_bus.h"
#include "platform/devices/debug_exit.h"
#include "platform/devices/fw_cfg.h"
#include "platform/devices/io_apic.h"
#include "platform/devices/pci_host.h"
#include "platform/devices/pic8259.h"
#include "platform/devices/tlm_device.h"
#include "platform/devices/uart16550.h"
#include "sim/config.h"
#include "sim/stats.h"

using namespace sc_core;
using vmxsim::mem::Bus;
using vmxsim::mem::Ram;
namespace plat = vmxsim::platform;

namespace {

constexpr uint64_t kRamSize = 16ull << 20;
constexpr uint64_t kBigRamBase = 64ull << 30;
constexpr uint64_t kBigRamSize = 64ull << 30;

struct Initiator : sc_module {
  tlm_utils::simple_initiator_socket<Initiator> mem{"mem"};
  tlm_utils::simple_initiator_socket<Initiator> io{"io"};
  sc_event go;
  std::function<void()> script;  // run inside the SC_THREAD when `go` fires
  int invalidations = 0;

  SC_HAS_PROCESS(Initiator);
  explicit Initiator(sc_module_name n) : sc_module(n) {
    mem.register_invalidate_direct_mem_ptr(this, &Initiator::invalidate);
    SC_THREAD(thread);
  }
  void invalidate(sc_dt::uint64, sc_dt::uint64) { ++invalidations; }
  void thread() {
    for (;;) {
      wait(go);
      if (script) script();
    }
  }

  static tlm::tlm_response_status access(tlm_utils::simple_initiator_socket<Initiator>& s,
                                         tlm::tlm_command cmd, uint64_t addr, void* data,
                                         unsigned len, sc_time delay = SC_ZERO_TIME) {
    tlm::tlm_generic_payload gp;
    gp.set_command(cmd);
    gp.set_address(addr);
    gp.set_data_ptr(static_cast<unsigned char*>(data));
    gp.set_data_length(len);
    gp.set_streaming_width(len);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    s->b_transport(gp, delay);
    return gp.get_response_status();
  }
  uint64_t read(tlm_utils::simple_initiator_socket<Initiator>& s, uint64_t addr, unsigned len,
                sc_time delay = SC_ZERO_TIME) {
    uint64_t v = 0;
    EXPECT_EQ(access(s, tlm::TLM_READ_COMMAND, addr, &v, len, delay), tlm::TLM_OK_RESPONSE);
    return v;
  }
  void write(tlm_utils::simple_initiator_socket<Initiator>& s, uint64_t addr, uint64_t v,
             unsigned len) {
    EXPECT_EQ(access(s, tlm::TLM_WRITE_COMMAND, addr, &v, len), tlm::TLM_OK_RESPONSE);
  }
  uint64_t in(uint16_t port, unsigned len, sc_time d = SC_ZERO_TIME) { return read(io, port, len, d); }
  void out(uint16_t port, uint64_t v, unsigned len) { write(io, port, v, len); }
};

struct CodeSpy : vmxsim::cpu::CodeListener {
  std::vector<std::pair<uint64_t, uint64_t>> writes;
  void code_written(uint64_t paddr, uint64_t len) override { writes.emplace_back(paddr, len); }
  void page_writes_tracked(uint64_t) override {}
};

struct Top {
  vmxsim::Config cfg;
  vmxsim::StatRegistry stats;
  vmxsim::cpu::CodeMap code_map;
  CodeSpy spy;
  std::ostringstream serial;
  int exit_status = -1;

  Initiator init{"init"};
  Bus mem_bus{"mem_bus"};
  Bus io_bus{"io_bus", 0xffff};
  Ram ram{"ram", kRamSize, &code_map};
  Ram big{"big", kBigRamSize};
  Ram split{"split", 8ull << 20, &code_map};
  plat::ApicBus apic_bus;
  plat::IoApic ioapic{apic_bus, 0};
  plat::Uart16550 uart{cfg, stats, "system.uart0", &serial};
  plat::DebugExit debug_exit{[this](int s) { exit_status = s; }};
  plat::FwCfg fw_cfg{kRamSize, 2};
  plat::AcpiPmTimer pm;
  plat::Pic8259Pair pic;
  plat::PciHost pci;
  plat::TlmDevice ioapic_t{"ioapic", ioapic};
  plat::TlmDevice uart_t{"uart0", uart};
  plat::TlmDevice debug_exit_t{"debug_exit", debug_exit};
  plat::TlmDevice fw_cfg_t{"fw_cfg", fw_cfg};
  plat::TlmDevice pm_t{"acpi_pm", pm};
  plat::TlmDevice pic_t{"pic", pic};
  plat::TlmDevice pci_t{"pci_host", pci};
  std::vector<std::string> map_errors;  // what() of each provoked error, "" if none was thrown

  template <class F>
  static std::string throws(F f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  }

  Top() {
    code_map.add_listener(&spy);
    init.mem.bind(mem_bus.target_socket);
    init.io.bind(io_bus.target_socket);
    mem_bus.initiator_socket.bind(ram.socket);       // 0
    mem_bus.initiator_socket.bind(big.socket);       // 1
    mem_bus.initiator_socket.bind(ioapic_t.socket);  // 2
    mem_bus.map(0, 0, kRamSize, "ram");
    mem_bus.map(1, kBigRamBase, kBigRamSize, "big");
    mem_bus.map(2, 0xfec00000, 0x1000, "ioapic");
    mem_bus.initiator_socket.bind(split.socket);  // 3
    mem_bus.map(3, 8ull << 30, 8ull << 20, "split");
    io_bus.initiator_socket.bind(uart_t.socket);        // 0
    io_bus.initiator_socket.bind(debug_exit_t.socket);  // 1
    io_bus.initiator_socket.bind(fw_cfg_t.socket);      // 2
    io_bus.initiator_socket.bind(pm_t.socket);          // 3
    io_bus.initiator_socket.bind(pic_t.socket);         // 4
    io_bus.initiator_socket.bind(pci_t.socket);         // 5
    io_bus.map(0, 0x3f8, 8, "uart0");
    io_bus.map(1, 0xf4, 4, "debug_exit");
    io_bus.map(2, 0x510, 2, "fw_cfg");
    io_bus.map(3, 0x600, 12, "acpi_pm");
    io_bus.map(4, 0x20, 2, "pic_master", 0x20);
    io_bus.map(4, 0xa0, 2, "pic_slave", 0xa0);
    io_bus.map(4, 0x4d0, 2, "elcr", 0x4d0);
    io_bus.map(5, 0xcf8, 8, "pci_host");
    // Map-time errors are provoked here, before the kernel has run a thread: ASan mistakes an
    // exception thrown on the main stack after QuickThreads switches for a stack-use-after-scope.
    map_errors.push_back(throws([&] { mem_bus.map(0, 0x1000, 0x1000, "overlap"); }));
    map_errors.push_back(throws([&] { io_bus.map(0, 0x3fc, 8, "overlap"); }));
    map_errors.push_back(throws([&] { io_bus.map(0, 0xfff0, 0x20, "too_far"); }));
    map_errors.push_back(throws([&] { io_bus.map(0, 0x3000, 0, "empty"); }));
    mem_bus.register_stats(stats, "system.mem_bus");
    io_bus.register_stats(stats, "system.io_bus");
    ram.register_stats(stats, "system.ram");
  }
};

// Built on first use and never destroyed (its modules belong to the process's simulation
// context, which outlives everything).
Top& top() {
  static Top* t = [] {
    auto* p = new Top;
    sc_start(SC_ZERO_TIME);  // elaborate
    return p;
  }();
  return *t;
}

// First in the file: whether run alone or in order, nothing has touched the 64 GiB RAM yet.
TEST(Ram, NothingAllocatedUntilTouched) {
  Top& t = top();
  EXPECT_EQ(t.big.chunks_allocated(), 0u);
  EXPECT_EQ(t.big.allocated_bytes(), 0u);
  EXPECT_EQ(t.big.peek_page(0), nullptr);
}

TEST(Bus, UnmappedReadsAllOnesAndIgnoresWrites) {
  Top& t = top();
  uint8_t buf[16];
  std::memset(buf, 0x11, sizeof buf);
  EXPECT_EQ(Initiator::access(t.init.mem, tlm::TLM_READ_COMMAND, 0x80000000, buf, 16),
            tlm::TLM_OK_RESPONSE);
  for (uint8_t b : buf) EXPECT_EQ(b, 0xff);
  EXPECT_EQ(Initiator::access(t.init.mem, tlm::TLM_WRITE_COMMAND, 0x80000000, buf, 16),
            tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(t.init.read(t.init.mem, 0xffff'ffff'ffff'fff0ull, 8), ~uint64_t{0});
  EXPECT_EQ(t.init.in(0x80, 1), 0xffu);
  EXPECT_EQ(t.init.in(0x1234, 4), 0xffffffffu);
  t.init.out(0x80, 0x55, 1);
  EXPECT_GE(t.stats.value("system.mem_bus.unmapped.reads"), 2.0);
  EXPECT_GE(t.stats.value("system.io_bus.unmapped.writes"), 1.0);
}

TEST(Bus, AccessStraddlingTheEndOfRam) {
  Top& t = top();
  t.init.write(t.init.mem, kRamSize - 4, 0x44332211, 4);
  EXPECT_EQ(t.init.read(t.init.mem, kRamSize - 4, 8), 0xffffffff'44332211ull);
}

TEST(Bus, BadWindowsAreErrorsAtMapTime) {
  Top& t = top();
  ASSERT_EQ(t.map_errors.size(), 4u);
  EXPECT_NE(t.map_errors[0].find("overlaps 'ram'"), std::string::npos) << t.map_errors[0];
  EXPECT_NE(t.map_errors[1].find("overlaps 'uart0'"), std::string::npos) << t.map_errors[1];
  EXPECT_NE(t.map_errors[2].find("exceeds"), std::string::npos) << t.map_errors[2];
  EXPECT_NE(t.map_errors[3].find("size 0"), std::string::npos) << t.map_errors[3];
  EXPECT_EQ(t.io_bus.find(0x3fc)->name, "uart0");  // nothing changed
  EXPECT_EQ(t.io_bus.find(0x3000), nullptr);
  EXPECT_EQ(t.mem_bus.find(0x1000)->name, "ram");
}

TEST(Ram, ReadWriteAndCodeMapNotification) {
  Top& t = top();
  t.init.write(t.init.mem, 0x1000, 0x1122334455667788ull, 8);
  EXPECT_EQ(t.init.read(t.init.mem, 0x1000, 8), 0x1122334455667788ull);
  EXPECT_EQ(t.init.read(t.init.mem, 0x1003, 2), 0x4455u);
  // A write crossing a page (and a chunk) boundary.
  const uint64_t a = 2 * Ram::kChunkSize - 3;
  t.init.write(t.init.mem, a, 0xa1a2a3a4a5a6ull, 6);
  EXPECT_EQ(t.init.read(t.init.mem, a, 6), 0xa1a2a3a4a5a6ull);
  EXPECT_EQ(t.ram.page(a)[4093], 0xa6);
  EXPECT_EQ(t.ram.page(a + 3)[0], 0xa3);

  t.code_map.mark_code(0x5000, 16);
  t.spy.writes.clear();
  t.init.write(t.init.mem, 0x5008, 0x90, 1);
  ASSERT_EQ(t.spy.writes.size(), 1u);
  EXPECT_EQ(t.spy.writes[0].first, 0x5008u);
  t.init.write(t.init.mem, 0x6000, 0x90, 1);  // no code there
  EXPECT_EQ(t.spy.writes.size(), 1u);
  EXPECT_GE(t.stats.value("system.ram.writes"), 4.0);
  EXPECT_GE(t.stats.value("system.mem_bus.ram.writes"), 4.0);
}

TEST(Ram, CodeMapAddressesAcrossAPhysicalSplit) {
  Top& t = top();
  t.split.set_phys_split(4ull << 20, 4ull << 30);  // like RAM above the PC's PCI hole
  EXPECT_EQ(t.split.phys_address(0x1000), 0x1000u);
  EXPECT_EQ(t.split.phys_address((4ull << 20) + 8), (4ull << 30) + 8);
  t.code_map.mark_code((4ull << 30) + 0, 64);
  t.code_map.mark_code((4ull << 20) - 128, 128);
  t.spy.writes.clear();
  const uint8_t bytes[16] = {};
  t.split.write((4ull << 20) - 8, bytes, 16);  // straddles the split: two physical ranges
  ASSERT_EQ(t.spy.writes.size(), 2u);
  EXPECT_EQ(t.spy.writes[0].first, (4u << 20) - 8u);
  EXPECT_EQ(t.spy.writes[0].second, 8u);
  EXPECT_EQ(t.spy.writes[1].first, uint64_t{4} << 30);
  EXPECT_EQ(t.spy.writes[1].second, 8u);
}

TEST(Ram, DmiThroughTheBus) {
  Top& t = top();
  tlm::tlm_generic_payload gp;
  gp.set_address(0x3000);
  gp.set_command(tlm::TLM_READ_COMMAND);
  tlm::tlm_dmi dmi;
  ASSERT_TRUE(t.init.mem->get_direct_mem_ptr(gp, dmi));
  EXPECT_TRUE(dmi.is_read_write_allowed());
  EXPECT_LE(dmi.get_start_address(), 0x3000u);
  EXPECT_GE(dmi.get_end_address(), 0x3fffu);
  uint8_t* p = dmi.get_dmi_ptr() + (0x3000 - dmi.get_start_address());
  EXPECT_EQ(p, t.ram.page(0x3000));  // the same stable page pointer the CPU's dmi_page() uses
  std::memcpy(p + 8, "\x01\x02\x03\x04", 4);
  EXPECT_EQ(t.init.read(t.init.mem, 0x3008, 4), 0x04030201u);

  // The big RAM's window is translated back to bus addresses.
  gp.set_address(kBigRamBase + 5 * Ram::kChunkSize + 12);
  ASSERT_TRUE(t.init.mem->get_direct_mem_ptr(gp, dmi));
  EXPECT_EQ(dmi.get_start_address(), kBigRamBase + 5 * Ram::kChunkSize);
  EXPECT_EQ(dmi.get_end_address(), kBigRamBase + 6 * Ram::kChunkSize - 1);

  // Nothing there: denied for the whole hole.
  gp.set_address(0x80000000);
  EXPECT_FALSE(t.init.mem->get_direct_mem_ptr(gp, dmi));
  EXPECT_EQ(dmi.get_start_address(), kRamSize);
  EXPECT_EQ(dmi.get_end_address(), 0xfebfffffu);  // up to the IOAPIC window
  // Devices grant no DMI.
  gp.set_address(0xfec00000);
  EXPECT_FALSE(t.init.mem->get_direct_mem_ptr(gp, dmi));
}

TEST(Ram, DebugTransport) {
  Top& t = top();
  uint32_t v = 0xdeadbeef;
  tlm::tlm_generic_payload gp;
  gp.set_command(tlm::TLM_WRITE_COMMAND);
  gp.set_address(0x7000);
  gp.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  gp.set_data_length(4);
  EXPECT_EQ(t.init.mem->transport_dbg(gp), 4u);
  EXPECT_EQ(t.init.read(t.init.mem, 0x7000, 4), 0xdeadbeefu);
}

TEST(Ram, SparseSixtyFourGigabytes) {
  Top& t = top();
  const uint64_t before = t.big.chunks_allocated();
  EXPECT_EQ(t.big.size(), kBigRamSize);
  EXPECT_EQ(t.init.read(t.init.mem, kBigRamBase + (40ull << 30), 8), 0u);  // reads: no allocation
  EXPECT_EQ(t.big.chunks_allocated(), before);
  EXPECT_EQ(t.big.peek_page(40ull << 30), nullptr);
  t.init.write(t.init.mem, kBigRamBase + (40ull << 30) + 7, 0x5a, 1);
  EXPECT_EQ(t.big.chunks_allocated(), before + 1);
  EXPECT_EQ(t.init.read(t.init.mem, kBigRamBase + (40ull << 30), 8), 0x5a00000000000000ull);
  EXPECT_LE(t.big.allocated_bytes(), 8 * Ram::kChunkSize);
}

TEST(Uart, OutputAndLineStatus) {
  Top& t = top();
  t.uart.clear_output();
  for (char c : std::string("OK\n")) t.init.out(0x3f8, static_cast<uint8_t>(c), 1);
  EXPECT_EQ(t.uart.output(), "OK\n");
  EXPECT_NE(t.serial.str().find("OK\n"), std::string::npos);
  EXPECT_EQ(t.init.in(0x3fd, 1), 0x60u);
  EXPECT_GE(t.stats.value("system.io_bus.uart0.writes"), 3.0);
}

TEST(DebugExit, RecordsStatus) {
  Top& t = top();
  t.init.out(0xf4, 0x10, 4);
  EXPECT_EQ(t.exit_status, 0x21);
  EXPECT_EQ(t.init.in(0xf4, 4), 0xffffffffu);
}

TEST(FwCfg, SelectorAndDataPorts) {
  Top& t = top();
  t.init.out(0x510, 0x0000, 2);
  std::string sig;
  for (int i = 0; i < 4; ++i) sig.push_back(static_cast<char>(t.init.in(0x511, 1)));
  EXPECT_EQ(sig, "QEMU");
  t.init.out(0x510, 0x0005, 2);
  EXPECT_EQ(t.init.in(0x511, 1) | (t.init.in(0x511, 1) << 8), 2u);
  t.init.out(0x510, 0x0003, 2);
  uint64_t ram = 0;
  for (int i = 0; i < 8; ++i) ram |= t.init.in(0x511, 1) << (8 * i);
  EXPECT_EQ(ram, kRamSize);
}

TEST(Pic, PortsThroughOffsetWindows) {
  Top& t = top();
  t.init.out(0x20, 0x11, 1);
  t.init.out(0x21, 0x20, 1);
  t.init.out(0x21, 0x04, 1);
  t.init.out(0x21, 0x01, 1);
  t.init.out(0x21, 0xfb, 1);
  t.init.out(0xa0, 0x11, 1);
  t.init.out(0xa1, 0x28, 1);
  t.init.out(0xa1, 0x02, 1);
  t.init.out(0xa1, 0x01, 1);
  t.init.out(0xa1, 0xff, 1);
  EXPECT_EQ(t.init.in(0x21, 1), 0xfbu);
  EXPECT_EQ(t.init.in(0xa1, 1), 0xffu);
  EXPECT_EQ(t.pic.slave().vector_base(), 0x28);
  t.init.out(0x4d1, 0x0c, 1);
  EXPECT_EQ(t.init.in(0x4d1, 1), 0x0cu);
}

TEST(PciHost, HostBridgeThenEmptySlots) {
  Top& t = top();
  t.init.out(0xcf8, 0x80000000, 4);
  EXPECT_EQ(t.init.in(0xcf8, 4), 0x80000000u);
  EXPECT_EQ(t.init.in(0xcfc, 2), 0x8086u);
  EXPECT_EQ(t.init.in(0xcfe, 2), 0x1237u);
  t.init.out(0xcf8, 0x80000800, 4);
  EXPECT_EQ(t.init.in(0xcfc, 2), 0xffffu);
}

TEST(IoApic, MmioWindow) {
  Top& t = top();
  t.init.write(t.init.mem, 0xfec00000, 0x01, 4);
  EXPECT_EQ(t.init.read(t.init.mem, 0xfec00010, 4), 0x00170011u);
}

TEST(AcpiPmTimer, AdvancesWithSimulatedTime) {
  Top& t = top();
  const uint64_t t0 = t.init.in(0x608, 4);
  const uint64_t ps0 = plat::TlmDevice::to_ps(sc_time_stamp());
  EXPECT_EQ(t0, plat::AcpiPmTimer::counter_at(ps0));
  sc_start(1, SC_MS);
  const uint64_t t1 = t.init.in(0x608, 4);
  const uint64_t d = (t1 - t0) & 0xffffff;
  EXPECT_GE(d, 3579u);
  EXPECT_LE(d, 3580u);
  // The initiator's annotated delay (its local time in the quantum) counts.
  const uint64_t t2 = t.init.in(0x608, 4, sc_time(1, SC_MS));
  EXPECT_EQ(t2, plat::AcpiPmTimer::counter_at(plat::TlmDevice::to_ps(sc_time_stamp() +
                                                                     sc_time(1, SC_MS))));
  EXPECT_GE((t2 - t1) & 0xffffff, 3579u);
  EXPECT_EQ(t.init.in(0x604, 2) & 1, 1u);  // SCI_EN
}

TEST(AcpiPmTimer, ReadFromAThreadAfterWaiting) {
  Top& t = top();
  uint64_t a = 0, b = 0;
  t.init.script = [&] {
    a = t.init.in(0x608, 4);
    wait(100, SC_US);
    b = t.init.in(0x608, 4);
  };
  t.init.go.notify(SC_ZERO_TIME);
  sc_start(1, SC_MS);
  const uint64_t d = (b - a) & 0xffffff;
  EXPECT_GE(d, 357u);
  EXPECT_LE(d, 358u);
}

}  // namespace

int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
