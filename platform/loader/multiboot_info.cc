#include "platform/loader/multiboot_info.h"

#include <algorithm>
#include <cstring>

#include "platform/loader/byte_io.h"

namespace vmxsim::loader::detail {
namespace {

constexpr uint64_t kEbdaStart = 0x9FC00;
constexpr uint64_t kLowMemEnd = 0xA0000;  // 640 KiB
constexpr uint64_t kBiosStart = 0xF0000;
constexpr uint64_t kOneMiB = 0x100000;

// Offsets in the info structure (spec 3.3).
constexpr size_t kMbiFlags = 0, kMbiMemLower = 4, kMbiMemUpper = 8, kMbiCmdlineAddr = 16;
constexpr size_t kMbiModsCount = 20, kMbiModsAddr = 24, kMbiMmapLength = 44, kMbiMmapAddr = 48;
constexpr size_t kMbiBootLoaderNameAddr = 64;
constexpr uint64_t kMbiSize = 88;

constexpr uint64_t kMmapEntrySize = 24;  // 4-byte size field + 20 bytes it counts
constexpr uint64_t kModEntrySize = 16;   // mod_start, mod_end, string, reserved

struct Layout {
    uint64_t mmap_off, mods_off, strings_off, size;
};

Layout layout(uint64_t ram_size, const std::string& cmdline, const std::vector<Module>& modules) {
    Layout l{};
    l.mmap_off = kMbiSize;
    l.mods_off = l.mmap_off + memory_map(ram_size).size() * kMmapEntrySize;
    l.strings_off = l.mods_off + modules.size() * kModEntrySize;
    l.size = l.strings_off + cmdline.size() + 1 + sizeof(kBootLoaderName);
    for (const Module& m : modules) l.size += m.cmdline.size() + 1;
    return l;
}

// Appends a NUL-terminated string at `off`, returns its guest address.
uint32_t put_string(std::vector<uint8_t>& out, uint64_t base, uint64_t& off, const std::string& s) {
    std::memcpy(&out[off], s.data(), s.size());
    out[off + s.size()] = 0;
    uint32_t addr = uint32_t(base + off);
    off += s.size() + 1;
    return addr;
}

}  // namespace

std::vector<MmapEntry> memory_map(uint64_t ram) {
    std::vector<MmapEntry> map;
    map.push_back({0, std::min(ram, kEbdaStart), kMmapAvailable});
    map.push_back({kEbdaStart, kLowMemEnd - kEbdaStart, kMmapReserved});
    map.push_back({kBiosStart, kOneMiB - kBiosStart, kMmapReserved});
    uint64_t low_end = std::min(ram, kLowRamLimit);
    if (low_end > kOneMiB) map.push_back({kOneMiB, low_end - kOneMiB, kMmapAvailable});
    if (ram > kLowRamLimit) map.push_back({kHighRamBase, ram - kLowRamLimit, kMmapAvailable});
    return map;
}

uint64_t multiboot_info_size(uint64_t ram_size, const std::string& cmdline, const std::vector<Module>& modules) {
    return layout(ram_size, cmdline, modules).size;
}

std::vector<uint8_t> build_multiboot_info(uint64_t base, uint64_t ram, const std::string& cmdline,
                                          const std::vector<Module>& modules,
                                          const std::vector<PlacedModule>& placed) {
    const Layout l = layout(ram, cmdline, modules);
    std::vector<uint8_t> out(l.size, 0);
    uint8_t* mbi = out.data();

    uint32_t flags = kMbiMemory | kMbiCmdline | kMbiMmap | kMbiBootLoaderName;
    // mem_upper: KiB from 1 MiB to the first hole (spec 3.3), here 3.5 GiB.
    put_le32(mbi + kMbiMemLower, uint32_t(std::min(ram, kLowMemEnd) / 1024));
    put_le32(mbi + kMbiMemUpper, uint32_t(std::min(ram, kLowRamLimit) > kOneMiB
                                              ? (std::min(ram, kLowRamLimit) - kOneMiB) / 1024
                                              : 0));

    const std::vector<MmapEntry> map = memory_map(ram);
    uint8_t* e = mbi + l.mmap_off;
    for (const MmapEntry& m : map) {
        put_le32(e, uint32_t(kMmapEntrySize - 4));
        put_le64(e + 4, m.base);
        put_le64(e + 12, m.length);
        put_le32(e + 20, m.type);
        e += kMmapEntrySize;
    }
    put_le32(mbi + kMbiMmapLength, uint32_t(map.size() * kMmapEntrySize));
    put_le32(mbi + kMbiMmapAddr, uint32_t(base + l.mmap_off));

    uint64_t str = l.strings_off;
    put_le32(mbi + kMbiCmdlineAddr, put_string(out, base, str, cmdline));
    for (size_t i = 0; i < modules.size(); ++i) {
        uint8_t* m = mbi + l.mods_off + i * kModEntrySize;
        put_le32(m + 0, uint32_t(placed[i].start));
        put_le32(m + 4, uint32_t(placed[i].start + placed[i].size));  // end is exclusive
        put_le32(m + 8, put_string(out, base, str, modules[i].cmdline));
    }
    if (!modules.empty()) {
        flags |= kMbiMods;
        put_le32(mbi + kMbiModsCount, uint32_t(modules.size()));
        put_le32(mbi + kMbiModsAddr, uint32_t(base + l.mods_off));
    }
    put_le32(mbi + kMbiBootLoaderNameAddr, put_string(out, base, str, kBootLoaderName));
    put_le32(mbi + kMbiFlags, flags);
    return out;
}

}  // namespace vmxsim::loader::detail
