#include "platform/devices/pic8259.h"

#include <gtest/gtest.h>

#include <vector>

namespace vmxsim::platform {
namespace {

struct PicTest : ::testing::Test {
  Pic8259Pair pic;
  std::vector<bool> intr_changes;

  PicTest() { pic.set_intr_callback([this](bool v) { intr_changes.push_back(v); }); }
  void out(uint16_t port, uint8_t v) { pic.io_write(port, 1, v, 0); }
  uint8_t in(uint16_t port) { return static_cast<uint8_t>(pic.io_read(port, 1, 0)); }
  // The BIOS/Linux initialisation: vectors 0x20/0x28, cascade on IR2, 8086 mode.
  void init(uint8_t icw4 = 0x01) {
    out(0x20, 0x11);
    out(0x21, 0x20);
    out(0x21, 0x04);
    out(0x21, icw4);
    out(0xa0, 0x11);
    out(0xa1, 0x28);
    out(0xa1, 0x02);
    out(0xa1, icw4);
  }
  void eoi_master() { out(0x20, 0x20); }
  void eoi_slave() { out(0xa0, 0x20); }
};

TEST_F(PicTest, InitSequenceAndMasks) {
  EXPECT_EQ(in(0x21), 0xff);  // masked until initialised
  init();
  EXPECT_EQ(in(0x21), 0x00);  // ICW1 clears the mask
  EXPECT_EQ(pic.master().vector_base(), 0x20);
  EXPECT_EQ(pic.slave().vector_base(), 0x28);
  EXPECT_FALSE(pic.master().initializing());
  out(0x21, 0xfb);
  out(0xa1, 0xff);
  EXPECT_EQ(in(0x21), 0xfb);
  EXPECT_EQ(in(0xa1), 0xff);
  pic.set_irq(1, true);
  EXPECT_FALSE(pic.intr());  // masked
  out(0x21, 0xf9);
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(pic.peek_vector(), 0x21);
}

TEST_F(PicTest, AcknowledgeOrderAndNesting) {
  init();
  pic.set_irq(3, true);
  pic.set_irq(1, true);
  ASSERT_TRUE(pic.intr());
  EXPECT_EQ(pic.acknowledge(), 0x21);  // IRQ1 has the higher priority
  EXPECT_EQ(pic.master().isr(), 0x02);
  EXPECT_FALSE(pic.intr());  // IRQ3 waits behind IRQ1 in service
  pic.set_irq(0, true);
  EXPECT_TRUE(pic.intr());  // IRQ0 nests above IRQ1
  EXPECT_EQ(pic.acknowledge(), 0x20);
  EXPECT_EQ(pic.master().isr(), 0x03);
  eoi_master();  // non-specific EOI: highest priority in service (IRQ0)
  EXPECT_EQ(pic.master().isr(), 0x02);
  EXPECT_FALSE(pic.intr());
  eoi_master();
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(pic.acknowledge(), 0x23);
  out(0x20, 0x63);  // specific EOI for IRQ3
  EXPECT_EQ(pic.master().isr(), 0x00);
  ASSERT_FALSE(intr_changes.empty());
  EXPECT_FALSE(intr_changes.back());
}

TEST_F(PicTest, SlaveCascade) {
  init();
  pic.set_irq(12, true);
  ASSERT_TRUE(pic.intr());
  EXPECT_EQ(pic.peek_vector(), 0x2c);
  EXPECT_EQ(pic.acknowledge(), 0x2c);
  EXPECT_EQ(pic.master().isr(), 0x04);
  EXPECT_EQ(pic.slave().isr(), 0x10);
  pic.set_irq(9, true);  // higher on the slave, but IR2 is in service on the master
  EXPECT_FALSE(pic.intr());
  eoi_slave();
  eoi_master();
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(pic.acknowledge(), 0x29);
}

TEST_F(PicTest, SpuriousInterrupts) {
  init();
  EXPECT_EQ(pic.peek_vector(), -1);
  EXPECT_EQ(pic.acknowledge(), 0x27);  // nothing pending: IRQ7, ISR untouched
  EXPECT_EQ(pic.master().isr(), 0x00);
}

TEST_F(PicTest, ReadIrrIsrAndPoll) {
  init();
  pic.set_irq(5, true);
  EXPECT_EQ(in(0x20), 0x20);  // IRR by default
  out(0x20, 0x0b);            // OCW3: read ISR
  EXPECT_EQ(in(0x20), 0x00);
  pic.acknowledge();
  EXPECT_EQ(in(0x20), 0x20);
  out(0x20, 0x0a);  // back to IRR
  EXPECT_EQ(in(0x20), 0x00);
  eoi_master();
  pic.set_irq(5, false);
  pic.set_irq(6, true);
  out(0x20, 0x0c);  // poll
  EXPECT_EQ(in(0x20), 0x86);
  EXPECT_EQ(pic.master().isr(), 0x40);
  out(0x20, 0x0c);
  EXPECT_EQ(in(0x20), 0x00);  // nothing more
}

TEST_F(PicTest, EdgeAndLevelTriggering) {
  init();
  // Edge: one request per rising edge.
  pic.set_irq(4, true);
  EXPECT_EQ(pic.acknowledge(), 0x24);
  eoi_master();
  EXPECT_FALSE(pic.intr());
  pic.set_irq(4, false);
  // Level (ELCR bit): the request stays while the line is high.
  out(0x4d1, 0x08);  // IRQ11 level-triggered
  EXPECT_EQ(in(0x4d1), 0x08);
  out(0x4d0, 0xff);
  EXPECT_EQ(in(0x4d0), 0xf8);  // IRQ0-2 cannot be level-triggered
  out(0x4d0, 0x00);
  pic.set_irq(11, true);
  EXPECT_EQ(pic.acknowledge(), 0x2b);
  eoi_slave();
  eoi_master();
  EXPECT_TRUE(pic.intr());  // still high
  pic.set_irq(11, false);
  EXPECT_FALSE(pic.intr());
}

TEST_F(PicTest, AutoEoiAndRotation) {
  init(0x03);  // AEOI
  pic.set_irq(1, true);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_EQ(pic.master().isr(), 0x00);

  init();
  out(0x20, 0xc4);  // set priority: IRQ4 lowest, IRQ5 highest
  pic.set_irq(3, true);
  pic.set_irq(6, true);
  EXPECT_EQ(pic.acknowledge(), 0x26);
  out(0x20, 0xa0);  // rotate on non-specific EOI: IRQ6 becomes lowest
  EXPECT_EQ(pic.acknowledge(), 0x23);
}

TEST_F(PicTest, MultiByteAccess) {
  init();
  pic.io_write(0x20, 2, 0xfe00 | 0x0b, 0);  // OCW3 to 0x20, mask to 0x21
  EXPECT_EQ(in(0x21), 0xfe);
  EXPECT_EQ(pic.io_read(0x1f, 1, 0), 0xffu);
}

}  // namespace
}  // namespace vmxsim::platform
