#!/usr/bin/env bash
# Debian's Linux on vmxsim (images from scripts/build-linux-images.sh):
#   linux.sh VMXSIM IMAGES boot   boot to /init twice (default mitigations: page-table isolation
#                                 with PCIDs): identical instruction/cycle counts and serial
#                                 output, and a boot log free of errors vmxsim's platform causes
#   linux.sh VMXSIM IMAGES kvm    KVM single level: kvmexit's round trips all measured
#   linux.sh VMXSIM IMAGES bzimage  the unmodified bzImage (decompressor and all) boots to /init
#                                   on the default CPU profile (skylake)
set -u
vmxsim=$1 images=$2 mode=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

kernel=$images/vmlinux initrd=$images/initramfs.cpio
for f in "$kernel" "$initrd" "$images/bzImage"; do [ -f "$f" ] || fail "missing $f (run scripts/build-linux-images.sh)"; done

# Errors a kernel prints when the platform lacks something it could have had.
platform_errors='PCI: Fatal|Unable to read current time from RTC|TSC_DEADLINE disabled|mce: Unable to init|Fast TSC calibration failed|Call Trace|BUG:|WARNING:|Oops|Kernel panic|segfault|general protection'

cpu=functional
run() {  # run NAME KERNEL APPEND [vmxsim args]   (CPU profile: $cpu)
  local name=$1 k=$2 append=$3
  shift 3
  "$vmxsim" -kernel "$k" -initrd "$initrd" -append "console=ttyS0 panic=-1 $append" -m 512 \
    --cpu "$cpu" -q --stats "$@" >"$tmp/$name.serial" 2>"$tmp/$name.stats"
  echo $? >"$tmp/$name.status"
}
check_clean() {  # check_clean NAME
  local name=$1
  [ "$(cat "$tmp/$name.status")" = 1 ] || { tail -30 "$tmp/$name.serial"; tail -3 "$tmp/$name.stats"; fail "$name: exit status $(cat "$tmp/$name.status"), want 1"; }
  grep -q "^init: done, status 0" "$tmp/$name.serial" || { tail -30 "$tmp/$name.serial"; fail "$name: /init did not finish"; }
  # (With default mitigations the kernel also reports the Skylake model's speculation bugs, e.g.
  # "RETBleed: WARNING: ...", as on real Skylake parts: that is the CPU model, not the platform.)
  if grep -E "$platform_errors" "$tmp/$name.serial" | grep -v "RETBleed: WARNING"; then
    fail "$name: the boot log shows an error"
  fi
}

case "$mode" in
  boot)
    for i in 1 2; do run boot$i "$kernel" "vmxsim.run=exit" --max-insns 6000000000; done
    check_clean boot1
    for i in 1 2; do
      grep -E "^system\.cpu0\.(instructions|cycles|halted_cycles) " "$tmp/boot$i.stats" | awk '{print $1, $2}' >"$tmp/counts$i"
    done
    [ -s "$tmp/counts1" ] || fail "no counters in the statistics"
    diff "$tmp/counts1" "$tmp/counts2" || fail "counts differ between two identical boots"
    diff "$tmp/boot1.serial" "$tmp/boot2.serial" >/dev/null || fail "serial output differs between two identical boots"
    grep -q "Kernel/User page tables isolation: enabled" "$tmp/boot1.serial" || fail "page-table isolation (PCID no-flush switches) was not on"
    cat "$tmp/counts1"
    echo "PASS: Linux boots to /init deterministically with a clean log"
    ;;
  kvm)
    run kvm "$kernel" "mitigations=off vmxsim.run=kvmexit vmxsim.kvmexit_args=--iters,200" --max-insns 12000000000
    check_clean kvm
    for op in cpuid vmcall io_out io_in mmio_read rdmsr wrmsr hlt_wakeup; do
      grep -qE "^RESULT kvm\.$op\.cycles=[1-9][0-9]*" "$tmp/kvm.serial" || { cat "$tmp/kvm.serial" | tail -40; fail "no RESULT kvm.$op.cycles"; }
    done
    grep "^RESULT kvm\.[a-z_]*\.cycles=" "$tmp/kvm.serial"
    grep -E "^system\.cpu0\.vmx\.exits\.(cpuid|vmcall|io_instruction|ept_violation|ept_misconfig|rdmsr|wrmsr|hlt) " "$tmp/kvm.stats"
    echo "PASS: KVM runs a guest on vmxsim and every round trip is measured"
    ;;
  bzimage)
    cpu=skylake
    run bz "$images/bzImage" "vmxsim.run=exit" --max-insns 12000000000
    check_clean bz
    echo "PASS: the unmodified bzImage boots to /init"
    ;;
  *) fail "unknown mode $mode" ;;
esac
