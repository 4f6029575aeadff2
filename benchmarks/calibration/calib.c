/* Calibration microbenchmarks, one source for two builds (benchmarks/calibration/README.md):
 * natively on the host and as a vmxsim workload. Each kernel is inline assembly, so both builds
 * execute the same instructions; the C around them only builds data structures. Results are
 * TSC ticks per iteration (both sides read the TSC), printed as
 *   RESULT <name>=<ticks per iteration, 3 decimals>
 * Sizes and counts are fixed here so that native and simulated runs do identical work. */
#include "calib_env.h"

#define ARENA_BYTES (64ul << 20)
#define LINE 64ul
#define PAGE 4096ul

static uint8_t *arena;
static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next_random(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return rng >> 17;
}

static void put_dec(char **p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *(*p)++ = tmp[--n];
}

static void put_str(char **p, const char *s)
{
    while (*s)
        *(*p)++ = *s++;
}

/* RESULT name=ticks/iterations with three decimals. */
static void report(const char *name, uint64_t ticks, uint64_t iterations)
{
    char line[128], *p = line;
    uint64_t milli = ticks * 1000 / iterations;
    put_str(&p, "RESULT ");
    put_str(&p, name);
    *p++ = '=';
    put_dec(&p, milli / 1000);
    *p++ = '.';
    *p++ = (char)('0' + milli / 100 % 10);
    *p++ = (char)('0' + milli / 10 % 10);
    *p++ = (char)('0' + milli % 10);
    *p = 0;
    calib_print(line);
}

/* ---- kernels: each returns TSC ticks for `n` iterations ---- */

/* Eight dependent loads per iteration. */
static uint64_t chase(void *start, uint64_t n)
{
    uint64_t t0 = calib_tsc();
    __asm__ volatile("1:\n\t"
                     "mov (%0), %0\n\tmov (%0), %0\n\tmov (%0), %0\n\tmov (%0), %0\n\t"
                     "mov (%0), %0\n\tmov (%0), %0\n\tmov (%0), %0\n\tmov (%0), %0\n\t"
                     "dec %1\n\tjnz 1b"
                     : "+r"(start), "+r"(n)::"memory", "cc");
    return calib_tsc() - t0;
}

/* Sixteen dependent adds per iteration. */
static uint64_t alu_chain(uint64_t n)
{
    uint64_t a = 1, b = 3;
    uint64_t t0 = calib_tsc();
    __asm__ volatile("1:\n\t"
                     "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                     "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                     "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                     "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                     "dec %1\n\tjnz 1b"
                     : "+r"(a), "+r"(n)
                     : "r"(b)
                     : "cc");
    return calib_tsc() - t0;
}

/* Four dependent 64-bit divides per iteration (divisor 1 keeps the dividend, a 29-bit value). */
static uint64_t divides(uint64_t n)
{
    uint64_t a = 0x12345678, d = 0, one = 1;
    uint64_t t0 = calib_tsc();
    __asm__ volatile("1:\n\t"
                     "xor %%edx, %%edx\n\tdiv %3\n\t"
                     "xor %%edx, %%edx\n\tdiv %3\n\t"
                     "xor %%edx, %%edx\n\tdiv %3\n\t"
                     "xor %%edx, %%edx\n\tdiv %3\n\t"
                     "dec %2\n\tjnz 1b"
                     : "+a"(a), "+d"(d), "+r"(n)
                     : "r"(one)
                     : "cc");
    return calib_tsc() - t0;
}

/* A branch on a pseudo-random bit (an LCG in registers) or on the loop counter's low bit. */
static uint64_t branchy(uint64_t n, int random)
{
    uint64_t x = 12345, sum = 0, mul = 6364136223846793005ull, inc = 1442695040888963407ull, bit;
    uint64_t t0 = calib_tsc();
    if (random)
        __asm__ volatile("1:\n\t"
                         "imul %[mul], %[x]\n\tadd %[inc], %[x]\n\t"
                         "mov %[x], %[bit]\n\tshr $63, %[bit]\n\t"
                         "jz 2f\n\tadd $1, %[sum]\n"
                         "2:\n\tdec %[n]\n\tjnz 1b"
                         : [x] "+r"(x), [sum] "+r"(sum), [n] "+r"(n), [bit] "=&r"(bit)
                         : [mul] "r"(mul), [inc] "r"(inc)
                         : "cc");
    else
        __asm__ volatile("1:\n\t"
                         "imul %[mul], %[x]\n\tadd %[inc], %[x]\n\t"
                         "mov %[n], %[bit]\n\tand $1, %[bit]\n\t"
                         "jz 2f\n\tadd $1, %[sum]\n"
                         "2:\n\tdec %[n]\n\tjnz 1b"
                         : [x] "+r"(x), [sum] "+r"(sum), [n] "+r"(n), [bit] "=&r"(bit)
                         : [mul] "r"(mul), [inc] "r"(inc)
                         : "cc");
    return calib_tsc() - t0;
}

/* Eight bytes per iteration with general-purpose registers. */
static uint64_t copy(void *dst, const void *src, uint64_t n)
{
    uint64_t t0 = calib_tsc();
    __asm__ volatile("1:\n\t"
                     "mov (%1), %%rax\n\tmov %%rax, (%0)\n\t"
                     "add $8, %1\n\tadd $8, %0\n\t"
                     "dec %2\n\tjnz 1b"
                     : "+r"(dst), "+r"(src), "+r"(n)::"rax", "memory", "cc");
    return calib_tsc() - t0;
}

/* ---- data layouts ---- */

/* A single random cycle (Sattolo) through `nodes` slots of `stride` bytes. With page-sized
 * slots, slot i uses line (3i + i/32) mod 64 of its page: the lines cover every L1D set (indexed
 * by the line within the page) and, for up to 2048 physically contiguous pages, every set of a
 * 2048-set L2 once (the simulated arena is contiguous; the native one is not, which spreads it
 * anyway). Returns the first node. */
static void *build_cycle(uint64_t nodes, uint64_t stride)
{
    uint32_t *order = (uint32_t *)(arena + ARENA_BYTES - nodes * 4); /* scratch at the top */
    for (uint64_t i = 0; i < nodes; i++)
        order[i] = (uint32_t)i;
    for (uint64_t i = nodes - 1; i > 0; i--) {
        uint64_t j = next_random() % i;
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
#define SLOT(i) ((void **)(arena + (uint64_t)(i) * stride + \
                         (stride < PAGE ? 0 : ((3 * (uint64_t)(i) + ((uint64_t)(i) >> 5)) % 64) * LINE)))
    for (uint64_t i = 0; i < nodes; i++)
        *SLOT(order[i]) = SLOT(order[(i + 1) % nodes]);
    return SLOT(order[0]);
#undef SLOT
}

static int want(const char *filter, const char *name)
{
    if (!filter || !*filter)
        return 1;
    for (const char *h = name; *h; h++) {
        const char *a = h, *b = filter;
        while (*a && *b && *a == *b)
            a++, b++;
        if (!*b)
            return 1;
    }
    return 0;
}

static uint64_t best_of(unsigned repeats, uint64_t (*fn)(uint64_t), uint64_t arg)
{
    uint64_t best = ~0ull;
    for (unsigned r = 0; r < repeats; r++) {
        uint64_t t = fn(arg);
        if (t < best)
            best = t;
    }
    return best;
}

/* Thin adapters so every kernel fits best_of(). */
static void *g_start, *g_src, *g_dst;
static uint64_t run_chase(uint64_t n) { return chase(g_start, n); }
static uint64_t run_branchy_random(uint64_t n) { return branchy(n, 1); }
static uint64_t run_branchy_predictable(uint64_t n) { return branchy(n, 0); }
static uint64_t run_copy(uint64_t n) { return copy(g_dst, g_src, n); }

static void pointer_chase(const char *filter, unsigned repeats)
{
    static const struct { const char *name; uint64_t bytes; } sets[] = {
        {"chase_4k", 4ul << 10},   {"chase_16k", 16ul << 10}, {"chase_64k", 64ul << 10},
        {"chase_256k", 256ul << 10}, {"chase_1m", 1ul << 20},  {"chase_2m", 2ul << 20},
        {"chase_4m", 4ul << 20},   {"chase_8m", 8ul << 20},  {"chase_16m", 16ul << 20},
        {"chase_64m", 60ul << 20},
    };
    for (unsigned k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        if (!want(filter, sets[k].name))
            continue;
        uint64_t nodes = sets[k].bytes / LINE;
        g_start = build_cycle(nodes, LINE);
        uint64_t iters = nodes / 8 > 40000 ? nodes / 8 : 40000; /* 8 loads per iteration */
        chase(g_start, nodes / 8 + 1);                          /* warm-up pass */
        report(sets[k].name, best_of(repeats, run_chase, iters), iters * 8);
    }
}

static void tlb_reach(const char *filter, unsigned repeats)
{
    static const struct { const char *name; uint64_t pages; } sweep[] = {
        {"tlb_16p", 16},     {"tlb_64p", 64},     {"tlb_128p", 128},   {"tlb_256p", 256},
        {"tlb_1024p", 1024}, {"tlb_2048p", 2048}, {"tlb_4096p", 4096}, {"tlb_8192p", 8192},
    };
    for (unsigned k = 0; k < sizeof sweep / sizeof sweep[0]; k++) {
        if (!want(filter, sweep[k].name))
            continue;
        /* One line per page (build_cycle spreads them over the cache sets): the footprint, 512 KiB
         * at most, stays in the L2, so the sweep shows the TLBs. */
        g_start = build_cycle(sweep[k].pages, PAGE);
        uint64_t iters = sweep[k].pages > 40000 ? sweep[k].pages : 40000;
        chase(g_start, sweep[k].pages / 8 + 1);
        report(sweep[k].name, best_of(repeats, run_chase, iters), iters * 8);
    }
}

int calib_run(const char *filter, unsigned repeats)
{
    arena = (uint8_t *)calib_arena(ARENA_BYTES);
    if (!arena)
        return 1;
    pointer_chase(filter, repeats);
    tlb_reach(filter, repeats);
    if (want(filter, "alu_chain"))
        report("alu_chain", best_of(repeats, alu_chain, 200000), 200000 * 16);
    if (want(filter, "divide"))
        report("divide", best_of(repeats, divides, 50000), 50000 * 4);
    if (want(filter, "branch_random"))
        report("branch_random", best_of(repeats, run_branchy_random, 400000), 400000);
    if (want(filter, "branch_predictable"))
        report("branch_predictable", best_of(repeats, run_branchy_predictable, 400000), 400000);
    if (want(filter, "memcpy_16k")) {
        g_src = arena;
        g_dst = arena + (16ul << 10);
        run_copy(2048); /* warm */
        report("memcpy_16k", best_of(repeats, run_copy, 2048) , 2048);
    }
    if (want(filter, "memcpy_32m")) {
        g_src = arena;
        g_dst = arena + (32ul << 20);
        report("memcpy_32m", best_of(repeats, run_copy, (32ul << 20) / 8), (32ul << 20) / 8);
    }
    return 0;
}
