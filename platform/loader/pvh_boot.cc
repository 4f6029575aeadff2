#include "platform/loader/pvh_boot.h"

#include <algorithm>

#include "platform/loader/byte_io.h"
#include "platform/loader/linux_boot.h"
#include "platform/loader/multiboot_info.h"

namespace vmxsim::loader::detail {

namespace si = hvm_start_info;

BootInfo load_pvh_elf(const ElfImage& img, const std::vector<uint8_t>& file, const std::string& name,
                      const std::string& cmdline, const std::vector<Module>& initrds, GuestMemory& mem) {
    const uint64_t ram = mem.ram_size();
    const uint32_t entry = *img.pvh_entry;
    uint64_t image_start = UINT64_MAX, image_end = 0;
    bool entry_inside = false;
    std::vector<Chunk> chunks;
    for (const ElfSegment& s : img.segments) {
        if (s.paddr + s.memsz > kHighRamBase)
            fail(name, "program header " + std::to_string(s.index) + ": physical range " + range_str(s.paddr, s.memsz) +
                           " extends above 4 GiB; a PVH kernel starts in 32-bit mode");
        chunks.push_back({s.paddr, s.memsz, file.data() + s.offset, s.filesz, "program header " + std::to_string(s.index)});
        image_start = std::min(image_start, s.paddr);
        image_end = std::max(image_end, s.paddr + s.memsz);
        entry_inside |= entry - s.paddr < s.memsz;
    }
    if (!entry_inside) fail(name, "PVH entry point " + hex(entry) + " lies outside every loadable segment");
    if (image_start < 0x100000)
        fail(name, "the kernel's segments start at " + hex(image_start) + ", in the low 1 MiB the firmware areas use");
    const KernelArguments args = kernel_arguments(name, cmdline, kPvhCmdlineAddr, initrds, page_align_up(image_end),
                                                  std::min(ram, kLowRamLimit));
    const Initrd& initrd = args.initrd;

    // One page: the start info, the module list (the initrd, if any), then the memory map.
    const std::vector<MmapEntry> map = memory_map(ram);
    const uint64_t modlist_off = si::kSize;
    const uint64_t memmap_off = modlist_off + si::kModlistEntrySize;
    std::vector<uint8_t> page(memmap_off + map.size() * si::kMemmapEntrySize, 0);
    uint8_t* p = page.data();
    put_le32(p + si::kMagicOff, si::kMagic);
    put_le32(p + si::kVersionOff, si::kVersion);
    put_le64(p + si::kCmdlinePaddrOff, kPvhCmdlineAddr);
    // rsdp_paddr stays 0: the kernel then finds the RSDP by the legacy scan of the BIOS area.
    if (!initrd.data.empty()) {
        put_le32(p + si::kNrModulesOff, 1);
        put_le64(p + si::kModlistPaddrOff, kStartInfoAddr + modlist_off);
        put_le64(p + modlist_off, initrd.paddr);
        put_le64(p + modlist_off + 8, initrd.data.size());
    }
    put_le64(p + si::kMemmapPaddrOff, kStartInfoAddr + memmap_off);
    put_le32(p + si::kMemmapEntriesOff, uint32_t(map.size()));
    for (size_t i = 0; i < map.size(); ++i) {
        uint8_t* e = p + memmap_off + i * si::kMemmapEntrySize;
        put_le64(e, map[i].base);
        put_le64(e + 8, map[i].length);
        put_le32(e + 16, map[i].type);
    }
    chunks.push_back({kStartInfoAddr, page.size(), page.data(), page.size(), "PVH start info"});
    args.add_chunks(chunks);
    write_chunks(mem, chunks, name);

    BootInfo bi{};
    bi.kind = BootInfo::Kind::Pvh;
    bi.entry = entry;
    bi.eax = bi.esi = 0;
    bi.ebx = uint32_t(kStartInfoAddr);
    bi.image_start = image_start;
    bi.image_end = image_end;
    bi.first_free = page_align_up(std::max(image_end, initrd.paddr + initrd.data.size()));
    bi.notes = img.notes;
    bi.notes.push_back("PVH entry at " + hex(entry));
    return bi;
}

}  // namespace vmxsim::loader::detail
