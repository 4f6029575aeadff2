#!/usr/bin/env bash
# Runs kvm-unit-tests x86 binaries on vmxsim with the CPU counts, arguments and CPU features
# their x86/unittests.cfg gives, and prints one line per test. kvm-unit-tests is NOT part of this
# repository: fetch and build it yourself (./configure --arch=x86_64 && make) and pass its
# directory. Not run by ctest (CI has no kvm-unit-tests build).
#   run_kvm_unit_tests.sh KUT_DIR [VMXSIM] [TEST...]
# vmxsim is not QEMU: it has QEMU's pc-testdev but none of KVM's paravirtual hypercalls, so the
# tests get TEST_DEVICE=0 through an environment module, as on bare metal.
set -u
kut=${1:?usage: run_kvm_unit_tests.sh KUT_DIR [VMXSIM] [TEST...]}
vmxsim=${2:-$(dirname "$0")/../../build/vmxsim}
shift $(( $# >= 2 ? 2 : 1 ))
max_insns=${MAX_INSNS:-60000000000}
env_file=$(mktemp)
logdir=$(mktemp -d)
trap 'rm -f "$env_file"' EXIT
echo "TEST_DEVICE=0" >"$env_file"

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
)
for t in "${tests[@]}"; do
  IFS='|' read -r name flat cpus append extra <<<"$t"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  log=$logdir/$name.log
  # shellcheck disable=SC2086
  "$vmxsim" -kernel "$kut/x86/$flat" -smp "$cpus" -append "$append" -initrd "$env_file" \
    --max-insns "$max_insns" $extra >"$log" 2>&1
  status=$?
  verdict=FAIL
  [ "$status" -eq 1 ] && ! grep -q "^FAIL" "$log" && verdict=PASS
  printf "%-26s %s  status=%-3s %s\n" "$name" "$verdict" "$status" \
    "$(grep -E '^SUMMARY' "$log" | tail -1)"
done
echo "logs in $logdir"
