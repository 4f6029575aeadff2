/* Helpers over the 4-level page tables built by entry.S. */
#include "runtime.h"

/* Upper-level entries are permissive; the leaf decides access rights. */
#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

uint64_t *pml4_table(void) { return (uint64_t *)(uintptr_t)(read_cr3() & PTE_ADDR_MASK); }

static inline unsigned idx(uint64_t va, int level) { return (va >> (12 + 9 * (level - 1))) & 511; }

static uint64_t *table_of(uint64_t e) { return (uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK); }

/* Returns the next-level table for entry *e, creating it if missing, or
 * splitting a large page (1 GiB at level 3, 2 MiB at level 2) into an
 * equivalent table of smaller pages. */
static uint64_t *descend(uint64_t *e, int level)
{
    if (!(*e & PTE_P)) {
        uint64_t *t = alloc_page();
        *e = (uint64_t)(uintptr_t)t | TABLE_FLAGS;
        return t;
    }
    if (*e & PTE_PS) {
        uint64_t *t = alloc_page();
        uint64_t base = *e & PTE_ADDR_MASK & ~((1ull << (12 + 9 * (level - 1))) - 1);
        /* Keep P/W/U/PWT/PCD/A/D/G and NX; drop PS and the large-page PAT bit. */
        uint64_t flags = *e & (0x17full | PTE_NX);
        flags &= ~PTE_PS;
        uint64_t step = 1ull << (12 + 9 * (level - 2));
        for (int i = 0; i < 512; i++)
            t[i] = (base + i * step) | flags | (level == 3 ? PTE_PS : 0);
        *e = (uint64_t)(uintptr_t)t | TABLE_FLAGS;
        flush_tlb();
        return t;
    }
    return table_of(*e);
}

uint64_t *get_entry(uint64_t va, int level)
{
    uint64_t *t = pml4_table();
    for (int l = 4; l > level; l--)
        t = descend(&t[idx(va, l)], l);
    return &t[idx(va, level)];
}

uint64_t *get_pte(uint64_t va) { return get_entry(va, 1); }

uint64_t *lookup_pte(uint64_t va, int *level)
{
    uint64_t *t = pml4_table();
    for (int l = 4; l >= 1; l--) {
        uint64_t *e = &t[idx(va, l)];
        if (!(*e & PTE_P))
            return NULL;
        if (l == 1 || (l <= 3 && (*e & PTE_PS))) {
            if (level)
                *level = l;
            return e;
        }
        t = table_of(*e);
    }
    return NULL;
}

void map_page(uint64_t va, uint64_t pa, uint64_t flags)
{
    uint64_t *pte = get_pte(va);
    *pte = (pa & PTE_ADDR_MASK) | flags | PTE_P;
    invlpg((void *)(uintptr_t)va);
}

void set_page_flags(uint64_t va, uint64_t set, uint64_t clear)
{
    uint64_t *pte = get_pte(va);
    *pte = (*pte & ~clear) | set;
    invlpg((void *)(uintptr_t)va);
}

void map_2m_page(uint64_t va, uint64_t pa, uint64_t flags)
{
    *get_entry(va, 2) = (pa & ~((1ull << 21) - 1) & PTE_ADDR_MASK) | flags | PTE_P | PTE_PS;
    flush_tlb();
}

void map_1g_page(uint64_t va, uint64_t pa, uint64_t flags)
{
    *get_entry(va, 3) = (pa & ~((1ull << 30) - 1) & PTE_ADDR_MASK) | flags | PTE_P | PTE_PS;
    flush_tlb();
}
