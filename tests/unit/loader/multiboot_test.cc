// Multiboot v1: header handling, address fields, and the boot information
// the kernel finds through EBX.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "tests/unit/loader/test_image.h"

namespace vmxsim::loader::test {
namespace {

using ::testing::HasSubstr;

// Raw "a.out kludge" image: 16 bytes of code, the header at file offset 16,
// then code; load_addr 0x200000 corresponds to file offset 0.
std::vector<uint8_t> address_field_image(MbHeader h, size_t tail = 0x100) {
    std::vector<uint8_t> f = pattern(16, 0x30);
    std::vector<uint8_t> hdr = h.bytes();
    f.insert(f.end(), hdr.begin(), hdr.end());
    std::vector<uint8_t> code = pattern(tail, 0x50);
    f.insert(f.end(), code.begin(), code.end());
    return f;
}
MbHeader default_address_fields() {
    MbHeader h;
    h.flags = 1u << 16 | 1u << 1 | 1u << 0;
    h.header_addr = 0x200010;
    h.load_addr = 0x200000;
    h.load_end_addr = 0;       // whole file
    h.bss_end_addr = 0x203000;
    h.entry_addr = 0x200030;
    return h;
}

TEST(MultibootAddressFields, LoadsFileFromComputedOffsetAndZeroesBss) {
    std::vector<uint8_t> f = address_field_image(default_address_fields());
    FakeMemory mem(32 * kMiB);
    BootInfo bi = load_kernel_bytes(f, "flat.bin", "", {}, mem);
    EXPECT_EQ(bi.kind, BootInfo::Kind::Multiboot1);
    EXPECT_EQ(bi.entry, 0x200030u);
    EXPECT_EQ(bi.image_start, 0x200000u);
    EXPECT_EQ(bi.image_end, 0x203000u);
    EXPECT_EQ(bi.ebx, 0x203000u);
    EXPECT_EQ(mem.read(0x200000, f.size()), f);
    for (uint64_t a = 0x200000 + f.size(); a < 0x203000; ++a) ASSERT_EQ(mem.read8(a), 0) << std::hex << a;
}

TEST(MultibootAddressFields, LoadEndAddrLimitsTheCopy) {
    MbHeader h = default_address_fields();
    h.load_end_addr = 0x200040;
    h.bss_end_addr = 0;
    std::vector<uint8_t> f = address_field_image(h);
    FakeMemory mem(32 * kMiB);
    BootInfo bi = load_kernel_bytes(f, "flat.bin", "", {}, mem);
    EXPECT_EQ(bi.image_end, 0x200040u);
    EXPECT_EQ(mem.read(0x200000, 0x40), std::vector<uint8_t>(f.begin(), f.begin() + 0x40));
    EXPECT_EQ(mem.read8(0x200040), kUntouched);
    EXPECT_EQ(bi.ebx, 0x201000u);
}

TEST(MultibootAddressFields, AddressFieldsWinOverElf) {
    // Spec 3.1.3: with flags bit 16 the ELF headers are not used.
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.multiboot = false;
    std::vector<uint8_t> f = build_elf(spec).bytes;
    MbHeader h = default_address_fields();
    h.header_addr = 0x200000 + 0x100;
    h.bss_end_addr = 0;
    std::vector<uint8_t> hdr = h.bytes();
    f.resize(0x200);
    std::copy(hdr.begin(), hdr.end(), f.begin() + 0x100);
    FakeMemory mem(32 * kMiB);
    BootInfo bi = load_kernel_bytes(f, "both.elf", "", {}, mem);
    EXPECT_EQ(bi.image_start, 0x200000u);
    EXPECT_EQ(mem.read(0x200000, f.size()), f);
}

TEST(MultibootAddressFields, Errors) {
    MbHeader h = default_address_fields();
    h.header_addr = 0x1FFFF0;
    EXPECT_THAT(load_error(address_field_image(h)), HasSubstr("header_addr 0x1ffff0 is below load_addr 0x200000"));

    h = default_address_fields();
    h.load_addr = 0x100000;  // would start 1 MiB before the file
    EXPECT_THAT(load_error(address_field_image(h)), HasSubstr("lies before the start of the file"));

    h = default_address_fields();
    h.load_end_addr = 0x100000;
    EXPECT_THAT(load_error(address_field_image(h)), HasSubstr("load_end_addr 0x100000 is below load_addr"));

    h = default_address_fields();
    h.load_end_addr = 0x210000;
    EXPECT_THAT(load_error(address_field_image(h)), HasSubstr("beyond the end of the file"));

    h = default_address_fields();
    h.bss_end_addr = 0x200010;
    EXPECT_THAT(load_error(address_field_image(h)), HasSubstr("bss_end_addr 0x200010 is below the end of the loaded data"));

    h = default_address_fields();
    h.entry_addr = 0x100000;
    EXPECT_THAT(load_error(address_field_image(h)), HasSubstr("entry_addr 0x100000 lies outside the loaded image"));

    h = default_address_fields();
    h.load_addr = h.header_addr = 0xFFFFFFF0;
    h.entry_addr = 0xFFFFFFF4;
    h.bss_end_addr = 0;
    std::vector<uint8_t> f = MbHeader(h).bytes();
    f.resize(0x40);
    EXPECT_THAT(load_error(f), HasSubstr("extends above 4 GiB"));

    h = default_address_fields();
    h.bss_end_addr = 0x4000000;  // bss past the end of 32 MiB RAM
    EXPECT_THAT(load_error(address_field_image(h), 32 * kMiB), HasSubstr("kernel image at [0x200000, 0x4000000) lies outside RAM"));
}

TEST(MultibootHeader, TruncatedAddressFields) {
    MbHeader h = default_address_fields();
    std::vector<uint8_t> f = h.bytes();
    f.resize(20);
    EXPECT_THAT(load_error(f), HasSubstr("is truncated: address fields"));
}

TEST(MultibootHeader, BadChecksum) {
    BuiltElf e = build_elf(kvm_unit_test_like_spec());
    put32(e.bytes, e.mb_offset + 8, 0x12345678);
    EXPECT_THAT(load_error(e.bytes), HasSubstr("multiboot header at offset 0x74 has a bad checksum"));
}

TEST(MultibootHeader, OnlyTheFirst8KiBAreSearched) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.multiboot = false;
    spec.segs[0].data = std::vector<uint8_t>(8192, 0);
    std::vector<uint8_t> hdr = MbHeader{}.bytes();
    std::copy(hdr.begin(), hdr.end(), spec.segs[0].data.begin() + 8192 - 64);  // ends past 8192 in the file
    spec.segs[0].memsz = 8192;
    EXPECT_THAT(load_error(build_elf(spec).bytes), HasSubstr("ELF32 without a multiboot header"));
}

TEST(MultibootHeader, UnsupportedRequiredFeature) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.mb_flags = 1u << 5;
    EXPECT_THAT(load_error(build_elf(spec).bytes), HasSubstr("unsupported required feature (flags 0x20, bit 5)"));
}

TEST(MultibootHeader, VideoRequestAndOptionalBitsAreIgnoredWithANote) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.mb_flags = 1u << 2 | 1u << 20;
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(spec).bytes, "k.elf", "", {}, mem);
    ASSERT_EQ(bi.notes.size(), 1u);
    EXPECT_THAT(bi.notes[0], HasSubstr("video mode"));
}

// The boot information as the kernel reads it (spec 3.3).
struct Mbi {
    uint32_t flags, mem_lower, mem_upper, cmdline, mods_count, mods_addr, mmap_length, mmap_addr, boot_loader_name;
};
Mbi read_mbi(const FakeMemory& m, uint32_t at) {
    return {m.read32(at), m.read32(at + 4), m.read32(at + 8), m.read32(at + 16), m.read32(at + 20),
            m.read32(at + 24), m.read32(at + 44), m.read32(at + 48), m.read32(at + 64)};
}
struct E820 {
    uint64_t base, length;
    uint32_t type;
    bool operator==(const E820& o) const { return base == o.base && length == o.length && type == o.type; }
};
std::ostream& operator<<(std::ostream& os, const E820& e) {
    return os << std::hex << "{" << e.base << ", " << e.length << ", " << e.type << "}";
}
std::vector<E820> read_mmap(const FakeMemory& m, const Mbi& mbi) {
    std::vector<E820> v;
    for (uint64_t p = mbi.mmap_addr; p < uint64_t(mbi.mmap_addr) + mbi.mmap_length; p += m.read32(p) + 4)
        v.push_back({m.read64(p + 4), m.read64(p + 12), m.read32(p + 20)});
    return v;
}

TEST(MultibootInfo, FlagsMemoryCmdlineMmapAndLoaderName) {
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(kvm_unit_test_like_spec()).bytes, "x86/vmx.flat",
                                    "test_vmxon test_vmptrld", {}, mem);
    Mbi mbi = read_mbi(mem, bi.ebx);
    EXPECT_EQ(mbi.flags, 1u << 0 | 1u << 2 | 1u << 6 | 1u << 9);  // no modules: no MODS bit
    EXPECT_EQ(mbi.mem_lower, 640u);
    EXPECT_EQ(mbi.mem_upper, 63u * 1024);
    EXPECT_EQ(mem.read_cstr(mbi.cmdline), "x86/vmx.flat test_vmxon test_vmptrld");
    EXPECT_EQ(mem.read_cstr(mbi.boot_loader_name), "vmxsim");
    EXPECT_EQ(mbi.mods_count, 0u);
    std::vector<E820> want = {{0, 0x9FC00, 1}, {0x9FC00, 0x400, 2}, {0xF0000, 0x10000, 2},
                              {0x100000, 63 * kMiB, 1}};
    EXPECT_EQ(read_mmap(mem, mbi), want);
    // Everything the kernel is told about lies in the area after the image.
    for (uint32_t p : {mbi.cmdline, mbi.mmap_addr, mbi.boot_loader_name}) {
        EXPECT_GE(p, bi.image_end);
        EXPECT_LT(p, bi.first_free);
    }
}

TEST(MultibootInfo, EmptyCmdlineStillNamesTheKernel) {
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(kvm_unit_test_like_spec()).bytes, "k.elf", "", {}, mem);
    EXPECT_EQ(mem.read_cstr(read_mbi(mem, bi.ebx).cmdline), "k.elf ");  // as QEMU: "%s %s"
}

TEST(MultibootInfo, RamAbove3_5GiBIsReportedFrom4GiB) {
    FakeMemory mem(6 * kGiB);
    BootInfo bi = load_kernel_bytes(build_elf(kvm_unit_test_like_spec()).bytes, "k.elf", "", {}, mem);
    Mbi mbi = read_mbi(mem, bi.ebx);
    EXPECT_EQ(mbi.mem_upper, uint32_t((0xE0000000ULL - kMiB) / 1024));
    std::vector<E820> map = read_mmap(mem, mbi);
    ASSERT_EQ(map.size(), 5u);
    EXPECT_EQ(map[3], (E820{0x100000, 0xE0000000ULL - kMiB, 1}));
    EXPECT_EQ(map[4], (E820{4 * kGiB, 6 * kGiB - 0xE0000000ULL, 1}));
}

class TempFiles : public ::testing::Test {
protected:
    std::string make(const std::string& leaf, const std::vector<uint8_t>& data) {
        std::string path = ::testing::TempDir() + "vmxsim_loader_" + leaf;
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), data.size());
        m_paths.push_back(path);
        return path;
    }
    void TearDown() override {
        for (const std::string& p : m_paths) std::remove(p.c_str());
    }
    std::vector<std::string> m_paths;
};

TEST_F(TempFiles, TwoModulesWithTheirCmdlines) {
    std::vector<uint8_t> env = {'A', '=', '1', '\n'};
    std::vector<uint8_t> blob = pattern(5000, 9);
    std::string env_path = make("env", env);
    std::string blob_path = make("blob", blob);
    std::string kernel_path = make("kernel.elf", build_elf(kvm_unit_test_like_spec()).bytes);
    std::vector<Module> mods = parse_module_list(env_path + "," + blob_path + " size=5000 a,,b");

    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel(kernel_path, "-v", mods, mem);
    Mbi mbi = read_mbi(mem, bi.ebx);
    EXPECT_EQ(mbi.flags, 1u << 0 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 9);
    EXPECT_EQ(mem.read_cstr(mbi.cmdline), kernel_path + " -v");
    ASSERT_EQ(mbi.mods_count, 2u);

    uint32_t m0 = mbi.mods_addr, m1 = mbi.mods_addr + 16;
    uint32_t start0 = mem.read32(m0), end0 = mem.read32(m0 + 4);
    uint32_t start1 = mem.read32(m1), end1 = mem.read32(m1 + 4);
    EXPECT_EQ(start0 % 4096, 0u);
    EXPECT_EQ(start1 % 4096, 0u);
    EXPECT_GT(start0, bi.ebx);
    EXPECT_EQ(end0 - start0, env.size());
    EXPECT_EQ(end1 - start1, blob.size());
    EXPECT_GE(start1, end0);
    EXPECT_EQ(mem.read(start0, env.size()), env);
    EXPECT_EQ(mem.read(start1, blob.size()), blob);
    EXPECT_EQ(mem.read_cstr(mem.read32(m0 + 8)), env_path);
    EXPECT_EQ(mem.read_cstr(mem.read32(m1 + 8)), blob_path + " size=5000 a,b");
    EXPECT_EQ(bi.first_free, (uint64_t(end1) + 4095) & ~4095ULL);
}

TEST_F(TempFiles, ModuleFileMissing) {
    std::string kernel_path = make("kernel2.elf", build_elf(kvm_unit_test_like_spec()).bytes);
    FakeMemory mem(64 * kMiB);
    try {
        load_kernel(kernel_path, "", {{"/nonexistent/env.txt", "/nonexistent/env.txt"}}, mem);
        FAIL() << "no error";
    } catch (const LoadError& e) {
        EXPECT_THAT(e.what(), HasSubstr("/nonexistent/env.txt: cannot open module: No such file or directory"));
    }
    EXPECT_EQ(mem.writes, 0);
}

TEST_F(TempFiles, ModulesBeyondRam) {
    std::string big = make("big", std::vector<uint8_t>(3 * kMiB, 1));
    std::string msg = load_error(build_elf(kvm_unit_test_like_spec()).bytes, 6 * kMiB, {{big, big}});
    EXPECT_THAT(msg, HasSubstr("module '" + big + "' at [0x405000, 0x705000) lies outside RAM"));
}

}  // namespace
}  // namespace vmxsim::loader::test
