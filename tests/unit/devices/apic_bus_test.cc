// IPI routing through the ApicBus with several local APICs (SDM Vol. 3 §10.6).
#include "platform/devices/apic_bus.h"

#include <gtest/gtest.h>

#include <memory>

#include "fake_core.h"
#include "platform/devices/local_apic.h"

namespace vmxsim::platform::test {
namespace {

constexpr uint32_t kFixed = 0x000, kLowest = 0x100, kNmi = 0x400, kInit = 0x500, kSipi = 0x600;
constexpr uint32_t kLogical = 1u << 11, kAssert = 1u << 14, kLevelTrig = 1u << 15;
constexpr uint32_t kSelf = 1u << 18, kAllIncl = 2u << 18, kAllExcl = 3u << 18;

struct Machine : ::testing::Test {
  static constexpr unsigned kCpus = 4;
  ApicBus bus;
  FakeCore cores[kCpus];
  std::unique_ptr<LocalApic> apic[kCpus];

  Machine() {
    for (unsigned i = 0; i < kCpus; ++i) {
      LocalApicParams p;
      p.apic_id = i;
      p.bsp = i == 0;
      apic[i] = std::make_unique<LocalApic>(p, &bus, &cores[i]);
      bus.attach(apic[i].get());
      wr(*apic[i], kSvr, 0x1ff);
    }
  }
  // Sends from CPU `from` and returns which CPUs got `vector` in IRR (bit i = CPU i).
  unsigned send(unsigned from, uint32_t icr_lo, uint32_t dest, uint8_t vector = 0x40) {
    for (auto& a : apic)
      if (a->irr_bit(vector)) {
        a->acknowledge(vector);
        wr(*a, kEoi, 0);
      }
    wr(*apic[from], kIcrHi, dest << 24);
    wr(*apic[from], kIcrLo, icr_lo | vector);
    unsigned got = 0;
    for (unsigned i = 0; i < kCpus; ++i)
      if (apic[i]->irr_bit(vector)) got |= 1u << i;
    return got;
  }
};

TEST_F(Machine, PhysicalDestinations) {
  EXPECT_EQ(send(0, kFixed | kAssert, 2), 0b0100u);
  EXPECT_EQ(send(0, kFixed | kAssert, 0), 0b0001u);
  EXPECT_EQ(send(1, kFixed | kAssert, 0xff), 0b1111u);  // physical broadcast
  EXPECT_EQ(send(1, kFixed | kAssert, 9), 0u);          // nobody
  EXPECT_EQ(rd(*apic[1], kIcrLo) & (1u << 12), 0u);     // delivery status reads idle
}

TEST_F(Machine, Shorthands) {
  EXPECT_EQ(send(2, kFixed | kAssert | kSelf, 0), 0b0100u);
  EXPECT_EQ(send(2, kFixed | kAssert | kAllIncl, 0), 0b1111u);
  EXPECT_EQ(send(2, kFixed | kAssert | kAllExcl, 0), 0b1011u);
}

TEST_F(Machine, LogicalFlat) {
  for (unsigned i = 0; i < kCpus; ++i) wr(*apic[i], kLdr, (1u << i) << 24);
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0b0110), 0b0110u);
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0b1000), 0b1000u);
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0x10), 0u);
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0xff), 0b1111u);
}

TEST_F(Machine, LogicalCluster) {
  // CPUs 0, 1 in cluster 1 (bits 0, 1); CPUs 2, 3 in cluster 2 (bits 0, 1).
  for (unsigned i = 0; i < kCpus; ++i) {
    wr(*apic[i], kDfr, 0x0fffffff);
    wr(*apic[i], kLdr, (((i < 2 ? 1u : 2u) << 4) | (1u << (i & 1))) << 24);
  }
  EXPECT_EQ(rd(*apic[0], kDfr), 0x0fffffffu);
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0x13), 0b0011u);
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0x22), 0b1000u);
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0xf1), 0b0101u);  // bit 0 of every cluster
  EXPECT_EQ(send(0, kFixed | kAssert | kLogical, 0x31), 0u);
}

TEST_F(Machine, X2ApicClusterAndBroadcast) {
  for (auto& a : apic)
    ASSERT_TRUE(a->msr_write(LocalApic::kMsrApicBase,
                             0xfee00000 | LocalApic::kBaseEnable | LocalApic::kBaseExtd |
                                 (a.get() == apic[0].get() ? LocalApic::kBaseBsp : 0)));
  auto send_x2 = [&](unsigned from, uint64_t icr) {
    for (auto& a : apic)
      if (a->irr_bit(0x50)) {
        a->acknowledge(0x50);
        a->msr_write(0x80b, 0);
      }
    EXPECT_TRUE(apic[from]->msr_write(0x830, icr | 0x50));
    unsigned got = 0;
    for (unsigned i = 0; i < kCpus; ++i)
      if (apic[i]->irr_bit(0x50)) got |= 1u << i;
    return got;
  };
  EXPECT_EQ(send_x2(0, (3ull << 32) | kAssert), 0b1000u);
  EXPECT_EQ(send_x2(0, (0xffffffffull << 32) | kAssert), 0b1111u);
  // All four IDs are in cluster 0; bitmap bits = 1 << id.
  EXPECT_EQ(send_x2(1, (0x0005ull << 32) | kAssert | kLogical), 0b0101u);
  EXPECT_EQ(send_x2(1, (0x10005ull << 32) | kAssert | kLogical), 0u);  // cluster 1: nobody
}

TEST_F(Machine, LowestPriorityPicksOneTarget) {
  wr(*apic[0], kTpr, 0x30);
  wr(*apic[1], kTpr, 0x10);
  wr(*apic[2], kTpr, 0x20);
  wr(*apic[3], kTpr, 0x10);
  EXPECT_EQ(send(0, kLowest | kAssert, 0xff), 0b0010u);  // lowest TPR, first on a tie
  wr(*apic[1], kTpr, 0x40);
  EXPECT_EQ(send(0, kLowest | kAssert, 0xff), 0b1000u);
  EXPECT_EQ(send(0, kLowest | kAssert, 2), 0b0100u);  // a single destination is kept
}

TEST_F(Machine, InitSipiNmi) {
  send(0, kInit | kAssert | kLevelTrig, 2, 0);
  EXPECT_EQ(cores[2].inits, 1);
  EXPECT_EQ(cores[1].inits, 0);
  send(0, kInit | kLevelTrig, 0, 0 /*de-assert*/);
  EXPECT_EQ(cores[0].inits + cores[1].inits + cores[2].inits + cores[3].inits, 1);
  send(0, kSipi | kAssert | kAllExcl, 0, 0x9f);
  for (unsigned i = 1; i < kCpus; ++i) {
    ASSERT_EQ(cores[i].sipis.size(), 1u) << i;
    EXPECT_EQ(cores[i].sipis[0], 0x9f);
  }
  EXPECT_TRUE(cores[0].sipis.empty());
  send(3, kNmi | kAssert, 1, 0);
  EXPECT_EQ(cores[1].nmis, 1);
  EXPECT_TRUE(apic[1]->has_nmi());
  EXPECT_FALSE(apic[3]->has_nmi());
}

TEST_F(Machine, DisabledApicsReceiveNothing) {
  ASSERT_TRUE(apic[3]->msr_write(LocalApic::kMsrApicBase, 0xfee00000));
  EXPECT_EQ(send(0, kFixed | kAssert, 0xff), 0b0111u);
  EXPECT_EQ(bus.find(2), apic[2].get());
  EXPECT_EQ(bus.find(7), nullptr);
}

}  // namespace
}  // namespace vmxsim::platform::test
