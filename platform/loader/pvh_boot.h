// PVH boot protocol (Xen's "x86/HVM direct boot ABI", xen/include/public/arch-x86/hvm/start_info.h)
// for ELF kernels that carry XEN_ELFNOTE_PHYS32_ENTRY: Linux's uncompressed vmlinux with
// CONFIG_PVH (as QEMU's -kernel vmlinux, Firecracker and cloud-hypervisor boot it), FreeBSD, Xen
// itself. It skips the bzImage decompressor: the segments go to their physical addresses and the
// kernel is entered in 32-bit protected mode, paging off, flat segments, EBX = the
// hvm_start_info structure (command line, initrd as module 0, the memory map).
// Internal to platform/loader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/loader/elf_image.h"
#include "platform/loader/multiboot_loader.h"

namespace vmxsim::loader::detail {

namespace hvm_start_info {
constexpr uint32_t kMagic = 0x336ec578;  // "xEn3" with the 0x80 bit of the "E" set
constexpr uint32_t kVersion = 1;         // version 1 adds the memory map
constexpr size_t kMagicOff = 0, kVersionOff = 4, kFlagsOff = 8, kNrModulesOff = 12, kModlistPaddrOff = 16,
                 kCmdlinePaddrOff = 24, kRsdpPaddrOff = 32, kMemmapPaddrOff = 40, kMemmapEntriesOff = 48;
constexpr size_t kSize = 56;
constexpr size_t kModlistEntrySize = 32;  // paddr, size, cmdline_paddr, reserved
constexpr size_t kMemmapEntrySize = 24;   // addr, size, type, reserved (types as in e820)
}  // namespace hvm_start_info

// Where the start info, memory map and module list go (one page) and the command line: below
// the EBDA, as for the Linux zero page.
constexpr uint64_t kStartInfoAddr = 0x90000;
constexpr uint64_t kPvhCmdlineAddr = 0x91000;

// Loads `img` (already parsed from `file`, with a PVH entry) and the initrd.
BootInfo load_pvh_elf(const ElfImage& img, const std::vector<uint8_t>& file, const std::string& name,
                      const std::string& cmdline, const std::vector<Module>& initrds, GuestMemory& mem);

}  // namespace vmxsim::loader::detail
