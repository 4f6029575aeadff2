/* kvmexit: a minimal /dev/kvm VMM whose 64-bit guest (kvmexit_guest.S) times VM-exit round
 * trips with RDTSC and whose VMM prints one line per kind of exit:
 *
 *     RESULT <prefix>.<op>.cycles=<median>     (and .mean_cycles, .min_cycles)
 *
 * cycles is the median of --iters round trips taken after --warmup untimed ones, in guest TSC
 * cycles, the timing code's own cost (op "null") included. io_out, io_in and mmio_read exit
 * to this process (KVM_EXIT_IO / KVM_EXIT_MMIO), so their round trip includes KVM_RUN
 * returning to userspace and being called again; the other ops are handled inside KVM. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_util.h"
#include "kvmexit_abi.h"
#include "long_mode.h"

extern const uint8_t kvmexit_guest_start[], kvmexit_guest_end[], kvmexit_guest_entry[];
extern const uint8_t kvmexit_guest_timer_isr[], kvmexit_guest_spurious_isr[];
extern const uint8_t kvmexit_guest_fault_stubs[];

static const char *const kOpNames[OP_COUNT] = {
    [OP_NULL] = "null",       [OP_CPUID] = "cpuid",   [OP_VMCALL] = "vmcall",
    [OP_IO_OUT] = "io_out",   [OP_IO_IN] = "io_in",   [OP_MMIO_READ] = "mmio_read",
    [OP_RDMSR] = "rdmsr",     [OP_WRMSR] = "wrmsr",   [OP_HLT_WAKEUP] = "hlt_wakeup",
};

struct options {
    const char *prefix;
    uint64_t iters;
    uint64_t warmup;
    uint64_t timer_delta;
    int hypercall_insn; /* -1: the host vendor's, 0: VMCALL, 1: VMMCALL */
    int run_op[OP_COUNT];
};

struct vmm {
    struct kvm_vm vm;
    uint8_t *ram;
    int use_vmmcall;
};

static uint64_t guest_code_address(const uint8_t *symbol)
{
    return GUEST_CODE_GPA + (uint64_t)(symbol - kvmexit_guest_start);
}

static uint64_t *mailbox(struct vmm *v, unsigned field)
{
    return (uint64_t *)(v->ram + GUEST_MAILBOX_GPA + field);
}

/* 64-bit interrupt gate (SDM 6.14.1): handler offset split over three fields, P, DPL 0. */
static void set_gate(uint8_t *idt, unsigned vector, uint64_t handler)
{
    uint64_t *gate = (uint64_t *)(idt + vector * 16);
    gate[0] = (handler & 0xffff) | ((uint64_t)kLongModeCs << 16) | (0x8eull << 40) |
              ((handler >> 16 & 0xffff) << 48);
    gate[1] = handler >> 32;
}

static void setup_guest(struct vmm *v, const struct options *o)
{
    struct kvm_vm *vm = &v->vm;
    kvm_vm_open(vm);
    /* The in-kernel LAPIC gives hlt_wakeup its TSC-deadline timer; it also makes the VM look
     * like every real KVM guest (QEMU's default). */
    kvm_require_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
    KVM_IOCTL(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
    v->ram = kvm_add_ram(vm, 0, 0, GUEST_RAM_SIZE);
    kvm_vcpu_create(vm);
    kvm_set_guest_cpuid(vm, 1);
    /* KVM would emulate the other vendor's instruction after a #UD (and patch the guest code
     * once, KVM_X86_QUIRK_FIX_HYPERCALL_INSN); the native one measures the plain exit. */
    v->use_vmmcall = o->hypercall_insn >= 0 ? o->hypercall_insn : kvm_host_is_amd(vm);

    size_t blob = (size_t)(kvmexit_guest_end - kvmexit_guest_start);
    memcpy(v->ram + GUEST_CODE_GPA, kvmexit_guest_start, blob);
    long_mode_setup(vm, v->ram, GUEST_TABLES_GPA);

    uint8_t *idt = v->ram + GUEST_IDT_GPA;
    for (unsigned vec = 0; vec < 32; vec++)
        set_gate(idt, vec, guest_code_address(kvmexit_guest_fault_stubs) + 16 * vec);
    set_gate(idt, TIMER_VECTOR, guest_code_address(kvmexit_guest_timer_isr));
    set_gate(idt, SPURIOUS_VECTOR, guest_code_address(kvmexit_guest_spurious_isr));
    struct kvm_sregs sregs;
    KVM_IOCTL(vm->vcpu_fd, KVM_GET_SREGS, &sregs);
    sregs.idt.base = GUEST_IDT_GPA;
    sregs.idt.limit = 256 * 16 - 1;
    KVM_IOCTL(vm->vcpu_fd, KVM_SET_SREGS, &sregs);
}

static void guest_fault(struct vmm *v)
{
    die(kExitGuestError, "kvmexit: guest exception vector %llu error code 0x%llx at rip 0x%llx",
        (unsigned long long)*mailbox(v, MB_FAULT_VECTOR),
        (unsigned long long)*mailbox(v, MB_FAULT_ERROR),
        (unsigned long long)*mailbox(v, MB_FAULT_RIP));
}

/* Runs the guest until it reports PORT_DONE, serving the exits that are part of the
 * measurement on the way. */
static void run_until_done(struct vmm *v)
{
    struct kvm_run *run = v->vm.run;
    for (;;) {
        if (ioctl(v->vm.vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die(kExitKvmError, "kvmexit: KVM_RUN failed: %s", strerror(errno));
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            if (run->io.port == PORT_BENCH) {
                if (run->io.direction == KVM_EXIT_IO_IN)
                    memset((uint8_t *)run + run->io.data_offset, 0,
                           (size_t)run->io.size * run->io.count);
                continue;
            }
            if (run->io.port == PORT_DONE)
                return;
            if (run->io.port == PORT_FAULT)
                guest_fault(v);
            break;
        case KVM_EXIT_MMIO:
            if ((run->mmio.phys_addr & ~0xfffull) == GUEST_MMIO_GPA) {
                if (!run->mmio.is_write)
                    memset(run->mmio.data, 0, sizeof(run->mmio.data));
                continue;
            }
            break;
        }
        kvm_die_on_exit(&v->vm, "kvmexit");
    }
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(struct vmm *v, const struct options *o, unsigned op)
{
    uint64_t *samples = (uint64_t *)(v->ram + GUEST_SAMPLES_GPA);
    uint64_t n = o->iters;
    /* hlt_wakeup's samples are signed: KVM's lapic_timer_advance may deliver early. */
    int64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += (int64_t)samples[i];
    qsort(samples, n, sizeof(samples[0]), compare_u64);
    const char *name = kOpNames[op];
    printf("RESULT %s.%s.cycles=%lld\n", o->prefix, name, (long long)samples[n / 2]);
    printf("RESULT %s.%s.mean_cycles=%lld\n", o->prefix, name, (long long)(sum / (int64_t)n));
    printf("RESULT %s.%s.min_cycles=%lld\n", o->prefix, name, (long long)samples[0]);
    if (op == OP_VMCALL && (int64_t)*mailbox(v, MB_HC_RESULT) != -1000)
        printf("kvmexit: note: the hypercall returned %lld, not -KVM_ENOSYS (-1000)\n",
               (long long)*mailbox(v, MB_HC_RESULT));
    if (op == OP_HLT_WAKEUP && *mailbox(v, MB_NOT_HALTED))
        printf("kvmexit: note: %llu of %llu deadlines were already due before HLT "
               "(raise --timer-delta)\n", (unsigned long long)*mailbox(v, MB_NOT_HALTED),
               (unsigned long long)(o->iters + o->warmup));
    fflush(stdout);
}

static void run_op(struct vmm *v, const struct options *o, unsigned op)
{
    *mailbox(v, MB_OP) = op;
    *mailbox(v, MB_ITERS) = o->iters;
    *mailbox(v, MB_WARMUP) = o->warmup;
    *mailbox(v, MB_TIMER_DELTA) = o->timer_delta;
    *mailbox(v, MB_USE_VMMCALL) = (uint64_t)v->use_vmmcall;
    struct kvm_regs regs = {
        .rip = guest_code_address(kvmexit_guest_entry),
        .rsp = GUEST_STACK_TOP,
        .rflags = 0x2,
    };
    KVM_IOCTL(v->vm.vcpu_fd, KVM_SET_REGS, &regs);
    run_until_done(v);
    report(v, o, op);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: kvmexit [--prefix NAME] [--iters N] [--warmup N] [--timer-delta CYCLES]\n"
            "               [--hypercall vmcall|vmmcall] [--ops op,op,...]\n"
            "ops: null cpuid vmcall io_out io_in mmio_read rdmsr wrmsr hlt_wakeup (default: all)\n"
            "prints RESULT NAME.<op>.cycles=<median TSC cycles per round trip> (NAME: kvm)\n");
    exit(kExitUsage);
}

static uint64_t parse_number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *s == '\0' || *end != '\0')
        die(kExitUsage, "kvmexit: bad number for %s: '%s'", what, s);
    return v;
}

static void parse_ops(struct options *o, char *list)
{
    memset(o->run_op, 0, sizeof(o->run_op));
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        unsigned op = 0;
        while (op < OP_COUNT && strcmp(kOpNames[op], tok) != 0)
            op++;
        if (op == OP_COUNT)
            die(kExitUsage, "kvmexit: unknown op '%s'", tok);
        o->run_op[op] = 1;
    }
}

static void parse_options(struct options *o, int argc, char **argv)
{
    *o = (struct options){.prefix = "kvm", .iters = 1000, .warmup = 100,
                          .timer_delta = 200000, .hypercall_insn = -1};
    for (unsigned op = 0; op < OP_COUNT; op++)
        o->run_op[op] = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            usage();
        if (!val)
            usage();
        if (strcmp(arg, "--prefix") == 0)
            o->prefix = val;
        else if (strcmp(arg, "--iters") == 0)
            o->iters = parse_number(val, arg);
        else if (strcmp(arg, "--warmup") == 0)
            o->warmup = parse_number(val, arg);
        else if (strcmp(arg, "--timer-delta") == 0)
            o->timer_delta = parse_number(val, arg);
        else if (strcmp(arg, "--hypercall") == 0 && strcmp(val, "vmcall") == 0)
            o->hypercall_insn = 0;
        else if (strcmp(arg, "--hypercall") == 0 && strcmp(val, "vmmcall") == 0)
            o->hypercall_insn = 1;
        else if (strcmp(arg, "--ops") == 0)
            parse_ops(o, argv[i + 1]);
        else
            usage();
        i++;
    }
    if (o->iters == 0 || o->iters > GUEST_MAX_SAMPLES)
        die(kExitUsage, "kvmexit: --iters must be 1..%llu", (unsigned long long)GUEST_MAX_SAMPLES);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(&o, argc, argv);
    struct vmm v;
    setup_guest(&v, &o);
    printf("kvmexit: %s, median of %llu round trips after %llu warm-up, guest TSC cycles\n",
           o.prefix, (unsigned long long)o.iters, (unsigned long long)o.warmup);
    for (unsigned op = 0; op < OP_COUNT; op++)
        if (o.run_op[op])
            run_op(&v, &o, op);
    return kExitOk;
}
