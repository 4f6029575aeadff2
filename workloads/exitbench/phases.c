/* One measurement phase per operation: the guest asks for it (HC_BEGIN), the
 * host turns on the exiting controls it needs or reports SKIP when the
 * processor does not advertise them, the guest measures, and HC_END hands
 * the guest's numbers over and restores the baseline controls. */
#include "exitbench.h"

const struct op_desc ops[OP_COUNT] = {
    [OP_CPUID] = {"cpuid", "CPUID leaf 0", EXIT_REASON_CPUID, true, false, -1},
    [OP_VMCALL] = {"vmcall", "VMCALL (no-op hypercall)", EXIT_REASON_VMCALL, true, false, -1},
    [OP_WRMSR] = {"wrmsr", "WRMSR, MSR bitmap traps it", EXIT_REASON_MSR_WRITE, true, false, -1},
    [OP_RDMSR] = {"rdmsr", "RDMSR, MSR bitmap traps it", EXIT_REASON_MSR_READ, true, false, -1},
    [OP_RDMSR_PASS] = {"rdmsr_passthrough", "RDMSR passed through (no exit)",
                       EXIT_REASON_MSR_READ, false, false, -1},
    [OP_IO_OUT] = {"io_out", "OUT to a trapped port", EXIT_REASON_IO_INSTRUCTION, true, false, -1},
    [OP_IO_IN] = {"io_in", "IN from a trapped port", EXIT_REASON_IO_INSTRUCTION, true, false, -1},
    [OP_HLT] = {"hlt", "HLT, woken by an injected interrupt", EXIT_REASON_HLT, true, true, -1},
    [OP_HLT_TIMER] = {"hlt_timer", "HLT in HLT activity state, timer wake", EXIT_REASON_HLT,
                      true, true, EXIT_REASON_EXTERNAL_INTERRUPT},
    [OP_EPT_MMIO] = {"ept_mmio", "MMIO load emulated on EPT violation",
                     EXIT_REASON_EPT_VIOLATION, true, false, -1},
    [OP_EXTINT] = {"extint", "external interrupt (APIC timer)", EXIT_REASON_EXTERNAL_INTERRUPT,
                   true, false, -1},
    [OP_PREEMPT] = {"preemption_timer", "VMX-preemption timer expiry",
                    EXIT_REASON_PREEMPTION_TIMER, true, false, -1},
    [OP_CR3] = {"cr3_load", "MOV to CR3 (CR3-load exiting)", EXIT_REASON_CR_ACCESS, true, false, -1},
    [OP_INVLPG] = {"invlpg", "INVLPG (INVLPG exiting)", EXIT_REASON_INVLPG, true, false, -1},
    [OP_RDTSC] = {"rdtsc", "RDTSC (RDTSC exiting)", EXIT_REASON_RDTSC, true, false, -1},
    [OP_IPI] = {"self_ipi", "self-IPI, exit + re-injection", EXIT_REASON_EXTERNAL_INTERRUPT, true,
                true, -1},
    [OP_IPI_POSTED] = {"self_ipi_posted", "self-IPI as posted interrupt",
                       EXIT_REASON_EXTERNAL_INTERRUPT, false, true, -1},
    [OP_VMREAD] = {"vmread", "VMREAD emulated by the host", EXIT_REASON_VMREAD, true, false, -1},
    [OP_VMREAD_SHADOW] = {"vmread_shadow", "VMREAD from a shadow VMCS (no exit)",
                          EXIT_REASON_VMREAD, false, false, -1},
    [OP_CPUID_NESTED] = {"cpuid_nested", "CPUID of a nested guest, via its hypervisor",
                         EXIT_REASON_VMRESUME, true, false, EXIT_REASON_CPUID},
    [OP_CPUID_NESTED_NOSHADOW] = {"cpuid_nested_noshadow",
                                  "the same, its hypervisor's VMREAD/VMWRITEs exit",
                                  EXIT_REASON_VMRESUME, true, false, EXIT_REASON_CPUID},
};

struct op_result results[OP_COUNT];
struct guest_config guest_cfg;
volatile uint64_t phase_exits;
volatile uint64_t guest_irq_count;
uint64_t phase_total, phase_hypercalls, phase_second;
unsigned phase_other_reason;
int current_op = -1;

static uint64_t preempt_value;   /* VMX-preemption timer value */

static int skip(unsigned op, const char **why, const char *reason)
{
    results[op].skipped = true;
    snprintf(results[op].note, sizeof(results[op].note), "%s", reason);
    *why = reason;
    return 1;
}

/* The virtual-APIC page, the posted-interrupt descriptor and, when the
 * guest's virtual EOI goes through it, the APIC-access page (a page of its
 * own, not the real APIC's address, which the guest keeps using). */
static void setup_posted(bool apic_access_page)
{
    if (!hv.pi_desc) {
        hv.pi_desc = alloc_page(); /* 64-byte aligned (SDM 29.6) */
        hv.virt_apic_page = alloc_page();
        hv.apic_access_page = alloc_page();
    }
    memset(hv.pi_desc, 0, 64);
    memset(hv.virt_apic_page, 0, PAGE_SIZE); /* VTPR = 0, no vector in service */
    vmwrite(VIRTUAL_APIC_PAGE_ADDR, (uint64_t)(uintptr_t)hv.virt_apic_page);
    if (apic_access_page)
        vmwrite(APIC_ACCESS_ADDR, (uint64_t)(uintptr_t)hv.apic_access_page);
    vmwrite(TPR_THRESHOLD, 0);
    vmwrite(EOI_EXIT_BITMAP0, 0);
    vmwrite(EOI_EXIT_BITMAP1, 0);
    vmwrite(EOI_EXIT_BITMAP2, 0);
    vmwrite(EOI_EXIT_BITMAP3, 0);
    vmwrite(GUEST_INTR_STATUS, 0);
    vmwrite(POSTED_INTR_NV, VEC_PI_NOTIFY);
    vmwrite(POSTED_INTR_DESC_ADDR, (uint64_t)(uintptr_t)hv.pi_desc);
    guest_cfg.pi_desc = (uint64_t)(uintptr_t)hv.pi_desc;
    guest_cfg.apic_access_page = (uint64_t)(uintptr_t)hv.apic_access_page;
    guest_virtual_eoi_addr = guest_cfg.apic_access_page;
    set_guest_gate(VEC_POSTED, (uint64_t)(uintptr_t)(apic_access_page ? guest_isr_posted
                                                                      : guest_isr_posted_x2apic));
    printf("exitbench: posted interrupts: virtual EOI through %s\n",
           apic_access_page ? "the APIC-access page" : "WRMSR 80BH (virtualize x2APIC mode)");
}

/* VMCS shadowing (SDM 25.10, 26.3.1.5): a shadow VMCS (revision identifier
 * with bit 31 set) holding BENCH_VMCS_FIELD, and bitmaps in which every
 * VMREAD and VMWRITE exits except VMREAD of that field. The host fills the
 * shadow VMCS as a nested hypervisor does: VMPTRLD it, VMWRITE, VMPTRLD its
 * own VMCS back (which keeps its launch state, SDM 25.11.3). */
static bool setup_shadow_vmcs(const char **why)
{
    if (!hv.shadow_vmcs) {
        hv.shadow_vmcs = alloc_page();
        hv.vmread_bitmap = alloc_page();
        hv.vmwrite_bitmap = alloc_page();
    }
    memset(hv.vmread_bitmap, 0xff, PAGE_SIZE);
    memset(hv.vmwrite_bitmap, 0xff, PAGE_SIZE);
    hv.vmread_bitmap[(BENCH_VMCS_FIELD & 0x7fff) / 8] &= (uint8_t)~(1u << (BENCH_VMCS_FIELD & 7));
    uint64_t shadow = (uint64_t)(uintptr_t)hv.shadow_vmcs;
    uint64_t own = (uint64_t)(uintptr_t)hv.vmcs;
    if (!vmcs_init_shadow(hv.shadow_vmcs) || vmptrld(shadow) != VMX_OK) {
        *why = "VMCLEAR/VMPTRLD of the shadow VMCS failed";
        return false;
    }
    vmwrite(BENCH_VMCS_FIELD, BENCH_VMCS_VALUE);
    if (vmptrld(own) != VMX_OK) {
        *why = "VMPTRLD of the hypervisor's own VMCS failed";
        return false;
    }
    vmcs_link_shadow(hv.shadow_vmcs, hv.vmread_bitmap, hv.vmwrite_bitmap);
    return true;
}

/* only=name[,name...] runs just those operations (to read vmxsim's
 * statistics for one kind of exit). */
static bool op_selected(unsigned op)
{
    char list[128];
    if (!cmdline_get_str("only", list, sizeof(list)))
        return true;
    size_t n = strlen(ops[op].name);
    for (const char *p = list; *p;) {
        const char *end = p;
        while (*end && *end != ',')
            end++;
        if ((size_t)(end - p) == n && !strncmp(p, ops[op].name, n))
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

int phase_begin(unsigned op, const char **why)
{
    const struct vmx_caps *c = &vmx_caps;
    if (op >= OP_COUNT) {
        *why = "no such operation";
        return 1;
    }
    results[op].begun = true;
    if (!op_selected(op))
        return skip(op, why, "not selected by only=");
    phase_exits = 0;
    phase_total = 0;
    phase_hypercalls = 0;
    phase_second = 0;
    phase_other_reason = 0;
    guest_irq_count = 0;
    uint32_t pin = hv.pin, cpu = hv.cpu, cpu2 = hv.cpu2;

    switch (op) {
    case OP_RDMSR_PASS:
        if (!hv.msr_bitmaps)
            return skip(op, why, "MSR bitmaps not advertised (or no_msr_bitmap): every RDMSR exits");
        break;
    case OP_IO_OUT:
    case OP_IO_IN:
        if (!(vmx_adjust(&c->cpu, hv.cpu) & (CPU_USE_IO_BITMAPS | CPU_UNCOND_IO_EXITING)))
            return skip(op, why, "neither I/O bitmaps nor unconditional I/O exiting advertised");
        break;
    case OP_HLT:
        if (!vmx_allowed(&c->cpu, CPU_HLT_EXITING))
            return skip(op, why, "HLT exiting not advertised");
        break;
    case OP_HLT_TIMER:
        /* SDM A.6: IA32_VMX_MISC bit 6 advertises the HLT activity state. */
        if (!vmx_allowed(&c->cpu, CPU_HLT_EXITING) || !vmx_allowed(&c->pin, PIN_EXT_INTR_EXITING))
            return skip(op, why, "HLT exiting or external-interrupt exiting not advertised");
        if (!(c->misc & (1u << 6)))
            return skip(op, why, "HLT activity state not advertised (IA32_VMX_MISC bit 6)");
        break;
    case OP_EPT_MMIO:
        if (!hv.ept)
            return skip(op, why, "EPT (4-level, WB or UC) not advertised (or no_ept)");
        break;
    case OP_EXTINT:
    case OP_IPI:
        if (!vmx_allowed(&c->pin, PIN_EXT_INTR_EXITING))
            return skip(op, why, "external-interrupt exiting not advertised");
        break;
    case OP_PREEMPT:
        if (!vmx_allowed(&c->pin, PIN_PREEMPTION_TIMER))
            return skip(op, why, "VMX-preemption timer not advertised");
        break;
    case OP_CR3:
        if (!vmx_allowed(&c->cpu, CPU_CR3_LOAD_EXITING))
            return skip(op, why, "CR3-load exiting not advertised");
        cpu |= CPU_CR3_LOAD_EXITING;
        break;
    case OP_INVLPG:
        if (!vmx_allowed(&c->cpu, CPU_INVLPG_EXITING))
            return skip(op, why, "INVLPG exiting not advertised");
        cpu |= CPU_INVLPG_EXITING;
        break;
    case OP_RDTSC:
        if (!vmx_allowed(&c->cpu, CPU_RDTSC_EXITING))
            return skip(op, why, "RDTSC exiting not advertised");
        cpu |= CPU_RDTSC_EXITING;
        break;
    case OP_IPI_POSTED: {
        /* SDM 27.2.1.1: posted interrupts need virtual-interrupt delivery
         * (which needs the TPR shadow and external-interrupt exiting) and
         * acknowledge-on-exit. The guest's EOI must be virtualized without
         * an exit (SDM 29.1.4): a write to the APIC-access page, or, with
         * "virtualize x2APIC mode", WRMSR 80BH (SDM 29.5; needs the MSR
         * bitmap to leave that MSR alone). */
        if (!vmx_allowed(&c->pin, PIN_POSTED_INTR))
            return skip(op, why, "posted-interrupt processing not advertised");
        if (!vmx_allowed(&c->cpu, CPU_USE_TPR_SHADOW) || !vmx_has_cpu2(CPU2_VIRT_INTR_DELIVERY))
            return skip(op, why, "TPR shadow / virtual-interrupt delivery not advertised");
        if (!hv.ack_on_exit)
            return skip(op, why, "acknowledge interrupt on exit not advertised (or no_ack)");
        bool page = vmx_has_cpu2(CPU2_VIRT_APIC_ACCESSES) && !cmdline_has("posted_x2apic");
        bool x2apic = vmx_has_cpu2(CPU2_VIRT_X2APIC) && hv.msr_bitmaps;
        if (!page && !x2apic)
            return skip(op, why, "no exit-less virtual EOI: neither APIC-access virtualization "
                                 "nor virtualize-x2APIC mode with MSR bitmaps");
        setup_posted(page);
        pin |= PIN_POSTED_INTR;
        cpu |= CPU_USE_TPR_SHADOW | CPU_ACTIVATE_SECONDARY;
        cpu2 |= CPU2_VIRT_INTR_DELIVERY | (page ? CPU2_VIRT_APIC_ACCESSES : CPU2_VIRT_X2APIC);
        break;
    }
    case OP_VMREAD:
        /* Without VMCS shadowing every VMREAD in VMX non-root operation
         * exits (SDM 26.1.3): the baseline controls leave it off. */
        break;
    case OP_CPUID_NESTED:
        /* L1's VMCS lives in a shadow VMCS, and L0 writes L2's exit
         * information into it (IA32_VMX_MISC bit 29, SDM A.6). */
        if (!vmx_has_cpu2(CPU2_VMCS_SHADOWING))
            return skip(op, why, "VMCS shadowing not advertised (the nested hypervisor's VMCS)");
        if (!(vmx_caps.misc & (1ull << 29)))
            return skip(op, why, "VMWRITE to VM-exit information fields not advertised");
        break;
    case OP_VMREAD_SHADOW: {
        if (!vmx_has_cpu2(CPU2_VMCS_SHADOWING))
            return skip(op, why, "VMCS shadowing not advertised");
        const char *fail;
        if (!setup_shadow_vmcs(&fail))
            return skip(op, why, fail);
        cpu |= CPU_ACTIVATE_SECONDARY;
        cpu2 |= CPU2_VMCS_SHADOWING;
        break;
    }
    default:
        break;
    }
    vmcs_write_controls(pin, cpu, cpu2);
    current_op = (int)op;
    return 0;
}

void phase_start(unsigned op)
{
    if ((int)op != current_op)
        return;
    if (op == OP_EXTINT) {
        apic_timer_oneshot(VEC_TIMER, guest_cfg.timer_count, 1);
    } else if (op == OP_PREEMPT) {
        /* The timer counts down once every 2^shift TSC cycles (SDM 26.5.1). */
        uint64_t cycles = cmdline_get("preempt_cycles", 20000);
        preempt_value = cycles >> vmx_caps.preemption_timer_shift;
        if (preempt_value == 0)
            preempt_value = 1;
        vmwrite(VMX_PREEMPTION_TIMER_VALUE, preempt_value);
        vmcs_write_controls(hv.pin | PIN_PREEMPTION_TIMER, hv.cpu, hv.cpu2);
    }
}

/* The N-th exit of an asynchronous source stops it, so that the host's
 * count is exactly N when the guest has seen N. */
void phase_async_exit(unsigned op)
{
    if (op == OP_PREEMPT && phase_exits >= guest_cfg.iters)
        vmcs_write_controls(hv.pin, hv.cpu, hv.cpu2);
    /* Otherwise nothing to do: without "save VMX-preemption timer value"
     * every VM entry reloads the timer from the VMCS field (SDM 26.7.4). */
}

void phase_ext_intr(uint8_t vector)
{
    switch (vector) {
    case VEC_TIMER:
        if (current_op == OP_EXTINT && phase_exits < guest_cfg.iters) {
            apic_write(APIC_TMICT, guest_cfg.timer_count);
        } else if (current_op == OP_HLT_TIMER) {
            /* The guest's timer: wake it from the HLT activity state with
             * the interrupt (SDM 27.6.x: an injected event leaves the
             * processor active), as a hypervisor wakes a halted vCPU. */
            vmwrite(GUEST_ACTIVITY_STATE, 0);
            inject_ext_intr(VEC_HLT_WAKE);
        }
        break;
    case VEC_IPI:
        inject_ext_intr(VEC_IPI);
        break;
    case VEC_PI_NOTIFY:
        /* With posted-interrupt processing the notification never exits
         * (SDM 30.6); deliver the posted vector the slow way so the guest
         * goes on, and let the count show the failure. */
        printf("exitbench: posted-interrupt notification vector %#x caused a VM exit\n",
               vector);
        inject_ext_intr(VEC_POSTED);
        break;
    default:
        printf("exitbench: stray external interrupt vector %#x\n", vector);
    }
}

void phase_end(struct vcpu *v, unsigned op)
{
    if ((int)op != current_op || op >= OP_COUNT) {
        printf("exitbench: HC_END for op %u while op %d is running\n", op, current_op);
        return;
    }
    struct op_result *r = &results[op];
    r->ended = true;
    r->cycles = v->gpr[R_RCX];
    r->samples = v->gpr[R_RDX];
    r->guest_events = v->gpr[R_RSI];
    r->status = v->gpr[R_RDI];
    r->exits = phase_exits;
    r->second_exits = phase_second;
    r->other_exits = phase_total - phase_exits - phase_second - phase_hypercalls;
    r->other_reason = phase_other_reason;
    if (op == OP_EXTINT || op == OP_HLT_TIMER)
        apic_timer_stop();
    vmcs_write_controls(hv.pin, hv.cpu, hv.cpu2);
    if (op == OP_VMREAD_SHADOW) /* a shadow VMCS without shadowing fails VM entry */
        vmwrite(VMCS_LINK_POINTER, ~0ull);
    if (nested_op((int)op))
        nested_reset();
    current_op = -1;
}
