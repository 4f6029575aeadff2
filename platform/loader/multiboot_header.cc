#include "platform/loader/multiboot_header.h"

#include <algorithm>

#include "platform/loader/byte_io.h"

namespace vmxsim::loader::detail {
namespace {

constexpr uint64_t kBasicHeaderBytes = 12;    // magic, flags, checksum
constexpr uint64_t kAddressHeaderBytes = 32;  // + header_addr .. entry_addr
constexpr uint32_t kSupportedRequired = kMbPageAlignModules | kMbMemoryInfo | kMbVideoMode;

std::string bit_list(uint32_t bits) {
    std::string s;
    for (int b = 0; b < 32; ++b)
        if (bits & (1u << b)) s += (s.empty() ? "" : ", ") + std::to_string(b);
    return s;
}

}  // namespace

std::optional<MultibootHeader> find_multiboot_header(const std::vector<uint8_t>& f, const std::string& name,
                                                     std::vector<std::string>& notes) {
    const uint64_t limit = std::min<uint64_t>(f.size(), kMultibootSearchBytes);
    std::optional<uint64_t> bad_checksum_at;
    std::optional<uint64_t> found;
    for (uint64_t off = 0; off + kBasicHeaderBytes <= limit; off += 4) {
        if (get_le32(&f[off]) != kMultibootHeaderMagic) continue;
        uint32_t sum = kMultibootHeaderMagic + get_le32(&f[off + 4]) + get_le32(&f[off + 8]);
        if (sum == 0) {
            found = off;
            break;
        }
        if (!bad_checksum_at) bad_checksum_at = off;
    }
    if (!found) {
        if (bad_checksum_at)
            fail(name, "multiboot header at offset " + hex(*bad_checksum_at) +
                           " has a bad checksum (magic + flags + checksum must be 0)");
        return std::nullopt;
    }

    MultibootHeader h{};
    h.offset = *found;
    h.flags = get_le32(&f[h.offset + 4]);
    // Bits 0-15 are requirements the loader must meet or refuse (3.1.2).
    uint32_t unsupported = h.flags & 0xFFFF & ~kSupportedRequired;
    if (unsupported)
        fail(name, "multiboot header requests an unsupported required feature (flags " + hex(h.flags) +
                       ", bit " + bit_list(unsupported) + ")");
    if (h.flags & kMbVideoMode)
        notes.push_back("multiboot video mode request (flags bit 2) ignored: text console only");
    if (h.flags & kMbAddressFields) {
        if (h.offset + kAddressHeaderBytes > limit)
            fail(name, "multiboot header at offset " + hex(h.offset) +
                           " is truncated: address fields (flags bit 16) need 32 bytes within the first 8192 "
                           "bytes of the file");
        const uint8_t* p = &f[h.offset];
        h.header_addr = get_le32(p + 12);
        h.load_addr = get_le32(p + 16);
        h.load_end_addr = get_le32(p + 20);
        h.bss_end_addr = get_le32(p + 24);
        h.entry_addr = get_le32(p + 28);
    }
    return h;
}

}  // namespace vmxsim::loader::detail
