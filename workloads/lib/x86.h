/* Inline helpers for privileged x86-64 instructions: port I/O, MSRs, CPUID,
 * control registers, TSC, interrupts. Freestanding; no libc. */
#ifndef WL_X86_H
#define WL_X86_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* ---- port I/O ---- */
static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* ---- MSRs ---- */
#define MSR_IA32_APIC_BASE     0x0000001b
#define MSR_IA32_TSC_DEADLINE  0x000006e0
#define MSR_EFER               0xc0000080
#define MSR_STAR               0xc0000081
#define MSR_LSTAR              0xc0000082
#define MSR_CSTAR              0xc0000083
#define MSR_FMASK              0xc0000084
#define MSR_FS_BASE            0xc0000100
#define MSR_GS_BASE            0xc0000101
#define MSR_KERNEL_GS_BASE     0xc0000102

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    asm volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* ---- CPUID ---- */
struct cpuid_regs {
    uint32_t a, b, c, d;
};
static inline struct cpuid_regs cpuid_count(uint32_t leaf, uint32_t sub)
{
    struct cpuid_regs r;
    asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
    return r;
}
static inline struct cpuid_regs cpuid(uint32_t leaf) { return cpuid_count(leaf, 0); }
static inline uint32_t cpuid_max_ext(void) { return cpuid(0x80000000u).a; }

/* Feature tests used by the workloads. */
static inline bool cpu_has_popcnt(void) { return (cpuid(1).c >> 23) & 1; }
static inline bool cpu_has_tsc_deadline(void) { return (cpuid(1).c >> 24) & 1; }
static inline bool cpu_has_x2apic(void) { return (cpuid(1).c >> 21) & 1; }
static inline bool cpu_has_nx(void) { return cpuid_max_ext() >= 0x80000001u && ((cpuid(0x80000001u).d >> 20) & 1); }
static inline bool cpu_has_1g_pages(void) { return cpuid_max_ext() >= 0x80000001u && ((cpuid(0x80000001u).d >> 26) & 1); }
static inline bool cpu_has_lzcnt(void) { return cpuid_max_ext() >= 0x80000001u && ((cpuid(0x80000001u).c >> 5) & 1); }
static inline bool cpu_has_bmi1(void) { return cpuid(0).a >= 7 && ((cpuid_count(7, 0).b >> 3) & 1); }
static inline unsigned cpu_maxphyaddr(void)
{
    return cpuid_max_ext() >= 0x80000008u ? (cpuid(0x80000008u).a & 0xff) : 36;
}

/* ---- control registers ---- */
#define CR0_PE (1ul << 0)
#define CR0_MP (1ul << 1)
#define CR0_EM (1ul << 2)
#define CR0_TS (1ul << 3)
#define CR0_NE (1ul << 5)
#define CR0_WP (1ul << 16)
#define CR0_AM (1ul << 18)
#define CR0_PG (1ul << 31)
#define CR4_PSE (1ul << 4)
#define CR4_PAE (1ul << 5)
#define CR4_PGE (1ul << 7)
#define CR4_OSFXSR (1ul << 9)
#define CR4_VMXE (1ul << 13)
#define CR4_SMEP (1ul << 20)
#define CR4_SMAP (1ul << 21)

#define DEFINE_CR(n)                                                                    \
    static inline uint64_t read_cr##n(void)                                             \
    {                                                                                   \
        uint64_t v;                                                                     \
        asm volatile("mov %%cr" #n ", %0" : "=r"(v));                                   \
        return v;                                                                       \
    }                                                                                   \
    static inline void write_cr##n(uint64_t v) { asm volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
DEFINE_CR(8)
#undef DEFINE_CR

static inline void invlpg(const volatile void *va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }
static inline void flush_tlb(void) { write_cr3(read_cr3()); }

/* ---- flags, interrupts, misc ---- */
#define RFLAGS_CF (1ul << 0)
#define RFLAGS_PF (1ul << 2)
#define RFLAGS_AF (1ul << 4)
#define RFLAGS_ZF (1ul << 6)
#define RFLAGS_SF (1ul << 7)
#define RFLAGS_TF (1ul << 8)
#define RFLAGS_IF (1ul << 9)
#define RFLAGS_DF (1ul << 10)
#define RFLAGS_OF (1ul << 11)
#define RFLAGS_AC (1ul << 18)

static inline uint64_t read_rflags(void)
{
    uint64_t f;
    asm volatile("pushfq; popq %0" : "=r"(f));
    return f;
}
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
static inline void hlt(void) { asm volatile("hlt" ::: "memory"); }
/* STI;HLT: the STI shadow guarantees no interrupt is taken between the two. */
static inline void safe_halt(void) { asm volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { asm volatile("pause" ::: "memory"); }
static inline bool cpu_has_monitor(void) { return (cpuid(1).c >> 3) & 1; }
/* MONITOR the line at p (ECX = EDX = 0); MWAIT with hints in EAX, extensions in ECX. */
static inline void monitor(const volatile void *p) { asm volatile("monitor" ::"a"(p), "c"(0), "d"(0) : "memory"); }
static inline void mwait(uint32_t hints, uint32_t ext) { asm volatile("mwait" ::"a"(hints), "c"(ext) : "memory"); }
static inline void barrier(void) { asm volatile("" ::: "memory"); }
static inline void mfence(void) { asm volatile("mfence" ::: "memory"); }

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
/* RDTSC ordered after all earlier instructions (LFENCE is dispatch-serialising). */
static inline uint64_t rdtsc_ordered(void)
{
    uint32_t lo, hi;
    asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline uint16_t read_cs(void)
{
    uint16_t v;
    asm volatile("mov %%cs, %0" : "=r"(v));
    return v;
}
static inline uint16_t read_ss(void)
{
    uint16_t v;
    asm volatile("mov %%ss, %0" : "=r"(v));
    return v;
}
static inline unsigned current_cpl(void) { return read_cs() & 3; }

static inline uint32_t atomic_xadd32(volatile uint32_t *p, uint32_t v)
{
    asm volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p)::"memory");
    return v;
}
static inline uint64_t atomic_xadd64(volatile uint64_t *p, uint64_t v)
{
    asm volatile("lock xaddq %0, %1" : "+r"(v), "+m"(*p)::"memory");
    return v;
}

/* Spin for at least `cycles` TSC ticks. */
static inline void tsc_delay(uint64_t cycles)
{
    uint64_t t0 = rdtsc();
    while (rdtsc() - t0 < cycles)
        pause();
}

#endif
