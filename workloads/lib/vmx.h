/* VMX for bare-metal hypervisor workloads: VMCS field encodings, control
 * bits, exit reasons (Intel SDM Vol. 3C chapters 24-28, 3D appendices A-C),
 * wrappers for the VMX instructions that return the VMsucceed/VMfail
 * outcome, and capability probing (vmx.c). */
#ifndef WL_VMX_H
#define WL_VMX_H

#include "runtime.h"

/* ---- capability and control MSRs (SDM Appendix A) ---- */
#define MSR_IA32_FEATURE_CONTROL 0x03a
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_PAT 0x277
#define MSR_IA32_VMX_BASIC 0x480
#define MSR_IA32_VMX_PINBASED_CTLS 0x481
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482
#define MSR_IA32_VMX_EXIT_CTLS 0x483
#define MSR_IA32_VMX_ENTRY_CTLS 0x484
#define MSR_IA32_VMX_MISC 0x485
#define MSR_IA32_VMX_CR0_FIXED0 0x486
#define MSR_IA32_VMX_CR0_FIXED1 0x487
#define MSR_IA32_VMX_CR4_FIXED0 0x488
#define MSR_IA32_VMX_CR4_FIXED1 0x489
#define MSR_IA32_VMX_VMCS_ENUM 0x48a
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48b
#define MSR_IA32_VMX_EPT_VPID_CAP 0x48c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x490

#define FEATURE_CONTROL_LOCK (1ull << 0)
#define FEATURE_CONTROL_VMX_INSIDE_SMX (1ull << 1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)

#define VMX_BASIC_32BIT_ADDRESSES (1ull << 48)
#define VMX_BASIC_TRUE_CTLS (1ull << 55)

/* IA32_VMX_EPT_VPID_CAP (SDM A.10) */
#define EPT_CAP_EXEC_ONLY (1ull << 0)
#define EPT_CAP_PWL4 (1ull << 6)
#define EPT_CAP_UC (1ull << 8)
#define EPT_CAP_WB (1ull << 14)
#define EPT_CAP_2M (1ull << 16)
#define EPT_CAP_1G (1ull << 17)
#define EPT_CAP_INVEPT (1ull << 20)
#define EPT_CAP_AD (1ull << 21)
#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define EPT_CAP_INVEPT_ALL (1ull << 26)
#define VPID_CAP_INVVPID (1ull << 32)
#define VPID_CAP_INVVPID_ADDR (1ull << 40)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)
#define VPID_CAP_INVVPID_ALL (1ull << 42)
#define VPID_CAP_INVVPID_SINGLE_NONGLOBAL (1ull << 43)

/* ---- VM-execution, exit and entry controls (SDM 25.6-25.8) ---- */
#define PIN_EXT_INTR_EXITING (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PIN_VIRTUAL_NMIS (1u << 5)
#define PIN_PREEMPTION_TIMER (1u << 6)
#define PIN_POSTED_INTR (1u << 7)

#define CPU_INTR_WINDOW_EXITING (1u << 2)
#define CPU_USE_TSC_OFFSETTING (1u << 3)
#define CPU_HLT_EXITING (1u << 7)
#define CPU_INVLPG_EXITING (1u << 9)
#define CPU_MWAIT_EXITING (1u << 10)
#define CPU_RDPMC_EXITING (1u << 11)
#define CPU_RDTSC_EXITING (1u << 12)
#define CPU_CR3_LOAD_EXITING (1u << 15)
#define CPU_CR3_STORE_EXITING (1u << 16)
#define CPU_CR8_LOAD_EXITING (1u << 19)
#define CPU_CR8_STORE_EXITING (1u << 20)
#define CPU_USE_TPR_SHADOW (1u << 21)
#define CPU_NMI_WINDOW_EXITING (1u << 22)
#define CPU_MOV_DR_EXITING (1u << 23)
#define CPU_UNCOND_IO_EXITING (1u << 24)
#define CPU_USE_IO_BITMAPS (1u << 25)
#define CPU_MONITOR_TRAP_FLAG (1u << 27)
#define CPU_USE_MSR_BITMAPS (1u << 28)
#define CPU_MONITOR_EXITING (1u << 29)
#define CPU_PAUSE_EXITING (1u << 30)
#define CPU_ACTIVATE_SECONDARY (1u << 31)

#define CPU2_VIRT_APIC_ACCESSES (1u << 0)
#define CPU2_ENABLE_EPT (1u << 1)
#define CPU2_DESC_TABLE_EXITING (1u << 2)
#define CPU2_ENABLE_RDTSCP (1u << 3)
#define CPU2_VIRT_X2APIC (1u << 4)
#define CPU2_ENABLE_VPID (1u << 5)
#define CPU2_WBINVD_EXITING (1u << 6)
#define CPU2_UNRESTRICTED_GUEST (1u << 7)
#define CPU2_APIC_REGISTER_VIRT (1u << 8)
#define CPU2_VIRT_INTR_DELIVERY (1u << 9)
#define CPU2_PAUSE_LOOP_EXITING (1u << 10)
#define CPU2_ENABLE_INVPCID (1u << 12)
#define CPU2_VMCS_SHADOWING (1u << 14)

#define EXIT_SAVE_DEBUG_CONTROLS (1u << 2)
#define EXIT_HOST_ADDR_SPACE_SIZE (1u << 9)
#define EXIT_ACK_INTR_ON_EXIT (1u << 15)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
#define EXIT_SAVE_PREEMPTION_TIMER (1u << 22)

#define ENTRY_LOAD_DEBUG_CONTROLS (1u << 2)
#define ENTRY_IA32E_MODE_GUEST (1u << 9)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* ---- VMCS field encodings (SDM Appendix B) ---- */
enum vmcs_field {
    VIRTUAL_PROCESSOR_ID = 0x0000,
    POSTED_INTR_NV = 0x0002,
    GUEST_ES_SELECTOR = 0x0800,
    GUEST_CS_SELECTOR = 0x0802,
    GUEST_SS_SELECTOR = 0x0804,
    GUEST_DS_SELECTOR = 0x0806,
    GUEST_FS_SELECTOR = 0x0808,
    GUEST_GS_SELECTOR = 0x080a,
    GUEST_LDTR_SELECTOR = 0x080c,
    GUEST_TR_SELECTOR = 0x080e,
    GUEST_INTR_STATUS = 0x0810,
    HOST_ES_SELECTOR = 0x0c00,
    HOST_CS_SELECTOR = 0x0c02,
    HOST_SS_SELECTOR = 0x0c04,
    HOST_DS_SELECTOR = 0x0c06,
    HOST_FS_SELECTOR = 0x0c08,
    HOST_GS_SELECTOR = 0x0c0a,
    HOST_TR_SELECTOR = 0x0c0c,
    IO_BITMAP_A = 0x2000,
    IO_BITMAP_B = 0x2002,
    MSR_BITMAP = 0x2004,
    VM_EXIT_MSR_STORE_ADDR = 0x2006,
    VM_EXIT_MSR_LOAD_ADDR = 0x2008,
    VM_ENTRY_MSR_LOAD_ADDR = 0x200a,
    TSC_OFFSET = 0x2010,
    VIRTUAL_APIC_PAGE_ADDR = 0x2012,
    APIC_ACCESS_ADDR = 0x2014,
    POSTED_INTR_DESC_ADDR = 0x2016,
    EPT_POINTER = 0x201a,
    EOI_EXIT_BITMAP0 = 0x201c,
    EOI_EXIT_BITMAP1 = 0x201e,
    EOI_EXIT_BITMAP2 = 0x2020,
    EOI_EXIT_BITMAP3 = 0x2022,
    VMREAD_BITMAP = 0x2026,
    VMWRITE_BITMAP = 0x2028,
    GUEST_PHYSICAL_ADDRESS = 0x2400,
    VMCS_LINK_POINTER = 0x2800,
    GUEST_IA32_DEBUGCTL = 0x2802,
    GUEST_IA32_PAT = 0x2804,
    GUEST_IA32_EFER = 0x2806,
    HOST_IA32_PAT = 0x2c00,
    HOST_IA32_EFER = 0x2c02,
    PIN_BASED_VM_EXEC_CONTROL = 0x4000,
    CPU_BASED_VM_EXEC_CONTROL = 0x4002,
    EXCEPTION_BITMAP = 0x4004,
    PAGE_FAULT_ERROR_CODE_MASK = 0x4006,
    PAGE_FAULT_ERROR_CODE_MATCH = 0x4008,
    CR3_TARGET_COUNT = 0x400a,
    VM_EXIT_CONTROLS = 0x400c,
    VM_EXIT_MSR_STORE_COUNT = 0x400e,
    VM_EXIT_MSR_LOAD_COUNT = 0x4010,
    VM_ENTRY_CONTROLS = 0x4012,
    VM_ENTRY_MSR_LOAD_COUNT = 0x4014,
    VM_ENTRY_INTR_INFO = 0x4016,
    VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018,
    VM_ENTRY_INSTRUCTION_LEN = 0x401a,
    TPR_THRESHOLD = 0x401c,
    SECONDARY_VM_EXEC_CONTROL = 0x401e,
    VM_INSTRUCTION_ERROR = 0x4400,
    VM_EXIT_REASON = 0x4402,
    VM_EXIT_INTR_INFO = 0x4404,
    VM_EXIT_INTR_ERROR_CODE = 0x4406,
    IDT_VECTORING_INFO = 0x4408,
    IDT_VECTORING_ERROR_CODE = 0x440a,
    VM_EXIT_INSTRUCTION_LEN = 0x440c,
    VMX_INSTRUCTION_INFO = 0x440e,
    GUEST_ES_LIMIT = 0x4800,
    GUEST_CS_LIMIT = 0x4802,
    GUEST_SS_LIMIT = 0x4804,
    GUEST_DS_LIMIT = 0x4806,
    GUEST_FS_LIMIT = 0x4808,
    GUEST_GS_LIMIT = 0x480a,
    GUEST_LDTR_LIMIT = 0x480c,
    GUEST_TR_LIMIT = 0x480e,
    GUEST_GDTR_LIMIT = 0x4810,
    GUEST_IDTR_LIMIT = 0x4812,
    GUEST_ES_AR_BYTES = 0x4814,
    GUEST_CS_AR_BYTES = 0x4816,
    GUEST_SS_AR_BYTES = 0x4818,
    GUEST_DS_AR_BYTES = 0x481a,
    GUEST_FS_AR_BYTES = 0x481c,
    GUEST_GS_AR_BYTES = 0x481e,
    GUEST_LDTR_AR_BYTES = 0x4820,
    GUEST_TR_AR_BYTES = 0x4822,
    GUEST_INTERRUPTIBILITY_INFO = 0x4824,
    GUEST_ACTIVITY_STATE = 0x4826,
    GUEST_SYSENTER_CS = 0x482a,
    VMX_PREEMPTION_TIMER_VALUE = 0x482e,
    HOST_IA32_SYSENTER_CS = 0x4c00,
    CR0_GUEST_HOST_MASK = 0x6000,
    CR4_GUEST_HOST_MASK = 0x6002,
    CR0_READ_SHADOW = 0x6004,
    CR4_READ_SHADOW = 0x6006,
    EXIT_QUALIFICATION = 0x6400,
    GUEST_LINEAR_ADDRESS = 0x640a,
    GUEST_CR0 = 0x6800,
    GUEST_CR3 = 0x6802,
    GUEST_CR4 = 0x6804,
    GUEST_ES_BASE = 0x6806,
    GUEST_CS_BASE = 0x6808,
    GUEST_SS_BASE = 0x680a,
    GUEST_DS_BASE = 0x680c,
    GUEST_FS_BASE = 0x680e,
    GUEST_GS_BASE = 0x6810,
    GUEST_LDTR_BASE = 0x6812,
    GUEST_TR_BASE = 0x6814,
    GUEST_GDTR_BASE = 0x6816,
    GUEST_IDTR_BASE = 0x6818,
    GUEST_DR7 = 0x681a,
    GUEST_RSP = 0x681c,
    GUEST_RIP = 0x681e,
    GUEST_RFLAGS = 0x6820,
    GUEST_PENDING_DBG_EXCEPTIONS = 0x6822,
    GUEST_SYSENTER_ESP = 0x6824,
    GUEST_SYSENTER_EIP = 0x6826,
    HOST_CR0 = 0x6c00,
    HOST_CR3 = 0x6c02,
    HOST_CR4 = 0x6c04,
    HOST_FS_BASE = 0x6c06,
    HOST_GS_BASE = 0x6c08,
    HOST_TR_BASE = 0x6c0a,
    HOST_GDTR_BASE = 0x6c0c,
    HOST_IDTR_BASE = 0x6c0e,
    HOST_IA32_SYSENTER_ESP = 0x6c10,
    HOST_IA32_SYSENTER_EIP = 0x6c12,
    HOST_RSP = 0x6c14,
    HOST_RIP = 0x6c16,
};

/* ---- basic exit reasons (SDM Appendix C) ---- */
enum exit_reason {
    EXIT_REASON_EXCEPTION_NMI = 0,
    EXIT_REASON_EXTERNAL_INTERRUPT = 1,
    EXIT_REASON_TRIPLE_FAULT = 2,
    EXIT_REASON_INTERRUPT_WINDOW = 7,
    EXIT_REASON_CPUID = 10,
    EXIT_REASON_HLT = 12,
    EXIT_REASON_INVLPG = 14,
    EXIT_REASON_RDTSC = 16,
    EXIT_REASON_VMCALL = 18,
    EXIT_REASON_VMCLEAR = 19,
    EXIT_REASON_VMLAUNCH = 20,
    EXIT_REASON_VMPTRLD = 21,
    EXIT_REASON_VMREAD = 23,
    EXIT_REASON_VMRESUME = 24,
    EXIT_REASON_VMWRITE = 25,
    EXIT_REASON_VMXOFF = 26,
    EXIT_REASON_VMXON = 27,
    EXIT_REASON_CR_ACCESS = 28,
    EXIT_REASON_IO_INSTRUCTION = 30,
    EXIT_REASON_MSR_READ = 31,
    EXIT_REASON_MSR_WRITE = 32,
    EXIT_REASON_INVALID_GUEST_STATE = 33,
    EXIT_REASON_MSR_LOADING = 34,
    EXIT_REASON_MACHINE_CHECK = 41,
    EXIT_REASON_APIC_ACCESS = 44,
    EXIT_REASON_VIRTUALIZED_EOI = 45,
    EXIT_REASON_EPT_VIOLATION = 48,
    EXIT_REASON_EPT_MISCONFIG = 49,
    EXIT_REASON_PREEMPTION_TIMER = 52,
    EXIT_REASON_APIC_WRITE = 56,
    EXIT_REASON_MAX = 80,
};
#define EXIT_REASON_FAILED_ENTRY (1u << 31)

/* Interruption-information fields (SDM 25.8.3, 25.9.2). */
#define INTR_INFO_VECTOR_MASK 0xffu
#define INTR_INFO_TYPE_SHIFT 8
#define INTR_TYPE_EXT_INTR (0u << 8)
#define INTR_TYPE_NMI (2u << 8)
#define INTR_TYPE_HARD_EXCEPTION (3u << 8)
#define INTR_TYPE_SOFT_INTR (4u << 8)
#define INTR_TYPE_SOFT_EXCEPTION (6u << 8)
#define INTR_INFO_DELIVER_CODE (1u << 11)
#define INTR_INFO_VALID (1u << 31)

/* Guest interruptibility state (SDM 25.4.2 Table 25-3). */
#define GUEST_INTR_STATE_STI (1u << 0)
#define GUEST_INTR_STATE_MOV_SS (1u << 1)

/* Segment access rights as in the VMCS (SDM 25.4.1 Table 25-2). */
#define AR_UNUSABLE (1u << 16)

/* EPT entries (SDM 29.3.2). */
#define EPT_R (1ull << 0)
#define EPT_W (1ull << 1)
#define EPT_X (1ull << 2)
#define EPT_RWX (EPT_R | EPT_W | EPT_X)
#define EPT_MT_SHIFT 3
#define EPT_MT_UC 0ull
#define EPT_MT_WB 6ull
#define EPT_LARGE (1ull << 7)
#define EPTP_MT_UC 0ull
#define EPTP_MT_WB 6ull
#define EPTP_PWL4 (3ull << 3)
#define EPTP_AD (1ull << 6)

/* INVEPT/INVVPID types (SDM 31.3). */
#define INVEPT_SINGLE 1
#define INVEPT_ALL 2
#define INVVPID_ADDR 0
#define INVVPID_SINGLE 1
#define INVVPID_ALL 2
#define INVVPID_SINGLE_NONGLOBAL 3

/* ---- VMX instruction wrappers ----
 * Each returns the outcome (SDM 31.2): VMX_OK, VMX_FAIL_INVALID (CF=1,
 * no current VMCS) or VMX_FAIL_VALID (ZF=1, error number in
 * VM_INSTRUCTION_ERROR). A fault (#UD, #GP) is not caught here. */
enum vmx_status { VMX_OK = 0, VMX_FAIL_INVALID = 1, VMX_FAIL_VALID = 2 };

static inline enum vmx_status vmx_status_from_flags(uint64_t rflags)
{
    if (rflags & RFLAGS_CF)
        return VMX_FAIL_INVALID;
    if (rflags & RFLAGS_ZF)
        return VMX_FAIL_VALID;
    return VMX_OK;
}

static inline enum vmx_status vmxon(uint64_t pa)
{
    uint64_t fl;
    asm volatile("vmxon %1; pushfq; popq %0" : "=r"(fl) : "m"(pa) : "cc", "memory");
    return vmx_status_from_flags(fl);
}
static inline enum vmx_status vmxoff(void)
{
    uint64_t fl;
    asm volatile("vmxoff; pushfq; popq %0" : "=r"(fl)::"cc", "memory");
    return vmx_status_from_flags(fl);
}
static inline enum vmx_status vmclear(uint64_t pa)
{
    uint64_t fl;
    asm volatile("vmclear %1; pushfq; popq %0" : "=r"(fl) : "m"(pa) : "cc", "memory");
    return vmx_status_from_flags(fl);
}
static inline enum vmx_status vmptrld(uint64_t pa)
{
    uint64_t fl;
    asm volatile("vmptrld %1; pushfq; popq %0" : "=r"(fl) : "m"(pa) : "cc", "memory");
    return vmx_status_from_flags(fl);
}
static inline enum vmx_status vmptrst(uint64_t *pa)
{
    uint64_t fl;
    asm volatile("vmptrst %1; pushfq; popq %0" : "=r"(fl), "=m"(*pa)::"cc", "memory");
    return vmx_status_from_flags(fl);
}
static inline enum vmx_status vmwrite_status(uint64_t field, uint64_t value)
{
    uint64_t fl;
    asm volatile("vmwrite %2, %1; pushfq; popq %0" : "=r"(fl) : "r"(field), "rm"(value)
                 : "cc", "memory");
    return vmx_status_from_flags(fl);
}
static inline enum vmx_status vmread_status(uint64_t field, uint64_t *value)
{
    uint64_t fl, v = 0;
    asm volatile("vmread %2, %1; pushfq; popq %0" : "=r"(fl), "=r"(v) : "r"(field)
                 : "cc", "memory");
    *value = v;
    return vmx_status_from_flags(fl);
}
struct invept_desc {
    uint64_t eptp, reserved;
};
struct invvpid_desc {
    uint64_t vpid; /* bits 15:0; the rest must be 0 */
    uint64_t gla;
};
static inline enum vmx_status invept(uint64_t type, uint64_t eptp)
{
    struct invept_desc d = {eptp, 0};
    uint64_t fl;
    asm volatile("invept %1, %2; pushfq; popq %0" : "=r"(fl) : "m"(d), "r"(type)
                 : "cc", "memory");
    return vmx_status_from_flags(fl);
}
static inline enum vmx_status invvpid(uint64_t type, uint16_t vpid, uint64_t gla)
{
    struct invvpid_desc d = {vpid, gla};
    uint64_t fl;
    asm volatile("invvpid %1, %2; pushfq; popq %0" : "=r"(fl) : "m"(d), "r"(type)
                 : "cc", "memory");
    return vmx_status_from_flags(fl);
}

/* VMWRITE/VMREAD that report a failure (field name, status, VM-instruction
 * error) on the console and count it in vmx_errors; the hypervisor checks
 * vmx_errors after setting up a VMCS. */
extern volatile uint32_t vmx_errors;
void vmwrite(uint32_t field, uint64_t value);
uint64_t vmread(uint32_t field);

/* ---- capabilities (vmx.c) ---- */
struct vmx_ctl {
    uint32_t allowed0; /* bits that must be 1 */
    uint32_t allowed1; /* bits that may be 1 */
};
struct vmx_caps {
    bool cpuid_vmx;        /* CPUID.1:ECX.VMX[bit 5] */
    bool feature_control_ok;
    uint64_t feature_control;
    uint64_t basic, misc, ept_vpid;
    uint32_t revision;
    bool true_ctls;
    struct vmx_ctl pin, cpu, cpu2, exit, entry;
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    unsigned preemption_timer_shift; /* timer ticks every 2^shift TSC cycles */
};
extern struct vmx_caps vmx_caps;

/* Fills vmx_caps. Returns false (with the reason in *why) when VMX cannot be
 * used: not advertised, disabled and locked in IA32_FEATURE_CONTROL, or a
 * capability MSR faulting. Sets IA32_FEATURE_CONTROL lock + VMX-outside-SMX
 * when it is still unlocked. */
bool vmx_probe(const char **why);
void vmx_print_caps(void);

/* "desired bits adjusted by allowed-0/allowed-1": (desired | allowed0) & allowed1. */
static inline uint32_t vmx_adjust(const struct vmx_ctl *c, uint32_t desired)
{
    return (desired | c->allowed0) & c->allowed1;
}
static inline bool vmx_allowed(const struct vmx_ctl *c, uint32_t bits)
{
    return (c->allowed1 & bits) == bits;
}
/* Secondary controls exist only if the primary "activate secondary controls"
 * may be 1; their allowed-0 half is always 0 (SDM A.3.3). */
bool vmx_has_cpu2(uint32_t bits);

/* Sets CR4.VMXE and the CR0/CR4 fixed bits, writes the revision id into
 * `region` (4 KiB, page aligned) and executes VMXON. Returns the status; a
 * fault (#UD/#GP) gives VMX_FAIL_INVALID and sets *fault_vector. */
enum vmx_status vmx_on(void *region, int *fault_vector);
/* Writes the revision id into `vmcs`, then VMCLEAR and VMPTRLD. */
enum vmx_status vmcs_init_and_load(void *vmcs);

const char *vmx_exit_reason_name(unsigned reason);
const char *vmx_instruction_error_name(unsigned err);
/* Prints "what: VMfailInvalid" or "what: VMfailValid, VM-instruction error N (name)". */
void vmx_print_status(const char *what, enum vmx_status st);

/* An MSR read that survives #GP: returns false if RDMSR faulted. */
bool rdmsr_safe(uint32_t msr, uint64_t *value);
bool wrmsr_safe(uint32_t msr, uint64_t value);

#endif
