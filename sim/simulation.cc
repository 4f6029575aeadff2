#include "sim/simulation.h"

#include <systemc>

#include <chrono>
#include <cstdlib>
#include <memory>

#include "platform/pc/pc_machine.h"
#include "sim/cpu_profiles.h"

namespace vmxsim {

namespace {

// SystemC elaborates once per simulation context: every run after the first in this process
// gets a context of its own, deleted after the run's modules (TOOLCHAIN pitfall 3). The
// process's original context is never deleted.
class FreshContext {
 public:
  FreshContext() {
    // No banner, and no "simulation stopped by user" notes: vmxsim reports outcomes itself.
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
    static bool s_original_used = false;
    if (s_original_used) {
      m_created = new sc_core::sc_simcontext();
      sc_core::sc_curr_simcontext = m_created;
      sc_core::sc_default_global_context = m_created;
    }
    s_original_used = true;
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  }
  ~FreshContext() {
    if (m_created) {
      delete m_created;
      sc_core::sc_curr_simcontext = nullptr;
      sc_core::sc_default_global_context = nullptr;
    }
  }
  FreshContext(const FreshContext&) = delete;
  FreshContext& operator=(const FreshContext&) = delete;

 private:
  sc_core::sc_simcontext* m_created = nullptr;
};

void configure(Config& cfg, const RunOptions& opts) {
  apply_cpu_profile(cfg, opts.cpu_profile);
  for (const std::string& f : opts.config_files) cfg.load_file(f);
  for (const std::string& s : opts.sets) cfg.set_assignment(s, "cli");
}

}  // namespace

RunResult run_simulation(const RunOptions& opts) {
  FreshContext context;
  Config cfg;
  configure(cfg, opts);
  RunResult r;
  {
    StatRegistry stats;
    auto machine = std::make_unique<platform::PcMachine>("system", cfg, stats, opts.serial_out,
                                                         opts.serial_file);
    cfg.check_all_overrides_used();
    machine->boot({opts.kernel, opts.append, opts.initrd});

    double host_seconds = 0;
    const double* hs = &host_seconds;
    uint64_t total_insns = 0;
    const uint64_t* ti = &total_insns;
    stats.add_formula("sim.host_seconds", "s", "host wall-clock time of the simulation loop",
                      [hs] { return *hs; });
    stats.add_counter("sim.instructions", "instructions", "instructions retired by all cpus", ti);
    stats.add_formula("sim.host_mips", "MIPS", "simulated instructions per host microsecond",
                      [hs, ti] { return *hs > 0 ? double(*ti) / *hs / 1e6 : 0.0; });

    const auto t0 = std::chrono::steady_clock::now();
    sc_core::sc_start();
    host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (unsigned i = 0; i < machine->cpu_count(); ++i)
      total_insns += machine->cpu(i).core().instructions();

    if (machine->stopped()) {
      r.exit_status = machine->exit_status();
      r.stop_reason = machine->stop_reason();
      r.guest_exit = machine->guest_exit();
    } else {
      r.exit_status = exit_status::kIdle;
      r.stop_reason = "every cpu is halted or waiting with nothing left to wake it";
    }
    r.serial = machine->serial_output();
    r.instructions = total_insns;
    r.cycles = machine->cpu(0).core().cycles();
    r.host_seconds = host_seconds;
    r.stats = stats.snapshot();
    r.stats_text = stats.to_text();
    r.stats_json = stats.to_json();
    r.config_text = cfg.to_text();
    r.config_json = cfg.to_json();
    machine.reset();  // destroy the modules before their context
  }
  return r;
}

std::vector<ParamInfo> list_parameters(const RunOptions& opts) {
  FreshContext context;
  Config cfg;
  configure(cfg, opts);
  StatRegistry stats;
  auto machine = std::make_unique<platform::PcMachine>("system", cfg, stats, nullptr, "");
  cfg.check_all_overrides_used();
  std::vector<ParamInfo> params = cfg.list();
  machine.reset();
  return params;
}

}  // namespace vmxsim
