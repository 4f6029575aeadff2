// One simulation run, as the CLI and the Python module ask for it: build the platform from the
// configuration, load the kernel, run until the guest exits or a limit stops it, and collect
// the result. Each run gets a fresh SystemC simulation context, so that many runs can happen
// in one process (TOOLCHAIN pitfall 3).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/stats.h"

namespace vmxsim {

struct RunOptions {
  std::string kernel;             // multiboot or ELF64 image
  std::string append;             // kernel command line
  std::string initrd;             // QEMU-style module list: "a,b args"
  std::string cpu_profile = "skylake";
  std::vector<std::string> sets;  // "key=value" overrides, in order
  std::vector<std::string> config_files;
  std::ostream* serial_out = nullptr;  // where the guest's serial output goes (also captured)
  std::string serial_file;             // or a file path ("" = serial_out)
};

// Exit statuses of a run (docs/cli.md). Odd values come from the guest's debug-exit port.
namespace exit_status {
constexpr int kUsage = 2;          // bad option, bad value, bad kernel image
constexpr int kShutdown = 4;       // triple fault, or the guest reset the machine
constexpr int kLimit = 6;          // --max-insns / --max-cycles reached
constexpr int kIdle = 8;           // every core halted with nothing left to wake it
constexpr int kInternal = 10;      // simulator error (a bug)
}  // namespace exit_status

struct RunResult {
  int exit_status = 0;
  std::string stop_reason;     // "guest exit", "triple fault", "instruction limit reached", ...
  bool guest_exit = false;     // ended through the debug-exit port
  std::string serial;          // everything the guest wrote to the UART
  std::vector<StatValue> stats;
  std::string stats_text, stats_json;
  std::string config_text, config_json;
  uint64_t instructions = 0;
  uint64_t cycles = 0;         // of cpu0
  double host_seconds = 0;     // wall-clock time of the simulation loop (for MIPS only)
};

// Runs one simulation. Throws ConfigError/UnknownKeyError for bad configuration and
// loader::LoadError for bad kernels (callers map them to exit_status::kUsage).
RunResult run_simulation(const RunOptions& opts);

// Lists every parameter a default platform declares (for --list-params and Python).
std::vector<ParamInfo> list_parameters(const RunOptions& opts);

}  // namespace vmxsim
