// Kernel loader for -kernel: Multiboot v1 images (ELF32/ELF64 or the
// address-field "a.out kludge"), Linux bzImages (x86 boot protocol, see
// linux_boot.h), ELF kernels with a PVH entry note (pvh_boot.h) and plain
// ELF64 executables.
// Multiboot Specification 0.6.96, sections 3.1 (OS image format) and 3.3
// (boot information format).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmxsim::loader {

// Where the loader writes: implemented by the platform over its RAM.
// Addresses are guest-physical. With more than kLowRamLimit bytes of RAM the
// platform maps the rest at kHighRamBase upward (see ram_contains()).
class GuestMemory {
public:
    virtual ~GuestMemory() = default;
    virtual uint64_t ram_size() const = 0;  // total bytes of RAM
    // Only called for ranges that ram_contains() accepts.
    virtual void write(uint64_t paddr, const void* data, size_t len) = 0;
};

// Every failure: a one-line message naming the file and the problem.
struct LoadError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One -initrd entry. `cmdline` is passed to a multiboot kernel verbatim as
// the module's string; parse_module_list() sets it to the whole entry
// ("path args"), as QEMU and GRUB do. A Linux kernel gets the files
// concatenated as its initrd.
struct Module {
    std::string path;
    std::string cmdline;
};

struct BootInfo {
    enum class Kind { Multiboot1, LinuxBzImage, Pvh, Elf64Plain } kind;
    uint64_t entry;                   // entry point (physical)
    uint32_t eax, ebx;                // multiboot: kMultibootBootMagic and the info address; PVH: EBX = start info
    uint32_t esi;                     // Linux: the zero page (boot_params)
    uint64_t image_start, image_end;  // physical range the image occupies
    uint64_t first_free;              // page-aligned, after everything the loader placed
    std::vector<std::string> notes;   // harmless things ignored (e.g. a video mode request)
};

constexpr uint32_t kMultibootBootMagic = 0x2BADB002;  // EAX at entry (spec 3.2)
constexpr uint64_t kPageSize = 4096;

// Guest-physical RAM layout: RAM below kLowRamLimit is at [0, ram), the
// remainder at [kHighRamBase, kHighRamBase + ram - kLowRamLimit).
constexpr uint64_t kLowRamLimit = 0xE0000000ULL;   // 3.5 GiB
constexpr uint64_t kHighRamBase = 0x100000000ULL;  // 4 GiB

// True if [paddr, paddr + len) lies inside one RAM region (overflow-safe).
bool ram_contains(uint64_t ram_size, uint64_t paddr, uint64_t len);

BootInfo load_kernel(const std::string& path, const std::string& cmdline,
                     const std::vector<Module>& modules, GuestMemory& mem);

// `name` is used in messages and as argv[0] of the multiboot command line.
BootInfo load_kernel_bytes(const std::vector<uint8_t>& file, const std::string& name,
                           const std::string& cmdline, const std::vector<Module>& modules,
                           GuestMemory& mem);

// QEMU's -initrd syntax: entries separated by ',', ",," stands for a literal
// comma; each entry is "path [args]" (path ends at the first space).
std::vector<Module> parse_module_list(const std::string& initrd_arg);

}  // namespace vmxsim::loader
