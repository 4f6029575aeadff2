// Linux x86 boot protocol (Documentation/x86/boot.rst, protocol 2.06 and later) for bzImage
// kernels: the loader does what a boot loader does after the real-mode setup code would have run
// (as QEMU's -kernel, GRUB's linux16/linux and kexec do): the protected-mode kernel goes to its
// load address, the zero page ("boot_params") receives the setup header, the e820 memory map,
// the command line and initrd pointers, and the kernel is entered through the 32-bit boot
// protocol (flat 4 GiB segments __BOOT_CS 0x10 / __BOOT_DS 0x18, paging off, ESI = zero page,
// EIP = the protected-mode kernel's start). The kernel's own decompressor then runs.
// Internal to platform/loader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/loader/byte_io.h"
#include "platform/loader/multiboot_loader.h"

namespace vmxsim::loader::detail {

// Setup header offsets (boot.rst, "THE REAL-MODE KERNEL HEADER"), relative to the file start;
// the zero page holds the header at the same offsets.
namespace setup_header {
constexpr size_t kSetupSects = 0x1f1;
constexpr size_t kVidMode = 0x1fa;
constexpr size_t kBootFlag = 0x1fe;  // 0xAA55
constexpr size_t kJump = 0x200;      // the byte at 0x201 is the header's length past 0x202
constexpr size_t kHeader = 0x202;    // "HdrS"
constexpr size_t kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210;
constexpr size_t kLoadflags = 0x211;
constexpr size_t kCode32Start = 0x214;
constexpr size_t kRamdiskImage = 0x218;
constexpr size_t kRamdiskSize = 0x21c;
constexpr size_t kCmdLinePtr = 0x228;
constexpr size_t kInitrdAddrMax = 0x22c;
constexpr size_t kKernelAlignment = 0x230;
constexpr size_t kRelocatableKernel = 0x234;
constexpr size_t kXloadflags = 0x236;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kPrefAddress = 0x258;
constexpr size_t kInitSize = 0x260;
}  // namespace setup_header

// Zero-page fields outside the setup header (arch/x86/include/uapi/asm/bootparam.h).
namespace zero_page {
constexpr size_t kE820Entries = 0x1e8;
constexpr size_t kE820Table = 0x2d0;
constexpr unsigned kE820MaxEntries = 128;
constexpr size_t kE820EntrySize = 20;  // u64 addr, u64 size, u32 type
constexpr uint64_t kSize = 4096;
}  // namespace zero_page

constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS"
constexpr uint16_t kMinProtocol = 0x0206;    // cmdline_size, the 32-bit entry as used here
constexpr uint8_t kLoadedHigh = 1u << 0;     // loadflags: protected-mode code at 0x100000
constexpr uint8_t kTypeOfLoaderUndefined = 0xff;

// Where the loader puts the zero page and the command line: below the EBDA, above the
// real-mode IVT and BIOS data area, in RAM the e820 map reports as usable (Linux reserves
// the low 1 MiB anyway and copies both early in boot).
constexpr uint64_t kZeroPageAddr = 0x90000;
constexpr uint64_t kCmdlineAddr = 0x91000;
constexpr uint64_t kHighLoadAddr = 0x100000;  // protected-mode kernel of a non-relocatable bzImage

// The initrd files concatenated (Linux accepts several cpio archives one after the other),
// placed at the top of [bottom, top) on a page boundary, as QEMU and GRUB place it. Entries
// with arguments are refused; no entries: empty data.
struct Initrd {
    std::vector<uint8_t> data;
    uint64_t paddr = 0;
};
Initrd place_initrd(const std::vector<Module>& initrds, const std::string& name, uint64_t bottom, uint64_t top);

// What a Linux entry protocol passes besides the kernel: the NUL-terminated command line (at
// `cmdline_addr`, below the EBDA; a longer one is refused) and the initrd (as place_initrd).
struct KernelArguments {
    uint64_t cmdline_addr;
    std::vector<uint8_t> cmdline;
    Initrd initrd;
    void add_chunks(std::vector<Chunk>& chunks) const;
};
KernelArguments kernel_arguments(const std::string& name, const std::string& cmdline, uint64_t cmdline_addr,
                                 const std::vector<Module>& initrds, uint64_t initrd_bottom, uint64_t initrd_top);

// True when `file` carries the boot sector signature and the "HdrS" setup header.
bool is_linux_bzimage(const std::vector<uint8_t>& file);

// Loads a bzImage and its initrd and returns the entry state. The kernel finds the ACPI tables by the RSDP
// scan of the BIOS area, as after SeaBIOS.
BootInfo load_linux_bzimage(const std::vector<uint8_t>& file, const std::string& name,
                            const std::string& cmdline, const std::vector<Module>& initrds,
                            GuestMemory& mem);

}  // namespace vmxsim::loader::detail
