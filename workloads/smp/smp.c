/* smp: bring up every CPU fw_cfg reports with INIT-SIPI-SIPI through the
 * real-mode trampoline, count them with LOCK XADD, check their APIC IDs,
 * hammer a shared counter from all CPUs, send each AP a fixed IPI that
 * wakes it from HLT, then wake each AP from MWAIT (interrupts off) with nothing
 * but a store to the line it monitors. Passes with one CPU too. */
#include "runtime.h"

#define VEC_WAKE 0x50
#define INCS_PER_CPU 100000

static volatile uint32_t started;              /* LOCK XADD by each AP */
static volatile uint32_t ap_apic_id[MAX_CPUS]; /* by arrival slot */
static volatile uint32_t ap_index[MAX_CPUS];
static volatile uint32_t ap_mode_ok[MAX_CPUS];
static volatile uint64_t shared_counter;
static volatile uint32_t inc_done;
static volatile uint32_t go;
static volatile uint32_t wake_count[256];      /* by APIC ID */
static volatile uint32_t ap_ready, ap_woken;
/* MWAIT phase: one monitored line per AP (by arrival slot), 64-byte aligned. */
static volatile struct { uint32_t flag; uint8_t pad[60]; } mwait_line[MAX_CPUS] __attribute__((aligned(64)));
static volatile uint32_t mwait_ready, mwait_woken;

static void wake_handler(struct irq_frame *f)
{
    atomic_xadd32(&wake_count[apic_id() & 0xff], 1);
    apic_eoi();
}

static void ap_main(unsigned index)
{
    uint32_t slot = atomic_xadd32(&started, 1);
    if (slot < MAX_CPUS) {
        ap_apic_id[slot] = apic_id();
        ap_index[slot] = index;
        ap_mode_ok[slot] = (rdmsr(MSR_EFER) & EFER_LMA) && (read_cr0() & CR0_PG) &&
                           current_cpl() == 0 && read_cr3() == (uint64_t)(uintptr_t)pml4_table();
    }
    /* Contended atomic increments, started together. */
    while (!go)
        pause();
    for (int i = 0; i < INCS_PER_CPU; i++)
        atomic_xadd64(&shared_counter, 1);
    atomic_xadd32(&inc_done, 1);

    /* Sleep until the BSP's IPI arrives. */
    apic_enable();
    cli();
    atomic_xadd32(&ap_ready, 1);
    uint32_t me = apic_id() & 0xff;
    while (!wake_count[me]) {
        safe_halt();
        cli();
    }
    atomic_xadd32(&ap_woken, 1);

    /* Wait in MWAIT with interrupts off: only the BSP's store to our line ends it. */
    if (!cpu_has_monitor() || slot >= MAX_CPUS)
        return;
    atomic_xadd32(&mwait_ready, 1);
    while (!mwait_line[slot].flag) {
        monitor(&mwait_line[slot].flag);
        if (mwait_line[slot].flag)
            break;
        mwait(0, 0);
    }
    atomic_xadd32(&mwait_woken, 1);
}

static bool wait_for(volatile uint32_t *v, uint32_t n, uint64_t timeout)
{
    uint64_t t0 = rdtsc();
    while (*v < n && rdtsc() - t0 < timeout)
        pause();
    return *v >= n;
}

int main(const struct multiboot_info *mbi)
{
    uint64_t timeout = cmdline_get("timeout", 4000000000ull);
    unsigned ncpus = fw_cfg_cpu_count();
    unsigned bsp_id = apic_id();
    result("cpus_fw_cfg", ncpus);
    set_handler(VEC_WAKE, wake_handler);

    uint64_t t0 = rdtsc();
    smp_start_aps(ap_main);
    bool all = wait_for(&started, ncpus - 1, timeout);
    uint64_t t1 = rdtsc();
    result("cpus_started", started + 1);
    result("ap_startup_tsc", t1 - t0);
    reportf(all && started == ncpus - 1, "all %u APs started (%u)", ncpus - 1, started);
    reportf(smp_started() == started, "runtime count agrees (%u)", smp_started());

    bool ids_ok = true, mode_ok = true, index_ok = true;
    uint32_t n = started < MAX_CPUS ? started : MAX_CPUS;
    for (uint32_t i = 0; i < n; i++) {
        printf("AP slot %u: index %u apic id %u\n", i, ap_index[i], ap_apic_id[i]);
        if (ap_apic_id[i] == bsp_id)
            ids_ok = false;
        for (uint32_t j = 0; j < i; j++)
            if (ap_apic_id[j] == ap_apic_id[i])
                ids_ok = false;
        if (!ap_mode_ok[i])
            mode_ok = false;
        if (ap_index[i] < 1 || ap_index[i] > n)
            index_ok = false;
    }
    reportf(ids_ok, "APIC IDs unique and differ from the BSP's (%u)", bsp_id);
    report("APs run in 64-bit mode, ring 0, on the shared page tables", mode_ok);
    report("AP indices in 1..N", index_ok);

    /* Shared counter: every CPU adds INCS_PER_CPU with LOCK XADD. */
    go = 1;
    for (int i = 0; i < INCS_PER_CPU; i++)
        atomic_xadd64(&shared_counter, 1);
    wait_for(&inc_done, n, timeout);
    uint64_t want = (uint64_t)(n + 1) * INCS_PER_CPU;
    reportf(shared_counter == want, "LOCK XADD from %u CPUs: %lu (want %lu)", n + 1, shared_counter,
            want);

    /* Wake each AP from HLT with a fixed IPI to its APIC ID. */
    wait_for(&ap_ready, n, timeout);
    apic_enable();
    for (uint32_t i = 0; i < n; i++)
        apic_send_ipi(ap_apic_id[i], 0, APIC_DM_FIXED | VEC_WAKE);
    bool woke = wait_for(&ap_woken, n, timeout);
    reportf(woke, "fixed IPI woke %u of %u halted APs", ap_woken, n);

    if (cpu_has_monitor()) {
        wait_for(&mwait_ready, n, timeout);
        for (uint32_t i = 0; i < n; i++)
            mwait_line[i].flag = 1;
        bool mwoke = wait_for(&mwait_woken, n, timeout);
        reportf(mwoke, "a store to the monitored line woke %u of %u APs in MWAIT", mwait_woken, n);
    }
    return summary();
}
