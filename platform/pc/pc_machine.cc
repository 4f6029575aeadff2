#include "platform/pc/pc_machine.h"

#include <fstream>

#include "platform/devices/debug_exit.h"
#include "platform/devices/fw_cfg.h"
#include "platform/devices/pci_host.h"
#include "platform/devices/reset_control.h"
#include "platform/devices/pic8259.h"
#include "platform/devices/pit_module.h"
#include "platform/devices/rtc_module.h"
#include "platform/devices/serial_input.h"
#include "platform/devices/test_dev.h"
#include "platform/devices/uart16550.h"
#include "platform/loader/multiboot_loader.h"
#include "platform/pc/apic_wiring.h"
#include "cpu/timing/timing_config.h"
#include "sim/config.h"
#include "sim/stats.h"

namespace vmxsim::platform {

using namespace sc_core;

namespace {

// A reset request ends the run like a triple fault (which resets a PC): exit status 4.
constexpr int kResetStatus = 4;

// The loader writes through the RAM's host-side interface; physical addresses at and above
// 4 GiB hold the RAM beyond 3.5 GiB (the PCI hole sits in between, as on a PC).
class RamLoaderView final : public loader::GuestMemory {
 public:
  explicit RamLoaderView(mem::Ram& ram) : m_ram(ram) {}
  uint64_t ram_size() const override { return m_ram.size(); }
  void write(uint64_t paddr, const void* data, size_t len) override {
    const uint64_t off = paddr >= loader::kHighRamBase ? paddr - loader::kHighRamBase + loader::kLowRamLimit : paddr;
    m_ram.write(off, data, len);
  }

 private:
  mem::Ram& m_ram;
};

}  // namespace

PcMachine::PcMachine(sc_module_name name, Config& cfg, StatRegistry& stats,
                     std::ostream* serial_out, const std::string& serial_file)
    : sc_module(name), m_cfg(cfg), m_stats(stats) {
  const unsigned ncpu = static_cast<unsigned>(
      cfg.declare_uint("system.cpus", 1, "cpus", "number of processors (-smp)", 1, 255));
  const uint64_t ram_size = cfg.declare_uint("system.memory_size", 256ull << 20, "bytes",
                                             "RAM size (-m)", 2ull << 20, 1ull << 40);
  const uint64_t quantum_ns = cfg.declare_uint(
      "system.quantum_ns", 1000, "ns", "temporal-decoupling quantum of each core", 1, 1'000'000'000);
  cpu::CpuModule::Limits limits;
  limits.max_instructions = cfg.declare_uint(
      "system.max_instructions", 0, "instructions", "stop after this many instructions on any cpu (0: no limit)");
  limits.max_cycles = cfg.declare_uint("system.max_cycles", 0, "cycles",
                                       "stop when a cpu reaches this many cycles (0: no limit)");

  cpu::CoreParams params;
  params.core_hz = cfg.declare_uint("system.cpu.frequency_hz", 2'000'000'000, "Hz", "core clock frequency", 1'000'000, 100'000'000'000);
  params.tsc_hz = cfg.declare_uint("system.cpu.tsc_hz", 2'000'000'000, "Hz", "time-stamp counter frequency", 1'000'000, 100'000'000'000);
  params.cpuid_family_model_stepping = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.family_model_stepping", 0x506e3, "", "CPUID.1:EAX signature", 0, 0xffffffff));
  params.microcode_revision = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.microcode_revision", 0xf0, "",
      "microcode revision in IA32_BIOS_SIGN_ID[63:32] (Linux disables the TSC-deadline timer as "
      "an erratum below 0xb2 on Skylake)", 0, 0xffffffff));
  params.max_block_ops = static_cast<unsigned>(cfg.declare_uint(
      "system.cpu.max_block_ops", 64, "instructions", "longest decoded basic block", 1, 4096));
  params.phys_addr_bits = static_cast<unsigned>(cfg.declare_uint(
      "system.cpu.phys_addr_bits", 40, "bits", "MAXPHYADDR (CPUID.80000008:EAX[7:0])", 36, 52));
  for (int i = 0; i < static_cast<int>(cpu::TimingClass::kCount); ++i) {
    const char* cls = cpu::to_string(static_cast<cpu::TimingClass>(i));
    params.latency[i] = static_cast<uint16_t>(cfg.declare_uint(
        std::string("system.cpu.latency.") + cls, 1, "cycles",
        std::string("base latency of one '") + cls + "' instruction", 0, 65535));
  }
  params.timing = cpu::timing::declare_timing_params(cfg);
  // VMX transition costs. Defaults: a Skylake-class VM exit plus VM entry of ~450 cycles for a
  // KVM-like configuration (EFER and PAT switched by the controls: 170 + 220 fixed plus six
  // state components of 10), the hardware part of the ~1,200-cycle CPUID round trip measured
  // with KVM on 2017-era Intel parts (the rest is the hypervisor's handler, which runs as
  // ordinary instructions here). The split between fixed and per-component cycles is an
  // estimate; the VMX unit's memory traffic comes on top, through the cache model.
  params.vmx_costs.exit_cycles = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.vmx.exit_cycles", 220, "cycles", "fixed microcode cost of a VM exit", 0, 1'000'000));
  params.vmx_costs.entry_cycles = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.vmx.entry_cycles", 170, "cycles", "fixed microcode cost of a VM entry, checks included", 0, 1'000'000));
  params.vmx_costs.vmread_cycles = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.vmx.vmread_cycles", 4, "cycles", "VMREAD/VMWRITE of the cached current VMCS (beyond the instruction's base latency)", 0, 100'000));
  params.vmx_costs.vmptrld_cycles = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.vmx.vmptrld_cycles", 100, "cycles", "VMPTRLD/VMCLEAR: filling or writing back the VMCS cache", 0, 1'000'000));
  params.vmx_costs.msr_list_entry_cycles = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.vmx.msr_list_entry_cycles", 20, "cycles", "per entry of a VM-entry/exit MSR-load or MSR-store list", 0, 100'000));
  params.vmx_costs.state_component_cycles = static_cast<uint32_t>(cfg.declare_uint(
      "system.cpu.vmx.state_component_cycles", 10, "cycles",
      "per optional state component a VM entry loads or a VM exit saves/loads (EFER, PAT, debug "
      "controls, PDPTEs, preemption-timer value; an estimate)", 0, 100'000));
  params.cpu_count = ncpu;
  params.vendor = cfg.declare_string("system.cpu.vendor", "GenuineIntel",
                                     "CPUID vendor string; AuthenticAMD also selects AMD's SYSCALL "
                                     "rules (allowed in compatibility mode)",
                                     {"GenuineIntel", "AuthenticAMD"});
  params.syscall_in_compat_mode = params.vendor == "AuthenticAMD";
#define VMXSIM_DECLARE_FEATURE(name, desc) \
  params.features.name = cfg.declare_bool("system.cpu.feature." #name, true, desc);
  VMXSIM_CPU_FEATURES(VMXSIM_DECLARE_FEATURE)
#undef VMXSIM_DECLARE_FEATURE
  params.trace_events = cfg.declare_bool("debug.trace_events", false,
                                         "print every exception and interrupt delivery to stderr");
  params.trace_instructions = cfg.declare_bool(
      "debug.trace_instructions", false, "print every executed instruction to stderr (slow)");
  const uint64_t quantum_cycles = std::max<uint64_t>(1, quantum_ns * params.core_hz / 1'000'000'000);

  m_mem_bus = std::make_unique<mem::Bus>("mem_bus");
  m_io_bus = std::make_unique<mem::Bus>("io_bus", 0xffff);
  m_ram = std::make_unique<mem::Ram>("ram", ram_size, &m_code_map);
  m_ram->set_phys_split(loader::kLowRamLimit, loader::kHighRamBase);
  m_mem_bus->initiator_socket.bind(m_ram->socket);
  build_memory_map(ram_size);
  m_mem_targets = 1;

  // Serial port, debug exit, fw_cfg, PIC, PCI configuration ports.
  std::ostream* out = serial_out;
  if (!serial_file.empty()) {
    auto file = std::make_unique<std::ofstream>(serial_file);
    if (!*file) throw ConfigError("cannot open serial output file '" + serial_file + "'");
    out = file.get();
    m_serial_file = std::move(file);
  }
  m_uart = &add_io_device(std::make_unique<Uart16550>(cfg, stats, "system.uart0", out), "uart0", 0x3f8, 8);
  const std::string serial_input = cfg.declare_string(
      "system.uart0.input", "",
      "what arrives on the serial line: a file's bytes (deterministic) or 'stdio' (the terminal, "
      "interactive; --serial stdio); empty: nothing");
  const uint64_t input_poll_ns = cfg.declare_uint(
      "system.uart0.input_poll_ns", 100'000, "ns",
      "simulated time between two deliveries of input bytes into the receive FIFO", 1'000, 1'000'000'000);
  if (!serial_input.empty()) {
    try {
      m_serial_input = std::make_unique<SerialInput>("serial_input", *m_uart, serial_input, input_poll_ns);
    } catch (const std::runtime_error& e) {
      throw ConfigError(std::string("system.uart0.input: ") + e.what());
    }
  }
  auto& dbg = add_io_device(std::make_unique<DebugExit>(), "debug_exit", 0xf4, 4);
  dbg.set_callback([this](int status) { stop("guest exit", status, true); });
  add_io_device(std::make_unique<FwCfg>(ram_size, static_cast<uint16_t>(ncpu)), "fw_cfg", 0x510, 2);
  auto& pic = add_io_device(std::make_unique<Pic8259Pair>(), "pic_master", 0x20, 2, 0x20);
  m_io_bus->map(m_io_targets - 1, 0xa0, 2, "pic_slave", 0xa0);
  m_io_bus->map(m_io_targets - 1, 0x4d0, 2, "elcr", 0x4d0);
  auto& pci = add_io_device(std::make_unique<PciHost>(), "pci_host", 0xcf8, 8);
  auto& reset = add_io_device(std::make_unique<ResetControl>([this](const std::string& how) {
                                stop("guest reset the machine through " + how, kResetStatus, false);
                              }),
                              "reset_control", ResetControl::kKbdCommandPort, 1, ResetControl::kKbdCommandPort);
  pci.attach_reset_control(&reset);

  // Cores, each with its local APIC; the APIC bus connects them, the IOAPIC and the PIC.
  m_apic = std::make_unique<ApicWiring>(cfg, stats, ncpu, params.core_hz, pic);
  m_uart->set_irq_callback(m_apic->isa_irq_line(4));

  // The 8254 timer on ISA IRQ 0.
  m_pit = &add_io_device(std::make_unique<PitModule>("pit_timer", m_apic->isa_irq_line(0)), "pit", 0x40, 4, 0x40);
  m_io_bus->map(m_io_targets - 1, PitModule::kPortB, 1, "port_b", PitModule::kPortB);

  // The CMOS real-time clock on ISA IRQ 8; its wall clock starts at a configurable, fixed time.
  const uint64_t rtc_start = cfg.declare_uint(
      "system.rtc.start_time", 1767225600, "s",
      "wall-clock time the CMOS RTC shows at simulated time 0, in Unix seconds (UTC; default "
      "2026-01-01 00:00:00); the clock then follows simulated time", 0, 253402300799ull);
  add_io_device(std::make_unique<RtcModule>("rtc_clock", rtc_start, ram_size, ncpu, m_apic->isa_irq_line(8)),
                "rtc", 0x70, 2);
  m_firmware_state = cfg.declare_bool(
      "system.firmware_state", true,
      "leave the 8259s, the 8254 and the real-mode interrupt vector table as a PC BIOS does "
      "(QEMU -kernel boots after SeaBIOS); false: power-on state");

  // QEMU's pc-testdev, used by kvm-unit-tests (system.testdev = false removes it).
  if (cfg.declare_bool("system.testdev", true,
                       "QEMU pc-testdev: scratch port 0xe0, IRQ ports 0x2000-0x2017, I/O RAM at 0xff000000")) {
    ApicWiring* apic = m_apic.get();
    add_io_device(std::make_unique<TestDevPorts>([apic](unsigned irq, bool level) {
                    apic->set_gsi(irq, level);
                  }),
                  "testdev", TestDevPorts::kScratchPort, 8, TestDevPorts::kScratchPort);
    m_io_bus->map(m_io_targets - 1, TestDevPorts::kIrqBase, TestDevPorts::kIrqLines, "testdev_irq",
                  TestDevPorts::kIrqBase);
    auto ioram = std::make_unique<TestDevIoRam>();
    auto tlm = std::make_unique<TlmDevice>("testdev_ioram", *ioram);
    m_mem_bus->initiator_socket.bind(tlm->socket);
    m_mem_bus->map(m_mem_targets++, TestDevIoRam::kBase, TestDevIoRam::kSize, "testdev_ioram");
    m_devices.push_back(std::move(ioram));
    m_tlm_devices.push_back(std::move(tlm));
  }
  for (unsigned i = 0; i < ncpu; ++i) {
    cpu::CoreParams p = params;
    p.apic_id = i;
    p.bsp = i == 0;
    const std::string cname = "cpu" + std::to_string(i);
    auto mod = std::make_unique<cpu::CpuModule>(
        cname.c_str(), m_code_map, p, quantum_cycles, limits,
        [this](const std::string& why, int status) { stop(why, status, false); });
    mod->set_dormant_handler([this](bool dormant) {
      m_dormant_cpus += dormant ? 1 : -1;
      if (m_dormant_cpus == m_cpus.size())
        stop("every cpu is halted or waiting with nothing left to wake it", 8, false);
    });
    mod->mem_socket.bind(m_mem_bus->target_socket);
    mod->io_socket.bind(m_io_bus->target_socket);
    mod->core().register_stats(stats, "system." + cname);
    m_apic->attach_cpu(i, *mod);
    m_cpus.push_back(std::move(mod));
  }
  m_apic->map_devices(*m_mem_bus, m_mem_targets, *m_io_bus, m_io_targets);
  m_mem_bus->register_stats(stats, "system.mem_bus");
  m_io_bus->register_stats(stats, "system.io_bus");
  m_ram->register_stats(stats, "system.ram");
}

PcMachine::~PcMachine() = default;

void PcMachine::build_memory_map(uint64_t ram_size) {
  // RAM below the 3.5 GiB PCI hole at 0, the rest from 4 GiB (matches the loader's memory map).
  const uint64_t low = std::min(ram_size, loader::kLowRamLimit);
  m_mem_bus->map(0, 0, low, "ram_low", 0);
  if (ram_size > low) m_mem_bus->map(0, loader::kHighRamBase, ram_size - low, "ram_high", low);
}

template <class Dev>
Dev& PcMachine::add_io_device(std::unique_ptr<Dev> dev, const char* name, uint64_t base,
                              uint64_t size, uint64_t target_offset) {
  Dev& ref = *dev;
  auto tlm = std::make_unique<TlmDevice>(name, ref);
  m_io_bus->initiator_socket.bind(tlm->socket);
  m_io_bus->map(m_io_targets++, base, size, name, target_offset);
  m_devices.push_back(std::move(dev));
  m_tlm_devices.push_back(std::move(tlm));
  return ref;
}

const std::string& PcMachine::serial_output() const { return m_uart->output(); }

void PcMachine::stop(const std::string& reason, int status, bool guest_exit) {
  if (m_stopped) return;
  m_stopped = true;
  m_stop_reason = reason;
  m_exit_status = status;
  m_guest_exit = guest_exit;
  for (auto& c : m_cpus) c->core().request_stop();
  sc_stop();
}

// What a PC BIOS leaves behind for the operating system (as SeaBIOS does before QEMU's -kernel
// boot): 8259s initialised with vector bases 0x08 and 0x70 and only the timer and the cascade
// unmasked, the 8254 at 18.2 Hz, and a real-mode IVT whose every vector points at an IRET
// (F000:FF53, the traditional dummy handler address).
void PcMachine::set_firmware_state() {
  const uint8_t iret = 0xcf;
  m_ram->write(0xfff53, &iret, 1);
  for (unsigned v = 0; v < 256; ++v) {
    const uint32_t entry = (0xf000u << 16) | 0xff53u;
    m_ram->write(v * 4, &entry, 4);
  }
  auto out = [this](uint16_t port, uint8_t v) {
    for (auto& dev : m_devices)
      if (auto* pic = dynamic_cast<Pic8259Pair*>(dev.get())) pic->io_write(port, 1, v, 0);
  };
  out(0x20, 0x11); out(0x21, 0x08); out(0x21, 0x04); out(0x21, 0x01);  // master: ICW1-ICW4
  out(0xa0, 0x11); out(0xa1, 0x70); out(0xa1, 0x02); out(0xa1, 0x01);  // slave
  out(0x21, 0xfa);  // IRQ0 (timer) and IRQ2 (cascade) unmasked
  out(0xa1, 0xff);
  m_pit->bios_defaults();
}

void PcMachine::boot(const BootRequest& req) {
  RamLoaderView view(*m_ram);
  const std::vector<loader::Module> modules = loader::parse_module_list(req.initrd);
  const loader::BootInfo bi = loader::load_kernel(req.kernel, req.append, modules, view);
  m_apic->write_acpi_tables([this](uint64_t paddr, const void* data, size_t len) {
    m_ram->write(paddr, data, len);
  });

  if (m_firmware_state) set_firmware_state();

  cpu::Core& c = m_cpus[0]->core();
  // Multiboot machine state (Multiboot Specification §3.2): 32-bit protected mode, paging off,
  // flat 4 GiB code and data segments, interrupts disabled, EAX = magic, EBX = info address.
  // Linux's 32-bit boot protocol asks the same with the selectors __BOOT_CS = 0x10 and
  // __BOOT_DS = 0x18 and ESI = the zero page (Documentation/x86/boot.rst, "32-bit boot protocol").
  cpu::Segment code;
  code.selector = 0x10;
  code.base = 0;
  code.limit = 0xffffffff;
  code.ar = cpu::ar::kP | cpu::ar::kS | cpu::ar::kCodeBit | cpu::ar::kCodeReadable |
            cpu::ar::kAccessed | cpu::ar::kDb | cpu::ar::kG;
  cpu::Segment data = code;
  data.selector = 0x18;
  data.ar = cpu::ar::kP | cpu::ar::kS | cpu::ar::kDataWritable | cpu::ar::kAccessed |
            cpu::ar::kDb | cpu::ar::kG;
  c.s.cr0 = cpu::cr0::kPe | cpu::cr0::kEt;
  for (unsigned i = 0; i < cpu::kNumSegs; ++i) c.s.seg[i] = data;
  c.s.seg[cpu::kCs] = code;
  c.s.gdtr = {0, 0};
  c.s.idtr = {0, 0};
  c.s.gpr[cpu::kRax] = bi.eax;
  c.s.gpr[cpu::kRbx] = bi.ebx;
  c.s.gpr[cpu::kRsi] = bi.esi;
  c.s.rip = bi.entry;
  c.set_rflags(cpu::rflags::kFixed1);
  c.mode_changed();
  c.flush_tlb(true);
  if (bi.kind == loader::BootInfo::Kind::Elf64Plain) enter_long_mode(bi.entry, bi.first_free);
}

// A plain ELF64 kernel starts in 64-bit mode (vmxsim's convention, docs/cli.md): paging with the
// first 4 GiB identity-mapped by 2 MiB pages, a GDT with a 64-bit code segment (0x08) and a data
// segment (0x10), interrupts disabled, RSP = 0 (the kernel sets up its stack). The tables take six
// pages at `free` (after the image).
void PcMachine::enter_long_mode(uint64_t entry, uint64_t free) {
  const uint64_t pml4 = free, pdpt = free + 0x1000, pd = free + 0x2000, gdt = free + 0x6000;
  if (gdt + 0x1000 > std::min<uint64_t>(m_ram->size(), loader::kLowRamLimit))
    throw loader::LoadError("no room in RAM for the boot page tables after the kernel");
  auto put = [this](uint64_t paddr, uint64_t v) { m_ram->write(paddr, &v, 8); };
  put(pml4, pdpt | 0x3);
  for (uint64_t i = 0; i < 4; ++i) {
    put(pdpt + 8 * i, (pd + 0x1000 * i) | 0x3);
    for (uint64_t j = 0; j < 512; ++j)
      put(pd + 0x1000 * i + 8 * j, ((i << 30) | (j << 21)) | 0x83);  // present, writable, 2 MiB
  }
  put(gdt, 0);
  put(gdt + 8, 0x00af9b000000ffffull);   // 64-bit code, DPL 0
  put(gdt + 16, 0x00cf93000000ffffull);  // data, DPL 0

  cpu::Core& c = m_cpus[0]->core();
  cpu::Segment code;
  code.selector = 0x08;
  code.limit = 0xffffffff;
  code.ar = cpu::ar::kP | cpu::ar::kS | cpu::ar::kCodeBit | cpu::ar::kCodeReadable |
            cpu::ar::kAccessed | cpu::ar::kL | cpu::ar::kG;
  cpu::Segment data;
  data.selector = 0x10;
  data.limit = 0xffffffff;
  data.ar = cpu::ar::kP | cpu::ar::kS | cpu::ar::kDataWritable | cpu::ar::kAccessed |
            cpu::ar::kDb | cpu::ar::kG;
  for (unsigned i = 0; i < cpu::kNumSegs; ++i) c.s.seg[i] = data;
  c.s.seg[cpu::kCs] = code;
  c.s.gdtr = {gdt, 23};
  c.s.cr3 = pml4;
  c.s.cr4 = cpu::cr4::kPae;
  c.s.efer = cpu::efer::kLme | cpu::efer::kLma;
  c.s.cr0 = cpu::cr0::kPe | cpu::cr0::kPg | cpu::cr0::kEt;
  c.s.gpr[cpu::kRax] = 0;
  c.s.gpr[cpu::kRbx] = 0;
  c.s.gpr[cpu::kRsp] = 0;
  c.s.rip = entry;
  c.mode_changed();
  c.flush_tlb(true);
}

}  // namespace vmxsim::platform
