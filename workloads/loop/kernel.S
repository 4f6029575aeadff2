/* The speed-benchmark inner loop, in assembly so its instruction count is
 * exact and independent of the compiler:
 *
 * uint64_t loop_kernel(uint64_t *buf, uint64_t nwords, uint64_t passes,
 *                      uint64_t seed)
 *
 * For each pass, for each word i: x = buf[i] ^ state; x ^= x << 13;
 * x ^= x >> 7; x += i; buf[i] = x; state += x. After each pass state is
 * rotated left by 1. Returns state.
 *
 * Instructions executed (excluding the call): 8 + passes * (14 * nwords + 4),
 * for nwords >= 1 and passes >= 1. */

        .section .text
        .globl loop_kernel
        .globl LOOP_KERNEL_INSNS_PER_WORD, LOOP_KERNEL_INSNS_PER_PASS, LOOP_KERNEL_INSNS_FIXED
        .set LOOP_KERNEL_INSNS_PER_WORD, 14
        .set LOOP_KERNEL_INSNS_PER_PASS, 4
        .set LOOP_KERNEL_INSNS_FIXED, 8
loop_kernel:
        push %rbx                       /* 1 */
        mov %rdx, %r9                   /* 2: passes */
        mov %rcx, %rdx                  /* 3: state = seed */
        test %r9, %r9                   /* 4 */
        jz 3f                           /* 5 */
1:      xor %ecx, %ecx                  /* per pass: 1 */
2:      mov (%rdi,%rcx,8), %rax         /* per word: 1 */
        xor %rdx, %rax                  /* 2 */
        mov %rax, %r8                   /* 3 */
        shl $13, %r8                    /* 4 */
        xor %r8, %rax                   /* 5 */
        mov %rax, %r8                   /* 6 */
        shr $7, %r8                     /* 7 */
        xor %r8, %rax                   /* 8 */
        add %rcx, %rax                  /* 9 */
        mov %rax, (%rdi,%rcx,8)         /* 10 */
        add %rax, %rdx                  /* 11 */
        inc %rcx                        /* 12 */
        cmp %rsi, %rcx                  /* 13 */
        jb 2b                           /* 14 */
        rol $1, %rdx                    /* per pass: 2 */
        dec %r9                         /* 3 */
        jnz 1b                          /* 4 */
3:      mov %rdx, %rax                  /* 6 */
        pop %rbx                        /* 7 */
        ret                             /* 8 */

        .section .note.GNU-stack, "", @progbits
