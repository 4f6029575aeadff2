/* loop: the speed benchmark. A 64-bit integer and memory loop over a 64 KiB
 * array (loads, stores, adds, xors, shifts; 14 instructions per word, see
 * kernel.S), about 1e8 instructions by default. Command line:
 *   iters=N   passes over the array (default 872: ~1.0e8 instructions)
 *   words=N   array size in 64-bit words (default 8192 = 64 KiB)
 * Prints RESULT checksum=... so runs can be checked for correctness, plus
 * the exact instruction count and the TSC cycles taken. */
#include "runtime.h"

uint64_t loop_kernel(uint64_t *buf, uint64_t nwords, uint64_t passes, uint64_t seed);

#define SEED 0x9e3779b97f4a7c15ull

static void fill(uint64_t *buf, uint64_t n)
{
    uint64_t x = 0x243f6a8885a308d3ull;
    for (uint64_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = x;
    }
}

/* Same computation in C: checks the machine against the compiler's idea. */
static uint64_t reference(uint64_t *buf, uint64_t n, uint64_t passes, uint64_t state)
{
    for (uint64_t p = 0; p < passes; p++) {
        for (uint64_t i = 0; i < n; i++) {
            uint64_t x = buf[i] ^ state;
            x ^= x << 13;
            x ^= x >> 7;
            x += i;
            buf[i] = x;
            state += x;
        }
        state = (state << 1) | (state >> 63);
    }
    return state;
}

static uint64_t fold(const uint64_t *buf, uint64_t n)
{
    uint64_t h = 0;
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ buf[i]) * 0x100000001b3ull;
    return h;
}

int main(const struct multiboot_info *mbi)
{
    uint64_t passes = cmdline_get("iters", 872);
    uint64_t words = cmdline_get("words", 8192);
    if (words == 0)
        words = 1;
    uint64_t pages = ALIGN_UP(words * 8, PAGE_SIZE) / PAGE_SIZE;
    uint64_t *buf = alloc_pages(pages), *ref = alloc_pages(pages);

    /* Correctness: a few passes against the C version. */
    fill(buf, words);
    fill(ref, words);
    uint64_t a = loop_kernel(buf, words, 3, SEED);
    uint64_t b = reference(ref, words, 3, SEED);
    report("kernel matches C reference (3 passes)", a == b && !memcmp(buf, ref, words * 8));

    /* The measured run. */
    fill(buf, words);
    uint64_t t0 = rdtsc_ordered();
    uint64_t state = passes ? loop_kernel(buf, words, passes, SEED) : SEED;
    uint64_t t1 = rdtsc_ordered();
    uint64_t insns = passes ? 8 + passes * (14 * words + 4) : 5 + 3;
    uint64_t checksum = state ^ fold(buf, words);

    result("iters", passes);
    result("words", words);
    result("instructions", insns);
    result("tsc_cycles", t1 - t0);
    if (t1 > t0)
        result("insns_per_kcycle", insns * 1000 / (t1 - t0));
    result_hex("checksum", checksum);
    /* Known value for the defaults (computed independently on the host), so a
     * plain run is self-checking. */
    if (passes == 872 && words == 8192 && !cmdline_has("nocheck"))
        reportf(checksum == 0x7afe73fa31ab178cull, "default checksum %#lx", checksum);
    return summary();
}
