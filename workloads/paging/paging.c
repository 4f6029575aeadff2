/* paging: 4-level translation as software sees it: aliasing, accessed and
 * dirty bits, CR0.WP, INVLPG and CR3 reloads, permission combining across
 * levels, 2 MiB and 1 GiB pages, NX, and demand paging through #PF. */
#include "runtime.h"

#define VA_BASE 0x0000200000000000ull /* 32 TiB: nothing there at boot */
#define VA(n) (VA_BASE + (uint64_t)(n) * PAGE_SIZE)

static volatile uint64_t *vptr(uint64_t va) { return (volatile uint64_t *)(uintptr_t)va; }
static uint64_t pa_of(const void *p) { return (uint64_t)(uintptr_t)p; } /* identity map */

static void test_alias(void)
{
    uint64_t *phys = alloc_page();
    map_page(VA(0), pa_of(phys), PTE_W);
    map_page(VA(1), pa_of(phys), PTE_W);
    *vptr(VA(0) + 8) = 0x1122334455667788ull;
    bool ok = *vptr(VA(1) + 8) == 0x1122334455667788ull && phys[1] == 0x1122334455667788ull;
    *vptr(VA(1) + 16) = 42;
    ok = ok && *vptr(VA(0) + 16) == 42;
    report("two virtual pages alias one physical page", ok);

    /* Misaligned 8-byte access across two virtual pages backed by two
     * non-adjacent physical pages. */
    uint8_t *p0 = alloc_page(), *p1 = alloc_pages(2) + PAGE_SIZE;
    map_page(VA(2), pa_of(p0), PTE_W);
    map_page(VA(3), pa_of(p1), PTE_W);
    *vptr(VA(3) - 4) = 0xaabbccdd11223344ull;
    ok = p0[PAGE_SIZE - 4] == 0x44 && p0[PAGE_SIZE - 1] == 0x11 && p1[0] == 0xdd && p1[3] == 0xaa;
    ok = ok && *vptr(VA(3) - 4) == 0xaabbccdd11223344ull;
    report("access straddling two pages goes to two frames", ok);
}

static void test_accessed_dirty(void)
{
    uint64_t *phys = alloc_page();
    map_page(VA(10), pa_of(phys), PTE_W);
    volatile uint64_t *pte = get_pte(VA(10));
    volatile uint64_t *pde = get_entry(VA(10), 2);
    *pte &= ~(PTE_A | PTE_D);
    *pde &= ~PTE_A;
    invlpg((void *)VA(10));
    reportf(!(*pte & (PTE_A | PTE_D)), "A/D clear before access (pte %#lx)", *pte);
    (void)*vptr(VA(10));
    reportf((*pte & PTE_A) && !(*pte & PTE_D), "read sets A, not D (pte %#lx)", *pte);
    reportf(*pde & PTE_A, "read sets A in the PDE too (pde %#lx)", *pde);
    *vptr(VA(10)) = 1;
    reportf((*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "write sets D (pte %#lx)", *pte);

    /* A write as the first access sets both. */
    *pte &= ~(PTE_A | PTE_D);
    invlpg((void *)VA(10));
    *vptr(VA(10) + 8) = 2;
    reportf((*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "first access a write sets A and D (pte %#lx)",
            *pte);

    /* 2 MiB page: D lives in the PDE. */
    uint64_t big = (uint64_t)(uintptr_t)alloc_pages(1024); /* 4 MiB: contains an aligned 2 MiB */
    big = ALIGN_UP(big, 2ull << 20);
    map_2m_page(VA_BASE + (64ull << 20), big, PTE_W);
    volatile uint64_t *pde2 = get_entry(VA_BASE + (64ull << 20), 2);
    *pde2 &= ~(PTE_A | PTE_D);
    invlpg((void *)(VA_BASE + (64ull << 20)));
    *vptr(VA_BASE + (64ull << 20) + 0x123458) = 7;
    reportf((*pde2 & (PTE_A | PTE_D | PTE_PS)) == (PTE_A | PTE_D | PTE_PS) &&
                *(volatile uint64_t *)(uintptr_t)(big + 0x123458) == 7,
            "2 MiB page: write reaches the frame and sets A/D in the PDE (pde %#lx)", *pde2);
}

static void test_wp(void)
{
    uint64_t *phys = alloc_page();
    map_page(VA(20), pa_of(phys), 0); /* read-only, supervisor */
    uint64_t cr0 = read_cr0();
    write_cr0(cr0 | CR0_WP);
    int v = probe_write64((void *)VA(20), 5);
    reportf(v == VEC_PF && last_exception.error_code == (PF_P | PF_W) && phys[0] == 0,
            "CR0.WP=1: supervisor write to read-only page faults (err %#lx)", last_exception.error_code);
    write_cr0(cr0 & ~CR0_WP);
    v = probe_write64((void *)VA(20), 5);
    reportf(v == -1 && phys[0] == 5, "CR0.WP=0: supervisor write to read-only page succeeds");
    write_cr0(cr0);
    v = probe_write64((void *)VA(20), 6);
    report("CR0.WP restored: write faults again", v == VEC_PF && phys[0] == 5);
}

static void test_invlpg(void)
{
    uint64_t *a = alloc_page(), *b = alloc_page();
    a[0] = 0xaaaa;
    b[0] = 0xbbbb;
    map_page(VA(30), pa_of(a), PTE_W);
    uint64_t first = *vptr(VA(30)); /* loads the TLB */
    volatile uint64_t *pte = get_pte(VA(30));
    *pte = pa_of(b) | PTE_P | PTE_W;
    invlpg((void *)VA(30));
    uint64_t second = *vptr(VA(30));
    reportf(first == 0xaaaa && second == 0xbbbb, "INVLPG makes a changed PTE visible (%#lx -> %#lx)",
            first, second);

    *pte = pa_of(a) | PTE_P | PTE_W;
    write_cr3(read_cr3());
    report("MOV to CR3 makes a changed PTE visible", *vptr(VA(30)) == 0xaaaa);

    /* Unmapping: after INVLPG a not-present PTE faults. */
    *pte = 0;
    invlpg((void *)VA(30));
    int v = probe_read64((void *)VA(30), NULL);
    reportf(v == VEC_PF && last_exception.error_code == 0 && last_exception.cr2 == VA(30),
            "cleared PTE + INVLPG faults as not-present");
}

static uint64_t user_read(uint64_t va) { return (uint64_t)probe_read64((void *)va, NULL); }

static void test_combining(void)
{
    /* The effective rights are the most restrictive along the walk. */
    uint64_t *phys = alloc_page();
    map_page(VA(40), pa_of(phys), PTE_W | PTE_U);
    volatile uint64_t *pde = get_entry(VA(40), 2);
    uint64_t saved = *pde;

    *pde &= ~PTE_W;
    flush_tlb();
    int v = probe_write64((void *)VA(40), 1);
    reportf(v == VEC_PF && last_exception.error_code == (PF_P | PF_W),
            "read-only PDE over writable PTE: write faults (err %#lx)", last_exception.error_code);
    *pde = saved;

    *pde &= ~PTE_U;
    flush_tlb();
    v = (int)usermode_call(user_read, VA(40));
    reportf(v == VEC_PF && last_exception.error_code == (PF_P | PF_U),
            "supervisor PDE over user PTE: ring-3 read faults (err %#lx)", last_exception.error_code);
    *pde = saved;
    flush_tlb();
    v = (int)usermode_call(user_read, VA(40));
    report("user PDE and PTE: ring-3 read works", v == -1);

    if (rdmsr(MSR_EFER) & EFER_NXE) {
        ((uint8_t *)phys)[0] = 0xc3; /* ret */
        *pde |= PTE_NX;
        flush_tlb();
        v = probe_call((void *)VA(40), NULL);
        reportf(v == VEC_PF && last_exception.error_code == (PF_P | PF_ID),
                "NX in the PDE applies to the 4 KiB page below (err %#lx)", last_exception.error_code);
        *pde = saved;
        flush_tlb();
        v = probe_call((void *)VA(40), NULL);
        report("code runs with NX clear at all levels", v == -1);
        set_page_flags(VA(40), PTE_NX, 0);
        v = probe_call((void *)VA(40), NULL);
        reportf(v == VEC_PF && last_exception.error_code == (PF_P | PF_ID) && last_exception.cr2 == VA(40),
                "NX in the PTE: fetch faults (err %#lx)", last_exception.error_code);
        uint64_t x;
        v = probe_read64((void *)VA(40), &x);
        report("NX page is still readable", v == -1 && (x & 0xff) == 0xc3);
    } else {
        report_skip("NX", "EFER.NXE not available");
    }
}

static uint32_t marker_1g = 0x5eed1234;

static void test_1g(void)
{
    if (!cpu_has_1g_pages()) {
        report_skip("1 GiB pages", "CPUID.80000001:EDX[26] clear");
        return;
    }
    uint64_t va = 0x0000008000000000ull; /* 512 GiB */
    map_1g_page(va, 0, PTE_W);
    int level = 0;
    uint64_t *e = lookup_pte(va + 0x12345, &level);
    volatile uint32_t *alias = (volatile uint32_t *)(uintptr_t)(va + pa_of(&marker_1g));
    bool ok = e && level == 3 && *alias == 0x5eed1234;
    *alias = 0xfeedf00d;
    ok = ok && marker_1g == 0xfeedf00d;
    reportf(ok, "1 GiB page maps physical 0..1 GiB at 512 GiB (level %d)", level);
    map_1g_page(va + (1ull << 30), 0, 0); /* same frame, read-only */
    uint64_t x;
    int v = probe_read64((void *)(va + (1ull << 30) + 0x1000), &x);
    int w = probe_write64((void *)(va + (1ull << 30) + 0x1000), x);
    reportf(v == -1 && w == VEC_PF && last_exception.error_code == (PF_P | PF_W),
            "read-only 1 GiB page: read ok, write faults");
}

/* Demand paging: the #PF handler maps the page and the access restarts. */
static volatile uint64_t demand_faults;
static uint64_t demand_frame;
static void demand_handler(struct irq_frame *f)
{
    uint64_t cr2 = read_cr2();
    if (cr2 < VA(100) || cr2 >= VA(108)) {
        printf("FAIL: unexpected #PF at %#lx rip %#lx err %#lx\n", cr2, f->rip, f->error_code);
        exit(EXIT_UNHANDLED);
    }
    demand_faults++;
    map_page(cr2 & ~(PAGE_SIZE - 1), demand_frame + (cr2 - VA(100)) / PAGE_SIZE * PAGE_SIZE, PTE_W);
}

static void test_demand(void)
{
    demand_frame = pa_of(alloc_pages(8));
    for (int i = 0; i < 8; i++) { /* make sure nothing is mapped there */
        *get_pte(VA(100 + i)) = 0;
        invlpg((void *)VA(100 + i));
    }
    set_handler(VEC_PF, demand_handler);
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++)
        *vptr(VA(100 + i) + 8 * i) = i + 1;
    for (int i = 0; i < 8; i++)
        sum += *vptr(VA(100 + i) + 8 * i);
    set_handler(VEC_PF, NULL);
    uint64_t *frames = (uint64_t *)(uintptr_t)demand_frame;
    reportf(demand_faults == 8 && sum == 36 && frames[512 * 7 + 7] == 8,
            "demand paging: faulting stores restart after the handler maps (%lu faults)", demand_faults);
}

int main(const struct multiboot_info *mbi)
{
    test_alias();
    test_accessed_dirty();
    test_wp();
    test_invlpg();
    test_combining();
    test_1g();
    test_demand();
    return summary();
}
