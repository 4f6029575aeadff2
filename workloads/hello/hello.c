/* hello: the smallest workload. Prints a greeting, the command line, the CPU
 * count and RAM size from fw_cfg and the memory sizes from the multiboot
 * info, then `RESULT hello=1`. */
#include "runtime.h"

extern char __end[];

int main(const struct multiboot_info *mbi)
{
    printf("Hello from vmxsim workload 'hello'\n");
    printf("cmdline: '%s'\n", cmdline());
    printf("multiboot info at %#x, image end %p, first free page %#lx\n", boot_mbi_phys,
           (void *)__end, alloc_next_free());
    if ((cpuid(1).c >> 31) & 1) {
        struct cpuid_regs h = cpuid(0x40000000);
        char sig[13];
        memcpy(sig, &h.b, 4);
        memcpy(sig + 4, &h.c, 4);
        memcpy(sig + 8, &h.d, 4);
        sig[12] = 0;
        printf("hypervisor signature '%s'\n", sig);
    }

    unsigned cpus = fw_cfg_cpu_count();
    result("cpus", cpus);
    result("ram_size_mib", fw_cfg_ram_size() >> 20);
    if (mbi && (mbi->flags & MBI_FLAG_MEM)) {
        result("mem_lower_kib", mbi->mem_lower);
        result("mem_upper_kib", mbi->mem_upper);
    }
    report("multiboot magic", boot_magic == MULTIBOOT_BOOTLOADER_MAGIC);
    report("multiboot mem info", mbi && (mbi->flags & MBI_FLAG_MEM) && mbi->mem_upper > 0);
    report("long mode active", (rdmsr(MSR_EFER) & EFER_LMA) && (read_cr0() & CR0_PG));
    report("running in ring 0", current_cpl() == 0);
    report("cpu count >= 1", cpus >= 1);
    result("hello", 1);
    return summary();
}
