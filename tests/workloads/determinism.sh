#!/usr/bin/env bash
# Two runs of the same workload give identical instruction and cycle counts (simulated time
# only, never host time).   determinism.sh VMXSIM KERNEL [vmxsim args...]
set -u
vmxsim=$1 kernel=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in 1 2; do
  "$vmxsim" -kernel "$kernel" -q --stats "$@" >"$tmp/serial$i" 2>"$tmp/stats$i"
  grep -E "\.(instructions|cycles|halted_cycles|exceptions\.[a-z0-9]+|interrupts\.[a-z0-9]+) " "$tmp/stats$i" \
    | grep -v host | awk '{print $1, $2}' >"$tmp/counts$i"
done
if [ ! -s "$tmp/counts1" ]; then
  echo "FAIL: no counters in the statistics"; cat "$tmp/stats1"; exit 1
fi
if ! diff "$tmp/counts1" "$tmp/counts2"; then
  echo "FAIL: counts differ between two identical runs"; exit 1
fi
if ! diff "$tmp/serial1" "$tmp/serial2" >/dev/null; then
  echo "FAIL: serial output differs between two identical runs"; exit 1
fi
cat "$tmp/counts1"
echo "PASS: identical counts in two runs"
