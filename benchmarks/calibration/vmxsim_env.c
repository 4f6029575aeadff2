/* The calibration kernels as a vmxsim workload (multiboot, long mode, identity paging). The
 * arena is split into 4 KiB pages like a Linux process's memory. Command line: only=FILTER
 * (one name fragment), repeats=N (default 1: simulated runs are deterministic). */
#include "runtime.h"

#include "calib_env.h"

void *calib_arena(size_t bytes)
{
    uint8_t *p = alloc_pages(bytes / PAGE_SIZE);
    /* Splitting one page per 2 MiB region turns its 2 MiB mapping into 512 4 KiB PTEs. */
    for (size_t off = 0; off < bytes; off += 2ul << 20)
        get_pte((uint64_t)(uintptr_t)(p + off));
    flush_tlb();
    return p;
}

void calib_print(const char *line) { puts(line); }

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    char filter[64] = "";
    cmdline_get_str("only", filter, sizeof filter);
    return calib_run(filter, (unsigned)cmdline_get("repeats", 1));
}
