#include "platform/loader/multiboot_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/loader/byte_io.h"
#include "platform/loader/elf_image.h"
#include "platform/loader/linux_boot.h"
#include "platform/loader/multiboot_header.h"
#include "platform/loader/multiboot_info.h"
#include "platform/loader/pvh_boot.h"

namespace vmxsim::loader {

using namespace detail;

namespace {

// Where the image goes and where it starts.
struct ImagePlan {
    std::vector<Chunk> chunks;
    uint64_t entry, start, end;
};

// Multiboot header flag 16 ("a.out kludge"): the header says where the file
// goes (spec 3.1.3). The file offset of load_addr is offset - (header_addr - load_addr).
ImagePlan plan_address_fields(const std::vector<uint8_t>& f, const std::string& name,
                              const MultibootHeader& h) {
    if (h.header_addr < h.load_addr)
        fail(name, "multiboot header_addr " + hex(h.header_addr) + " is below load_addr " + hex(h.load_addr));
    uint64_t delta = h.header_addr - h.load_addr;
    if (delta > h.offset)
        fail(name, "multiboot load_addr " + hex(h.load_addr) + " lies before the start of the file (header_addr - load_addr = " +
                       hex(delta) + " exceeds the header's file offset " + hex(h.offset) + ")");
    uint64_t text_off = h.offset - delta;

    uint64_t load_size;
    if (h.load_end_addr != 0) {
        if (h.load_end_addr < h.load_addr)
            fail(name, "multiboot load_end_addr " + hex(h.load_end_addr) + " is below load_addr " + hex(h.load_addr));
        load_size = uint64_t(h.load_end_addr) - h.load_addr;
        if (load_size > f.size() - text_off)
            fail(name, "multiboot load_end_addr " + hex(h.load_end_addr) + " asks for " + hex(load_size) +
                           " bytes from file offset " + hex(text_off) + ", beyond the end of the file (" +
                           std::to_string(f.size()) + " bytes)");
    } else {
        load_size = f.size() - text_off;  // 0 means "to the end of the file"
    }
    uint64_t data_end = uint64_t(h.load_addr) + load_size;
    if (data_end > kHighRamBase)
        fail(name, "multiboot load range " + range_str(h.load_addr, load_size) + " extends above 4 GiB");

    uint64_t end = data_end;
    if (h.bss_end_addr != 0) {
        if (h.bss_end_addr < data_end)
            fail(name, "multiboot bss_end_addr " + hex(h.bss_end_addr) + " is below the end of the loaded data " +
                           hex(data_end));
        end = h.bss_end_addr;
    }
    if (end == h.load_addr) fail(name, "multiboot address fields load nothing");
    if (h.entry_addr < h.load_addr || h.entry_addr >= end)
        fail(name, "multiboot entry_addr " + hex(h.entry_addr) + " lies outside the loaded image " +
                       range_str(h.load_addr, end - h.load_addr));

    ImagePlan p{};
    p.chunks.push_back({h.load_addr, end - h.load_addr, f.data() + text_off, load_size, "kernel image"});
    p.entry = h.entry_addr;
    p.start = h.load_addr;
    p.end = end;
    return p;
}

// Segments go to p_paddr, as QEMU and GRUB load multiboot ELF kernels.
ImagePlan plan_elf(const ElfImage& img, const std::vector<uint8_t>& f) {
    ImagePlan p{};
    p.entry = img.entry;
    p.start = UINT64_MAX;
    p.end = 0;
    for (const ElfSegment& s : img.segments) {
        p.chunks.push_back({s.paddr, s.memsz, f.data() + s.offset, s.filesz,
                            "program header " + std::to_string(s.index)});
        p.start = std::min(p.start, s.paddr);
        p.end = std::max(p.end, s.paddr + s.memsz);
    }
    return p;
}

// A multiboot kernel is entered in 32-bit protected mode without paging.
void check_32bit_reachable(const ElfImage& img, const std::string& name) {
    for (const ElfSegment& s : img.segments)
        if (s.paddr + s.memsz > kHighRamBase)
            fail(name, "program header " + std::to_string(s.index) + ": physical range " +
                           range_str(s.paddr, s.memsz) + " extends above 4 GiB; a multiboot kernel starts in 32-bit mode");
    if (img.entry >= kHighRamBase)
        fail(name, "entry point " + hex(img.entry) + " is above 4 GiB; a multiboot kernel starts in 32-bit mode");
}

}  // namespace

bool ram_contains(uint64_t ram, uint64_t paddr, uint64_t len) {
    if (len == 0) return true;
    uint64_t low_end = std::min(ram, kLowRamLimit);
    if (paddr < low_end && len <= low_end - paddr) return true;
    if (ram <= kLowRamLimit || paddr < kHighRamBase) return false;
    uint64_t high_len = ram - kLowRamLimit;
    uint64_t off = paddr - kHighRamBase;
    return off < high_len && len <= high_len - off;
}

BootInfo load_kernel_bytes(const std::vector<uint8_t>& file, const std::string& name, const std::string& cmdline,
                           const std::vector<Module>& modules, GuestMemory& mem) {
    const uint64_t ram = mem.ram_size();
    if (ram == 0) fail(name, "the guest has no RAM");
    if (file.empty()) fail(name, "file is empty");

    if (is_linux_bzimage(file)) return load_linux_bzimage(file, name, cmdline, modules, mem);

    BootInfo bi{};
    std::optional<MultibootHeader> mb = find_multiboot_header(file, name, bi.notes);
    ImagePlan plan;
    // Kept alive until everything is written.
    std::vector<std::vector<uint8_t>> module_data;
    std::vector<uint8_t> info;

    if (mb) {
        if (mb->flags & kMbAddressFields) {
            plan = plan_address_fields(file, name, *mb);
        } else {
            if (!has_elf_magic(file))
                fail(name, "multiboot header without address fields (flags bit 16) and the file is not ELF");
            ElfImage img = parse_elf(file, name);
            check_32bit_reachable(img, name);
            bi.notes.insert(bi.notes.end(), img.notes.begin(), img.notes.end());
            plan = plan_elf(img, file);
        }

        // Boot information, then each module, page aligned after the image:
        // low memory stays free for real-mode trampolines (spec 3.3 leaves
        // the placement to the boot loader).
        for (const Module& m : modules) module_data.push_back(read_host_file(m.path, "module"));
        const std::string full_cmdline = name + " " + cmdline;  // argv[0] first, as QEMU passes it
        const uint64_t info_base = page_align_up(plan.end);
        uint64_t next = page_align_up(info_base + multiboot_info_size(ram, full_cmdline, modules));
        std::vector<PlacedModule> placed;
        for (const auto& d : module_data) {
            if (next > kHighRamBase) break;
            placed.push_back({next, d.size()});
            next = page_align_up(next + d.size());
        }
        if (next > kHighRamBase)
            fail(name, "boot information and modules would end above 4 GiB (multiboot addresses are 32-bit)");
        info = build_multiboot_info(info_base, ram, full_cmdline, modules, placed);
        plan.chunks.push_back({info_base, info.size(), info.data(), info.size(), "multiboot boot information"});
        for (size_t i = 0; i < modules.size(); ++i)
            plan.chunks.push_back({placed[i].start, placed[i].size, module_data[i].data(), placed[i].size,
                                   "module '" + modules[i].path + "'"});

        bi.kind = BootInfo::Kind::Multiboot1;
        bi.eax = kMultibootBootMagic;
        bi.ebx = uint32_t(info_base);
        bi.first_free = next;
    } else {
        if (has_elf_magic(file)) {
            ElfImage img = parse_elf(file, name);
            if (img.pvh_entry) return load_pvh_elf(img, file, name, cmdline, modules, mem);
        }
        if (!has_elf64_class(file))
            fail(name, std::string("not a multiboot image, Linux bzImage, PVH ELF or ELF64 executable (") +
                           (has_elf_magic(file) ? "ELF32 without a multiboot header or PVH note" : "no multiboot header, no ELF header") +
                           ")");
        ElfImage img = parse_elf(file, name);
        if (!modules.empty())
            fail(name, "modules need a multiboot kernel; this is a plain ELF64 executable");
        bi.notes.insert(bi.notes.end(), img.notes.begin(), img.notes.end());
        if (!cmdline.empty()) bi.notes.push_back("command line ignored: a plain ELF64 executable cannot receive one");
        plan = plan_elf(img, file);
        bi.kind = BootInfo::Kind::Elf64Plain;
        bi.eax = bi.ebx = 0;
        bi.first_free = page_align_up(plan.end);
    }

    write_chunks(mem, plan.chunks, name);

    bi.entry = plan.entry;
    bi.image_start = plan.start;
    bi.image_end = plan.end;
    return bi;
}

BootInfo load_kernel(const std::string& path, const std::string& cmdline, const std::vector<Module>& modules,
                     GuestMemory& mem) {
    return load_kernel_bytes(read_host_file(path, "kernel"), path, cmdline, modules, mem);
}

}  // namespace vmxsim::loader
