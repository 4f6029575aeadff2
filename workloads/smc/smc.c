/* smc: self-modifying code. New instruction bytes written to memory must be
 * what executes next: in another page, in the page being executed, in the
 * instruction right after the store, inside a running loop, in the image's
 * own .text, and through an alias mapping of the code's physical page. */
#include "runtime.h"

/* Code templates, copied into writable+executable pages at run time. Each
 * is position independent. The *_imm_off values give the offset of the
 * immediate that gets patched. */
asm(".pushsection .rodata\n"
    /* uint32_t f(void): mov $imm32, %eax; ret */
    "t_const:\n\t"
    "mov $0x11111111, %eax\n\t"
    "ret\n"
    "t_const_end:\n"

    /* uint32_t f(uint32_t x): stores x into the immediate of the very next
     * instruction, then executes it. */
    "t_next:\n\t"
    "movl %edi, t_next_imm(%rip)\n\t"
    ".byte 0xb8\n" /* mov $imm32, %eax */
    "t_next_imm:\n\t"
    ".long 0\n\t"
    "ret\n"
    "t_next_end:\n"

    /* uint32_t f(uint32_t n): sum += imm8 for n iterations; after the 50th
     * the loop rewrites its own imm8 from 1 to 3. Restores it on exit. */
    "t_loop:\n\t"
    "xor %eax, %eax\n\t"
    "xor %ecx, %ecx\n"
    "1:\n\t"
    ".byte 0x83, 0xc0\n" /* add $imm8, %eax */
    "t_loop_imm:\n\t"
    ".byte 0x01\n\t"
    "inc %ecx\n\t"
    "cmp $50, %ecx\n\t"
    "jne 2f\n\t"
    "movb $3, t_loop_imm(%rip)\n"
    "2:\n\t"
    "cmp %edi, %ecx\n\t"
    "jb 1b\n\t"
    "movb $1, t_loop_imm(%rip)\n\t"
    "ret\n"
    "t_loop_end:\n"

    /* Two functions 256 bytes apart in one page: A(x) patches B's immediate
     * and calls B. */
    "t_pair:\n\t"
    "movl %edi, t_pair_imm(%rip)\n\t"
    "call t_pair_b\n\t"
    "ret\n\t"
    ".balign 256, 0xcc\n"
    "t_pair_b:\n\t"
    ".byte 0xb8\n"
    "t_pair_imm:\n\t"
    ".long 0\n\t"
    "ret\n"
    "t_pair_end:\n"

    ".balign 4\n"
    "t_offsets:\n\t"
    ".long t_const_end - t_const, t_next_end - t_next, t_next_imm - t_next\n\t"
    ".long t_loop_end - t_loop, t_pair_end - t_pair, t_pair_imm - t_pair\n"
    ".popsection\n"

    /* A function in the image's .text, patched in place. */
    ".pushsection .text\n"
    ".balign 16\n"
    "smc_text_fn:\n\t"
    "mov $0x22222222, %eax\n\t"
    "ret\n"
    ".popsection\n");

extern const uint8_t t_const[], t_next[], t_loop[], t_pair[];
extern const uint32_t t_offsets[6];
extern uint8_t smc_text_fn[];

typedef uint32_t (*fn0_t)(void);
typedef uint32_t (*fn1_t)(uint32_t);

static void patch32(volatile uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void serialize(void) { (void)cpuid(0); }

static void test_other_page(void)
{
    uint8_t *code = alloc_page();
    memcpy(code, t_const, t_offsets[0]);
    fn0_t f = (fn0_t)(uintptr_t)code;
    uint32_t a = f();
    patch32(code + 1, 0x33333333);
    uint32_t b = f();
    reportf(a == 0x11111111 && b == 0x33333333, "patched immediate in another page (%#x -> %#x)", a, b);

    /* Many rewrites in a row, each followed by a call. */
    bool ok = true;
    for (uint32_t i = 0; i < 2000; i++) {
        patch32(code + 1, i * 2654435761u);
        if (f() != i * 2654435761u)
            ok = false;
    }
    report("2000 patch+call rounds see every new immediate", ok);

    /* Replace the opcode itself: mov $imm, %eax -> xor %eax,%eax; ret. */
    code[0] = 0x31;
    code[1] = 0xc0;
    code[2] = 0xc3;
    report("replaced opcode executes (xor eax,eax)", f() == 0);
}

static void test_next_instruction(void)
{
    uint8_t *code = alloc_page();
    memcpy(code, t_next, t_offsets[1]);
    fn1_t f = (fn1_t)(uintptr_t)code;
    bool ok = true;
    for (uint32_t i = 1; i <= 100; i++)
        if (f(i * 0x01010101u) != i * 0x01010101u)
            ok = false;
    report("store into the next instruction's immediate takes effect at once", ok);
}

static void test_loop(void)
{
    uint8_t *code = alloc_page();
    memcpy(code, t_loop, t_offsets[3]);
    fn1_t f = (fn1_t)(uintptr_t)code;
    uint32_t r1 = f(100), r2 = f(100), r3 = f(10);
    reportf(r1 == 200 && r2 == 200 && r3 == 10, "loop rewriting its own body (%u %u %u, want 200 200 10)",
            r1, r2, r3);
}

static void test_same_page_pair(void)
{
    uint8_t *code = alloc_page();
    memcpy(code, t_pair, t_offsets[4]);
    fn1_t f = (fn1_t)(uintptr_t)code;
    bool ok = true;
    for (uint32_t i = 0; i < 100; i++)
        if (f(0xabc00000u + i) != 0xabc00000u + i)
            ok = false;
    report("code patching another function in its own page", ok);
}

static void test_text(void)
{
    fn0_t f = (fn0_t)(uintptr_t)smc_text_fn;
    uint32_t a = f();
    patch32(smc_text_fn + 1, 0x44444444);
    uint32_t b = f();
    patch32(smc_text_fn + 1, 0x22222222);
    uint32_t c = f();
    reportf(a == 0x22222222 && b == 0x44444444 && c == 0x22222222,
            "patching a function in the image's .text (%#x %#x %#x)", a, b, c);
}

static void test_alias(void)
{
    /* Execute at VA X, write through VA Y; both map the same frame. */
    uint8_t *frame = alloc_page();
    uint64_t x = 0x0000400000000000ull, y = x + 0x10000;
    map_page(x, (uint64_t)(uintptr_t)frame, 0); /* read-only + executable */
    map_page(y, (uint64_t)(uintptr_t)frame, PTE_W | PTE_NX);
    memcpy((void *)(uintptr_t)y, t_const, t_offsets[0]);
    serialize();
    fn0_t f = (fn0_t)(uintptr_t)x;
    uint32_t a = f();
    patch32((volatile uint8_t *)(uintptr_t)(y + 1), 0x55555555);
    serialize(); /* cross-modification through another linear address */
    uint32_t b = f();
    reportf(a == 0x11111111 && b == 0x55555555, "write through an alias mapping is executed (%#x -> %#x)",
            a, b);
}

int main(const struct multiboot_info *mbi)
{
    test_other_page();
    test_next_instruction();
    test_loop();
    test_same_page_pair();
    test_text();
    test_alias();
    return summary();
}
