// Multiboot v1 boot information area (Multiboot Specification 0.6.96, 3.3):
// the info structure followed by the memory map, the module list and the
// strings it points to, as one contiguous block. Internal to platform/loader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/loader/multiboot_loader.h"

namespace vmxsim::loader::detail {

constexpr uint32_t kMbiMemory = 1u << 0;
constexpr uint32_t kMbiCmdline = 1u << 2;
constexpr uint32_t kMbiMods = 1u << 3;
constexpr uint32_t kMbiMmap = 1u << 6;
constexpr uint32_t kMbiBootLoaderName = 1u << 9;

constexpr uint32_t kMmapAvailable = 1;
constexpr uint32_t kMmapReserved = 2;

constexpr char kBootLoaderName[] = "vmxsim";

struct MmapEntry {
    uint64_t base, length;
    uint32_t type;
};

// The PC memory map the platform presents: low RAM up to the EBDA, the EBDA
// and BIOS areas reserved, RAM from 1 MiB to the 3.5 GiB hole, and the rest
// of RAM from 4 GiB.
std::vector<MmapEntry> memory_map(uint64_t ram_size);

struct PlacedModule {
    uint64_t start, size;  // where the module's contents lie in guest memory
};

// Bytes the area occupies (depends only on the strings and module count).
uint64_t multiboot_info_size(uint64_t ram_size, const std::string& cmdline, const std::vector<Module>& modules);

// Builds the area to be written at `base` (which must be below 4 GiB along
// with the whole area and the modules; the caller checks). The info
// structure is at offset 0, so EBX = base.
std::vector<uint8_t> build_multiboot_info(uint64_t base, uint64_t ram_size, const std::string& cmdline,
                                          const std::vector<Module>& modules,
                                          const std::vector<PlacedModule>& placed);

}  // namespace vmxsim::loader::detail
