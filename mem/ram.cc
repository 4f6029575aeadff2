#include "mem/ram.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "cpu/code_map.h"
#include "sim/stats.h"

namespace vmxsim::mem {

Ram::Ram(sc_core::sc_module_name name, uint64_t size, cpu::CodeMap* code_map, uint64_t phys_base)
    : sc_module(name),
      socket("socket"),
      m_size((size + kPageSize - 1) & ~(kPageSize - 1)),
      m_code_map(code_map),
      m_phys_base(phys_base),
      m_chunks((m_size + kChunkSize - 1) >> kChunkShift, nullptr) {
  socket.register_b_transport(this, &Ram::b_transport);
  socket.register_get_direct_mem_ptr(this, &Ram::get_direct_mem_ptr);
  socket.register_transport_dbg(this, &Ram::transport_dbg);
}

Ram::~Ram() {
  for (uint8_t* c : m_chunks)
    if (c) munmap(c, kChunkSize);
}

uint8_t* Ram::chunk(uint64_t index) {
  uint8_t*& c = m_chunks[index];
  if (!c) {
    // MAP_NORESERVE: the OS zero-fills and backs 4 KiB pages only as they are touched.
    void* p = mmap(nullptr, kChunkSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    c = static_cast<uint8_t*>(p);
    ++m_chunks_allocated;
  }
  return c;
}

uint8_t* Ram::page(uint64_t offset) {
  if (offset >= m_size) return nullptr;
  return chunk(offset >> kChunkShift) + (offset & (kChunkSize - 1) & ~(kPageSize - 1));
}

const uint8_t* Ram::peek_page(uint64_t offset) const {
  if (offset >= m_size) return nullptr;
  const uint8_t* c = m_chunks[offset >> kChunkShift];
  return c ? c + (offset & (kChunkSize - 1) & ~(kPageSize - 1)) : nullptr;
}

void Ram::note_write(uint64_t offset, uint64_t len) {
  if (!m_code_map || !len) return;
  if (offset < m_low_limit && len > m_low_limit - offset) {
    // Straddles the split: two physical ranges.
    const uint64_t first = m_low_limit - offset;
    m_code_map->note_write(phys_address(offset), first);
    m_code_map->note_write(phys_address(m_low_limit), len - first);
    return;
  }
  m_code_map->note_write(phys_address(offset), len);
}

void Ram::read(uint64_t offset, void* dst, uint64_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  while (len > 0) {
    const uint64_t in_chunk = kChunkSize - (offset & (kChunkSize - 1));
    const uint64_t n = std::min(len, in_chunk);
    if (offset >= m_size) {
      std::memset(out, 0, len);
      return;
    }
    const uint64_t valid = std::min(n, m_size - offset);
    const uint8_t* c = chunk_if_present(offset >> kChunkShift);
    if (c)
      std::memcpy(out, c + (offset & (kChunkSize - 1)), valid);
    else
      std::memset(out, 0, valid);
    out += valid;
    offset += valid;
    len -= valid;
  }
}

void Ram::write(uint64_t offset, const void* src, uint64_t len) {
  const auto* in = static_cast<const uint8_t*>(src);
  if (offset >= m_size) return;
  len = std::min(len, m_size - offset);
  note_write(offset, len);
  while (len > 0) {
    const uint64_t n = std::min(len, kChunkSize - (offset & (kChunkSize - 1)));
    std::memcpy(chunk(offset >> kChunkShift) + (offset & (kChunkSize - 1)), in, n);
    in += n;
    offset += n;
    len -= n;
  }
}

bool Ram::access(tlm::tlm_generic_payload& trans) {
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  const unsigned width = trans.get_streaming_width();
  const uint64_t span = (width != 0 && width < len) ? width : len;
  if (addr >= m_size || span > m_size - addr) return false;
  if (trans.get_byte_enable_ptr() || span < len) {
    access_slow(trans);
    return true;
  }
  uint8_t* data = trans.get_data_ptr();
  if (trans.is_write()) {
    write(addr, data, len);
  } else if (trans.is_read()) {
    read(addr, data, len);
  }
  return true;
}

void Ram::access_slow(tlm::tlm_generic_payload& trans) {
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  const unsigned width = trans.get_streaming_width() ? trans.get_streaming_width() : len;
  const uint8_t* be = trans.get_byte_enable_ptr();
  const unsigned be_len = trans.get_byte_enable_length();
  uint8_t* data = trans.get_data_ptr();
  for (unsigned i = 0; i < len; ++i) {
    if (be && be_len && be[i % be_len] == TLM_BYTE_DISABLED) continue;
    const uint64_t a = addr + (i % width);
    if (trans.is_write())
      write(a, &data[i], 1);
    else if (trans.is_read())
      read(a, &data[i], 1);
  }
}

void Ram::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  if (!access(trans)) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (trans.is_write()) {
    ++m_writes;
    m_bytes_written += trans.get_data_length();
  } else if (trans.is_read()) {
    ++m_reads;
    m_bytes_read += trans.get_data_length();
  }
  trans.set_dmi_allowed(true);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned Ram::transport_dbg(tlm::tlm_generic_payload& trans) {
  const uint64_t addr = trans.get_address();
  if (addr >= m_size) return 0;
  const unsigned len =
      static_cast<unsigned>(std::min<uint64_t>(trans.get_data_length(), m_size - addr));
  if (trans.is_write())
    write(addr, trans.get_data_ptr(), len);
  else if (trans.is_read())
    read(addr, trans.get_data_ptr(), len);
  return len;
}

bool Ram::get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  const uint64_t addr = trans.get_address();
  if (addr >= m_size) {
    dmi.set_start_address(m_size);
    dmi.set_end_address(~uint64_t{0});
    dmi.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_NONE);
    return false;
  }
  // One chunk per grant: chunks are separate host allocations.
  const uint64_t start = addr & ~(kChunkSize - 1);
  const uint64_t end = std::min(start + kChunkSize, m_size) - 1;
  dmi.set_dmi_ptr(chunk(start >> kChunkShift));
  dmi.set_start_address(start);
  dmi.set_end_address(end);
  dmi.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_READ_WRITE);
  dmi.set_read_latency(sc_core::SC_ZERO_TIME);
  dmi.set_write_latency(sc_core::SC_ZERO_TIME);
  ++m_dmi_grants;
  return true;
}

void Ram::register_stats(StatRegistry& stats, const std::string& prefix) {
  stats.add_counter(prefix + ".reads", "accesses", "b_transport reads of RAM", &m_reads);
  stats.add_counter(prefix + ".writes", "accesses", "b_transport writes to RAM", &m_writes);
  stats.add_counter(prefix + ".bytes_read", "bytes", "bytes read through b_transport",
                    &m_bytes_read);
  stats.add_counter(prefix + ".bytes_written", "bytes", "bytes written through b_transport",
                    &m_bytes_written);
  stats.add_counter(prefix + ".dmi_grants", "grants", "DMI regions granted", &m_dmi_grants);
  stats.add_counter(prefix + ".chunks_allocated", "chunks",
                    "2 MiB host chunks reserved on first touch", &m_chunks_allocated);
}

}  // namespace vmxsim::mem
