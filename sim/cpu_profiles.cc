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
       {{"system.cpu.frequency_hz", "2000000000"},
        {"system.cpu.tsc_hz", "2000000000"},
        {"system.cpu.timing_model", "off"}}},
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
        {"system.cpu.latency.sse", "1"},
        {"system.cpu.latency.event", "100"},  // IDT delivery of an exception/interrupt
        // Intel optimization manual (248966) §2.2 Tables 2-4..2-6; 7-cpu.com/cpu/Skylake.html
        // (L3 ~42 cycles, RAM 42 cycles + 51 ns, STLB hit 9 cycles); Agner Fog's
        // microarchitecture guide §11 (misprediction 16-20 cycles, 4-wide).
        {"system.cpu.timing_model", "on"},
        {"system.cpu.l1i.size", "32K"}, {"system.cpu.l1i.ways", "8"}, {"system.cpu.l1i.latency", "4"},
        {"system.cpu.l1d.size", "32K"}, {"system.cpu.l1d.ways", "8"}, {"system.cpu.l1d.latency", "4"},
        {"system.cpu.l2.size", "256K"}, {"system.cpu.l2.ways", "4"}, {"system.cpu.l2.latency", "12"},
        {"system.cpu.llc.size", "8M"}, {"system.cpu.llc.ways", "16"}, {"system.cpu.llc.latency", "42"},
        {"system.cpu.memory_latency", "195"},
        {"system.cpu.itlb.entries", "128"}, {"system.cpu.itlb.ways", "8"},
        {"system.cpu.itlb_2m.entries", "8"}, {"system.cpu.itlb_2m.ways", "0"},
        {"system.cpu.dtlb.entries", "64"}, {"system.cpu.dtlb.ways", "4"},
        {"system.cpu.dtlb_2m.entries", "32"}, {"system.cpu.dtlb_2m.ways", "4"},
        {"system.cpu.dtlb_1g.entries", "4"}, {"system.cpu.dtlb_1g.ways", "0"},
        {"system.cpu.stlb.entries", "1536"}, {"system.cpu.stlb.ways", "12"}, {"system.cpu.stlb.latency", "9"},
        {"system.cpu.pwc.entries", "32"}, {"system.cpu.pwc.latency", "1"},
        {"system.cpu.bp.table_bits", "14"}, {"system.cpu.bp.history_bits", "14"},
        {"system.cpu.bp.mispredict_penalty", "17"},
        {"system.cpu.issue_width", "4"}, {"system.cpu.memory_parallelism", "8"}}},
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
        {"system.cpu.latency.sse", "1"},
        {"system.cpu.latency.event", "110"},  // IDT delivery of an exception/interrupt
        // Intel optimization manual §2.3 Tables 2-9..2-11; 7-cpu.com/cpu/Haswell.html (L3 ~36
        // cycles, RAM 36 cycles + 57 ns, STLB 1024 entries 8-way shared by 4 KiB and 2 MiB).
        {"system.cpu.timing_model", "on"},
        {"system.cpu.l1i.size", "32K"}, {"system.cpu.l1i.ways", "8"}, {"system.cpu.l1i.latency", "4"},
        {"system.cpu.l1d.size", "32K"}, {"system.cpu.l1d.ways", "8"}, {"system.cpu.l1d.latency", "4"},
        {"system.cpu.l2.size", "256K"}, {"system.cpu.l2.ways", "8"}, {"system.cpu.l2.latency", "12"},
        {"system.cpu.llc.size", "8M"}, {"system.cpu.llc.ways", "16"}, {"system.cpu.llc.latency", "36"},
        {"system.cpu.memory_latency", "230"},
        {"system.cpu.itlb.entries", "128"}, {"system.cpu.itlb.ways", "4"},
        {"system.cpu.itlb_2m.entries", "8"}, {"system.cpu.itlb_2m.ways", "0"},
        {"system.cpu.dtlb.entries", "64"}, {"system.cpu.dtlb.ways", "4"},
        {"system.cpu.dtlb_2m.entries", "32"}, {"system.cpu.dtlb_2m.ways", "4"},
        {"system.cpu.dtlb_1g.entries", "4"}, {"system.cpu.dtlb_1g.ways", "4"},
        {"system.cpu.stlb.entries", "1024"}, {"system.cpu.stlb.ways", "8"}, {"system.cpu.stlb.latency", "8"},
        {"system.cpu.pwc.entries", "32"}, {"system.cpu.pwc.latency", "1"},
        {"system.cpu.bp.table_bits", "13"}, {"system.cpu.bp.history_bits", "13"},
        {"system.cpu.bp.mispredict_penalty", "15"},
        {"system.cpu.issue_width", "4"}, {"system.cpu.memory_parallelism", "8"}}},
      {"zen5",
       "AMD EPYC Zen 5 (family 0x1a model 2), like the development host; calibrated on it "
       "(docs/calibration.md)",
       {// Clocks measured on the host (benchmarks/calibration): a dependent ADD chain retires one
        // add per 0.573 TSC ticks, so the core runs at 3.66 GHz under a 2.096 GHz TSC.
        {"system.cpu.frequency_hz", "3660000000"},
        {"system.cpu.tsc_hz", "2096000000"},
        {"system.cpu.family_model_stepping", "0xb00f21"},
        {"system.cpu.vendor", "AuthenticAMD"},
        // Divide measured (13 cycles for a 64-bit DIV with a 29-bit quotient); the rest from
        // AMD's Software Optimization Guide for the 1Ah family (58455) and Agner Fog's tables.
        {"system.cpu.latency.mul", "3"},
        {"system.cpu.latency.div", "13"},
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
        {"system.cpu.latency.sse", "1"},
        {"system.cpu.timing_model", "on"},
        // Geometry from the host's CPUID 0x80000005/0x80000006 (L1I 32 KiB 8-way, L1D 48 KiB
        // 12-way, L2 1 MiB 8-way, 96-entry L1 DTLB and 64-entry L1 ITLB, fully associative).
        // Latencies measured by the pointer chase: L1D 4, L2 14, L3 about 50 cycles (2-8 MiB
        // chases, less the 7-cycle L2-TLB hit). The L3 is 32 MiB per CCD, shared with other
        // tenants: beyond about 16 MiB the chase reaches DRAM. Memory: 440 cycles (120 ns), the
        // 60 MiB chase less the page-walk cost the TLB sweep shows, rounded down because part of
        // that walk cost is the host's nested paging (docs/calibration.md).
        {"system.cpu.l1i.size", "32K"}, {"system.cpu.l1i.ways", "8"}, {"system.cpu.l1i.latency", "4"},
        {"system.cpu.l1d.size", "48K"}, {"system.cpu.l1d.ways", "12"}, {"system.cpu.l1d.latency", "4"},
        {"system.cpu.l2.size", "1M"}, {"system.cpu.l2.ways", "8"}, {"system.cpu.l2.latency", "14"},
        {"system.cpu.llc.size", "16M"}, {"system.cpu.llc.ways", "16"}, {"system.cpu.llc.latency", "50"},
        {"system.cpu.memory_latency", "440"},
        {"system.cpu.itlb.entries", "64"}, {"system.cpu.itlb.ways", "0"},
        {"system.cpu.itlb_2m.entries", "64"}, {"system.cpu.itlb_2m.ways", "0"},
        {"system.cpu.dtlb.entries", "96"}, {"system.cpu.dtlb.ways", "0"},
        {"system.cpu.dtlb_2m.entries", "96"}, {"system.cpu.dtlb_2m.ways", "0"},
        {"system.cpu.dtlb_1g.entries", "0"},
        // The TLB-reach sweep hits the L2 TLB up to 4096 pages and misses at 8192 (CPUID in
        // the VM reports less; Zen 5 has 4096 entries); an L1 miss that hits costs 7 cycles.
        {"system.cpu.stlb.entries", "4096"}, {"system.cpu.stlb.ways", "16"}, {"system.cpu.stlb.latency", "7"},
        {"system.cpu.pwc.entries", "64"}, {"system.cpu.pwc.latency", "1"},
        // Penalty measured: the loop with a random branch costs 11.6 cycles more per iteration
        // than the alternating one, at one misprediction per two iterations.
        {"system.cpu.bp.table_bits", "16"}, {"system.cpu.bp.history_bits", "16"},
        {"system.cpu.bp.mispredict_penalty", "23"},
        {"system.cpu.issue_width", "6"}, {"system.cpu.memory_parallelism", "8"}}},
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
