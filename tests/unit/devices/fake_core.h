// A stand-in for the CpuModule side of the local APIC: a settable cycle counter and a record
// of every notification.
#pragma once

#include <cstdint>
#include <vector>

#include "platform/devices/local_apic.h"

namespace vmxsim::platform::test {

struct FakeCore : ApicCoreLink {
  uint64_t cycles = 0;
  uint64_t tsc_offset = 0;  // TSC = cycles + tsc_offset
  int interrupts = 0, nmis = 0, inits = 0, timer_changes = 0;
  std::vector<uint8_t> sipis;

  void apic_interrupt() override { ++interrupts; }
  void apic_nmi() override { ++nmis; }
  void apic_init() override { ++inits; }
  void apic_sipi(uint8_t v) override { sipis.push_back(v); }
  uint64_t now_cycles() override { return cycles; }
  uint64_t now_tsc() override { return cycles + tsc_offset; }
  uint64_t cycles_at_tsc(uint64_t tsc) override { return tsc > tsc_offset ? tsc - tsc_offset : 0; }
  void apic_timer_changed() override { ++timer_changes; }
};

// xAPIC register offsets used by the tests.
enum : uint32_t {
  kId = 0x20, kVer = 0x30, kTpr = 0x80, kApr = 0x90, kPpr = 0xa0, kEoi = 0xb0, kLdr = 0xd0,
  kDfr = 0xe0, kSvr = 0xf0, kIsr = 0x100, kTmr = 0x180, kIrr = 0x200, kEsr = 0x280,
  kIcrLo = 0x300, kIcrHi = 0x310, kLvtTimer = 0x320, kLvtLint0 = 0x350, kLvtLint1 = 0x360,
  kLvtError = 0x370, kTmict = 0x380, kTmcct = 0x390, kTdcr = 0x3e0,
};

inline uint32_t rd(LocalApic& a, uint32_t off) { return a.mmio_read(off, 4); }
inline void wr(LocalApic& a, uint32_t off, uint32_t v) { a.mmio_write(off, 4, v); }

}  // namespace vmxsim::platform::test
