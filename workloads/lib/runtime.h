/* vmxsim bare-metal workload runtime: everything a test program needs.
 * Programs define `int main(const struct multiboot_info *mbi)`; the runtime
 * has already set up long mode, the GDT/TSS/IDT, serial output, the command
 * line and the page allocator when main runs. main's return value is the exit
 * code sent to the debug-exit port (host status = (code << 1) | 1). */
#ifndef WL_RUNTIME_H
#define WL_RUNTIME_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86.h"

#define PAGE_SIZE 4096ul
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((noreturn))
#define NOINLINE __attribute__((noinline))

/* ---- exit codes ---- */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_UNHANDLED 3 /* unexpected exception or interrupt */

/* ---- segment selectors (GDT layout fixed in entry.S) ---- */
#define SEL_KCODE64 0x08
#define SEL_KDATA 0x10
#define SEL_KCODE32 0x18
#define SEL_UCODE32 0x20 /* STAR[63:48] base for SYSRET */
#define SEL_UDATA 0x28
#define SEL_UCODE64 0x30
#define SEL_TSS 0x38
#define USER_CS (SEL_UCODE64 | 3)
#define USER_DS (SEL_UDATA | 3)

/* ---- multiboot v1 ---- */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS (1u << 3)
#define MBI_FLAG_MMAP (1u << 6)

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower; /* KiB below 1 MiB */
    uint32_t mem_upper; /* KiB above 1 MiB */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
} __attribute__((packed));

struct multiboot_mod {
    uint32_t mod_start, mod_end, string, reserved;
} __attribute__((packed));

struct multiboot_mmap_entry {
    uint32_t size; /* size of the rest of the entry */
    uint64_t addr, len;
    uint32_t type; /* 1 = usable RAM */
} __attribute__((packed));

/* A copy of the loader's info structure (its pointers still refer to the
 * loader's memory; the command line is also copied, see cmdline()). */
extern const struct multiboot_info *boot_mbi;
extern uint32_t boot_magic;    /* EAX at entry */
extern uint32_t boot_mbi_phys; /* EBX at entry */
int main(const struct multiboot_info *mbi);

/* ---- string/memory (also used by gcc for struct copies) ---- */
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* ---- serial console and printf ---- */
void serial_init(void);
void serial_putc(char c);
void puts(const char *s); /* appends a newline */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

/* ---- exit ---- */
NORETURN void exit(int code);
NORETURN void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- results and the test framework ---- */
void result(const char *key, uint64_t value);     /* RESULT key=<decimal> */
void result_hex(const char *key, uint64_t value); /* RESULT key=0x<hex> */
void result_str(const char *key, const char *value);
bool report(const char *name, bool pass); /* PASS: name / FAIL: name */
bool reportf(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_skip(const char *name, const char *why); /* SKIP: name (why) */
int summary(void); /* prints SUMMARY, returns 0 if no failures else 1 */
/* True under QEMU TCG (CPUID 0x40000000 signature "TCGTCGTCGTCG"). */
bool on_qemu_tcg(void);
/* Like report(name, ok), but when ok is false and quirk_ok is true on QEMU
 * TCG (and the command line lacks `strict`), passes with a note naming the
 * known TCG deviation from the SDM. Other machines always get the strict check. */
bool report_quirk(const char *name, bool ok, bool quirk_ok, const char *quirk);

/* ---- command line ---- */
const char *cmdline(void);
/* Value of `key=N` (decimal or 0x hex) in the command line, else def. */
uint64_t cmdline_get(const char *key, uint64_t def);
/* Copies the value of `key=...` into buf (NUL-terminated); false if absent. */
bool cmdline_get_str(const char *key, char *buf, size_t n);
/* True if a token equals `word` or starts with `word=`. */
bool cmdline_has(const char *word);

/* ---- interrupts and exceptions ---- */
struct irq_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*irq_handler_t)(struct irq_frame *f);

enum {
    VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5, VEC_UD = 6,
    VEC_NM = 7, VEC_DF = 8, VEC_TS = 10, VEC_NP = 11, VEC_SS = 12, VEC_GP = 13, VEC_PF = 14,
    VEC_MF = 16, VEC_AC = 17, VEC_MC = 18, VEC_XM = 19, VEC_VE = 20, VEC_CP = 21,
};
#define VEC_USER_RETURN 0x81 /* reserved by usermode_call() */
#define VEC_SPURIOUS 0xff

#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define PF_U (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_ID (1u << 4)

void set_handler(unsigned vec, irq_handler_t fn);
void set_gate_dpl(unsigned vec, unsigned dpl);     /* 3 lets ring 3 use INT n */
void set_gate_present(unsigned vec, bool present); /* for #NP/#DF experiments */
void set_gate_ist(unsigned vec, unsigned ist);
const char *exception_name(unsigned vec);

/* Exception fixups. Instructions listed in the .ex_table section (see
 * EX_TABLE below) that fault resume at their fixup address with RAX set to
 * the vector; the details land in last_exception. The probe_* helpers use it
 * and return -1 if no exception happened, else the vector number. */
struct exception_info {
    uint64_t vector, error_code, rip, cr2, cs;
    uint64_t count;
};
extern volatile struct exception_info last_exception;
#define EX_TABLE(fault_label, fixup_label)                                       \
    ".pushsection .ex_table, \"a\"\n\t.balign 8\n\t.quad " fault_label ", " fixup_label \
    "\n\t.popsection\n\t"

int probe_read8(const volatile void *addr, uint8_t *out);
int probe_read64(const volatile void *addr, uint64_t *out);
int probe_write8(volatile void *addr, uint8_t v);
int probe_write64(volatile void *addr, uint64_t v);
/* Calls fn(); if fetching or executing at fn faults with RIP == fn, the call
 * is abandoned. Returns -1 or the vector; *ret gets fn's RAX if it ran. */
int probe_call(const void *fn, uint64_t *ret);

/* setjmp/longjmp, plus resuming a jmp_buf from an exception handler (the
 * interrupted context is discarded; works across privilege levels). */
typedef struct {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags;
} jmp_buf[1];
int setjmp(jmp_buf b) __attribute__((returns_twice));
NORETURN void longjmp(jmp_buf b, int val);
void frame_longjmp(struct irq_frame *f, jmp_buf b, int val);

/* ---- user mode ---- */
/* Runs fn(arg) in ring 3 (CS=0x33, SS=0x2B) on a private user stack and
 * returns its result. IF stays as it is. */
uint64_t usermode_call(uint64_t (*fn)(uint64_t), uint64_t arg);
/* Same with the given RFLAGS in ring 3 (e.g. RFLAGS_IF while IF=0 here, so
 * a pending interrupt is taken on the first user instruction). */
uint64_t usermode_call_flags(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t rflags);
/* From a handler: abandon the ring-3 function and make usermode_call return v. */
void usermode_abort(struct irq_frame *f, uint64_t v);
/* SYSCALL/SYSRET: sets EFER.SCE, STAR, LSTAR, FMASK. The handler runs in
 * ring 0 on its own stack: rax = handler(nr=rax, rdi, rsi, rdx). */
typedef uint64_t (*syscall_fn_t)(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2);
void syscall_init(syscall_fn_t fn);
/* What the last SYSCALL left in RSP, RCX and R11 (user RSP, RIP, RFLAGS). */
extern volatile uint64_t syscall_user_rsp, syscall_saved_rcx, syscall_saved_r11;

/* ---- descriptor tables ---- */
struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
extern struct tss64 tss;
extern uint64_t gdt[];

/* ---- paging ---- */
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull

/* The boot tables identity-map 0..4 GiB with 2 MiB pages, P|W|U everywhere
 * (3..4 GiB also PCD|PWT). Helpers split 2 MiB pages into 4 KiB ones on
 * demand and allocate missing tables. */
uint64_t *pml4_table(void);
/* Returns the 4 KiB PTE for va, creating tables/splitting large pages. */
uint64_t *get_pte(uint64_t va);
/* Returns the entry for va at `level` (1 = PTE, 2 = PDE, 3 = PDPTE,
 * 4 = PML4E), creating/splitting the levels above it as needed. */
uint64_t *get_entry(uint64_t va, int level);
/* Returns the leaf entry mapping va (any level) without changing anything,
 * or NULL if not mapped; *level = 1 (4K), 2 (2M), 3 (1G). */
uint64_t *lookup_pte(uint64_t va, int *level);
/* Maps a 4 KiB page va -> pa with flags (PTE_P added), then INVLPG. */
void map_page(uint64_t va, uint64_t pa, uint64_t flags);
/* Changes flags of the 4 KiB page at va: pte = (pte & ~clear) | set; INVLPG. */
void set_page_flags(uint64_t va, uint64_t set, uint64_t clear);
/* Maps a 2 MiB page; va, pa 2 MiB aligned. */
void map_2m_page(uint64_t va, uint64_t pa, uint64_t flags);
/* Maps a 1 GiB page (needs CPUID 80000001:EDX[26]). va, pa 1 GiB aligned. */
void map_1g_page(uint64_t va, uint64_t pa, uint64_t flags);

/* ---- page allocator (bump, never frees) ---- */
void *alloc_pages(size_t n); /* zeroed, 4 KiB aligned */
static inline void *alloc_page(void) { return alloc_pages(1); }
uint64_t alloc_next_free(void);

/* ---- fw_cfg ---- */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
void fw_cfg_read(uint16_t key, void *buf, size_t n);
unsigned fw_cfg_cpu_count(void); /* clamped to 1..MAX_CPUS */
uint64_t fw_cfg_ram_size(void);

/* ---- local APIC (xAPIC MMIO) ---- */
#define APIC_BASE 0xfee00000ul
#define APIC_ID 0x020
#define APIC_LVR 0x030
#define APIC_TPR 0x080
#define APIC_EOI 0x0b0
#define APIC_LDR 0x0d0
#define APIC_DFR 0x0e0
#define APIC_SVR 0x0f0
#define APIC_ISR 0x100
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0

#define APIC_LVT_MASKED (1u << 16)
#define APIC_TIMER_ONESHOT (0u << 17)
#define APIC_TIMER_PERIODIC (1u << 17)
#define APIC_TIMER_TSC_DEADLINE (2u << 17)

#define APIC_ICR_BUSY (1u << 12)
#define APIC_DM_FIXED (0u << 8)
#define APIC_DM_NMI (4u << 8)
#define APIC_DM_INIT (5u << 8)
#define APIC_DM_STARTUP (6u << 8)
#define APIC_LEVEL_ASSERT (1u << 14)
#define APIC_TRIGGER_LEVEL (1u << 15)
#define APIC_DEST_SELF (1u << 18)
#define APIC_DEST_ALL (2u << 18)
#define APIC_DEST_ALL_BUT_SELF (3u << 18)

static inline uint32_t apic_read(uint32_t reg) { return *(volatile uint32_t *)(APIC_BASE + reg); }
static inline void apic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(APIC_BASE + reg) = v; }
void apic_enable(void); /* global + software enable, spurious vector 0xFF, TPR 0 */
static inline void apic_eoi(void) { apic_write(APIC_EOI, 0); }
static inline uint32_t apic_id(void) { return apic_read(APIC_ID) >> 24; }
/* divide: 1,2,4,...,128. */
void apic_timer_oneshot(uint8_t vector, uint32_t count, unsigned divide);
void apic_timer_periodic(uint8_t vector, uint32_t count, unsigned divide);
void apic_timer_tsc_deadline(uint8_t vector, uint64_t deadline);
void apic_timer_stop(void);
/* shorthand: 0 (use dest), APIC_DEST_SELF, APIC_DEST_ALL, APIC_DEST_ALL_BUT_SELF */
void apic_send_ipi(uint32_t dest_apic_id, uint32_t shorthand, uint32_t mode_and_vector);
bool apic_icr_wait(void);

/* ---- 8259 PIC ---- */
void pic_mask_all(void);

/* ---- SMP ---- */
#define MAX_CPUS 64
#define AP_TRAMPOLINE_ADDR 0x8000ul
typedef void (*ap_fn_t)(unsigned cpu_index); /* index 1.. in start order */
/* Copies the real-mode trampoline to AP_TRAMPOLINE_ADDR (overwriting that
 * page) and sends INIT-SIPI-SIPI to all other CPUs. Each AP enters long mode
 * on the shared page tables, loads the GDT/IDT (no TSS: no IST or ring 3 on
 * APs), runs fn(index) on its own 16 KiB stack, then halts with IF=0.
 * Returns immediately; smp_started() counts the APs that reached fn. */
void smp_start_aps(ap_fn_t fn);
unsigned smp_started(void);

#endif
