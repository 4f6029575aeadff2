// QEMU's firmware configuration device, traditional (port I/O) interface only, after QEMU's
// docs/specs/fw_cfg.rst: a 16-bit little-endian selector at 0x510 and an 8-bit data port at
// 0x511. Map at 0x510, size 2: offset 0 is the selector, offset 1 the data port.
//
// A 16-bit write at offset 0 selects an item and rewinds its offset; every data read returns the
// next byte of the item (0 past its end; an N-byte read returns the next N bytes in stream order,
// first byte lowest). Byte writes at 0x510 and writes to the data port are ignored (QEMU >= 2.4),
// and so is the DMA interface (ID bit 1 clear).
//
// Items: 0x0000 "QEMU", 0x0001 ID = 1 (bit 0: traditional interface, "always set" per the spec),
// 0x0003 RAM size (u64 LE), 0x0005 and 0x000f number of CPUs (u16 LE), 0x0019 the file directory
// (big-endian u32 count, then 64-byte entries), files from 0x0020 up; unknown keys read zeros.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "platform/devices/io_device.h"

namespace vmxsim::platform {

class FwCfg : public IoDevice {
 public:
  static constexpr uint16_t kSignature = 0x0000, kId = 0x0001, kRamSize = 0x0003,
                            kNbCpus = 0x0005, kMaxCpus = 0x000f, kFileDir = 0x0019,
                            kFileFirst = 0x0020;

  FwCfg(uint64_t ram_size, uint16_t num_cpus);

  // Adds or replaces a numbered item.
  void set_item(uint16_t key, std::vector<uint8_t> data);
  // Adds a named file (name up to 55 characters); returns its key. The directory is rebuilt.
  uint16_t add_file(const std::string& name, std::vector<uint8_t> data);

  uint16_t selector() const { return m_selector; }

  uint64_t io_read(uint64_t offset, unsigned size, uint64_t now_ps) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t now_ps) override;

 private:
  uint8_t next_byte();
  void rebuild_directory();

  std::map<uint16_t, std::vector<uint8_t>> m_items;
  std::vector<std::pair<std::string, uint16_t>> m_files;
  uint16_t m_selector = 0;
  uint64_t m_offset = 0;
  const std::vector<uint8_t>* m_current = nullptr;
};

}  // namespace vmxsim::platform
