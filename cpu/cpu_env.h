// What the instruction-set simulator needs from the machine around it (ARCHITECTURE §1).
// The SystemC CpuModule implements this over TLM sockets; unit tests implement it over a vector.
// Nothing here knows SystemC.
#pragma once

#include <cstdint>

#include "cpu/cpu_state.h"

namespace vmxsim::cpu {

class CpuEnv {
 public:
  virtual ~CpuEnv() = default;

  // Direct memory access: a host pointer to the 4 KiB physical page holding `paddr`, or nullptr
  // when the page is not plain RAM (MMIO, unmapped). The pointer stays valid for the lifetime of
  // the platform. `write` asks for a writable mapping.
  virtual uint8_t* dmi_page(uint64_t paddr, bool write) = 0;

  // Slow path for everything that is not RAM: returns the value; unmapped addresses read as
  // all-ones and ignore writes. `stall` receives extra cycles the access cost.
  virtual uint64_t phys_read(uint64_t paddr, unsigned size, Cycles& stall) = 0;
  virtual void phys_write(uint64_t paddr, unsigned size, uint64_t value, Cycles& stall) = 0;

  // Port I/O (IN/OUT/INS/OUTS). Unmapped ports read as all-ones.
  virtual uint32_t io_read(uint16_t port, unsigned size, Cycles& stall) = 0;
  virtual void io_write(uint16_t port, unsigned size, uint32_t value, Cycles& stall) = 0;

  // MSRs the core does not implement itself (x2APIC, TSC deadline, ...). Return false for an
  // MSR nobody implements: the core then raises #GP(0).
  virtual bool msr_read(uint32_t msr, uint64_t& value) = 0;
  virtual bool msr_write(uint32_t msr, uint64_t value) = 0;

  // Interrupt controller (the core's local APIC and the legacy PIC behind it).
  // Highest-priority deliverable maskable interrupt vector, or -1.
  virtual int pending_interrupt() = 0;
  // The core accepted `vector` (INTA): move it from IRR to ISR.
  virtual void acknowledge_interrupt(int vector) = 0;
  // CR8 writes go to the APIC's TPR (SDM Vol. 3 §10.8.6.1).
  virtual void set_tpr(uint8_t tpr_bits_7_4) = 0;
  virtual uint8_t get_tpr() = 0;

  // Shutdown (triple fault), stop requested by a device (debug exit), etc. are signalled by the
  // core through these.
  virtual void triple_fault(const char* why) = 0;
  // The core performed an INIT (its local APIC resets too).
  virtual void init_performed() {}
  // The core left a wait (MWAIT) for a reason its driver cannot see (a store by another agent
  // to the monitored line): resume running it.
  virtual void wake_from_wait() {}
  // An EOI the processor itself writes to the local APIC (posted-interrupt processing).
  virtual void end_of_interrupt() {}
};

}  // namespace vmxsim::cpu
