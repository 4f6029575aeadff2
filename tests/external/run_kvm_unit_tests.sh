#!/usr/bin/env bash
# Runs kvm-unit-tests x86 binaries on vmxsim with the CPU counts, arguments and CPU features
# their x86/unittests.cfg gives, and prints one line per test. kvm-unit-tests is NOT part of this
# repository: fetch and build it yourself (./configure --arch=x86_64 && make) and pass its
# directory. Not run by ctest (CI has no kvm-unit-tests build).
#   run_kvm_unit_tests.sh KUT_DIR [VMXSIM] [TEST...]
# vmxsim is not QEMU: it has QEMU's pc-testdev but none of KVM's paravirtual hypercalls, so the
# non-VMX tests get TEST_DEVICE=0 through an environment module, as on bare metal. The vmx.flat
# entries (every unittests.cfg entry of the "vmx" group, plus the nodefault vmx_pf_* ones) run
# with the test device, as under QEMU: vmx_apic_passthrough* drive IRQ lines through it.
# `vmx.flat`'s [vmx] entry takes about 10 minutes; vmx_db_test ends in 2 XPASS lines there (the
# SDM's answer where the test expects KVM's; see docs/architecture.md), which kvm-unit-tests
# counts as unexpected failures, so that entry is reported XPASS-only when nothing else failed.
set -u
kut=${1:?usage: run_kvm_unit_tests.sh KUT_DIR [VMXSIM] [TEST...]}
vmxsim=${2:-$(dirname "$0")/../../build/vmxsim}
shift $(( $# >= 2 ? 2 : 1 ))
max_insns=${MAX_INSNS:-60000000000}
env_file=$(mktemp)
vmx_env_file=$(mktemp)
logdir=$(mktemp -d)
trap 'rm -f "$env_file" "$vmx_env_file"' EXIT
echo "TEST_DEVICE=0" >"$env_file"
echo "VMXSIM=1" >"$vmx_env_file"  # any variable: the test device stays on
vmx_filter="-exit_monitor_from_l2_test -ept_access* -vmx_smp* -vmx_vmcs_shadow_test -atomic_switch_overflow_msrs_test -vmx_init_signal_test -vmx_apic_passthrough_tpr_threshold_test -apic_reg_virt_test -virt_x2apic_mode_test -vmx_pf_exception_test -vmx_pf_exception_forced_emulation_test -vmx_pf_no_vpid_test -vmx_pf_invvpid_test -vmx_pf_vpid_test -vmx_basic_vid_test -vmx_eoi_virt_test -vmx_posted_interrupts_test"

# name | binary | cpus | -append | extra vmxsim arguments (features as in unittests.cfg)
tests=(
  "eventinj|eventinj.flat|1||"
  "memory|memory.flat|1||"
  "realmode|realmode.flat|1||"
  "setjmp|setjmp.flat|1||"
  "sieve|sieve.flat|1||"
  "syscall|syscall.flat|1||"
  "tsc|tsc.flat|1||"
  "xsave|xsave.flat|1||"
  "smap|smap.flat|1||"
  "umip|umip.flat|1||"
  "smptest|smptest.flat|2||"
  "smptest3|smptest.flat|3||"
  "msr|msr.flat|1||"
  "pcid-enabled|pcid.flat|1||"
  "pcid-disabled|pcid.flat|1||--set system.cpu.feature.pcid=false --set system.cpu.feature.invpcid=false"
  "xapic|apic.flat|2||--set system.cpu.feature.x2apic=false"
  "x2apic|apic.flat|2||"
  "emulator|emulator.flat|1||"
  "debug|debug.flat|1||"
  "idt_test|idt_test.flat|1||"
  "access|access_test.flat|1||"
  "vmexit_cpuid|vmexit.flat|1|cpuid|"
  "vmexit_mov_from_cr8|vmexit.flat|1|mov_from_cr8|"
  "vmexit_mov_to_cr8|vmexit.flat|1|mov_to_cr8|"
  "vmexit_inl_pmtimer|vmexit.flat|1|inl_from_pmtimer|"
  "vmexit_tscdeadline|vmexit.flat|1|tscdeadline|"
  "vmexit_tscdeadline_immed|vmexit.flat|1|tscdeadline_immed|"
  "vmexit_ipi|vmexit.flat|2|ipi|"
  "vmexit_ipi_halt|vmexit.flat|2|ipi_halt|"
  "vmexit_cr0_wp|vmexit.flat|2|toggle_cr0_wp|"
  "vmexit_cr4_pge|vmexit.flat|2|toggle_cr4_pge|"
  "vmx|vmx.flat|1|$vmx_filter|"
  "ept|vmx.flat|1|ept_access*|-m 2560"
  "vmx_eoi_bitmap_ioapic_scan|vmx.flat|2|vmx_eoi_bitmap_ioapic_scan_test|-m 2048"
  "vmx_hlt_with_rvi_test|vmx.flat|1|vmx_hlt_with_rvi_test|"
  "vmx_apicv_test|vmx.flat|1|apic_reg_virt_test virt_x2apic_mode_test vmx_basic_vid_test vmx_eoi_virt_test|"
  "vmx_posted_intr_test|vmx.flat|2|vmx_posted_interrupts_test|"
  "vmx_apic_passthrough_thread|vmx.flat|2|vmx_apic_passthrough_thread_test|-m 2048"
  "vmx_init_signal_test|vmx.flat|2|vmx_init_signal_test|-m 2048"
  "vmx_sipi_signal_test|vmx.flat|2|vmx_sipi_signal_test|-m 2048"
  "vmx_apic_passthrough_tpr_threshold_test|vmx.flat|1|vmx_apic_passthrough_tpr_threshold_test|-m 2048"
  "vmx_vmcs_shadow_test|vmx.flat|1|vmx_vmcs_shadow_test|"
  "vmx_pf_exception_test|vmx.flat|1|vmx_pf_exception_test|"
  "vmx_pf_vpid_test|vmx.flat|1|vmx_pf_vpid_test|"
  "vmx_pf_invvpid_test|vmx.flat|1|vmx_pf_invvpid_test|"
  "vmx_pf_no_vpid_test|vmx.flat|1|vmx_pf_no_vpid_test|"
  "vmx_pf_exception_test_reduced_maxphyaddr|vmx.flat|1|vmx_pf_exception_test|--set system.cpu.phys_addr_bits=36"
  "nmi_hlt_smp2|vmx.flat|2|nmi_hlt|"
)
for t in "${tests[@]}"; do
  IFS='|' read -r name flat cpus append extra <<<"$t"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  log=$logdir/$name.log
  env=$env_file
  [ "$flat" = vmx.flat ] && env=$vmx_env_file
  # shellcheck disable=SC2086
  "$vmxsim" -kernel "$kut/x86/$flat" -smp "$cpus" -append "$append" -initrd "$env" \
    --max-insns "$max_insns" $extra >"$log" 2>&1
  status=$?
  verdict=FAIL
  [ "$status" -eq 1 ] && ! grep -q "^FAIL" "$log" && verdict=PASS
  # Only XPASS lines made the run fail: the SDM's answer where the test expects KVM's.
  if [ "$status" -eq 3 ] && ! grep -q "^FAIL" "$log" && grep -q "^XPASS" "$log"; then
    verdict="PASS (XPASS: $(grep -c '^XPASS' "$log"))"
  fi
  printf "%-26s %s  status=%-3s %s\n" "$name" "$verdict" "$status" \
    "$(grep -E '^SUMMARY' "$log" | tail -1)"
done
echo "logs in $logdir"
