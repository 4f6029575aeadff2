/* A plain ELF64 kernel without a multiboot header: vmxsim enters it in 64-bit mode with the
 * first 4 GiB identity-mapped (docs/cli.md). It prints one RESULT line on the UART and exits
 * through the debug-exit port with code 0. */
    .section .text
    .code64
    .globl _start
_start:
    lea msg(%rip), %rsi
1:  movb (%rsi), %al
    testb %al, %al
    jz 3f
    movw $0x3fd, %dx
2:  inb %dx, %al            /* wait for THR empty (LSR bit 5) */
    testb $0x20, %al
    jz 2b
    movb (%rsi), %al
    movw $0x3f8, %dx
    outb %al, %dx
    incq %rsi
    jmp 1b
3:  movq %cr0, %rax          /* long mode with paging, as promised */
    btq $31, %rax
    jnc 4f
    xorl %eax, %eax
    movw $0xf4, %dx
    outl %eax, %dx
4:  movl $1, %eax
    movw $0xf4, %dx
    outl %eax, %dx
    hlt

    .section .rodata
msg:
    .asciz "RESULT plain_elf64=1\n"
