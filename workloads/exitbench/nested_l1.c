/* The guest hypervisor L1 of the cpuid_nested operation, and its guest L2.
 *
 * L1 runs in exitbench's guest (VMX non-root, same binary and memory: it
 * reuses the capabilities the host probed and the host's VMCS-writing
 * helpers). It does what any hypervisor does: sets CR4.VMXE, VMXON, VMCLEAR
 * and VMPTRLD of its VMCS, VMWRITEs controls, host state and L2's guest
 * state, VMLAUNCH; its exit handler emulates L2's CPUID from its own
 * table and VMRESUMEs. L2 times n CPUIDs and reports with a VMCALL, which
 * ends L1's run; L1 then leaves VMX operation. Each of its VMX instructions
 * but VMREAD/VMWRITE exits to L0 (nested_l0.c). */
#include "exitbench.h"

enum { RESUME = 0, STOP = 1 };

static struct vcpu l1_vcpu;     /* L2's registers while L1 handles its exits */
/* L1 answers CPUID from its own table, as hypervisors that present their
 * own vendor do: leaf 0 says "exitbench-L1" (EBX, EDX, ECX) and maximum
 * leaf 1. (Executing CPUID itself would be one more exit to L0.) */
static const uint32_t cpuid_leaf0[4] = {1, 0x74697865 /* exit */, 0x314c2d68 /* h-L1 */,
                                        0x636e6562 /* benc */};
static uint64_t l2_iters, l2_cycles, l2_samples, l2_bad;
static unsigned l1_unexpected;  /* an L2 exit L1 did not expect (0: none) */

/* L2: n CPUIDs, then a VMCALL to L1 with the cycles and the count. */
static void l2_main(void)
{
    uint64_t n = l2_iters, bad = 0;
    uint64_t t0 = gtsc();
    for (uint64_t i = 0; i < n; i++) {
        uint32_t a = 0, b, c = 0, d;
        asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d)::"memory");
        bad |= (a ^ cpuid_leaf0[0]) | (b ^ cpuid_leaf0[1]) | (c ^ cpuid_leaf0[2]) |
               (d ^ cpuid_leaf0[3]);
    }
    uint64_t cycles = gtsc() - t0;
    asm volatile("vmcall" ::"a"(0ull), "b"(cycles), "c"(n), "d"(bad) : "memory");
    for (;;)
        asm volatile("vmcall" ::"a"(1ull) : "memory"); /* never resumed */
}

static int l1_exit_handler(struct vcpu *v)
{
    uint32_t reason = (uint32_t)vmread(VM_EXIT_REASON) & 0xffff;
    switch (reason) {
    case EXIT_REASON_CPUID:
        v->gpr[R_RAX] = cpuid_leaf0[0];
        v->gpr[R_RBX] = cpuid_leaf0[1];
        v->gpr[R_RCX] = cpuid_leaf0[2];
        v->gpr[R_RDX] = cpuid_leaf0[3];
        vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(VM_EXIT_INSTRUCTION_LEN));
        return RESUME;
    case EXIT_REASON_VMCALL:
        l2_cycles = v->gpr[R_RBX];
        l2_samples = v->gpr[R_RCX];
        l2_bad = v->gpr[R_RDX];
        return STOP;
    default:
        l1_unexpected = reason ? reason : 0xffff;
        return STOP;
    }
}

/* L1's VMCS for L2: the controls' allowed-0 bits and a 64-bit guest on L1's
 * page tables, GDT and IDT with a stack of its own. */
static void l1_write_vmcs(uint8_t *l2_stack)
{
    const struct vmx_caps *c = &vmx_caps;
    uint32_t exit = vmx_adjust(&c->exit, EXIT_HOST_ADDR_SPACE_SIZE);
    uint32_t entry = vmx_adjust(&c->entry, ENTRY_IA32E_MODE_GUEST);
    vmwrite(PIN_BASED_VM_EXEC_CONTROL, vmx_adjust(&c->pin, 0));
    vmwrite(CPU_BASED_VM_EXEC_CONTROL, vmx_adjust(&c->cpu, 0) & ~CPU_ACTIVATE_SECONDARY);
    vmwrite(VM_EXIT_CONTROLS, exit);
    vmwrite(VM_ENTRY_CONTROLS, entry);
    vmwrite(EXCEPTION_BITMAP, 0);
    vmwrite(CR0_GUEST_HOST_MASK, 0);
    vmwrite(CR4_GUEST_HOST_MASK, 0);
    vmcs_write_plain_defaults();
    vmcs_write_host_state(exit);
    struct desc_ptr idtr;
    asm volatile("sidt %0" : "=m"(idtr));
    vmcs_write_guest_state(l2_main, idtr.base, idtr.limit,
                           (uint64_t)(uintptr_t)(l2_stack + PAGE_SIZE) - 8, entry);
}

void l1_measure_nested_cpuid(uint64_t n, uint64_t *cycles, uint64_t *samples, uint64_t *status)
{
    static uint8_t *vmxon_region, *vmcs12, *l2_stack;
    if (!vmxon_region) {
        vmxon_region = alloc_page();
        vmcs12 = alloc_page();
        l2_stack = alloc_page();
    }
    l2_iters = n;
    l2_cycles = l2_samples = 0;
    l2_bad = ~0ull;
    l1_unexpected = 0;
    *status = GS_BAD_VALUE;

    uint32_t revision = (uint32_t)rdmsr(MSR_IA32_VMX_BASIC) & 0x7fffffffu;
    *(volatile uint32_t *)vmxon_region = revision;
    *(volatile uint32_t *)vmcs12 = revision;
    write_cr4(read_cr4() | CR4_VMXE);
    if (vmxon((uint64_t)(uintptr_t)vmxon_region) != VMX_OK ||
        vmclear((uint64_t)(uintptr_t)vmcs12) != VMX_OK ||
        vmptrld((uint64_t)(uintptr_t)vmcs12) != VMX_OK)
        return;
    l1_write_vmcs(l2_stack);
    l1_vcpu = (struct vcpu){.handler = l1_exit_handler};
    int e = vmx_enter(&l1_vcpu);
    vmclear((uint64_t)(uintptr_t)vmcs12);
    vmxoff();
    write_cr4(read_cr4() & ~CR4_VMXE);
    if (e == 0 && !l1_unexpected && l2_samples == n && !l2_bad) {
        *cycles = l2_cycles;
        *samples = l2_samples;
        *status = GS_OK;
    }
}
