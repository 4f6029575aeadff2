/* kvmexit's guest: 64-bit code that times one kind of VM exit per run with RDTSC and leaves
 * one TSC delta per iteration in GUEST_SAMPLES_GPA for the VMM to reduce.
 *
 * The blob is linked into the VMM as read-only data and copied to GUEST_CODE_GPA, so it must
 * be position independent: only RIP-relative references inside the blob, absolute ones only to
 * the fixed guest-physical layout of kvmexit_abi.h (identity mapped). */
#include "kvmexit_abi.h"

#define MB(field) (GUEST_MAILBOX_GPA + field)

    .section .rodata.kvmexit_guest, "a"
    .code64
    .balign 16
    .globl kvmexit_guest_start
kvmexit_guest_start:

    .globl kvmexit_guest_entry
kvmexit_guest_entry:
    mov MB(MB_OP), %rax
    cmp $OP_COUNT, %rax
    jae op_done
    lea op_table(%rip), %rbx
    movslq (%rbx, %rax, 4), %rax
    add %rbx, %rax
    jmp *%rax

op_table:
    .long op_null - op_table, op_cpuid - op_table, op_vmcall - op_table
    .long op_io_out - op_table, op_io_in - op_table, op_mmio_read - op_table
    .long op_rdmsr - op_table, op_wrmsr - op_table, op_hlt_wakeup - op_table

/* r12: iterations left (warm-up included), r13: next sample slot, r14: warm-up iterations
 * left (their samples all go to slot 0 and are overwritten), r15: start TSC. */
.macro loop_start
    mov MB(MB_ITERS), %r12
    mov MB(MB_WARMUP), %r14
    add %r14, %r12
    mov $GUEST_SAMPLES_GPA, %r13
.endm

/* Stores rax as this iteration's sample and loops back to label 1. */
.macro loop_end
    mov %rax, (%r13)
    test %r14, %r14
    jz 2f
    dec %r14
    jmp 3f
2:  add $8, %r13
3:  dec %r12
    jnz 1b
    jmp op_done
.endm

/* measure_begin ... measure_end around the timed instructions: one round trip per iteration.
 * LFENCE keeps RDTSC from being reordered with the code around it (SDM RDTSC: "not a
 * serializing instruction"); a VM exit itself serialises. */
.macro measure_begin
    loop_start
1:  lfence
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %r15
    lfence
.endm

.macro measure_end
    lfence
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    sub %r15, %rax
    loop_end
.endm

op_null:
    measure_begin
    nop
    measure_end

op_cpuid:
    measure_begin
    xor %eax, %eax
    xor %ecx, %ecx
    cpuid
    measure_end

/* KVM answers a hypercall number it does not know with -KVM_ENOSYS in RAX without leaving
 * the kernel (kvm_emulate_hypercall). One call first leaves that answer for the VMM to check. */
op_vmcall:
    cmpq $0, MB(MB_USE_VMMCALL)
    jne op_vmmcall
    mov $KVM_HC_UNKNOWN, %eax
    vmcall
    mov %rax, MB(MB_HC_RESULT)
    measure_begin
    mov $KVM_HC_UNKNOWN, %eax
    vmcall
    measure_end
op_vmmcall:
    mov $KVM_HC_UNKNOWN, %eax
    vmmcall
    mov %rax, MB(MB_HC_RESULT)
    measure_begin
    mov $KVM_HC_UNKNOWN, %eax
    vmmcall
    measure_end

op_io_out:
    measure_begin
    out %al, $PORT_BENCH
    measure_end

op_io_in:
    measure_begin
    in $PORT_BENCH, %al
    measure_end

op_mmio_read:
    measure_begin
    mov $GUEST_MMIO_GPA, %ebx
    mov (%rbx), %eax
    measure_end

op_rdmsr:
    measure_begin
    mov $MSR_IA32_MISC_ENABLE, %ecx
    rdmsr
    measure_end

op_wrmsr:
    mov $MSR_IA32_MISC_ENABLE, %ecx
    rdmsr
    mov %eax, MB(MB_MSR_VALUE)
    mov %edx, MB(MB_MSR_VALUE) + 4
    measure_begin
    mov $MSR_IA32_MISC_ENABLE, %ecx
    mov MB(MB_MSR_VALUE), %eax
    mov MB(MB_MSR_VALUE) + 4, %edx
    wrmsr
    measure_end

/* Arm the in-kernel LAPIC's TSC-deadline timer MB_TIMER_DELTA cycles ahead, halt, and take as
 * the sample the TSC at the handler's first instruction minus the deadline: the latency from
 * the programmed expiry to the guest running its handler (KVM's timer expiry, interrupt
 * injection, wake-up of the halted vCPU, VM entry, IDT delivery). */
op_hlt_wakeup:
    mov $MSR_IA32_APIC_BASE, %ecx     /* x2APIC mode: EN | EXTD (SDM 10.12.1) */
    rdmsr
    or $0xc00, %eax
    wrmsr
    mov $MSR_X2APIC_SVR, %ecx         /* software enable, spurious vector */
    mov $(0x100 | SPURIOUS_VECTOR), %eax
    xor %edx, %edx
    wrmsr
    mov $MSR_X2APIC_LVT_TIMER, %ecx   /* TSC-deadline mode (bits 18:17 = 10b), unmasked */
    mov $(TIMER_VECTOR | (2 << 17)), %eax
    wrmsr
    movq $0, MB(MB_NOT_HALTED)
    loop_start
1:  movq $0, MB(MB_ISR_TSC)
    lfence
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    add MB(MB_TIMER_DELTA), %rax
    mov %rax, %r15                    /* deadline */
    mov %rax, %rdx
    shr $32, %rdx
    mov $MSR_IA32_TSC_DEADLINE, %ecx
    wrmsr
    lfence                            /* count deadlines already due before the HLT */
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    cmp %r15, %rax
    jb 4f
    incq MB(MB_NOT_HALTED)
4:  sti                               /* STI's shadow keeps the interrupt out until HLT */
    hlt
    cli
    cmpq $0, MB(MB_ISR_TSC)
    je 4b
    mov MB(MB_ISR_TSC), %rax
    sub %r15, %rax
    loop_end

op_done:
    out %al, $PORT_DONE
    hlt
    jmp op_done

    .balign 16
    .globl kvmexit_guest_timer_isr
kvmexit_guest_timer_isr:
    push %rax
    push %rdx
    push %rcx
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, MB(MB_ISR_TSC)
    mov $MSR_X2APIC_EOI, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %rcx
    pop %rdx
    pop %rax
    iretq

    .balign 16
    .globl kvmexit_guest_spurious_isr
kvmexit_guest_spurious_isr:
    iretq

/* Exception stubs, 16 bytes apart (the VMM computes gate n as stubs + 16 * n). Vectors that
 * push no error code push a 0 so that fault_common sees one frame shape (SDM 6.13). */
    .balign 16
    .globl kvmexit_guest_fault_stubs
kvmexit_guest_fault_stubs:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .balign 16
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    push $0
    .endif
    push $\vec
    jmp fault_common
    .endr

fault_common:
    pop %rax
    mov %rax, MB(MB_FAULT_VECTOR)
    pop %rax
    mov %rax, MB(MB_FAULT_ERROR)
    mov (%rsp), %rax
    mov %rax, MB(MB_FAULT_RIP)
    out %al, $PORT_FAULT
    hlt
    jmp fault_common

    .globl kvmexit_guest_end
kvmexit_guest_end:
    .section .note.GNU-stack, "", @progbits
