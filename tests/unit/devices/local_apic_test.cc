#include "platform/devices/local_apic.h"

#include <gtest/gtest.h>

#include "fake_core.h"
#include "sim/config.h"

namespace vmxsim::platform::test {
namespace {

LocalApicParams params(uint32_t id = 0, bool bsp = true) {
  LocalApicParams p;
  p.apic_id = id;
  p.bsp = bsp;
  p.core_hz = 2'000'000'000;
  p.timer_hz = 1'000'000'000;  // one timer tick = 2 core cycles
  p.phys_addr_bits = 40;
  return p;
}

struct ApicTest : ::testing::Test {
  FakeCore core;
  LocalApic apic{params(), nullptr, &core};
  void enable() { wr(apic, kSvr, 0x1ff); }
};

TEST_F(ApicTest, ResetState) {
  EXPECT_EQ(apic.apic_base_msr(), 0xfee00000u | LocalApic::kBaseEnable | LocalApic::kBaseBsp);
  EXPECT_EQ(rd(apic, kVer), 0x00050014u);
  EXPECT_EQ(rd(apic, kId), 0u);
  EXPECT_EQ(rd(apic, kSvr), 0xffu);
  EXPECT_EQ(rd(apic, kDfr), 0xffffffffu);
  EXPECT_EQ(rd(apic, kLvtTimer), 0x10000u);
  EXPECT_EQ(rd(apic, kLvtLint0), 0x700u);  // BSP: ExtINT virtual wire
  EXPECT_EQ(rd(apic, kLvtLint1), 0x10000u);
  EXPECT_FALSE(apic.sw_enabled());
  EXPECT_TRUE(apic.xapic_mmio_active());

  LocalApic ap(params(3, false), nullptr, &core);
  EXPECT_EQ(ap.apic_base_msr(), 0xfee00000u | LocalApic::kBaseEnable);
  EXPECT_EQ(rd(ap, kId), 3u << 24);
  EXPECT_EQ(rd(ap, kLvtLint0), 0x10000u);
}

TEST_F(ApicTest, PriorityAndPpr) {
  enable();
  apic.accept(0x31, DeliveryMode::kFixed, true, false);
  apic.accept(0x52, DeliveryMode::kFixed, true, false);
  EXPECT_EQ(apic.pending_interrupt(), 0x52);
  EXPECT_EQ(rd(apic, kIrr + 0x10 * (0x52 / 32)), 1u << (0x52 % 32));

  wr(apic, kTpr, 0x50);  // class 5 blocks vector 0x52 (class must be above)
  EXPECT_EQ(rd(apic, kPpr), 0x50u);
  EXPECT_EQ(apic.pending_interrupt(), -1);
  apic.set_tpr(4);  // CR8 = 4 -> TPR 0x40
  EXPECT_EQ(rd(apic, kTpr), 0x40u);
  EXPECT_EQ(apic.get_tpr(), 4);
  EXPECT_EQ(apic.pending_interrupt(), 0x52);

  apic.acknowledge(0x52);
  EXPECT_TRUE(apic.isr_bit(0x52));
  EXPECT_FALSE(apic.irr_bit(0x52));
  EXPECT_EQ(rd(apic, kPpr), 0x50u);  // ISRV class 5 > TPR class 4
  EXPECT_EQ(apic.pending_interrupt(), -1);  // 0x31 is below the in-service class

  apic.accept(0x61, DeliveryMode::kFixed, true, false);
  EXPECT_EQ(apic.pending_interrupt(), 0x61);  // nests above 0x52
  apic.acknowledge(0x61);
  EXPECT_EQ(rd(apic, kPpr), 0x60u);

  // APR: max of TPR, ISRV, IRRV classes (TPR not dominant).
  EXPECT_EQ(rd(apic, kApr), 0x60u);

  wr(apic, kEoi, 0);  // EOI retires the highest in-service vector first
  EXPECT_FALSE(apic.isr_bit(0x61));
  EXPECT_TRUE(apic.isr_bit(0x52));
  wr(apic, kEoi, 0);
  EXPECT_FALSE(apic.isr_bit(0x52));
  EXPECT_EQ(rd(apic, kPpr), 0x40u);
  apic.set_tpr(0);
  EXPECT_EQ(apic.pending_interrupt(), 0x31);
}

TEST_F(ApicTest, PprUsesTprWhenItDominates) {
  enable();
  apic.accept(0x45, DeliveryMode::kFixed, true, false);
  apic.acknowledge(0x45);
  wr(apic, kTpr, 0x73);
  EXPECT_EQ(rd(apic, kPpr), 0x73u);
  EXPECT_EQ(rd(apic, kApr), 0x73u);
}

TEST_F(ApicTest, SoftwareDisabledHoldsInterruptsAndMasksLvts) {
  apic.accept(0x40, DeliveryMode::kFixed, true, false);
  EXPECT_TRUE(apic.irr_bit(0x40));
  EXPECT_EQ(apic.pending_interrupt(), -1);
  wr(apic, kLvtTimer, 0x20);
  EXPECT_EQ(rd(apic, kLvtTimer), 0x10020u);  // mask bit stays set while disabled
  enable();
  EXPECT_EQ(apic.pending_interrupt(), 0x40);
  wr(apic, kLvtTimer, 0x20);
  EXPECT_EQ(rd(apic, kLvtTimer), 0x20u);
  wr(apic, kSvr, 0xff);  // disable again: every LVT masked
  EXPECT_EQ(rd(apic, kLvtTimer), 0x10020u);
  EXPECT_EQ(rd(apic, kLvtLint0) & 0x10000u, 0x10000u);
}

TEST_F(ApicTest, IllegalVectorsSetEsr) {
  enable();
  apic.accept(5, DeliveryMode::kFixed, true, false);
  EXPECT_FALSE(apic.irr_bit(5));
  EXPECT_EQ(rd(apic, kEsr), 0u);  // not visible before the ESR write
  wr(apic, kEsr, 0);
  EXPECT_EQ(rd(apic, kEsr), 0x40u);  // receive illegal vector
  wr(apic, kIcrLo, 0x4003);          // fixed, vector 3, to no one
  wr(apic, kEsr, 0);
  EXPECT_EQ(rd(apic, kEsr), 0x20u);  // send illegal vector
  wr(apic, kEsr, 0);
  EXPECT_EQ(rd(apic, kEsr), 0u);

  // With the error LVT unmasked, the error raises its vector.
  wr(apic, kLvtError, 0xe3);
  apic.accept(1, DeliveryMode::kFixed, true, false);
  EXPECT_TRUE(apic.irr_bit(0xe3));
}

TEST_F(ApicTest, LevelTriggeredEoiBroadcastsToIoApic) {
  ApicBus bus;
  LocalApic a(params(), &bus, &core);
  bus.attach(&a);
  std::vector<uint8_t> eois;
  bus.add_eoi_listener([&](uint8_t v) { eois.push_back(v); });
  wr(a, kSvr, 0x1ff);
  a.accept(0x70, DeliveryMode::kFixed, true, true);
  a.accept(0x60, DeliveryMode::kFixed, true, false);
  EXPECT_TRUE(a.tmr_bit(0x70));
  EXPECT_FALSE(a.tmr_bit(0x60));
  a.acknowledge(a.pending_interrupt());
  a.acknowledge(a.pending_interrupt());
  wr(a, kEoi, 0);
  ASSERT_EQ(eois.size(), 1u);
  EXPECT_EQ(eois[0], 0x70);
  wr(a, kEoi, 0);  // edge-triggered 0x60: no broadcast
  EXPECT_EQ(eois.size(), 1u);
  wr(a, kEoi, 0);  // nothing in service: nothing happens
  EXPECT_EQ(eois.size(), 1u);
}

TEST_F(ApicTest, NotifiesTheCore) {
  enable();
  const int before = core.interrupts;
  apic.accept(0x40, DeliveryMode::kFixed, true, false);
  EXPECT_GT(core.interrupts, before);
  apic.accept(0, DeliveryMode::kNmi, true, false);
  EXPECT_EQ(core.nmis, 1);
  EXPECT_TRUE(apic.has_nmi());
  apic.ack_nmi();
  EXPECT_FALSE(apic.has_nmi());
  apic.accept(0, DeliveryMode::kInit, true, false);
  EXPECT_EQ(core.inits, 1);
  apic.accept(0, DeliveryMode::kInit, false, true);  // INIT level de-assert: ignored
  EXPECT_EQ(core.inits, 1);
  apic.accept(0x9a, DeliveryMode::kStartUp, true, false);
  ASSERT_EQ(core.sipis.size(), 1u);
  EXPECT_EQ(core.sipis[0], 0x9a);
}

TEST_F(ApicTest, InitResetKeepsIdAndBase) {
  enable();
  wr(apic, kId, 7u << 24);
  wr(apic, kTpr, 0x20);
  apic.accept(0x40, DeliveryMode::kFixed, true, false);
  apic.init_reset();
  EXPECT_EQ(rd(apic, kId), 7u << 24);
  EXPECT_EQ(rd(apic, kTpr), 0u);
  EXPECT_FALSE(apic.irr_bit(0x40));
  EXPECT_EQ(rd(apic, kSvr), 0xffu);
  EXPECT_EQ(rd(apic, kLvtLint0), 0x10000u);  // INIT masks LINT0 too
  EXPECT_EQ(apic.apic_base_msr() & LocalApic::kBaseEnable, LocalApic::kBaseEnable);
}

TEST_F(ApicTest, MmioNarrowAndUnalignedAccesses) {
  enable();
  wr(apic, kTpr, 0x5a);
  EXPECT_EQ(apic.mmio_read(kTpr, 1), 0x5au);
  EXPECT_EQ(apic.mmio_read(kVer + 2, 1), 0x05u);
  apic.mmio_write(kTpr, 1, 0x11);  // narrow stores are dropped
  EXPECT_EQ(rd(apic, kTpr), 0x5au);
  apic.mmio_write(kTpr + 4, 4, 0x11);
  EXPECT_EQ(rd(apic, kTpr), 0x5au);
  // A read of a register that does not exist reports an illegal register address.
  EXPECT_EQ(rd(apic, 0x40), 0u);
  wr(apic, kEsr, 0);
  EXPECT_EQ(rd(apic, kEsr), 0x80u);
}

// ---- timer

TEST_F(ApicTest, OneShotTimer) {
  enable();
  wr(apic, kLvtTimer, 0x40);  // one-shot, vector 0x40
  wr(apic, kTdcr, 0xb);       // divide by 1
  core.cycles = 100;          // tick 50
  const int changes = core.timer_changes;
  wr(apic, kTmict, 1000);
  EXPECT_GT(core.timer_changes, changes);
  EXPECT_EQ(apic.next_event_cycles(), 2100u);  // tick 1050
  core.cycles = 700;                           // tick 350: 300 elapsed
  EXPECT_EQ(rd(apic, kTmcct), 700u);
  core.cycles = 2099;
  apic.update();
  EXPECT_FALSE(apic.irr_bit(0x40));
  EXPECT_EQ(rd(apic, kTmcct), 1u);
  core.cycles = 2100;
  apic.update();
  EXPECT_TRUE(apic.irr_bit(0x40));
  EXPECT_EQ(rd(apic, kTmcct), 0u);
  EXPECT_EQ(rd(apic, kTmict), 1000u);
  EXPECT_EQ(apic.next_event_cycles(), UINT64_MAX);
  apic.acknowledge(0x40);
  wr(apic, kEoi, 0);
  core.cycles = 10'000'000;
  apic.update();
  EXPECT_FALSE(apic.irr_bit(0x40));  // one shot only
}

TEST_F(ApicTest, TimerDivider) {
  enable();
  wr(apic, kLvtTimer, 0x40);
  const struct { uint32_t tdcr, div; } cases[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
                                                  {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
  for (auto c : cases) {
    core.cycles = 1'000'000;  // tick 500000
    wr(apic, kTdcr, c.tdcr);
    EXPECT_EQ(rd(apic, kTdcr), c.tdcr);
    wr(apic, kTmict, 10);
    EXPECT_EQ(apic.next_event_cycles(), 1'000'000u + 10u * c.div * 2) << "tdcr " << c.tdcr;
    wr(apic, kTmict, 0);  // stops the timer
    EXPECT_EQ(apic.next_event_cycles(), UINT64_MAX);
  }
}

TEST_F(ApicTest, PeriodicTimerStaysPhaseLocked) {
  enable();
  wr(apic, kLvtTimer, 0x20000 | 0x41);  // periodic
  wr(apic, kTdcr, 0x3);                 // divide by 16
  core.cycles = 0;
  wr(apic, kTmict, 100);  // period 1600 ticks = 3200 cycles
  EXPECT_EQ(apic.next_event_cycles(), 3200u);
  core.cycles = 3200;
  apic.update();
  EXPECT_TRUE(apic.irr_bit(0x41));
  EXPECT_EQ(apic.next_event_cycles(), 6400u);
  EXPECT_EQ(rd(apic, kTmcct), 100u);  // reloaded
  core.cycles = 3200 + 32;            // 16 ticks later: one count
  EXPECT_EQ(rd(apic, kTmcct), 99u);

  apic.acknowledge(0x41);
  wr(apic, kEoi, 0);
  // Several periods missed: one interrupt, next expiry on the original grid.
  core.cycles = 6400 * 3 + 100;
  apic.update();
  EXPECT_TRUE(apic.irr_bit(0x41));
  EXPECT_EQ(apic.next_event_cycles(), 6400u * 3 + 3200);
}

TEST_F(ApicTest, DivideChangeMidCount) {
  enable();
  wr(apic, kLvtTimer, 0x40);
  wr(apic, kTdcr, 0xb);  // /1
  core.cycles = 0;
  wr(apic, kTmict, 1000);
  core.cycles = 400;  // 200 ticks: count 800
  wr(apic, kTdcr, 0x0);  // /2 from here
  EXPECT_EQ(rd(apic, kTmcct), 800u);
  EXPECT_EQ(apic.next_event_cycles(), 400u + 800u * 2 * 2);
}

TEST_F(ApicTest, TimerModeChanges) {
  enable();
  wr(apic, kTdcr, 0xb);
  wr(apic, kLvtTimer, 0x40);  // one-shot
  core.cycles = 0;
  wr(apic, kTmict, 1000);
  core.cycles = 1200;  // 600 ticks: count 400
  wr(apic, kLvtTimer, 0x20040);  // to periodic: keeps counting
  EXPECT_EQ(rd(apic, kTmcct), 400u);
  core.cycles = 2000;
  apic.update();
  EXPECT_TRUE(apic.irr_bit(0x40));
  EXPECT_EQ(rd(apic, kTmcct), 1000u);  // periodic reload

  // Periodic -> one-shot mid-count: continues to zero, then stops.
  core.cycles = 2000 + 1000;  // 500 ticks: count 500
  wr(apic, kLvtTimer, 0x40);
  EXPECT_EQ(rd(apic, kTmcct), 500u);
  core.cycles = 4000;
  apic.update();
  EXPECT_EQ(rd(apic, kTmcct), 0u);
  // Expired one-shot -> periodic stays at zero.
  wr(apic, kLvtTimer, 0x20040);
  core.cycles = 100000;
  EXPECT_EQ(rd(apic, kTmcct), 0u);
  EXPECT_EQ(apic.next_event_cycles(), UINT64_MAX);
}

TEST_F(ApicTest, MaskedTimerExpiresSilently) {
  enable();
  wr(apic, kTdcr, 0xb);
  wr(apic, kLvtTimer, 0x10040);  // masked one-shot
  core.cycles = 0;
  wr(apic, kTmict, 10);
  core.cycles = 100;
  wr(apic, kLvtTimer, 0x40);  // unmasked after the expiry: no interrupt
  apic.update();
  EXPECT_FALSE(apic.irr_bit(0x40));
  EXPECT_EQ(rd(apic, kTmcct), 0u);
}

TEST_F(ApicTest, TscDeadline) {
  enable();
  core.tsc_offset = 5000;
  uint64_t v = 1;
  // Outside TSC-deadline mode the MSR reads 0 and ignores writes.
  EXPECT_TRUE(apic.msr_write(LocalApic::kMsrTscDeadline, 9000));
  EXPECT_TRUE(apic.msr_read(LocalApic::kMsrTscDeadline, v));
  EXPECT_EQ(v, 0u);

  wr(apic, kLvtTimer, 0x40000 | 0xef);  // TSC-deadline mode
  core.cycles = 100;                     // TSC 5100
  EXPECT_TRUE(apic.msr_write(LocalApic::kMsrTscDeadline, 9000));
  EXPECT_TRUE(apic.msr_read(LocalApic::kMsrTscDeadline, v));
  EXPECT_EQ(v, 9000u);
  EXPECT_EQ(apic.next_event_cycles(), 4000u);
  wr(apic, kTmict, 123);  // ignored in this mode
  EXPECT_EQ(rd(apic, kTmict), 0u);
  EXPECT_EQ(rd(apic, kTmcct), 0u);
  core.cycles = 3999;
  apic.update();
  EXPECT_FALSE(apic.irr_bit(0xef));
  core.cycles = 4000;
  apic.update();
  EXPECT_TRUE(apic.irr_bit(0xef));
  EXPECT_TRUE(apic.msr_read(LocalApic::kMsrTscDeadline, v));
  EXPECT_EQ(v, 0u);  // disarmed after firing
  EXPECT_EQ(apic.next_event_cycles(), UINT64_MAX);
  apic.acknowledge(0xef);
  wr(apic, kEoi, 0);

  // A deadline in the past fires at once (kvm-unit-tests writes rdtsc() and expects the
  // interrupt right after).
  EXPECT_TRUE(apic.msr_write(LocalApic::kMsrTscDeadline, core.cycles + core.tsc_offset));
  EXPECT_TRUE(apic.irr_bit(0xef));
  apic.acknowledge(0xef);
  wr(apic, kEoi, 0);

  // Leaving TSC-deadline mode disarms.
  EXPECT_TRUE(apic.msr_write(LocalApic::kMsrTscDeadline, 1'000'000));
  wr(apic, kLvtTimer, 0xef);
  EXPECT_EQ(apic.next_event_cycles(), UINT64_MAX);
  wr(apic, kLvtTimer, 0x40000 | 0xef);
  EXPECT_TRUE(apic.msr_read(LocalApic::kMsrTscDeadline, v));
  EXPECT_EQ(v, 0u);
}

TEST(ApicTimerClock, NonIntegerRatio) {
  FakeCore core;
  LocalApicParams p = params();
  p.core_hz = 2'900'000'000;  // 29 cycles per tick
  p.timer_hz = 100'000'000;
  LocalApic a(p, nullptr, &core);
  wr(a, kSvr, 0x1ff);
  wr(a, kLvtTimer, 0x40);
  wr(a, kTdcr, 0xb);
  core.cycles = 10;  // tick 0
  wr(a, kTmict, 3);
  EXPECT_EQ(a.next_event_cycles(), 87u);  // tick 3 starts at cycle 87
  core.cycles = 86;
  a.update();
  EXPECT_FALSE(a.irr_bit(0x40));
  core.cycles = 87;
  a.update();
  EXPECT_TRUE(a.irr_bit(0x40));
}

TEST(ApicConfig, TimerFrequencyIsAConfigKey) {
  Config cfg;
  cfg.set("system.cpu1.lapic.timer_hz", "25000000");
  LocalApicParams p = LocalApic::params_from_config(cfg, "system.cpu1.lapic", 1, false,
                                                    2'000'000'000, 40, true);
  EXPECT_EQ(p.timer_hz, 25'000'000u);
  EXPECT_EQ(p.apic_id, 1u);
  EXPECT_FALSE(p.bsp);
  EXPECT_EQ(p.phys_addr_bits, 40u);
}

// ---- IA32_APIC_BASE and x2APIC

TEST_F(ApicTest, ApicBaseTransitions) {
  const uint64_t en = LocalApic::kBaseEnable, extd = LocalApic::kBaseExtd;
  const uint64_t base = 0xfee00000;
  EXPECT_FALSE(apic.msr_write(LocalApic::kMsrApicBase, base | extd));         // invalid state
  EXPECT_FALSE(apic.msr_write(LocalApic::kMsrApicBase, base | en | 1));       // reserved bit 0
  EXPECT_FALSE(apic.msr_write(LocalApic::kMsrApicBase, base | en | 0x200));   // reserved bit 9
  EXPECT_FALSE(apic.msr_write(LocalApic::kMsrApicBase, base | en | (1ull << 40)));  // > MAXPHYADDR
  ASSERT_TRUE(apic.msr_write(LocalApic::kMsrApicBase, base | en | extd));     // xAPIC -> x2APIC
  EXPECT_TRUE(apic.x2apic_mode());
  EXPECT_FALSE(apic.xapic_mmio_active());
  EXPECT_FALSE(apic.msr_write(LocalApic::kMsrApicBase, base | en));           // x2APIC -> xAPIC
  EXPECT_TRUE(apic.msr_write(LocalApic::kMsrApicBase, base));                 // x2APIC -> disabled
  EXPECT_FALSE(apic.hw_enabled());
  EXPECT_FALSE(apic.xapic_mmio_active());
  EXPECT_FALSE(apic.msr_write(LocalApic::kMsrApicBase, base | en | extd));    // disabled -> x2APIC
  EXPECT_TRUE(apic.msr_write(LocalApic::kMsrApicBase, 0xfed40000 | en));      // relocated xAPIC
  EXPECT_EQ(apic.base_address(), 0xfed40000u);
  uint64_t v = 0;
  EXPECT_TRUE(apic.msr_read(LocalApic::kMsrApicBase, v));
  EXPECT_EQ(v, 0xfed40000u | en | LocalApic::kBaseBsp);  // BSP flag is kept
  EXPECT_EQ(rd(apic, kVer), 0x00050014u);

  LocalApicParams p = params();
  p.x2apic_supported = false;
  LocalApic no_x2(p, nullptr, &core);
  EXPECT_FALSE(no_x2.msr_write(LocalApic::kMsrApicBase, base | en | extd));
}

TEST_F(ApicTest, DisableResetsToPowerUpState) {
  enable();
  wr(apic, kId, 9u << 24);
  wr(apic, kTpr, 0x30);
  ASSERT_TRUE(apic.msr_write(LocalApic::kMsrApicBase, 0xfee00000));
  EXPECT_EQ(apic.mmio_read(kVer, 4), 0u);  // no MMIO while disabled
  ASSERT_TRUE(apic.msr_write(LocalApic::kMsrApicBase, 0xfee00000 | LocalApic::kBaseEnable));
  EXPECT_EQ(rd(apic, kId), 0u);  // initial ID again
  EXPECT_EQ(rd(apic, kTpr), 0u);
  EXPECT_EQ(rd(apic, kSvr), 0xffu);
}

TEST(X2Apic, MsrRules) {
  FakeCore core;
  LocalApic a(params(0x21, false), nullptr, &core);
  uint64_t v = 0;
  EXPECT_FALSE(a.msr_read(0x802, v));  // x2APIC MSRs #GP in xAPIC mode
  EXPECT_FALSE(a.msr_write(0x808, 0));
  ASSERT_TRUE(a.msr_write(LocalApic::kMsrApicBase,
                          0xfee00000 | LocalApic::kBaseEnable | LocalApic::kBaseExtd));
  ASSERT_TRUE(a.msr_read(0x802, v));
  EXPECT_EQ(v, 0x21u);  // full 32-bit ID
  ASSERT_TRUE(a.msr_read(0x80d, v));
  EXPECT_EQ(v, (2u << 16) | (1u << 1));  // LDR: cluster 2, bit 1
  ASSERT_TRUE(a.msr_read(0x803, v));
  EXPECT_EQ(v, 0x00050014u);

  EXPECT_FALSE(a.msr_write(0x802, 0x22));    // ID read-only
  EXPECT_FALSE(a.msr_write(0x80d, 0));       // LDR read-only
  EXPECT_FALSE(a.msr_write(0x803, 0));       // version
  EXPECT_FALSE(a.msr_write(0x80a, 0));       // PPR
  EXPECT_FALSE(a.msr_write(0x839, 0));       // current count
  EXPECT_FALSE(a.msr_write(0x810, 0));       // ISR
  EXPECT_FALSE(a.msr_read(0x809, v));        // APR does not exist
  EXPECT_FALSE(a.msr_read(0x80e, v));        // DFR does not exist
  EXPECT_FALSE(a.msr_read(0x831, v));        // ICR high does not exist
  EXPECT_FALSE(a.msr_write(0x831, 0));
  EXPECT_FALSE(a.msr_read(0x80b, v));        // EOI is write-only
  EXPECT_FALSE(a.msr_write(0x80b, 1));       // EOI must be written with 0
  EXPECT_TRUE(a.msr_write(0x80b, 0));
  EXPECT_FALSE(a.msr_read(0x83f, v));        // SELF IPI is write-only
  EXPECT_FALSE(a.msr_write(0x828, 1));       // ESR must be written with 0
  EXPECT_TRUE(a.msr_write(0x828, 0));
  EXPECT_FALSE(a.msr_write(0x808, 1ull << 32));  // bits 63:32 reserved
  EXPECT_FALSE(a.msr_read(0x82f, v));        // no CMCI LVT (max LVT 5)
  EXPECT_FALSE(a.msr_read(0x8ff, v));

  EXPECT_TRUE(a.msr_write(0x80f, 0x1ff));
  EXPECT_TRUE(a.msr_write(0x808, 0x20));
  ASSERT_TRUE(a.msr_read(0x808, v));
  EXPECT_EQ(v, 0x20u);
  EXPECT_EQ(a.get_tpr(), 2);

  // SELF IPI.
  EXPECT_TRUE(a.msr_write(0x83f, 0x55));
  EXPECT_TRUE(a.irr_bit(0x55));
  ASSERT_TRUE(a.msr_read(0x820 + 0x55 / 32, v));
  EXPECT_EQ(v, 1u << (0x55 % 32));

  // ICR is one 64-bit MSR; reserved bits #GP; delivery status reads 0.
  EXPECT_FALSE(a.msr_write(0x830, (1ull << 13) | 0x60));
  EXPECT_FALSE(a.msr_write(0x830, (1ull << 20) | 0x60));
  EXPECT_TRUE(a.msr_write(0x830, (0x21ull << 32) | (1u << 12) | 0x66));
  EXPECT_TRUE(a.irr_bit(0x66));  // to itself by physical ID (no bus: self-delivery)
  ASSERT_TRUE(a.msr_read(0x830, v));
  EXPECT_EQ(v, (0x21ull << 32) | 0x66);

  // In x2APIC mode the MMIO page is not decoded.
  EXPECT_EQ(a.mmio_read(kVer, 4), 0u);

  // Timer registers work through MSRs.
  EXPECT_TRUE(a.msr_write(0x83e, 0xb));
  EXPECT_TRUE(a.msr_write(0x832, 0x40));
  core.cycles = 0;
  EXPECT_TRUE(a.msr_write(0x838, 500));
  core.cycles = 200;
  ASSERT_TRUE(a.msr_read(0x839, v));
  EXPECT_EQ(v, 400u);
}

TEST(X2Apic, InitResetRederivesLdr) {
  FakeCore core;
  LocalApic a(params(0x13, false), nullptr, &core);
  ASSERT_TRUE(a.msr_write(LocalApic::kMsrApicBase,
                          0xfee00000 | LocalApic::kBaseEnable | LocalApic::kBaseExtd));
  a.init_reset();
  EXPECT_TRUE(a.x2apic_mode());
  EXPECT_EQ(a.ldr(), (1u << 16) | (1u << 3));
}

// ---- ExtINT (8259 behind LINT0)

struct FakePic : ExtIntController {
  int vector = -1;
  int acks = 0;
  int extint_peek() override { return vector; }
  int extint_acknowledge() override {
    ++acks;
    const int v = vector;
    vector = -1;
    return v;
  }
};

TEST_F(ApicTest, ExtIntThroughLint0) {
  FakePic pic;
  apic.set_ext_int_controller(&pic);
  EXPECT_EQ(apic.pending_interrupt(), -1);
  pic.vector = 0x20;
  apic.set_lint(0, true);
  // Virtual wire works even before software enable (reset LINT0 = ExtINT, unmasked).
  EXPECT_EQ(apic.pending_interrupt(), 0x20);
  apic.acknowledge(0x20);
  EXPECT_EQ(pic.acks, 1);
  EXPECT_FALSE(apic.isr_bit(0x20));

  // A fixed APIC interrupt above PPR is preferred to the 8259.
  enable();
  wr(apic, kLvtLint0, 0x700);
  pic.vector = 0x21;
  apic.accept(0x80, DeliveryMode::kFixed, true, false);
  EXPECT_EQ(apic.pending_interrupt(), 0x80);
  apic.acknowledge(0x80);
  EXPECT_EQ(apic.pending_interrupt(), 0x21);

  // Masked LINT0: the 8259 is cut off.
  wr(apic, kLvtLint0, 0x10700);
  EXPECT_EQ(apic.pending_interrupt(), -1);

  // A hardware-disabled APIC hands INTR straight to the 8259.
  ASSERT_TRUE(apic.msr_write(LocalApic::kMsrApicBase, 0xfee00000));
  EXPECT_EQ(apic.pending_interrupt(), 0x21);
}

TEST_F(ApicTest, Lint1Nmi) {
  enable();
  wr(apic, kLvtLint1, 0x400);  // NMI
  apic.set_lint(1, true);
  EXPECT_EQ(core.nmis, 1);
  apic.set_lint(1, true);  // no new edge
  EXPECT_EQ(core.nmis, 1);
  apic.set_lint(1, false);
  apic.set_lint(1, true);
  EXPECT_EQ(core.nmis, 2);
  // With the APIC hardware-disabled, LINT1 is the processor's NMI pin.
  apic.set_lint(1, false);
  apic.ack_nmi();
  ASSERT_TRUE(apic.msr_write(LocalApic::kMsrApicBase, 0xfee00000));
  apic.set_lint(1, true);
  EXPECT_EQ(core.nmis, 3);
  EXPECT_TRUE(apic.has_nmi());
}

TEST_F(ApicTest, LevelTriggeredLintUsesRemoteIrr) {
  enable();
  wr(apic, kLvtLint0, 0x8000 | 0x55);  // fixed, level-triggered
  apic.set_lint(0, true);
  EXPECT_TRUE(apic.irr_bit(0x55));
  EXPECT_TRUE(rd(apic, kLvtLint0) & (1u << 14));
  apic.acknowledge(0x55);
  apic.set_lint(0, true);
  EXPECT_FALSE(apic.irr_bit(0x55));  // held by remote IRR
  wr(apic, kEoi, 0);                 // still asserted: delivered again
  EXPECT_TRUE(apic.irr_bit(0x55));
}

}  // namespace
}  // namespace vmxsim::platform::test
