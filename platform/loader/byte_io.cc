#include "platform/loader/byte_io.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vmxsim::loader::detail {

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string range_str(uint64_t start, uint64_t len) {
    if (len != 0 && len - 1 > UINT64_MAX - start) return "[" + hex(start) + ", +" + hex(len) + ")";
    return "[" + hex(start) + ", " + hex(start + len) + ")";
}

void fail(const std::string& name, const std::string& problem) { throw LoadError(name + ": " + problem); }

std::vector<uint8_t> read_host_file(const std::string& path, const std::string& what) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw LoadError(path + ": cannot open " + what + ": " + std::strerror(errno));
    std::vector<uint8_t> data;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + n);
    int err = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (err) throw LoadError(path + ": cannot read " + what + ": " + std::strerror(err));
    return data;
}

namespace {

std::string describe_ram(uint64_t ram) {
    std::string s = "RAM is " + range_str(0, std::min(ram, kLowRamLimit));
    if (ram > kLowRamLimit) s += " and " + range_str(kHighRamBase, ram - kLowRamLimit);
    return s;
}

void write_chunk(GuestMemory& mem, const Chunk& c) {
    static const uint8_t kZeros[1 << 16] = {};
    if (c.data_len) mem.write(c.paddr, c.data, c.data_len);
    for (uint64_t done = c.data_len; done < c.len;) {
        uint64_t n = std::min<uint64_t>(c.len - done, sizeof kZeros);
        mem.write(c.paddr + done, kZeros, n);
        done += n;
    }
}

}  // namespace

void write_chunks(GuestMemory& mem, const std::vector<Chunk>& chunks, const std::string& name) {
    const uint64_t ram = mem.ram_size();
    for (const Chunk& c : chunks)
        if (!ram_contains(ram, c.paddr, c.len))
            fail(name, c.what + " at " + range_str(c.paddr, c.len) + " lies outside RAM (" + describe_ram(ram) + ")");
    for (const Chunk& c : chunks) write_chunk(mem, c);
}

}  // namespace vmxsim::loader::detail
