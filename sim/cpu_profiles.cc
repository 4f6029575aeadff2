#include "sim/cpu_profiles.h"

#include "sim/config.h"

namespace vmxsim {

const std::vector<CpuProfile>& cpu_profiles() {
  // Latencies are per timing class, in core cycles, for a taken instruction of that class
  // without memory stalls. Skylake figures follow Agner Fog's instruction tables (reciprocal
  // throughput for independent ALU ops, latency for divides and serialising instructions) and
  // Intel's optimization manual; the cache and TLB models of the timing issue refine them.
  static const std::vector<CpuProfile> kProfiles = {
      {"functional",
       "one cycle per instruction, no stalls: the fastest profile, for functional runs",
       {{"system.cpu.frequency_hz", "2000000000"}, {"system.cpu.tsc_hz", "2000000000"}}},
      {"skylake",
       "Intel Skylake client (family 6 model 0x5e), 3.0 GHz; latencies from Agner Fog's tables",
       {{"system.cpu.frequency_hz", "3000000000"},
        {"system.cpu.tsc_hz", "3000000000"},
        {"system.cpu.family_model_stepping", "0x506e3"},
        {"system.cpu.latency.mul", "3"},
        {"system.cpu.latency.div", "26"},
        {"system.cpu.latency.branch", "1"},
        {"system.cpu.latency.call", "2"},
        {"system.cpu.latency.string", "2"},
        {"system.cpu.latency.serializing", "30"},
        {"system.cpu.latency.system", "20"},
        {"system.cpu.latency.msr", "80"},
        {"system.cpu.latency.cpuid", "100"},
        {"system.cpu.latency.cr_write", "40"},
        {"system.cpu.latency.invlpg", "60"},
        {"system.cpu.latency.io", "500"},
        {"system.cpu.latency.fpu", "3"},
        {"system.cpu.latency.sse", "1"}}},
      {"haswell",
       "Intel Haswell client (family 6 model 0x3c), 3.4 GHz; latencies from Agner Fog's tables",
       {{"system.cpu.frequency_hz", "3400000000"},
        {"system.cpu.tsc_hz", "3400000000"},
        {"system.cpu.family_model_stepping", "0x306c3"},
        {"system.cpu.latency.mul", "3"},
        {"system.cpu.latency.div", "29"},
        {"system.cpu.latency.branch", "1"},
        {"system.cpu.latency.call", "2"},
        {"system.cpu.latency.string", "2"},
        {"system.cpu.latency.serializing", "35"},
        {"system.cpu.latency.system", "25"},
        {"system.cpu.latency.msr", "100"},
        {"system.cpu.latency.cpuid", "100"},
        {"system.cpu.latency.cr_write", "45"},
        {"system.cpu.latency.invlpg", "70"},
        {"system.cpu.latency.io", "500"},
        {"system.cpu.latency.fpu", "3"},
        {"system.cpu.latency.sse", "1"}}},
  };
  return kProfiles;
}

void apply_cpu_profile(Config& cfg, const std::string& name) {
  std::string known;
  for (const CpuProfile& p : cpu_profiles()) {
    if (p.name == name) {
      for (const auto& [key, value] : p.values) cfg.set_profile_value(key, value, p.name);
      return;
    }
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw ConfigError("unknown CPU profile '" + name + "' (known: " + known + ")");
}

}  // namespace vmxsim
