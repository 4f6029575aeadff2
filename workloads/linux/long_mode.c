/* 64-bit start-up state for a KVM vCPU (see long_mode.h). */
#include "long_mode.h"

#include <string.h>

enum {
    kPteP = 1u << 0,
    kPteW = 1u << 1,
    kPtePwt = 1u << 3,
    kPtePcd = 1u << 4,
    kPtePs = 1u << 7,
    kCr0Pe = 1u << 0,
    kCr0Mp = 1u << 1,
    kCr0Et = 1u << 4,
    kCr0Ne = 1u << 5,
    kCr0Pg = 1u << 31,
    kCr4Pae = 1u << 5,
    kEferLme = 1u << 8,
    kEferLma = 1u << 10,
};

static struct kvm_segment flat_segment(uint16_t selector, int code)
{
    struct kvm_segment s = {
        .base = 0,
        .limit = 0xffffffff,
        .selector = selector,
        .type = code ? 0xb : 0x3, /* execute/read accessed, read/write accessed */
        .present = 1,
        .dpl = 0,
        .db = code ? 0 : 1, /* a 64-bit code segment has D=0 (SDM 3.4.5) */
        .s = 1,
        .l = code ? 1 : 0,
        .g = 1,
    };
    return s;
}

void long_mode_setup(struct kvm_vm *vm, uint8_t *ram, uint64_t tables_gpa)
{
    uint64_t gdt_gpa = tables_gpa;
    uint64_t pml4_gpa = tables_gpa + 0x1000;
    uint64_t pdpt_gpa = tables_gpa + 0x2000;
    uint64_t pd_gpa = tables_gpa + 0x3000;
    memset(ram + tables_gpa, 0, kLongModeTablesSize);

    /* Descriptors as the CPU would read them after a far jump; KVM takes the hidden parts from
     * KVM_SET_SREGS, but Linux reloads the selectors, so the table must agree. */
    uint64_t *gdt = (uint64_t *)(ram + gdt_gpa);
    gdt[kLongModeCs / 8] = 0x00af9b000000ffffull; /* 64-bit code, DPL 0 */
    gdt[kLongModeDs / 8] = 0x00cf93000000ffffull; /* flat data */

    uint64_t *pml4 = (uint64_t *)(ram + pml4_gpa);
    uint64_t *pdpt = (uint64_t *)(ram + pdpt_gpa);
    pml4[0] = pdpt_gpa | kPteP | kPteW;
    for (uint64_t gib = 0; gib < 4; gib++) {
        uint64_t *pd = (uint64_t *)(ram + pd_gpa + gib * 0x1000);
        pdpt[gib] = (pd_gpa + gib * 0x1000) | kPteP | kPteW;
        /* The top GiB holds the LAPIC/IOAPIC and kvmexit's MMIO hole: uncached, as firmware
         * would set the MTRRs. */
        uint64_t attr = gib == 3 ? kPtePcd | kPtePwt : 0;
        for (uint64_t i = 0; i < 512; i++)
            pd[i] = ((gib << 30) + (i << 21)) | kPteP | kPteW | kPtePs | attr;
    }

    struct kvm_sregs sregs;
    KVM_IOCTL(vm->vcpu_fd, KVM_GET_SREGS, &sregs);
    sregs.cs = flat_segment(kLongModeCs, 1);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(kLongModeDs, 0);
    sregs.gdt.base = gdt_gpa;
    sregs.gdt.limit = 4 * 8 - 1;
    sregs.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Pg;
    sregs.cr3 = pml4_gpa;
    sregs.cr4 = kCr4Pae;
    sregs.efer = kEferLme | kEferLma;
    KVM_IOCTL(vm->vcpu_fd, KVM_SET_SREGS, &sregs);
}
