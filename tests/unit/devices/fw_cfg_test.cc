#include "platform/devices/fw_cfg.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vmxsim::platform {
namespace {

// Reads `n` bytes of item `key` the way kvm-unit-tests does: outw selector, inb data.
std::vector<uint8_t> read_item(FwCfg& f, uint16_t key, size_t n) {
  f.io_write(0, 2, key, 0);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(f.io_read(1, 1, 0)));
  return out;
}
uint64_t le(const std::vector<uint8_t>& b) {
  uint64_t v = 0;
  for (size_t i = 0; i < b.size(); ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}
uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

TEST(FwCfg, WellKnownItems) {
  FwCfg f(512ull << 20, 4);
  const auto sig = read_item(f, 0x0000, 4);
  EXPECT_EQ(std::string(sig.begin(), sig.end()), "QEMU");
  EXPECT_EQ(le(read_item(f, 0x0001, 4)), 1u);  // traditional interface only
  EXPECT_EQ(le(read_item(f, 0x0003, 8)), 512ull << 20);
  EXPECT_EQ(le(read_item(f, 0x0005, 2)), 4u);
  EXPECT_EQ(le(read_item(f, 0x000f, 2)), 4u);
  EXPECT_EQ(le(read_item(f, 0x0019, 4)), 0u);       // empty file directory
  EXPECT_EQ(le(read_item(f, 0x1234, 8)), 0u);       // unknown key reads zeros
  EXPECT_EQ(le(read_item(f, 0x4003, 8)), 512ull << 20);  // write-channel bit selects the same item
}

TEST(FwCfg, OffsetAdvancesAndRewinds) {
  FwCfg f(1 << 20, 1);
  f.io_write(0, 2, 0x0000, 0);
  EXPECT_EQ(f.io_read(1, 1, 0), uint64_t{'Q'});
  EXPECT_EQ(f.io_read(1, 1, 0), uint64_t{'E'});
  f.io_write(0, 2, 0x0000, 0);  // reselecting rewinds
  EXPECT_EQ(f.io_read(1, 1, 0), uint64_t{'Q'});
  EXPECT_EQ(f.io_read(1, 2, 0), uint64_t{'E'} | (uint64_t{'M'} << 8));  // stream order
  EXPECT_EQ(f.io_read(1, 1, 0), uint64_t{'U'});
  EXPECT_EQ(f.io_read(1, 1, 0), 0u);  // past the end
  f.io_write(0, 1, 0x05, 0);          // byte write to the selector port: ignored
  f.io_write(1, 1, 0x55, 0);          // data writes: ignored
  EXPECT_EQ(f.selector(), 0x0000);
  EXPECT_EQ(f.io_read(1, 1, 0), 0u);
}

TEST(FwCfg, FileDirectory) {
  FwCfg f(1 << 20, 1);
  const uint16_t k1 = f.add_file("opt/vmxsim/a", {1, 2, 3});
  const uint16_t k2 = f.add_file("etc/b", std::vector<uint8_t>(300, 7));
  EXPECT_EQ(k1, 0x20);
  EXPECT_EQ(k2, 0x21);
  const auto dir = read_item(f, 0x0019, 4 + 2 * 64);
  EXPECT_EQ(be(&dir[0], 4), 2u);
  EXPECT_EQ(be(&dir[4], 4), 3u);       // size
  EXPECT_EQ(be(&dir[8], 2), 0x20u);    // select
  EXPECT_EQ(be(&dir[10], 2), 0u);      // reserved
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[12])), "opt/vmxsim/a");
  EXPECT_EQ(be(&dir[68], 4), 300u);
  EXPECT_EQ(be(&dir[72], 2), 0x21u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[76])), "etc/b");
  EXPECT_EQ(read_item(f, 0x20, 4), (std::vector<uint8_t>{1, 2, 3, 0}));
  EXPECT_EQ(f.add_file("opt/vmxsim/a", {9}), 0x20);  // replacing keeps the key
  EXPECT_EQ(read_item(f, 0x20, 2), (std::vector<uint8_t>{9, 0}));
  EXPECT_THROW(f.add_file(std::string(56, 'x'), {}), std::invalid_argument);
}

}  // namespace
}  // namespace vmxsim::platform
