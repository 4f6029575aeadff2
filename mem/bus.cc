#include "mem/bus.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "sim/stats.h"

namespace vmxsim::mem {

namespace {
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
std::string describe(const Bus::Mapping& m) {
  return "'" + m.name + "' [" + hex(m.base) + ", " + hex(m.last) + "]";
}
}  // namespace

Bus::Bus(sc_core::sc_module_name name, uint64_t last_address)
    : sc_module(name),
      target_socket("target_socket"),
      initiator_socket("initiator_socket"),
      m_last_address(last_address) {
  target_socket.register_b_transport(this, &Bus::b_transport);
  target_socket.register_get_direct_mem_ptr(this, &Bus::get_direct_mem_ptr);
  target_socket.register_transport_dbg(this, &Bus::transport_dbg);
  initiator_socket.register_invalidate_direct_mem_ptr(this, &Bus::invalidate_direct_mem_ptr);
}

void Bus::map(unsigned target_index, uint64_t base, uint64_t size, const std::string& name,
              uint64_t target_offset) {
  const std::string self = std::string(this->name()) + ": window '" + name + "' at " + hex(base);
  if (size == 0) throw std::invalid_argument(self + " has size 0");
  if (base > m_last_address || size - 1 > m_last_address - base)
    throw std::invalid_argument(self + " of size " + hex(size) + " exceeds the bus's last address " +
                                hex(m_last_address));
  Mapping m{name, target_index, base, base + (size - 1), target_offset};
  for (const Mapping* o : m_sorted)
    if (m.base <= o->last && o->base <= m.last)
      throw std::invalid_argument(std::string(this->name()) + ": window " + describe(m) +
                                  " overlaps " + describe(*o));
  if (m_elaborated) check_target(m);
  m_mappings.push_back(m);
  Mapping* p = &m_mappings.back();
  m_sorted.insert(std::upper_bound(m_sorted.begin(), m_sorted.end(), p,
                                   [](const Mapping* a, const Mapping* b) { return a->base < b->base; }),
                  p);
  if (m_stats) register_mapping_stats(*p);
}

void Bus::check_target(const Mapping& m) {
  if (m.target >= initiator_socket.size())
    throw std::invalid_argument(std::string(name()) + ": window " + describe(m) + " names target " +
                                std::to_string(m.target) + " but only " +
                                std::to_string(initiator_socket.size()) + " targets are bound");
}

void Bus::end_of_elaboration() {
  m_elaborated = true;
  for (const Mapping& m : m_mappings) check_target(m);
}

Bus::Mapping* Bus::lookup(uint64_t addr) const {
  if (m_last_hit && addr >= m_last_hit->base && addr <= m_last_hit->last) return m_last_hit;
  auto it = std::upper_bound(m_sorted.begin(), m_sorted.end(), addr,
                             [](uint64_t a, const Mapping* m) { return a < m->base; });
  if (it == m_sorted.begin()) return nullptr;
  Mapping* m = *(it - 1);
  if (addr > m->last) return nullptr;
  m_last_hit = m;
  return m;
}

Bus::Mapping* Bus::next_after(uint64_t addr) const {
  auto it = std::upper_bound(m_sorted.begin(), m_sorted.end(), addr,
                             [](uint64_t a, const Mapping* m) { return a < m->base; });
  return it == m_sorted.end() ? nullptr : *it;
}

const Bus::Mapping* Bus::find(uint64_t addr) const { return lookup(addr); }

void Bus::unmapped(tlm::tlm_generic_payload& trans) {
  // As on a PC: nothing answers, the data lines float high, nobody faults.
  if (trans.is_read()) {
    std::memset(trans.get_data_ptr(), 0xff, trans.get_data_length());
    ++m_unmapped_reads;
  } else if (trans.is_write()) {
    ++m_unmapped_writes;
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

void Bus::forward(Mapping& m, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t addr = trans.get_address();
  if (trans.is_read())
    ++m.reads;
  else if (trans.is_write())
    ++m.writes;
  trans.set_address(addr - m.base + m.target_offset);
  initiator_socket[static_cast<int>(m.target)]->b_transport(trans, delay);
  trans.set_address(addr);
}

void Bus::b_transport(int, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  const unsigned width = trans.get_streaming_width();
  const uint64_t span = (width != 0 && width < len) ? width : len;
  Mapping* m = lookup(addr);
  if (m && span != 0 && span - 1 <= m->last - addr) {
    forward(*m, trans, delay);
    return;
  }
  if (!m && addr <= m_last_address) {
    Mapping* next = next_after(addr);
    const uint64_t hole_last = next ? next->base - 1 : m_last_address;
    if (span == 0 || span - 1 <= hole_last - addr) {
      unmapped(trans);
      return;
    }
  }
  if (!m && addr > m_last_address) {
    unmapped(trans);
    return;
  }
  split_access(trans, delay);
}

// The access crosses a window boundary: one sub-transaction per piece, byte enables applied per
// piece. Streaming accesses that cross are rare enough to go byte by byte.
void Bus::split_access(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  const unsigned width = trans.get_streaming_width() ? trans.get_streaming_width() : len;
  const uint8_t* be = trans.get_byte_enable_ptr();
  const unsigned be_len = trans.get_byte_enable_length();
  uint8_t* data = trans.get_data_ptr();
  const bool streaming = width < len;

  tlm::tlm_generic_payload sub;
  sub.set_command(trans.get_command());
  std::vector<uint8_t> sub_be;
  tlm::tlm_response_status worst = tlm::TLM_OK_RESPONSE;
  unsigned i = 0;
  while (i < len) {
    const uint64_t a = addr + (i % width);
    unsigned n;
    if (streaming) {
      n = 1;
    } else {
      const Mapping* m = lookup(a);
      uint64_t piece_last;
      if (m) {
        piece_last = m->last;
      } else if (a > m_last_address) {
        piece_last = ~uint64_t{0};
      } else {
        const Mapping* next = next_after(a);
        piece_last = next ? next->base - 1 : m_last_address;
      }
      const uint64_t room = piece_last - a;  // bytes left in the piece, minus one
      n = room >= len - i - 1 ? len - i : static_cast<unsigned>(room + 1);
    }
    sub.set_address(a);
    sub.set_data_ptr(data + i);
    sub.set_data_length(n);
    sub.set_streaming_width(n);
    if (be && be_len) {
      sub_be.resize(n);
      for (unsigned k = 0; k < n; ++k) sub_be[k] = be[(i + k) % be_len];
      sub.set_byte_enable_ptr(sub_be.data());
      sub.set_byte_enable_length(n);
    } else {
      sub.set_byte_enable_ptr(nullptr);
      sub.set_byte_enable_length(0);
    }
    sub.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    if (Mapping* m = lookup(a))
      forward(*m, sub, delay);
    else
      unmapped(sub);
    if (sub.get_response_status() != tlm::TLM_OK_RESPONSE) worst = sub.get_response_status();
    i += n;
  }
  trans.set_response_status(worst);
}

unsigned Bus::transport_dbg(int, tlm::tlm_generic_payload& trans) {
  const uint64_t addr = trans.get_address();
  Mapping* m = lookup(addr);
  if (!m) return 0;
  const uint64_t room = m->last - addr;
  if (trans.get_data_length() - 1 > room)
    trans.set_data_length(static_cast<unsigned>(room + 1));
  trans.set_address(addr - m->base + m->target_offset);
  const unsigned n = initiator_socket[static_cast<int>(m->target)]->transport_dbg(trans);
  trans.set_address(addr);
  return n;
}

bool Bus::get_direct_mem_ptr(int, tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  const uint64_t addr = trans.get_address();
  Mapping* m = lookup(addr);
  if (!m) {
    // Deny for the whole hole so the initiator need not ask again inside it.
    const Mapping* next = addr <= m_last_address ? next_after(addr) : nullptr;
    auto it = std::upper_bound(m_sorted.begin(), m_sorted.end(), addr,
                               [](uint64_t a, const Mapping* x) { return a < x->base; });
    const uint64_t start = it == m_sorted.begin() ? 0 : (*(it - 1))->last + 1;
    dmi.set_start_address(start);
    dmi.set_end_address(next ? next->base - 1 : ~uint64_t{0});
    dmi.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_NONE);
    return false;
  }
  trans.set_address(addr - m->base + m->target_offset);
  const bool ok = initiator_socket[static_cast<int>(m->target)]->get_direct_mem_ptr(trans, dmi);
  trans.set_address(addr);
  // Translate the target's range back to bus addresses and clip it to this window.
  const uint64_t lo_t = m->target_offset;
  const uint64_t hi_t = m->target_offset + (m->last - m->base);
  uint64_t start = std::max<uint64_t>(dmi.get_start_address(), lo_t);
  uint64_t end = std::min<uint64_t>(dmi.get_end_address(), hi_t);
  if (ok && dmi.get_dmi_ptr()) dmi.set_dmi_ptr(dmi.get_dmi_ptr() + (start - dmi.get_start_address()));
  if (start > end) start = end = addr - m->base + m->target_offset;  // malformed answer
  dmi.set_start_address(start - m->target_offset + m->base);
  dmi.set_end_address(end - m->target_offset + m->base);
  return ok;
}

void Bus::invalidate_direct_mem_ptr(int id, sc_dt::uint64 start, sc_dt::uint64 end) {
  for (const Mapping& m : m_mappings) {
    if (m.target != static_cast<unsigned>(id)) continue;
    const uint64_t lo_t = m.target_offset;
    const uint64_t hi_t = m.target_offset + (m.last - m.base);
    const uint64_t s = std::max<uint64_t>(start, lo_t);
    const uint64_t e = std::min<uint64_t>(end, hi_t);
    if (s > e) continue;
    for (unsigned i = 0; i < target_socket.size(); ++i)
      target_socket[static_cast<int>(i)]->invalidate_direct_mem_ptr(s - lo_t + m.base,
                                                                    e - lo_t + m.base);
  }
}

void Bus::register_mapping_stats(Mapping& m) {
  m_stats->add_counter(m_stats_prefix + "." + m.name + ".reads", "accesses",
                       "reads routed to window " + m.name, &m.reads);
  m_stats->add_counter(m_stats_prefix + "." + m.name + ".writes", "accesses",
                       "writes routed to window " + m.name, &m.writes);
}

void Bus::register_stats(StatRegistry& stats, const std::string& prefix) {
  m_stats = &stats;
  m_stats_prefix = prefix;
  for (Mapping& m : m_mappings) register_mapping_stats(m);
  stats.add_counter(prefix + ".unmapped.reads", "accesses",
                    "reads nothing decoded (answered all-ones)", &m_unmapped_reads);
  stats.add_counter(prefix + ".unmapped.writes", "accesses", "writes nothing decoded (dropped)",
                    &m_unmapped_writes);
}

}  // namespace vmxsim::mem
