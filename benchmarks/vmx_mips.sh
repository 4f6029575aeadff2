#!/usr/bin/env bash
# Simulator speed on VMX-heavy code: runs exitbench (the L1 hypervisor and its guest, one VM exit
# every few hundred instructions) per CPU profile and prints host MIPS, host VM exits per second
# and simulated instructions per exit. Bochs runs VMX code at about 140 MIPS without timing:
# the "vs Bochs" column is host MIPS / 140. Measured here, never asserted in tests.
#   benchmarks/vmx_mips.sh [BUILD_DIR] [REPEATS] [ITERS] [PROFILES...]
set -eu
build=${1:-build}
repeats=${2:-3}
iters=${3:-5000}
shift $(( $# < 3 ? $# : 3 ))
profiles=${*:-functional skylake}
vmxsim=$build/vmxsim
kernel=$build/workloads/exitbench.elf
printf "%-12s %10s %10s %14s %12s %9s\n" profile "best MIPS" "median" "exits/host s" "insns/exit" "vs Bochs"
for profile in $profiles; do
  mips=() eps=()
  for _ in $(seq "$repeats"); do
    out=$("$vmxsim" -kernel "$kernel" -append "iters=$iters" --cpu "$profile" -q --stats 2>&1 >/dev/null || true)
    m=$(echo "$out" | awk '$1 == "sim.host_mips" {print $2}')
    secs=$(echo "$out" | awk '$1 == "sim.host_seconds" {print $2}')
    insns=$(echo "$out" | awk '$1 == "sim.instructions" {print $2}')
    exits=$(echo "$out" | awk '$1 == "system.cpu0.vmx.exits_total" {print $2}')
    mips+=("$m")
    eps+=("$(awk -v e="$exits" -v s="$secs" 'BEGIN { printf "%.0f", e / s }')")
    per_exit=$(awk -v i="$insns" -v e="$exits" 'BEGIN { printf "%.0f", i / e }')
  done
  sorted=$(printf "%s\n" "${mips[@]}" | sort -g)
  best=$(echo "$sorted" | tail -1)
  median=$(echo "$sorted" | sed -n "$(( (repeats + 1) / 2 ))p")
  best_eps=$(printf "%s\n" "${eps[@]}" | sort -g | tail -1)
  printf "%-12s %10.1f %10.1f %14s %12s %8.2fx\n" "$profile" "$best" "$median" "$best_eps" "$per_exit" \
    "$(awk -v m="$best" 'BEGIN { print m / 140 }')"
done
