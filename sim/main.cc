// The vmxsim command line: QEMU-like where that helps (-kernel, -append, -smp, -m, -initrd),
// plus the configuration tree (--set, --config), statistics and limits. Every error is a
// one-line message and a non-zero exit status (docs/cli.md).
#include <boost/program_options.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "platform/loader/multiboot_loader.h"
#include "sim/cpu_profiles.h"
#include "sim/simulation.h"
#include "sim/sweep_cli.h"

namespace po = boost::program_options;
using namespace vmxsim;

#ifndef VMXSIM_DEFAULT_KERNEL
#define VMXSIM_DEFAULT_KERNEL ""
#endif

namespace {

int usage_error(const std::string& msg) {
  std::cerr << "vmxsim: error: " << msg << "\n(try 'vmxsim --help')\n";
  return exit_status::kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // `vmxsim sweep ...` is a subcommand with options of its own (sim/sweep_cli.h).
  if (argc > 1 && std::string(argv[1]) == "sweep") return sweep_main(argc, argv);

  po::options_description opts("vmxsim options");
  // clang-format off
  opts.add_options()
      ("help,h", "show this help")
      ("kernel", po::value<std::string>(), "multiboot (ELF32/ELF64), Linux bzImage or ELF64 kernel to boot "
                                          "(default: the built-in default workload)")
      ("append", po::value<std::string>()->default_value(""), "kernel command line")
      ("initrd", po::value<std::string>()->default_value(""), "multiboot modules 'file args,file2', or a Linux kernel's initrd (files concatenated)")
      ("smp", po::value<std::string>(), "number of CPUs (system.cpus)")
      ("m", po::value<std::string>(), "RAM size: MiB, or with K/M/G suffix (system.memory_size)")
      ("cpu", po::value<std::string>()->default_value("skylake"), "CPU profile (--list-cpus)")
      ("set", po::value<std::vector<std::string>>()->composing(), "set a parameter: key=value")
      ("config", po::value<std::vector<std::string>>()->composing(), "read parameters from a file of key = value lines")
      ("serial", po::value<std::string>(), "write the guest's serial output to FILE instead of stdout; "
                                          "'stdio': output to stdout and input from the terminal (interactive)")
      ("serial-input", po::value<std::string>(), "feed FILE's bytes to the guest's serial line (system.uart0.input)")
      ("stats", "print statistics to stderr at the end")
      ("stats-json", po::value<std::string>(), "write statistics as JSON to FILE")
      ("max-insns", po::value<std::string>(), "stop after N instructions (exit status 6)")
      ("max-cycles", po::value<std::string>(), "stop after N cycles of cpu0 (exit status 6)")
      ("list-params", "list every parameter with type, unit, default and description")
      ("list-cpus", "list the CPU profiles")
      ("quiet,q", "do not print the run summary");
  // clang-format on

  // A kernel named without -kernel ("vmxsim hello.elf") is taken as the kernel, never ignored.
  po::options_description hidden;
  hidden.add_options()("positional-kernel", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description positional;
  positional.add("positional-kernel", -1);

  po::variables_map vm;
  try {
    // Single-dash long options (-kernel) as QEMU spells them.
    po::store(po::command_line_parser(argc, argv)
                  .options(all)
                  .positional(positional)
                  .style(po::command_line_style::default_style |
                         po::command_line_style::allow_long_disguise)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << "usage: vmxsim [-kernel FILE] [-append ARGS] [-smp N] [-m SIZE] [options]\n"
                 "       vmxsim sweep --kernel FILE --grid key=v1,v2 ... (vmxsim sweep --help)\n"
              << opts << "\nExit status: the guest's debug-exit status ((code << 1) | 1), or 2 "
                 "usage/bad input, 4 triple fault, 6 limit reached, 8 all CPUs idle forever.\n";
    return 0;
  }
  if (vm.count("list-cpus")) {
    for (const CpuProfile& p : cpu_profiles()) std::cout << p.name << "  " << p.description << "\n";
    return 0;
  }

  RunOptions ro = run_options_from(vm);
  ro.kernel = vm.count("kernel") ? vm["kernel"].as<std::string>() : VMXSIM_DEFAULT_KERNEL;
  if (vm.count("positional-kernel")) {
    const auto& extra = vm["positional-kernel"].as<std::vector<std::string>>();
    if (vm.count("kernel") || extra.size() > 1)
      return usage_error("unexpected argument '" + extra.back() + "' (one kernel: -kernel FILE or a single FILE)");
    ro.kernel = extra.front();
  }
  if (vm.count("serial")) {
    const std::string serial = vm["serial"].as<std::string>();
    if (serial == "stdio") ro.sets.push_back("system.uart0.input=stdio");  // output stays on stdout
    else ro.serial_file = serial;
  }
  if (vm.count("serial-input")) ro.sets.push_back("system.uart0.input=" + vm["serial-input"].as<std::string>());
  ro.serial_out = &std::cout;

  try {
    if (vm.count("list-params")) {
      for (const ParamInfo& p : list_parameters(ro))
        std::cout << p.name << " = " << p.value_text << "  (" << to_string(p.type)
                  << (p.unit.empty() ? "" : ", " + p.unit) << ", default " << p.default_text
                  << ")  " << p.description << "\n";
      return 0;
    }
    if (ro.kernel.empty()) return usage_error("no kernel given (-kernel FILE)");
    const RunResult r = run_simulation(ro);
    std::cout.flush();
    if (vm.count("stats")) std::cerr << r.stats_text;
    if (vm.count("stats-json")) {
      std::ofstream f(vm["stats-json"].as<std::string>());
      if (!f) return usage_error("cannot write " + vm["stats-json"].as<std::string>());
      f << r.stats_json;
    }
    if (!vm.count("quiet") || !r.guest_exit) {
      const double mips = r.host_seconds > 0 ? r.instructions / r.host_seconds / 1e6 : 0;
      std::fprintf(stderr,
                   "vmxsim: %s; exit status %d; %llu instructions, %llu cycles (cpu0), "
                   "%.1f MIPS host speed\n",
                   r.stop_reason.c_str(), r.exit_status,
                   static_cast<unsigned long long>(r.instructions),
                   static_cast<unsigned long long>(r.cycles), mips);
    }
    return r.exit_status;
  } catch (const UnknownKeyError& e) {
    return usage_error(e.what());
  } catch (const ConfigError& e) {
    return usage_error(e.what());
  } catch (const loader::LoadError& e) {
    std::cerr << "vmxsim: error: " << e.what() << "\n";
    return exit_status::kUsage;
  } catch (const std::exception& e) {
    std::cerr << "vmxsim: internal error: " << e.what() << "\n";
    return exit_status::kInternal;
  }
}
