// Multiboot v1 OS image header (Multiboot Specification 0.6.96, 3.1.1-3.1.3).
// Internal to platform/loader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmxsim::loader::detail {

constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;
constexpr uint64_t kMultibootSearchBytes = 8192;

constexpr uint32_t kMbPageAlignModules = 1u << 0;
constexpr uint32_t kMbMemoryInfo = 1u << 1;
constexpr uint32_t kMbVideoMode = 1u << 2;
constexpr uint32_t kMbAddressFields = 1u << 16;

struct MultibootHeader {
    uint64_t offset;  // file offset of the magic
    uint32_t flags;
    // Valid when flags has kMbAddressFields.
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

// Finds the first 32-bit aligned header with a valid checksum in the first
// 8192 bytes. Returns nothing when there is no magic at all. Throws when the
// only magic found has a bad checksum, when a required feature (flags bits
// 0-15) is not supported, or when the address fields are truncated.
// Appends a note for an ignored video mode request.
std::optional<MultibootHeader> find_multiboot_header(const std::vector<uint8_t>& file, const std::string& name,
                                                     std::vector<std::string>& notes);

}  // namespace vmxsim::loader::detail
