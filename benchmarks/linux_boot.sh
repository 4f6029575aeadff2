#!/usr/bin/env bash
# Simulator speed on kernel code: boots Debian's Linux (the uncompressed vmlinux, PVH entry) to
# /init and back out (vmxsim.run=exit), and runs the `loop` workload in the same invocation, so
# the two speeds are measured side by side on the same (shared, noisy) host. Prints simulated
# instructions, cycles, host seconds and MIPS per profile, and the ratio kernel/loop MIPS.
# The images come from scripts/build-linux-images.sh (Debian's packages).
#   benchmarks/linux_boot.sh [BUILD_DIR] [REPEATS] [PROFILES...]
set -eu
build=${1:-build}
repeats=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
profiles=${*:-functional skylake}
vmxsim=$build/vmxsim
images=$build/linux
[ -f "$images/vmlinux" ] || bash "$(dirname "$0")/../scripts/build-linux-images.sh" "$images" >&2
stat() { awk -v k="$1" '$1 == k {print $2}'; }
printf "%-12s %14s %14s %10s %10s %10s %8s\n" profile instructions cycles "host s" "boot MIPS" "loop MIPS" ratio
for profile in $profiles; do
  best_boot=0 best_loop=0
  for _ in $(seq "$repeats"); do
    out=$("$vmxsim" -kernel "$images/vmlinux" -initrd "$images/initramfs.cpio" -m 512 --cpu "$profile" -q --stats \
            -append "console=ttyS0 quiet panic=-1 vmxsim.run=exit" 2>&1 >/dev/null || true)
    insns=$(echo "$out" | stat sim.instructions)
    cycles=$(echo "$out" | stat system.cpu0.cycles)
    secs=$(echo "$out" | stat sim.host_seconds)
    boot=$(echo "$out" | stat sim.host_mips)
    loop=$("$vmxsim" -kernel "$build/workloads/loop.elf" --cpu "$profile" -q --stats 2>&1 >/dev/null | stat sim.host_mips || true)
    best_boot=$(echo "$boot $best_boot" | awk '{print ($1 > $2) ? $1 : $2}')
    best_loop=$(echo "$loop $best_loop" | awk '{print ($1 > $2) ? $1 : $2}')
  done
  printf "%-12s %14s %14s %10.2f %10.1f %10.1f %8.2f\n" "$profile" "$insns" "$cycles" "$secs" "$best_boot" "$best_loop" \
    "$(echo "$best_boot $best_loop" | awk '{print ($2 > 0) ? $1 / $2 : 0}')"
done
