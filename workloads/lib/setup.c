/* C start-up, command line, page allocator, fw_cfg, PIC, test framework. */
#include "runtime.h"


extern char __image_start[], __end[];
const struct multiboot_info *boot_mbi;

void desc_init(void);

/* ---- command line ---- */
static char cmdline_buf[1024];

const char *cmdline(void) { return cmdline_buf; }

/* Finds token `key=...` (or `key` alone when bare) and returns a pointer to
 * its value (after '='), or to the end of the key for a bare word. */
static const char *find_key(const char *key, bool bare_ok)
{
    size_t kl = strlen(key);
    const char *p = cmdline_buf;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *tok = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - tok) > kl && !strncmp(tok, key, kl) && tok[kl] == '=')
            return tok + kl + 1;
        if (bare_ok && (size_t)(p - tok) == kl && !strncmp(tok, key, kl))
            return tok + kl;
    }
    return NULL;
}

uint64_t cmdline_get(const char *key, uint64_t def)
{
    const char *v = find_key(key, false);
    if (!v)
        return def;
    uint64_t r = 0;
    unsigned base = 10;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
    }
    bool any = false;
    for (;; v++) {
        unsigned d;
        if (*v >= '0' && *v <= '9')
            d = *v - '0';
        else if (base == 16 && *v >= 'a' && *v <= 'f')
            d = *v - 'a' + 10;
        else if (base == 16 && *v >= 'A' && *v <= 'F')
            d = *v - 'A' + 10;
        else
            break;
        r = r * base + d;
        any = true;
    }
    /* Optional k/M/G suffix for convenience. */
    if (any && (*v == 'k' || *v == 'K'))
        r *= 1000;
    else if (any && *v == 'M')
        r *= 1000000;
    else if (any && *v == 'G')
        r *= 1000000000;
    return any ? r : def;
}

bool cmdline_get_str(const char *key, char *buf, size_t n)
{
    const char *v = find_key(key, false);
    if (!v)
        return false;
    size_t i = 0;
    while (v[i] && v[i] != ' ' && i + 1 < n) {
        buf[i] = v[i];
        i++;
    }
    if (n)
        buf[i] = 0;
    return true;
}

bool cmdline_has(const char *word) { return find_key(word, true) != NULL; }

/* ---- page allocator ---- */
static uint64_t alloc_next, alloc_limit;

static void reserve(uint64_t end)
{
    if (end > alloc_next)
        alloc_next = end;
}

static void alloc_init(const struct multiboot_info *mbi, uint64_t mbi_phys)
{
    /* Start after the image and everything the boot loader handed us
     * (QEMU places the info, command line and modules after the image). */
    alloc_next = (uint64_t)(uintptr_t)__end;
    alloc_limit = 64ull << 20;
    if (mbi) {
        reserve(mbi_phys + sizeof(*mbi));
        if (mbi->flags & MBI_FLAG_MEM)
            alloc_limit = ((uint64_t)mbi->mem_upper + 1024) * 1024;
        if (mbi->flags & MBI_FLAG_CMDLINE)
            reserve(mbi->cmdline + strlen((const char *)(uintptr_t)mbi->cmdline) + 1);
        if (mbi->flags & MBI_FLAG_MODS) {
            const struct multiboot_mod *m = (const void *)(uintptr_t)mbi->mods_addr;
            reserve(mbi->mods_addr + mbi->mods_count * sizeof(*m));
            for (uint32_t i = 0; i < mbi->mods_count; i++) {
                reserve(m[i].mod_end);
                if (m[i].string)
                    reserve(m[i].string + strlen((const char *)(uintptr_t)m[i].string) + 1);
            }
        }
        if (mbi->flags & MBI_FLAG_MMAP)
            reserve((uint64_t)mbi->mmap_addr + mbi->mmap_length);
    }
    alloc_next = ALIGN_UP(alloc_next, PAGE_SIZE);
    if (alloc_limit > (4ull << 30))
        alloc_limit = 4ull << 30; /* only 0..4 GiB is identity mapped */
}

void *alloc_pages(size_t n)
{
    uint64_t p = __atomic_fetch_add(&alloc_next, n * PAGE_SIZE, __ATOMIC_RELAXED);
    if (p + n * PAGE_SIZE > alloc_limit)
        panic("out of memory allocating %zu pages at %#lx (limit %#lx)", n, p, alloc_limit);
    memset((void *)(uintptr_t)p, 0, n * PAGE_SIZE);
    return (void *)(uintptr_t)p;
}

uint64_t alloc_next_free(void) { return alloc_next; }

/* ---- fw_cfg ---- */
#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511

void fw_cfg_read(uint16_t key, void *buf, size_t n)
{
    outw(FW_CFG_PORT_SEL, key);
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = inb(FW_CFG_PORT_DATA);
}

unsigned fw_cfg_cpu_count(void)
{
    uint16_t n = 0;
    fw_cfg_read(FW_CFG_NB_CPUS, &n, sizeof(n));
    if (n == 0 || n == 0xffff)
        return 1;
    return n > MAX_CPUS ? MAX_CPUS : n;
}

uint64_t fw_cfg_ram_size(void)
{
    uint64_t v = 0;
    fw_cfg_read(FW_CFG_RAM_SIZE, &v, sizeof(v));
    return v;
}

/* ---- 8259 PIC ---- */
void pic_mask_all(void)
{
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

/* ---- results and tests ---- */
static volatile uint32_t tests_run, tests_failed, tests_skipped;

void result(const char *key, uint64_t value) { printf("RESULT %s=%lu\n", key, value); }
void result_hex(const char *key, uint64_t value) { printf("RESULT %s=%#lx\n", key, value); }
void result_str(const char *key, const char *value) { printf("RESULT %s=%s\n", key, value); }

bool report(const char *name, bool pass)
{
    atomic_xadd32(&tests_run, 1);
    if (!pass)
        atomic_xadd32(&tests_failed, 1);
    printf("%s: %s\n", pass ? "PASS" : "FAIL", name);
    return pass;
}

bool reportf(bool pass, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return report(buf, pass);
}

void report_skip(const char *name, const char *why)
{
    atomic_xadd32(&tests_skipped, 1);
    printf("SKIP: %s (%s)\n", name, why);
}

bool on_qemu_tcg(void)
{
    if (!((cpuid(1).c >> 31) & 1))
        return false;
    struct cpuid_regs h = cpuid(0x40000000);
    return h.b == 0x54474354 && h.c == 0x43544743 && h.d == 0x47435447; /* TCGTCGTCGTCG */
}

bool report_quirk(const char *name, bool ok, bool quirk_ok, const char *quirk)
{
    if (!ok && quirk_ok && on_qemu_tcg() && !cmdline_has("strict")) {
        atomic_xadd32(&tests_run, 1);
        printf("PASS: %s (QEMU TCG quirk accepted: %s)\n", name, quirk);
        return true;
    }
    return report(name, ok);
}

int summary(void)
{
    printf("SUMMARY: %u tests, %u failures, %u skipped\n", tests_run, tests_failed,
           tests_skipped);
    return tests_failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- start-up ---- */
NORETURN void runtime_start(void);
void runtime_start(void)
{
    serial_init();
    serial_putc('\n'); /* end whatever line firmware left open (SeaBIOS does) */
    pic_mask_all();
    desc_init();
    /* Keep a copy of the info structure: the loader's copy may sit in low
     * memory that smp_start_aps() reuses for the trampoline. */
    static struct multiboot_info mbi_copy;
    boot_mbi = NULL;
    if (boot_magic == MULTIBOOT_BOOTLOADER_MAGIC) {
        memcpy(&mbi_copy, (const void *)(uintptr_t)boot_mbi_phys, sizeof(mbi_copy));
        boot_mbi = &mbi_copy;
    } else {
        printf("warning: boot magic %#x is not multiboot; ignoring boot info\n", boot_magic);
    }
    if (boot_mbi && (boot_mbi->flags & MBI_FLAG_CMDLINE) && boot_mbi->cmdline) {
        const char *s = (const char *)(uintptr_t)boot_mbi->cmdline;
        size_t n = strlen(s);
        if (n >= sizeof(cmdline_buf))
            n = sizeof(cmdline_buf) - 1;
        memcpy(cmdline_buf, s, n);
        cmdline_buf[n] = 0;
    }
    alloc_init(boot_mbi, boot_mbi ? boot_mbi_phys : 0);
    exit(main(boot_mbi));
}
