/* exitbench: a real L1 hypervisor that measures the round trip of each kind
 * of VM exit from inside its guest. Probes VMX (SDM Vol. 3C chapter 24 and
 * Appendix A), enters VMX operation, builds one VMCS with EPT and VPID, runs
 * the guest (guest.c) and reports one RESULT pair per operation:
 *   RESULT exit.<name>.cycles=<average round trip, TSC cycles>
 *   RESULT exit.<name>.count=<exits the host counted>
 * Options: iters=N (default 1000), timer_count=N (APIC timer initial count
 * for the timer tests), preempt_cycles=N (VMX-preemption timer period in TSC
 * cycles), spin_limit=N (guest wait bound), only=name[,name...] (run just
 * those operations); no_ack, no_io_bitmap,
 * no_msr_bitmap, no_ept, ept_4k, no_ept_ad, no_vpid and posted_x2apic use the
 * fallback a processor without that feature gets; break=control|host|guest
 * makes the first VM entry fail on purpose.
 */
#include "exitbench.h"

static void report_vmx_unavailable(const char *why)
{
    printf("exitbench: VMX unavailable: %s\n", why);
    for (unsigned op = 0; op < OP_COUNT; op++) {
        char name[64];
        snprintf(name, sizeof(name), "exit.%s", ops[op].name);
        report_skip(name, why);
    }
}

static const char *enter_failure_name(int r)
{
    switch (r) {
    case 1: return "VMLAUNCH: VMfailInvalid";
    case 2: return "VMLAUNCH: VMfailValid";
    case 3: return "VMRESUME: VMfailInvalid";
    case 4: return "VMRESUME: VMfailValid";
    case 5: return "VMWRITE HOST_RSP failed";
    default: return "?";
    }
}

static void print_entry_failure(int r)
{
    printf("%s: %s", expect_failure ? "exitbench (expected)" : "FAIL: exitbench",
           enter_failure_name(r));
    if (r == 2 || r == 4) {
        uint64_t err = vmread(VM_INSTRUCTION_ERROR);
        printf(", VM-instruction error %lu (%s)", err, vmx_instruction_error_name((unsigned)err));
    }
    printf("\n");
    printf("  pin %#lx cpu %#lx cpu2 %#lx exit %#lx entry %#lx, entry interruption info %#lx\n",
           vmread(PIN_BASED_VM_EXEC_CONTROL), vmread(CPU_BASED_VM_EXEC_CONTROL),
           (vmx_caps.cpu.allowed1 & CPU_ACTIVATE_SECONDARY) ? vmread(SECONDARY_VM_EXEC_CONTROL)
                                                            : 0,
           vmread(VM_EXIT_CONTROLS), vmread(VM_ENTRY_CONTROLS), vmread(VM_ENTRY_INTR_INFO));
    if (current_op >= 0)
        snprintf(results[current_op].note, sizeof(results[current_op].note), "%s",
                 enter_failure_name(r));
}

void report_guest_check(unsigned id, bool ok, uint64_t value)
{
    static const char *const names[CHECK_COUNT] = {
        [CHECK_CR4_SHADOW] = "guest reads CR4 through the read shadow (VMXE clear)",
        [CHECK_CR0_SHADOW] = "guest reads CR0 through the read shadow (NE clear)",
        [CHECK_CPUID_VMX] = "guest CPUID.1:ECX as emulated (VMX clear, hypervisor bit set)",
    };
    if (id >= CHECK_COUNT)
        return;
    if (!ok)
        printf("exitbench: the guest saw %#lx\n", value);
    report(names[id], ok);
}

static uint64_t expected_count(unsigned op, uint64_t iters)
{
    return ops[op].expect_exits ? iters : 0;
}

static const char *status_text(uint64_t s)
{
    switch (s) {
    case GS_OK: return "ok";
    case GS_TIMEOUT: return "guest timed out waiting";
    case GS_BAD_VALUE: return "wrong value read";
    case GS_TIMER_TOO_SHORT: return "timer period under 1000 TSC cycles: raise timer_count";
    default: return "?";
    }
}

/* Decides PASS/FAIL for one op, prints its RESULT lines and the verdict. */
static void report_op(unsigned op, uint64_t iters)
{
    const struct op_desc *d = &ops[op];
    struct op_result *r = &results[op];
    char key[64];
    snprintf(key, sizeof(key), "exit.%s", d->name);
    if (r->skipped) {
        report_skip(key, r->note);
        return;
    }
    if (!r->ended) {
        reportf(false, "%s (not completed%s%s)", key, r->note[0] ? ": " : "", r->note);
        return;
    }
    uint64_t avg = r->samples ? r->cycles / r->samples : 0;
    char k[96];
    snprintf(k, sizeof(k), "%s.cycles", key);
    result(k, avg);
    snprintf(k, sizeof(k), "%s.count", key);
    result(k, r->exits);
    uint64_t want = expected_count(op, iters);
    bool second_ok = d->second_reason < 0 || r->second_exits == iters;
    bool ok = r->exits == want && r->status == GS_OK && r->other_exits == 0 && second_ok &&
              (!d->expect_events || r->guest_events == iters);
    if (ok) {
        reportf(true, "%s (%lu exits)", key, r->exits);
        return;
    }
    char why[160];
    int n = snprintf(why, sizeof(why), "%lu exits of reason %d, expected %lu", r->exits,
                     d->exit_reason, want);
    if (!second_ok)
        n += snprintf(why + n, sizeof(why) - n, "; %lu exits of reason %d, expected %lu",
                      r->second_exits, d->second_reason, iters);
    if (r->other_exits)
        n += snprintf(why + n, sizeof(why) - n, "; %lu other exits (last reason %u, %s)",
                      r->other_exits, r->other_reason, vmx_exit_reason_name(r->other_reason));
    if (d->expect_events && r->guest_events != iters)
        n += snprintf(why + n, sizeof(why) - n, "; guest got %lu interrupts", r->guest_events);
    if (r->status != GS_OK)
        snprintf(why + n, sizeof(why) - n, "; %s", status_text(r->status));
    reportf(false, "%s (%s)", key, why);
}

static void print_table(uint64_t iters)
{
    printf("\n%-18s %-38s %10s %10s %12s\n", "operation", "what", "exits", "expected",
           "cycles/op");
    for (unsigned op = 0; op < OP_COUNT; op++) {
        const struct op_result *r = &results[op];
        if (r->skipped) {
            printf("%-18s %-38s %10s %10s %12s  (%s)\n", ops[op].name, ops[op].what, "-", "-",
                   "SKIP", r->note);
        } else if (!r->ended) {
            printf("%-18s %-38s %10s %10s %12s\n", ops[op].name, ops[op].what, "-", "-",
                   "not run");
        } else {
            printf("%-18s %-38s %10lu %10lu %12lu\n", ops[op].name, ops[op].what, r->exits,
                   expected_count(op, iters), r->samples ? r->cycles / r->samples : 0);
        }
    }
    printf("\n");
}

/* break=control|host|guest spoils one VMCS field on purpose: the first VM
 * entry must then fail as the SDM says (VMfailValid with VM-instruction error
 * 7 or 8, SDM 27.2; or a VM exit with reason 33 and bit 31 set after the
 * guest-state checks, SDM 27.3 and 27.8, leaving the VMCS clear). The field
 * is then repaired and the run goes on with a new VMLAUNCH. */
struct breakage {
    const char *name;
    uint32_t field;
    uint64_t good, bad;
    int want_enter;          /* vmx_enter() result */
    uint32_t want_error;     /* VM-instruction error, or the exit reason */
};

static bool break_vmcs_on_request(struct breakage *b)
{
    char what[16];
    if (!cmdline_get_str("break", what, sizeof(what)))
        return false;
    b->name = "";
    if (!strcmp(what, "control")) {
        /* Pin-based controls 0: the allowed-0 (default-1) bits are cleared. */
        *b = (struct breakage){"control: pin-based controls 0", PIN_BASED_VM_EXEC_CONTROL,
                               vmread(PIN_BASED_VM_EXEC_CONTROL), 0, 2, 7};
    } else if (!strcmp(what, "host")) {
        *b = (struct breakage){"host: HOST_CR4 without VMXE", HOST_CR4, vmread(HOST_CR4),
                               vmread(HOST_CR4) & ~CR4_VMXE, 2, 8};
    } else if (!strcmp(what, "guest")) {
        *b = (struct breakage){"guest: GUEST_CR4 without VMXE", GUEST_CR4, vmread(GUEST_CR4),
                               vmread(GUEST_CR4) & ~CR4_VMXE, 0,
                               EXIT_REASON_FAILED_ENTRY | EXIT_REASON_INVALID_GUEST_STATE};
    } else {
        printf("exitbench: unknown break=%s (control, host or guest)\n", what);
        return false;
    }
    printf("exitbench: break=%s\n", b->name);
    vmwrite(b->field, b->bad);
    return true;
}

/* Runs the spoiled entry, checks how it failed, repairs the field. */
static void run_broken_entry(struct vcpu *v, const struct breakage *b)
{
    expect_failure = true;
    entry_is_launch = true;
    int r = vmx_enter(v);
    if (r != 0)
        print_entry_failure(r);
    bool ok;
    if (b->want_enter == 2) {
        uint64_t err = vmread(VM_INSTRUCTION_ERROR);
        ok = r == 2 && err == b->want_error;
        if (!ok)
            printf("exitbench: wanted VMLAUNCH VMfailValid with error %u, got result %d (%s), "
                   "error %lu\n", b->want_error, r, r ? enter_failure_name(r) : "an exit", err);
    } else {
        ok = r == 0 && last_exit_reason == b->want_error && !v->launched;
        if (!ok)
            printf("exitbench: wanted exit reason %#x with the VMCS left clear, got result %d, "
                   "exit reason %#x, launched %lu\n", b->want_error, r, last_exit_reason,
                   v->launched);
    }
    reportf(ok, "break=%s: VM entry fails as the SDM says", b->name);
    vmwrite(b->field, b->good);
    expect_failure = false;
    hv_fatal = false;
    v->launched = 0; /* a failed VM entry leaves the VMCS clear: VMLAUNCH again */
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    uint64_t iters = cmdline_get("iters", 1000);
    if (iters == 0)
        iters = 1;
    guest_cfg.iters = iters;
    guest_cfg.spin_limit = cmdline_get("spin_limit", 10000000);
    guest_cfg.timer_count = (uint32_t)cmdline_get("timer_count", 2000);
    printf("exitbench: iters=%lu\n", iters);

    const char *why = NULL;
    if (!vmx_probe(&why)) {
        report_vmx_unavailable(why);
        return summary();
    }
    vmx_print_caps();
    apic_enable();

    hv.vmxon_region = alloc_page();
    int fault = -1;
    enum vmx_status st = vmx_on(hv.vmxon_region, &fault);
    if (fault >= 0) {
        printf("exitbench: VMXON faulted with %s (vector %d)\n", exception_name(fault), fault);
        report("vmxon", false);
        return summary();
    }
    if (st != VMX_OK) {
        vmx_print_status("VMXON", st);
        report("vmxon", false);
        return summary();
    }
    report("vmxon", true);

    hv.vmcs = alloc_page();
    if (vmcs_init_and_load(hv.vmcs) != VMX_OK) {
        report("vmclear+vmptrld", false);
        return summary();
    }
    uint64_t cur = 0;
    vmptrst(&cur);
    report("vmclear+vmptrld (VMPTRST gives the VMCS)", cur == (uint64_t)(uintptr_t)hv.vmcs);

    if (!report("vmcs setup (every VMWRITE succeeded)", vmcs_setup(guest_main)))
        return summary();

    static struct vcpu vcpu = {.handler = vmx_exit_handler};
    struct breakage brk;
    if (break_vmcs_on_request(&brk))
        run_broken_entry(&vcpu, &brk);
    entry_is_launch = true;
    int r = vmx_enter(&vcpu);
    if (r != 0)
        print_entry_failure(r);
    report("vmlaunch", vcpu.launched && !(last_exit_reason & EXIT_REASON_FAILED_ENTRY));
    report("guest ran to completion", r == 0 && !hv_fatal);

    print_table(iters);
    for (unsigned op = 0; op < OP_COUNT; op++)
        report_op(op, iters);
    nested_report();

    printf("exitbench: exits by reason:");
    for (unsigned i = 0; i < EXIT_REASON_MAX; i++)
        if (exit_counts[i])
            printf(" %u(%s)=%lu", i, vmx_exit_reason_name(i), exit_counts[i]);
    printf("\n");

    /* Leave VMX operation cleanly (SDM 31.3 VMCLEAR, VMXOFF). */
    vmclear((uint64_t)(uintptr_t)hv.vmcs);
    st = vmxoff();
    if (st != VMX_OK)
        vmx_print_status("VMXOFF", st);
    return summary();
}
