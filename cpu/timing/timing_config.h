// The system.cpu.* keys of the timing models (cache, TLB, page-walk cache and branch-predictor
// geometry, scheduler factors). Declared where the other system.cpu.* keys are (the PC machine),
// overridden by CPU profiles (sim/cpu_profiles.cc), --set, --config and Python.
#pragma once

#include "cpu/timing/timing_params.h"

namespace vmxsim {
class Config;
}

namespace vmxsim::cpu::timing {

// Declares every key (defaults: a Skylake-like geometry, timing off) and returns their values.
TimingParams declare_timing_params(Config& cfg);

}  // namespace vmxsim::cpu::timing
