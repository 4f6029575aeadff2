#include "platform/loader/elf_image.h"

#include <algorithm>

#include "platform/loader/byte_io.h"

namespace vmxsim::loader::detail {
namespace {

constexpr uint16_t kEtExec = 2;
constexpr uint16_t kEm386 = 3;
constexpr uint16_t kEmX86_64 = 62;
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtNote = 4;
constexpr uint32_t kXenElfnotePhys32Entry = 18;
constexpr uint16_t kPnXnum = 0xFFFF;

// Byte offsets of the header fields (gABI "ELF Header", "Program Header").
struct Layout {
    size_t ehdr_size, phdr_size;
    size_t e_entry, e_phoff, e_phentsize, e_phnum;
    size_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz;
    bool wide;  // 8-byte addresses and sizes
};
constexpr Layout kElf32{52, 32, 24, 28, 42, 44, 4, 8, 12, 16, 20, false};
constexpr Layout kElf64{64, 56, 24, 32, 54, 56, 8, 16, 24, 32, 40, true};

uint64_t word(const Layout& l, const uint8_t* p) { return l.wide ? get_le64(p) : get_le32(p); }

void check_ident(const std::vector<uint8_t>& f, const std::string& name) {
    if (!has_elf_magic(f)) fail(name, "not an ELF file (bad magic)");
    if (f.size() < 16) fail(name, "truncated ELF header (file has " + std::to_string(f.size()) + " bytes)");
    if (f[4] != 1 && f[4] != 2) fail(name, "unsupported ELF class " + std::to_string(f[4]));
    if (f[5] != 1) fail(name, "ELF file is not little-endian (EI_DATA " + std::to_string(f[5]) + ")");
    if (f[6] != 1) fail(name, "unsupported ELF version " + std::to_string(f[6]));
}

ElfSegment read_segment(const Layout& l, const uint8_t* ph, unsigned index) {
    ElfSegment s{};
    s.index = index;
    s.offset = word(l, ph + l.p_offset);
    s.vaddr = word(l, ph + l.p_vaddr);
    s.paddr = word(l, ph + l.p_paddr);
    s.filesz = word(l, ph + l.p_filesz);
    s.memsz = word(l, ph + l.p_memsz);
    return s;
}

void check_segment(const ElfSegment& s, uint64_t file_size, const std::string& name) {
    const std::string ph = "program header " + std::to_string(s.index) + ": ";
    if (s.filesz > s.memsz)
        fail(name, ph + "p_filesz " + hex(s.filesz) + " exceeds p_memsz " + hex(s.memsz));
    if (s.offset > file_size || s.filesz > file_size - s.offset)
        fail(name, ph + "segment data (p_offset " + hex(s.offset) + ", p_filesz " + hex(s.filesz) +
                       ") lies beyond the end of the file (" + std::to_string(file_size) + " bytes)");
    if (s.memsz != 0 && s.memsz - 1 > UINT64_MAX - s.paddr)
        fail(name, ph + "physical range " + range_str(s.paddr, s.memsz) + " wraps around the address space");
}

void check_overlaps(std::vector<ElfSegment> segs, const std::string& name) {
    std::sort(segs.begin(), segs.end(),
              [](const ElfSegment& a, const ElfSegment& b) { return a.paddr < b.paddr; });
    for (size_t i = 1; i < segs.size(); ++i) {
        const ElfSegment& a = segs[i - 1];
        const ElfSegment& b = segs[i];
        if (b.paddr - a.paddr < a.memsz)
            fail(name, "program headers " + std::to_string(a.index) + " and " + std::to_string(b.index) +
                           " overlap in physical memory (" + range_str(a.paddr, a.memsz) + " and " +
                           range_str(b.paddr, b.memsz) + ")");
    }
}

// e_entry is normally physical (p_vaddr == p_paddr). When it falls only in a
// segment's virtual range, translate it the way that segment is relocated.
uint64_t physical_entry(uint64_t e_entry, const std::vector<ElfSegment>& segs, const std::string& name,
                        std::vector<std::string>& notes) {
    for (const ElfSegment& s : segs)
        if (e_entry - s.paddr < s.memsz) return e_entry;
    for (const ElfSegment& s : segs) {
        if (e_entry - s.vaddr < s.memsz) {
            uint64_t p = e_entry - s.vaddr + s.paddr;
            notes.push_back("entry point " + hex(e_entry) + " is virtual; using physical " + hex(p) +
                            " from program header " + std::to_string(s.index));
            return p;
        }
    }
    fail(name, "entry point " + hex(e_entry) + " lies outside every loadable segment");
}

// Walks the notes of one PT_NOTE segment (gABI "Note Section": namesz, descsz, type, then the
// name and the descriptor, each padded to 4 bytes) and records the PVH entry if present.
void read_notes(const std::vector<uint8_t>& f, const ElfSegment& s, const std::string& name, ElfImage& img) {
    const std::string ph = "program header " + std::to_string(s.index) + " (PT_NOTE): ";
    uint64_t off = s.offset;
    const uint64_t end = s.offset + s.filesz;
    while (end - off >= 12) {
        const uint64_t namesz = get_le32(&f[off]), descsz = get_le32(&f[off + 4]);
        const uint32_t type = get_le32(&f[off + 8]);
        const uint64_t name_off = off + 12;
        const uint64_t desc_off = name_off + ((namesz + 3) & ~uint64_t(3));
        const uint64_t next = desc_off + ((descsz + 3) & ~uint64_t(3));
        if (next > end) {  // other tools' notes are not ours to judge: stop reading, keep loading
            img.notes.push_back(ph + "note at offset " + hex(off) + " runs past the segment; later notes ignored");
            return;
        }
        if (namesz == 4 && std::equal(&f[name_off], &f[name_off] + 4, "Xen") && type == kXenElfnotePhys32Entry) {
            if (descsz != 4 && descsz != 8) fail(name, ph + "PVH entry note has a " + std::to_string(descsz) + "-byte value");
            const uint64_t entry = descsz == 4 ? get_le32(&f[desc_off]) : get_le64(&f[desc_off]);
            if (entry > UINT32_MAX) fail(name, ph + "PVH entry " + hex(entry) + " is above 4 GiB");
            img.pvh_entry = uint32_t(entry);
        }
        off = next;
    }
}

}  // namespace

ElfImage parse_elf(const std::vector<uint8_t>& f, const std::string& name) {
    check_ident(f, name);
    ElfImage img{};
    img.is64 = f[4] == 2;
    const Layout& l = img.is64 ? kElf64 : kElf32;
    if (f.size() < l.ehdr_size)
        fail(name, "truncated ELF header (file has " + std::to_string(f.size()) + " bytes, ELF" +
                       (img.is64 ? "64" : "32") + " header needs " + std::to_string(l.ehdr_size) + ")");
    const uint8_t* eh = f.data();

    uint16_t type = get_le16(eh + 16);
    if (type != kEtExec)
        fail(name, "not an executable ELF file (e_type " + std::to_string(type) + ", need ET_EXEC)");
    uint16_t machine = get_le16(eh + 18);
    uint16_t want = img.is64 ? kEmX86_64 : kEm386;
    if (machine != want)
        fail(name, std::string("unsupported machine ") + std::to_string(machine) + " (e_machine; ELF" +
                       (img.is64 ? "64 needs EM_X86_64 (62)" : "32 needs EM_386 (3)") + ")");

    uint64_t phoff = word(l, eh + l.e_phoff);
    uint16_t phentsize = get_le16(eh + l.e_phentsize);
    uint16_t phnum = get_le16(eh + l.e_phnum);
    if (phnum == 0) fail(name, "ELF file has no program headers");
    if (phnum == kPnXnum) fail(name, "extended program header count (PN_XNUM) is not supported");
    if (phentsize < l.phdr_size)
        fail(name, "program header entry size " + std::to_string(phentsize) + " is smaller than " +
                       std::to_string(l.phdr_size));
    uint64_t table = uint64_t(phentsize) * phnum;  // at most 0xFFFF * 0xFFFE: no overflow
    if (phoff > f.size() || table > f.size() - phoff)
        fail(name, "truncated program headers: table at offset " + hex(phoff) + " (" + std::to_string(phnum) +
                       " entries of " + std::to_string(phentsize) + " bytes) extends beyond the end of the file (" +
                       std::to_string(f.size()) + " bytes)");

    unsigned loads = 0;
    for (unsigned i = 0; i < phnum; ++i) {
        const uint8_t* ph = eh + phoff + uint64_t(i) * phentsize;
        if (get_le32(ph) == kPtNote) {
            ElfSegment note = read_segment(l, ph, i);
            check_segment(note, f.size(), name);
            read_notes(f, note, name, img);
            continue;
        }
        if (get_le32(ph) != kPtLoad) continue;
        ++loads;
        ElfSegment s = read_segment(l, ph, i);
        check_segment(s, f.size(), name);
        if (s.memsz != 0) img.segments.push_back(s);
    }
    if (img.segments.empty())
        fail(name, loads ? "every loadable segment (PT_LOAD) is empty" : "no loadable segment (PT_LOAD)");
    check_overlaps(img.segments, name);
    img.entry = physical_entry(word(l, eh + l.e_entry), img.segments, name, img.notes);
    return img;
}

}  // namespace vmxsim::loader::detail
