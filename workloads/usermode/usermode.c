/* usermode: ring 3 entry by IRETQ, SYSCALL/SYSRET, INT 0x80 through a DPL-3
 * gate, a hardware interrupt taken in ring 3, and the faults ring 3 gets for
 * privileged instructions and supervisor pages. */
#include "runtime.h"

#define VEC_TIMER 0x40

/* ---- ring-3 code: no printf, no port I/O ---- */

static uint64_t user_get_cs_ss(uint64_t unused)
{
    return ((uint64_t)read_ss() << 16) | read_cs();
}

struct sc_result {
    uint64_t ret, cpl_after, rip_after_syscall, rflags_before, rsp_before, rsp_after;
};
static struct sc_result scr;

static uint64_t user_syscall(uint64_t arg)
{
    uint64_t ret, after_label, flags, rsp_before, rsp_after;
    register uint64_t a1 asm("rsi") = 0x1111;
    register uint64_t a2 asm("rdx") = 0x2222;
    asm volatile("lea 1f(%%rip), %[after]\n\t"
                 "pushfq\n\t"
                 "popq %[flags]\n\t"
                 "mov %%rsp, %[rspb]\n\t"
                 "syscall\n"
                 "1:\n\t"
                 "mov %%rsp, %[rspa]\n\t"
                 : "=a"(ret), [after] "=&r"(after_label), [flags] "=&r"(flags),
                   [rspb] "=&r"(rsp_before), [rspa] "=&r"(rsp_after), "+S"(a1), "+d"(a2)
                 : "a"(42ul), "D"(arg)
                 : "rcx", "r8", "r9", "r10", "r11", "memory");
    scr.ret = ret;
    scr.cpl_after = current_cpl();
    scr.rip_after_syscall = after_label;
    scr.rflags_before = flags;
    scr.rsp_before = rsp_before;
    scr.rsp_after = rsp_after;
    return ret;
}

static uint64_t user_int80(uint64_t arg)
{
    uint64_t rax = arg;
    asm volatile("int $0x80" : "+a"(rax)::"memory");
    return rax;
}

static uint64_t user_int81_gp(uint64_t unused) /* INT through a DPL-0 gate */
{
    int v;
    asm volatile("1:\tint $0x82\n\t"
                 "mov $-1, %%eax\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "=a"(v)::"memory");
    return (uint64_t)(int64_t)v;
}

/* setup runs first; only insn is covered by the exception fixup. */
#define USER_TRY(name, setup, insn)                                            \
    static uint64_t name(uint64_t unused)                                      \
    {                                                                          \
        int v;                                                                 \
        asm volatile(setup "\n1:\t" insn "\n\t"                               \
                     "mov $-1, %%eax\n"                                        \
                     "2:\n\t" EX_TABLE("1b", "2b")                             \
                     : "=a"(v)                                                 \
                     :                                                         \
                     : "rcx", "rdx", "memory");                                \
        return (uint64_t)(int64_t)v;                                           \
    }
USER_TRY(user_cli, "", "cli")
USER_TRY(user_mov_cr0, "", "mov %%cr0, %%rcx")
USER_TRY(user_wrmsr, "mov $0xc0000100, %%ecx; xor %%eax, %%eax; xor %%edx, %%edx", "wrmsr")
USER_TRY(user_outb, "", "outb %%al, $0x80")
USER_TRY(user_lgdt, "", "lgdt (%%rsp)")

static uint64_t user_read(uint64_t va) { return (uint64_t)probe_read8((void *)va, NULL); }

static volatile uint64_t timer_ticks, timer_cpl, timer_rsp_ok;
static uint64_t user_wait_timer(uint64_t unused)
{
    uint64_t spins = 0;
    while (!timer_ticks && spins < 2000000000ull)
        spins++;
    return timer_ticks;
}

/* ---- ring-0 side ---- */

static volatile uint64_t sc_cpl, sc_nr, sc_a0, sc_a1, sc_a2, sc_rflags, sc_count;
static uint64_t syscall_handler(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    sc_cpl = current_cpl();
    sc_nr = nr;
    sc_a0 = a0;
    sc_a1 = a1;
    sc_a2 = a2;
    sc_rflags = read_rflags();
    sc_count++;
    return a0 * 3 + 1;
}

static bool on_ring0_stack(uint64_t rsp) { return rsp <= tss.rsp[0] && rsp > tss.rsp[0] - 16384; }

static volatile uint64_t i80_cs, i80_ss, i80_cpl, i80_rsp_ok;
static void int80_handler(struct irq_frame *f)
{
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    i80_cs = f->cs;
    i80_ss = f->ss;
    i80_cpl = current_cpl();
    i80_rsp_ok = on_ring0_stack(rsp);
    f->rax = ~f->rax;
}

static void timer_handler(struct irq_frame *f)
{
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    timer_cpl = f->cs & 3;
    timer_rsp_ok = on_ring0_stack(rsp);
    timer_ticks++;
    apic_eoi();
}

int main(const struct multiboot_info *mbi)
{
    /* IRETQ into ring 3 and back. */
    uint64_t csss = usermode_call(user_get_cs_ss, 0);
    reportf((csss & 0xffff) == USER_CS && (csss >> 16) == USER_DS,
            "IRETQ to ring 3: CS %#lx SS %#lx, CPL 3", csss & 0xffff, csss >> 16);
    report("back in ring 0 after the user function returns", current_cpl() == 0);

    /* SYSCALL / SYSRET (user runs with IF=1 so FMASK is visible). */
    syscall_init(syscall_handler);
    sti();
    uint64_t r = usermode_call(user_syscall, 7);
    cli();
    reportf(r == 22 && scr.ret == 22 && sc_count == 1, "SYSCALL returns the handler's value (%lu)", r);
    reportf(sc_cpl == 0 && sc_nr == 42 && sc_a0 == 7 && sc_a1 == 0x1111 && sc_a2 == 0x2222,
            "handler ran at CPL %lu with nr %lu and args", sc_cpl, sc_nr);
    reportf(!(sc_rflags & RFLAGS_IF), "FMASK cleared IF in the kernel (rflags %#lx)", sc_rflags);
    reportf(syscall_saved_rcx == scr.rip_after_syscall, "SYSCALL put the return RIP in RCX (%#lx)",
            syscall_saved_rcx);
    reportf((syscall_saved_r11 & ~RFLAGS_AF) == (scr.rflags_before & ~RFLAGS_AF) &&
                (syscall_saved_r11 & RFLAGS_IF),
            "SYSCALL put RFLAGS in R11 (%#lx, before %#lx)", syscall_saved_r11, scr.rflags_before);
    reportf(syscall_user_rsp == scr.rsp_before && scr.rsp_after == scr.rsp_before,
            "RSP untouched by SYSCALL/SYSRET");
    reportf(scr.cpl_after == 3, "SYSRET returned to CPL 3");

    /* INT 0x80 from ring 3 through a DPL-3 gate. */
    set_handler(0x80, int80_handler);
    set_gate_dpl(0x80, 3);
    r = usermode_call(user_int80, 0x1234);
    reportf(r == ~0x1234ul, "INT 0x80 from ring 3 reaches the handler (rax %#lx)", r);
    reportf((i80_cs & 3) == 3 && i80_ss == USER_DS && i80_cpl == 0 && i80_rsp_ok,
            "handler at CPL 0 on RSP0, frame shows CS %#lx SS %#lx", i80_cs, i80_ss);

    /* INT through a DPL-0 gate from ring 3: #GP(vector*8 + 2). */
    int v = (int)usermode_call(user_int81_gp, 0);
    char name[96];
    snprintf(name, sizeof(name), "INT 0x82 (DPL-0 gate) from ring 3: #GP err %#lx (want %#x)",
             last_exception.error_code, 0x82 * 8 + 2);
    report_quirk(name, v == VEC_GP && last_exception.error_code == 0x82 * 8 + 2,
                 v == VEC_GP && last_exception.error_code == 0x82 * 16 + 2,
                 "IDT index scaled by 16 in long mode");

    /* Privileged instructions fault in ring 3. */
    struct {
        const char *name;
        uint64_t (*fn)(uint64_t);
    } priv[] = {
        {"CLI", user_cli}, {"MOV from CR0", user_mov_cr0}, {"WRMSR", user_wrmsr},
        {"OUT (IOPL 0)", user_outb}, {"LGDT", user_lgdt},
    };
    for (unsigned i = 0; i < ARRAY_SIZE(priv); i++) {
        v = (int)usermode_call(priv[i].fn, 0);
        reportf(v == VEC_GP && last_exception.error_code == 0 && (last_exception.cs & 3) == 3,
                "%s in ring 3: #GP(0) (vector %d)", priv[i].name, v);
    }

    /* Supervisor page from ring 3: #PF with U set. */
    uint64_t va = 0x0000300000000000ull;
    uint8_t *page = alloc_page();
    map_page(va, (uint64_t)(uintptr_t)page, PTE_W);
    v = (int)usermode_call(user_read, va + 8);
    reportf(v == VEC_PF && last_exception.error_code == (PF_P | PF_U) && last_exception.cr2 == va + 8,
            "ring-3 read of supervisor page: #PF err %#lx", last_exception.error_code);
    set_page_flags(va, PTE_U, 0);
    v = (int)usermode_call(user_read, va + 8);
    report("same page with U=1 is readable from ring 3", v == -1);

    /* A hardware interrupt while in ring 3. */
    set_handler(VEC_TIMER, timer_handler);
    apic_enable();
    /* IF=0 here: if the timer expires before IRETQ it waits in IRR and is
     * taken on the first ring-3 instruction. */
    apic_timer_oneshot(VEC_TIMER, 100000, 1);
    r = usermode_call_flags(user_wait_timer, 0, RFLAGS_IF);
    apic_timer_stop();
    reportf(r == 1 && timer_cpl == 3 && timer_rsp_ok,
            "APIC timer interrupt taken in ring 3, handled on RSP0 (cpl %lu)", timer_cpl);
    return summary();
}
