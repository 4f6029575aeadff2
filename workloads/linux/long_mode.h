/* Puts vCPU 0 straight into 64-bit mode, as both kvmexit's guest and the Linux 64-bit boot
 * protocol (Documentation/x86/boot.rst, "64-bit Boot Protocol") want it: identity-mapped
 * 0-4 GiB with 2 MiB pages, a GDT whose 0x10/0x18 are the flat __BOOT_CS/__BOOT_DS, paging and
 * long mode on, interrupts off. */
#ifndef VMXSIM_LONG_MODE_H
#define VMXSIM_LONG_MODE_H

#include <stdint.h>

#include "kvm_util.h"

enum {
    kLongModeCs = 0x10,              /* __BOOT_CS */
    kLongModeDs = 0x18,              /* __BOOT_DS */
    kLongModeTablesSize = 7 * 4096,  /* GDT page, PML4, PDPT, 4 page directories */
};

/* Writes the GDT and page tables into guest memory at tables_gpa (ram is the host address of
 * guest-physical 0, which must back [tables_gpa, tables_gpa + kLongModeTablesSize)) and loads
 * the matching segment and control registers into the vCPU. */
void long_mode_setup(struct kvm_vm *vm, uint8_t *ram, uint64_t tables_gpa);

#endif
