/* L0's side of nested virtualization: VMX for the guest hypervisor L1.
 *
 * L1's VMXON, VMCLEAR, VMPTRLD, VMLAUNCH, VMRESUME and VMXOFF exit here and
 * are emulated with the SDM's checks that matter for a well-behaved L1. Its
 * current VMCS (VMCS12) lives in a shadow VMCS: with VMCS shadowing and
 * all-zero VMREAD/VMWRITE bitmaps, L1 reads and writes it without exits
 * (SDM 25.10). In the cpuid_nested_noshadow operation L0 does not use
 * shadowing: VMCS12 is an array in L0's memory and each of L1's VMREAD and
 * VMWRITE exits and is emulated against it. To run L2, L0 copies VMCS12's
 * guest state into VMCS02 and merges the controls (L0's own plus L1's; L0's
 * EPT and VPID 2 underneath, since L1 gives L2 its own guest-physical space
 * unchanged). An exit of L2
 * goes back to L1: exit information and guest state into VMCS12, then L1
 * resumes at VMCS12's host RIP with the host-state loading of SDM 28.5.
 * Whole guest-state areas are copied on each transition: a plain L0,
 * without the dirty-field tracking production ones add. */
#include "exitbench.h"

enum { RESUME = 0, STOP = 1 };

/* The VMCS12 controls VMCS02 was merged from. */
struct controls12 {
    uint32_t pin, cpu, entry, exceptions;
};

static struct {
    bool vmxon;           /* L1 is in VMX operation */
    uint64_t vmcs12;      /* L1's current-VMCS pointer, or ~0 */
    bool launched12;      /* its launch state */
    bool in_l2;           /* VMCS02 is current: L2 runs */
    uint8_t *shadow;      /* the shadow VMCS holding VMCS12's contents */
    uint8_t *vmcs02;
    bool vmcs02_launched;
    bool window;          /* from L1's VMLAUNCH to L2's closing VMCALL */
    bool shadowed;        /* VMCS12 in the shadow VMCS (else in soft12) */
    uint64_t vmcs_exits;  /* L1's VMREAD/VMWRITEs that exited (not shadowed) */
    uint64_t round_trips; /* L2 exits reflected to L1 in the window */
    bool merged;          /* VMCS02's controls are merged from merged_from */
    struct controls12 merged_from;
    uint64_t efer01, pat01; /* L1's IA32_EFER and IA32_PAT */
    uint8_t *bitmap;      /* VMREAD and VMWRITE bitmap: no field exits */
} nv = {.vmcs12 = ~0ull};

/* Guest-state fields copied between VMCS12 and VMCS02 (SDM 25.4). */
static const uint32_t guest_fields[] = {
    GUEST_ES_SELECTOR, GUEST_CS_SELECTOR, GUEST_SS_SELECTOR, GUEST_DS_SELECTOR,
    GUEST_FS_SELECTOR, GUEST_GS_SELECTOR, GUEST_LDTR_SELECTOR, GUEST_TR_SELECTOR,
    GUEST_ES_LIMIT, GUEST_CS_LIMIT, GUEST_SS_LIMIT, GUEST_DS_LIMIT, GUEST_FS_LIMIT,
    GUEST_GS_LIMIT, GUEST_LDTR_LIMIT, GUEST_TR_LIMIT, GUEST_GDTR_LIMIT, GUEST_IDTR_LIMIT,
    GUEST_ES_AR_BYTES, GUEST_CS_AR_BYTES, GUEST_SS_AR_BYTES, GUEST_DS_AR_BYTES,
    GUEST_FS_AR_BYTES, GUEST_GS_AR_BYTES, GUEST_LDTR_AR_BYTES, GUEST_TR_AR_BYTES,
    GUEST_ES_BASE, GUEST_CS_BASE, GUEST_SS_BASE, GUEST_DS_BASE, GUEST_FS_BASE,
    GUEST_GS_BASE, GUEST_LDTR_BASE, GUEST_TR_BASE, GUEST_GDTR_BASE, GUEST_IDTR_BASE,
    GUEST_CR0, GUEST_CR3, GUEST_CR4, GUEST_DR7, GUEST_RSP, GUEST_RIP, GUEST_RFLAGS,
    GUEST_INTERRUPTIBILITY_INFO, GUEST_ACTIVITY_STATE, GUEST_PENDING_DBG_EXCEPTIONS,
    GUEST_SYSENTER_CS, GUEST_SYSENTER_ESP, GUEST_SYSENTER_EIP, GUEST_IA32_DEBUGCTL,
};
#define N_GUEST_FIELDS (sizeof(guest_fields) / sizeof(guest_fields[0]))

/* Exit-information fields L0 writes into VMCS12 (read-only for L1; VMWRITE
 * to them needs IA32_VMX_MISC bit 29, SDM A.6). */
static const uint32_t exit_fields[] = {
    VM_EXIT_REASON, EXIT_QUALIFICATION, GUEST_LINEAR_ADDRESS, GUEST_PHYSICAL_ADDRESS,
    VM_EXIT_INTR_INFO, VM_EXIT_INTR_ERROR_CODE, IDT_VECTORING_INFO, IDT_VECTORING_ERROR_CODE,
    VM_EXIT_INSTRUCTION_LEN, VMX_INSTRUCTION_INFO,
};
#define N_EXIT_FIELDS (sizeof(exit_fields) / sizeof(exit_fields[0]))

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

static int nested_fatal(const char *why)
{
    printf("FAIL: exitbench: nested: %s\n", why);
    if (current_op >= 0)
        snprintf(results[current_op].note, sizeof(results[current_op].note), "nested: %s", why);
    hv_fatal = true;
    return STOP;
}

static void load(uint64_t vmcs)
{
    enum vmx_status st = vmptrld(vmcs);
    if (st != VMX_OK)
        vmx_print_status("nested: VMPTRLD", st);
}

/* ---- VMCS12's storage --------------------------------------------------- */

/* Without shadowing: (encoding, value) pairs, open addressing on the
 * encoding. */
#define SOFT12_SLOTS 256
static struct {
    uint32_t enc; /* 0: empty (encoding 0 is VPID, which L1 does not use) */
    uint64_t value;
} soft12[SOFT12_SLOTS];

static unsigned soft12_slot(uint32_t enc)
{
    unsigned i = (enc * 2654435761u) >> 24;
    while (soft12[i].enc && soft12[i].enc != enc)
        i = (i + 1) % SOFT12_SLOTS;
    return i;
}

/* Makes VMCS12 accessible (the shadow VMCS current, or nothing to do). */
static void v12_open(void)
{
    if (nv.shadowed)
        load(pa(nv.shadow));
}
static uint64_t v12_read(uint32_t enc)
{
    if (nv.shadowed)
        return vmread(enc);
    unsigned i = soft12_slot(enc);
    return soft12[i].enc ? soft12[i].value : 0;
}
static void v12_write(uint32_t enc, uint64_t value)
{
    if (nv.shadowed) {
        vmwrite(enc, value);
        return;
    }
    unsigned i = soft12_slot(enc);
    soft12[i].enc = enc;
    soft12[i].value = value;
}

bool nested_in_l2(void) { return nv.in_l2; }
bool nested_window(void) { return nv.window; }

/* ---- L1's VMX instructions --------------------------------------------- */

/* The memory operand of VMXON/VMCLEAR/VMPTRLD (SDM Table 28-9): the
 * displacement is the exit qualification; base, index and scale come from
 * the instruction information. L1's segments are flat and its paging the
 * identity, so the address is physical too. */
static uint64_t *operand(struct vcpu *v)
{
    uint32_t info = (uint32_t)vmread(VMX_INSTRUCTION_INFO);
    uint64_t addr = vmread(EXIT_QUALIFICATION);
    if (!(info & (1u << 27)))
        addr += get_gpr(v, (info >> 23) & 15);
    if (!(info & (1u << 22)))
        addr += get_gpr(v, (info >> 18) & 15) << (info & 3);
    if (((info >> 7) & 7) == 1)
        addr &= 0xffffffffull;
    return (uint64_t *)(uintptr_t)addr;
}

static void vm_fail_valid(uint32_t error)
{
    if (nv.vmcs12 != ~0ull) {
        v12_open();
        v12_write(VM_INSTRUCTION_ERROR, error);
        load(pa(hv.vmcs));
    }
    vmx_instruction_done(1u << 6); /* ZF */
}

/* VMCS shadowing for L1 (SDM 25.6.x, 26.3.1.5): link pointer at the shadow
 * VMCS, bitmaps that let every field through. */
static void shadowing(bool on)
{
    uint32_t cpu2 = hv.cpu2 | (on ? CPU2_VMCS_SHADOWING : 0);
    vmcs_write_controls(hv.pin, hv.cpu | (cpu2 ? CPU_ACTIVATE_SECONDARY : 0), cpu2);
    if (on)
        vmcs_link_shadow(nv.shadow, nv.bitmap, nv.bitmap);
    else
        vmwrite(VMCS_LINK_POINTER, ~0ull);
}

static int l1_vmxon(struct vcpu *v)
{
    /* #UD unless the CR4.VMXE L1 sees is set (SDM Vol. 2 VMXON). */
    if (!(vmread(CR4_READ_SHADOW) & CR4_VMXE)) {
        vmwrite(VM_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION | VEC_UD);
        return RESUME;
    }
    if (nv.vmxon) {
        vm_fail_valid(15); /* VMXON executed in VMX root operation */
        return RESUME;
    }
    uint64_t region = *operand(v);
    if ((region & 0xfff) || *(volatile uint32_t *)(uintptr_t)region != vmx_caps.revision) {
        vmx_instruction_done(1u << 0); /* CF: VMfailInvalid */
        return RESUME;
    }
    if (!nv.shadow) {
        nv.shadow = alloc_page();
        nv.vmcs02 = alloc_page();
        nv.bitmap = alloc_page(); /* zero: no VMREAD/VMWRITE exits */
    }
    nv.vmxon = true;
    nv.vmcs12 = ~0ull;
    nv.shadowed = current_op != OP_CPUID_NESTED_NOSHADOW;
    nv.vmcs_exits = nv.round_trips = 0;
    vmx_instruction_done(0);
    return RESUME;
}

/* VMCS12 regions are in L1's memory in L0's own format (the SDM fixes only
 * the revision identifier and the abort indicator): the launch state is the
 * dword at offset 8. The contents live in the shadow VMCS while the VMCS is
 * current; L0 keeps one VMCS12's contents (a one-vCPU guest hypervisor's):
 * VMPTRLD of another starts afresh. */
#define VMCS12_LAUNCH_STATE 8
static volatile uint32_t *launch_state(uint64_t vmcs)
{
    return (volatile uint32_t *)(uintptr_t)(vmcs + VMCS12_LAUNCH_STATE);
}

static int l1_vmclear(struct vcpu *v)
{
    uint64_t vmcs = *operand(v);
    if (vmcs & 0xfff) {
        vm_fail_valid(2); /* VMCLEAR with invalid physical address */
        return RESUME;
    }
    *launch_state(vmcs) = 0;
    if (vmcs == nv.vmcs12) {
        nv.vmcs12 = ~0ull;
        nv.launched12 = false;
        shadowing(false);
    }
    vmx_instruction_done(0);
    return RESUME;
}

static int l1_vmptrld(struct vcpu *v)
{
    uint64_t vmcs = *operand(v);
    if ((vmcs & 0xfff) || *(volatile uint32_t *)(uintptr_t)vmcs != vmx_caps.revision) {
        vm_fail_valid(11); /* VMPTRLD with incorrect VMCS revision identifier */
        return RESUME;
    }
    if (vmcs != nv.vmcs12) {
        /* A fresh VMCS12: an empty shadow VMCS or array stands for it. */
        if (nv.shadowed) {
            if (!vmcs_init_shadow(nv.shadow))
                return nested_fatal("VMCLEAR of the shadow VMCS failed");
            load(pa(hv.vmcs));
        } else {
            memset(soft12, 0, sizeof(soft12));
        }
        nv.vmcs12 = vmcs;
    }
    nv.launched12 = *launch_state(vmcs) == 1;
    if (nv.shadowed)
        shadowing(true);
    vmx_instruction_done(0);
    return RESUME;
}

static int l1_vmxoff(void)
{
    nv.vmxon = false;
    nv.vmcs12 = ~0ull;
    shadowing(false);
    vmx_instruction_done(0);
    return RESUME;
}

/* VMCS02's fixed part, at L1's VMLAUNCH: L0's host state (every exit of L2
 * comes to L0's stub) and L0's bitmaps, EPT and a VPID of L2's own. */
static bool create_vmcs02(void)
{
    load(pa(hv.vmcs));
    nv.efer01 = vmread(GUEST_IA32_EFER);
    nv.pat01 = vmread(GUEST_IA32_PAT);
    uint64_t host_rsp = vmread(HOST_RSP); /* vmx_enter's stack, where every exit lands */
    memset(nv.vmcs02, 0, PAGE_SIZE);
    if (vmcs_init_and_load(nv.vmcs02) != VMX_OK)
        return false;
    nv.vmcs02_launched = false;
    nv.merged = false;
    vmcs_write_host_state(hv.exit);
    vmwrite(HOST_RSP, host_rsp);
    vmwrite(VM_EXIT_CONTROLS, hv.exit);
    vmcs_write_plain_defaults();
    vmwrite(VMCS_LINK_POINTER, ~0ull);
    /* L2 owns no CR0/CR4 bit: a write exits (this L2 writes none). */
    vmwrite(CR0_GUEST_HOST_MASK, ~0ull);
    vmwrite(CR4_GUEST_HOST_MASK, ~0ull);
    if (hv.msr_bitmaps)
        vmwrite(MSR_BITMAP, pa(hv.msr_bitmap));
    if (hv.io_bitmaps) {
        vmwrite(IO_BITMAP_A, pa(hv.io_bitmap_a));
        vmwrite(IO_BITMAP_B, pa(hv.io_bitmap_b));
    }
    if (hv.ept)
        vmwrite(EPT_POINTER, hv.eptp);
    if (hv.vpid)
        vmwrite(VIRTUAL_PROCESSOR_ID, 2); /* L2's translations apart from L1's */
    return true;
}

/* Enters L2 with VMCS12's guest state, L1's controls over L0's (merged
 * again whenever L1 changed them). */
static int enter_l2(struct vcpu *v, bool launch)
{
    static uint64_t g[N_GUEST_FIELDS];
    v12_open();
    for (unsigned i = 0; i < N_GUEST_FIELDS; i++)
        g[i] = v12_read(guest_fields[i]);
    struct controls12 c;
    c.pin = (uint32_t)v12_read(PIN_BASED_VM_EXEC_CONTROL);
    c.cpu = (uint32_t)v12_read(CPU_BASED_VM_EXEC_CONTROL);
    c.entry = (uint32_t)v12_read(VM_ENTRY_CONTROLS);
    c.exceptions = (uint32_t)v12_read(EXCEPTION_BITMAP);
    uint32_t cpu2_12 = (c.cpu & CPU_ACTIVATE_SECONDARY)
                           ? (uint32_t)v12_read(SECONDARY_VM_EXEC_CONTROL) : 0;
    uint64_t injection = v12_read(VM_ENTRY_INTR_INFO);
    uint64_t efer12 = (c.entry & ENTRY_LOAD_EFER) ? v12_read(GUEST_IA32_EFER) : 0;
    uint64_t pat12 = (c.entry & ENTRY_LOAD_PAT) ? v12_read(GUEST_IA32_PAT) : 0;
    /* What L2 reads from CR0/CR4: L1's read shadow where L1's mask owns the
     * bit, else the value L1 gave it (SDM 25.6.6 applied twice). */
    uint64_t cr0_mask12 = v12_read(CR0_GUEST_HOST_MASK), cr4_mask12 = v12_read(CR4_GUEST_HOST_MASK);
    uint64_t cr0_read = (v12_read(CR0_READ_SHADOW) & cr0_mask12) | (v12_read(GUEST_CR0) & ~cr0_mask12);
    uint64_t cr4_read = (v12_read(CR4_READ_SHADOW) & cr4_mask12) | (v12_read(GUEST_CR4) & ~cr4_mask12);
    if (cpu2_12)
        return nested_fatal("L1's secondary controls are not emulated");
    if (injection & INTR_INFO_VALID)
        return nested_fatal("event injection into L2 is not emulated");

    if (launch && !create_vmcs02())
        return nested_fatal("VMCLEAR/VMPTRLD of VMCS02 failed");
    if (!launch)
        load(pa(nv.vmcs02));
    if (!nv.merged || memcmp(&c, &nv.merged_from, sizeof(c))) {
        vmcs_write_controls(hv.pin | c.pin, hv.cpu | c.cpu, hv.cpu2);
        vmwrite(EXCEPTION_BITMAP, (1u << VEC_UD) | (1u << VEC_DF) | (1u << VEC_GP) |
                                      (1u << VEC_AC) | (1u << VEC_MC) | c.exceptions);
        vmwrite(VM_ENTRY_CONTROLS,
                (hv.entry & ~ENTRY_IA32E_MODE_GUEST) | (c.entry & ENTRY_IA32E_MODE_GUEST));
        nv.merged_from = c;
        nv.merged = true;
    }
    for (unsigned i = 0; i < N_GUEST_FIELDS; i++)
        vmwrite(guest_fields[i], g[i]);
    /* L2's IA32_EFER/PAT: VMCS12's when L1 loads them, else L1's own. */
    vmwrite(GUEST_IA32_EFER, (c.entry & ENTRY_LOAD_EFER) ? efer12 : nv.efer01);
    vmwrite(GUEST_IA32_PAT, (c.entry & ENTRY_LOAD_PAT) ? pat12 : nv.pat01);
    vmwrite(CR0_READ_SHADOW, cr0_read);
    vmwrite(CR4_READ_SHADOW, cr4_read);
    nv.in_l2 = true;
    v->launched = nv.vmcs02_launched;
    nv.vmcs02_launched = true;
    return RESUME;
}

static int l1_vmlaunch_vmresume(struct vcpu *v, bool launch)
{
    if (nv.vmcs12 == ~0ull) {
        vmx_instruction_done(1u << 0); /* VMfailInvalid: no current VMCS */
        return RESUME;
    }
    if (launch == nv.launched12) {
        vm_fail_valid(launch ? 4 : 5); /* VMLAUNCH with non-clear / VMRESUME with non-launched */
        return RESUME;
    }
    nv.launched12 = true;
    *launch_state(nv.vmcs12) = 1;
    nv.window = true;
    return enter_l2(v, launch);
}

/* L1's VMREAD/VMWRITE without shadowing (SDM Vol. 2 VMREAD/VMWRITE; Table
 * 28-14): the encoding in reg2 (bits 31:28), the other operand a register
 * (bits 6:3, when bit 10 is set) or memory. L1 runs in 64-bit mode. */
static int l1_vmaccess(struct vcpu *v, bool write)
{
    if (nv.vmcs12 == ~0ull) {
        vmx_instruction_done(1u << 0); /* VMfailInvalid: no current VMCS */
        return RESUME;
    }
    uint32_t info = (uint32_t)vmread(VMX_INSTRUCTION_INFO);
    uint32_t enc = (uint32_t)get_gpr(v, (info >> 28) & 15);
    bool reg = info & (1u << 10);
    uint64_t *mem = reg ? NULL : operand(v);
    if (nv.window)
        nv.vmcs_exits++;
    if (write) {
        uint64_t value = reg ? get_gpr(v, (info >> 3) & 15) : *mem;
        v12_write(enc, value);
    } else {
        uint64_t value = v12_read(enc);
        if (reg)
            set_gpr(v, (info >> 3) & 15, value);
        else
            *mem = value;
    }
    vmx_instruction_done(0);
    return RESUME;
}

bool nested_protocol_exit(unsigned reason)
{
    if (!nested_op(current_op) || reason == EXIT_REASON_VMCALL)
        return false; /* hypercalls are counted where they are handled */
    if (!nv.window)
        return true; /* L1 setting up or tearing down */
    return !nv.in_l2 && (reason == EXIT_REASON_VMREAD || reason == EXIT_REASON_VMWRITE);
}

void nested_report(void)
{
    if (!results[OP_CPUID_NESTED_NOSHADOW].ended)
        return;
    printf("RESULT exit.cpuid_nested_noshadow.vmcs_exits_per_round_trip=%lu\n",
           nv.round_trips ? nv.vmcs_exits / nv.round_trips : 0);
}

int nested_l1_instruction(struct vcpu *v, unsigned reason)
{
    if (!nv.vmxon && reason != EXIT_REASON_VMXON) {
        /* Outside VMX operation every VMX instruction is #UD (SDM Vol. 2). */
        vmwrite(VM_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION | VEC_UD);
        return RESUME;
    }
    switch (reason) {
    case EXIT_REASON_VMXON: return l1_vmxon(v);
    case EXIT_REASON_VMCLEAR: return l1_vmclear(v);
    case EXIT_REASON_VMPTRLD: return l1_vmptrld(v);
    case EXIT_REASON_VMLAUNCH: return l1_vmlaunch_vmresume(v, true);
    case EXIT_REASON_VMRESUME: return l1_vmlaunch_vmresume(v, false);
    case EXIT_REASON_VMXOFF: return l1_vmxoff();
    case EXIT_REASON_VMREAD: return l1_vmaccess(v, false);
    case EXIT_REASON_VMWRITE: return l1_vmaccess(v, true);
    default: return nested_fatal("VMX instruction not emulated");
    }
}

bool nested_cr4_write(uint64_t value)
{
    /* Only CR4.VMXE may change, and only in the nested phase. */
    uint64_t shadow = vmread(CR4_READ_SHADOW);
    if (!nested_op(current_op) || ((value ^ shadow) & ~(uint64_t)CR4_VMXE))
        return false;
    if (!(value & CR4_VMXE) && nv.vmxon)
        return false; /* #GP in VMX operation; L1 does not do that */
    vmwrite(CR4_READ_SHADOW, value);
    return true;
}

/* ---- L2's exits ---------------------------------------------------------- */

/* Host-state loading into L1 (SDM 28.5): VMCS12's host state becomes
 * VMCS01's guest state. */
static void load_l1_host_state(uint32_t exit12)
{
    static const uint32_t sel_fields[6] = {HOST_ES_SELECTOR, HOST_CS_SELECTOR,
                                           HOST_SS_SELECTOR, HOST_DS_SELECTOR,
                                           HOST_FS_SELECTOR, HOST_GS_SELECTOR};
    uint64_t sel[6], tr = v12_read(HOST_TR_SELECTOR);
    for (unsigned i = 0; i < 6; i++)
        sel[i] = v12_read(sel_fields[i]);
    uint64_t rip = v12_read(HOST_RIP), rsp = v12_read(HOST_RSP), cr0 = v12_read(HOST_CR0),
             cr3 = v12_read(HOST_CR3), cr4 = v12_read(HOST_CR4), fs = v12_read(HOST_FS_BASE),
             gs = v12_read(HOST_GS_BASE), trb = v12_read(HOST_TR_BASE), gdt = v12_read(HOST_GDTR_BASE),
             idt = v12_read(HOST_IDTR_BASE), scs = v12_read(HOST_IA32_SYSENTER_CS),
             sesp = v12_read(HOST_IA32_SYSENTER_ESP), seip = v12_read(HOST_IA32_SYSENTER_EIP);
    uint64_t efer = (exit12 & EXIT_LOAD_EFER) ? v12_read(HOST_IA32_EFER) : 0;
    uint64_t pat = (exit12 & EXIT_LOAD_PAT) ? v12_read(HOST_IA32_PAT) : 0;
    load(pa(hv.vmcs));
    vmwrite(GUEST_RIP, rip);
    vmwrite(GUEST_RSP, rsp);
    vmwrite(GUEST_RFLAGS, 0x2);
    vmwrite(GUEST_CR0, cr0);
    vmwrite(GUEST_CR3, cr3);
    vmwrite(GUEST_CR4, cr4);
    vmwrite(GUEST_DR7, 0x400);
    vmwrite(GUEST_IA32_DEBUGCTL, 0);
    vmwrite(GUEST_SYSENTER_CS, scs);
    vmwrite(GUEST_SYSENTER_ESP, sesp);
    vmwrite(GUEST_SYSENTER_EIP, seip);
    if (exit12 & EXIT_LOAD_EFER)
        vmwrite(GUEST_IA32_EFER, efer);
    if (exit12 & EXIT_LOAD_PAT)
        vmwrite(GUEST_IA32_PAT, pat);
    for (unsigned i = 0; i < 6; i++) {
        uint32_t ar = i == 1 ? 0xa09b : (sel[i] ? 0xc093 : AR_UNUSABLE);
        vmcs_write_guest_segment(GUEST_ES_SELECTOR + (sel_fields[i] - HOST_ES_SELECTOR),
                                 (uint16_t)sel[i], i == 4 ? fs : i == 5 ? gs : 0, ar);
    }
    vmwrite(GUEST_TR_SELECTOR, tr);
    vmwrite(GUEST_TR_BASE, trb);
    vmwrite(GUEST_TR_LIMIT, 0x67);
    vmwrite(GUEST_TR_AR_BYTES, 0x8b);
    vmwrite(GUEST_LDTR_SELECTOR, 0);
    vmwrite(GUEST_LDTR_AR_BYTES, AR_UNUSABLE);
    vmwrite(GUEST_GDTR_BASE, gdt);
    vmwrite(GUEST_GDTR_LIMIT, 0xffff);
    vmwrite(GUEST_IDTR_BASE, idt);
    vmwrite(GUEST_IDTR_LIMIT, 0xffff);
    vmwrite(GUEST_INTERRUPTIBILITY_INFO, 0);
    vmwrite(GUEST_ACTIVITY_STATE, 0);
    vmwrite(GUEST_PENDING_DBG_EXCEPTIONS, 0);
}

int nested_l2_exit(struct vcpu *v, unsigned reason)
{
    if (reason != EXIT_REASON_CPUID && reason != EXIT_REASON_VMCALL) {
        printf("  L2 exit reason %u (%s), qualification %#lx, RIP %#lx\n", reason,
               vmx_exit_reason_name(reason), vmread(EXIT_QUALIFICATION), vmread(GUEST_RIP));
        return nested_fatal("an exit of L2 that L1 did not ask for and L0 does not handle");
    }
    /* The nested guest's closing hypercall is protocol, not measurement. */
    if (reason == EXIT_REASON_VMCALL) {
        if (current_op >= 0)
            phase_hypercalls++;
        nv.window = false;
    }
    static uint64_t g[N_GUEST_FIELDS], x[N_EXIT_FIELDS];
    for (unsigned i = 0; i < N_GUEST_FIELDS; i++)
        g[i] = vmread(guest_fields[i]);
    for (unsigned i = 0; i < N_EXIT_FIELDS; i++)
        x[i] = vmread(exit_fields[i]);
    v12_open();
    for (unsigned i = 0; i < N_GUEST_FIELDS; i++)
        v12_write(guest_fields[i], g[i]);
    for (unsigned i = 0; i < N_EXIT_FIELDS; i++)
        v12_write(exit_fields[i], x[i]);
    load_l1_host_state((uint32_t)v12_read(VM_EXIT_CONTROLS));
    if (nv.window)
        nv.round_trips++;
    nv.in_l2 = false;
    v->launched = 1; /* VMCS01 */
    return RESUME;
}

void nested_reset(void)
{
    if (nv.in_l2) {
        load(pa(hv.vmcs));
        nv.in_l2 = false;
    }
    nv.vmxon = false;
    nv.vmcs12 = ~0ull;
    nv.launched12 = false;
    nv.window = false;
    shadowing(false);
}
