/* Host side: VM entry and the VM-exit stub (HOST_RIP). Guest side: the
 * guest's interrupt stubs.
 *
 * vmx_enter(vcpu) saves the host's callee-saved registers, puts the vcpu
 * pointer at the top of the stack and makes that stack pointer HOST_RSP, so
 * every VM exit lands in vmx_exit_stub with (%rsp) = vcpu (SDM 28.5.3: RSP
 * and RIP come from the host-state area). The stub saves the guest GPRs,
 * calls vcpu->handler(vcpu) and either VMRESUMEs or returns from
 * vmx_enter. RFLAGS is 0x2 after an exit (SDM 28.5.3), so the handler runs
 * with interrupts off and DF clear. */

#define VCPU_RAX 0
#define VCPU_RCX 8
#define VCPU_RDX 16
#define VCPU_RBX 24
#define VCPU_RBP 40
#define VCPU_RSI 48
#define VCPU_RDI 56
#define VCPU_R8 64
#define VCPU_R9 72
#define VCPU_R10 80
#define VCPU_R11 88
#define VCPU_R12 96
#define VCPU_R13 104
#define VCPU_R14 112
#define VCPU_R15 120
#define VCPU_LAUNCHED 128
#define VCPU_HANDLER 136

#define HOST_RSP 0x6c14
#define HC_FAULT 5

/* Loads the guest GPRs from the vcpu in %rax; %rax last. Flags untouched. */
.macro LOAD_GUEST_GPRS
        mov VCPU_RCX(%rax), %rcx
        mov VCPU_RDX(%rax), %rdx
        mov VCPU_RBX(%rax), %rbx
        mov VCPU_RBP(%rax), %rbp
        mov VCPU_RSI(%rax), %rsi
        mov VCPU_RDI(%rax), %rdi
        mov VCPU_R8(%rax), %r8
        mov VCPU_R9(%rax), %r9
        mov VCPU_R10(%rax), %r10
        mov VCPU_R11(%rax), %r11
        mov VCPU_R12(%rax), %r12
        mov VCPU_R13(%rax), %r13
        mov VCPU_R14(%rax), %r14
        mov VCPU_R15(%rax), %r15
        mov VCPU_RAX(%rax), %rax
.endm

        .section .text
        .code64
        .globl vmx_enter, vmx_exit_stub
vmx_enter:
        push %rbp
        push %rbx
        push %r12
        push %r13
        push %r14
        push %r15
        push %rdi                       /* (%rsp) = vcpu; %rsp is 16-byte aligned */
        mov $HOST_RSP, %eax
        vmwrite %rsp, %rax
        jbe .Lhost_rsp_failed
        mov %rdi, %rax
        cmpq $0, VCPU_LAUNCHED(%rax)
        LOAD_GUEST_GPRS
        jne .Lresume
        vmlaunch
        /* Only reached when VMLAUNCH fails (SDM 31.3 VMLAUNCH/VMRESUME). */
        mov $1, %ecx
        jmp .Lfailed
.Lresume:
        vmresume
.Lresume_failed:
        mov $3, %ecx
.Lfailed:
        /* Flags are still those of the failed instruction: CF=1 is
         * VMfailInvalid (code), ZF=1 is VMfailValid (code + 1). */
        jc 1f
        inc %ecx
1:      mov %ecx, %eax
        jmp .Lreturn
.Lhost_rsp_failed:
        mov $5, %eax
.Lreturn:
        pop %rdi
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %rbx
        pop %rbp
        ret

        .balign 16
vmx_exit_stub:
        xchg %rax, (%rsp)               /* %rax = vcpu, (%rsp) = guest RAX */
        mov %rcx, VCPU_RCX(%rax)
        mov %rdx, VCPU_RDX(%rax)
        mov %rbx, VCPU_RBX(%rax)
        mov %rbp, VCPU_RBP(%rax)
        mov %rsi, VCPU_RSI(%rax)
        mov %rdi, VCPU_RDI(%rax)
        mov %r8, VCPU_R8(%rax)
        mov %r9, VCPU_R9(%rax)
        mov %r10, VCPU_R10(%rax)
        mov %r11, VCPU_R11(%rax)
        mov %r12, VCPU_R12(%rax)
        mov %r13, VCPU_R13(%rax)
        mov %r14, VCPU_R14(%rax)
        mov %r15, VCPU_R15(%rax)
        popq VCPU_RAX(%rax)
        push %rax                       /* (%rsp) = vcpu again */
        movq $1, VCPU_LAUNCHED(%rax)
        mov %rax, %rdi
        call *VCPU_HANDLER(%rdi)
        test %eax, %eax
        jnz 2f
        /* The handler may have made another, not yet launched VMCS current
         * (a nested guest's VMCS02) and cleared `launched`. */
        mov (%rsp), %rax
        cmpq $0, VCPU_LAUNCHED(%rax)
        LOAD_GUEST_GPRS
        jne 3f
        vmlaunch
        mov $1, %ecx
        jmp .Lfailed
3:      vmresume
        jmp .Lresume_failed
2:      xor %eax, %eax
        jmp .Lreturn

/* ---------------------------------------------------------------------- */
/* Guest interrupt stubs (the guest has its own IDT, built by vmcs_setup.c).
 * Vectors without a handler report themselves to the host with HC_FAULT:
 * RBX = vector, RCX and RDX = the two words above it on the stack (error
 * code and RIP, or RIP and CS). */
        .pushsection .data, "aw"
        .balign 8
        .globl guest_vector_stubs, guest_virtual_eoi_addr
guest_vector_stubs:
        .popsection
        vector = 0
        .rept 256
        .balign 8
1:      pushq $vector
        jmp guest_unexpected
        .pushsection .data, "aw"
        .quad 1b
        .popsection
        vector = vector + 1
        .endr

        .pushsection .data, "aw"
guest_virtual_eoi_addr:
        .quad 0
        .popsection

guest_unexpected:
        mov (%rsp), %rbx
        mov 8(%rsp), %rcx
        mov 16(%rsp), %rdx
        mov $HC_FAULT, %eax
        vmcall
1:      hlt
        jmp 1b

/* An interrupt the host injected (HLT wake-up, re-injected self-IPI): count
 * it. There is no EOI: the vector never reached a local APIC of the guest. */
        .globl guest_isr_count, guest_isr_posted, guest_isr_posted_x2apic
        .balign 16
guest_isr_count:
        lock incq guest_irq_count(%rip)
        iretq

/* A posted interrupt delivered by virtual-interrupt delivery: count it and
 * write the virtual EOI to the APIC-access page (EOI virtualization, SDM
 * 30.1.3 / 30.4.3.x), which clears the vector's VISR bit without an exit. */
        .balign 16
guest_isr_posted:
        lock incq guest_irq_count(%rip)
        push %rax
        mov guest_virtual_eoi_addr(%rip), %rax
        movl $0, 0xb0(%rax)
        pop %rax
        iretq

/* The same with the virtual EOI as WRMSR to the x2APIC EOI MSR with value 0
 * ("virtualize x2APIC mode", SDM 29.5). */
        .balign 16
guest_isr_posted_x2apic:
        lock incq guest_irq_count(%rip)
        push %rax
        push %rcx
        push %rdx
        mov $0x80b, %ecx
        xor %eax, %eax
        xor %edx, %edx
        wrmsr
        pop %rdx
        pop %rcx
        pop %rax
        iretq
