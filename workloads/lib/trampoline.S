/* Real-mode start-up code for application processors.
 *
 * smp.c copies the bytes between ap_trampoline_start and ap_trampoline_end
 * to AP_TRAMPOLINE_ADDR (0x8000) and sends SIPI with vector 0x08, so an AP
 * starts here in real mode with CS = 0x0800, IP = 0. It loads the shared GDT
 * (its pseudo-descriptor is part of the copied bytes, so it is reachable with
 * DS = 0), enters protected mode and jumps to ap_start32 in the image, which
 * continues into long mode (entry.S). */

#define TRAMPOLINE_ADDR 0x8000
#define SEL_KCODE32 0x18
#define T(label) (TRAMPOLINE_ADDR + (label) - ap_trampoline_start)

        .section .rodata.trampoline, "a"
        .code16
        .globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
        cli
        cld
        xor %ax, %ax
        mov %ax, %ds
        lgdtl T(tramp_gdt_desc)
        mov %cr0, %eax
        or $1, %eax                     /* CR0.PE */
        mov %eax, %cr0
        ljmpl $SEL_KCODE32, $ap_start32

        .balign 8
        .word 0, 0, 0
tramp_gdt_desc:
        .word 8 * 9 - 1                 /* same limit as gdt in entry.S */
        .long gdt
ap_trampoline_end:

        .code64
        .section .note.GNU-stack, "", @progbits
