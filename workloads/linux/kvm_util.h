/* Thin helpers over the /dev/kvm ioctl API shared by kvmexit and l1_launch.
 * Every failing call ends the program with a message naming the call (die()), so the
 * callers stay linear and a failure on vmxsim's console explains itself. */
#ifndef VMXSIM_KVM_UTIL_H
#define VMXSIM_KVM_UTIL_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes shared by the /dev/kvm programs; /init passes them on to the debug-exit port. */
enum {
    kExitOk = 0,
    kExitUsage = 2,
    kExitKvmError = 3,   /* an ioctl failed or KVM lacks a needed capability */
    kExitGuestError = 4, /* the guest faulted, shut down or exited unexpectedly */
};

struct kvm_vm {
    int kvm_fd;
    int vm_fd;
    int vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
};

void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* ioctl() that dies with the ioctl's name and errno on failure; returns its result. */
int kvm_ioctl(int fd, unsigned long request, void *arg, const char *name);
#define KVM_IOCTL(fd, req, arg) kvm_ioctl((fd), (req), (arg), #req)

/* Opens /dev/kvm, checks the API version, creates the VM (no vCPU yet). */
void kvm_vm_open(struct kvm_vm *vm);
/* Creates vCPU 0 and maps its kvm_run area. */
void kvm_vcpu_create(struct kvm_vm *vm);
/* Backs [gpa, gpa+size) with anonymous host memory in memory slot `slot`; returns the host
 * address of gpa. */
void *kvm_add_ram(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size);
int kvm_check_cap(struct kvm_vm *vm, long cap);
void kvm_require_cap(struct kvm_vm *vm, long cap, const char *name);

/* The host's supported CPUID (KVM_GET_SUPPORTED_CPUID), caller frees. */
struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm_vm *vm);
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index);
/* Gives the vCPU the supported CPUID, plus TSC-deadline (emulated by the in-kernel LAPIC but
 * not in the supported set, api.rst KVM_GET_SUPPORTED_CPUID) when the VM has an irqchip, and
 * the hypervisor-present bit. */
void kvm_set_guest_cpuid(struct kvm_vm *vm, int have_irqchip);
/* True on an AMD/Hygon host (the hypercall instruction is VMMCALL there). */
int kvm_host_is_amd(struct kvm_vm *vm);

const char *kvm_exit_name(uint32_t reason);
/* Describes an unexpected KVM_RUN exit and dies with kExitGuestError. */
void kvm_die_on_exit(struct kvm_vm *vm, const char *who) __attribute__((noreturn));

#endif
