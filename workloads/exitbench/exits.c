/* The VM-exit handler: reads the exit reason (SDM 28.2.1) and emulates the
 * instruction or event, as a production hypervisor does, then resumes. */
#include "exitbench.h"

bool hv_fatal;
bool expect_failure;
bool entry_is_launch;
uint32_t last_exit_reason;
uint64_t exit_counts[EXIT_REASON_MAX];

enum { RESUME = 0, STOP = 1 };

uint64_t get_gpr(struct vcpu *v, unsigned r)
{
    return r == R_RSP ? vmread(GUEST_RSP) : v->gpr[r & 15];
}

void set_gpr(struct vcpu *v, unsigned r, uint64_t val)
{
    if (r == R_RSP)
        vmwrite(GUEST_RSP, val);
    else
        v->gpr[r & 15] = val;
}

/* Skips the emulated instruction; an instruction completing ends blocking
 * by STI and MOV SS (SDM 25.4.2), so clear it as the CPU would. */
void advance_rip(void)
{
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(VM_EXIT_INSTRUCTION_LEN));
    uint64_t intr = vmread(GUEST_INTERRUPTIBILITY_INFO);
    if (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))
        vmwrite(GUEST_INTERRUPTIBILITY_INFO, intr & ~(uint64_t)(GUEST_INTR_STATE_STI |
                                                               GUEST_INTR_STATE_MOV_SS));
}

void vmx_instruction_done(uint64_t set_flags)
{
    vmwrite(GUEST_RFLAGS, (vmread(GUEST_RFLAGS) & ~(uint64_t)0x8d5) | set_flags);
    advance_rip();
}

/* Event injection on the next VM entry (SDM 26.6 / 27.6). */
void inject_ext_intr(uint8_t vector)
{
    vmwrite(VM_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR | vector);
}

static void print_guest_context(void)
{
    printf("  guest RIP=%#lx RSP=%#lx RFLAGS=%#lx CR0=%#lx CR3=%#lx CR4=%#lx\n",
           vmread(GUEST_RIP), vmread(GUEST_RSP), vmread(GUEST_RFLAGS), vmread(GUEST_CR0),
           vmread(GUEST_CR3), vmread(GUEST_CR4));
    printf("  exit qualification=%#lx interruption info=%#lx error code=%#lx "
           "IDT-vectoring info=%#lx instruction length=%lu\n",
           vmread(EXIT_QUALIFICATION), vmread(VM_EXIT_INTR_INFO), vmread(VM_EXIT_INTR_ERROR_CODE),
           vmread(IDT_VECTORING_INFO), vmread(VM_EXIT_INSTRUCTION_LEN));
}

static int fatal(uint32_t reason, const char *why)
{
    printf("%s: VM exit reason %u (%s)%s: %s\n",
           expect_failure ? "exitbench (expected)" : "FAIL: exitbench", reason & 0xffff,
           vmx_exit_reason_name(reason), (reason & EXIT_REASON_FAILED_ENTRY) ? " [VM-entry failure]" : "",
           why);
    print_guest_context();
    if (current_op >= 0)
        snprintf(results[current_op].note, sizeof(results[current_op].note),
                 "stopped by exit reason %u (%s)", reason & 0xffff, vmx_exit_reason_name(reason));
    hv_fatal = true;
    return STOP;
}

static int handle_cpuid(struct vcpu *v)
{
    uint32_t leaf = (uint32_t)v->gpr[R_RAX], sub = (uint32_t)v->gpr[R_RCX];
    struct cpuid_regs r = cpuid_count(leaf, sub);
    if (leaf == 1) {
        r.c &= ~(1u << 5);  /* no nested VMX */
        r.c |= 1u << 31;    /* hypervisor present */
    }
    v->gpr[R_RAX] = r.a;
    v->gpr[R_RBX] = r.b;
    v->gpr[R_RCX] = r.c;
    v->gpr[R_RDX] = r.d;
    advance_rip();
    return RESUME;
}

static int handle_vmcall(struct vcpu *v)
{
    uint64_t nr = v->gpr[R_RAX];
    uint64_t ret = 0;
    advance_rip();
    /* Control hypercalls are not part of any measurement. */
    if (nr != HC_NOP && current_op >= 0) {
        phase_hypercalls++;
        if (ops[current_op].exit_reason == EXIT_REASON_VMCALL)
            phase_exits--;
    }
    switch (nr) {
    case HC_NOP:
        break;
    case HC_BEGIN: {
        const char *why = NULL;
        ret = phase_begin((unsigned)v->gpr[R_RBX], &why);
        break;
    }
    case HC_START:
        phase_start((unsigned)v->gpr[R_RBX]);
        break;
    case HC_END:
        phase_end(v, (unsigned)v->gpr[R_RBX]);
        break;
    case HC_DONE:
        return STOP;
    case HC_CHECK:
        report_guest_check((unsigned)v->gpr[R_RBX], v->gpr[R_RCX] != 0, v->gpr[R_RDX]);
        break;
    case HC_FAULT:
        printf("FAIL: exitbench: guest took unexpected vector %lu (%s); stack words %#lx %#lx\n",
               v->gpr[R_RBX], exception_name((unsigned)v->gpr[R_RBX]), v->gpr[R_RCX],
               v->gpr[R_RDX]);
        return fatal(EXIT_REASON_VMCALL, "guest fault");
    default:
        printf("exitbench: unknown hypercall %lu\n", nr);
        ret = (uint64_t)-1;
    }
    v->gpr[R_RAX] = ret;
    return RESUME;
}

/* HLT: a halted vCPU with an interrupt ready wakes at once. The host makes
 * one ready by injecting VEC_HLT_WAKE and completes the HLT. In the
 * hlt_timer phase it instead resumes the guest in the HLT activity state
 * (SDM 25.4.2), to be woken by its APIC timer's external-interrupt exit. */
static int handle_hlt(void)
{
    advance_rip();
    if (!(vmread(GUEST_RFLAGS) & RFLAGS_IF))
        return fatal(EXIT_REASON_HLT, "HLT with RFLAGS.IF=0 would never wake");
    if (current_op == OP_HLT_TIMER)
        vmwrite(GUEST_ACTIVITY_STATE, 1);
    else
        inject_ext_intr(VEC_HLT_WAKE);
    return RESUME;
}

static int handle_io(struct vcpu *v)
{
    uint64_t q = vmread(EXIT_QUALIFICATION);
    unsigned size = (q & 7) + 1, in = (q >> 3) & 1, string = (q >> 4) & 1;
    uint16_t port = q >> 16;
    if (string)
        return fatal(EXIT_REASON_IO_INSTRUCTION, "string I/O is not emulated");
    uint64_t mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffff;
    if (port == BENCH_PORT) {
        if (in)
            v->gpr[R_RAX] = (v->gpr[R_RAX] & ~mask) | (BENCH_PORT_IN_VALUE & mask);
        else
            hv.bench_port_value = (uint8_t)v->gpr[R_RAX];
    } else if (in) {
        /* Other ports (unconditional I/O exiting): do the access for the guest. */
        uint32_t val = size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
        /* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
        v->gpr[R_RAX] = size == 4 ? val : (v->gpr[R_RAX] & ~mask) | val;
    } else {
        uint32_t val = (uint32_t)v->gpr[R_RAX];
        if (size == 1)
            outb(port, (uint8_t)val);
        else if (size == 2)
            outw(port, (uint16_t)val);
        else
            outl(port, val);
    }
    advance_rip();
    return RESUME;
}

static int handle_rdmsr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->gpr[R_RCX];
    uint64_t val = 0;
    if (msr == TRAPPED_MSR)
        val = hv.kernel_gs_base_shadow;
    else if (!rdmsr_safe(msr, &val))
        printf("exitbench: guest RDMSR %#x faults on the host; returning 0\n", msr);
    v->gpr[R_RAX] = (uint32_t)val;
    v->gpr[R_RDX] = val >> 32;
    advance_rip();
    return RESUME;
}

static int handle_wrmsr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->gpr[R_RCX];
    uint64_t val = (v->gpr[R_RDX] << 32) | (uint32_t)v->gpr[R_RAX];
    if (msr == TRAPPED_MSR)
        hv.kernel_gs_base_shadow = val;
    else
        printf("exitbench: guest WRMSR %#x <- %#lx ignored\n", msr, val);
    advance_rip();
    return RESUME;
}

/* Guest TLB maintenance for the guest's VPID (SDM 29.4.3): emulating MOV to
 * CR3 and INVLPG must invalidate what the guest asked for. Without VPID,
 * every VM entry and exit already flushes VPID 0's linear mappings. */
static void flush_guest_tlb(bool one_address, uint64_t gla)
{
    uint64_t cap = vmx_caps.ept_vpid;
    if (!hv.vpid || !(cap & VPID_CAP_INVVPID)) {
        if (one_address)
            invlpg((void *)(uintptr_t)gla);
        return;
    }
    enum vmx_status st;
    if (one_address && (cap & VPID_CAP_INVVPID_ADDR))
        st = invvpid(INVVPID_ADDR, 1, gla);
    else if (!one_address && (cap & VPID_CAP_INVVPID_SINGLE_NONGLOBAL))
        st = invvpid(INVVPID_SINGLE_NONGLOBAL, 1, 0);
    else if (cap & VPID_CAP_INVVPID_SINGLE)
        st = invvpid(INVVPID_SINGLE, 1, 0);
    else
        st = invvpid(INVVPID_ALL, 0, 0);
    if (st != VMX_OK)
        vmx_print_status("INVVPID", st);
}

static int handle_cr(struct vcpu *v)
{
    /* SDM Table 28-3: bits 3:0 CR number, 5:4 access type, 11:8 GPR. */
    uint64_t q = vmread(EXIT_QUALIFICATION);
    unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
    if (cr == 4 && type == 0) {
        /* The nested guest hypervisor turning CR4.VMXE on or off. */
        if (!nested_cr4_write(get_gpr(v, reg)))
            return fatal(EXIT_REASON_CR_ACCESS, "MOV to CR4 changing more than a nested VMXE");
        advance_rip();
        return RESUME;
    }
    if (cr != 3 || type > 1)
        return fatal(EXIT_REASON_CR_ACCESS, "only MOV to/from CR3 and CR4.VMXE are emulated");
    if (type == 1) {
        set_gpr(v, reg, vmread(GUEST_CR3));
    } else {
        uint64_t val = get_gpr(v, reg);
        bool noflush = (vmread(GUEST_CR4) & (1ul << 17)) && (val >> 63);
        val &= ~(1ull << 63);
        vmwrite(GUEST_CR3, val);
        if (!noflush)
            flush_guest_tlb(false, 0);
    }
    advance_rip();
    return RESUME;
}

static int handle_invlpg(void)
{
    flush_guest_tlb(true, vmread(EXIT_QUALIFICATION));
    advance_rip();
    return RESUME;
}

static int handle_rdtsc(struct vcpu *v)
{
    uint64_t t = rdtsc();
    v->gpr[R_RAX] = (uint32_t)t;
    v->gpr[R_RDX] = t >> 32;
    advance_rip();
    return RESUME;
}

/* Minimal MMIO instruction decoder: MOV r32/r64 <-> m (8B /r, 89 /r) with an
 * optional REX prefix, ModRM without SIB. Returns the length or 0. */
static unsigned decode_mov(const uint8_t *p, bool *store, unsigned *reg, bool *wide)
{
    unsigned n = 0, rex = 0;
    if ((p[n] & 0xf0) == 0x40)
        rex = p[n++];
    if (p[n] != 0x8b && p[n] != 0x89)
        return 0;
    *store = p[n++] == 0x89;
    uint8_t modrm = p[n++];
    unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3 || rm == 4)
        return 0;
    if (mod == 1)
        n += 1;
    else if (mod == 2 || (mod == 0 && rm == 5))
        n += 4;
    *reg = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
    *wide = (rex & 8) != 0;
    return n;
}

static int handle_ept_violation(struct vcpu *v)
{
    uint64_t gpa = vmread(GUEST_PHYSICAL_ADDRESS);
    if ((gpa & ~(PAGE_SIZE - 1)) != MMIO_GPA) {
        printf("  guest-physical address %#lx, guest-linear address %#lx\n", gpa,
               vmread(GUEST_LINEAR_ADDRESS));
        return fatal(EXIT_REASON_EPT_VIOLATION, "EPT violation outside the emulated MMIO page");
    }
    /* The guest's code is identity mapped, so its RIP is readable here. */
    const uint8_t *insn = (const uint8_t *)(uintptr_t)vmread(GUEST_RIP);
    bool store, wide;
    unsigned reg, len = decode_mov(insn, &store, &reg, &wide);
    if (!len)
        return fatal(EXIT_REASON_EPT_VIOLATION, "MMIO instruction not decodable");
    if (store) {
        uint64_t val = get_gpr(v, reg);
        hv.mmio_value = wide ? val : (uint32_t)val;
    } else {
        set_gpr(v, reg, MMIO_READ_VALUE); /* 32-bit loads zero-extend */
    }
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + len);
    return RESUME;
}

/* External interrupt (SDM 28.2.2): with "acknowledge interrupt on exit" the
 * vector is in the exit interruption information and the local APIC has it
 * in service; otherwise it is still pending and the host takes it through
 * its own IDT by opening an interrupt window. */
static volatile int host_irq_vector = -1;
static void host_irq(struct irq_frame *f)
{
    host_irq_vector = (int)f->vector;
    apic_eoi();
}

static int handle_ext_intr(void)
{
    int vector;
    if (hv.ack_on_exit) {
        uint32_t info = (uint32_t)vmread(VM_EXIT_INTR_INFO);
        if (!(info & INTR_INFO_VALID))
            return fatal(EXIT_REASON_EXTERNAL_INTERRUPT,
                         "acknowledge-on-exit is on but the interruption information is not valid");
        vector = info & INTR_INFO_VECTOR_MASK;
        apic_eoi();
    } else {
        static bool registered;
        if (!registered) {
            set_handler(VEC_TIMER, host_irq);
            set_handler(VEC_IPI, host_irq);
            set_handler(VEC_PI_NOTIFY, host_irq);
            registered = true;
        }
        host_irq_vector = -1;
        asm volatile("sti; nop; cli" ::: "memory");
        vector = host_irq_vector;
        if (vector < 0)
            return RESUME; /* nothing pending any more */
    }
    phase_ext_intr((uint8_t)vector);
    return RESUME;
}

static int handle_exception(void)
{
    uint32_t info = (uint32_t)vmread(VM_EXIT_INTR_INFO);
    unsigned vec = info & INTR_INFO_VECTOR_MASK;
    char why[80];
    snprintf(why, sizeof(why), "guest exception %s (vector %u)", exception_name(vec), vec);
    return fatal(EXIT_REASON_EXCEPTION_NMI, why);
}

/* A guest's VMREAD (SDM 28.2.5, Table 28-14 instruction information): the
 * encoding in the register of bits 31:28, the destination in the register of
 * bits 6:3 when bit 10 says "register". The host keeps the guest's "VMCS" in
 * software, as a nested hypervisor keeps VMCS12: here one field. */
static int handle_vmread(struct vcpu *v)
{
    uint32_t info = (uint32_t)vmread(VMX_INSTRUCTION_INFO);
    if (!(info & (1u << 10)))
        return fatal(EXIT_REASON_VMREAD, "VMREAD to memory is not emulated");
    uint64_t field = get_gpr(v, (info >> 28) & 15);
    if (field != BENCH_VMCS_FIELD)
        return fatal(EXIT_REASON_VMREAD, "VMREAD of a field the host does not emulate");
    set_gpr(v, (info >> 3) & 15, BENCH_VMCS_VALUE);
    vmx_instruction_done(0);
    return RESUME;
}

int vmx_exit_handler(struct vcpu *v)
{
    uint32_t reason = (uint32_t)vmread(VM_EXIT_REASON);
    last_exit_reason = reason;
    if (reason & EXIT_REASON_FAILED_ENTRY) {
        /* The VMCS becomes "launched" only when VMLAUNCH's entry succeeds
         * (SDM Vol. 2 VMLAUNCH pseudocode; Vol. 3C 27.8). */
        if (entry_is_launch)
            v->launched = 0;
        return fatal(reason, "VM entry failed while loading guest state (SDM 27.8)");
    }
    entry_is_launch = false;
    unsigned basic = reason & 0xffff;
    if (basic < EXIT_REASON_MAX)
        exit_counts[basic]++;
    if (current_op >= 0) {
        phase_total++;
        if (nested_op(current_op) && nested_protocol_exit(basic))
            phase_hypercalls++;
        else if ((int)basic == ops[current_op].exit_reason)
            phase_exits++;
        else if ((int)basic == ops[current_op].second_reason)
            phase_second++;
        else if (basic != EXIT_REASON_VMCALL)
            phase_other_reason = basic;
    }
    /* While the nested guest runs, its exits go to its hypervisor (physical
     * interrupts stay L0's). */
    if (nested_in_l2() && basic != EXIT_REASON_EXTERNAL_INTERRUPT)
        return nested_l2_exit(v, basic);
    switch (basic) {
    case EXIT_REASON_CPUID: return handle_cpuid(v);
    case EXIT_REASON_VMCALL: return handle_vmcall(v);
    case EXIT_REASON_HLT: return handle_hlt();
    case EXIT_REASON_IO_INSTRUCTION: return handle_io(v);
    case EXIT_REASON_MSR_READ: return handle_rdmsr(v);
    case EXIT_REASON_MSR_WRITE: return handle_wrmsr(v);
    case EXIT_REASON_CR_ACCESS: return handle_cr(v);
    case EXIT_REASON_INVLPG: return handle_invlpg();
    case EXIT_REASON_RDTSC: return handle_rdtsc(v);
    case EXIT_REASON_VMREAD:
        if (current_op == OP_CPUID_NESTED)
            return fatal(basic, "the nested guest hypervisor's VMREAD exited (shadowing is on)");
        if (current_op == OP_CPUID_NESTED_NOSHADOW)
            return nested_l1_instruction(v, basic);
        return handle_vmread(v);
    case EXIT_REASON_VMWRITE:
        if (current_op != OP_CPUID_NESTED_NOSHADOW)
            return fatal(basic, "VMWRITE in the guest outside the nested operation");
        return nested_l1_instruction(v, basic);
    case EXIT_REASON_VMXON:
    case EXIT_REASON_VMCLEAR:
    case EXIT_REASON_VMPTRLD:
    case EXIT_REASON_VMLAUNCH:
    case EXIT_REASON_VMRESUME:
    case EXIT_REASON_VMXOFF:
        if (!nested_op(current_op))
            return fatal(basic, "VMX instruction in the guest outside the nested operation");
        return nested_l1_instruction(v, basic);
    case EXIT_REASON_EPT_VIOLATION: return handle_ept_violation(v);
    case EXIT_REASON_EXTERNAL_INTERRUPT: return handle_ext_intr();
    case EXIT_REASON_PREEMPTION_TIMER:
        if (current_op >= 0)
            phase_async_exit((unsigned)current_op);
        return RESUME;
    case EXIT_REASON_EXCEPTION_NMI: return handle_exception();
    case EXIT_REASON_EPT_MISCONFIG:
        printf("  guest-physical address %#lx\n", vmread(GUEST_PHYSICAL_ADDRESS));
        return fatal(basic, "EPT misconfiguration (the EPT built here should be valid)");
    default: return fatal(basic, "unexpected exit");
    }
}
