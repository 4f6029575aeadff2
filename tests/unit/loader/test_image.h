// In-memory kernel images and a sparse guest memory for the loader tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/loader/multiboot_loader.h"

namespace vmxsim::loader::test {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;
constexpr uint8_t kUntouched = 0xAA;  // value of guest bytes the loader never wrote

// Sparse RAM: only written pages exist; everything else reads kUntouched.
class FakeMemory : public GuestMemory {
public:
    explicit FakeMemory(uint64_t ram) : m_ram(ram) {}
    uint64_t ram_size() const override { return m_ram; }
    void write(uint64_t paddr, const void* data, size_t len) override {
        ++writes;
        if (!ram_contains(m_ram, paddr, len)) {
            ADD_FAILURE() << "write outside RAM at " << std::hex << paddr << " len " << len;
            return;
        }
        const uint8_t* src = static_cast<const uint8_t*>(data);
        for (size_t i = 0; i < len; ++i) byte(paddr + i) = src[i];
    }
    uint8_t read8(uint64_t paddr) const {
        auto it = m_pages.find(paddr / 4096);
        return it == m_pages.end() ? kUntouched : it->second[paddr % 4096];
    }
    uint32_t read32(uint64_t paddr) const {
        uint32_t v = 0;
        for (int i = 3; i >= 0; --i) v = v << 8 | read8(paddr + i);
        return v;
    }
    uint64_t read64(uint64_t paddr) const { return read32(paddr) | uint64_t(read32(paddr + 4)) << 32; }
    std::vector<uint8_t> read(uint64_t paddr, size_t len) const {
        std::vector<uint8_t> v(len);
        for (size_t i = 0; i < len; ++i) v[i] = read8(paddr + i);
        return v;
    }
    std::string read_cstr(uint64_t paddr) const {
        std::string s;
        for (uint8_t c; (c = read8(paddr + s.size())) != 0 && s.size() < 4096;) s += char(c);
        return s;
    }
    int writes = 0;

private:
    uint8_t& byte(uint64_t paddr) {
        auto it = m_pages.find(paddr / 4096);
        if (it == m_pages.end()) it = m_pages.emplace(paddr / 4096, std::vector<uint8_t>(4096, kUntouched)).first;
        return it->second[paddr % 4096];
    }
    uint64_t m_ram;
    std::unordered_map<uint64_t, std::vector<uint8_t>> m_pages;
};

inline void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
    for (int i = 0; i < 2; ++i) b.at(off + i) = uint8_t(v >> 8 * i);
}
inline void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.at(off + i) = uint8_t(v >> 8 * i);
}
inline void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
    for (int i = 0; i < 8; ++i) b.at(off + i) = uint8_t(v >> 8 * i);
}

inline std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
    return v;
}

// 12 bytes (or 32 with flags bit 16) of multiboot v1 header.
struct MbHeader {
    uint32_t flags = 0;
    uint32_t header_addr = 0, load_addr = 0, load_end_addr = 0, bss_end_addr = 0, entry_addr = 0;
    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> b((flags & (1u << 16)) ? 32 : 12);
        put32(b, 0, 0x1BADB002);
        put32(b, 4, flags);
        put32(b, 8, uint32_t(0u - 0x1BADB002u - flags));
        if (b.size() == 32) {
            put32(b, 12, header_addr);
            put32(b, 16, load_addr);
            put32(b, 20, load_end_addr);
            put32(b, 24, bss_end_addr);
            put32(b, 28, entry_addr);
        }
        return b;
    }
};

struct Seg {
    uint64_t paddr;
    std::vector<uint8_t> data;  // p_filesz bytes
    uint64_t memsz;
    uint64_t vaddr = ~0ULL;  // ~0: same as paddr
    uint32_t type = 1;       // PT_LOAD
};

struct ElfSpec {
    bool is64 = false;
    uint16_t machine = 0;  // 0: EM_386 / EM_X86_64 by class
    uint16_t type = 2;     // ET_EXEC
    uint64_t entry = 0;
    std::vector<Seg> segs;
    bool multiboot = true;
    uint32_t mb_flags = 0;
};

// The built file and where its parts are, so tests can corrupt them.
struct BuiltElf {
    std::vector<uint8_t> bytes;
    size_t phoff, phentsize, mb_offset;
    std::vector<size_t> seg_offset;
    // Offsets of program header fields for segment i.
    size_t p_offset(size_t i, bool is64) const { return phoff + i * phentsize + (is64 ? 8 : 4); }
    size_t p_paddr(size_t i, bool is64) const { return phoff + i * phentsize + (is64 ? 24 : 12); }
    size_t p_filesz(size_t i, bool is64) const { return phoff + i * phentsize + (is64 ? 32 : 16); }
    size_t p_memsz(size_t i, bool is64) const { return phoff + i * phentsize + (is64 ? 40 : 20); }
};

inline BuiltElf build_elf(const ElfSpec& s) {
    BuiltElf out{};
    const size_t ehsize = s.is64 ? 64 : 52;
    out.phentsize = s.is64 ? 56 : 32;
    out.phoff = ehsize;
    size_t off = out.phoff + out.phentsize * s.segs.size();
    off = (off + 3) & ~size_t(3);
    std::vector<uint8_t> mb = s.multiboot ? MbHeader{s.mb_flags}.bytes() : std::vector<uint8_t>{};
    out.mb_offset = off;
    off += mb.size();
    for (const Seg& g : s.segs) {
        off = (off + 15) & ~size_t(15);
        out.seg_offset.push_back(off);
        off += g.data.size();
    }
    std::vector<uint8_t>& b = out.bytes;
    b.assign(off, 0);
    b[0] = 0x7F, b[1] = 'E', b[2] = 'L', b[3] = 'F';
    b[4] = s.is64 ? 2 : 1;
    b[5] = 1;  // little endian
    b[6] = 1;  // EV_CURRENT
    put16(b, 16, s.type);
    put16(b, 18, s.machine ? s.machine : (s.is64 ? 62 : 3));
    put32(b, 20, 1);
    if (s.is64) {
        put64(b, 24, s.entry);
        put64(b, 32, out.phoff);
        put16(b, 52, uint16_t(ehsize));
        put16(b, 54, uint16_t(out.phentsize));
        put16(b, 56, uint16_t(s.segs.size()));
    } else {
        put32(b, 24, uint32_t(s.entry));
        put32(b, 28, uint32_t(out.phoff));
        put16(b, 40, uint16_t(ehsize));
        put16(b, 42, uint16_t(out.phentsize));
        put16(b, 44, uint16_t(s.segs.size()));
    }
    for (size_t i = 0; i < s.segs.size(); ++i) {
        const Seg& g = s.segs[i];
        size_t ph = out.phoff + i * out.phentsize;
        uint64_t vaddr = g.vaddr == ~0ULL ? g.paddr : g.vaddr;
        put32(b, ph, g.type);
        if (s.is64) {
            put32(b, ph + 4, 7);
            put64(b, ph + 8, out.seg_offset[i]);
            put64(b, ph + 16, vaddr);
            put64(b, ph + 24, g.paddr);
            put64(b, ph + 32, g.data.size());
            put64(b, ph + 40, g.memsz);
            put64(b, ph + 48, 16);
        } else {
            put32(b, ph + 4, uint32_t(out.seg_offset[i]));
            put32(b, ph + 8, uint32_t(vaddr));
            put32(b, ph + 12, uint32_t(g.paddr));
            put32(b, ph + 16, uint32_t(g.data.size()));
            put32(b, ph + 20, uint32_t(g.memsz));
            put32(b, ph + 24, 7);
            put32(b, ph + 28, 16);
        }
        if (!g.data.empty()) std::memcpy(&b[out.seg_offset[i]], g.data.data(), g.data.size());
    }
    if (!mb.empty()) std::memcpy(&b[out.mb_offset], mb.data(), mb.size());
    return out;
}

// A small multiboot ELF32 kernel like kvm-unit-tests' .flat files: code at
// 4 MiB, data + bss at 4 MiB + 8 KiB.
inline ElfSpec kvm_unit_test_like_spec() {
    ElfSpec s;
    s.entry = 0x400010;
    s.segs.push_back({0x400000, pattern(0x40, 1), 0x40});
    s.segs.push_back({0x402000, pattern(0x20, 2), 0x1800});
    return s;
}

inline ElfSpec plain_elf64_spec() {
    ElfSpec s;
    s.is64 = true;
    s.multiboot = false;
    s.entry = 0x200000;
    s.segs.push_back({0x200000, pattern(0x100, 3), 0x3000});
    return s;
}

// Runs the loader and returns the LoadError message ("" if it loaded).
inline std::string load_error(const std::vector<uint8_t>& file, uint64_t ram = 64 * kMiB,
                              const std::vector<Module>& mods = {}, const std::string& name = "k.elf") {
    FakeMemory mem(ram);
    try {
        load_kernel_bytes(file, name, "", mods, mem);
    } catch (const LoadError& e) {
        EXPECT_EQ(mem.writes, 0) << "a failed load must not write guest memory";
        return e.what();
    }
    return "";
}

}  // namespace vmxsim::loader::test
