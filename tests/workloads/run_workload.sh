#!/usr/bin/env bash
# Boots one workload on vmxsim and checks the outcome:
#   run_workload.sh VMXSIM KERNEL EXPECTED_STATUS [REQUIRED_PATTERN...] -- [vmxsim args...]
# Fails when the exit status differs, when the serial output has a "FAIL" line, or when a
# required pattern (grep -E) is missing from the output.
set -u
vmxsim=$1 kernel=$2 expected=$3
shift 3
patterns=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do patterns+=("$1"); shift; done
[ $# -gt 0 ] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$vmxsim" -kernel "$kernel" "$@" >"$out" 2>&1
status=$?
cat "$out"
if [ "$status" -ne "$expected" ]; then
  echo "run_workload: exit status $status, expected $expected" >&2
  exit 1
fi
if grep -q "^FAIL" "$out"; then
  echo "run_workload: FAIL lines in the output" >&2
  exit 1
fi
for p in "${patterns[@]+"${patterns[@]}"}"; do
  if ! grep -Eq -- "$p" "$out"; then
    echo "run_workload: output lacks /$p/" >&2
    exit 1
  fi
done
exit 0
