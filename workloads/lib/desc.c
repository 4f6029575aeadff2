/* TSS, IDT and the C interrupt dispatcher. */
#include "runtime.h"

struct idt_gate {
    uint16_t off0;
    uint16_t sel;
    uint8_t ist;
    uint8_t type_attr; /* P | DPL | 0 | type (0xE = 64-bit interrupt gate) */
    uint16_t off1;
    uint32_t off2;
    uint32_t reserved;
} __attribute__((packed));

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_handler_t handlers[256];
volatile struct exception_info last_exception;

static uint8_t ring0_stack[16384] __attribute__((aligned(16)));
static uint8_t ist1_stack[16384] __attribute__((aligned(16)));

extern uint64_t isr_stub_table[256];
extern char __ex_table_start[], __ex_table_end[];
extern uint64_t probe_call_target;
extern char probe_call_fault[];

struct ex_entry {
    uint64_t fault, fixup;
};

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "15",  "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

const char *exception_name(unsigned vec)
{
    if (vec < 32 && exc_names[vec])
        return exc_names[vec];
    return vec < 32 ? "reserved" : "interrupt";
}

static void set_gate(unsigned vec, uint64_t addr, unsigned dpl, unsigned ist)
{
    struct idt_gate *g = &idt[vec];
    g->off0 = addr & 0xffff;
    g->sel = SEL_KCODE64;
    g->ist = ist & 7;
    g->type_attr = 0x80 | ((dpl & 3) << 5) | 0x0e;
    g->off1 = (addr >> 16) & 0xffff;
    g->off2 = addr >> 32;
    g->reserved = 0;
}

void set_handler(unsigned vec, irq_handler_t fn) { handlers[vec & 0xff] = fn; }
void set_gate_dpl(unsigned vec, unsigned dpl)
{
    idt[vec & 0xff].type_attr = (idt[vec & 0xff].type_attr & ~0x60) | ((dpl & 3) << 5);
}
void set_gate_present(unsigned vec, bool present)
{
    if (present)
        idt[vec & 0xff].type_attr |= 0x80;
    else
        idt[vec & 0xff].type_attr &= ~0x80;
}
void set_gate_ist(unsigned vec, unsigned ist) { idt[vec & 0xff].ist = ist & 7; }

void load_idt(void)
{
    struct desc_ptr p = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    asm volatile("lidt %0" ::"m"(p));
}

static void user_return_handler(struct irq_frame *f);

void desc_init(void)
{
    /* TSS: RSP0 for ring-3 -> ring-0 transitions, IST1 for #DF/NMI/#MC. */
    memset(&tss, 0, sizeof(tss));
    tss.rsp[0] = (uint64_t)(uintptr_t)(ring0_stack + sizeof(ring0_stack));
    tss.ist[0] = (uint64_t)(uintptr_t)(ist1_stack + sizeof(ist1_stack));
    tss.iomap_base = sizeof(tss); /* no I/O bitmap */
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;
    gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                       (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[SEL_TSS / 8 + 1] = base >> 32;
    asm volatile("ltr %w0" ::"r"(SEL_TSS));

    for (unsigned v = 0; v < 256; v++)
        set_gate(v, isr_stub_table[v], 0, 0);
    set_gate_ist(VEC_NMI, 1);
    set_gate_ist(VEC_DF, 1);
    set_gate_ist(VEC_MC, 1);
    set_gate_dpl(VEC_USER_RETURN, 3);
    set_handler(VEC_USER_RETURN, user_return_handler);
    load_idt();
}

static uint64_t find_fixup(uint64_t rip)
{
    for (struct ex_entry *e = (struct ex_entry *)__ex_table_start;
         e < (struct ex_entry *)__ex_table_end; e++)
        if (e->fault == rip)
            return e->fixup;
    return 0;
}

static NORETURN void unhandled(struct irq_frame *f)
{
    uint64_t cr2 = read_cr2();
    printf("FAIL: unhandled %s (vector %lu) error=%#lx rip=%#lx cs=%#lx cr2=%#lx rsp=%#lx "
           "rflags=%#lx\n",
           exception_name(f->vector), f->vector, f->error_code, f->rip, f->cs, cr2, f->rsp,
           f->rflags);
    printf("  rax=%#lx rbx=%#lx rcx=%#lx rdx=%#lx rsi=%#lx rdi=%#lx rbp=%#lx\n", f->rax, f->rbx,
           f->rcx, f->rdx, f->rsi, f->rdi, f->rbp);
    exit(EXIT_UNHANDLED);
}

void isr_dispatch(struct irq_frame *f)
{
    unsigned v = f->vector & 0xff;
    if (v < 32) {
        last_exception.vector = v;
        last_exception.error_code = f->error_code;
        last_exception.rip = f->rip;
        last_exception.cs = f->cs;
        last_exception.cr2 = v == VEC_PF ? read_cr2() : 0;
        last_exception.count++;
        /* #DF is an abort (its saved RIP is undefined): never fix it up. */
        uint64_t fix = v == VEC_DF ? 0 : find_fixup(f->rip);
        if (fix) {
            f->rax = v;
            f->rip = fix;
            return;
        }
        if (v != VEC_DF && probe_call_target && f->rip == probe_call_target) {
            f->rax = v;
            f->rsp += 8; /* drop the return address pushed by the call */
            f->rip = (uint64_t)(uintptr_t)probe_call_fault;
            return;
        }
    }
    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    if (v == VEC_SPURIOUS)
        return;
    unhandled(f);
}

void frame_longjmp(struct irq_frame *f, jmp_buf b, int val)
{
    f->rbx = b->rbx;
    f->rbp = b->rbp;
    f->r12 = b->r12;
    f->r13 = b->r13;
    f->r14 = b->r14;
    f->r15 = b->r15;
    f->rsp = b->rsp;
    f->rip = b->rip;
    f->rflags = (b->rflags & ~(RFLAGS_TF | RFLAGS_AC)) | 2;
    f->cs = SEL_KCODE64;
    f->ss = SEL_KDATA;
    f->rax = val ? val : 1;
}

/* ---- user mode ---- */
extern void user_enter(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t rsp, uint64_t rflags);
static jmp_buf user_jb;
static volatile uint64_t user_ret;
static volatile bool user_active;
static uint8_t user_stack[16384] __attribute__((aligned(16)));

static void user_return_handler(struct irq_frame *f)
{
    if (!user_active || (f->cs & 3) != 3)
        unhandled(f);
    user_ret = f->rdi;
    frame_longjmp(f, user_jb, 1);
}

void usermode_abort(struct irq_frame *f, uint64_t v)
{
    user_ret = v;
    frame_longjmp(f, user_jb, 1);
}

uint64_t usermode_call_flags(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t rflags)
{
    if (setjmp(user_jb) == 0) {
        user_active = true;
        user_enter(fn, arg, (uint64_t)(uintptr_t)(user_stack + sizeof(user_stack)), rflags | 2);
    }
    user_active = false;
    return user_ret;
}

uint64_t usermode_call(uint64_t (*fn)(uint64_t), uint64_t arg)
{
    return usermode_call_flags(fn, arg, read_rflags() & RFLAGS_IF);
}

extern char syscall_entry[];
extern syscall_fn_t syscall_handler_fn;

void syscall_init(syscall_fn_t fn)
{
    syscall_handler_fn = fn;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    /* SYSCALL: CS = 0x08, SS = 0x10. SYSRET (64-bit): CS = 0x20 + 16 = 0x30|3,
     * SS = 0x20 + 8 = 0x28|3. */
    wrmsr(MSR_STAR, ((uint64_t)(SEL_UCODE32 | 3) << 48) | ((uint64_t)SEL_KCODE64 << 32));
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_FMASK, RFLAGS_IF | RFLAGS_TF | RFLAGS_DF | RFLAGS_AC);
}
