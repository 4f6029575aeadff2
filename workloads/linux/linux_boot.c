/* The Linux x86 boot protocol, 64-bit entry (Documentation/x86/boot.rst, "The Real-Mode
 * Kernel Header", "Details of Header Fields", "64-bit Boot Protocol"), for a bzImage (entered
 * at its decompressor) or a vmlinux ELF (entered at startup_64, as the decompressor would). */
#include "linux_boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_kernel.h"
#include "long_mode.h"

/* Guest-physical layout below 1 MiB. The kernel reserves all of it for its own use once it
 * runs, so nothing here needs to survive the boot. */
enum {
    kTablesGpa = 0x1000,       /* long_mode.c: GDT + page tables, up to 0x8000 */
    kZeroPageGpa = 0x8000,     /* struct boot_params */
    kCmdlineGpa = 0x9000,
    kCmdlineMax = 0x1000,
    kLowRamEnd = 0x9fc00,      /* conventional memory below the EBDA, as a PC BIOS reports */
    kBiosGpa = 0xf0000,
    kHighRamGpa = 0x100000,
};

/* Offsets into struct boot_params (arch/x86/include/uapi/asm/bootparam.h). */
enum {
    kBpExtRamdiskImage = 0x0c0,
    kBpExtRamdiskSize = 0x0c4,
    kBpExtCmdLinePtr = 0x0c8,
    kBpE820Entries = 0x1e8,
    kBpSetupHeader = 0x1f1,
    kBpE820Table = 0x2d0,
    /* setup header fields, as offsets into the boot sector / zero page */
    kHdrSetupSects = 0x1f1,
    kHdrVidMode = 0x1fa,
    kHdrBootFlag = 0x1fe,
    kHdrJump = 0x200,
    kHdrMagic = 0x202,
    kHdrVersion = 0x206,
    kHdrTypeOfLoader = 0x210,
    kHdrLoadflags = 0x211,
    kHdrRamdiskImage = 0x218,
    kHdrRamdiskSize = 0x21c,
    kHdrCmdLinePtr = 0x228,
    kHdrInitrdAddrMax = 0x22c,
    kHdrKernelAlignment = 0x230,
    kHdrRelocatable = 0x234,
    kHdrXloadflags = 0x236,
    kHdrCmdlineSize = 0x238,
    kHdrPrefAddress = 0x258,
    kHdrInitSize = 0x260,
};

enum { kE820Ram = 1, kE820Reserved = 2 };
enum { kXlfKernel64 = 1 << 0, kLoadedHigh = 1 << 0 };
enum { kHdrSMagic = 0x53726448 /* "HdrS" */, kBootFlag = 0xaa55 };

/* What the format-specific loaders tell the common part. */
struct kernel_layout {
    uint64_t entry_gpa;       /* RIP at entry */
    uint64_t end_gpa;         /* the initrd goes above this */
    uint64_t cmdline_max;     /* longest command line the kernel takes */
    uint64_t initrd_addr_max; /* highest address the initrd may occupy */
};

/* Read-only mapping: the kernel file is copied once, into guest RAM, not into a buffer too. */
static uint8_t *map_file(const char *path, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(kExitUsage, "l1_launch: cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0)
        die(kExitUsage, "l1_launch: cannot size %s (or it is empty)", path);
    void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED)
        die(kExitUsage, "l1_launch: cannot map %s: %s", path, strerror(errno));
    close(fd);
    *size = (uint64_t)st.st_size;
    return data;
}

static uint16_t get16(const uint8_t *p, unsigned off)
{
    uint16_t v;
    memcpy(&v, p + off, 2);
    return v;
}

static uint32_t get32(const uint8_t *p, unsigned off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}

static uint64_t get64(const uint8_t *p, unsigned off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}

static void put16(uint8_t *p, unsigned off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }

static void add_e820(uint8_t *zero_page, uint64_t addr, uint64_t size, uint32_t type)
{
    uint8_t n = zero_page[kBpE820Entries];
    uint8_t *entry = zero_page + kBpE820Table + 20u * n;
    memcpy(entry, &addr, 8);
    memcpy(entry + 8, &size, 8);
    memcpy(entry + 16, &type, 4);
    zero_page[kBpE820Entries] = (uint8_t)(n + 1);
}

/* Copies the protected-mode part to its load address and the image's setup header into the
 * zero page; entry is the decompressor's startup_64, at load + 0x200. */
static void load_bzimage(const struct linux_boot *boot, const uint8_t *image,
                         uint64_t image_size, uint8_t *zp, struct kernel_layout *out)
{
    if (image_size < 0x1000 || get32(image, kHdrMagic) != kHdrSMagic)
        die(kExitUsage, "l1_launch: %s is neither a bzImage (no HdrS header) nor an ELF vmlinux",
            boot->kernel_path);
    uint16_t version = get16(image, kHdrVersion);
    if (version < 0x20c || !(get16(image, kHdrXloadflags) & kXlfKernel64))
        die(kExitUsage, "l1_launch: %s: boot protocol %x without a 64-bit entry point",
            boot->kernel_path, version);
    if (!(image[kHdrLoadflags] & kLoadedHigh))
        die(kExitUsage, "l1_launch: %s is a zImage, not a bzImage", boot->kernel_path);

    unsigned setup_sects = image[kHdrSetupSects] ? image[kHdrSetupSects] : 4;
    uint64_t setup_size = (setup_sects + 1ull) * 512;
    uint64_t kernel_size = image_size - setup_size;
    /* A relocatable kernel is best loaded at its preferred address; it decompresses in place
     * and needs init_size bytes from there. */
    uint64_t load = image[kHdrRelocatable] ? get64(image, kHdrPrefAddress) : kHighRamGpa;
    uint64_t init_size = get32(image, kHdrInitSize);
    uint64_t kernel_end = load + (init_size > kernel_size ? init_size : kernel_size);
    if (kernel_end > boot->ram_size)
        die(kExitUsage, "l1_launch: the kernel needs RAM up to %llu MiB",
            (unsigned long long)(kernel_end >> 20) + 1);
    memcpy(boot->ram + load, image + setup_size, kernel_size);

    /* The setup header runs from 0x1f1 to the end given by the jump at 0x200. */
    size_t header_end = 0x202 + image[kHdrJump + 1];
    memcpy(zp + kBpSetupHeader, image + kBpSetupHeader, header_end - kBpSetupHeader);

    out->entry_gpa = load + 0x200;
    out->end_gpa = kernel_end;
    out->cmdline_max = version >= 0x206 ? get32(image, kHdrCmdlineSize) : 255;
    out->initrd_addr_max = get32(image, kHdrInitrdAddrMax);
}

/* Loads the PT_LOAD segments and writes the setup header a vmlinux lacks, with the values
 * Debian's bzImage carries; the kernel proper reads only a few of them (loadflags, version,
 * the pointers), but it sees the same header either way. */
static void load_vmlinux(const struct linux_boot *boot, const uint8_t *image,
                         uint64_t image_size, uint8_t *zp, struct kernel_layout *out)
{
    struct elf_kernel k;
    elf_kernel_load(image, image_size, boot->kernel_path, boot->ram, kHighRamGpa,
                    boot->ram_size, &k);
    put16(zp, kHdrBootFlag, kBootFlag);
    put32(zp, kHdrMagic, kHdrSMagic);
    put16(zp, kHdrVersion, 0x020f);
    zp[kHdrLoadflags] = kLoadedHigh; /* no KASLR_FLAG: the kernel runs where it was linked */
    put32(zp, kHdrKernelAlignment, 0x200000); /* CONFIG_PHYSICAL_ALIGN */
    put32(zp, kHdrCmdlineSize, 2047);          /* COMMAND_LINE_SIZE - 1 */
    put32(zp, kHdrInitrdAddrMax, 0x7fffffff);

    out->entry_gpa = k.entry_gpa;
    out->end_gpa = k.end_gpa;
    out->cmdline_max = 2047;
    out->initrd_addr_max = 0x7fffffff;
}

void linux_boot_load(struct kvm_vm *vm, const struct linux_boot *boot)
{
    uint64_t image_size;
    uint8_t *image = map_file(boot->kernel_path, &image_size);
    uint8_t *zp = boot->ram + kZeroPageGpa;
    memset(zp, 0, 4096);
    struct kernel_layout layout;
    if (elf_kernel_detect(image, image_size))
        load_vmlinux(boot, image, image_size, zp, &layout);
    else
        load_bzimage(boot, image, image_size, zp, &layout);
    munmap(image, image_size);
    zp[kHdrTypeOfLoader] = 0xff; /* "undefined" boot loader */
    put16(zp, kHdrVidMode, 0xffff); /* "normal" video mode */

    size_t cmdline_len = strlen(boot->cmdline);
    if (cmdline_len >= kCmdlineMax || cmdline_len > layout.cmdline_max)
        die(kExitUsage, "l1_launch: command line longer than %llu bytes",
            (unsigned long long)layout.cmdline_max);
    memcpy(boot->ram + kCmdlineGpa, boot->cmdline, cmdline_len + 1);
    put32(zp, kHdrCmdLinePtr, (uint32_t)kCmdlineGpa);
    put32(zp, kBpExtCmdLinePtr, 0);

    if (boot->initrd_path) {
        uint64_t initrd_size;
        uint8_t *initrd = map_file(boot->initrd_path, &initrd_size);
        /* As high as allowed, page aligned, clear of the (decompressing) kernel. */
        uint64_t top = boot->ram_size;
        if (top > layout.initrd_addr_max + 1)
            top = layout.initrd_addr_max + 1;
        uint64_t addr = (top - initrd_size) & ~0xfffull;
        if (initrd_size > top || addr < layout.end_gpa)
            die(kExitUsage, "l1_launch: no room for the %llu MiB initrd above the kernel; "
                "give the guest more memory", (unsigned long long)(initrd_size >> 20) + 1);
        memcpy(boot->ram + addr, initrd, initrd_size);
        put32(zp, kHdrRamdiskImage, (uint32_t)addr);
        put32(zp, kHdrRamdiskSize, (uint32_t)initrd_size);
        put32(zp, kBpExtRamdiskImage, (uint32_t)(addr >> 32));
        put32(zp, kBpExtRamdiskSize, (uint32_t)(initrd_size >> 32));
        munmap(initrd, initrd_size);
    }

    add_e820(zp, 0, kLowRamEnd, kE820Ram);
    add_e820(zp, kLowRamEnd, 0xa0000 - kLowRamEnd, kE820Reserved);
    add_e820(zp, kBiosGpa, kHighRamGpa - kBiosGpa, kE820Reserved);
    add_e820(zp, kHighRamGpa, boot->ram_size - kHighRamGpa, kE820Ram);

    long_mode_setup(vm, boot->ram, kTablesGpa);
    /* "64-bit Boot Protocol": RSI = zero page, interrupts off, identity-mapped paging. The
     * decompressor enters vmlinux's startup_64 in the same state, so both formats share it. */
    struct kvm_regs regs = {
        .rip = layout.entry_gpa,
        .rsi = kZeroPageGpa,
        .rflags = 0x2,
    };
    KVM_IOCTL(vm->vcpu_fd, KVM_SET_REGS, &regs);
}
