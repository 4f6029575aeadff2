/* /dev/kvm plumbing shared by kvmexit and l1_launch (see kvm_util.h). */
#include "kvm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

void die(int code, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

int kvm_ioctl(int fd, unsigned long request, void *arg, const char *name)
{
    int r;
    do {
        r = ioctl(fd, request, arg);
    } while (r < 0 && errno == EINTR && request != KVM_RUN);
    if (r < 0)
        die(kExitKvmError, "kvm: %s failed: %s", name, strerror(errno));
    return r;
}

void kvm_vm_open(struct kvm_vm *vm)
{
    memset(vm, 0, sizeof(*vm));
    vm->vcpu_fd = -1;
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0)
        die(kExitKvmError, "kvm: cannot open /dev/kvm: %s (is kvm_intel/kvm_amd loaded?)",
            strerror(errno));
    int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        die(kExitKvmError, "kvm: API version %d, expected %d", version, KVM_API_VERSION);
    vm->vm_fd = KVM_IOCTL(vm->kvm_fd, KVM_CREATE_VM, 0);
}

void kvm_vcpu_create(struct kvm_vm *vm)
{
    vm->vcpu_fd = KVM_IOCTL(vm->vm_fd, KVM_CREATE_VCPU, 0);
    int size = KVM_IOCTL(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    vm->run_size = (size_t)size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED)
        die(kExitKvmError, "kvm: mmap of kvm_run failed: %s", strerror(errno));
}

void *kvm_add_ram(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size)
{
    void *host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
                      MAP_NORESERVE, -1, 0);
    if (host == MAP_FAILED)
        die(kExitKvmError, "kvm: cannot allocate %llu MiB of guest RAM: %s",
            (unsigned long long)(size >> 20), strerror(errno));
    struct kvm_userspace_memory_region region = {
        .slot = slot,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uintptr_t)host,
    };
    KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
    return host;
}

int kvm_check_cap(struct kvm_vm *vm, long cap)
{
    int r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);
    return r < 0 ? 0 : r;
}

void kvm_require_cap(struct kvm_vm *vm, long cap, const char *name)
{
    if (!kvm_check_cap(vm, cap))
        die(kExitKvmError, "kvm: capability %s is not available", name);
}

struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm_vm *vm)
{
    /* The call fails with E2BIG while the buffer is too small (api.rst). */
    for (unsigned n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
        if (!c)
            die(kExitKvmError, "kvm: out of memory");
        c->nent = n;
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int err = errno;
        free(c);
        if (err != E2BIG)
            die(kExitKvmError, "kvm: KVM_GET_SUPPORTED_CPUID failed: %s", strerror(err));
    }
    die(kExitKvmError, "kvm: KVM_GET_SUPPORTED_CPUID wants more than 4096 entries");
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
    for (uint32_t i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
        int indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        if (e->function == function && (!indexed || e->index == index))
            return e;
    }
    return NULL;
}

void kvm_set_guest_cpuid(struct kvm_vm *vm, int have_irqchip)
{
    struct kvm_cpuid2 *cpuid = kvm_supported_cpuid(vm);
    struct kvm_cpuid_entry2 *leaf1 = cpuid_find(cpuid, 1, 0);
    if (leaf1 && have_irqchip && kvm_check_cap(vm, KVM_CAP_TSC_DEADLINE_TIMER))
        leaf1->ecx |= 1u << 24;
    /* "Running under a hypervisor": without it Linux ignores KVM's 0x40000000 leaves, so no
     * kvmclock, and calibrates the TSC against the PIT instead (slow, and fails when timing
     * is odd, e.g. nested or simulated). KVM leaves setting it to userspace. */
    if (leaf1)
        leaf1->ecx |= 1u << 31;
    KVM_IOCTL(vm->vcpu_fd, KVM_SET_CPUID2, cpuid);
    free(cpuid);
}

int kvm_host_is_amd(struct kvm_vm *vm)
{
    struct kvm_cpuid2 *cpuid = kvm_supported_cpuid(vm);
    struct kvm_cpuid_entry2 *leaf0 = cpuid_find(cpuid, 0, 0);
    /* "AuthenticAMD" / "HygonGenuine": EBX holds "Auth" / "Hygo". */
    int amd = leaf0 && (leaf0->ebx == 0x68747541 || leaf0->ebx == 0x6f677948);
    free(cpuid);
    return amd;
}

const char *kvm_exit_name(uint32_t reason)
{
    static const char *const names[] = {
        [KVM_EXIT_UNKNOWN] = "UNKNOWN",         [KVM_EXIT_EXCEPTION] = "EXCEPTION",
        [KVM_EXIT_IO] = "IO",                   [KVM_EXIT_HYPERCALL] = "HYPERCALL",
        [KVM_EXIT_DEBUG] = "DEBUG",             [KVM_EXIT_HLT] = "HLT",
        [KVM_EXIT_MMIO] = "MMIO",               [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
        [KVM_EXIT_SHUTDOWN] = "SHUTDOWN",       [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
        [KVM_EXIT_INTR] = "INTR",               [KVM_EXIT_SET_TPR] = "SET_TPR",
        [KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",   [KVM_EXIT_NMI] = "NMI",
        [KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
        [KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
    };
    if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
        return names[reason];
    return "?";
}

void kvm_die_on_exit(struct kvm_vm *vm, const char *who)
{
    struct kvm_run *run = vm->run;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    int have_regs = ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) == 0 &&
                    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) == 0;
    fflush(stdout);
    fprintf(stderr, "%s: unexpected KVM exit %u (%s)", who, run->exit_reason,
            kvm_exit_name(run->exit_reason));
    switch (run->exit_reason) {
    case KVM_EXIT_FAIL_ENTRY:
        fprintf(stderr, ", hardware entry failure reason 0x%llx",
                (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        fprintf(stderr, ", suberror %u", run->internal.suberror);
        for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
            fprintf(stderr, " 0x%llx", (unsigned long long)run->internal.data[i]);
        break;
    case KVM_EXIT_IO:
        fprintf(stderr, ", %s port 0x%x size %u", run->io.direction ? "out" : "in",
                run->io.port, run->io.size);
        break;
    case KVM_EXIT_MMIO:
        fprintf(stderr, ", %s gpa 0x%llx len %u", run->mmio.is_write ? "write" : "read",
                (unsigned long long)run->mmio.phys_addr, run->mmio.len);
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        fprintf(stderr, ", event type %u", run->system_event.type);
        break;
    }
    if (have_regs)
        fprintf(stderr, "\n  rip=0x%llx rsp=0x%llx rax=0x%llx cr0=0x%llx cr3=0x%llx cr4=0x%llx "
                "efer=0x%llx", (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
                (unsigned long long)regs.rax, (unsigned long long)sregs.cr0,
                (unsigned long long)sregs.cr3, (unsigned long long)sregs.cr4,
                (unsigned long long)sregs.efer);
    fputc('\n', stderr);
    exit(kExitGuestError);
}
