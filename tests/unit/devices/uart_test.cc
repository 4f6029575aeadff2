#include "platform/devices/uart16550.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "platform/devices/debug_exit.h"
#include "platform/devices/pci_host.h"
#include "platform/devices/reset_control.h"
#include "sim/config.h"
#include "sim/stats.h"

namespace vmxsim::platform {
namespace {

struct UartTest : ::testing::Test {
  Config cfg;
  StatRegistry stats;
  std::ostringstream out;
  Uart16550 uart{cfg, stats, "system.uart0", &out};
  std::vector<bool> irq;
  UartTest() { uart.set_irq_callback([this](bool l) { irq.push_back(l); }); }
  void w(unsigned reg, uint8_t v) { uart.io_write(reg, 1, v, 0); }
  uint8_t r(unsigned reg) { return static_cast<uint8_t>(uart.io_read(reg, 1, 0)); }
};

TEST_F(UartTest, TransmitsToStreamAndMemory) {
  for (char c : std::string("hi\n")) w(0, static_cast<uint8_t>(c));
  EXPECT_EQ(out.str(), "hi\n");
  EXPECT_EQ(uart.output(), "hi\n");
  EXPECT_EQ(stats.value("system.uart0.tx_bytes"), 3.0);
  EXPECT_EQ(r(5), 0x60);  // THRE | TEMT, no data ready
}

TEST_F(UartTest, DivisorLatchAndScratch) {
  w(3, 0x83);  // DLAB, 8N1
  w(0, 0x01);
  w(1, 0x00);
  EXPECT_EQ(r(0), 0x01);
  EXPECT_EQ(r(1), 0x00);
  w(3, 0x03);
  EXPECT_EQ(r(3), 0x03);
  EXPECT_EQ(uart.output(), "");  // the divisor write did not transmit
  w(7, 0x5a);
  EXPECT_EQ(r(7), 0x5a);
  EXPECT_EQ(r(1), 0x00);  // IER
}

TEST_F(UartTest, ThrEmptyInterrupt) {
  EXPECT_EQ(r(2) & 1, 1);  // no interrupt pending
  w(1, 0x02);              // enable THRE interrupt: raised at once
  ASSERT_EQ(irq.size(), 1u);
  EXPECT_TRUE(irq.back());
  EXPECT_EQ(r(2), 0x02);  // IIR: THR empty; reading acknowledges it
  EXPECT_FALSE(irq.back());
  EXPECT_EQ(r(2), 0x01);
  w(0, 'x');  // each byte re-arms it: the line drops and rises again
  EXPECT_TRUE(irq.back());
  w(2, 0x07);  // FIFO enable
  EXPECT_EQ(r(2) & 0xc0, 0xc0);
}

TEST_F(UartTest, LoopbackEchoesAndMirrorsModemLines) {
  w(4, 0x10 | 0x0b);  // loopback, DTR, RTS, OUT2
  EXPECT_EQ(r(6) & 0xf0, 0xb0);  // CTS, DSR, DCD
  w(0, 'a');
  EXPECT_EQ(uart.output(), "");
  EXPECT_EQ(r(5) & 1, 1);  // data ready
  EXPECT_EQ(r(0), 'a');
  EXPECT_EQ(r(5) & 1, 0);
  w(4, 0x00);
  EXPECT_EQ(r(6), 0xb0);
}

TEST_F(UartTest, OutputLimit) {
  Config c;
  c.set("system.uart1.output_limit", "2");
  StatRegistry s;
  Uart16550 u(c, s, "system.uart1", nullptr);
  for (char ch : std::string("abcd")) u.io_write(0, 1, static_cast<uint8_t>(ch), 0);
  EXPECT_EQ(u.output(), "ab");
}

TEST(DebugExit, StatusIsValueTimesTwoPlusOne) {
  int got = -1;
  DebugExit d([&](int s) { got = s; });
  EXPECT_EQ(d.io_read(0, 4, 0), 0xffffffffu);
  EXPECT_FALSE(d.exited());
  d.io_write(0, 4, 0, 0);
  EXPECT_EQ(got, 1);
  d.io_write(0, 4, 0x13, 0);
  EXPECT_EQ(got, 0x27);
  EXPECT_TRUE(d.exited());
  EXPECT_EQ(d.status(), 0x27);
  d.io_write(0, 1, 0x1ff, 0);  // only the written width counts
  EXPECT_EQ(d.value(), 0xffu);
}

TEST(PciHost, HostBridgeAloneOnTheBus) {
  PciHost p;
  p.io_write(0, 4, 0x80000000u | 0x7f000003u, 0);
  EXPECT_EQ(p.io_read(0, 4, 0), 0x80000000u);  // reserved bits 30:24 and 1:0 read 0
  EXPECT_EQ(p.io_read(4, 4, 0), 0x12378086u);  // 00:00.0: Intel 440FX host bridge
  EXPECT_EQ(p.io_read(6, 2, 0), 0x1237u);
  p.io_write(0, 4, 0x80000008u, 0);
  EXPECT_EQ(p.io_read(4, 4, 0) >> 8, 0x060000u);  // class code: host bridge
  EXPECT_EQ(p.io_read(6, 2, 0), 0x0600u);
  p.io_write(0, 4, 0x80000004u, 0);
  p.io_write(4, 2, 0xffff, 0);
  EXPECT_EQ(p.io_read(4, 2, 0), 0x0006u);  // command: memory space and bus master only
  p.io_write(0, 4, 0x80000000u, 0);
  p.io_write(4, 4, 0, 0);
  EXPECT_EQ(p.io_read(4, 2, 0), 0x8086u) << "the IDs are read-only";
  p.io_write(0, 4, 0x80000800u, 0);            // 00:01.0: nothing there
  EXPECT_EQ(p.io_read(4, 4, 0), 0xffffffffu);  // vendor ID 0xffff: no device
  EXPECT_EQ(p.io_read(4, 2, 0), 0xffffu);
  EXPECT_EQ(p.io_read(6, 1, 0), 0xffu);
  p.io_write(0, 4, 0x00000000u, 0);            // enable bit clear
  EXPECT_EQ(p.io_read(4, 4, 0), 0xffffffffu);
  p.io_write(1, 1, 0x06, 0);  // 0xcf9 byte write: ignored
  EXPECT_EQ(p.io_read(0, 4, 0), 0x00000000u);
}

TEST(ResetControl, KeyboardPulseAndCf9ResetTheMachine) {
  std::vector<std::string> resets;
  ResetControl r([&](const std::string& how) { resets.push_back(how); });
  PciHost p;
  p.attach_reset_control(&r);
  EXPECT_EQ(r.io_read(0x64, 1, 0), 0xffu) << "no keyboard controller answers";
  r.io_write(0x64, 1, 0xad, 0);  // other commands: nothing
  EXPECT_TRUE(resets.empty());
  r.io_write(0x64, 1, 0xfe, 0);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_NE(resets[0].find("0x64"), std::string::npos);
  p.io_write(1, 1, 0x02, 0);  // 0xcf9: hard-reset select only
  EXPECT_EQ(resets.size(), 1u);
  EXPECT_EQ(p.io_read(1, 1, 0), 0x02u);
  p.io_write(1, 1, 0x06, 0);  // ... then the reset bit, as Linux's reboot=pci writes it
  ASSERT_EQ(resets.size(), 2u);
  EXPECT_NE(resets[1].find("0xcf9"), std::string::npos);
  p.io_write(0, 4, 0x80000000u, 0);
  EXPECT_EQ(p.io_read(0, 4, 0), 0x80000000u) << "CONFIG_ADDRESS untouched by the 0xcf9 accesses";
}

}  // namespace
}  // namespace vmxsim::platform
