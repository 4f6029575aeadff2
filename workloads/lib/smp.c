/* Application-processor start-up with INIT-SIPI-SIPI. */
#include "runtime.h"

extern char ap_trampoline_start[], ap_trampoline_end[];
void load_idt(void);

uint64_t ap_stack_tops[MAX_CPUS]; /* read by ap_start64 in entry.S */
static volatile ap_fn_t ap_fn;
static volatile uint32_t ap_started;

#define AP_STACK_PAGES 4

void ap_entry_c(unsigned index);
void ap_entry_c(unsigned index)
{
    load_idt();
    atomic_xadd32(&ap_started, 1);
    if (ap_fn)
        ap_fn(index);
}

unsigned smp_started(void) { return ap_started; }

void smp_start_aps(ap_fn_t fn)
{
    unsigned ncpus = fw_cfg_cpu_count();
    ap_fn = fn;
    for (unsigned i = 1; i < ncpus && i < MAX_CPUS; i++)
        ap_stack_tops[i] = (uint64_t)(uintptr_t)alloc_pages(AP_STACK_PAGES) + AP_STACK_PAGES * PAGE_SIZE;
    memcpy((void *)AP_TRAMPOLINE_ADDR, ap_trampoline_start,
           (size_t)(ap_trampoline_end - ap_trampoline_start));
    mfence();

    apic_enable();
    /* INIT to all others, then two STARTUPs with vector = trampoline page. */
    apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF, APIC_DM_INIT | APIC_LEVEL_ASSERT);
    tsc_delay(1000000);
    apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF, APIC_DM_STARTUP | (AP_TRAMPOLINE_ADDR >> 12));
    tsc_delay(200000);
    apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF, APIC_DM_STARTUP | (AP_TRAMPOLINE_ADDR >> 12));
}
