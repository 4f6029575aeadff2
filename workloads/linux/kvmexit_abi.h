/* What kvmexit's VMM and its guest (kvmexit_guest.S) agree on: guest-physical layout, the
 * mailbox, the ports. Plain #defines so that the assembler can include it too. */
#ifndef VMXSIM_KVMEXIT_ABI_H
#define VMXSIM_KVMEXIT_ABI_H

/* Guest-physical layout: one memory slot of kGuestRamSize from 0. */
#define GUEST_TABLES_GPA 0x1000    /* long_mode.c: GDT + page tables (7 pages) */
#define GUEST_IDT_GPA 0x8000       /* 256 x 16-byte gates */
#define GUEST_MAILBOX_GPA 0x9000   /* struct below */
#define GUEST_CODE_GPA 0x10000     /* kvmexit_guest.S's blob, copied here */
#define GUEST_STACK_TOP 0x100000
#define GUEST_SAMPLES_GPA 0x100000 /* uint64_t per measured iteration */
#define GUEST_RAM_SIZE 0x1000000   /* 16 MiB: room for ~1.9 million samples */
#define GUEST_MAX_SAMPLES ((GUEST_RAM_SIZE - GUEST_SAMPLES_GPA) / 8)
/* Nothing backs this guest-physical address: reads exit to userspace as KVM_EXIT_MMIO. The
 * page tables map it (3-4 GiB, uncached). */
#define GUEST_MMIO_GPA 0xc0000000

/* Mailbox fields (byte offsets), written by the VMM before each run unless noted. */
#define MB_OP 0x00             /* which operation, OP_* */
#define MB_ITERS 0x08          /* samples to take (warm-up iterations are extra) */
#define MB_WARMUP 0x10
#define MB_TIMER_DELTA 0x18    /* hlt_wakeup: TSC cycles from now to the deadline */
#define MB_USE_VMMCALL 0x20    /* vmcall op: 1 = use AMD's VMMCALL encoding */
#define MB_MSR_VALUE 0x28      /* guest: value wrmsr writes back (read once before the loop) */
#define MB_ISR_TSC 0x30        /* guest: TSC read first thing in the timer handler */
#define MB_NOT_HALTED 0x38     /* guest: timer interrupts that arrived before HLT */
#define MB_FAULT_VECTOR 0x40   /* guest: exception vector, error code, RIP on a fault */
#define MB_FAULT_ERROR 0x48
#define MB_FAULT_RIP 0x50
#define MB_HC_RESULT 0x58     /* guest: RAX after one hypercall (-KVM_ENOSYS expected) */

/* Operations, in the order the VMM runs them by default. */
#define OP_NULL 0       /* no exit: the cost of the timing code itself */
#define OP_CPUID 1      /* CPUID leaf 0: handled in KVM */
#define OP_VMCALL 2     /* unknown hypercall: KVM returns -KVM_ENOSYS in RAX */
#define OP_IO_OUT 3     /* OUT to kPortBench: KVM_EXIT_IO to the VMM and back */
#define OP_IO_IN 4      /* IN from kPortBench: likewise */
#define OP_MMIO_READ 5  /* load from GUEST_MMIO_GPA: KVM_EXIT_MMIO to the VMM and back */
#define OP_RDMSR 6      /* RDMSR IA32_MISC_ENABLE: intercepted, handled in KVM */
#define OP_WRMSR 7      /* WRMSR IA32_MISC_ENABLE with its own value: likewise */
#define OP_HLT_WAKEUP 8 /* TSC-deadline timer, HLT; sample = handler entry TSC - deadline */
#define OP_COUNT 9

#define PORT_BENCH 0xe0  /* io_out/io_in target; the VMM ignores writes, reads give 0 */
#define PORT_DONE 0xe4   /* guest finished the op (any value) */
#define PORT_FAULT 0xe8  /* guest took an exception; details in the mailbox */

#define TIMER_VECTOR 0x40
#define SPURIOUS_VECTOR 0xff
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_X2APIC_EOI 0x80b
#define MSR_X2APIC_SVR 0x80f
#define MSR_X2APIC_LVT_TIMER 0x832
#define KVM_HC_UNKNOWN 0x7fff /* no hypercall has this number */

#endif
