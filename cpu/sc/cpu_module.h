// The SystemC face of one core (ARCHITECTURE §1, §3): owns the ISS Core, implements its
// CpuEnv over TLM sockets (memory bus with a DMI cache, I/O bus), and runs it one quantum at a
// time with temporal decoupling. HLT skips ahead to the next local timer event or sleeps until
// an interrupt wakes the core.
#pragma once

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cpu/core.h"
#include "cpu/sc/local_apic_port.h"

namespace vmxsim::cpu {

class CpuModule : public sc_core::sc_module, public CpuEnv {
 public:
  tlm_utils::simple_initiator_socket<CpuModule> mem_socket;
  tlm_utils::simple_initiator_socket<CpuModule> io_socket;

  struct Limits {
    uint64_t max_instructions = 0;  // 0 = unlimited (checked at quantum boundaries)
    uint64_t max_cycles = 0;
  };
  // Called when the core stops the simulation on its own (triple fault, limit reached).
  using StopHandler = std::function<void(const std::string& why, int exit_status)>;

  CpuModule(sc_core::sc_module_name name, CodeMap& code_map, const CoreParams& params,
            uint64_t quantum_cycles, Limits limits, StopHandler on_stop);
  ~CpuModule() override;

  Core& core() { return *m_core; }
  void set_apic(LocalApicPort* apic) { m_apic = apic; }
  // Told when the core becomes dormant (halted with interrupts disabled, or waiting for SIPI:
  // only another processor can wake it) and when it wakes again. The machine ends the run when
  // every core is dormant, even while device timers keep SystemC time moving.
  void set_dormant_handler(std::function<void(bool dormant)> h) { m_on_dormant = std::move(h); }
  // Wakes the core from HLT / wait-for-SIPI (interrupt, NMI, INIT, SIPI arrived).
  void wake();
  // Core cycles at the current point of this core's local time (for devices it owns).
  uint64_t now_cycles() const { return m_core->cycles(); }
  sc_core::sc_time local_time_offset() const;
  // "cpu0 at 0010:ffffffff81000000 (VMX non-root)": where a stopped run left this core.
  std::string where() const;

  // CpuEnv
  uint8_t* dmi_page(uint64_t paddr, bool write) override;
  uint64_t phys_read(uint64_t paddr, unsigned size, Cycles& stall) override;
  void phys_write(uint64_t paddr, unsigned size, uint64_t value, Cycles& stall) override;
  uint32_t io_read(uint16_t port, unsigned size, Cycles& stall) override;
  void io_write(uint16_t port, unsigned size, uint32_t value, Cycles& stall) override;
  bool msr_read(uint32_t msr, uint64_t& value) override;
  bool msr_write(uint32_t msr, uint64_t value) override;
  int pending_interrupt() override;
  void end_of_interrupt() override;
  void wake_from_wait() override { wake(); }
  void acknowledge_interrupt(int vector) override;
  void set_tpr(uint8_t tpr) override;
  uint8_t get_tpr() override;
  void triple_fault(const char* why) override;
  void init_performed() override {
    if (m_apic) m_apic->init_reset();
  }

 private:
  void run_thread();
  // Waits (the core halted) until the wake-up time or the core cycle `timer_cycles` (~0: none).
  void sleep_until_woken(uint64_t timer_cycles);
  sc_core::sc_time cycles_to_time(uint64_t cycles) const;
  uint64_t time_to_cycles(const sc_core::sc_time& t) const;
  void transport(tlm_utils::simple_initiator_socket<CpuModule>& s, tlm::tlm_command cmd, uint64_t addr,
                 unsigned size, uint8_t* data);

  std::unique_ptr<Core> m_core;
  LocalApicPort* m_apic = nullptr;
  uint64_t m_quantum_cycles;
  uint64_t m_period_ps;  // picoseconds per core cycle
  Limits m_limits;
  StopHandler m_on_stop;
  std::function<void(bool)> m_on_dormant;
  sc_core::sc_event m_wake_event;
  bool m_woken = false;  // wake() ran since the core last decided to sleep
  sc_core::sc_time m_wake_at;  // when: the earliest waker's local time
  bool m_shutdown_reported = false;

  // DMI cache: regions granted by the memory bus (the RAM grants per chunk).
  struct DmiRegion {
    uint64_t start = 1, end = 0;  // inclusive; empty when start > end
    uint8_t* ptr = nullptr;
    bool writable = false;
  };
  static constexpr unsigned kDmiSlots = 64;
  DmiRegion m_dmi[kDmiSlots];
  uint64_t m_dmi_denied_page = ~0ull;
};

}  // namespace vmxsim::cpu
