/* Multiboot v1 entry: 32-bit protected mode -> 64-bit long mode.
 *
 * The boot loader enters _start in 32-bit protected mode with paging off,
 * flat segments, EAX = 0x2BADB002 and EBX = physical address of the
 * multiboot information. We load our own GDT, clear .bss, build identity
 * page tables for 0..4 GiB with 2 MiB pages, enable PAE, set EFER.LME (plus
 * SCE and, if supported, NXE), turn on paging and far-jump to 64-bit code.
 * Application processors come here through the real-mode trampoline
 * (trampoline.S) at ap_start32 and share the same tables. */

#define SEL_KCODE64 0x08
#define SEL_KDATA   0x10
#define SEL_KCODE32 0x18
#define MAX_CPUS    64

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000002 /* bit 1: please provide mem_lower/mem_upper */

/* ---------------------------------------------------------------------- */
        .section .multiboot, "a"
        .balign 4
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

/* ---------------------------------------------------------------------- */
        .section .data
        .balign 16
        .globl gdt
gdt:
        .quad 0x0000000000000000 /* 0x00 null */
        .quad 0x00af9a000000ffff /* 0x08 kernel code, 64-bit */
        .quad 0x00cf92000000ffff /* 0x10 kernel data */
        .quad 0x00cf9a000000ffff /* 0x18 kernel code, 32-bit */
        .quad 0x00cffa000000ffff /* 0x20 user code, 32-bit (SYSRET base) */
        .quad 0x00cff2000000ffff /* 0x28 user data */
        .quad 0x00affa000000ffff /* 0x30 user code, 64-bit */
        .quad 0, 0               /* 0x38 TSS (filled in by desc.c) */
gdt_end:

        .balign 8
        .word 0, 0, 0            /* pad so the pseudo-descriptor base is aligned */
        .globl gdt_desc
gdt_desc:
        .word gdt_end - gdt - 1
        .quad gdt

        .balign 4
        .globl boot_magic, boot_mbi_phys, boot_efer_set
boot_magic:     .long 0
boot_mbi_phys:  .long 0
boot_efer_set:  .long 0          /* EFER bits set on every CPU */

/* ---------------------------------------------------------------------- */
        .section .bss
        .balign 4096
        .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:      .skip 4096
boot_pdpt:      .skip 4096
boot_pd:        .skip 4 * 4096   /* 4 page directories: 0..4 GiB */

        .balign 16
boot_stack:     .skip 65536
        .globl boot_stack_top
boot_stack_top:

/* ---------------------------------------------------------------------- */
/* Common to BSP and APs: PAE, CR3, EFER, CR0.PG|WP, caches on. */
.macro ENABLE_LONG_MODE
        mov %cr4, %eax
        or $0x20, %eax                  /* CR4.PAE */
        mov %eax, %cr4
        mov $boot_pml4, %eax
        mov %eax, %cr3
        mov $0xc0000080, %ecx           /* IA32_EFER */
        rdmsr
        or boot_efer_set, %eax
        wrmsr
        mov %cr0, %eax
        and $0x9fffffff, %eax           /* clear CD, NW (set after INIT) */
        or $0x80010021, %eax            /* PG | WP | NE | PE */
        mov %eax, %cr0
.endm

        .section .text.boot, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        mov %eax, boot_magic
        mov %ebx, boot_mbi_phys

        lgdt gdt_desc
        ljmp $SEL_KCODE32, $1f
1:      mov $SEL_KDATA, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %eax, %fs
        mov %eax, %gs

        /* Clear .bss (page tables and stacks live there). */
        mov $__bss_start, %edi
        mov $__bss_end, %ecx
        sub %edi, %ecx
        xor %eax, %eax
        rep stosb

        /* Long mode present? If not, there is nothing we can do. */
        mov $0x80000000, %eax
        cpuid
        cmp $0x80000001, %eax
        jb no_long_mode
        mov $0x80000001, %eax
        cpuid
        bt $29, %edx
        jnc no_long_mode

        /* EFER bits: LME | SCE, plus NXE if CPUID.80000001:EDX[20]. */
        mov $0x101, %eax
        bt $20, %edx
        jnc 2f
        or $0x800, %eax
2:      mov %eax, boot_efer_set

        /* 2048 PDEs of 2 MiB: P | W | U | PS; 3..4 GiB (MMIO) also PCD | PWT. */
        mov $boot_pd, %edi
        xor %ecx, %ecx
3:      mov %ecx, %eax
        shl $21, %eax
        or $0x87, %eax
        cmp $1536, %ecx
        jb 4f
        or $0x18, %eax
4:      mov %eax, (%edi,%ecx,8)
        inc %ecx
        cmp $2048, %ecx
        jb 3b

        mov $boot_pdpt, %edi
        mov $(boot_pd + 0x0007), %eax
        mov %eax, 0(%edi)
        add $0x1000, %eax
        mov %eax, 8(%edi)
        add $0x1000, %eax
        mov %eax, 16(%edi)
        add $0x1000, %eax
        mov %eax, 24(%edi)
        movl $(boot_pdpt + 0x0007), boot_pml4

        ENABLE_LONG_MODE
        ljmp $SEL_KCODE64, $start64

no_long_mode:
        /* Print "no long mode" on COM1 and exit with code 3. */
        mov $no_lm_msg, %esi
5:      lodsb
        test %al, %al
        jz 7f
        mov %al, %bl
6:      mov $0x3fd, %dx
        inb %dx, %al
        test $0x20, %al
        jz 6b
        mov $0x3f8, %dx
        mov %bl, %al
        outb %al, %dx
        jmp 5b
7:      mov $3, %eax
        mov $0xf4, %dx
        outl %eax, %dx
8:      hlt
        jmp 8b

        /* APs arrive here from the trampoline in 32-bit protected mode. */
        .globl ap_start32
ap_start32:
        mov $SEL_KDATA, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %eax, %fs
        mov %eax, %gs
        ENABLE_LONG_MODE
        ljmp $SEL_KCODE64, $ap_start64

        .section .rodata
no_lm_msg:
        .asciz "FATAL: CPU does not support long mode\n"

/* ---------------------------------------------------------------------- */
        .section .text
        .code64
start64:
        mov $SEL_KDATA, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        xor %eax, %eax
        mov %eax, %fs
        mov %eax, %gs
        mov $boot_stack_top, %rsp
        xor %ebp, %ebp
        call runtime_start              /* does not return */
9:      cli
        hlt
        jmp 9b

ap_start64:
        mov $SEL_KDATA, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        xor %eax, %eax
        mov %eax, %fs
        mov %eax, %gs
        /* Take the next AP index (1, 2, ...) and its stack. */
        mov $1, %eax
        lock xadd %eax, ap_next_index(%rip)
        inc %eax
        cmp $MAX_CPUS, %eax
        jae 10f
        mov %eax, %edi
        lea ap_stack_tops(%rip), %rsi
        mov (%rsi,%rdi,8), %rsp
        test %rsp, %rsp
        jz 10f
        xor %ebp, %ebp
        call ap_entry_c                 /* (unsigned index) */
10:     cli
        hlt
        jmp 10b

        .section .data
        .balign 4
        .globl ap_next_index
ap_next_index:  .long 0

        .section .note.GNU-stack, "", @progbits
