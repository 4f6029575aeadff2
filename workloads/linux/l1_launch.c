/* l1_launch: a small /dev/kvm VMM that boots a Linux bzImage or vmlinux + initramfs as a guest,
 * so that the kernel running on vmxsim (L0) can start the same kernel as its L1 guest
 * hypervisor.
 *
 * The machine: one vCPU, RAM from 0 (--mem MiB), KVM's in-kernel PIC/IOAPIC/LAPIC and PIT,
 * a 16550A on COM1 (0x3f8, IRQ 4) connected to this process's stdin/stdout, a CMOS clock, and
 * the debug-exit port 0xf4 (a write ends l1_launch with that value as its exit status, the
 * way vmxsim and QEMU's isa-debug-exit end the simulation). No firmware, ACPI or PCI devices:
 * Linux is entered by the 64-bit boot protocol (linux_boot.c). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cmos_rtc.h"
#include "kvm_util.h"
#include "linux_boot.h"
#include "uart16550.h"

enum {
    kCom1Base = 0x3f8,
    kCom1Irq = 4,
    kDebugExitPort = 0xf4,
    kI8042Command = 0x64,
    kI8042Reset = 0xfe,
    kPostPort = 0x80,
    kPciConfigAddress = 0xcf8,
};

struct machine {
    struct kvm_vm vm;
    uint8_t *ram;
    struct uart16550 uart;
    struct cmos_rtc cmos;
    int verbose;
    unsigned long long unclaimed_io, unclaimed_mmio;
    uint32_t pci_config_address; /* CONFIG_ADDRESS latch: an empty PCI bus, slots read all-ones */
};

static struct termios saved_termios;
static int termios_saved;

static void restore_terminal(void)
{
    if (termios_saved)
        tcsetattr(0, TCSANOW, &saved_termios);
}

/* An interactive console passes every key to the guest, which echoes and edits itself. */
static void raw_terminal(void)
{
    if (!isatty(0) || tcgetattr(0, &saved_termios) != 0)
        return;
    termios_saved = 1;
    atexit(restore_terminal);
    struct termios raw = saved_termios;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR; /* keep our own stderr messages readable */
    tcsetattr(0, TCSANOW, &raw);
}

static void set_com1_irq(void *ctx, int level)
{
    struct machine *m = ctx;
    struct kvm_irq_level irq = {.irq = kCom1Irq, .level = (uint32_t)level};
    KVM_IOCTL(m->vm.vm_fd, KVM_IRQ_LINE, &irq);
}

static void *stdin_thread(void *arg)
{
    struct machine *m = arg;
    uint8_t buf[64];
    for (;;) {
        ssize_t n = read(0, buf, sizeof(buf));
        if (n <= 0)
            return NULL; /* no console input: the guest simply never receives any */
        for (unsigned done = 0; done < (unsigned)n;) {
            done += uart_receive(&m->uart, buf + done, (unsigned)n - done);
            if (done < (unsigned)n)
                usleep(10000); /* the guest has not drained the FIFO yet */
        }
    }
}

__attribute__((noreturn)) static void finish(struct machine *m, int status, const char *why)
{
    uart_flush(&m->uart);
    if (m->verbose || status != 0)
        fprintf(stderr, "l1_launch: %s, exit status %d\n", why, status);
    if (m->verbose)
        fprintf(stderr, "l1_launch: %llu unclaimed port accesses, %llu unclaimed MMIO accesses\n",
                m->unclaimed_io, m->unclaimed_mmio);
    exit(status);
}

static uint32_t io_value(const uint8_t *data, unsigned size)
{
    uint32_t v = 0;
    memcpy(&v, data, size);
    return v;
}

static void port_io(struct machine *m, uint16_t port, int is_out, uint8_t *data, unsigned size)
{
    if (port >= kCom1Base && port < kCom1Base + 8) {
        if (is_out)
            uart_write(&m->uart, port - kCom1Base, data[0]);
        else
            data[0] = uart_read(&m->uart, port - kCom1Base);
        return;
    }
    if (port == 0x70 || port == 0x71) {
        if (is_out)
            cmos_write(&m->cmos, port, data[0]);
        else
            data[0] = cmos_read(&m->cmos, port);
        return;
    }
    if (port == kDebugExitPort && is_out) {
        uint32_t code = io_value(data, size);
        char why[64];
        snprintf(why, sizeof(why), "guest wrote %u to the debug-exit port", code);
        finish(m, code > 255 ? 255 : (int)code, why);
    }
    if (port == kI8042Command && is_out && data[0] == kI8042Reset)
        finish(m, kExitGuestError, "guest reset the machine through the keyboard controller");
    if (port == kPostPort)
        return; /* Linux's I/O delay port */
    if (port == kPciConfigAddress && size == 4) {
        /* Configuration mechanism #1 with nothing behind it (L1 boots with pci=conf1): the
         * address reads back, CONFIG_DATA falls through to all-ones below. */
        if (is_out)
            m->pci_config_address = io_value(data, size) & 0x80fffffcu;
        else
            memcpy(data, &m->pci_config_address, 4);
        return;
    }
    /* Nothing decodes other ports: reads float high, writes vanish, as on a PC. */
    m->unclaimed_io++;
    if (!is_out)
        memset(data, 0xff, size);
    if (m->verbose > 1)
        fprintf(stderr, "l1_launch: unclaimed %s port 0x%x\n", is_out ? "out" : "in", port);
}

static void run(struct machine *m)
{
    struct kvm_run *run = m->vm.run;
    for (;;) {
        if (ioctl(m->vm.vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die(kExitKvmError, "l1_launch: KVM_RUN failed: %s", strerror(errno));
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
                port_io(m, run->io.port, run->io.direction == KVM_EXIT_IO_OUT, data,
                        run->io.size);
            continue;
        }
        case KVM_EXIT_MMIO:
            m->unclaimed_mmio++;
            if (!run->mmio.is_write)
                memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
            continue;
        case KVM_EXIT_SHUTDOWN:
            finish(m, kExitGuestError, "guest shut down (triple fault or reset)");
        case KVM_EXIT_SYSTEM_EVENT:
            finish(m, kExitGuestError, "guest requested a system event (reset or power off)");
        }
        uart_flush(&m->uart);
        kvm_die_on_exit(&m->vm, "l1_launch");
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: l1_launch --kernel BZIMAGE|VMLINUX [--initrd INITRAMFS] [--append CMDLINE]\n"
            "                 [--mem MIB] [--verbose]...\n"
            "Boots Linux as a KVM guest with its console on stdin/stdout; exits with the value\n"
            "the guest writes to port 0xf4 (status 4: the guest crashed or reset). A VMLINUX\n"
            "(ELF) is entered at startup_64, which spares the bzImage's decompressor.\n");
    exit(kExitUsage);
}

int main(int argc, char **argv)
{
    static struct machine m;
    struct linux_boot boot = {.cmdline = "console=ttyS0"};
    uint64_t mem_mib = 256;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--verbose") == 0) {
            m.verbose++;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *val = argv[++i];
        if (strcmp(arg, "--kernel") == 0)
            boot.kernel_path = val;
        else if (strcmp(arg, "--initrd") == 0)
            boot.initrd_path = val;
        else if (strcmp(arg, "--append") == 0)
            boot.cmdline = val;
        else if (strcmp(arg, "--mem") == 0)
            mem_mib = strtoull(val, NULL, 0);
        else
            usage();
    }
    if (!boot.kernel_path)
        usage();
    /* One RAM block below the 32-bit MMIO hole (LAPIC, IOAPIC, KVM's TSS page). */
    if (mem_mib < 128 || mem_mib > 3072)
        die(kExitUsage, "l1_launch: --mem must be 128..3072 MiB");

    struct kvm_vm *vm = &m.vm;
    kvm_vm_open(vm);
    /* Intel without unrestricted guest needs these pages for real mode; QEMU's addresses. */
    if (kvm_check_cap(vm, KVM_CAP_SET_TSS_ADDR))
        KVM_IOCTL(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)0xfffbd000ul);
    kvm_require_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
    KVM_IOCTL(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
    kvm_require_cap(vm, KVM_CAP_PIT2, "KVM_CAP_PIT2");
    struct kvm_pit_config pit = {.flags = 0};
    KVM_IOCTL(vm->vm_fd, KVM_CREATE_PIT2, &pit);
    boot.ram_size = mem_mib << 20;
    m.ram = boot.ram = kvm_add_ram(vm, 0, 0, boot.ram_size);
    kvm_vcpu_create(vm);
    /* Everything KVM can offer, VMX included when L0's kvm_intel has nested=1. */
    kvm_set_guest_cpuid(vm, 1);
    linux_boot_load(vm, &boot);

    uart_init(&m.uart, 1, set_com1_irq, &m);
    cmos_init(&m.cmos);
    if (m.verbose)
        fprintf(stderr, "l1_launch: booting %s, initrd %s, %llu MiB, \"%s\"\n", boot.kernel_path,
                boot.initrd_path ? boot.initrd_path : "(none)", (unsigned long long)mem_mib,
                boot.cmdline);
    raw_terminal();
    pthread_t input;
    if (pthread_create(&input, NULL, stdin_thread, &m) != 0)
        die(kExitKvmError, "l1_launch: cannot start the console input thread");
    run(&m);
}
