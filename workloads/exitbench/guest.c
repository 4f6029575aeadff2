/* The guest: runs in VMX non-root operation on exitbench's own code, asks
 * the host for each measurement phase and times the exit-causing operation
 * with LFENCE-bracketed RDTSC. Synchronous operations are timed as a loop of
 * N; asynchronous exits (APIC timer, preemption timer) as the largest gap
 * between consecutive TSC reads around each exit the host counted. */
#include "exitbench.h"

struct measurement {
    uint64_t cycles, samples, events, status;
};

static inline uint64_t hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
                                 uint64_t a4, uint64_t a5)
{
    uint64_t ret;
    asm volatile("vmcall"
                 : "=a"(ret)
                 : "a"(nr), "b"(a1), "c"(a2), "d"(a3), "S"(a4), "D"(a5)
                 : "memory");
    return ret;
}

static void loop_cpuid(struct measurement *m, uint64_t n)
{
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++) {
        uint32_t a = 0, b, c = 0, d;
        asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d)::"memory");
    }
    m->cycles = gtsc() - t0;
    m->samples = n;
}

static void loop_vmcall(struct measurement *m, uint64_t n)
{
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++)
        hypercall(HC_NOP, 0, 0, 0, 0, 0);
    m->cycles = gtsc() - t0;
    m->samples = n;
}

static void loop_wrmsr(struct measurement *m, uint64_t n)
{
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++)
        wrmsr(TRAPPED_MSR, 0xffff800000000000ull + i);
    m->cycles = gtsc() - t0;
    m->samples = n;
    if (hv.kernel_gs_base_shadow != 0xffff800000000000ull + n - 1)
        m->status = GS_BAD_VALUE;
}

static void loop_rdmsr(struct measurement *m, uint64_t n, uint32_t msr, uint64_t expect)
{
    uint64_t bad = 0;
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++)
        bad |= rdmsr(msr) ^ expect;
    m->cycles = gtsc() - t0;
    m->samples = n;
    if (bad)
        m->status = GS_BAD_VALUE;
}

static void loop_io(struct measurement *m, uint64_t n, bool in)
{
    uint8_t bad = 0;
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++) {
        if (in)
            bad |= inb(BENCH_PORT) ^ BENCH_PORT_IN_VALUE;
        else
            outb(BENCH_PORT, (uint8_t)i);
    }
    m->cycles = gtsc() - t0;
    m->samples = n;
    if (bad || (!in && hv.bench_port_value != (uint8_t)(n - 1)))
        m->status = GS_BAD_VALUE;
}

static void loop_hlt(struct measurement *m, uint64_t n)
{
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++)
        asm volatile("hlt" ::: "memory");
    m->cycles = gtsc() - t0;
    m->samples = n;
    m->events = guest_irq_count;
}

/* The guest's APIC timer (the local APIC is passed through) wakes it from
 * HLT: HLT exit, the host resumes it in the HLT activity state, the timer's
 * external-interrupt exit, the host injects the wake-up vector. The timer
 * period P is measured first by polling the current count with the LVT
 * masked; the result is the time beyond P, i.e. the wake-up latency from the
 * timer's expiry to the guest's handler (the HLT exit overlaps the wait
 * unless it takes longer than P). */
static void loop_hlt_timer(struct measurement *m, uint64_t n)
{
    uint32_t count = guest_cfg.timer_count;
    uint64_t period = 0;
    const unsigned probes = 8;
    for (unsigned i = 0; i < probes; i++) {
        uint64_t t0 = gtsc();
        apic_write(APIC_TDCR, 0xb); /* divide by 1 */
        apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_ONESHOT | VEC_TIMER);
        apic_write(APIC_TMICT, count);
        for (uint64_t s = 0; apic_read(APIC_TMCCT) != 0; s++)
            if (s > guest_cfg.spin_limit) {
                m->status = GS_TIMEOUT;
                return;
            }
        period += gtsc() - t0;
    }
    period /= probes;
    /* The timer must not expire before HLT: its interrupt would then be
     * injected first and nothing would wake the HLT. */
    if (period < 1000) {
        m->status = GS_TIMER_TOO_SHORT;
        return;
    }
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t before = guest_irq_count;
        uint64_t t0 = gtsc();
        apic_timer_oneshot(VEC_TIMER, count, 1);
        asm volatile("hlt" ::: "memory");
        uint64_t t1 = gtsc();
        if (guest_irq_count != before + 1) {
            m->status = GS_BAD_VALUE;
            break;
        }
        total += t1 - t0;
    }
    m->cycles = total > n * period ? total - n * period : 0;
    m->samples = n;
    m->events = guest_irq_count;
}

static void loop_mmio(struct measurement *m, uint64_t n)
{
    uint32_t bad = 0;
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++) {
        uint32_t v;
        asm volatile("movl (%1), %0" : "=r"(v) : "r"(MMIO_GPA) : "memory");
        bad |= v ^ MMIO_READ_VALUE;
    }
    m->cycles = gtsc() - t0;
    m->samples = n;
    if (bad)
        m->status = GS_BAD_VALUE;
}

static void loop_cr3(struct measurement *m, uint64_t n)
{
    uint64_t cr3 = read_cr3();
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++)
        write_cr3(cr3);
    m->cycles = gtsc() - t0;
    m->samples = n;
}

static volatile uint64_t invlpg_target;

static void loop_invlpg(struct measurement *m, uint64_t n)
{
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++)
        invlpg(&invlpg_target);
    m->cycles = gtsc() - t0;
    m->samples = n;
}

/* Every RDTSC exits here, so the values come from the host: consecutive
 * ones are one full round trip apart. */
static void loop_rdtsc(struct measurement *m, uint64_t n)
{
    uint64_t first = rdtsc(), last = first;
    for (uint64_t i = 1; i < n; i++)
        last = rdtsc();
    m->cycles = last - first;
    m->samples = n > 1 ? n - 1 : 0;
}

/* Asynchronous exits: the host counts them in phase_exits. An exit falls
 * between two consecutive TSC reads; the largest gap in the window since
 * the previous exit is its round trip. */
static void gap_measure(struct measurement *m, uint64_t n, unsigned op)
{
    uint64_t last = phase_exits, seen = 0, window_max = 0, idle = 0;
    hypercall(HC_START, op, 0, 0, 0, 0);
    uint64_t prev = gtsc();
    while (seen < n) {
        uint64_t c = phase_exits;
        uint64_t now = gtsc();
        uint64_t d = now - prev;
        prev = now;
        if (d > window_max)
            window_max = d;
        if (c != last) {
            m->cycles += window_max;
            m->samples++;
            seen += c - last;
            last = c;
            window_max = 0;
            idle = 0;
        } else if (++idle > guest_cfg.spin_limit) {
            m->status = GS_TIMEOUT;
            break;
        }
    }
}

static void wait_irq(struct measurement *m, uint64_t before)
{
    for (uint64_t s = 0; guest_irq_count == before; s++)
        if (s > guest_cfg.spin_limit) {
            m->status = GS_TIMEOUT;
            return;
        }
}

/* Self-IPI through the (passed-through) local APIC: external-interrupt
 * exit, the host acknowledges it and injects it back. */
static void loop_ipi(struct measurement *m, uint64_t n)
{
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n && m->status == GS_OK; i++) {
        uint64_t before = guest_irq_count;
        apic_write(APIC_ICR_LO, APIC_DEST_SELF | APIC_DM_FIXED | VEC_IPI);
        wait_irq(m, before);
    }
    m->cycles = gtsc() - t0;
    m->samples = n;
    m->events = guest_irq_count;
}

/* Posted interrupt: post VEC_POSTED in the descriptor's PIR, set ON and send
 * the notification vector to this CPU (the sender's protocol, SDM 30.6). The
 * CPU, in VMX non-root operation, processes it without an exit and delivers
 * VEC_POSTED through virtual-interrupt delivery. */
static void loop_ipi_posted(struct measurement *m, uint64_t n)
{
    volatile uint64_t *pir = (volatile uint64_t *)(uintptr_t)guest_cfg.pi_desc;
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n && m->status == GS_OK; i++) {
        uint64_t before = guest_irq_count;
        asm volatile("lock btsq %1, %0" : "+m"(pir[VEC_POSTED / 64]) : "r"((uint64_t)(VEC_POSTED % 64)) : "memory", "cc");
        asm volatile("lock btsq $0, %0" : "+m"(pir[4]) : : "memory", "cc"); /* ON = bit 256 */
        apic_write(APIC_ICR_LO, APIC_DEST_SELF | APIC_DM_FIXED | VEC_PI_NOTIFY);
        wait_irq(m, before);
    }
    m->cycles = gtsc() - t0;
    m->samples = n;
    m->events = guest_irq_count;
}

/* VMREAD of BENCH_VMCS_FIELD into a register: an exit the host emulates, or
 * a read of the shadow VMCS without an exit. */
static void loop_vmread(struct measurement *m, uint64_t n)
{
    uint64_t bad = 0;
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v;
        asm volatile("vmread %1, %0" : "=r"(v) : "r"((uint64_t)BENCH_VMCS_FIELD) : "cc", "memory");
        bad |= v ^ BENCH_VMCS_VALUE;
    }
    m->cycles = gtsc() - t0;
    m->samples = n;
    if (bad)
        m->status = GS_BAD_VALUE;
}

static void run_op(unsigned op, struct measurement *m, uint64_t n)
{
    switch (op) {
    case OP_CPUID: loop_cpuid(m, n); break;
    case OP_VMCALL: loop_vmcall(m, n); break;
    case OP_WRMSR: loop_wrmsr(m, n); break;
    case OP_RDMSR: loop_rdmsr(m, n, TRAPPED_MSR, hv.kernel_gs_base_shadow); break;
    case OP_RDMSR_PASS: loop_rdmsr(m, n, PASSTHROUGH_MSR, 0); break;
    case OP_IO_OUT: loop_io(m, n, false); break;
    case OP_IO_IN: loop_io(m, n, true); break;
    case OP_HLT: loop_hlt(m, n); break;
    case OP_HLT_TIMER: loop_hlt_timer(m, n); break;
    case OP_EPT_MMIO: loop_mmio(m, n); break;
    case OP_EXTINT:
    case OP_PREEMPT: gap_measure(m, n, op); break;
    case OP_CR3: loop_cr3(m, n); break;
    case OP_INVLPG: loop_invlpg(m, n); break;
    case OP_RDTSC: loop_rdtsc(m, n); break;
    case OP_IPI: loop_ipi(m, n); break;
    case OP_IPI_POSTED: loop_ipi_posted(m, n); break;
    case OP_VMREAD:
    case OP_VMREAD_SHADOW: loop_vmread(m, n); break;
    case OP_CPUID_NESTED:
    case OP_CPUID_NESTED_NOSHADOW:
        l1_measure_nested_cpuid(n, &m->cycles, &m->samples, &m->status);
        break;
    }
}

/* The guest's view of state the host virtualizes (SDM 25.6.6 read shadows). */
static void guest_checks(void)
{
    uint64_t cr4 = read_cr4();
    hypercall(HC_CHECK, CHECK_CR4_SHADOW, !(cr4 & CR4_VMXE), cr4, 0, 0);
    uint64_t cr0 = read_cr0();
    hypercall(HC_CHECK, CHECK_CR0_SHADOW, cr0 == guest_cfg.cr0_shadow, cr0, 0, 0);
    uint32_t ecx = cpuid(1).c;
    hypercall(HC_CHECK, CHECK_CPUID_VMX, !(ecx & (1u << 5)) && (ecx >> 31), ecx, 0, 0);
}

void guest_main(void)
{
    /* Interrupts on: the host injects into this guest (HLT, IPI), and
     * physical interrupts exit anyway (external-interrupt exiting). */
    sti();
    guest_checks();
    uint64_t n = guest_cfg.iters;
    for (unsigned op = 0; op < OP_COUNT; op++) {
        if (hypercall(HC_BEGIN, op, 0, 0, 0, 0) != 0)
            continue;
        struct measurement m = {0, 0, 0, GS_OK};
        run_op(op, &m, n);
        hypercall(HC_END, op, m.cycles, m.samples, m.events, m.status);
    }
    for (;;)
        hypercall(HC_DONE, 0, 0, 0, 0, 0);
}
