/* exitbench: an L1 hypervisor that measures VM-exit round trips.
 * The host (VMX root) and the guest (VMX non-root, same binary, identity
 * EPT) share this header; the guest reads the shared variables directly. */
#ifndef EXITBENCH_H
#define EXITBENCH_H

#include "vmx.h"

/* Hypercalls: VMCALL with RAX = number; arguments in RBX, RCX, RDX, RSI, RDI;
 * result in RAX. */
enum hypercall {
    HC_NOP = 0,   /* the VMCALL measurement itself */
    HC_BEGIN = 1, /* RBX = op: configure the VMCS for it; RAX = 0 run, 1 skip */
    HC_START = 2, /* start the asynchronous exit source (timer) of the op */
    HC_END = 3,   /* RBX = op, RCX = cycles, RDX = samples, RSI = guest events, RDI = status */
    HC_DONE = 4,  /* the guest is finished: back to main() */
    HC_FAULT = 5, /* the guest took an unexpected vector: RBX = vector, RCX/RDX = stack words */
    HC_CHECK = 6, /* RBX = check id, RCX = 1 if it held, RDX = the value seen */
};

/* What the guest checks about its view of the machine (HC_CHECK). */
enum guest_check {
    CHECK_CR4_SHADOW, /* CR4 reads come from the read shadow: VMXE clear */
    CHECK_CR0_SHADOW, /* CR0 reads come from the read shadow (host-owned bits) */
    CHECK_CPUID_VMX,  /* CPUID.1 as emulated: VMX clear, hypervisor bit set */
    CHECK_COUNT
};
void report_guest_check(unsigned id, bool ok, uint64_t value);

/* Guest status codes passed with HC_END. */
enum guest_status { GS_OK = 0, GS_TIMEOUT = 1, GS_BAD_VALUE = 2, GS_TIMER_TOO_SHORT = 3 };

enum op_id {
    OP_CPUID,
    OP_VMCALL,
    OP_WRMSR,
    OP_RDMSR,
    OP_RDMSR_PASS,
    OP_IO_OUT,
    OP_IO_IN,
    OP_HLT,
    OP_HLT_TIMER,
    OP_EPT_MMIO,
    OP_EXTINT,
    OP_PREEMPT,
    OP_CR3,
    OP_INVLPG,
    OP_RDTSC,
    OP_IPI,
    OP_IPI_POSTED,
    OP_VMREAD,
    OP_VMREAD_SHADOW,
    OP_CPUID_NESTED,
    OP_CPUID_NESTED_NOSHADOW,
    OP_COUNT
};

struct op_desc {
    const char *name;    /* RESULT exit.<name>.* */
    const char *what;    /* table text */
    int exit_reason;     /* the exit being counted */
    bool expect_exits;   /* false: the operation must not exit (count 0) */
    bool expect_events;  /* the guest counts delivered interrupts too */
    int second_reason;   /* another exit expected once per operation, or -1 */
};
extern const struct op_desc ops[OP_COUNT];

struct op_result {
    bool begun, ended, skipped, failed;
    char note[96];           /* skip reason or failure explanation */
    uint64_t cycles, samples; /* guest TSC cycles over `samples` round trips */
    uint64_t exits;           /* exits with the op's reason during the phase */
    uint64_t second_exits;    /* exits with the op's second reason */
    uint64_t other_exits;     /* exits with other reasons (hypercalls excluded) */
    unsigned other_reason;    /* the last such reason */
    uint64_t guest_events;    /* interrupts the guest's handlers counted */
    uint64_t status;          /* enum guest_status */
};
extern struct op_result results[OP_COUNT];

/* Fixed choices shared by host and guest. */
#define BENCH_PORT 0x5e0           /* trapped through the I/O bitmap */
#define BENCH_PORT_IN_VALUE 0xa5
#define TRAPPED_MSR MSR_KERNEL_GS_BASE /* read and write intercepted */
#define PASSTHROUGH_MSR MSR_FS_BASE    /* read not intercepted */
#define MMIO_GPA 0xd0000000ul      /* its 2 MiB are absent from the EPT */
#define MMIO_READ_VALUE 0x5eed1234u
#define VEC_TIMER 0x50             /* physical APIC timer (extint) */
#define VEC_HLT_WAKE 0x60          /* injected after HLT */
#define VEC_POSTED 0x61            /* posted to the guest */
#define VEC_IPI 0x62               /* self-IPI, re-injected by the host */
#define VEC_PI_NOTIFY 0xf2         /* posted-interrupt notification vector */
/* The guest's VMREAD (what an L2 hypervisor does on each of its exits): the
 * field and the value the host's emulation, or the shadow VMCS, gives it. */
#define BENCH_VMCS_FIELD GUEST_RIP
#define BENCH_VMCS_VALUE 0x5eedc0de1234ull

/* What the host tells the guest (written before VMLAUNCH). */
struct guest_config {
    uint64_t iters;
    uint64_t apic_access_page; /* virtual EOI target in the posted phase */
    uint64_t pi_desc;          /* posted-interrupt descriptor */
    uint64_t spin_limit;       /* loop bound when waiting for an event */
    uint64_t cr0_shadow;       /* what a guest CR0 read must return */
    uint32_t timer_count;      /* APIC timer initial count (divide 1) */
};
extern struct guest_config guest_cfg;

/* Shared counters: the host counts the current op's exits, the guest's
 * interrupt handlers count deliveries. */
extern volatile uint64_t phase_exits;
extern volatile uint64_t guest_irq_count;

/* Guest registers as saved by the exit stub, indexed by the x86 register
 * number (RSP's slot is unused: GUEST_RSP is in the VMCS). Offsets are used
 * by entry.S. */
struct vcpu {
    uint64_t gpr[16];
    uint64_t launched;              /* offset 128: VMRESUME, not VMLAUNCH, next */
    int (*handler)(struct vcpu *);  /* offset 136: the exit handler the stub calls */
};
enum { R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI };

/* entry.S */
/* Enters the guest (VMLAUNCH, or VMRESUME once launched) and handles exits
 * in vmx_exit_handler() until it returns nonzero. Returns 0 then, or the
 * failing instruction: 1/2 VMLAUNCH VMfailInvalid/VMfailValid, 3/4 VMRESUME. */
int vmx_enter(struct vcpu *v);
void vmx_exit_stub(void);
extern uint64_t guest_vector_stubs[256];
void guest_isr_count(void);
void guest_isr_posted(void);
void guest_isr_posted_x2apic(void);
extern uint64_t guest_virtual_eoi_addr;

/* vmcs_setup.c */
struct hv {
    void *vmxon_region, *vmcs;
    uint8_t *msr_bitmap, *io_bitmap_a, *io_bitmap_b;
    uint8_t *guest_stack;
    uint64_t *guest_idt;
    uint64_t eptp;
    bool ept, vpid, io_bitmaps, msr_bitmaps, ack_on_exit;
    uint32_t pin, cpu, cpu2, exit, entry; /* the baseline controls */
    uint64_t *pi_desc;
    uint8_t *virt_apic_page, *apic_access_page;
    uint8_t *shadow_vmcs, *vmread_bitmap, *vmwrite_bitmap; /* VMCS shadowing */
    uint64_t kernel_gs_base_shadow; /* the trapped MSR's guest value */
    uint8_t bench_port_value;
    uint64_t mmio_value;
};
extern struct hv hv;
struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* LFENCE-bracketed RDTSC: what the guests time their loops with. */
static inline uint64_t gtsc(void)
{
    uint32_t lo, hi;
    asm volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Builds the whole VMCS: controls, host state, guest state. False on error. */
bool vmcs_setup(void (*guest_entry)(void));
void vmcs_write_host_state(uint32_t exit_controls);
void vmcs_write_plain_defaults(void);
/* A guest segment with a 4-GiB limit: selector, base and access rights as given. */
void vmcs_write_guest_segment(uint32_t sel_field, uint16_t sel, uint64_t base, uint32_t ar);
/* A shadow VMCS (revision identifier with bit 31 set, SDM 25.10), zeroed and VMCLEARed. */
bool vmcs_init_shadow(void *region);
/* VMCS shadowing's fields in the current VMCS: the bitmaps and the link pointer. */
void vmcs_link_shadow(const void *shadow, const void *vmread_bitmap, const void *vmwrite_bitmap);
void vmcs_write_guest_state(void (*entry)(void), uint64_t idt_base, uint16_t idt_limit,
                            uint64_t rsp, uint32_t entry_controls);
void vmcs_write_controls(uint32_t pin, uint32_t cpu, uint32_t cpu2);
void set_guest_gate(unsigned vec, uint64_t addr);

/* ept.c: identity EPT for 0..4 GiB with the 2 MiB at MMIO_GPA absent. */
uint64_t ept_build(bool use_2m, bool ad);
void ept_flush(void);

/* exits.c */
int vmx_exit_handler(struct vcpu *v);
extern bool hv_fatal;        /* a fatal exit stopped the guest */
extern bool expect_failure;  /* a broken VMCS on purpose: failures are not FAILs */
extern bool entry_is_launch; /* the pending VM entry is a VMLAUNCH */
extern uint32_t last_exit_reason;
extern uint64_t exit_counts[EXIT_REASON_MAX];
void advance_rip(void);
/* Completes an emulated VMX instruction: CF, PF, AF, ZF, SF, OF of the guest's RFLAGS as
 * VMsucceed (0) or VMfail (CF or ZF in `set_flags`) leave them (SDM 31.2), RIP past it. */
void vmx_instruction_done(uint64_t set_flags);
uint64_t get_gpr(struct vcpu *v, unsigned r);
void set_gpr(struct vcpu *v, unsigned r, uint64_t val);
void inject_ext_intr(uint8_t vector);

/* phases.c: per-op VMCS configuration and the asynchronous exit sources. */
int phase_begin(unsigned op, const char **why); /* 0 run, 1 skip */
void phase_start(unsigned op);
void phase_end(struct vcpu *v, unsigned op);
extern int current_op; /* -1 outside a phase */
extern uint64_t phase_total, phase_hypercalls; /* exits and control hypercalls in the phase */
extern uint64_t phase_second;                  /* exits of the op's second reason */
extern unsigned phase_other_reason;
/* Called on the op's own asynchronous exits (timer, preemption timer). */
void phase_async_exit(unsigned op);
void phase_ext_intr(uint8_t vector);

/* guest.c */
void guest_main(void);

/* Nested virtualization (cpuid_nested): the host is L0, its guest runs a
 * guest hypervisor L1 (nested_l1.c, in the same binary and memory) whose own
 * guest L2 executes CPUID. nested_l0.c gives L1 VMX: VMXON, VMCLEAR,
 * VMPTRLD, VMLAUNCH/VMRESUME and VMXOFF exit to L0 and are emulated; L1's
 * VMREAD/VMWRITE go to a shadow VMCS (its VMCS12) without exits. L0 runs L2
 * on VMCS02, merged from VMCS12 and its own VMCS, and reflects L2's exits to
 * L1 as VM exits of VMCS12. */
bool nested_in_l2(void);
/* L2 runs its measured loop: from L1's VMLAUNCH to L2's closing VMCALL. The
 * exits of L1's set-up and tear-down outside it are protocol, as hypercalls. */
bool nested_window(void);
/* An exit that belongs to the nested protocol rather than to the measured
 * round trip: the guest hypervisor's set-up and tear-down, and, without VMCS
 * shadowing, its VMREAD/VMWRITEs (counted apart). */
bool nested_protocol_exit(unsigned reason);
static inline bool nested_op(int op) { return op == OP_CPUID_NESTED || op == OP_CPUID_NESTED_NOSHADOW; }
int nested_l1_instruction(struct vcpu *v, unsigned reason); /* L1's VMX instructions */
int nested_l2_exit(struct vcpu *v, unsigned reason);        /* an exit of L2 (VMCS02) */
bool nested_cr4_write(uint64_t value);  /* L1 sets/clears CR4.VMXE: accepted? */
void nested_reset(void);                /* phase end: L0's own VMCS, no shadowing */
void nested_report(void);               /* RESULT lines of what the protocol counted */
/* nested_l1.c: L1's whole run, from VMXON to VMXOFF; n CPUIDs in L2. */
void l1_measure_nested_cpuid(uint64_t n, uint64_t *cycles, uint64_t *samples,
                             uint64_t *status);

#endif
