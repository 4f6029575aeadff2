// ELF kernels: multiboot ELF32/ELF64 and plain ELF64, and every way their
// headers can be broken.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/loader/test_image.h"

namespace vmxsim::loader::test {
namespace {

using ::testing::HasSubstr;

TEST(ElfLoad, Elf32MultibootSegmentsLoadAtPaddrWithBssZeroed) {
    ElfSpec spec = kvm_unit_test_like_spec();
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(spec).bytes, "k.elf", "", {}, mem);

    EXPECT_EQ(bi.kind, BootInfo::Kind::Multiboot1);
    EXPECT_EQ(bi.entry, 0x400010u);
    EXPECT_EQ(bi.eax, 0x2BADB002u);
    EXPECT_EQ(bi.image_start, 0x400000u);
    EXPECT_EQ(bi.image_end, 0x403800u);
    EXPECT_EQ(bi.ebx, 0x404000u);  // page aligned right after the image
    EXPECT_EQ(mem.read(0x400000, 0x40), spec.segs[0].data);
    EXPECT_EQ(mem.read(0x402000, 0x20), spec.segs[1].data);
    for (uint64_t a = 0x402020; a < 0x403800; ++a) ASSERT_EQ(mem.read8(a), 0) << std::hex << a;
    EXPECT_EQ(mem.read8(0x400040), kUntouched);  // gap between segments
    EXPECT_EQ(mem.read8(0x403800), kUntouched);  // past p_memsz
    EXPECT_EQ(bi.first_free % 4096, 0u);
    EXPECT_GT(bi.first_free, uint64_t(bi.ebx));
}

TEST(ElfLoad, Elf64InsideMultibootUsesPaddrAndEntersBelow4GiB) {
    ElfSpec spec;
    spec.is64 = true;
    spec.entry = 0x100000;
    // Linked high, loaded low: p_paddr decides where it goes.
    spec.segs.push_back({0x100000, pattern(0x80, 4), 0x200, 0xFFFFFFFF80100000ULL});
    FakeMemory mem(16 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(spec).bytes, "k64.elf", "x", {}, mem);
    EXPECT_EQ(bi.kind, BootInfo::Kind::Multiboot1);
    EXPECT_EQ(bi.entry, 0x100000u);
    EXPECT_EQ(bi.eax, 0x2BADB002u);
    EXPECT_EQ(bi.ebx, 0x101000u);
    EXPECT_EQ(mem.read(0x100000, 0x80), spec.segs[0].data);
    EXPECT_EQ(mem.read8(0x1001FF), 0);
}

TEST(ElfLoad, Elf64MultibootAbove4GiBIsRejected) {
    ElfSpec spec;
    spec.is64 = true;
    spec.entry = 0x100000000ULL;
    spec.segs.push_back({0x100000000ULL, pattern(0x10, 1), 0x10});
    EXPECT_THAT(load_error(build_elf(spec).bytes, 8 * kGiB), HasSubstr("above 4 GiB"));
}

TEST(ElfLoad, PlainElf64) {
    ElfSpec spec = plain_elf64_spec();
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(spec).bytes, "plain.elf", "ignored", {}, mem);
    EXPECT_EQ(bi.kind, BootInfo::Kind::Elf64Plain);
    EXPECT_EQ(bi.entry, 0x200000u);
    EXPECT_EQ(bi.eax, 0u);
    EXPECT_EQ(bi.ebx, 0u);
    EXPECT_EQ(bi.image_start, 0x200000u);
    EXPECT_EQ(bi.image_end, 0x203000u);
    EXPECT_EQ(bi.first_free, 0x203000u);
    EXPECT_EQ(mem.read(0x200000, 0x100), spec.segs[0].data);
    EXPECT_EQ(mem.read8(0x202FFF), 0);
    EXPECT_EQ(mem.read8(0x203000), kUntouched);  // no boot information for plain ELF
    ASSERT_EQ(bi.notes.size(), 1u);
    EXPECT_THAT(bi.notes[0], HasSubstr("command line ignored"));
}

TEST(ElfLoad, PlainElf64InHighRamAbove4GiB) {
    ElfSpec spec = plain_elf64_spec();
    spec.entry = 0x100000000ULL;
    spec.segs[0].paddr = 0x100000000ULL;
    FakeMemory mem(5 * kGiB);  // 3.5 GiB low + 1.5 GiB from 4 GiB
    BootInfo bi = load_kernel_bytes(build_elf(spec).bytes, "hi.elf", "", {}, mem);
    EXPECT_EQ(bi.entry, 0x100000000ULL);
    EXPECT_EQ(mem.read8(0x100000000ULL), spec.segs[0].data[0]);
}

TEST(ElfLoad, PlainElf64InTheHoleBelow4GiBIsRejected) {
    ElfSpec spec = plain_elf64_spec();
    spec.entry = 0xF0000000ULL;
    spec.segs[0].paddr = 0xF0000000ULL;
    EXPECT_THAT(load_error(build_elf(spec).bytes, 5 * kGiB), HasSubstr("outside RAM"));
}

TEST(ElfLoad, VirtualEntryIsTranslatedThroughItsSegment) {
    ElfSpec spec = plain_elf64_spec();
    spec.segs[0].vaddr = 0xFFFFFFFF80200000ULL;
    spec.entry = 0xFFFFFFFF80200040ULL;
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(spec).bytes, "v.elf", "", {}, mem);
    EXPECT_EQ(bi.entry, 0x200040u);
    ASSERT_EQ(bi.notes.size(), 1u);
    EXPECT_THAT(bi.notes[0], HasSubstr("virtual"));
}

TEST(ElfLoad, NonLoadSegmentsAndEmptyLoadsAreSkipped) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.segs.push_back({0x0, pattern(8, 9), 8, ~0ULL, 4});  // PT_NOTE at address 0
    spec.segs.push_back({0x800000, {}, 0});                   // empty PT_LOAD
    FakeMemory mem(64 * kMiB);
    BootInfo bi = load_kernel_bytes(build_elf(spec).bytes, "k.elf", "", {}, mem);
    EXPECT_EQ(bi.image_end, 0x403800u);
    EXPECT_EQ(mem.read8(0), kUntouched);
}

// --- errors ---

TEST(ElfErrors, EmptyFile) { EXPECT_THAT(load_error({}), HasSubstr("k.elf: file is empty")); }

TEST(ElfErrors, TruncatedElfHeader) {
    std::vector<uint8_t> f = build_elf(plain_elf64_spec()).bytes;
    f.resize(40);
    EXPECT_THAT(load_error(f), HasSubstr("truncated ELF header"));
}

TEST(ElfErrors, TruncatedProgramHeaders) {
    ElfSpec spec = kvm_unit_test_like_spec();
    BuiltElf e = build_elf(spec);
    put16(e.bytes, 44, 200);  // e_phnum far past the end of the file
    EXPECT_THAT(load_error(e.bytes), HasSubstr("truncated program headers"));

    BuiltElf p = build_elf(plain_elf64_spec());
    put64(p.bytes, 32, ~0ULL - 8);  // e_phoff near the top: must not wrap
    EXPECT_THAT(load_error(p.bytes), HasSubstr("truncated program headers"));
}

TEST(ElfErrors, SegmentBeyondFileEnd) {
    BuiltElf e = build_elf(kvm_unit_test_like_spec());
    put32(e.bytes, e.p_filesz(1, false), 0x1000);  // memsz is 0x1800, file is much shorter
    EXPECT_THAT(load_error(e.bytes), HasSubstr("program header 1: segment data"));
    EXPECT_THAT(load_error(e.bytes), HasSubstr("beyond the end of the file"));
}

TEST(ElfErrors, HugeOffsetDoesNotOverflow) {
    BuiltElf e = build_elf(plain_elf64_spec());
    put64(e.bytes, e.p_offset(0, true), 0xFFFFFFFFFFFFFF80ULL);  // offset + filesz wraps to a small number
    EXPECT_THAT(load_error(e.bytes), HasSubstr("beyond the end of the file"));

    BuiltElf m = build_elf(kvm_unit_test_like_spec());
    put32(m.bytes, m.p_offset(0, false), 0xFFFFFFF0u);
    EXPECT_THAT(load_error(m.bytes), HasSubstr("beyond the end of the file"));
}

TEST(ElfErrors, PhysicalRangeWrapsAround) {
    BuiltElf e = build_elf(plain_elf64_spec());
    put64(e.bytes, e.p_paddr(0, true), 0xFFFFFFFFFFFFF000ULL);
    EXPECT_THAT(load_error(e.bytes), HasSubstr("wraps around"));
}

TEST(ElfErrors, FileszLargerThanMemsz) {
    BuiltElf e = build_elf(kvm_unit_test_like_spec());
    put32(e.bytes, e.p_memsz(0, false), 0x10);
    EXPECT_THAT(load_error(e.bytes), HasSubstr("p_filesz 0x40 exceeds p_memsz 0x10"));
}

TEST(ElfErrors, SegmentBeyondRam) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.segs[1].memsz = 64 * kMiB;  // bss runs past the end of 64 MiB RAM
    std::string msg = load_error(build_elf(spec).bytes);
    EXPECT_THAT(msg, HasSubstr("program header 1 at [0x402000, 0x4402000) lies outside RAM"));
    EXPECT_THAT(msg, HasSubstr("RAM is [0, 0x4000000)"));
}

TEST(ElfErrors, BootInformationBeyondRam) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.segs[1].memsz = 4 * kMiB - 0x2000;  // image ends exactly at the end of RAM
    EXPECT_THAT(load_error(build_elf(spec).bytes, 8 * kMiB), HasSubstr("boot information at [0x800000"));
}

TEST(ElfErrors, NotMultibootNorElf64) {
    std::vector<uint8_t> junk(4096, 0x90);
    EXPECT_THAT(load_error(junk), HasSubstr("not a multiboot image, Linux bzImage, PVH ELF or ELF64 executable"));
    ElfSpec elf32 = kvm_unit_test_like_spec();
    elf32.multiboot = false;
    EXPECT_THAT(load_error(build_elf(elf32).bytes),
                HasSubstr("not a multiboot image, Linux bzImage, PVH ELF or ELF64 executable (ELF32 without a multiboot header or PVH note)"));
}

TEST(ElfErrors, WrongMachine) {
    ElfSpec arm = kvm_unit_test_like_spec();
    arm.machine = 40;  // EM_ARM
    EXPECT_THAT(load_error(build_elf(arm).bytes), HasSubstr("unsupported machine 40"));
    ElfSpec aarch64 = plain_elf64_spec();
    aarch64.machine = 183;  // EM_AARCH64
    EXPECT_THAT(load_error(build_elf(aarch64).bytes), HasSubstr("unsupported machine 183"));
    ElfSpec x32 = kvm_unit_test_like_spec();
    x32.machine = 62;  // EM_X86_64 in an ELF32 file
    EXPECT_THAT(load_error(build_elf(x32).bytes), HasSubstr("ELF32 needs EM_386"));
}

TEST(ElfErrors, NotAnExecutable) {
    ElfSpec dyn = plain_elf64_spec();
    dyn.type = 3;  // ET_DYN
    EXPECT_THAT(load_error(build_elf(dyn).bytes), HasSubstr("need ET_EXEC"));
}

TEST(ElfErrors, BigEndian) {
    BuiltElf e = build_elf(plain_elf64_spec());
    e.bytes[5] = 2;
    EXPECT_THAT(load_error(e.bytes), HasSubstr("not little-endian"));
}

TEST(ElfErrors, NoLoadableSegment) {
    ElfSpec spec = plain_elf64_spec();
    spec.segs[0].type = 4;  // PT_NOTE
    EXPECT_THAT(load_error(build_elf(spec).bytes), HasSubstr("no loadable segment"));
    ElfSpec none = plain_elf64_spec();
    none.segs.clear();
    EXPECT_THAT(load_error(build_elf(none).bytes), HasSubstr("no program headers"));
}

TEST(ElfErrors, SmallProgramHeaderEntrySize) {
    BuiltElf e = build_elf(plain_elf64_spec());
    put16(e.bytes, 54, 32);
    EXPECT_THAT(load_error(e.bytes), HasSubstr("program header entry size 32"));
}

TEST(ElfErrors, OverlappingSegments) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.segs[1].paddr = 0x400020;
    EXPECT_THAT(load_error(build_elf(spec).bytes), HasSubstr("program headers 0 and 1 overlap"));
}

TEST(ElfErrors, EntryOutsideSegments) {
    ElfSpec spec = kvm_unit_test_like_spec();
    spec.entry = 0x500000;
    EXPECT_THAT(load_error(build_elf(spec).bytes), HasSubstr("entry point 0x500000 lies outside"));
}

TEST(ElfErrors, ModulesNeedMultiboot) {
    EXPECT_THAT(load_error(build_elf(plain_elf64_spec()).bytes, 64 * kMiB, {{"/nonexistent", "x"}}),
                HasSubstr("modules need a multiboot kernel"));
}

TEST(ElfErrors, MissingKernelFile) {
    FakeMemory mem(64 * kMiB);
    try {
        load_kernel("/nonexistent/dir/kernel.elf", "", {}, mem);
        FAIL() << "no error";
    } catch (const LoadError& e) {
        EXPECT_THAT(e.what(), HasSubstr("/nonexistent/dir/kernel.elf: cannot open kernel: No such file or directory"));
    }
    EXPECT_EQ(mem.writes, 0);
}

TEST(ElfErrors, KernelPathIsADirectory) {
    FakeMemory mem(64 * kMiB);
    try {
        load_kernel("/", "", {}, mem);
        FAIL() << "no error";
    } catch (const LoadError& e) {
        EXPECT_THAT(e.what(), HasSubstr("/: cannot read kernel: Is a directory"));
    }
}

}  // namespace
}  // namespace vmxsim::loader::test
