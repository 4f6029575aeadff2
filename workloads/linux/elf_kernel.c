/* vmlinux loading (see elf_kernel.h). Everything is checked before anything is copied, so a
 * bad image never leaves half a kernel in guest RAM. */
#include "elf_kernel.h"

#include <elf.h>
#include <string.h>

#include "kvm_util.h"

int elf_kernel_detect(const uint8_t *image, uint64_t size)
{
    return size >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

static void check_header(const Elf64_Ehdr *eh, uint64_t size, const char *path)
{
    if (size < sizeof(*eh))
        die(kExitUsage, "l1_launch: %s: truncated ELF header", path);
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
        eh->e_machine != EM_X86_64)
        die(kExitUsage, "l1_launch: %s: not a little-endian x86-64 ELF64 file", path);
    if (eh->e_type != ET_EXEC)
        die(kExitUsage, "l1_launch: %s: ELF type %u, not an executable (ET_EXEC) vmlinux", path,
            eh->e_type);
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0)
        die(kExitUsage, "l1_launch: %s: no usable program headers (%u of %u bytes)", path,
            eh->e_phnum, eh->e_phentsize);
    if (eh->e_phoff > size || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
        die(kExitUsage, "l1_launch: %s: program headers beyond the end of the file", path);
}

static Elf64_Phdr phdr_at(const uint8_t *image, const Elf64_Ehdr *eh, unsigned i)
{
    Elf64_Phdr ph;
    memcpy(&ph, image + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
    return ph;
}

static void check_segment(const Elf64_Phdr *ph, unsigned i, uint64_t size, const char *path,
                          uint64_t min_gpa, uint64_t ram_size)
{
    if (ph->p_filesz > ph->p_memsz)
        die(kExitUsage, "l1_launch: %s: PT_LOAD %u has more file bytes than memory bytes", path,
            i);
    if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
        die(kExitUsage, "l1_launch: %s: PT_LOAD %u (offset 0x%llx, 0x%llx bytes) runs past the "
            "end of the file", path, i, (unsigned long long)ph->p_offset,
            (unsigned long long)ph->p_filesz);
    /* Below min_gpa sit the VMM's page tables, zero page and command line. */
    if (ph->p_paddr < min_gpa || ph->p_memsz > ram_size || ph->p_paddr > ram_size - ph->p_memsz)
        die(kExitUsage, "l1_launch: %s: PT_LOAD %u at physical 0x%llx-0x%llx is outside "
            "0x%llx-0x%llx, the guest RAM left for the kernel%s", path, i,
            (unsigned long long)ph->p_paddr,
            (unsigned long long)(ph->p_paddr + ph->p_memsz), (unsigned long long)min_gpa,
            (unsigned long long)ram_size,
            ph->p_paddr >= min_gpa ? "; give the guest more memory" : "");
}

/* The physical entry point. ELF says e_entry is virtual, but Linux's x86-64 linker script
 * (ENTRY(phys_startup_64)) stores the physical address, so both readings are tried; only
 * executable segments count, which keeps the per-CPU segment (virtual 0) out of the way. */
static int entry_gpa(const uint8_t *image, const Elf64_Ehdr *eh, uint64_t *gpa)
{
    for (int physical = 0; physical < 2; physical++) {
        for (unsigned i = 0; i < eh->e_phnum; i++) {
            Elf64_Phdr ph = phdr_at(image, eh, i);
            if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
                continue;
            uint64_t base = physical ? ph.p_paddr : ph.p_vaddr;
            if (eh->e_entry >= base && eh->e_entry - base < ph.p_memsz) {
                *gpa = ph.p_paddr + (eh->e_entry - base);
                return 1;
            }
        }
    }
    return 0;
}

void elf_kernel_load(const uint8_t *image, uint64_t size, const char *path, uint8_t *ram,
                     uint64_t min_gpa, uint64_t ram_size, struct elf_kernel *out)
{
    Elf64_Ehdr eh;
    check_header((const Elf64_Ehdr *)image, size, path);
    memcpy(&eh, image, sizeof(eh));

    out->end_gpa = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph = phdr_at(image, &eh, i);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        check_segment(&ph, i, size, path, min_gpa, ram_size);
        if (ph.p_paddr + ph.p_memsz > out->end_gpa)
            out->end_gpa = ph.p_paddr + ph.p_memsz;
    }
    if (out->end_gpa == 0)
        die(kExitUsage, "l1_launch: %s: no PT_LOAD segment", path);
    if (!entry_gpa(image, &eh, &out->entry_gpa))
        die(kExitUsage, "l1_launch: %s: entry point 0x%llx is in no executable PT_LOAD", path,
            (unsigned long long)eh.e_entry);

    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph = phdr_at(image, &eh, i);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        memcpy(ram + ph.p_paddr, image + ph.p_offset, ph.p_filesz);
        /* The kernel clears its own .bss, but a loader owes it zeroed memory anyway. */
        memset(ram + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
    }
}
