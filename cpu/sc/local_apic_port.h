// What a CpuModule needs from its core-local interrupt controller (the local APIC, with the
// legacy PIC behind LINT0). The platform adapts its LocalApic device to this, so that cpu/
// does not depend on platform/.
#pragma once

#include <cstdint>

namespace vmxsim::cpu {

class LocalApicPort {
 public:
  virtual ~LocalApicPort() = default;
  // xAPIC MMIO: true when `paddr` falls in the APIC page and the APIC is in xAPIC mode.
  virtual bool mmio_owns(uint64_t paddr) = 0;
  virtual uint64_t mmio_read(uint64_t paddr, unsigned size) = 0;
  virtual void mmio_write(uint64_t paddr, unsigned size, uint64_t v) = 0;
  // x2APIC MSRs, IA32_TSC_DEADLINE, IA32_APIC_BASE notifications; false = not handled (#GP).
  virtual bool msr_read(uint32_t msr, uint64_t& v) = 0;
  virtual bool msr_write(uint32_t msr, uint64_t v) = 0;
  virtual int pending_interrupt() = 0;
  virtual void acknowledge(int vector) = 0;
  virtual void end_of_interrupt() = 0;  // an EOI the processor performs itself
  virtual void set_tpr(uint8_t tpr) = 0;
  virtual uint8_t get_tpr() = 0;
  // Core cycle at which the APIC timer next fires (UINT64_MAX: never); update() fires what is due.
  virtual uint64_t next_event_cycles() = 0;
  virtual void update() = 0;
  // The core performed an INIT: the APIC resets all but its base and ID (SDM §10.4.7.3).
  virtual void init_reset() = 0;
};

}  // namespace vmxsim::cpu
