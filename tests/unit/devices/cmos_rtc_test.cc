#include "platform/devices/cmos_rtc.h"

#include <gtest/gtest.h>

#include <vector>

namespace vmxsim::platform {
namespace {

constexpr uint64_t kSec = CmosRtc::kPsPerSecond;
constexpr uint64_t kStart = 1767225600;  // 2026-01-01 00:00:00 UTC, a Thursday

struct RtcTest : ::testing::Test {
  CmosRtc rtc{kStart + 23 * 3600 + 59 * 60 + 58, 512ull << 20, 2};  // 23:59:58
  std::vector<bool> irq;
  RtcTest() { rtc.set_irq_callback([this](bool l) { irq.push_back(l); }); }
  uint8_t r(uint8_t reg, uint64_t t) {
    rtc.io_write(0, 1, reg, t);
    return static_cast<uint8_t>(rtc.io_read(1, 1, t));
  }
  void w(uint8_t reg, uint8_t v, uint64_t t) {
    rtc.io_write(0, 1, reg, t);
    rtc.io_write(1, 1, v, t);
  }
};

TEST(CivilTime, RoundTripsAndKnownDates) {
  const CivilTime t = civil_from_epoch(kStart);
  EXPECT_EQ(t.year, 2026u);
  EXPECT_EQ(t.month, 1u);
  EXPECT_EQ(t.day, 1u);
  EXPECT_EQ(t.weekday, 4u);  // Thursday
  EXPECT_EQ(epoch_from_civil(2026, 1, 1, 0, 0, 0), kStart);
  EXPECT_EQ(epoch_from_civil(2000, 2, 29, 12, 0, 0), 951825600u);
  EXPECT_EQ(epoch_from_civil(1970, 1, 1, 0, 0, 0), 0u);
  for (uint64_t e = 0; e < 4'000'000'000ull; e += 7'654'321) {
    const CivilTime c = civil_from_epoch(e);
    ASSERT_EQ(epoch_from_civil(c.year, c.month, c.day, c.hour, c.minute, c.second), e);
  }
}

TEST_F(RtcTest, ShowsTheStartTimeInBcdAndFollowsSimulatedTime) {
  EXPECT_EQ(r(0, 0), 0x58);
  EXPECT_EQ(r(2, 0), 0x59);
  EXPECT_EQ(r(4, 0), 0x23);
  EXPECT_EQ(r(7, 0), 0x01);
  EXPECT_EQ(r(8, 0), 0x01);
  EXPECT_EQ(r(9, 0), 0x26);
  EXPECT_EQ(r(0x32, 0), 0x20);
  EXPECT_EQ(r(6, 0), 5);  // Thursday, 1 = Sunday
  // Two seconds later the date rolls over to Friday 2026-01-02 00:00:00.
  EXPECT_EQ(r(0, 2 * kSec), 0x00);
  EXPECT_EQ(r(4, 2 * kSec), 0x00);
  EXPECT_EQ(r(7, 2 * kSec), 0x02);
  EXPECT_EQ(r(6, 2 * kSec), 6);
  EXPECT_EQ(rtc.epoch_at(2 * kSec + kSec / 2), kStart + 86400);
}

TEST_F(RtcTest, BinaryAnd12HourModes) {
  w(0x0b, CmosRtc::kDm, 0);  // binary, 12-hour
  EXPECT_EQ(r(0, 0), 58);
  EXPECT_EQ(r(4, 0), 0x80 | 11);  // 11 PM
  EXPECT_EQ(r(9, 0), 26);
}

TEST_F(RtcTest, UipIsSetOnlyInTheLast244MicrosecondsOfASecond) {
  EXPECT_FALSE(r(0x0a, kSec - CmosRtc::kUipWindowPs - 1) & CmosRtc::kUip);
  EXPECT_TRUE(r(0x0a, kSec - CmosRtc::kUipWindowPs) & CmosRtc::kUip);
  EXPECT_TRUE(r(0x0a, kSec - 1) & CmosRtc::kUip);
  EXPECT_FALSE(r(0x0a, kSec) & CmosRtc::kUip);
  EXPECT_EQ(r(0x0d, 0), CmosRtc::kVrt);
}

TEST_F(RtcTest, SettingTheTimeWithTheSetBit) {
  w(0x0b, CmosRtc::kSet | CmosRtc::k24h, 0);
  w(0, 0x30, 0);
  w(2, 0x15, 0);
  w(4, 0x10, 0);
  w(7, 0x14, 0);
  w(8, 0x07, 0);
  w(9, 0x99, 0);
  w(0x32, 0x19, 0);
  EXPECT_EQ(r(0, 5 * kSec), 0x30) << "frozen while SET";
  w(0x0b, CmosRtc::k24h, 5 * kSec);
  EXPECT_EQ(rtc.epoch_at(5 * kSec), epoch_from_civil(1999, 7, 14, 10, 15, 30));
  EXPECT_EQ(r(0, 8 * kSec), 0x33);
}

TEST_F(RtcTest, UpdateInterruptOncePerSecondUntilRegisterCIsRead) {
  w(0x0b, CmosRtc::k24h | CmosRtc::kUie, 0);
  EXPECT_EQ(rtc.next_event_ps(0), kSec);
  rtc.advance(kSec);
  ASSERT_EQ(irq, std::vector<bool>{true});
  // PF is set too: the periodic flag runs at the BIOS's 1024 Hz whether or not PIE enables it.
  EXPECT_EQ(r(0x0c, kSec + 10), CmosRtc::kIrqf | CmosRtc::kPf | CmosRtc::kUf);
  EXPECT_EQ(irq, (std::vector<bool>{true, false}));
  EXPECT_EQ(r(0x0c, kSec + 20), 0) << "reading C cleared the flags";
}

TEST_F(RtcTest, PeriodicFlagAtTheProgrammedRate) {
  w(0x0a, 0x20 | 0x06, 0);  // 1024 Hz
  w(0x0b, CmosRtc::k24h | CmosRtc::kPie, 0);
  const uint64_t period = kSec / 1024;  // 976,562,500 ps, exact
  EXPECT_EQ(rtc.next_event_ps(0), period);
  EXPECT_EQ(r(0x0c, period - 1) & CmosRtc::kPf, 0);
  EXPECT_EQ(r(0x0c, period), CmosRtc::kIrqf | CmosRtc::kPf);
  EXPECT_EQ(rtc.next_event_ps(period), 2 * period);
}

TEST_F(RtcTest, AlarmMatchesWithDontCareBytes) {
  w(1, 0x00, 0);           // alarm seconds 00
  w(3, 0xc0, 0);           // any minute
  w(5, 0xff, 0);           // any hour
  w(0x0b, CmosRtc::k24h | CmosRtc::kAie, 0);
  rtc.advance(kSec);       // 23:59:59: no match
  EXPECT_EQ(r(0x0c, kSec) & CmosRtc::kAf, 0);
  rtc.advance(2 * kSec);   // 00:00:00
  EXPECT_EQ(r(0x0c, 2 * kSec) & ~CmosRtc::kPf, CmosRtc::kIrqf | CmosRtc::kAf | CmosRtc::kUf);
}

TEST_F(RtcTest, NvramHoldsMemorySizesAndKeepsWrites) {
  EXPECT_EQ(r(0x15, 0) | r(0x16, 0) << 8, 640);
  EXPECT_EQ(r(0x17, 0) | r(0x18, 0) << 8, 0xfc00);  // capped at 63 MiB above 1 MiB
  EXPECT_EQ(r(0x34, 0) | r(0x35, 0) << 8, (512 - 16) * 16);
  EXPECT_EQ(r(0x5f, 0), 1);
  w(0x40, 0xab, 0);
  EXPECT_EQ(r(0x40, 0), 0xab);
  EXPECT_EQ(rtc.io_read(0, 1, 0), 0xffu) << "the index port is write-only";
  w(0x80 | 0x41, 0xcd, 0);  // bit 7 of the index is the NMI mask, not part of the address
  EXPECT_EQ(r(0x41, 0), 0xcd);
}

}  // namespace
}  // namespace vmxsim::platform
