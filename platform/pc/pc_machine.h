// The PC machine (ARCHITECTURE §1): cores, memory and I/O buses, RAM, and the devices a
// multiboot kernel or kvm-unit-tests expects (TOOLCHAIN, "What kvm-unit-tests' x86 binaries
// expect"). Every tunable is declared in the config tree under system.*.
#pragma once

#include <systemc>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cpu/code_map.h"
#include "cpu/sc/cpu_module.h"
#include "mem/bus.h"
#include "mem/ram.h"
#include "platform/devices/tlm_device.h"

namespace vmxsim {
class Config;
class StatRegistry;
}  // namespace vmxsim

namespace vmxsim::platform {

class Uart16550;
class SerialInput;
class PitModule;
class ApicWiring;

struct BootRequest {
  std::string kernel;
  std::string append;
  std::string initrd;
};

class PcMachine : public sc_core::sc_module {
 public:
  PcMachine(sc_core::sc_module_name name, Config& cfg, StatRegistry& stats,
            std::ostream* serial_out, const std::string& serial_file);
  ~PcMachine() override;

  // Loads the kernel and sets the boot CPU's entry state. Throws loader::LoadError.
  void boot(const BootRequest& req);

  // Outcome, valid after sc_start returns.
  bool stopped() const { return m_stopped; }
  int exit_status() const { return m_exit_status; }
  const std::string& stop_reason() const { return m_stop_reason; }
  bool guest_exit() const { return m_guest_exit; }
  const std::string& serial_output() const;

  unsigned cpu_count() const { return static_cast<unsigned>(m_cpus.size()); }
  cpu::CpuModule& cpu(unsigned i) { return *m_cpus[i]; }
  mem::Ram& ram() { return *m_ram; }

  // Ends the simulation (debug exit, triple fault, limits). The first call wins.
  void stop(const std::string& reason, int status, bool guest_exit);

 private:
  void build_memory_map(uint64_t ram_size);
  void set_firmware_state();
  void enter_long_mode(uint64_t entry, uint64_t free);
  template <class Dev>
  Dev& add_io_device(std::unique_ptr<Dev> dev, const char* name, uint64_t base, uint64_t size,
                     uint64_t target_offset = 0);

  Config& m_cfg;
  StatRegistry& m_stats;
  cpu::CodeMap m_code_map;
  std::unique_ptr<mem::Bus> m_mem_bus, m_io_bus;
  std::unique_ptr<mem::Ram> m_ram;
  std::vector<std::unique_ptr<IoDevice>> m_devices;
  std::vector<std::unique_ptr<TlmDevice>> m_tlm_devices;
  unsigned m_io_targets = 0, m_mem_targets = 0;
  Uart16550* m_uart = nullptr;
  std::unique_ptr<SerialInput> m_serial_input;
  PitModule* m_pit = nullptr;
  bool m_firmware_state = true;
  std::unique_ptr<std::ostream> m_serial_file;
  std::unique_ptr<ApicWiring> m_apic;
  std::vector<std::unique_ptr<cpu::CpuModule>> m_cpus;

  unsigned m_dormant_cpus = 0;
  bool m_stopped = false;
  bool m_guest_exit = false;
  int m_exit_status = 0;
  std::string m_stop_reason;
};

}  // namespace vmxsim::platform
