/* exceptions: delivery of CPU exceptions through the IDT with the exact
 * vector, error code, saved RIP and CR2 the SDM specifies. */
#include "runtime.h"

#define TEST_VA 0x0000100000000000ull /* 16 TiB: outside the identity map */

/* ---- #DE, #UD, #BP, #SS, INT n ---- */

/* Each helper runs one instruction at label 1; if it faults the dispatcher
 * resumes at label 2 with EAX = vector, otherwise EAX = -1. *rip gets the
 * address of the instruction. */
static int try_div0(uint64_t *rip)
{
    int v;
    asm volatile("lea 1f(%%rip), %1\n\t"
                 "mov $1, %%eax\n\t"
                 "xor %%edx, %%edx\n\t"
                 "xor %%ecx, %%ecx\n"
                 "1:\tdivl %%ecx\n\t"
                 "mov $-1, %%eax\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "=&a"(v), "=&r"(*rip)
                 :
                 : "rcx", "rdx", "memory");
    return v;
}

static int try_ud2(uint64_t *rip)
{
    int v;
    asm volatile("lea 1f(%%rip), %1\n"
                 "1:\tud2\n\t"
                 "mov $-1, %%eax\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "=a"(v), "=&r"(*rip)
                 :
                 : "memory");
    return v;
}

/* Non-canonical access through RBP: the SS segment is used, so #SS(0). */
static int try_noncanonical_ss(uint64_t *rip)
{
    int v;
    asm volatile("lea 1f(%%rip), %1\n\t"
                 "push %%rbp\n\t"
                 "movabs $0x8000000000000000, %%rbp\n"
                 "1:\tmov (%%rbp), %%rcx\n\t"
                 "mov $-1, %%eax\n"
                 "2:\n\t"
                 "pop %%rbp\n\t" EX_TABLE("1b", "2b")
                 : "=a"(v), "=&r"(*rip)
                 :
                 : "rcx", "memory");
    return v;
}

/* INT 0x80 whose gate may be not-present (then #NP, a fault at the INT). */
static int try_int80(uint64_t in, uint64_t *out)
{
    uint64_t rax = in;
    asm volatile("1:\tint $0x80\n\t"
                 "jmp 3f\n"
                 "2:\n\t"
                 "mov %%rax, %1\n\t"
                 "mov $-1, %%rax\n" /* marks "faulted" in *out */
                 "3:\n\t" EX_TABLE("1b", "2b")
                 : "+a"(rax), "=m"(*out)
                 :
                 : "memory");
    return (int)rax;
}

static volatile uint64_t bp_rip, bp_count;
static void bp_handler(struct irq_frame *f)
{
    bp_rip = f->rip;
    bp_count++;
}

static volatile uint64_t int80_count, int80_cpl;
static void int80_handler(struct irq_frame *f)
{
    int80_count++;
    int80_cpl = f->cs & 3;
    f->rax = f->rax * 2 + 1;
}

static void test_simple_exceptions(void)
{
    uint64_t rip = 0, c0 = last_exception.count;
    int v = try_div0(&rip);
    reportf(v == VEC_DE && last_exception.rip == rip && last_exception.count == c0 + 1,
            "#DE on DIV by zero (vector %d, rip %s)", v,
            last_exception.rip == rip ? "at DIV" : "WRONG");

    v = try_ud2(&rip);
    reportf(v == VEC_UD && last_exception.rip == rip && last_exception.error_code == 0,
            "#UD on UD2 (vector %d)", v);

    set_handler(VEC_BP, bp_handler);
    uint64_t after;
    asm volatile("lea 1f(%%rip), %0\n\tint3\n1:" : "=r"(after)::"memory");
    reportf(bp_count == 1 && bp_rip == after, "#BP from INT3 is a trap: saved RIP %#lx after it (%#lx)",
            bp_rip, after);

    uint64_t val;
    v = probe_read64((void *)0x8000000000000000ull, &val);
    reportf(v == VEC_GP && last_exception.error_code == 0, "#GP(0) on non-canonical read (vector %d err %#lx)",
            v, last_exception.error_code);
    v = probe_write8((void *)0xffff700000000000ull, 1);
    reportf(v == VEC_GP && last_exception.error_code == 0, "#GP(0) on non-canonical write (vector %d)", v);

    v = try_noncanonical_ss(&rip);
    bool err0 = last_exception.error_code == 0 && last_exception.rip == rip;
    report_quirk("#SS(0) on non-canonical RBP-based access", v == VEC_SS && err0,
                 v == VEC_GP && err0, "#GP instead of #SS");

    set_handler(0x80, int80_handler);
    uint64_t out = 0;
    int r = try_int80(20, &out);
    reportf(r == 41 && int80_count == 1 && int80_cpl == 0, "INT 0x80 to a registered handler (rax %d)", r);

    /* Not-present gate: #NP with error code = vector * 8 + 2 (IDT), EXT = 0. */
    set_gate_present(0x80, false);
    r = try_int80(20, &out);
    set_gate_present(0x80, true);
    char name[96];
    snprintf(name, sizeof(name), "#NP on INT through a not-present gate (err %#lx, want %#x)",
             last_exception.error_code, 0x80 * 8 + 2);
    report_quirk(name, r == -1 && out == VEC_NP && last_exception.error_code == 0x80 * 8 + 2,
                 r == -1 && out == VEC_NP && last_exception.error_code == 0x80 * 16 + 2,
                 "IDT index scaled by 16 in long mode");
}

/* ---- page faults ---- */

static uint8_t *test_page;            /* backing page */
static volatile uint64_t user_probe_va; /* for ring-3 helpers */

static bool check_pf(const char *what, int v, uint64_t want_err, uint64_t va)
{
    char name[128];
    snprintf(name, sizeof(name), "#PF %s: err %#lx (want %#lx), cr2 %s", what,
             v == VEC_PF ? last_exception.error_code : 0xdead, want_err,
             last_exception.cr2 == va ? "ok" : "WRONG");
    bool ok = v == VEC_PF && last_exception.error_code == want_err && last_exception.cr2 == va;
    /* TCG reports reserved-bit faults without the P bit. */
    bool quirk = (want_err & PF_RSVD) && v == VEC_PF && last_exception.cr2 == va &&
                 last_exception.error_code == (want_err & ~(uint64_t)PF_P);
    return report_quirk(name, ok, quirk, "RSVD fault without P");
}

static uint64_t user_read(uint64_t va) { return (uint64_t)probe_read8((void *)va, NULL); }
static uint64_t user_write(uint64_t va) { return (uint64_t)probe_write8((void *)va, 0x5a); }

static void test_page_faults(void)
{
    test_page = alloc_page();
    uint64_t va = TEST_VA;
    uint8_t b;

    /* Not present. */
    map_page(va, (uint64_t)(uintptr_t)test_page, PTE_W);
    set_page_flags(va, 0, PTE_P);
    check_pf("read of not-present page", probe_read8((void *)(va + 0x123), &b), 0, va + 0x123);
    check_pf("write to not-present page", probe_write8((void *)(va + 0x7), 1), PF_W, va + 0x7);

    /* Read-only, supervisor write with CR0.WP = 1. */
    map_page(va, (uint64_t)(uintptr_t)test_page, 0);
    test_page[0x10] = 0x77;
    int v = probe_read8((void *)(va + 0x10), &b);
    reportf(v == -1 && b == 0x77, "read of read-only page works");
    check_pf("write to read-only page", probe_write8((void *)(va + 0x10), 1), PF_P | PF_W, va + 0x10);
    reportf(test_page[0x10] == 0x77, "faulting write left memory unchanged");

    /* Ring 3 against a supervisor page, then a not-present one. */
    map_page(va, (uint64_t)(uintptr_t)test_page, PTE_W);
    check_pf("ring-3 read of supervisor page", (int)usermode_call(user_read, va + 0x20),
             PF_P | PF_U, va + 0x20);
    check_pf("ring-3 write to supervisor page", (int)usermode_call(user_write, va + 0x21),
             PF_P | PF_W | PF_U, va + 0x21);
    map_page(va, (uint64_t)(uintptr_t)test_page, PTE_W | PTE_U);
    v = (int)usermode_call(user_write, va + 0x22);
    reportf(v == -1 && test_page[0x22] == 0x5a, "ring-3 write to user page works");
    set_page_flags(va, 0, PTE_P);
    check_pf("ring-3 read of not-present page", (int)usermode_call(user_read, va + 0x30), PF_U,
             va + 0x30);
    map_page(va, (uint64_t)(uintptr_t)test_page, PTE_U); /* user, read-only */
    check_pf("ring-3 write to read-only user page", (int)usermode_call(user_write, va + 0x31),
             PF_P | PF_W | PF_U, va + 0x31);

    /* Instruction fetch from an NX page: P | I/D. */
    if (rdmsr(MSR_EFER) & EFER_NXE) {
        map_page(va, (uint64_t)(uintptr_t)test_page, PTE_W | PTE_NX);
        test_page[0x40] = 0xb8; /* mov $0x1234, %eax; ret */
        test_page[0x41] = 0x34;
        test_page[0x42] = 0x12;
        test_page[0x43] = 0;
        test_page[0x44] = 0;
        test_page[0x45] = 0xc3;
        uint64_t ret = 0;
        v = probe_call((void *)(va + 0x40), &ret);
        check_pf("fetch from NX page", v, PF_P | PF_ID, va + 0x40);
        reportf(v == VEC_PF && last_exception.rip == va + 0x40, "NX fault RIP is the target");
        set_page_flags(va, 0, PTE_NX);
        v = probe_call((void *)(va + 0x40), &ret);
        reportf(v == -1 && ret == 0x1234, "same code runs once NX is cleared");
        set_page_flags(va, 0, PTE_P);
        check_pf("fetch from not-present page", probe_call((void *)(va + 0x40), &ret), PF_ID,
                 va + 0x40);
    } else {
        report_skip("#PF fetch from NX page", "no NX (CPUID.80000001:EDX[20])");
    }

    /* Reserved bit: a PTE bit at or above MAXPHYADDR, with P = 1. */
    unsigned maxphy = cpu_maxphyaddr();
    if (maxphy < 52) {
        map_page(va, (uint64_t)(uintptr_t)test_page | (1ull << maxphy), PTE_W);
        check_pf("reserved bit in PTE (read)", probe_read8((void *)(va + 0x50), &b),
                 PF_P | PF_RSVD, va + 0x50);
        check_pf("reserved bit in PTE (write)", probe_write8((void *)(va + 0x51), 1),
                 PF_P | PF_W | PF_RSVD, va + 0x51);
        map_page(va, (uint64_t)(uintptr_t)test_page, PTE_W);
    } else {
        report_skip("#PF reserved bit", "MAXPHYADDR is 52");
    }
    result("maxphyaddr", maxphy);
}

/* ---- ring-3 privileged instruction ---- */
static uint64_t user_hlt(uint64_t unused)
{
    int v;
    asm volatile("1:\thlt\n\t"
                 "mov $-1, %%eax\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "=a"(v)::"memory");
    return (uint64_t)(int64_t)v;
}

/* ---- #DF: a #NP while delivering #GP ---- */
static jmp_buf df_jb;
static volatile uint64_t df_err, df_rsp, df_count;
static void df_handler(struct irq_frame *f)
{
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    df_err = f->error_code;
    df_rsp = rsp;
    df_count++;
    frame_longjmp(f, df_jb, 1);
}

static void test_double_fault(void)
{
    set_handler(VEC_DF, df_handler);
    set_gate_present(VEC_GP, false);
    if (setjmp(df_jb) == 0) {
        probe_read64((void *)0x8000000000000000ull, NULL);
    }
    set_gate_present(VEC_GP, true);
    bool on_ist = df_rsp < tss.ist[0] && df_rsp > tss.ist[0] - 16384;
    reportf(df_count == 1 && df_err == 0 && on_ist,
            "#DF(0) on #NP during #GP delivery, handled on IST1 (count %lu err %#lx ist %d)",
            df_count, df_err, on_ist);
}

int main(const struct multiboot_info *mbi)
{
    test_simple_exceptions();
    test_page_faults();

    int v = (int)usermode_call(user_hlt, 0);
    reportf(v == VEC_GP && last_exception.error_code == 0 && (last_exception.cs & 3) == 3,
            "#GP(0) on HLT in ring 3 (vector %d)", v);

    if (cmdline_has("nodf"))
        report_skip("#DF", "disabled on the command line");
    else
        test_double_fault();
    return summary();
}
