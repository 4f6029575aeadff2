// Validating ELF32/ELF64 executable parser (System V gABI, program headers
// only). Internal to platform/loader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmxsim::loader::detail {

struct ElfSegment {
    unsigned index;  // program header index, for messages
    uint64_t offset, filesz, memsz, paddr, vaddr;
};

struct ElfImage {
    bool is64;
    uint64_t entry;  // e_entry translated to a physical address
    std::vector<ElfSegment> segments;  // PT_LOAD with p_memsz > 0, file order
    std::vector<std::string> notes;
    // Xen's XEN_ELFNOTE_PHYS32_ENTRY (a PT_NOTE named "Xen", type 18): the 32-bit physical
    // entry of the PVH boot protocol, which Linux (CONFIG_PVH), FreeBSD and others provide.
    std::optional<uint32_t> pvh_entry;
};

inline bool has_elf_magic(const std::vector<uint8_t>& f) {
    return f.size() >= 4 && f[0] == 0x7F && f[1] == 'E' && f[2] == 'L' && f[3] == 'F';
}
inline bool has_elf64_class(const std::vector<uint8_t>& f) {
    return has_elf_magic(f) && f.size() > 4 && f[4] == 2;
}

// Parses and validates every header field the loader relies on: little
// endian, ET_EXEC, EM_386 (ELF32) or EM_X86_64 (ELF64), program header table
// and every PT_LOAD file range inside the file, p_filesz <= p_memsz, no
// address wrap-around, no overlapping segments, entry inside a segment.
// PT_NOTE segments are walked for the PVH entry note; malformed notes are
// refused. Does not check RAM bounds. Throws LoadError("name: problem").
ElfImage parse_elf(const std::vector<uint8_t>& file, const std::string& name);

}  // namespace vmxsim::loader::detail
