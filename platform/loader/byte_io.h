// Little-endian field access, message formatting, host-file reading and the checked write of
// planned ranges, shared by the loaders.
// Internal to platform/loader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/loader/multiboot_loader.h"

namespace vmxsim::loader::detail {

// Callers check bounds first; these never read or write past `p + width`.
inline uint16_t get_le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t get_le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t get_le64(const uint8_t* p) {
    return uint64_t(get_le32(p)) | uint64_t(get_le32(p + 4)) << 32;
}
inline void put_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void put_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}

// Rounds up to a page boundary; saturates instead of wrapping so that a
// later range check fails cleanly.
inline uint64_t page_align_up(uint64_t v) {
    return v > UINT64_MAX - (kPageSize - 1) ? UINT64_MAX & ~(kPageSize - 1)
                                            : (v + kPageSize - 1) & ~(kPageSize - 1);
}

std::string hex(uint64_t v);
// "[0x100000, 0x200000)"; `len` may make the end overflow, then "+len" is shown.
std::string range_str(uint64_t start, uint64_t len);

[[noreturn]] void fail(const std::string& name, const std::string& problem);

// One range of guest memory the loader will write: `data_len` bytes from
// `data`, then zeros up to `len`. Everything is validated before anything is
// written, so a failed load leaves guest memory untouched.
struct Chunk {
    uint64_t paddr;
    uint64_t len;
    const uint8_t* data;
    uint64_t data_len;  // <= len
    std::string what;   // for messages: "program header 1", "module 'env'", ...
};

// Reads a whole host file; `what` names it in messages ("kernel", "module", "initrd").
std::vector<uint8_t> read_host_file(const std::string& path, const std::string& what);

// Checks that every chunk lies in RAM (naming the first that does not), then writes them all.
void write_chunks(GuestMemory& mem, const std::vector<Chunk>& chunks, const std::string& name);

}  // namespace vmxsim::loader::detail
