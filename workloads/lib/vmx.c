/* VMX capability probing, VMXON and VMCS loading, and names for exit reasons
 * and VM-instruction errors (Intel SDM Vol. 3C chapters 24 and 31, 3D
 * appendices A and C). */
#include "vmx.h"

struct vmx_caps vmx_caps;
volatile uint32_t vmx_errors;

bool rdmsr_safe(uint32_t msr, uint64_t *value)
{
    uint32_t lo = 0, hi = 0, ok;
    /* A fault resumes at 2: (the exception fixup table) with ok still 0. */
    asm volatile("xor %k2, %k2\n"
                 "1:\trdmsr\n\t"
                 "mov $1, %k2\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "+a"(lo), "+d"(hi), "=&r"(ok)
                 : "c"(msr)
                 : "memory");
    if (!ok)
        return false;
    *value = ((uint64_t)hi << 32) | lo;
    return true;
}

bool wrmsr_safe(uint32_t msr, uint64_t value)
{
    uint32_t lo = (uint32_t)value, ok;
    asm volatile("xor %k1, %k1\n"
                 "1:\twrmsr\n\t"
                 "mov $1, %k1\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "+a"(lo), "=&r"(ok)
                 : "c"(msr), "d"((uint32_t)(value >> 32))
                 : "memory");
    return ok;
}

void vmwrite(uint32_t field, uint64_t value)
{
    enum vmx_status st = vmwrite_status(field, value);
    if (st != VMX_OK) {
        char what[64];
        snprintf(what, sizeof(what), "VMWRITE %#x <- %#lx", field, value);
        vmx_print_status(what, st);
        vmx_errors++;
    }
}

uint64_t vmread(uint32_t field)
{
    uint64_t v;
    enum vmx_status st = vmread_status(field, &v);
    if (st != VMX_OK) {
        char what[64];
        snprintf(what, sizeof(what), "VMREAD %#x", field);
        vmx_print_status(what, st);
        vmx_errors++;
        return 0;
    }
    return v;
}

static bool read_ctl(uint32_t msr, struct vmx_ctl *c, const char **why)
{
    uint64_t v;
    if (!rdmsr_safe(msr, &v)) {
        *why = "a VMX control capability MSR faults";
        return false;
    }
    c->allowed0 = (uint32_t)v;
    c->allowed1 = (uint32_t)(v >> 32);
    return true;
}

bool vmx_probe(const char **why)
{
    struct vmx_caps *c = &vmx_caps;
    memset(c, 0, sizeof(*c));
    c->cpuid_vmx = (cpuid(1).c >> 5) & 1;
    if (!c->cpuid_vmx) {
        *why = "CPUID.1:ECX.VMX[bit 5] is 0";
        return false;
    }
    /* SDM 24.7: VMXON needs IA32_FEATURE_CONTROL locked with VMX outside SMX
     * enabled. Firmware normally locks it; with no firmware we do it. */
    if (!rdmsr_safe(MSR_IA32_FEATURE_CONTROL, &c->feature_control)) {
        *why = "RDMSR IA32_FEATURE_CONTROL (0x3a) faults";
        return false;
    }
    if (!(c->feature_control & FEATURE_CONTROL_LOCK)) {
        uint64_t fc = c->feature_control | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
        if (!wrmsr_safe(MSR_IA32_FEATURE_CONTROL, fc)) {
            *why = "WRMSR IA32_FEATURE_CONTROL (0x3a) faults";
            return false;
        }
        rdmsr_safe(MSR_IA32_FEATURE_CONTROL, &c->feature_control);
    }
    if (!(c->feature_control & FEATURE_CONTROL_LOCK) ||
        !(c->feature_control & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        *why = "IA32_FEATURE_CONTROL disables VMX outside SMX";
        return false;
    }
    c->feature_control_ok = true;
    if (!rdmsr_safe(MSR_IA32_VMX_BASIC, &c->basic)) {
        *why = "RDMSR IA32_VMX_BASIC (0x480) faults";
        return false;
    }
    c->revision = (uint32_t)c->basic & 0x7fffffff;
    c->true_ctls = (c->basic & VMX_BASIC_TRUE_CTLS) != 0;
    /* SDM A.2: with bit 55 set, the TRUE_* MSRs say which default-1 controls
     * may be 0; otherwise the plain MSRs are authoritative. */
    if (!read_ctl(c->true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS,
                  &c->pin, why) ||
        !read_ctl(c->true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS,
                  &c->cpu, why) ||
        !read_ctl(c->true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS, &c->exit,
                  why) ||
        !read_ctl(c->true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS,
                  &c->entry, why))
        return false;
    if (c->cpu.allowed1 & CPU_ACTIVATE_SECONDARY) {
        if (!read_ctl(MSR_IA32_VMX_PROCBASED_CTLS2, &c->cpu2, why))
            return false;
        /* EPT/VPID capabilities exist if either feature may be enabled (A.10). */
        if ((c->cpu2.allowed1 & (CPU2_ENABLE_EPT | CPU2_ENABLE_VPID)) &&
            !rdmsr_safe(MSR_IA32_VMX_EPT_VPID_CAP, &c->ept_vpid)) {
            *why = "RDMSR IA32_VMX_EPT_VPID_CAP (0x48c) faults";
            return false;
        }
    }
    if (!rdmsr_safe(MSR_IA32_VMX_MISC, &c->misc) ||
        !rdmsr_safe(MSR_IA32_VMX_CR0_FIXED0, &c->cr0_fixed0) ||
        !rdmsr_safe(MSR_IA32_VMX_CR0_FIXED1, &c->cr0_fixed1) ||
        !rdmsr_safe(MSR_IA32_VMX_CR4_FIXED0, &c->cr4_fixed0) ||
        !rdmsr_safe(MSR_IA32_VMX_CR4_FIXED1, &c->cr4_fixed1)) {
        *why = "a VMX MISC/CR-fixed capability MSR (0x485-0x489) faults";
        return false;
    }
    c->preemption_timer_shift = c->misc & 0x1f;
    return true;
}

bool vmx_has_cpu2(uint32_t bits)
{
    return (vmx_caps.cpu.allowed1 & CPU_ACTIVATE_SECONDARY) && vmx_allowed(&vmx_caps.cpu2, bits);
}

void vmx_print_caps(void)
{
    const struct vmx_caps *c = &vmx_caps;
    printf("vmx: IA32_FEATURE_CONTROL=%#lx IA32_VMX_BASIC=%#lx (revision %#x, VMCS %lu bytes, "
           "memory type %lu, TRUE controls %s)\n",
           c->feature_control, c->basic, c->revision, (c->basic >> 32) & 0x1fff,
           (c->basic >> 50) & 0xf, c->true_ctls ? "yes" : "no");
    printf("vmx: pin %08x/%08x cpu %08x/%08x cpu2 %08x/%08x exit %08x/%08x entry %08x/%08x "
           "(allowed-0/allowed-1)\n",
           c->pin.allowed0, c->pin.allowed1, c->cpu.allowed0, c->cpu.allowed1,
           c->cpu2.allowed0, c->cpu2.allowed1, c->exit.allowed0, c->exit.allowed1,
           c->entry.allowed0, c->entry.allowed1);
    printf("vmx: MISC=%#lx (preemption timer: 1 tick per 2^%u TSC cycles) EPT_VPID_CAP=%#lx\n",
           c->misc, c->preemption_timer_shift, c->ept_vpid);
    printf("vmx: CR0 fixed0/1 %#lx/%#lx CR4 fixed0/1 %#lx/%#lx\n", c->cr0_fixed0,
           c->cr0_fixed1, c->cr4_fixed0, c->cr4_fixed1);
}

/* VMXON that survives #UD/#GP: returns the vector, or -1 and the flags. */
static int vmxon_faulting(uint64_t *pa, uint64_t *rflags)
{
    uint64_t vec = 0, fl = 0;
    uint32_t ok;
    asm volatile("xor %k2, %k2\n"
                 "1:\tvmxon (%3)\n\t"
                 "pushfq\n\t"
                 "popq %1\n\t"
                 "mov $1, %k2\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "+a"(vec), "+r"(fl), "=&r"(ok)
                 : "r"(pa)
                 : "cc", "memory");
    *rflags = fl;
    return ok ? -1 : (int)vec;
}

enum vmx_status vmx_on(void *region, int *fault_vector)
{
    const struct vmx_caps *c = &vmx_caps;
    *fault_vector = -1;
    /* SDM 24.8: CR0 and CR4 must respect the fixed bits in VMX operation;
     * CR4.VMXE is among CR4's fixed-1 bits. */
    uint64_t cr4 = ((read_cr4() | CR4_VMXE) | c->cr4_fixed0) & c->cr4_fixed1;
    uint64_t vec = 0;
    uint32_t ok;
    asm volatile("xor %k1, %k1\n"
                 "1:\tmov %2, %%cr4\n\t"
                 "mov $1, %k1\n"
                 "2:\n\t" EX_TABLE("1b", "2b")
                 : "+a"(vec), "=&r"(ok)
                 : "r"(cr4)
                 : "memory");
    if (!ok) {
        printf("vmx: MOV to CR4 (%#lx, VMXE set) faults with vector %lu\n", cr4, vec);
        *fault_vector = (int)vec;
        return VMX_FAIL_INVALID;
    }
    write_cr0((read_cr0() | c->cr0_fixed0) & c->cr0_fixed1);
    *(volatile uint32_t *)region = c->revision;
    uint64_t pa = (uint64_t)(uintptr_t)region;
    uint64_t fl;
    int fvec = vmxon_faulting(&pa, &fl);
    if (fvec >= 0) {
        *fault_vector = fvec;
        return VMX_FAIL_INVALID;
    }
    return vmx_status_from_flags(fl);
}

enum vmx_status vmcs_init_and_load(void *vmcs)
{
    /* SDM 25.2: revision identifier in bits 30:0, bit 31 = 0 (ordinary VMCS). */
    *(volatile uint32_t *)vmcs = vmx_caps.revision;
    uint64_t pa = (uint64_t)(uintptr_t)vmcs;
    enum vmx_status st = vmclear(pa);
    if (st != VMX_OK) {
        vmx_print_status("VMCLEAR", st);
        return st;
    }
    st = vmptrld(pa);
    if (st != VMX_OK)
        vmx_print_status("VMPTRLD", st);
    return st;
}

static const char *const exit_names[] = {
    [0] = "exception or NMI", [1] = "external interrupt", [2] = "triple fault",
    [3] = "INIT", [4] = "SIPI", [5] = "I/O SMI", [6] = "other SMI",
    [7] = "interrupt window", [8] = "NMI window", [9] = "task switch", [10] = "CPUID",
    [11] = "GETSEC", [12] = "HLT", [13] = "INVD", [14] = "INVLPG", [15] = "RDPMC",
    [16] = "RDTSC", [17] = "RSM", [18] = "VMCALL", [19] = "VMCLEAR", [20] = "VMLAUNCH",
    [21] = "VMPTRLD", [22] = "VMPTRST", [23] = "VMREAD", [24] = "VMRESUME", [25] = "VMWRITE",
    [26] = "VMXOFF", [27] = "VMXON", [28] = "control-register access", [29] = "MOV DR",
    [30] = "I/O instruction", [31] = "RDMSR", [32] = "WRMSR",
    [33] = "VM-entry failure: invalid guest state", [34] = "VM-entry failure: MSR loading",
    [36] = "MWAIT", [37] = "monitor trap flag", [39] = "MONITOR", [40] = "PAUSE",
    [41] = "VM-entry failure: machine-check event", [43] = "TPR below threshold",
    [44] = "APIC access", [45] = "virtualized EOI", [46] = "GDTR/IDTR access",
    [47] = "LDTR/TR access", [48] = "EPT violation", [49] = "EPT misconfiguration",
    [50] = "INVEPT", [51] = "RDTSCP", [52] = "VMX-preemption timer expired", [53] = "INVVPID",
    [54] = "WBINVD", [55] = "XSETBV", [56] = "APIC write", [57] = "RDRAND", [58] = "INVPCID",
    [59] = "VMFUNC", [60] = "ENCLS", [61] = "RDSEED", [62] = "page-modification log full",
    [63] = "XSAVES", [64] = "XRSTORS",
};

const char *vmx_exit_reason_name(unsigned reason)
{
    reason &= 0xffff;
    if (reason < ARRAY_SIZE(exit_names) && exit_names[reason])
        return exit_names[reason];
    return "unknown";
}

static const char *const error_names[] = {
    [1] = "VMCALL executed in VMX root operation",
    [2] = "VMCLEAR with invalid physical address",
    [3] = "VMCLEAR with VMXON pointer",
    [4] = "VMLAUNCH with non-clear VMCS",
    [5] = "VMRESUME with non-launched VMCS",
    [6] = "VMRESUME after VMXOFF",
    [7] = "VM entry with invalid control field(s)",
    [8] = "VM entry with invalid host-state field(s)",
    [9] = "VMPTRLD with invalid physical address",
    [10] = "VMPTRLD with VMXON pointer",
    [11] = "VMPTRLD with incorrect VMCS revision identifier",
    [12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
    [13] = "VMWRITE to read-only VMCS component",
    [15] = "VMXON executed in VMX root operation",
    [16] = "VM entry with invalid executive-VMCS pointer",
    [17] = "VM entry with non-launched executive VMCS",
    [18] = "VM entry with executive-VMCS pointer not VMXON pointer",
    [19] = "VMCALL with non-clear VMCS",
    [20] = "VMCALL with invalid VM-exit control fields",
    [22] = "VMCALL with incorrect MSEG revision identifier",
    [23] = "VMXOFF under dual-monitor treatment",
    [24] = "VMCALL with invalid SMM-monitor features",
    [25] = "VM entry with invalid VM-execution control fields in executive VMCS",
    [26] = "VM entry with events blocked by MOV SS",
    [28] = "invalid operand to INVEPT/INVVPID",
};

const char *vmx_instruction_error_name(unsigned err)
{
    if (err < ARRAY_SIZE(error_names) && error_names[err])
        return error_names[err];
    return "unknown";
}

void vmx_print_status(const char *what, enum vmx_status st)
{
    if (st == VMX_FAIL_INVALID) {
        printf("vmx: %s: VMfailInvalid (CF=1)\n", what);
    } else if (st == VMX_FAIL_VALID) {
        uint64_t err = 0;
        vmread_status(VM_INSTRUCTION_ERROR, &err);
        printf("vmx: %s: VMfailValid (ZF=1), VM-instruction error %lu (%s)\n", what, err,
               vmx_instruction_error_name((unsigned)err));
    }
}
