/* Loads a bzImage or an uncompressed vmlinux ELF, and an initramfs, into guest RAM and enters
 * the kernel by the 64-bit boot protocol (Documentation/x86/boot.rst): what a boot loader
 * does, done by the VMM. */
#ifndef VMXSIM_LINUX_BOOT_H
#define VMXSIM_LINUX_BOOT_H

#include <stdint.h>

#include "kvm_util.h"

struct linux_boot {
    const char *kernel_path; /* bzImage, or vmlinux (recognized by its ELF magic) */
    const char *initrd_path; /* may be NULL */
    const char *cmdline;
    uint8_t *ram;            /* host address of guest-physical 0 */
    uint64_t ram_size;       /* one RAM block at guest-physical 0 */
};

/* Places kernel, initrd, command line, zero page and page tables in guest RAM and sets the
 * vCPU's registers to the kernel's 64-bit entry point (the bzImage's decompressor, or vmlinux's
 * startup_64). Dies with a message on a bad image or too little RAM. */
void linux_boot_load(struct kvm_vm *vm, const struct linux_boot *boot);

#endif
