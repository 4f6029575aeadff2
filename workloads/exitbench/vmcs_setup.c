/* The VMCS: VM-execution/exit/entry controls adjusted to the capability
 * MSRs, the host state (this CPU's current state), and the state of a
 * 64-bit guest running exitbench's own code (SDM Vol. 3C chapter 25, checks
 * of chapter 27). */
#include "exitbench.h"

struct hv hv;

static uint16_t read_sel(int which)
{
    uint16_t v = 0;
    switch (which) {
    case 0: asm volatile("mov %%es, %0" : "=r"(v)); break;
    case 1: asm volatile("mov %%cs, %0" : "=r"(v)); break;
    case 2: asm volatile("mov %%ss, %0" : "=r"(v)); break;
    case 3: asm volatile("mov %%ds, %0" : "=r"(v)); break;
    case 4: asm volatile("mov %%fs, %0" : "=r"(v)); break;
    case 5: asm volatile("mov %%gs, %0" : "=r"(v)); break;
    case 6: asm volatile("str %0" : "=r"(v)); break;
    }
    return v;
}

/* Base of the system-segment descriptor `sel` in the GDT (16 bytes in long mode). */
static uint64_t gdt_system_base(uint64_t gdt_base, uint16_t sel)
{
    const uint64_t *d = (const uint64_t *)(uintptr_t)(gdt_base + (sel & ~7u));
    return ((d[0] >> 16) & 0xffffff) | (((d[0] >> 56) & 0xff) << 24) | (d[1] << 32);
}

void vmcs_write_controls(uint32_t pin, uint32_t cpu, uint32_t cpu2)
{
    vmwrite(PIN_BASED_VM_EXEC_CONTROL, vmx_adjust(&vmx_caps.pin, pin));
    vmwrite(CPU_BASED_VM_EXEC_CONTROL, vmx_adjust(&vmx_caps.cpu, cpu));
    if (vmx_caps.cpu.allowed1 & CPU_ACTIVATE_SECONDARY)
        vmwrite(SECONDARY_VM_EXEC_CONTROL, vmx_adjust(&vmx_caps.cpu2, cpu2));
}

/* No MSR lists, no event to inject, no CR3-target values, no TSC offset,
 * every #PF as the exception bitmap says (mask and match 0). */
void vmcs_write_plain_defaults(void)
{
    vmwrite(VM_EXIT_MSR_STORE_COUNT, 0);
    vmwrite(VM_EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(VM_ENTRY_INTR_INFO, 0);
    vmwrite(CR3_TARGET_COUNT, 0);
    vmwrite(TSC_OFFSET, 0);
    vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 0);
    vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 0);
}

static void setup_controls(void)
{
    const struct vmx_caps *c = &vmx_caps;
    /* External-interrupt exiting as every production hypervisor has it; the
     * host acknowledges on exit when it can (SDM 25.7.1, 28.2.2). */
    hv.pin = PIN_EXT_INTR_EXITING;
    /* The no_* options force the fallbacks a processor without the feature
     * would get, so that each path can be exercised. */
    hv.ack_on_exit = vmx_allowed(&c->exit, EXIT_ACK_INTR_ON_EXIT) && !cmdline_has("no_ack");

    hv.cpu = CPU_HLT_EXITING | CPU_ACTIVATE_SECONDARY;
    hv.io_bitmaps = vmx_allowed(&c->cpu, CPU_USE_IO_BITMAPS) && !cmdline_has("no_io_bitmap");
    hv.cpu |= hv.io_bitmaps ? CPU_USE_IO_BITMAPS : CPU_UNCOND_IO_EXITING;
    hv.msr_bitmaps = vmx_allowed(&c->cpu, CPU_USE_MSR_BITMAPS) && !cmdline_has("no_msr_bitmap");
    if (hv.msr_bitmaps)
        hv.cpu |= CPU_USE_MSR_BITMAPS;

    hv.cpu2 = 0;
    hv.ept = vmx_has_cpu2(CPU2_ENABLE_EPT) && (c->ept_vpid & EPT_CAP_PWL4) &&
             (c->ept_vpid & (EPT_CAP_WB | EPT_CAP_UC)) && !cmdline_has("no_ept");
    if (hv.ept)
        hv.cpu2 |= CPU2_ENABLE_EPT;
    hv.vpid = vmx_has_cpu2(CPU2_ENABLE_VPID) && !cmdline_has("no_vpid");
    if (hv.vpid)
        hv.cpu2 |= CPU2_ENABLE_VPID;
    if (!hv.cpu2)
        hv.cpu &= ~CPU_ACTIVATE_SECONDARY;

    hv.exit = EXIT_HOST_ADDR_SPACE_SIZE | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_PAT |
              EXIT_LOAD_PAT | (hv.ack_on_exit ? EXIT_ACK_INTR_ON_EXIT : 0);
    hv.entry = ENTRY_IA32E_MODE_GUEST | ENTRY_LOAD_EFER | ENTRY_LOAD_PAT;
    hv.exit = vmx_adjust(&c->exit, hv.exit);
    hv.entry = vmx_adjust(&c->entry, hv.entry);

    vmcs_write_controls(hv.pin, hv.cpu, hv.cpu2);
    vmwrite(VM_EXIT_CONTROLS, hv.exit);
    vmwrite(VM_ENTRY_CONTROLS, hv.entry);
    vmcs_write_plain_defaults();

    /* Exceptions that mean the guest went wrong come to the host, which
     * reports them; the rest go through the guest's IDT. */
    vmwrite(EXCEPTION_BITMAP, (1u << VEC_UD) | (1u << VEC_DF) | (1u << VEC_GP) |
                                  (1u << VEC_AC) | (1u << VEC_MC));

    /* The host owns CR0.NE/PE/PG and CR4.VMXE and the other fixed bits; the
     * guest sees its own view of them in the read shadows (SDM 25.6.6). */
    uint64_t cr0_mask = c->cr0_fixed0 | ~c->cr0_fixed1;
    uint64_t cr4_mask = c->cr4_fixed0 | ~c->cr4_fixed1;
    vmwrite(CR0_GUEST_HOST_MASK, cr0_mask);
    vmwrite(CR4_GUEST_HOST_MASK, cr4_mask);
    /* Guest reads of CR0 return the shadow for the host-owned bits: NE
     * (fixed to 1 in VMX operation) reads as 0 there, which makes the
     * shadowing visible to the guest's check. */
    guest_cfg.cr0_shadow = ((read_cr0() | c->cr0_fixed0) & c->cr0_fixed1) & ~CR0_NE;
    vmwrite(CR0_READ_SHADOW, guest_cfg.cr0_shadow);
    vmwrite(CR4_READ_SHADOW, read_cr4() & ~CR4_VMXE);

    if (hv.io_bitmaps) {
        hv.io_bitmap_a = alloc_page(); /* ports 0000-7fff */
        hv.io_bitmap_b = alloc_page(); /* ports 8000-ffff */
        hv.io_bitmap_a[BENCH_PORT / 8] |= 1u << (BENCH_PORT % 8);
        vmwrite(IO_BITMAP_A, (uint64_t)(uintptr_t)hv.io_bitmap_a);
        vmwrite(IO_BITMAP_B, (uint64_t)(uintptr_t)hv.io_bitmap_b);
    }
    if (hv.msr_bitmaps) {
        /* SDM 25.6.9: read low, read high, write low, write high, 1 KiB each. */
        hv.msr_bitmap = alloc_page();
        uint32_t m = TRAPPED_MSR - 0xc0000000u;
        hv.msr_bitmap[0x400 + m / 8] |= 1u << (m % 8);
        hv.msr_bitmap[0xc00 + m / 8] |= 1u << (m % 8);
        vmwrite(MSR_BITMAP, (uint64_t)(uintptr_t)hv.msr_bitmap);
    }
    if (hv.ept) {
        bool use_2m = (c->ept_vpid & EPT_CAP_2M) && !cmdline_has("ept_4k");
        bool ad = (c->ept_vpid & EPT_CAP_AD) && !cmdline_has("no_ept_ad");
        hv.eptp = ept_build(use_2m, ad);
        vmwrite(EPT_POINTER, hv.eptp);
        printf("exitbench: EPT %s pages, EPTP %#lx%s\n", use_2m ? "2 MiB" : "4 KiB", hv.eptp,
               ad ? " (accessed/dirty flags on)" : "");
    }
    if (hv.vpid)
        vmwrite(VIRTUAL_PROCESSOR_ID, 1);
}

/* The host-state area from the running CPU: the processor returns here, to
 * vmx_exit_stub, on every VM exit. `exit_controls` say whether IA32_EFER and
 * IA32_PAT are loaded. The nested guest hypervisor (nested_l1.c) uses it too. */
void vmcs_write_host_state(uint32_t exit_controls)
{
    struct desc_ptr gdtr, idtr;
    asm volatile("sgdt %0" : "=m"(gdtr));
    asm volatile("sidt %0" : "=m"(idtr));
    /* With the VMX fixed bits: a guest hypervisor reads its CR0/CR4 through
     * read shadows that may hide them (NE, VMXE). */
    vmwrite(HOST_CR0, (read_cr0() | vmx_caps.cr0_fixed0) & vmx_caps.cr0_fixed1);
    vmwrite(HOST_CR3, read_cr3());
    vmwrite(HOST_CR4, (read_cr4() | vmx_caps.cr4_fixed0) & vmx_caps.cr4_fixed1);
    /* SDM 27.2.3: RPL and TI of the host selectors must be 0. */
    vmwrite(HOST_ES_SELECTOR, read_sel(0) & ~7u);
    vmwrite(HOST_CS_SELECTOR, read_sel(1) & ~7u);
    vmwrite(HOST_SS_SELECTOR, read_sel(2) & ~7u);
    vmwrite(HOST_DS_SELECTOR, read_sel(3) & ~7u);
    vmwrite(HOST_FS_SELECTOR, read_sel(4) & ~7u);
    vmwrite(HOST_GS_SELECTOR, read_sel(5) & ~7u);
    uint16_t tr = read_sel(6);
    vmwrite(HOST_TR_SELECTOR, tr & ~7u);
    vmwrite(HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    vmwrite(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    vmwrite(HOST_TR_BASE, gdt_system_base(gdtr.base, tr));
    vmwrite(HOST_GDTR_BASE, gdtr.base);
    vmwrite(HOST_IDTR_BASE, idtr.base);
    vmwrite(HOST_IA32_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
    vmwrite(HOST_IA32_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
    vmwrite(HOST_IA32_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
    if (exit_controls & EXIT_LOAD_EFER)
        vmwrite(HOST_IA32_EFER, rdmsr(MSR_EFER));
    if (exit_controls & EXIT_LOAD_PAT)
        vmwrite(HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
    vmwrite(HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
    /* HOST_RSP is written by vmx_enter() right before each VM entry. */
}

struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type_attr;
    uint16_t off1;
    uint32_t off2, reserved;
} __attribute__((packed));

void set_guest_gate(unsigned vec, uint64_t addr)
{
    struct idt_gate *g = (struct idt_gate *)hv.guest_idt + vec;
    g->off0 = addr & 0xffff;
    g->sel = SEL_KCODE64;
    g->ist = 0;
    g->type_attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
    g->off1 = (addr >> 16) & 0xffff;
    g->off2 = addr >> 32;
    g->reserved = 0;
}

void vmcs_write_guest_segment(uint32_t sel_field, uint16_t sel, uint64_t base, uint32_t ar)
{
    /* Selector, base, limit and access rights are at fixed offsets from the
     * selector encoding in each group (Appendix B): 0x08xx, 0x68xx, 0x48xx. */
    unsigned idx = (sel_field - GUEST_ES_SELECTOR) / 2;
    vmwrite(sel_field, sel);
    vmwrite(GUEST_ES_BASE + 2 * idx, base);
    vmwrite(GUEST_ES_LIMIT + 2 * idx, 0xffffffff);
    vmwrite(GUEST_ES_AR_BYTES + 2 * idx, ar);
}

/* A 64-bit guest on the running CPU's page tables and GDT (identity EPT
 * makes them valid guest-physical structures) with the IDT and stack given,
 * starting at `entry` with interrupts off. `entry_controls` say whether
 * IA32_EFER and IA32_PAT are loaded. The nested guest hypervisor
 * (nested_l1.c) uses it for its own guest. */
void vmcs_write_guest_state(void (*entry)(void), uint64_t idt_base, uint16_t idt_limit,
                            uint64_t rsp, uint32_t entry_controls)
{
    struct desc_ptr gdtr;
    asm volatile("sgdt %0" : "=m"(gdtr));

    uint64_t cr0 = (read_cr0() | vmx_caps.cr0_fixed0) & vmx_caps.cr0_fixed1;
    uint64_t cr4 = (read_cr4() | vmx_caps.cr4_fixed0) & vmx_caps.cr4_fixed1;
    vmwrite(GUEST_CR0, cr0);
    vmwrite(GUEST_CR3, read_cr3());
    vmwrite(GUEST_CR4, cr4);
    vmwrite(GUEST_DR7, 0x400);

    /* 64-bit code: type 0xb (execute/read, accessed), S, P, L, G. Data:
     * type 3 (read/write, accessed), S, P, D/B, G (SDM 27.3.1.2). */
    const uint32_t ar_code = 0xa09b, ar_data = 0xc093;
    vmcs_write_guest_segment(GUEST_CS_SELECTOR, SEL_KCODE64, 0, ar_code);
    vmcs_write_guest_segment(GUEST_SS_SELECTOR, SEL_KDATA, 0, ar_data);
    vmcs_write_guest_segment(GUEST_DS_SELECTOR, SEL_KDATA, 0, ar_data);
    vmcs_write_guest_segment(GUEST_ES_SELECTOR, SEL_KDATA, 0, ar_data);
    vmcs_write_guest_segment(GUEST_FS_SELECTOR, SEL_KDATA, 0, ar_data);
    vmcs_write_guest_segment(GUEST_GS_SELECTOR, SEL_KDATA, 0, ar_data);
    vmwrite(GUEST_LDTR_SELECTOR, 0);
    vmwrite(GUEST_LDTR_BASE, 0);
    vmwrite(GUEST_LDTR_LIMIT, 0);
    vmwrite(GUEST_LDTR_AR_BYTES, AR_UNUSABLE);
    /* TR: the runtime's 64-bit TSS, busy (type 11), present. */
    vmwrite(GUEST_TR_SELECTOR, SEL_TSS);
    vmwrite(GUEST_TR_BASE, gdt_system_base(gdtr.base, SEL_TSS));
    vmwrite(GUEST_TR_LIMIT, sizeof(struct tss64) - 1);
    vmwrite(GUEST_TR_AR_BYTES, 0x8b);
    vmwrite(GUEST_GDTR_BASE, gdtr.base);
    vmwrite(GUEST_GDTR_LIMIT, gdtr.limit);
    vmwrite(GUEST_IDTR_BASE, idt_base);
    vmwrite(GUEST_IDTR_LIMIT, idt_limit);
    vmwrite(GUEST_RSP, rsp);
    vmwrite(GUEST_RIP, (uint64_t)(uintptr_t)entry);
    vmwrite(GUEST_RFLAGS, 0x2);

    vmwrite(GUEST_IA32_DEBUGCTL, 0);
    vmwrite(GUEST_SYSENTER_CS, 0);
    vmwrite(GUEST_SYSENTER_ESP, 0);
    vmwrite(GUEST_SYSENTER_EIP, 0);
    if (entry_controls & ENTRY_LOAD_EFER)
        vmwrite(GUEST_IA32_EFER, rdmsr(MSR_EFER));
    if (entry_controls & ENTRY_LOAD_PAT)
        vmwrite(GUEST_IA32_PAT, rdmsr(MSR_IA32_PAT));

    vmwrite(VMCS_LINK_POINTER, ~0ull); /* no shadow VMCS (SDM 27.3.1.5) */
    vmwrite(GUEST_ACTIVITY_STATE, 0);
    vmwrite(GUEST_INTERRUPTIBILITY_INFO, 0);
    vmwrite(GUEST_PENDING_DBG_EXCEPTIONS, 0);
}

bool vmcs_init_shadow(void *region)
{
    memset(region, 0, PAGE_SIZE);
    *(volatile uint32_t *)region = vmx_caps.revision | 0x80000000u; /* shadow-VMCS indicator */
    return vmclear((uint64_t)(uintptr_t)region) == VMX_OK;
}

void vmcs_link_shadow(const void *shadow, const void *vmread_bitmap, const void *vmwrite_bitmap)
{
    vmwrite(VMREAD_BITMAP, (uint64_t)(uintptr_t)vmread_bitmap);
    vmwrite(VMWRITE_BITMAP, (uint64_t)(uintptr_t)vmwrite_bitmap);
    vmwrite(VMCS_LINK_POINTER, (uint64_t)(uintptr_t)shadow);
}

bool vmcs_setup(void (*guest_entry)(void))
{
    uint32_t errors0 = vmx_errors;
    setup_controls();
    vmcs_write_host_state(hv.exit);
    hv.guest_idt = alloc_page();
    for (unsigned v = 0; v < 256; v++)
        set_guest_gate(v, guest_vector_stubs[v]);
    set_guest_gate(VEC_HLT_WAKE, (uint64_t)(uintptr_t)guest_isr_count);
    set_guest_gate(VEC_IPI, (uint64_t)(uintptr_t)guest_isr_count);
    set_guest_gate(VEC_POSTED, (uint64_t)(uintptr_t)guest_isr_posted);
    hv.guest_stack = alloc_pages(4);
    /* As after a CALL: RSP + 8 is 16-byte aligned at function entry. */
    vmcs_write_guest_state(guest_entry, (uint64_t)(uintptr_t)hv.guest_idt, 256 * 16 - 1,
                           (uint64_t)(uintptr_t)(hv.guest_stack + 4 * PAGE_SIZE) - 8, hv.entry);
    if (hv.ept)
        ept_flush();
    if (hv.vpid && (vmx_caps.ept_vpid & VPID_CAP_INVVPID)) {
        enum vmx_status st = (vmx_caps.ept_vpid & VPID_CAP_INVVPID_SINGLE)
                                 ? invvpid(INVVPID_SINGLE, 1, 0)
                                 : invvpid(INVVPID_ALL, 0, 0);
        if (st != VMX_OK)
            vmx_print_status("INVVPID", st);
    }
    printf("exitbench: controls pin %#x cpu %#x cpu2 %#x exit %#x entry %#x; %s, %s, %s, %s\n",
           (uint32_t)vmread(PIN_BASED_VM_EXEC_CONTROL), (uint32_t)vmread(CPU_BASED_VM_EXEC_CONTROL),
           (vmx_caps.cpu.allowed1 & CPU_ACTIVATE_SECONDARY)
               ? (uint32_t)vmread(SECONDARY_VM_EXEC_CONTROL)
               : 0,
           hv.exit, hv.entry, hv.io_bitmaps ? "I/O bitmaps" : "unconditional I/O exiting",
           hv.msr_bitmaps ? "MSR bitmap" : "all MSR accesses exit", hv.vpid ? "VPID 1" : "no VPID",
           hv.ack_on_exit ? "ack interrupt on exit" : "no ack on exit");
    return vmx_errors == errors0;
}
