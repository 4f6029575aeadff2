#include "platform/devices/io_apic.h"

#include <gtest/gtest.h>

#include <memory>

#include "fake_core.h"
#include "platform/devices/local_apic.h"

namespace vmxsim::platform::test {
namespace {

struct IoApicTest : ::testing::Test {
  ApicBus bus;
  FakeCore cores[2];
  std::unique_ptr<LocalApic> lapic[2];
  IoApic ioapic{bus, 2};

  IoApicTest() {
    for (unsigned i = 0; i < 2; ++i) {
      LocalApicParams p;
      p.apic_id = i;
      p.bsp = i == 0;
      lapic[i] = std::make_unique<LocalApic>(p, &bus, &cores[i]);
      bus.attach(lapic[i].get());
      wr(*lapic[i], kSvr, 0x1ff);
    }
  }
  uint32_t reg(uint8_t index) {
    ioapic.io_write(0x00, 4, index, 0);
    return static_cast<uint32_t>(ioapic.io_read(0x10, 4, 0));
  }
  void set_reg(uint8_t index, uint32_t v) {
    ioapic.io_write(0x00, 4, index, 0);
    ioapic.io_write(0x10, 4, v, 0);
  }
  void route(unsigned pin, uint64_t entry) {
    set_reg(static_cast<uint8_t>(0x11 + 2 * pin), static_cast<uint32_t>(entry >> 32));
    set_reg(static_cast<uint8_t>(0x10 + 2 * pin), static_cast<uint32_t>(entry));
  }
  void service(LocalApic& a, uint8_t vector) {
    ASSERT_EQ(a.pending_interrupt(), vector);
    a.acknowledge(vector);
    wr(a, kEoi, 0);
  }
};

TEST_F(IoApicTest, IdentificationRegisters) {
  EXPECT_EQ(reg(0x00), 2u << 24);
  EXPECT_EQ(reg(0x01), 0x00170011u);  // 24 entries, version 0x11
  EXPECT_EQ(reg(0x02), 2u << 24);
  set_reg(0x00, 5u << 24);
  EXPECT_EQ(reg(0x00), 5u << 24);
  ioapic.io_write(0x00, 4, 0x12, 0);
  EXPECT_EQ(ioapic.io_read(0x00, 1, 0), 0x12u);  // IOREGSEL reads back
  for (unsigned pin = 0; pin < IoApic::kPins; ++pin)
    EXPECT_EQ(reg(static_cast<uint8_t>(0x10 + 2 * pin)), 0x10000u) << pin;  // masked at reset
}

TEST_F(IoApicTest, RedirectionEntryReadBack) {
  route(5, 0x01000000'0000a935ull | (1ull << 12) | (1ull << 14));  // RO bits are ignored
  EXPECT_EQ(reg(0x10 + 10), 0x0000a935u);
  EXPECT_EQ(reg(0x11 + 10), 0x01000000u);
  EXPECT_EQ(ioapic.redirection(5), 0x01000000'0000a935ull);
  // Narrow IOWIN writes merge.
  ioapic.io_write(0x00, 1, 0x10 + 10, 0);
  ioapic.io_write(0x10, 1, 0x77, 0);
  EXPECT_EQ(reg(0x10 + 10), 0x0000a977u);
}

TEST_F(IoApicTest, EdgeTriggeredDelivery) {
  route(4, (1ull << 56) | 0x34);  // fixed, physical APIC 1, edge
  ioapic.set_irq(4, true);
  EXPECT_TRUE(lapic[1]->irr_bit(0x34));
  EXPECT_FALSE(lapic[0]->irr_bit(0x34));
  service(*lapic[1], 0x34);
  ioapic.set_irq(4, true);  // still high: no new edge
  EXPECT_FALSE(lapic[1]->irr_bit(0x34));
  ioapic.set_irq(4, false);
  ioapic.set_irq(4, true);
  EXPECT_TRUE(lapic[1]->irr_bit(0x34));
  service(*lapic[1], 0x34);

  // Edges on a masked pin are lost, also after unmasking.
  route(4, (1ull << 56) | 0x10000 | 0x34);
  ioapic.set_irq(4, false);
  ioapic.set_irq(4, true);
  route(4, (1ull << 56) | 0x34);
  EXPECT_FALSE(lapic[1]->irr_bit(0x34));
}

TEST_F(IoApicTest, LevelTriggeredRemoteIrrAndEoi) {
  route(10, (0ull << 56) | 0x8000 | 0x45);  // fixed, level, APIC 0
  ioapic.set_irq(10, true);
  EXPECT_TRUE(lapic[0]->irr_bit(0x45));
  EXPECT_TRUE(lapic[0]->tmr_bit(0x45));
  EXPECT_TRUE(ioapic.redirection(10) & (1u << 14));  // remote IRR
  EXPECT_EQ(reg(0x10 + 20) & (1u << 14), 1u << 14);
  lapic[0]->acknowledge(0x45);
  ioapic.set_irq(10, true);
  EXPECT_FALSE(lapic[0]->irr_bit(0x45));
  // EOI with the line still asserted: remote IRR clears and the interrupt comes again.
  wr(*lapic[0], kEoi, 0);
  EXPECT_TRUE(lapic[0]->irr_bit(0x45));
  lapic[0]->acknowledge(0x45);
  ioapic.set_irq(10, false);
  wr(*lapic[0], kEoi, 0);
  EXPECT_FALSE(ioapic.redirection(10) & (1u << 14));
  EXPECT_FALSE(lapic[0]->irr_bit(0x45));
}

TEST_F(IoApicTest, UnmaskingAnAssertedLevelPinDelivers) {
  route(11, 0x10000 | 0x8000 | 0x46);
  ioapic.set_irq(11, true);
  EXPECT_FALSE(lapic[0]->irr_bit(0x46));
  route(11, 0x8000 | 0x46);
  EXPECT_TRUE(lapic[0]->irr_bit(0x46));
}

TEST_F(IoApicTest, LogicalAndOtherModes) {
  wr(*lapic[0], kLdr, 0x01000000);
  wr(*lapic[1], kLdr, 0x02000000);
  route(3, (0x03ull << 56) | (1u << 11) | 0x55);  // logical, both
  ioapic.set_irq(3, true);
  EXPECT_TRUE(lapic[0]->irr_bit(0x55));
  EXPECT_TRUE(lapic[1]->irr_bit(0x55));
  service(*lapic[0], 0x55);
  service(*lapic[1], 0x55);

  route(6, (0x01ull << 56) | 0x400);  // NMI to APIC 1
  ioapic.set_irq(6, true);
  EXPECT_EQ(cores[1].nmis, 1);

  route(7, (0xffull << 56) | 0x100 | 0x56);  // lowest priority, broadcast: one CPU
  wr(*lapic[0], kTpr, 0x20);
  ioapic.set_irq(7, true);
  EXPECT_FALSE(lapic[0]->irr_bit(0x56));
  EXPECT_TRUE(lapic[1]->irr_bit(0x56));
}

TEST_F(IoApicTest, EoiForOtherVectorsIsIgnored) {
  route(9, 0x8000 | 0x47);
  ioapic.set_irq(9, true);
  ioapic.eoi(0x48);
  EXPECT_TRUE(ioapic.redirection(9) & (1u << 14));
  ioapic.eoi(0x47);
  EXPECT_TRUE(ioapic.redirection(9) & (1u << 14));  // redelivered: still asserted
}

}  // namespace
}  // namespace vmxsim::platform::test
