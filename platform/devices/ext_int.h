// An interrupt controller answering the processor's INTA cycle itself (the 8259 behind ExtINT
// delivery, SDM Vol. 3 §10.5.1): the local APIC asks it for the vector.
#pragma once

namespace vmxsim::platform {

class ExtIntController {
 public:
  virtual ~ExtIntController() = default;
  // The vector an INTA cycle would return now, or -1 if no request is pending. No side effects.
  virtual int extint_peek() = 0;
  // The INTA cycle: returns the vector and marks it in service.
  virtual int extint_acknowledge() = 0;
};

}  // namespace vmxsim::platform
