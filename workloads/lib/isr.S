/* Interrupt entry stubs, setjmp/longjmp, fault probes, ring-3 entry and the
 * SYSCALL entry point. */

#define USER_CS 0x33
#define USER_DS 0x2b

/* ---------------------------------------------------------------------- */
/* 256 entry stubs. Each pushes a dummy error code where the CPU does not
 * push one, then the vector, and jumps to isr_common, which saves all GPRs
 * (struct irq_frame in runtime.h) and calls isr_dispatch(frame). */
        .section .text
        .code64
        .balign 16
        .pushsection .data.isr_table, "aw"
        .balign 8
        .globl isr_stub_table
isr_stub_table:                         /* 256 stub addresses, by vector */
        .popsection
        vector = 0
        .rept 256
        .balign 16
1:
        .if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
        .else
        pushq $0
        .endif
        pushq $vector
        jmp isr_common
        .pushsection .data.isr_table, "aw"
        .quad 1b
        .popsection
        vector = vector + 1
        .endr

isr_common:
        push %rax
        push %rbx
        push %rcx
        push %rdx
        push %rsi
        push %rdi
        push %rbp
        push %r8
        push %r9
        push %r10
        push %r11
        push %r12
        push %r13
        push %r14
        push %r15
        mov %rsp, %rdi
        cld
        call isr_dispatch
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rbp
        pop %rdi
        pop %rsi
        pop %rdx
        pop %rcx
        pop %rbx
        pop %rax
        add $16, %rsp                   /* vector, error code */
        iretq

/* ---------------------------------------------------------------------- */
/* int setjmp(jmp_buf b); void longjmp(jmp_buf b, int v)
 * jmp_buf: rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags */
        .section .text
        .globl setjmp, longjmp
setjmp:
        mov %rbx, 0(%rdi)
        mov %rbp, 8(%rdi)
        mov %r12, 16(%rdi)
        mov %r13, 24(%rdi)
        mov %r14, 32(%rdi)
        mov %r15, 40(%rdi)
        lea 8(%rsp), %rax
        mov %rax, 48(%rdi)
        mov (%rsp), %rax
        mov %rax, 56(%rdi)
        pushfq
        pop %rax
        mov %rax, 64(%rdi)
        xor %eax, %eax
        ret

longjmp:
        mov 0(%rdi), %rbx
        mov 8(%rdi), %rbp
        mov 16(%rdi), %r12
        mov 24(%rdi), %r13
        mov 32(%rdi), %r14
        mov 40(%rdi), %r15
        mov 48(%rdi), %rsp
        mov %esi, %eax
        test %eax, %eax
        jnz 1f
        inc %eax
1:      jmp *56(%rdi)

/* ---------------------------------------------------------------------- */
/* Fault probes: return -1 if the access completed, else the vector (the
 * dispatcher finds the faulting RIP in .ex_table, stores the vector in RAX
 * and resumes at the fixup). */
#define EX(fault, fixup) \
        .pushsection .ex_table, "a"; .balign 8; .quad fault, fixup; .popsection

        .globl probe_read8, probe_read64, probe_write8, probe_write64, probe_call
probe_read8:                            /* (addr, uint8_t *out) */
        mov $-1, %eax
1:      movzbl (%rdi), %ecx
        test %rsi, %rsi
        jz 2f
        mov %cl, (%rsi)
2:      ret
        EX(1b, 2b)

probe_read64:                           /* (addr, uint64_t *out) */
        mov $-1, %eax
1:      mov (%rdi), %rcx
        test %rsi, %rsi
        jz 2f
        mov %rcx, (%rsi)
2:      ret
        EX(1b, 2b)

probe_write8:                           /* (addr, uint8_t v) */
        mov $-1, %eax
1:      mov %sil, (%rdi)
2:      ret
        EX(1b, 2b)

probe_write64:                          /* (addr, uint64_t v) */
        mov $-1, %eax
1:      mov %rsi, (%rdi)
2:      ret
        EX(1b, 2b)

/* int probe_call(const void *fn, uint64_t *ret). If an exception is raised
 * with RIP == fn (the fetch of fn's first instruction failed), the
 * dispatcher pops the return address and resumes at probe_call_fault. */
probe_call:
        push %rbx
        push %rsi
        sub $8, %rsp
        mov %rdi, probe_call_target(%rip)
        call *%rdi
        movq $0, probe_call_target(%rip)
        add $8, %rsp
        pop %rsi
        test %rsi, %rsi
        jz 1f
        mov %rax, (%rsi)
1:      mov $-1, %eax
        pop %rbx
        ret
        .globl probe_call_fault
probe_call_fault:
        movq $0, probe_call_target(%rip)
        add $8, %rsp
        pop %rsi
        pop %rbx
        ret

        .section .data
        .balign 8
        .globl probe_call_target
probe_call_target: .quad 0

/* ---------------------------------------------------------------------- */
/* void user_enter(fn, arg, user_rsp, rflags): IRETQ to ring 3 at
 * user_trampoline, which calls fn(arg) and hands the result back to ring 0
 * with INT 0x81 (see usermode_call in user.c). */
        .section .text
        .globl user_enter
user_enter:
        pushq $USER_DS
        push %rdx
        push %rcx
        pushq $USER_CS
        lea user_trampoline(%rip), %rax
        push %rax
        mov %rdi, %rax
        mov %rsi, %rdi
        iretq

user_trampoline:
        call *%rax
        mov %rax, %rdi
        int $0x81
        ud2

/* ---------------------------------------------------------------------- */
/* SYSCALL entry: RCX = user RIP, R11 = user RFLAGS, RSP still the user's.
 * Calls syscall_handler_fn(nr = rax, rdi, rsi, rdx) on syscall_stack. */
        .globl syscall_entry
syscall_entry:
        mov %rsp, syscall_user_rsp(%rip)
        lea syscall_stack_top(%rip), %rsp
        mov %rcx, syscall_saved_rcx(%rip)
        mov %r11, syscall_saved_r11(%rip)
        push %rcx
        push %r11
        mov %rdx, %rcx
        mov %rsi, %rdx
        mov %rdi, %rsi
        mov %rax, %rdi
        call *syscall_handler_fn(%rip)
        pop %r11
        pop %rcx
        mov syscall_user_rsp(%rip), %rsp
        sysretq

        .section .data
        .balign 8
        .globl syscall_handler_fn
syscall_handler_fn: .quad 0
        .globl syscall_user_rsp, syscall_saved_rcx, syscall_saved_r11
syscall_user_rsp:   .quad 0
syscall_saved_rcx:  .quad 0
syscall_saved_r11:  .quad 0

        .section .bss
        .balign 16
syscall_stack:      .skip 16384
syscall_stack_top:

        .section .note.GNU-stack, "", @progbits
