/* Identity EPT for guest-physical 0..4 GiB (SDM Vol. 3C 29.3): 4-level,
 * read/write/execute everywhere, write-back below 3 GiB and uncacheable for
 * the MMIO gigabyte above, except the 2 MiB around MMIO_GPA, which is left
 * absent so that guest accesses there cause EPT violations the host emulates. */
#include "exitbench.h"

#define GIB (1ull << 30)
#define MIB2 (1ull << 21)

static uint64_t leaf_flags(uint64_t gpa)
{
    uint64_t mt = gpa >= 3 * GIB ? EPT_MT_UC : EPT_MT_WB;
    return EPT_RWX | (mt << EPT_MT_SHIFT);
}

uint64_t ept_build(bool use_2m, bool ad)
{
    uint64_t *pml4 = alloc_page();
    uint64_t *pdpt = alloc_page();
    pml4[0] = (uint64_t)(uintptr_t)pdpt | EPT_RWX;
    for (unsigned g = 0; g < 4; g++) {
        uint64_t *pd = alloc_page();
        pdpt[g] = (uint64_t)(uintptr_t)pd | EPT_RWX;
        for (unsigned i = 0; i < 512; i++) {
            uint64_t gpa = g * GIB + i * MIB2;
            if (gpa == (MMIO_GPA & ~(MIB2 - 1)))
                continue; /* not present: EPT violation */
            if (use_2m) {
                pd[i] = gpa | leaf_flags(gpa) | EPT_LARGE;
                continue;
            }
            uint64_t *pt = alloc_page();
            for (unsigned j = 0; j < 512; j++)
                pt[j] = (gpa + j * PAGE_SIZE) | leaf_flags(gpa);
            pd[i] = (uint64_t)(uintptr_t)pt | EPT_RWX;
        }
    }
    /* EPTP (SDM 25.6.11): memory type of the paging structures, walk length
     * minus 1 in bits 5:3, bit 6 enables accessed/dirty flags. */
    uint64_t mt = (vmx_caps.ept_vpid & EPT_CAP_WB) ? EPTP_MT_WB : EPTP_MT_UC;
    return (uint64_t)(uintptr_t)pml4 | mt | EPTP_PWL4 | (ad ? EPTP_AD : 0);
}

void ept_flush(void)
{
    uint64_t cap = vmx_caps.ept_vpid;
    if (!(cap & EPT_CAP_INVEPT))
        return;
    enum vmx_status st = VMX_OK;
    if (cap & EPT_CAP_INVEPT_SINGLE)
        st = invept(INVEPT_SINGLE, hv.eptp);
    else if (cap & EPT_CAP_INVEPT_ALL)
        st = invept(INVEPT_ALL, 0);
    if (st != VMX_OK)
        vmx_print_status("INVEPT", st);
}
