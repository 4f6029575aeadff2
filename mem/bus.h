// TLM router (ARCHITECTURE §4). Initiators bind to `target_socket`, targets to `initiator_socket`;
// map() gives each target one or more address windows. The same class serves the memory bus and
// the port-I/O bus (a second instance whose address is the port number, last_address 0xffff).
//
// Like a PC chipset it never faults: addresses nothing decodes read as all-ones and ignore
// writes, with an OK response. An access that straddles windows is split at the boundaries.
// DMI requests and debug transport are forwarded with address translation; DMI invalidations
// from a target are translated back and sent to every initiator.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>

namespace vmxsim {
class StatRegistry;
}

namespace vmxsim::mem {

class Bus : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<Bus> target_socket;        // initiators bind here
  tlm_utils::multi_passthrough_initiator_socket<Bus> initiator_socket;  // targets bind here

  struct Mapping {
    std::string name;
    unsigned target;         // index into initiator_socket (binding order)
    uint64_t base;           // first bus address
    uint64_t last;           // last bus address (inclusive)
    uint64_t target_offset;  // address the target sees for `base`
    uint64_t reads = 0, writes = 0;
  };

  // `last_address`: highest decodable address (0xffff for the port bus).
  explicit Bus(sc_core::sc_module_name name, uint64_t last_address = ~uint64_t{0});

  // Target `target_index` sees bus address A as A - base + target_offset. A window that overlaps
  // another, is empty, wraps or exceeds last_address is a std::invalid_argument naming both
  // windows. A target may own several windows (the PIC: 0x20, 0xa0, 0x4d0; map each with
  // target_offset = base to let it decode absolute port numbers).
  void map(unsigned target_index, uint64_t base, uint64_t size, const std::string& name,
           uint64_t target_offset = 0);

  // The window holding `addr`, or nullptr.
  const Mapping* find(uint64_t addr) const;
  const std::deque<Mapping>& mappings() const { return m_mappings; }

  // <prefix>.<window name>.reads/.writes for every window (including windows mapped later) and
  // <prefix>.unmapped.reads/.writes.
  void register_stats(StatRegistry& stats, const std::string& prefix);

  uint64_t unmapped_reads() const { return m_unmapped_reads; }
  uint64_t unmapped_writes() const { return m_unmapped_writes; }

 private:
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(int id, tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  unsigned transport_dbg(int id, tlm::tlm_generic_payload& trans);
  void invalidate_direct_mem_ptr(int id, sc_dt::uint64 start, sc_dt::uint64 end);
  void end_of_elaboration() override;

  Mapping* lookup(uint64_t addr) const;
  // First window starting above `addr` (for the extent of an unmapped hole), or nullptr.
  Mapping* next_after(uint64_t addr) const;
  void forward(Mapping& m, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void split_access(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void unmapped(tlm::tlm_generic_payload& trans);
  void register_mapping_stats(Mapping& m);
  void check_target(const Mapping& m);

  uint64_t m_last_address;
  std::deque<Mapping> m_mappings;       // stable addresses for the stats registry
  std::vector<Mapping*> m_sorted;       // by base
  mutable Mapping* m_last_hit = nullptr;
  StatRegistry* m_stats = nullptr;
  std::string m_stats_prefix;
  bool m_elaborated = false;
  uint64_t m_unmapped_reads = 0, m_unmapped_writes = 0;
};

}  // namespace vmxsim::mem
