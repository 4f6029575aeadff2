// Guest RAM: a TLM target backed by sparse host memory (ARCHITECTURE §4).
//
// Host memory is reserved in 2 MiB chunks on first touch (anonymous mmap, so the OS backs each
// 4 KiB page only when it is written); a 64 GiB guest that touches 10 MiB costs about 10 MiB.
// Chunk pointers never move, so page() pointers stay valid for the Ram's lifetime, which is
// what the cores' DMI page cache relies on. Reads of never-touched memory return zeros without
// allocating anything.
//
// Every write through b_transport / transport_dbg / write() is reported to the CodeMap (physical
// address = phys_base + offset) so that decoded blocks on that line are dropped. Writes through
// DMI pointers bypass it: the cores only keep writable DMI mappings of pages without code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

namespace vmxsim {
class StatRegistry;
namespace cpu {
class CodeMap;
}
}  // namespace vmxsim

namespace vmxsim::mem {

class Ram : public sc_core::sc_module {
 public:
  static constexpr uint64_t kPageSize = 4096;
  static constexpr unsigned kChunkShift = 21;  // 2 MiB
  static constexpr uint64_t kChunkSize = uint64_t{1} << kChunkShift;

  tlm_utils::simple_target_socket<Ram> socket;

  // `size` in bytes (rounded up to a whole 4 KiB page). `code_map` may be null. `phys_base` is
  // the physical address of offset 0, used only for CodeMap notifications.
  Ram(sc_core::sc_module_name name, uint64_t size, cpu::CodeMap* code_map = nullptr,
      uint64_t phys_base = 0);
  ~Ram() override;
  Ram(const Ram&) = delete;
  Ram& operator=(const Ram&) = delete;

  uint64_t size() const { return m_size; }

  // For a RAM split around a hole (PC: below 3.5 GiB at 0, the rest from 4 GiB): offsets at and
  // above `low_limit` have physical address high_base + (offset - low_limit). Only the CodeMap
  // notifications use physical addresses.
  void set_phys_split(uint64_t low_limit, uint64_t high_base) {
    m_low_limit = low_limit;
    m_high_base = high_base;
  }
  uint64_t phys_address(uint64_t offset) const {
    return offset >= m_low_limit ? m_high_base + (offset - m_low_limit) : m_phys_base + offset;
  }

  // Host pointer to the 4 KiB page holding `offset` (offset rounded down to the page), zero-filled
  // on first touch; stable for the Ram's lifetime. nullptr when offset >= size().
  uint8_t* page(uint64_t offset);
  // Like page() but never allocates: nullptr if the page was never touched (it reads as zeros).
  const uint8_t* peek_page(uint64_t offset) const;

  // Host-side access for loaders and debuggers (no TLM, no time). Out-of-range bytes are
  // ignored on write and read as zero. write() notifies the CodeMap.
  void read(uint64_t offset, void* dst, uint64_t len) const;
  void write(uint64_t offset, const void* src, uint64_t len);

  // Host memory reserved so far (whole 2 MiB chunks; the OS backs only touched 4 KiB pages).
  uint64_t allocated_bytes() const { return m_chunks_allocated * kChunkSize; }
  uint64_t chunks_allocated() const { return m_chunks_allocated; }

  // Registers <prefix>.reads, .writes, .bytes_read, .bytes_written, .dmi_grants, .chunks_allocated.
  void register_stats(StatRegistry& stats, const std::string& prefix);

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  unsigned transport_dbg(tlm::tlm_generic_payload& trans);
  // Performs the access; returns false for an address error.
  bool access(tlm::tlm_generic_payload& trans);
  // Byte enables or a short streaming width: byte by byte.
  void access_slow(tlm::tlm_generic_payload& trans);

  uint8_t* chunk(uint64_t index);  // allocates on first touch
  const uint8_t* chunk_if_present(uint64_t index) const {
    return m_chunks[index];
  }
  void note_write(uint64_t offset, uint64_t len);

  uint64_t m_size;
  cpu::CodeMap* m_code_map;
  uint64_t m_phys_base;
  uint64_t m_low_limit = ~uint64_t{0}, m_high_base = 0;
  std::vector<uint8_t*> m_chunks;  // one slot per 2 MiB, nullptr until touched

  uint64_t m_reads = 0, m_writes = 0, m_bytes_read = 0, m_bytes_written = 0, m_dmi_grants = 0;
  uint64_t m_chunks_allocated = 0;
};

}  // namespace vmxsim::mem
