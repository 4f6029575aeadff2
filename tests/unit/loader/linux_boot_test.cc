// Linux bzImage (x86 boot protocol) and PVH ELF loading: where everything goes, what the zero
// page and the PVH start info say, and the refusals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "tests/unit/loader/test_image.h"

namespace vmxsim::loader::test {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kZeroPage = 0x90000;
constexpr uint64_t kCmdline = 0x91000;

struct BzSpec {
    uint16_t version = 0x020f;
    uint8_t setup_sects = 4;
    uint8_t loadflags = 0x01;  // LOADED_HIGH
    uint8_t relocatable = 1;
    uint32_t kernel_alignment = 0x200000;
    uint64_t pref_address = 0x1000000;
    uint32_t init_size = 0x400000;
    uint32_t cmdline_size = 255;
    uint32_t initrd_addr_max = 0x7fffffff;
    size_t kernel_bytes = 0x3000;
};

// A bzImage as the kernel's build lays it out: boot sector with the setup header at 0x1f1,
// setup_sects more sectors of real-mode code, then the protected-mode kernel.
std::vector<uint8_t> bzimage(const BzSpec& s) {
    std::vector<uint8_t> f((s.setup_sects + 1) * 512, 0);
    f[0x1f1] = s.setup_sects;
    put16(f, 0x1fe, 0xAA55);
    f[0x200] = 0xeb;
    f[0x201] = 0x6a;  // header ends at 0x26c (protocol 2.15)
    put32(f, 0x202, 0x53726448);
    put16(f, 0x206, s.version);
    f[0x211] = s.loadflags;
    put32(f, 0x214, 0x100000);
    put32(f, 0x22c, s.initrd_addr_max);
    put32(f, 0x230, s.kernel_alignment);
    f[0x234] = s.relocatable;
    put32(f, 0x238, s.cmdline_size);
    put64(f, 0x258, s.pref_address);
    put32(f, 0x260, s.init_size);
    f[0x26b] = 0x5a;  // last header byte, to see the copy reach it
    std::vector<uint8_t> k = pattern(s.kernel_bytes, 0x11);
    f.insert(f.end(), k.begin(), k.end());
    return f;
}

std::string temp_file(const std::string& tag, const std::vector<uint8_t>& bytes) {
    std::string path = ::testing::TempDir() + "vmxsim_linux_" + tag;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path;
}

std::string load_error(const std::vector<uint8_t>& f, const std::string& cmdline = "",
                       const std::vector<Module>& mods = {}, uint64_t ram = 256 * kMiB) {
    FakeMemory mem(ram);
    try {
        load_kernel_bytes(f, "vmlinuz", cmdline, mods, mem);
    } catch (const LoadError& e) {
        EXPECT_EQ(mem.writes, 0) << "a failed load must leave memory untouched";
        return e.what();
    }
    return "(loaded)";
}

TEST(LinuxBzImage, LoadsKernelAtPreferredAddressAndFillsTheZeroPage) {
    const BzSpec spec;
    const std::vector<uint8_t> f = bzimage(spec);
    FakeMemory mem(256 * kMiB);
    BootInfo bi = load_kernel_bytes(f, "vmlinuz", "console=ttyS0 quiet", {}, mem);
    EXPECT_EQ(bi.kind, BootInfo::Kind::LinuxBzImage);
    EXPECT_EQ(bi.entry, 0x1000000u);
    EXPECT_EQ(bi.esi, kZeroPage);
    EXPECT_EQ(bi.image_end, 0x1000000u + spec.init_size);
    const size_t setup = 5 * 512;
    EXPECT_EQ(mem.read(0x1000000, spec.kernel_bytes), std::vector<uint8_t>(f.begin() + setup, f.end()));
    EXPECT_EQ(mem.read8(0x1000000 + spec.kernel_bytes), kUntouched) << "init_size is room, not data";

    // The setup header is copied to the same offsets, then the loader's fields are set.
    EXPECT_EQ(mem.read8(kZeroPage + 0x1f1), 4);
    EXPECT_EQ(mem.read32(kZeroPage + 0x202), 0x53726448u);
    EXPECT_EQ(mem.read8(kZeroPage + 0x26b), 0x5a);
    EXPECT_EQ(mem.read8(kZeroPage + 0x26c), 0) << "nothing past the header";
    EXPECT_EQ(mem.read8(kZeroPage + 0x1ef), 0) << "sentinel must stay 0";
    EXPECT_EQ(mem.read8(kZeroPage + 0x210), 0xff) << "type_of_loader";
    EXPECT_EQ(mem.read32(kZeroPage + 0x1fa) & 0xffff, 0xffffu) << "vid_mode normal";
    EXPECT_EQ(mem.read32(kZeroPage + 0x214), 0x1000000u) << "code32_start";
    EXPECT_EQ(mem.read32(kZeroPage + 0x228), kCmdline);
    EXPECT_EQ(mem.read_cstr(kCmdline), "console=ttyS0 quiet");
    EXPECT_EQ(mem.read32(kZeroPage + 0x218), 0u) << "no initrd";
    EXPECT_EQ(mem.read32(kZeroPage + 0x21c), 0u);

    // e820: low RAM, EBDA, BIOS area, RAM from 1 MiB.
    ASSERT_EQ(mem.read8(kZeroPage + 0x1e8), 4);
    auto e820 = [&](int i, int field) {
        const uint64_t e = kZeroPage + 0x2d0 + 20 * i;
        return field == 2 ? mem.read32(e + 16) : mem.read64(e + 8 * field);
    };
    EXPECT_EQ(e820(0, 0), 0u);
    EXPECT_EQ(e820(0, 1), 0x9fc00u);
    EXPECT_EQ(e820(0, 2), 1u);
    EXPECT_EQ(e820(2, 0), 0xf0000u);
    EXPECT_EQ(e820(2, 2), 2u);
    EXPECT_EQ(e820(3, 0), 0x100000u);
    EXPECT_EQ(e820(3, 1), 256 * kMiB - 0x100000);
}

TEST(LinuxBzImage, SetupSectsZeroMeansFour) {
    BzSpec spec;
    std::vector<uint8_t> f = bzimage(spec);
    f[0x1f1] = 0;
    FakeMemory mem(256 * kMiB);
    load_kernel_bytes(f, "vmlinuz", "", {}, mem);
    EXPECT_EQ(mem.read(0x1000000, 16), std::vector<uint8_t>(f.begin() + 5 * 512, f.begin() + 5 * 512 + 16));
}

TEST(LinuxBzImage, NonRelocatableKernelGoesToOneMiB) {
    BzSpec spec;
    spec.relocatable = 0;
    FakeMemory mem(256 * kMiB);
    BootInfo bi = load_kernel_bytes(bzimage(spec), "vmlinuz", "", {}, mem);
    EXPECT_EQ(bi.entry, 0x100000u);
    EXPECT_EQ(mem.read32(kZeroPage + 0x214), 0x100000u);
}

TEST(LinuxBzImage, InitrdsAreConcatenatedAtTheTopOfRamBelowTheLimit) {
    const std::vector<uint8_t> a = pattern(5000, 1), b = pattern(3000, 2);
    const std::string pa = temp_file("a.cpio", a), pb = temp_file("b.cpio", b);
    FakeMemory mem(256 * kMiB);
    BootInfo bi = load_kernel_bytes(bzimage({}), "vmlinuz", "", parse_module_list(pa + "," + pb), mem);
    const uint64_t addr = mem.read32(kZeroPage + 0x218);
    EXPECT_EQ(mem.read32(kZeroPage + 0x21c), 8000u);
    EXPECT_EQ(addr % 4096, 0u);
    EXPECT_EQ(addr, (256 * kMiB - 8000) & ~uint64_t(4095));
    EXPECT_EQ(mem.read(addr, 5000), a);
    EXPECT_EQ(mem.read(addr + 5000, 3000), b);
    EXPECT_THAT(bi.notes.back(), HasSubstr("initrd at"));

    BzSpec low_limit;
    low_limit.initrd_addr_max = 0x3fffffff;
    FakeMemory big(2 * kGiB);
    load_kernel_bytes(bzimage(low_limit), "vmlinuz", "", parse_module_list(pa), big);
    EXPECT_EQ(big.read32(kZeroPage + 0x218), (0x40000000u - 5000) & ~4095u);
    std::remove(pa.c_str());
    std::remove(pb.c_str());
}

TEST(LinuxBzImage, RefusesWhatItCannotBoot) {
    BzSpec old;
    old.version = 0x0204;
    EXPECT_THAT(load_error(bzimage(old)), HasSubstr("boot protocol 2.04 is older than 2.06"));
    BzSpec zimage;
    zimage.loadflags = 0;
    EXPECT_THAT(load_error(bzimage(zimage)), HasSubstr("zImage"));
    EXPECT_THAT(load_error(bzimage({}), std::string(256, 'x')), HasSubstr("at most 255"));
    EXPECT_THAT(load_error(bzimage({}), "", {}, 4 * kMiB), HasSubstr("give the machine at least"));
    std::vector<uint8_t> truncated = bzimage({});
    truncated.resize(5 * 512);
    EXPECT_THAT(load_error(truncated), HasSubstr("no kernel"));
    std::vector<uint8_t> long_header = bzimage({});
    long_header[0x201] = 0xff;
    EXPECT_THAT(load_error(long_header), HasSubstr("implausible"));

    const std::string pa = temp_file("args.cpio", pattern(100, 3));
    EXPECT_THAT(load_error(bzimage({}), "", parse_module_list(pa + " root=/dev/ram")),
                HasSubstr("takes no arguments"));
    const std::string big = temp_file("big.cpio", std::vector<uint8_t>(60 * kMiB, 1));
    EXPECT_THAT(load_error(bzimage({}), "", parse_module_list(big), 64 * kMiB), HasSubstr("does not fit"));
    EXPECT_THAT(load_error(bzimage({}), "", parse_module_list("/nonexistent/initrd.cpio")),
                HasSubstr("cannot open initrd"));
    std::remove(pa.c_str());
    std::remove(big.c_str());
}

// An ELF64 vmlinux-like image: text at 16 MiB (virtual 0xffffffff81000000) and a PT_NOTE with
// Xen's PHYS32_ENTRY, preceded by another Xen note as in Linux's .notes.
BuiltElf pvh_elf(uint32_t pvh_entry, uint32_t desc_size = 8) {
    std::vector<uint8_t> note;
    auto add_note = [&note](uint32_t type, const std::vector<uint8_t>& desc) {
        const size_t o = note.size();
        note.resize(o + 12 + 4 + ((desc.size() + 3) & ~size_t(3)), 0);
        put32(note, o, 4);
        put32(note, o + 4, uint32_t(desc.size()));
        put32(note, o + 8, type);
        std::memcpy(&note[o + 12], "Xen", 4);
        std::memcpy(&note[o + 16], desc.data(), desc.size());
    };
    add_note(6, {'l', 'i', 'n', 'u', 'x', 0});
    std::vector<uint8_t> entry(desc_size, 0);
    for (uint32_t i = 0; i < 4 && i < desc_size; ++i) entry[i] = uint8_t(pvh_entry >> (8 * i));
    add_note(18, entry);
    ElfSpec s;
    s.is64 = true;
    s.multiboot = false;
    s.entry = 0xffffffff81000000ull;
    s.segs.push_back({0x1000000, pattern(0x2000, 5), 0x4000, 0xffffffff81000000ull});
    s.segs.push_back({0x1002000 + 0x1000, note, note.size(), ~0ull, 4});
    return build_elf(s);
}

TEST(PvhBoot, EntersAtTheNoteWithStartInfoCommandLineInitrdAndMemoryMap) {
    const std::vector<uint8_t> rd = pattern(10000, 9);
    const std::string path = temp_file("pvh.cpio", rd);
    FakeMemory mem(512 * kMiB);
    BootInfo bi = load_kernel_bytes(pvh_elf(0x1000850).bytes, "vmlinux", "console=ttyS0", parse_module_list(path), mem);
    EXPECT_EQ(bi.kind, BootInfo::Kind::Pvh);
    EXPECT_EQ(bi.entry, 0x1000850u);
    ASSERT_EQ(bi.ebx, kZeroPage);
    const uint64_t si = bi.ebx;
    EXPECT_EQ(mem.read32(si), 0x336ec578u);
    EXPECT_EQ(mem.read32(si + 4), 1u);
    EXPECT_EQ(mem.read_cstr(mem.read64(si + 24)), "console=ttyS0");
    ASSERT_EQ(mem.read32(si + 12), 1u);
    const uint64_t mod = mem.read64(si + 16);
    const uint64_t rd_addr = mem.read64(mod);
    EXPECT_EQ(mem.read64(mod + 8), rd.size());
    EXPECT_EQ(rd_addr, (512 * kMiB - rd.size()) & ~uint64_t(4095));
    EXPECT_EQ(mem.read(rd_addr, rd.size()), rd);
    const uint64_t map = mem.read64(si + 40);
    ASSERT_EQ(mem.read32(si + 48), 4u);
    EXPECT_EQ(mem.read64(map + 3 * 24), 0x100000u);
    EXPECT_EQ(mem.read64(map + 3 * 24 + 8), 512 * kMiB - 0x100000);
    EXPECT_EQ(mem.read32(map + 3 * 24 + 16), 1u);
    EXPECT_EQ(mem.read(0x1000000, 0x2000), pattern(0x2000, 5));
    std::remove(path.c_str());
}

TEST(PvhBoot, AFourByteEntryNoteWorksToo) {
    FakeMemory mem(64 * kMiB);
    EXPECT_EQ(load_kernel_bytes(pvh_elf(0x1000010, 4).bytes, "vmlinux", "", {}, mem).entry, 0x1000010u);
}

TEST(PvhBoot, RefusesBadNotesAndEntries) {
    EXPECT_THAT(load_error(pvh_elf(0x2000000).bytes), HasSubstr("PVH entry point 0x2000000 lies outside"));
    EXPECT_THAT(load_error(pvh_elf(0x1000000, 2).bytes), HasSubstr("2-byte value"));
}

TEST(PvhBoot, ATruncatedNoteSegmentIsIgnoredNotFatal) {
    BuiltElf e = pvh_elf(0x1000000);
    put64(e.bytes, e.p_filesz(1, true), 40);  // cuts the PVH note in half
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(e.bytes, "vmlinux", "", {}, mem);
    EXPECT_EQ(bi.kind, BootInfo::Kind::Elf64Plain);
    EXPECT_THAT(bi.notes, ::testing::Contains(HasSubstr("runs past the segment")));
}

}  // namespace
}  // namespace vmxsim::loader::test
