/* cpu_basics: integer instructions as gcc -O2 code uses them, each checked
 * against a software reference built only from adds, shifts and logic (so a
 * broken MUL cannot vouch for itself), and folded into deterministic
 * RESULT checksums for comparing machines:
 *   sort, string instructions (REP MOVS/STOS/CMPS/SCAS, DF=1), MUL/IMUL/DIV/
 *   IDIV at 8/16/32/64 bits, arithmetic flags, all 16 conditions through
 *   SETcc/CMOVcc/Jcc, shifts/rotates/SHLD/SHRD, bit scans, BT* on memory bit
 *   strings, POPCNT/LZCNT/TZCNT when CPUID has them, BSWAP, sign extension,
 *   CMPXCHG/XADD/XCHG, ADC chains, and a small interpreter-style program.
 * Only architecturally defined results (and flags) are compared. */
#include "runtime.h"

typedef unsigned __int128 u128;

/* ---- per-section bookkeeping ---- */
static uint64_t H;     /* running checksum of the current section */
static unsigned nfail; /* failures in the current section */
static const char *section;
static uint64_t rng_state;

static void begin(const char *name)
{
    section = name;
    H = 0xcbf29ce484222325ull;
    nfail = 0;
    rng_state = 0x853c49e6748fea9bull; /* each section's inputs are independent */
}
static void mix(uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        H ^= (v >> (8 * i)) & 0xff;
        H *= 0x100000001b3ull;
    }
}
static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
    if (ok)
        return;
    if (nfail++ < 8) {
        va_list ap;
        va_start(ap, fmt);
        printf("  mismatch in %s: ", section);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}
/* Checksums of a correct machine, recorded on QEMU TCG (whose results also
 * pass every software reference here). They depend only on architecturally
 * defined results, so any machine must reproduce them; a mismatch with all
 * reference checks passing points at this table being stale. */
static const struct {
    const char *key;
    uint64_t value;
} golden[] = {
    {"sort_checksum", 0xe7802a735ce7d82cull},
    {"string_checksum", 0xae52dc1f2531ed5dull},
    {"muldiv_checksum", 0xca6397304804b626ull},
    {"alu_checksum", 0x3ebb38f2ed711c6bull},
    {"cond_checksum", 0xe92333d83add38e1ull},
    {"shift_checksum", 0x44fce0bd0b15b575ull},
    {"bits_checksum", 0x0ba122f9f350c712ull},
    {"atomic_checksum", 0x8a733d94969a8a5dull},
    {"program_checksum", 0xbdca0708712bf7dcull},
};
static unsigned golden_mismatches;

static void end(const char *key)
{
    reportf(nfail == 0, "%s (%u mismatches)", section, nfail);
    result_hex(key, H);
    for (unsigned i = 0; i < ARRAY_SIZE(golden); i++) {
        if (!strcmp(golden[i].key, key) && golden[i].value != H) {
            printf("  %s differs from the recorded value %#lx\n", key, golden[i].value);
            golden_mismatches++;
        }
    }
}

/* ---- deterministic pseudo-random numbers ---- */
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
/* Mostly random values, with edge cases mixed in. */
static const uint64_t edges[] = {
    0, 1, 2, 3, 0x7f, 0x80, 0x81, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff,
    0x80000000ull, 0xffffffffull, 0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
    0xffffffffffffffffull, 0xfffffffffffffffeull, 0x5555555555555555ull, 0xaaaaaaaaaaaaaaaaull,
};
static uint64_t val(unsigned i) { return i < ARRAY_SIZE(edges) ? edges[i] : rnd() >> (rnd() & 63); }

static uint64_t mask_w(unsigned w) { return w == 64 ? ~0ull : (1ull << w) - 1; }
static uint64_t sext(uint64_t v, unsigned w) { return w == 64 ? v : (uint64_t)(((int64_t)(v << (64 - w))) >> (64 - w)); }
static unsigned parity_even(uint64_t v)
{
    v &= 0xff;
    v ^= v >> 4;
    v ^= v >> 2;
    v ^= v >> 1;
    return !(v & 1);
}

/* ======================================================================
 * Sorting: insertion sort and heap sort must agree and be sorted. */
static void insertion_sort(uint32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}
static void sift(uint32_t *a, int start, int n)
{
    int root = start;
    while (2 * root + 1 < n) {
        int c = 2 * root + 1;
        if (c + 1 < n && a[c] < a[c + 1])
            c++;
        if (a[root] >= a[c])
            return;
        uint32_t t = a[root];
        a[root] = a[c];
        a[c] = t;
        root = c;
    }
}
static void heap_sort(uint32_t *a, int n)
{
    for (int s = n / 2 - 1; s >= 0; s--)
        sift(a, s, n);
    for (int e = n - 1; e > 0; e--) {
        uint32_t t = a[0];
        a[0] = a[e];
        a[e] = t;
        sift(a, 0, e);
    }
}
static void test_sort(void)
{
    begin("sort");
    enum { N = 1000 };
    static uint32_t a[N], b[N];
    uint64_t sum = 0, x = 0;
    for (int i = 0; i < N; i++) {
        a[i] = b[i] = (uint32_t)rnd() % 100000;
        sum += a[i];
        x ^= a[i];
    }
    insertion_sort(a, N);
    heap_sort(b, N);
    uint64_t sum2 = 0, x2 = 0;
    bool sorted = true;
    for (int i = 0; i < N; i++) {
        sum2 += a[i];
        x2 ^= a[i];
        if (i && a[i - 1] > a[i])
            sorted = false;
        check(a[i] == b[i], "a[%d]=%u b[%d]=%u", i, a[i], i, b[i]);
        mix(a[i]);
    }
    check(sorted, "not sorted");
    check(sum == sum2 && x == x2, "elements changed");
    end("sort_checksum");
}

/* ======================================================================
 * String instructions. */
static uint8_t sbuf_a[4096] __attribute__((aligned(64)));
static uint8_t sbuf_b[4096] __attribute__((aligned(64)));

static void fill_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static void test_strings(void)
{
    begin("string instructions");
    /* REP MOVSB forward, all small lengths and alignments. */
    for (unsigned len = 0; len < 80; len++) {
        for (unsigned so = 0; so < 8; so++) {
            unsigned dof = (len * 3 + so) & 7;
            fill_bytes(sbuf_a, 256);
            memset(sbuf_b, 0xee, 256);
            void *d = sbuf_b + 16 + dof;
            const void *s = sbuf_a + so;
            size_t n = len;
            asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n)::"memory");
            bool ok = n == 0 && d == sbuf_b + 16 + dof + len && s == sbuf_a + so + len;
            for (unsigned i = 0; i < 256; i++) {
                uint8_t want = (i >= 16 + dof && i < 16 + dof + len) ? sbuf_a[so + i - 16 - dof] : 0xee;
                if (sbuf_b[i] != want)
                    ok = false;
            }
            check(ok, "rep movsb len %u src off %u dst off %u", len, so, dof);
        }
    }
    /* REP MOVSQ / MOVSD / MOVSW. */
    fill_bytes(sbuf_a, 4096);
    {
        void *d = sbuf_b, *s = sbuf_a;
        size_t n = 400;
        asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n)::"memory");
        check(!memcmp(sbuf_b, sbuf_a, 3200) && d == sbuf_b + 3200, "rep movsq");
        d = sbuf_b + 1;
        s = sbuf_a + 3;
        n = 100;
        asm volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(n)::"memory");
        check(!memcmp(sbuf_b + 1, sbuf_a + 3, 400), "rep movsl misaligned");
        d = sbuf_b + 7;
        s = sbuf_a + 2;
        n = 33;
        asm volatile("rep movsw" : "+D"(d), "+S"(s), "+c"(n)::"memory");
        check(!memcmp(sbuf_b + 7, sbuf_a + 2, 66), "rep movsw");
    }
    /* DF=1: overlapping backward copy (memmove up by 5). */
    for (int i = 0; i < 200; i++)
        sbuf_a[i] = (uint8_t)i;
    {
        void *d = sbuf_a + 5 + 99, *s = sbuf_a + 99;
        size_t n = 100;
        asm volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n)::"memory");
        bool ok = d == sbuf_a + 4 && (uintptr_t)s == (uintptr_t)sbuf_a - 1;
        for (int i = 0; i < 105; i++)
            if (sbuf_a[i] != (i < 5 ? i : i - 5))
                ok = false;
        check(ok, "std; rep movsb backward overlap");
        /* DF=1 with movsq. */
        for (int i = 0; i < 64; i++)
            ((uint64_t *)sbuf_b)[i] = i * 0x0101010101010101ull;
        d = sbuf_b + 8 * 40;
        s = sbuf_b + 8 * 39;
        n = 40;
        asm volatile("std\n\trep movsq\n\tcld" : "+D"(d), "+S"(s), "+c"(n)::"memory");
        ok = true;
        for (int i = 1; i <= 40; i++)
            if (((uint64_t *)sbuf_b)[i] != (i - 1) * 0x0101010101010101ull)
                ok = false;
        check(ok, "std; rep movsq backward overlap");
    }
    /* REP STOSB/STOSW/STOSD/STOSQ. */
    {
        memset(sbuf_b, 0, 4096);
        void *d = sbuf_b + 3;
        size_t n = 1001;
        asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0x5a) : "memory");
        bool ok = sbuf_b[2] == 0 && sbuf_b[3] == 0x5a && sbuf_b[1003] == 0x5a && sbuf_b[1004] == 0;
        check(ok, "rep stosb");
        d = sbuf_b + 2048;
        n = 100;
        asm volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0x0123456789abcdefull) : "memory");
        ok = ((uint64_t *)(sbuf_b + 2048))[0] == 0x0123456789abcdefull &&
             ((uint64_t *)(sbuf_b + 2048))[99] == 0x0123456789abcdefull && sbuf_b[2048 + 800] == 0;
        check(ok && d == sbuf_b + 2048 + 800, "rep stosq");
        d = sbuf_b + 1;
        n = 10;
        asm volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(0xdeadbeef) : "memory");
        check(*(uint32_t *)(sbuf_b + 37) == 0xdeadbeef && sbuf_b[41] == 0x5a, "rep stosl");
        d = sbuf_b + 1;
        n = 3;
        asm volatile("rep stosw" : "+D"(d), "+c"(n) : "a"(0xbeef) : "memory");
        check(*(uint16_t *)(sbuf_b + 5) == 0xbeef && *(uint32_t *)(sbuf_b + 9) == 0xdeadbeef,
              "rep stosw");
    }
    for (int i = 0; i < 4096; i++)
        mix(sbuf_b[i]);
    /* REPE CMPSB: position of the first difference. */
    for (unsigned diff = 0; diff < 64; diff++) {
        fill_bytes(sbuf_a, 64);
        memcpy(sbuf_b, sbuf_a, 64);
        sbuf_b[diff] ^= 0x10;
        const void *s = sbuf_a, *d = sbuf_b;
        size_t n = 64;
        uint64_t fl;
        asm volatile("cmp %%eax, %%eax\n\trepe cmpsb\n\tpushfq\n\tpopq %3"
                     : "+S"(s), "+D"(d), "+c"(n), "=r"(fl)::"memory", "rax");
        check(n == 63 - diff && s == sbuf_a + diff + 1 && !(fl & RFLAGS_ZF),
              "repe cmpsb diff at %u: rcx %zu", diff, n);
        mix(n);
    }
    {
        memcpy(sbuf_b, sbuf_a, 64);
        const void *s = sbuf_a, *d = sbuf_b;
        size_t n = 64;
        uint64_t fl;
        asm volatile("repe cmpsb\n\tpushfq\n\tpopq %3" : "+S"(s), "+D"(d), "+c"(n), "=r"(fl)::"memory");
        check(n == 0 && (fl & RFLAGS_ZF), "repe cmpsb equal buffers");
        /* rcx = 0: nothing happens, flags unchanged (set CF first). */
        n = 0;
        asm volatile("stc\n\trepe cmpsb\n\tpushfq\n\tpopq %3" : "+S"(s), "+D"(d), "+c"(n), "=r"(fl)::"memory");
        check(n == 0 && (fl & RFLAGS_CF) && s == sbuf_a + 64, "rep with rcx=0 is a no-op");
    }
    /* REPNE SCASB as strlen. */
    for (unsigned len = 0; len < 100; len++) {
        memset(sbuf_a, 'x', 128);
        sbuf_a[len] = 0;
        const void *d = sbuf_a;
        size_t n = ~0ull;
        asm volatile("repne scasb" : "+D"(d), "+c"(n) : "a"(0) : "memory");
        size_t got = ~n - 1;
        check(got == len, "repne scasb strlen %u got %zu", len, got);
        mix(got);
    }
    /* LODSB/STOSB loop (a byte-wise transform). */
    {
        for (int i = 0; i < 256; i++)
            sbuf_a[i] = (uint8_t)i;
        const void *s = sbuf_a;
        void *d = sbuf_b;
        for (int i = 0; i < 256; i++)
            asm volatile("lodsb\n\txor $0x5c, %%al\n\tstosb" : "+S"(s), "+D"(d)::"rax", "memory");
        bool ok = true;
        for (int i = 0; i < 256; i++)
            if (sbuf_b[i] != (uint8_t)(i ^ 0x5c))
                ok = false;
        check(ok, "lodsb/stosb");
    }
    end("string_checksum");
}

/* ======================================================================
 * MUL, IMUL, DIV, IDIV at all widths. */

/* References: shift-and-add multiply and restoring division. */
static u128 soft_mulu(uint64_t a, uint64_t b)
{
    u128 r = 0, aa = a;
    for (int i = 0; i < 64; i++)
        if ((b >> i) & 1)
            r += aa << i;
    return r;
}
static u128 soft_muls(int64_t a, int64_t b)
{
    uint64_t ma = a < 0 ? -(uint64_t)a : (uint64_t)a, mb = b < 0 ? -(uint64_t)b : (uint64_t)b;
    u128 r = soft_mulu(ma, mb);
    return ((a < 0) != (b < 0)) ? -r : r;
}
static u128 soft_divu(u128 n, u128 d, u128 *rem)
{
    u128 q = 0, r = 0;
    for (int i = 127; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1);
        q <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1;
        }
    }
    *rem = r;
    return q;
}
/* Signed division of a 128-bit dividend, truncating toward zero. */
static __int128 soft_divs(__int128 n, __int128 d, __int128 *rem)
{
    u128 mn = n < 0 ? -(u128)n : (u128)n, md = d < 0 ? -(u128)d : (u128)d, r;
    u128 q = soft_divu(mn, md, &r);
    *rem = n < 0 ? -(__int128)r : (__int128)r;
    return ((n < 0) != (d < 0)) ? -(__int128)q : (__int128)q;
}

#define FLAGS_OUT "\n\tpushfq\n\tpopq %[f]"

/* 8-bit forms use AX. */
static uint16_t hw_mul8(uint8_t a, uint8_t b, uint64_t *fl)
{
    uint16_t ax = a;
    asm("mulb %[b]" FLAGS_OUT : "+a"(ax), [f] "=r"(*fl) : [b] "qm"(b) : "cc");
    return ax;
}
static uint16_t hw_imul8(uint8_t a, uint8_t b, uint64_t *fl)
{
    uint16_t ax = a;
    asm("imulb %[b]" FLAGS_OUT : "+a"(ax), [f] "=r"(*fl) : [b] "qm"(b) : "cc");
    return ax;
}
static uint16_t hw_div8(uint16_t ax, uint8_t d)
{
    asm("divb %[d]" : "+a"(ax) : [d] "qm"(d) : "cc");
    return ax; /* AH = remainder, AL = quotient */
}
static uint16_t hw_idiv8(uint16_t ax, uint8_t d)
{
    asm("idivb %[d]" : "+a"(ax) : [d] "qm"(d) : "cc");
    return ax;
}

/* 16/32/64-bit forms use rDX:rAX. */
#define DEF_MULDIV(W, T, S)                                                                    \
    static T hw_mul##W(T a, T b, T *hi, uint64_t *fl)                                          \
    {                                                                                          \
        T lo = a, h;                                                                           \
        asm("mul" S " %[b]" FLAGS_OUT : "+a"(lo), "=d"(h), [f] "=r"(*fl) : [b] "rm"(b) : "cc"); \
        *hi = h;                                                                               \
        return lo;                                                                             \
    }                                                                                          \
    static T hw_imul##W(T a, T b, T *hi, uint64_t *fl)                                         \
    {                                                                                          \
        T lo = a, h;                                                                           \
        asm("imul" S " %[b]" FLAGS_OUT : "+a"(lo), "=d"(h), [f] "=r"(*fl) : [b] "rm"(b) : "cc"); \
        *hi = h;                                                                               \
        return lo;                                                                             \
    }                                                                                          \
    static T hw_imul2_##W(T a, T b, uint64_t *fl)                                              \
    {                                                                                          \
        asm("imul" S " %[b], %[a]" FLAGS_OUT : [a] "+r"(a), [f] "=r"(*fl) : [b] "rm"(b) : "cc"); \
        return a;                                                                              \
    }                                                                                          \
    static T hw_div##W(T hi, T lo, T d, T *rem)                                                \
    {                                                                                          \
        asm("div" S " %[d]" : "+a"(lo), "+d"(hi) : [d] "rm"(d) : "cc");                        \
        *rem = hi;                                                                             \
        return lo;                                                                             \
    }                                                                                          \
    static T hw_idiv##W(T hi, T lo, T d, T *rem)                                               \
    {                                                                                          \
        asm("idiv" S " %[d]" : "+a"(lo), "+d"(hi) : [d] "rm"(d) : "cc");                       \
        *rem = hi;                                                                             \
        return lo;                                                                             \
    }
DEF_MULDIV(16, uint16_t, "w")
DEF_MULDIV(32, uint32_t, "l")
DEF_MULDIV(64, uint64_t, "q")

/* Generic wrappers over the widths. */
static void hw_mul(unsigned w, bool sgn, uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo, uint64_t *fl)
{
    switch (w) {
    case 8: {
        uint16_t ax = sgn ? hw_imul8(a, b, fl) : hw_mul8(a, b, fl);
        *lo = ax & 0xff;
        *hi = ax >> 8;
        break;
    }
    case 16: {
        uint16_t h, l = sgn ? hw_imul16(a, b, &h, fl) : hw_mul16(a, b, &h, fl);
        *lo = l;
        *hi = h;
        break;
    }
    case 32: {
        uint32_t h, l = sgn ? hw_imul32(a, b, &h, fl) : hw_mul32(a, b, &h, fl);
        *lo = l;
        *hi = h;
        break;
    }
    default: {
        uint64_t h, l = sgn ? hw_imul64(a, b, &h, fl) : hw_mul64(a, b, &h, fl);
        *lo = l;
        *hi = h;
        break;
    }
    }
}
static void hw_div(unsigned w, bool sgn, uint64_t hi, uint64_t lo, uint64_t d, uint64_t *q, uint64_t *r)
{
    switch (w) {
    case 8: {
        uint16_t ax = sgn ? hw_idiv8((hi << 8) | lo, d) : hw_div8((hi << 8) | lo, d);
        *q = ax & 0xff;
        *r = ax >> 8;
        break;
    }
    case 16: {
        uint16_t rr, qq = sgn ? hw_idiv16(hi, lo, d, &rr) : hw_div16(hi, lo, d, &rr);
        *q = qq;
        *r = rr;
        break;
    }
    case 32: {
        uint32_t rr, qq = sgn ? hw_idiv32(hi, lo, d, &rr) : hw_div32(hi, lo, d, &rr);
        *q = qq;
        *r = rr;
        break;
    }
    default: {
        uint64_t rr, qq = sgn ? hw_idiv64(hi, lo, d, &rr) : hw_div64(hi, lo, d, &rr);
        *q = qq;
        *r = rr;
        break;
    }
    }
}

static void test_muldiv(void)
{
    begin("mul/imul/div/idiv 8-64 bit");
    static const unsigned widths[] = {8, 16, 32, 64};
    for (unsigned wi = 0; wi < 4; wi++) {
        unsigned w = widths[wi];
        uint64_t m = mask_w(w);
        for (unsigned i = 0; i < 300; i++) {
            uint64_t a = val(i) & m, b = val(i * 7 + 3) & m, hi, lo, fl;
            /* unsigned */
            u128 p = soft_mulu(a, b);
            uint64_t plo = (uint64_t)p & m, phi = w == 64 ? (uint64_t)(p >> 64) : (uint64_t)(p >> w) & m;
            hw_mul(w, false, a, b, &hi, &lo, &fl);
            bool cf = phi != 0;
            check(lo == plo && hi == phi && !!(fl & RFLAGS_CF) == cf && !!(fl & RFLAGS_OF) == cf,
                  "mul%u %#lx*%#lx = %#lx:%#lx want %#lx:%#lx", w, a, b, hi, lo, phi, plo);
            mix(hi);
            mix(lo);
            mix(fl & (RFLAGS_CF | RFLAGS_OF));
            /* signed */
            __int128 sp = (__int128)soft_muls((int64_t)sext(a, w), (int64_t)sext(b, w));
            uint64_t slo = (uint64_t)sp & m;
            uint64_t shi = w == 64 ? (uint64_t)((u128)sp >> 64) : (uint64_t)((u128)sp >> w) & m;
            hw_mul(w, true, a, b, &hi, &lo, &fl);
            bool scf = sp != (__int128)(int64_t)sext(slo, w);
            check(lo == slo && hi == shi && !!(fl & RFLAGS_CF) == scf && !!(fl & RFLAGS_OF) == scf,
                  "imul%u %#lx*%#lx = %#lx:%#lx want %#lx:%#lx", w, a, b, hi, lo, shi, slo);
            mix(hi);
            mix(lo);
            mix(fl & (RFLAGS_CF | RFLAGS_OF));
            /* two-operand IMUL (16/32/64) */
            if (w > 8) {
                uint64_t r = w == 16 ? hw_imul2_16(a, b, &fl) : w == 32 ? hw_imul2_32(a, b, &fl) : hw_imul2_64(a, b, &fl);
                check(r == slo && !!(fl & RFLAGS_CF) == scf && !!(fl & RFLAGS_OF) == scf,
                      "imul%u 2-op %#lx*%#lx = %#lx want %#lx", w, a, b, r, slo);
                mix(r);
            }

            /* unsigned division: dividend hi:lo with hi < d, so no overflow */
            uint64_t d = (val(i * 5 + 1) & m) | (i & 1 ? 0 : 1);
            if (!d)
                d = 1;
            uint64_t dhi = (rnd() & m) % d, dlo = rnd() & m, q, r;
            u128 n = w == 64 ? ((u128)dhi << 64) | dlo : ((u128)dhi << w) | dlo, rr;
            u128 qq = soft_divu(n, d, &rr);
            hw_div(w, false, dhi, dlo, d, &q, &r);
            check(q == (uint64_t)qq && r == (uint64_t)rr, "div%u %#lx:%#lx / %#lx = %#lx r %#lx want %#lx r %#lx",
                  w, dhi, dlo, d, q, r, (uint64_t)qq, (uint64_t)rr);
            mix(q);
            mix(r);

            /* signed division: dividend = q0 * d + r0 with |q0| < 2^(w-2), |r0| < |d|
             * and r0 carrying the dividend's sign, so the result is exactly q0, r0. */
            int64_t sd = (int64_t)sext(d, w);
            if (sd == 0)
                sd = 1;
            int64_t q0 = (int64_t)sext(rnd() & m, w) >> 2;
            uint64_t md = sd < 0 ? -(uint64_t)sd : (uint64_t)sd;
            uint64_t mr = md > 1 ? rnd() % md : 0;
            __int128 prod = (__int128)soft_muls(q0, sd);
            int64_t r0 = (prod < 0 || (prod == 0 && (rnd() & 1))) ? -(int64_t)mr : (int64_t)mr;
            __int128 sn = prod + r0;
            __int128 wr;
            __int128 wq = soft_divs(sn, sd, &wr);
            uint64_t nlo = (uint64_t)sn & m;
            uint64_t nhi = w == 64 ? (uint64_t)((u128)sn >> 64) : (uint64_t)((u128)sn >> w) & m;
            hw_div(w, true, nhi, nlo, (uint64_t)sd & m, &q, &r);
            check(wq == q0 && wr == r0, "idiv%u reference self-check", w);
            check(q == ((uint64_t)q0 & m) && r == ((uint64_t)r0 & m),
                  "idiv%u %#lx:%#lx / %ld = %#lx r %#lx want %#lx r %#lx", w, nhi, nlo, sd, q, r,
                  (uint64_t)q0 & m, (uint64_t)r0 & m);
            mix(q);
            mix(r);
        }
    }
    /* Quotient overflow raises #DE, like division by zero. */
    uint64_t rax_out;
    int v;
    asm volatile("mov $2, %%edx\n\t"
                 "xor %%eax, %%eax\n\t"
                 "mov $1, %%ecx\n"
                 "1:\tdivq %%rcx\n\t"
                 "mov $-1, %%eax\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "=a"(rax_out)
                 :
                 : "rcx", "rdx", "memory");
    v = (int)rax_out;
    check(v == VEC_DE, "div overflow gives #DE (%d)", v);
    asm volatile("movabs $0x8000000000000000, %%rax\n\t"
                 "cqo\n\t"
                 "mov $-1, %%rcx\n"
                 "1:\tidivq %%rcx\n\t"
                 "mov $-1, %%eax\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "=a"(rax_out)
                 :
                 : "rcx", "rdx", "memory");
    v = (int)rax_out;
    check(v == VEC_DE, "INT64_MIN / -1 gives #DE (%d)", v);
    end("muldiv_checksum");
}

/* ======================================================================
 * Arithmetic flags of ALU operations at all widths. */
enum { OP_ADD, OP_ADC, OP_SUB, OP_SBB, OP_CMP, OP_AND, OP_OR, OP_XOR, OP_NEG, OP_INC, OP_DEC, OP_COUNT };
static const char *const op_names[] = {"add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "neg", "inc", "dec"};

#define STATUS_FLAGS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

/* Runs `op` at width w on a, b with incoming CF; returns result, *fl = RFLAGS after. */
#define ALU2(insn, S, T)                                                                                \
    asm("push %[fi]\n\tpopfq\n\t" insn S " %[b], %[a]" FLAGS_OUT                                   \
        : [a] "+r"(x##T), [f] "=r"(f)                                                                  \
        : [b] "r"(y##T), [fi] "r"(fin)                                                                 \
        : "cc")
#define ALU1(insn, S, T)                                                                                \
    asm("push %[fi]\n\tpopfq\n\t" insn S " %[a]" FLAGS_OUT : [a] "+r"(x##T), [f] "=r"(f) : [fi] "r"(fin) : "cc")

#define ALU_CASES(S, T)                                       \
    switch (op) {                                             \
    case OP_ADD: ALU2("add", S, T); break;                    \
    case OP_ADC: ALU2("adc", S, T); break;                    \
    case OP_SUB: ALU2("sub", S, T); break;                    \
    case OP_SBB: ALU2("sbb", S, T); break;                    \
    case OP_CMP: ALU2("cmp", S, T); break;                    \
    case OP_AND: ALU2("and", S, T); break;                    \
    case OP_OR: ALU2("or", S, T); break;                      \
    case OP_XOR: ALU2("xor", S, T); break;                    \
    case OP_NEG: ALU1("neg", S, T); break;                    \
    case OP_INC: ALU1("inc", S, T); break;                    \
    case OP_DEC: ALU1("dec", S, T); break;                    \
    }

static uint64_t hw_alu(int op, unsigned w, uint64_t a, uint64_t b, bool cin, uint64_t *fl)
{
    uint64_t fin = 2 | (cin ? RFLAGS_CF : 0), f = 0;
    uint8_t x8 = a, y8 = b;
    uint16_t x16 = a, y16 = b;
    uint32_t x32 = a, y32 = b;
    uint64_t x64 = a, y64 = b, r;
    switch (w) {
    case 8:
        /* 8-bit register operands need "q" registers; use a separate block. */
        switch (op) {
        case OP_ADD: asm("push %[fi]\n\tpopfq\n\taddb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_ADC: asm("push %[fi]\n\tpopfq\n\tadcb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_SUB: asm("push %[fi]\n\tpopfq\n\tsubb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_SBB: asm("push %[fi]\n\tpopfq\n\tsbbb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_CMP: asm("push %[fi]\n\tpopfq\n\tcmpb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_AND: asm("push %[fi]\n\tpopfq\n\tandb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_OR: asm("push %[fi]\n\tpopfq\n\torb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_XOR: asm("push %[fi]\n\tpopfq\n\txorb %[b], %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [b] "q"(y8), [fi] "r"(fin) : "cc"); break;
        case OP_NEG: asm("push %[fi]\n\tpopfq\n\tnegb %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [fi] "r"(fin) : "cc"); break;
        case OP_INC: asm("push %[fi]\n\tpopfq\n\tincb %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [fi] "r"(fin) : "cc"); break;
        case OP_DEC: asm("push %[fi]\n\tpopfq\n\tdecb %[a]" FLAGS_OUT : [a] "+q"(x8), [f] "=r"(f) : [fi] "r"(fin) : "cc"); break;
        }
        r = x8;
        break;
    case 16: ALU_CASES("w", 16) r = x16; break;
    case 32: ALU_CASES("l", 32) r = x32; break;
    default: ALU_CASES("q", 64) r = x64; break;
    }
    *fl = f;
    return r;
}

/* Reference result and flags; *defined gets the mask of defined flags. */
static uint64_t ref_alu(int op, unsigned w, uint64_t a, uint64_t b, bool cin, uint64_t *fl, uint64_t *defined)
{
    uint64_t m = mask_w(w), top = 1ull << (w - 1), r, f = 0;
    a &= m;
    b &= m;
    uint64_t carry_bits = 0, ovf = 0;
    bool has_cf = true, has_af = true;
    switch (op) {
    case OP_ADD:
    case OP_ADC:
    case OP_INC: {
        uint64_t bb = op == OP_INC ? 1 : b, c = op == OP_ADC && cin;
        r = (a + bb + c) & m;
        carry_bits = (a & bb) | ((a | bb) & ~r);
        ovf = (a ^ r) & (bb ^ r);
        if (op == OP_INC)
            has_cf = false;
        b = bb;
        break;
    }
    case OP_SUB:
    case OP_SBB:
    case OP_CMP:
    case OP_DEC:
    case OP_NEG: {
        uint64_t x = op == OP_NEG ? 0 : a, y = op == OP_NEG ? a : op == OP_DEC ? 1 : b;
        uint64_t c = op == OP_SBB && cin;
        r = (x - y - c) & m;
        carry_bits = (~x & y) | ((~x | y) & r);
        ovf = (x ^ y) & (x ^ r);
        if (op == OP_DEC)
            has_cf = false;
        a = x;
        b = y;
        break;
    }
    default:
        r = op == OP_AND ? a & b : op == OP_OR ? a | b : a ^ b;
        has_af = false; /* AF undefined, CF = OF = 0 */
        break;
    }
    if (has_cf && (carry_bits & top))
        f |= RFLAGS_CF;
    if (!has_cf && cin)
        f |= RFLAGS_CF; /* INC/DEC keep CF */
    if (ovf & top)
        f |= RFLAGS_OF;
    if (has_af && ((a ^ b ^ r) & 0x10))
        f |= RFLAGS_AF;
    if (r & top)
        f |= RFLAGS_SF;
    if (r == 0)
        f |= RFLAGS_ZF;
    if (parity_even(r))
        f |= RFLAGS_PF;
    *fl = f;
    *defined = STATUS_FLAGS & ~(has_af ? 0 : RFLAGS_AF);
    return op == OP_CMP ? a : r;
}

static void test_alu_flags(void)
{
    begin("ALU results and flags 8-64 bit");
    static const unsigned widths[] = {8, 16, 32, 64};
    for (unsigned wi = 0; wi < 4; wi++) {
        unsigned w = widths[wi];
        for (unsigned i = 0; i < 120; i++) {
            uint64_t a = val(i), b = val((i * 13 + 5) % 140);
            for (int op = 0; op < OP_COUNT; op++) {
                for (int cin = 0; cin < 2; cin++) {
                    uint64_t fl, rfl, def;
                    uint64_t r = hw_alu(op, w, a, b, cin, &fl);
                    uint64_t want = ref_alu(op, w, a, b, cin, &rfl, &def);
                    check(r == want && (fl & def) == (rfl & def),
                          "%s%u %#lx,%#lx cf=%d: %#lx flags %#lx want %#lx flags %#lx", op_names[op], w,
                          a & mask_w(w), b & mask_w(w), cin, r, fl & def, want, rfl & def);
                    mix(r);
                    mix(fl & def);
                }
            }
        }
    }
    end("alu_checksum");
}

/* ======================================================================
 * The 16 condition codes through SETcc, CMOVcc and Jcc, for all 32
 * combinations of CF, PF, ZF, SF, OF. */
#define CC_LIST(X) X(o, 0) X(no, 1) X(b, 2) X(ae, 3) X(e, 4) X(ne, 5) X(be, 6) X(a, 7) \
                   X(s, 8) X(ns, 9) X(p, 10) X(np, 11) X(l, 12) X(ge, 13) X(le, 14) X(g, 15)
#define STR_(x) #x
#define STR(x) STR_(x)
#define SETCC(cc, n) "set" #cc " " #n "(%[p])\n\t"
#define CMOVCC(cc, n) "mov $0, %%eax\n\tcmov" #cc " %%rcx, %%rax\n\tmov %%al, " #n "(%[p])\n\t"
#define JCC(cc, n) "movb $1, " #n "(%[p])\n\tj" #cc " 1f\n\tmovb $0, " #n "(%[p])\n1:\n\t"

static bool ref_cc(int cc, uint64_t f)
{
    bool cf = f & RFLAGS_CF, pf = f & RFLAGS_PF, zf = f & RFLAGS_ZF, sf = f & RFLAGS_SF, of = f & RFLAGS_OF;
    bool r;
    switch (cc >> 1) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    default: r = zf || (sf != of); break;
    }
    return (cc & 1) ? !r : r;
}

static void test_conditions(void)
{
    begin("SETcc/CMOVcc/Jcc, all conditions");
    static const uint64_t bits[5] = {RFLAGS_CF, RFLAGS_PF, RFLAGS_ZF, RFLAGS_SF, RFLAGS_OF};
    for (unsigned combo = 0; combo < 32; combo++) {
        uint64_t f = 2;
        for (int i = 0; i < 5; i++)
            if (combo & (1u << i))
                f |= bits[i];
        uint8_t s[16], c[16], j[16];
        asm volatile("push %[f]\n\tpopfq\n\t" CC_LIST(SETCC) : : [p] "r"(s), [f] "r"(f) : "memory", "cc");
        asm volatile("push %[f]\n\tpopfq\n\t" CC_LIST(CMOVCC) : : [p] "r"(c), [f] "r"(f), "c"(1ul) : "rax", "memory", "cc");
        asm volatile("push %[f]\n\tpopfq\n\t" CC_LIST(JCC) : : [p] "r"(j), [f] "r"(f) : "memory", "cc");
        for (int cc = 0; cc < 16; cc++) {
            bool want = ref_cc(cc, f);
            check(s[cc] == want && c[cc] == want && j[cc] == want, "cc %d flags %#lx: set %u cmov %u j %u want %d",
                  cc, f, s[cc], c[cc], j[cc], want);
            mix(s[cc] | (c[cc] << 1) | (j[cc] << 2));
        }
    }
    /* CMOV with a false condition still zero-extends a 32-bit destination. */
    uint64_t d = ~0ull;
    asm("xor %%ecx, %%ecx\n\tcmp %%ecx, %%ecx\n\tcmovnel %%ecx, %k0" : "+r"(d)::"rcx", "cc");
    check(d == 0xffffffffull, "cmovne r32 not taken zero-extends (%#lx)", d);
    mix(d);
    /* LOOP and JRCXZ. */
    uint64_t n = 10, cnt = 0;
    asm("1:\n\tinc %1\n\tloop 1b" : "+c"(n), "+r"(cnt));
    uint64_t z = 0, taken;
    asm("mov $1, %1\n\tjrcxz 1f\n\tmov $0, %1\n1:" : "+c"(z), "=r"(taken));
    check(cnt == 10 && n == 0 && taken == 1, "loop/jrcxz");
    end("cond_checksum");
}

/* ======================================================================
 * Shifts and rotates. */
enum { SH_SHL, SH_SHR, SH_SAR, SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_COUNT };
static const char *const sh_names[] = {"shl", "shr", "sar", "rol", "ror", "rcl", "rcr"};

#define SHIFT_ASM(insn, S, T, REG)                                                                 \
    asm("push %[fi]\n\tpopfq\n\t" insn S " %%cl, %[a]" FLAGS_OUT : [a] "+" REG(x##T), [f] "=r"(f) \
        : "c"(cnt), [fi] "r"(fin) : "cc")
#define SHIFT_CASES(S, T, REG)                        \
    switch (op) {                                     \
    case SH_SHL: SHIFT_ASM("shl", S, T, REG); break; \
    case SH_SHR: SHIFT_ASM("shr", S, T, REG); break; \
    case SH_SAR: SHIFT_ASM("sar", S, T, REG); break; \
    case SH_ROL: SHIFT_ASM("rol", S, T, REG); break; \
    case SH_ROR: SHIFT_ASM("ror", S, T, REG); break; \
    case SH_RCL: SHIFT_ASM("rcl", S, T, REG); break; \
    case SH_RCR: SHIFT_ASM("rcr", S, T, REG); break; \
    }

static uint64_t hw_shift(int op, unsigned w, uint64_t a, uint8_t cnt, bool cin, uint64_t *fl)
{
    uint64_t fin = 2 | (cin ? RFLAGS_CF : 0), f = 0, r;
    uint8_t x8 = a;
    uint16_t x16 = a;
    uint32_t x32 = a;
    uint64_t x64 = a;
    switch (w) {
    case 8: SHIFT_CASES("b", 8, "q") r = x8; break;
    case 16: SHIFT_CASES("w", 16, "r") r = x16; break;
    case 32: SHIFT_CASES("l", 32, "r") r = x32; break;
    default: SHIFT_CASES("q", 64, "r") r = x64; break;
    }
    *fl = f;
    return r;
}

/* Reference, bit by bit. *defined = mask of flags the SDM defines here. */
static uint64_t ref_shift(int op, unsigned w, uint64_t a, uint8_t cnt, bool cin, uint64_t *fl, uint64_t *defined)
{
    uint64_t m = mask_w(w), top = 1ull << (w - 1);
    unsigned c = cnt & (w == 64 ? 63 : 31);
    a &= m;
    *defined = 0;
    *fl = 0;
    if (c == 0)
        return a; /* flags unaffected: nothing to compare */
    uint64_t r = a;
    bool cf = cin;
    unsigned steps = c;
    if (op == SH_ROL || op == SH_ROR)
        steps = c % w;
    if (op == SH_RCL || op == SH_RCR)
        steps = c % (w + 1);
    for (unsigned i = 0; i < steps; i++) {
        bool msb = r & top, lsb = r & 1;
        switch (op) {
        case SH_SHL: cf = msb; r = (r << 1) & m; break;
        case SH_SHR: cf = lsb; r >>= 1; break;
        case SH_SAR: cf = lsb; r = (r >> 1) | (msb ? top : 0); break;
        case SH_ROL: r = ((r << 1) & m) | msb; break;
        case SH_ROR: r = (r >> 1) | (lsb ? top : 0); break;
        case SH_RCL: r = ((r << 1) & m) | cf; cf = msb; break;
        case SH_RCR: r = (r >> 1) | (cf ? top : 0); cf = lsb; break;
        }
    }
    if (op == SH_ROL)
        cf = r & 1;
    if (op == SH_ROR)
        cf = r & top;
    uint64_t f = 0, def = 0;
    bool is_shift = op <= SH_SAR;
    /* CF: shifts with count >= width leave it undefined (only possible for 8/16). */
    if (!(is_shift && c >= w)) {
        def |= RFLAGS_CF;
        if (cf)
            f |= RFLAGS_CF;
    }
    if (c == 1) {
        def |= RFLAGS_OF;
        bool of;
        switch (op) {
        case SH_SHL: of = !!(r & top) != cf; break;
        case SH_SHR: of = a & top; break;
        case SH_SAR: of = false; break;
        case SH_ROL: case SH_RCL: of = !!(r & top) != cf; break;
        default: of = !!(r & top) != !!(r & (top >> 1)); break; /* ROR/RCR: xor of two top bits */
        }
        if (of)
            f |= RFLAGS_OF;
    }
    if (is_shift) {
        def |= RFLAGS_SF | RFLAGS_ZF | RFLAGS_PF;
        if (r & top)
            f |= RFLAGS_SF;
        if (!r)
            f |= RFLAGS_ZF;
        if (parity_even(r))
            f |= RFLAGS_PF;
    }
    *fl = f;
    *defined = def;
    return r;
}

static uint64_t hw_shld(unsigned w, uint64_t a, uint64_t b, uint8_t c, bool right, uint64_t *fl)
{
    uint64_t f;
    if (w == 16) {
        uint16_t x = a, y = b;
        if (right) asm("shrdw %%cl, %[b], %[a]" FLAGS_OUT : [a] "+r"(x), [f] "=r"(f) : [b] "r"(y), "c"(c) : "cc");
        else asm("shldw %%cl, %[b], %[a]" FLAGS_OUT : [a] "+r"(x), [f] "=r"(f) : [b] "r"(y), "c"(c) : "cc");
        *fl = f;
        return x;
    }
    if (w == 32) {
        uint32_t x = a, y = b;
        if (right) asm("shrdl %%cl, %[b], %[a]" FLAGS_OUT : [a] "+r"(x), [f] "=r"(f) : [b] "r"(y), "c"(c) : "cc");
        else asm("shldl %%cl, %[b], %[a]" FLAGS_OUT : [a] "+r"(x), [f] "=r"(f) : [b] "r"(y), "c"(c) : "cc");
        *fl = f;
        return x;
    }
    uint64_t x = a, y = b;
    if (right) asm("shrdq %%cl, %[b], %[a]" FLAGS_OUT : [a] "+r"(x), [f] "=r"(f) : [b] "r"(y), "c"(c) : "cc");
    else asm("shldq %%cl, %[b], %[a]" FLAGS_OUT : [a] "+r"(x), [f] "=r"(f) : [b] "r"(y), "c"(c) : "cc");
    *fl = f;
    return x;
}

static void test_shifts(void)
{
    begin("shifts, rotates, SHLD/SHRD");
    static const unsigned widths[] = {8, 16, 32, 64};
    for (unsigned wi = 0; wi < 4; wi++) {
        unsigned w = widths[wi];
        for (unsigned i = 0; i < 40; i++) {
            uint64_t a = val(i);
            for (unsigned c = 0; c < 70; c += (c < 20 ? 1 : 7)) {
                for (int op = 0; op < SH_COUNT; op++) {
                    bool cin = (i + c) & 1;
                    uint64_t fl, rfl, def;
                    uint64_t r = hw_shift(op, w, a, c, cin, &fl);
                    uint64_t want = ref_shift(op, w, a, c, cin, &rfl, &def);
                    check(r == want && (fl & def) == (rfl & def),
                          "%s%u %#lx by %u cf=%d: %#lx fl %#lx want %#lx fl %#lx", sh_names[op], w,
                          a & mask_w(w), c, cin, r, fl & def, want, rfl & def);
                    mix(r);
                    mix(fl & def);
                }
            }
        }
    }
    /* SHLD/SHRD with counts 1..w-1 (defined range), CF = last bit out. */
    static const unsigned dw[] = {16, 32, 64};
    for (unsigned wi = 0; wi < 3; wi++) {
        unsigned w = dw[wi];
        uint64_t m = mask_w(w);
        for (unsigned i = 0; i < 30; i++) {
            uint64_t a = val(i) & m, b = val(i + 40) & m;
            for (unsigned c = 1; c < w; c += 3) {
                uint64_t fl;
                uint64_t l = hw_shld(w, a, b, c, false, &fl);
                uint64_t wl = ((a << c) | (b >> (w - c))) & m;
                bool wcf = (a >> (w - c)) & 1;
                check(l == wl && !!(fl & RFLAGS_CF) == wcf, "shld%u %#lx,%#lx,%u = %#lx want %#lx", w, a, b, c, l, wl);
                uint64_t rr = hw_shld(w, a, b, c, true, &fl);
                uint64_t wr = ((a >> c) | (b << (w - c))) & m;
                bool rcf = (a >> (c - 1)) & 1;
                check(rr == wr && !!(fl & RFLAGS_CF) == rcf, "shrd%u %#lx,%#lx,%u = %#lx want %#lx", w, a, b, c, rr, wr);
                mix(l);
                mix(rr);
            }
        }
    }
    end("shift_checksum");
}

/* ======================================================================
 * Bit scans, bit tests, POPCNT/LZCNT/TZCNT, BSWAP, sign extension. */
static unsigned soft_tz(uint64_t v, unsigned w)
{
    unsigned n = 0;
    while (n < w && !((v >> n) & 1))
        n++;
    return n;
}
static unsigned soft_lz(uint64_t v, unsigned w)
{
    unsigned n = 0;
    while (n < w && !((v >> (w - 1 - n)) & 1))
        n++;
    return n;
}
static unsigned soft_pop(uint64_t v)
{
    unsigned n = 0;
    for (int i = 0; i < 64; i++)
        n += (v >> i) & 1;
    return n;
}

static void test_bits(void)
{
    begin("BSF/BSR/BT*/BSWAP/MOVSX");
    for (unsigned i = 0; i < 300; i++) {
        uint64_t v = val(i), r, fl;
        /* BSF/BSR 64/32/16: result for non-zero input, ZF in every case. */
        asm("bsfq %[v], %[r]" FLAGS_OUT : [r] "=r"(r), [f] "=r"(fl) : [v] "rm"(v), "0"(0xdeadull) : "cc");
        check(!!(fl & RFLAGS_ZF) == (v == 0) && (v == 0 || r == soft_tz(v, 64)), "bsfq %#lx = %lu", v, r);
        mix(v ? r : 99);
        asm("bsrq %[v], %[r]" FLAGS_OUT : [r] "=r"(r), [f] "=r"(fl) : [v] "rm"(v), "0"(0xdeadull) : "cc");
        check(!!(fl & RFLAGS_ZF) == (v == 0) && (v == 0 || r == 63 - soft_lz(v, 64)), "bsrq %#lx = %lu", v, r);
        mix(v ? r : 99);
        uint32_t v32 = v, r32;
        asm("bsfl %[v], %[r]" FLAGS_OUT : [r] "=r"(r32), [f] "=r"(fl) : [v] "rm"(v32), "0"(0xdead) : "cc");
        check(!!(fl & RFLAGS_ZF) == (v32 == 0) && (v32 == 0 || r32 == soft_tz(v32, 32)), "bsfl %#x = %u", v32, r32);
        asm("bsrl %[v], %[r]" FLAGS_OUT : [r] "=r"(r32), [f] "=r"(fl) : [v] "rm"(v32), "0"(0xdead) : "cc");
        check(!!(fl & RFLAGS_ZF) == (v32 == 0) && (v32 == 0 || r32 == 31 - soft_lz(v32, 32)), "bsrl %#x = %u", v32, r32);
        mix(v32 ? r32 : 99);
        uint16_t v16 = v, r16;
        asm("bsrw %[v], %[r]" FLAGS_OUT : [r] "=r"(r16), [f] "=r"(fl) : [v] "rm"(v16), "0"((uint16_t)0) : "cc");
        check(!!(fl & RFLAGS_ZF) == (v16 == 0) && (v16 == 0 || r16 == 15 - soft_lz(v16, 16)), "bsrw %#x = %u", v16, r16);
        mix(v16 ? r16 : 99);

        /* BT/BTS/BTR/BTC on a register (offset mod 64). */
        uint64_t bit = rnd() & 255, x = v, cf;
        asm("btsq %[b], %[x]\n\tsetc %b[c]" : [x] "+r"(x), [c] "=q"(cf) : [b] "r"(bit) : "cc");
        check((cf & 1) == ((v >> (bit & 63)) & 1) && x == (v | (1ull << (bit & 63))), "btsq reg");
        mix(x);
        asm("btrq %[b], %[x]\n\tsetc %b[c]" : [x] "+r"(x), [c] "=q"(cf) : [b] "r"(bit) : "cc");
        check((cf & 1) == 1 && x == (v & ~(1ull << (bit & 63))), "btrq reg");
        asm("btcq $37, %[x]\n\tsetc %b[c]" : [x] "+r"(x), [c] "=q"(cf) : : "cc");
        check((cf & 1) == ((x >> 37) & 1 ? 0 : 1), "btcq imm");
        mix(x);

        /* BSWAP. */
        uint64_t b64 = v;
        asm("bswapq %0" : "+r"(b64));
        uint64_t w64 = 0;
        for (int k = 0; k < 8; k++)
            w64 |= ((v >> (8 * k)) & 0xff) << (56 - 8 * k);
        uint32_t b32 = v;
        asm("bswapl %0" : "+r"(b32));
        uint32_t w32 = 0;
        for (int k = 0; k < 4; k++)
            w32 |= (uint32_t)((v >> (8 * k)) & 0xff) << (24 - 8 * k);
        check(b64 == w64 && b32 == w32, "bswap %#lx", v);
        mix(b64);
        mix(b32);

        /* MOVSX/MOVZX and the rAX sign-extension family. */
        int64_t sb, sw, sd;
        uint64_t zb, zw;
        asm("movsbq %b1, %0" : "=r"(sb) : "q"(v));
        asm("movswq %w1, %0" : "=r"(sw) : "r"(v));
        asm("movslq %k1, %0" : "=r"(sd) : "r"(v));
        asm("movzbq %b1, %0" : "=r"(zb) : "q"(v));
        asm("movzwq %w1, %0" : "=r"(zw) : "r"(v));
        check((uint64_t)sb == sext(v & 0xff, 8) && (uint64_t)sw == sext(v & 0xffff, 16) &&
                  (uint64_t)sd == sext(v & 0xffffffff, 32) && zb == (v & 0xff) && zw == (v & 0xffff),
              "movsx/movzx %#lx", v);
        uint64_t ax = v, dx = 0;
        asm("cqo" : "+a"(ax), "=d"(dx));
        check(dx == ((int64_t)v < 0 ? ~0ull : 0), "cqo");
        ax = v;
        asm("cdqe" : "+a"(ax));
        check(ax == sext(v & 0xffffffff, 32), "cdqe");
        ax = v;
        asm("cwde" : "+a"(ax));
        check(ax == (sext(v & 0xffff, 16) & 0xffffffff), "cwde zero-extends into rax");
        ax = v;
        asm("cbw" : "+a"(ax));
        check(ax == ((v & ~0xffffull) | (sext(v & 0xff, 8) & 0xffff)), "cbw");
        mix(sb ^ sw ^ sd ^ zb ^ zw);
    }

    /* BT on a memory bit string: the offset is signed and reaches beyond the word. */
    static uint8_t bits[64];
    for (int i = 0; i < 64; i++)
        bits[i] = (uint8_t)(i * 37 + 11);
    uint8_t *base = bits + 32;
    for (int64_t off = -250; off < 250; off += 7) {
        uint64_t cf;
        asm("btq %[o], (%[p])\n\tsetc %b[c]" : [c] "=q"(cf) : [o] "r"(off), [p] "r"(base) : "cc", "memory");
        int64_t byte = off >> 3;
        bool want = (base[byte] >> (off & 7)) & 1;
        check((cf & 1) == want, "btq mem offset %ld", off);
        uint8_t before = base[byte];
        asm("btcq %[o], (%[p])" : : [o] "r"(off), [p] "r"(base) : "cc", "memory");
        check(base[byte] == (uint8_t)(before ^ (1u << (off & 7))), "btcq mem offset %ld", off);
        mix(cf & 1);
    }
    for (int i = 0; i < 64; i++)
        mix(bits[i]);
    end("bits_checksum");

    /* Optional instructions: compared with the references, reported separately. */
    begin("POPCNT/LZCNT/TZCNT");
    bool pop = cpu_has_popcnt(), lz = cpu_has_lzcnt(), tz = cpu_has_bmi1();
    for (unsigned i = 0; i < 300 && (pop || lz || tz); i++) {
        uint64_t v = val(i), r, fl;
        if (pop) {
            asm("popcntq %[v], %[r]" FLAGS_OUT : [r] "=r"(r), [f] "=r"(fl) : [v] "rm"(v) : "cc");
            check(r == soft_pop(v) && !!(fl & RFLAGS_ZF) == (v == 0), "popcnt %#lx = %lu", v, r);
            uint32_t r32, v32 = v;
            asm("popcntl %[v], %[r]" : [r] "=r"(r32) : [v] "rm"(v32) : "cc");
            check(r32 == soft_pop(v32), "popcntl");
            mix(r);
        }
        if (lz) {
            asm("lzcntq %[v], %[r]" FLAGS_OUT : [r] "=r"(r), [f] "=r"(fl) : [v] "rm"(v) : "cc");
            check(r == soft_lz(v, 64) && !!(fl & RFLAGS_CF) == (v == 0) && !!(fl & RFLAGS_ZF) == (r == 0),
                  "lzcnt %#lx = %lu", v, r);
            mix(r);
        }
        if (tz) {
            asm("tzcntq %[v], %[r]" FLAGS_OUT : [r] "=r"(r), [f] "=r"(fl) : [v] "rm"(v) : "cc");
            check(r == soft_tz(v, 64) && !!(fl & RFLAGS_CF) == (v == 0) && !!(fl & RFLAGS_ZF) == (r == 0),
                  "tzcnt %#lx = %lu", v, r);
            mix(r);
        }
    }
    if (!pop && !lz && !tz) {
        report_skip("POPCNT/LZCNT/TZCNT", "none advertised by CPUID");
    } else {
        printf("  popcnt %s, lzcnt %s, tzcnt %s\n", pop ? "yes" : "no", lz ? "yes" : "no", tz ? "yes" : "no");
        reportf(nfail == 0, "%s (%u mismatches)", section, nfail);
        printf("RESULT bits_ext_checksum=%#lx (popcnt=%d lzcnt=%d tzcnt=%d)\n", H, pop, lz, tz);
    }
}

/* ======================================================================
 * Atomics and multi-precision arithmetic. */
static void test_atomics(void)
{
    begin("XCHG/CMPXCHG/XADD/ADC chains");
    for (unsigned i = 0; i < 200; i++) {
        uint64_t a = val(i), b = val(i + 50), mem = a, old, fl;
        /* CMPXCHG success: ZF=1, memory = new value. */
        old = a;
        asm volatile("lock cmpxchgq %[n], %[m]" FLAGS_OUT : [m] "+m"(mem), "+a"(old), [f] "=r"(fl) : [n] "r"(b) : "cc", "memory");
        check((fl & RFLAGS_ZF) && mem == b && old == a, "cmpxchg success");
        /* failure: ZF=0, RAX = memory, memory unchanged. */
        old = ~b;
        asm volatile("lock cmpxchgq %[n], %[m]" FLAGS_OUT : [m] "+m"(mem), "+a"(old), [f] "=r"(fl) : [n] "r"(a) : "cc", "memory");
        check(!(fl & RFLAGS_ZF) && mem == b && old == b, "cmpxchg failure");
        /* 32-bit CMPXCHG failure writes EAX (zero-extending RAX). */
        uint32_t m32 = (uint32_t)a;
        uint64_t rax = 0xffffffff00000000ull | (uint32_t)~a;
        asm volatile("cmpxchgl %[n], %[m]" : [m] "+m"(m32), "+a"(rax) : [n] "r"((uint32_t)b) : "cc", "memory");
        check(rax == (uint32_t)a && m32 == (uint32_t)a, "cmpxchgl failure zero-extends rax (%#lx)", rax);
        /* XADD. */
        uint64_t x = b;
        mem = a;
        asm volatile("lock xaddq %[x], %[m]" : [m] "+m"(mem), [x] "+r"(x) : : "cc", "memory");
        check(x == a && mem == a + b, "xadd");
        /* XCHG with memory. */
        x = b;
        mem = a;
        asm volatile("xchgq %[x], %[m]" : [m] "+m"(mem), [x] "+r"(x) : : "memory");
        check(x == a && mem == b, "xchg");
        /* XCHG on 32-bit registers zero-extends both. */
        uint64_t p = a, q = b;
        asm("xchgl %k0, %k1" : "+r"(p), "+r"(q));
        check(p == (b & 0xffffffff) && q == (a & 0xffffffff), "xchgl zero-extends");
        mix(mem);
        mix(p ^ q);
    }
    /* CMPXCHG16B if present. */
    if ((cpuid(1).c >> 13) & 1) {
        static u128 m16 __attribute__((aligned(16))) = ((u128)2 << 64) | 1;
        uint64_t lo = 1, hi = 2, fl;
        asm volatile("lock cmpxchg16b %[m]" FLAGS_OUT
                     : [m] "+m"(m16), "+a"(lo), "+d"(hi), [f] "=r"(fl)
                     : "b"(0x1111ull), "c"(0x2222ull)
                     : "cc", "memory");
        check((fl & RFLAGS_ZF) && m16 == (((u128)0x2222 << 64) | 0x1111), "cmpxchg16b success");
        lo = 5;
        hi = 6;
        asm volatile("lock cmpxchg16b %[m]" FLAGS_OUT
                     : [m] "+m"(m16), "+a"(lo), "+d"(hi), [f] "=r"(fl)
                     : "b"(0ull), "c"(0ull)
                     : "cc", "memory");
        check(!(fl & RFLAGS_ZF) && lo == 0x1111 && hi == 0x2222, "cmpxchg16b failure");
    }

    /* 256-bit add and subtract with ADC/SBB vs limb-wise references. */
    for (unsigned i = 0; i < 200; i++) {
        uint64_t a[4], b[4], s[4], d[4], ws[4], wd[4];
        for (int k = 0; k < 4; k++) {
            a[k] = val(i + k * 11);
            b[k] = val(i * 3 + k);
        }
        asm("mov 0(%[a]), %%rax\n\tadd 0(%[b]), %%rax\n\tmov %%rax, 0(%[s])\n\t"
            "mov 8(%[a]), %%rax\n\tadc 8(%[b]), %%rax\n\tmov %%rax, 8(%[s])\n\t"
            "mov 16(%[a]), %%rax\n\tadc 16(%[b]), %%rax\n\tmov %%rax, 16(%[s])\n\t"
            "mov 24(%[a]), %%rax\n\tadc 24(%[b]), %%rax\n\tmov %%rax, 24(%[s])\n\t"
            "mov 0(%[a]), %%rax\n\tsub 0(%[b]), %%rax\n\tmov %%rax, 0(%[d])\n\t"
            "mov 8(%[a]), %%rax\n\tsbb 8(%[b]), %%rax\n\tmov %%rax, 8(%[d])\n\t"
            "mov 16(%[a]), %%rax\n\tsbb 16(%[b]), %%rax\n\tmov %%rax, 16(%[d])\n\t"
            "mov 24(%[a]), %%rax\n\tsbb 24(%[b]), %%rax\n\tmov %%rax, 24(%[d])\n\t"
            :
            : [a] "r"(a), [b] "r"(b), [s] "r"(s), [d] "r"(d)
            : "rax", "cc", "memory");
        uint64_t c = 0, br = 0;
        for (int k = 0; k < 4; k++) {
            uint64_t t = a[k] + b[k];
            uint64_t c1 = ((a[k] & b[k]) | ((a[k] | b[k]) & ~t)) >> 63;
            ws[k] = t + c;
            uint64_t c2 = ((t & c) | ((t | c) & ~ws[k])) >> 63;
            c = c1 | c2;
            uint64_t u = a[k] - b[k];
            uint64_t b1 = ((~a[k] & b[k]) | ((~a[k] | b[k]) & u)) >> 63;
            wd[k] = u - br;
            uint64_t b2 = ((~u & br) | ((~u | br) & wd[k])) >> 63;
            br = b1 | b2;
        }
        check(!memcmp(s, ws, 32) && !memcmp(d, wd, 32), "256-bit adc/sbb chain %u", i);
        for (int k = 0; k < 4; k++) {
            mix(s[k]);
            mix(d[k]);
        }
    }
    end("atomic_checksum");
}

/* ======================================================================
 * A small "program": bitwise CRC-32, a bytecode interpreter with a dense
 * switch (jump table), recursion, function pointers, struct copies and
 * printf formatting. */
static uint32_t crc32_soft(const uint8_t *p, size_t n)
{
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

enum { VM_PUSH, VM_ADD, VM_SUB, VM_MUL, VM_DUP, VM_SWAP, VM_JNZ, VM_DEC, VM_XOR, VM_SHL, VM_HALT, VM_DROP, VM_OVER };
static int64_t run_vm(const int32_t *code)
{
    int64_t st[32];
    int sp = 0, pc = 0;
    for (int steps = 0; steps < 100000; steps++) {
        int32_t op = code[pc++];
        switch (op) {
        case VM_PUSH: st[sp++] = code[pc++]; break;
        case VM_ADD: sp--; st[sp - 1] += st[sp]; break;
        case VM_SUB: sp--; st[sp - 1] -= st[sp]; break;
        case VM_MUL: sp--; st[sp - 1] *= st[sp]; break;
        case VM_DUP: st[sp] = st[sp - 1]; sp++; break;
        case VM_SWAP: { int64_t t = st[sp - 1]; st[sp - 1] = st[sp - 2]; st[sp - 2] = t; break; }
        case VM_JNZ: { int32_t tgt = code[pc++]; if (st[--sp]) pc = tgt; break; }
        case VM_DEC: st[sp - 1]--; break;
        case VM_XOR: sp--; st[sp - 1] ^= st[sp]; break;
        case VM_SHL: sp--; st[sp - 1] <<= (st[sp] & 63); break;
        case VM_DROP: sp--; break;
        case VM_OVER: st[sp] = st[sp - 2]; sp++; break;
        case VM_HALT: return st[sp - 1];
        default: return -1;
        }
    }
    return -2;
}

static uint64_t fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

struct rec {
    uint64_t id;
    char name[24];
    uint32_t vals[5];
};

static uint64_t op_add(uint64_t a, uint64_t b) { return a + b; }
static uint64_t op_xor(uint64_t a, uint64_t b) { return a ^ b; }
static uint64_t op_rot(uint64_t a, uint64_t b) { return (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)); }

static void test_program(void)
{
    begin("interpreter-style program");
    /* CRC-32 of "123456789" is the standard check value. */
    uint32_t crc = crc32_soft((const uint8_t *)"123456789", 9);
    check(crc == 0xcbf43926, "crc32 check value %#x", crc);
    fill_bytes(sbuf_a, 4096);
    mix(crc32_soft(sbuf_a, 4096));

    /* acc = 1; for n = 20..1: acc = acc * 3 + n  (loop in bytecode) */
    static const int32_t prog[] = {
        VM_PUSH, 1,                   /* acc */
        VM_PUSH, 20,                  /* acc n */
        /* loop @4: */
        VM_SWAP,                      /* n acc */
        VM_PUSH, 3, VM_MUL,           /* n acc*3 */
        VM_OVER, VM_ADD,              /* n acc*3+n */
        VM_SWAP, VM_DEC,              /* acc n-1 */
        VM_DUP, VM_JNZ, 4,            /* acc n-1 */
        VM_DROP, VM_HALT,
    };
    int64_t vm = run_vm(prog);
    int64_t want = 1;
    for (int n = 20; n >= 1; n--)
        want = want * 3 + n;
    check(vm == want, "bytecode result %ld want %ld", vm, want);
    mix((uint64_t)vm);

    uint64_t f = fib(24);
    check(f == 46368, "fib(24) = %lu", f);
    mix(f);

    uint64_t (*const ops[3])(uint64_t, uint64_t) = {op_add, op_xor, op_rot};
    uint64_t acc = 0x0123456789abcdefull;
    for (unsigned i = 0; i < 1000; i++)
        acc = ops[i % 3](acc, val(i));
    mix(acc);

    struct rec recs[8], copy[8];
    for (int i = 0; i < 8; i++) {
        recs[i].id = rnd();
        snprintf(recs[i].name, sizeof(recs[i].name), "rec-%d-%05x", i, (unsigned)(recs[i].id & 0xfffff));
        for (int k = 0; k < 5; k++)
            recs[i].vals[k] = (uint32_t)rnd();
    }
    for (int i = 0; i < 8; i++)
        copy[7 - i] = recs[i]; /* struct assignment: gcc may call memcpy */
    bool same = true;
    for (int i = 0; i < 8; i++)
        if (memcmp(&copy[7 - i], &recs[i], sizeof(struct rec)))
            same = false;
    check(same, "struct copies");
    for (int i = 0; i < 8; i++) {
        for (const char *p = copy[i].name; *p; p++)
            mix((uint8_t)*p);
        mix(copy[i].vals[i % 5]);
    }

    char line[128];
    int n = snprintf(line, sizeof(line), "%d|%u|%x|%08lx|%-6s|%5d|%c|%lld", -12345, 4000000000u, 0xbeefu,
                     0x12345ul, "ab", 42, 'Z', -9000000000ll);
    check(!strcmp(line, "-12345|4000000000|beef|00012345|ab    |   42|Z|-9000000000"), "snprintf: '%s'", line);
    check(n == (int)strlen(line), "snprintf length");
    for (int i = 0; i < n; i++)
        mix((uint8_t)line[i]);
    end("program_checksum");
}

int main(const struct multiboot_info *mbi)
{
    test_sort();
    test_strings();
    test_muldiv();
    test_alu_flags();
    test_conditions();
    test_shifts();
    test_bits();
    test_atomics();
    test_program();
    if (cmdline_has("nogolden"))
        report_skip("checksums match recorded values", "nogolden");
    else
        reportf(golden_mismatches == 0, "checksums match recorded values (%u differ)", golden_mismatches);
    return summary();
}
