/* Loads an uncompressed ELF64 kernel (vmlinux) into guest RAM by its program headers, as the
 * bzImage's decompressor does (arch/x86/boot/compressed/misc.c, parse_elf), so the VMM can
 * skip the decompressor and enter startup_64 directly. */
#ifndef VMXSIM_ELF_KERNEL_H
#define VMXSIM_ELF_KERNEL_H

#include <stdint.h>

struct elf_kernel {
    uint64_t entry_gpa; /* guest-physical address of the entry point (startup_64) */
    uint64_t end_gpa;   /* one past the highest byte loaded, .bss included */
};

/* True when image starts with the ELF magic. */
int elf_kernel_detect(const uint8_t *image, uint64_t size);

/* Validates the ELF headers, copies every PT_LOAD to its p_paddr (zeroing p_memsz beyond
 * p_filesz) and fills *out. Segments must lie within [min_gpa, ram_size). Dies with a message
 * naming path on a malformed or misplaced image. */
void elf_kernel_load(const uint8_t *image, uint64_t size, const char *path, uint8_t *ram,
                     uint64_t min_gpa, uint64_t ram_size, struct elf_kernel *out);

#endif
