#!/usr/bin/env bash
# Simulator speed: runs the `loop` workload (64-bit integer and memory loop, ~1e8 instructions)
# on one core and prints host MIPS, the decode-cache hit rate and simulated CPI for each CPU
# profile (functional: no timing models; the others: caches, TLBs and branch predictor on).
# Speed is measured here, never asserted in tests.
#   benchmarks/mips.sh [BUILD_DIR] [REPEATS] [PROFILES...]
set -eu
build=${1:-build}
repeats=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
profiles=${*:-functional skylake zen5}
vmxsim=$build/vmxsim
kernel=$build/workloads/loop.elf
printf "%-12s %10s %10s %14s %8s\n" profile "best MIPS" "median" "decode hit %" CPI
for profile in $profiles; do
  mips=()
  for _ in $(seq "$repeats"); do
    out=$("$vmxsim" -kernel "$kernel" --cpu "$profile" -q --stats 2>&1 >/dev/null || true)
    mips+=("$(echo "$out" | awk '$1 == "sim.host_mips" {print $2}')")
    hit=$(echo "$out" | awk '$1 == "system.cpu0.decode_cache_hit_rate" {print $2}')
    cpi=$(echo "$out" | awk '$1 == "system.cpu0.cpi" {print $2}')
  done
  sorted=$(printf "%s\n" "${mips[@]}" | sort -g)
  best=$(echo "$sorted" | tail -1)
  median=$(echo "$sorted" | sed -n "$(( (repeats + 1) / 2 ))p")
  printf "%-12s %10.1f %10.1f %14.4f %8.3f\n" "$profile" "$best" "$median" "$hit" "$cpi"
done
