/* Local APIC (xAPIC MMIO mode). */
#include "runtime.h"

void apic_enable(void)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    if (!(base & (1ull << 11)))
        wrmsr(MSR_IA32_APIC_BASE, base | (1ull << 11));
    apic_write(APIC_TPR, 0);
    apic_write(APIC_LVT_ERROR, APIC_LVT_MASKED | 0xfe);
    apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);
}

static uint32_t divide_bits(unsigned divide)
{
    switch (divide) {
    case 2: return 0x0;
    case 4: return 0x1;
    case 8: return 0x2;
    case 16: return 0x3;
    case 32: return 0x8;
    case 64: return 0x9;
    case 128: return 0xa;
    default: return 0xb; /* divide by 1 */
    }
}

void apic_timer_oneshot(uint8_t vector, uint32_t count, unsigned divide)
{
    apic_write(APIC_TDCR, divide_bits(divide));
    apic_write(APIC_LVT_TIMER, APIC_TIMER_ONESHOT | vector);
    apic_write(APIC_TMICT, count);
}

void apic_timer_periodic(uint8_t vector, uint32_t count, unsigned divide)
{
    apic_write(APIC_TDCR, divide_bits(divide));
    apic_write(APIC_LVT_TIMER, APIC_TIMER_PERIODIC | vector);
    apic_write(APIC_TMICT, count);
}

void apic_timer_tsc_deadline(uint8_t vector, uint64_t deadline)
{
    apic_write(APIC_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | vector);
    /* SDM: order the LVT write before the MSR write. */
    mfence();
    wrmsr(MSR_IA32_TSC_DEADLINE, deadline);
}

void apic_timer_stop(void)
{
    uint32_t lvt = apic_read(APIC_LVT_TIMER);
    if ((lvt & (3u << 17)) == APIC_TIMER_TSC_DEADLINE)
        wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | (lvt & 0xff));
    apic_write(APIC_TMICT, 0);
}

bool apic_icr_wait(void)
{
    for (int i = 0; i < 10000000; i++) {
        if (!(apic_read(APIC_ICR_LO) & APIC_ICR_BUSY))
            return true;
        pause();
    }
    return false;
}

void apic_send_ipi(uint32_t dest_apic_id, uint32_t shorthand, uint32_t mode_and_vector)
{
    apic_icr_wait();
    apic_write(APIC_ICR_HI, dest_apic_id << 24);
    apic_write(APIC_ICR_LO, shorthand | mode_and_vector);
    apic_icr_wait();
}
