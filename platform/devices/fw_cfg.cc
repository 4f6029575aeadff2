#include "platform/devices/fw_cfg.h"

#include <stdexcept>

namespace vmxsim::platform {

namespace {
std::vector<uint8_t> le(uint64_t v, unsigned n) {
  std::vector<uint8_t> out(n);
  for (unsigned i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
  return out;
}
void put_be(std::vector<uint8_t>& out, uint64_t v, unsigned n) {
  for (unsigned i = n; i-- > 0;) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
}  // namespace

FwCfg::FwCfg(uint64_t ram_size, uint16_t num_cpus) {
  m_items[kSignature] = {'Q', 'E', 'M', 'U'};
  m_items[kId] = le(1, 4);
  m_items[kRamSize] = le(ram_size, 8);
  m_items[kNbCpus] = le(num_cpus, 2);
  m_items[kMaxCpus] = le(num_cpus, 2);
  rebuild_directory();
  m_current = &m_items[kSignature];
}

void FwCfg::set_item(uint16_t key, std::vector<uint8_t> data) {
  m_items[key] = std::move(data);
  m_current = nullptr;  // map nodes are stable, but re-resolve on the next read anyway
}

uint16_t FwCfg::add_file(const std::string& name, std::vector<uint8_t> data) {
  if (name.empty() || name.size() > 55)
    throw std::invalid_argument("fw_cfg file name '" + name + "' must have 1..55 characters");
  uint16_t key = 0;
  for (auto& [n, k] : m_files) {
    if (n == name) key = k;
  }
  if (key == 0) {
    key = static_cast<uint16_t>(kFileFirst + m_files.size());
    m_files.emplace_back(name, key);
  }
  set_item(key, std::move(data));
  rebuild_directory();
  return key;
}

void FwCfg::rebuild_directory() {
  std::vector<uint8_t> dir;
  put_be(dir, m_files.size(), 4);
  for (auto& [name, key] : m_files) {
    put_be(dir, m_items[key].size(), 4);
    put_be(dir, key, 2);
    put_be(dir, 0, 2);
    for (size_t i = 0; i < 56; ++i) dir.push_back(i < name.size() ? static_cast<uint8_t>(name[i]) : 0);
  }
  m_items[kFileDir] = std::move(dir);
  m_current = nullptr;
}

uint8_t FwCfg::next_byte() {
  if (!m_current) {
    auto it = m_items.find(m_selector);
    static const std::vector<uint8_t> kEmpty;
    m_current = it == m_items.end() ? &kEmpty : &it->second;
  }
  if (m_offset >= m_current->size()) return 0;
  return (*m_current)[m_offset++];
}

uint64_t FwCfg::io_read(uint64_t offset, unsigned size, uint64_t) {
  if (offset > 1) return size_mask(size);
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint64_t{next_byte()} << (8 * i);
  return v;
}

void FwCfg::io_write(uint64_t offset, unsigned size, uint64_t value, uint64_t) {
  if (offset != 0 || size < 2) return;  // data writes are no-ops (QEMU >= 2.4)
  // Bit 14 only asks for write access to the same item; bit 15 selects the arch-local
  // namespace (no x86-local items exist here, so those keys read zeros).
  m_selector = static_cast<uint16_t>(value) & 0xbfff;
  m_offset = 0;
  m_current = nullptr;
}

}  // namespace vmxsim::platform
