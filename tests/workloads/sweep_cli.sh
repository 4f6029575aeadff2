#!/usr/bin/env bash
# `vmxsim sweep`: one CSV/JSON row per grid point in grid order, the same numbers with one job
# or two, guest failures as rows, and bad grids rejected (status 2) before anything runs.
#   sweep_cli.sh VMXSIM WORKLOAD_DIR
set -u
vmxsim=$1 wl=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Columns of a CSV without the host-time statistics (sim.host_*), which vary between runs.
deterministic() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /^sim\.host_/ }
           { out = ""; for (i = 1; i <= NF; i++) if (keep[i]) out = out (out == "" ? "" : ",") $i
             print out }' "$1"
}

# Column NAME of a CSV, one value per row.
column() {
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                        { print $c }' "$1"
}

grid=(--grid system.cpus=1,2 --grid system.cpu.latency.alu=1,4)
"$vmxsim" sweep --kernel "$wl/hello.elf" "${grid[@]}" -j 2 --out "$tmp/j2.csv" 2>"$tmp/err"
[ $? -eq 0 ] || fail "sweep exit status $? ($(cat "$tmp/err"))"
"$vmxsim" sweep -kernel "$wl/hello.elf" "${grid[@]}" -j 1 -q >"$tmp/j1.csv" || fail "sweep -j 1"

head -1 "$tmp/j2.csv" | grep -q '^system.cpus,system.cpu.latency.alu,exit_status,passed,stop_reason,instructions,cycles,' \
  || fail "header: $(head -1 "$tmp/j2.csv" | cut -c1-120)"
[ "$(wc -l <"$tmp/j2.csv")" -eq 5 ] || fail "want 4 rows: $(wc -l <"$tmp/j2.csv") lines"
[ "$(column "$tmp/j2.csv" cpus | tr '\n' ' ')" = "1 1 2 2 " ] || fail "grid order / RESULT cpus"
[ "$(column "$tmp/j2.csv" system.cpu.latency.alu | tr '\n' ' ')" = "1 4 1 4 " ] || fail "inner axis"
[ "$(column "$tmp/j2.csv" passed | sort -u)" = "True" ] || fail "every point passes"
diff <(deterministic "$tmp/j1.csv") <(deterministic "$tmp/j2.csv") >/dev/null \
  || fail "-j 1 and -j 2 give different numbers"
# (A sanitizer build prints its own warnings about SystemC's coroutine stacks: not ours.)
grep -v -e '==[0-9]*==WARNING: ASan' -e 'False positive error reports may follow' \
  -e 'google/sanitizers/issues/189' "$tmp/err" | grep -q . \
  && fail "progress bar on a non-terminal stderr without --progress"

"$vmxsim" sweep --kernel "$wl/hello.elf" --grid system.cpus=1 --out "$tmp/r.json" --progress \
  2>"$tmp/err" || fail "JSON sweep"
head -c 2 "$tmp/r.json" | grep -q '^\[' || fail "JSON output is not a list"
grep -q '"passed": true' "$tmp/r.json" || fail "JSON passed field"
grep -q '1/1' "$tmp/err" || fail "--progress draws on stderr"

"$vmxsim" sweep --kernel "$wl/spin.elf" --max-insns 20000 --grid cpu=functional,skylake \
  --out "$tmp/spin.csv" -q || fail "a guest limit is a row, not a sweep failure"
[ "$(column "$tmp/spin.csv" exit_status | tr '\n' ' ')" = "6 6 " ] || fail "limit rows"

# expect NAME PATTERN -- ARGS...: status 2, the message, and no output written.
expect() {
  local name=$1 pattern=$2
  shift 3
  rm -f "$tmp/never.csv"
  "$vmxsim" sweep "$@" --out "$tmp/never.csv" >"$tmp/out" 2>&1
  local got=$?
  if [ "$got" -ne 2 ] || ! grep -Eq -- "$pattern" "$tmp/out" || [ -e "$tmp/never.csv" ]; then
    fail "$name: status $got, $(head -3 "$tmp/out")"
  else
    echo "PASS: $name"
  fi
}
expect "unknown key" "unknown configuration key 'system.cpu.latency.aluu'.*did you mean" -- \
  --kernel "$wl/hello.elf" --grid system.cpu.latency.alu=1 --grid system.cpu.latency.aluu=1,2
expect "bad value late in an axis" "bad value 'x' for system.cpu.latency.alu" -- \
  --kernel "$wl/hello.elf" --grid system.cpu.latency.alu=1,2,x
expect "bad --set" "system.cpus" -- --kernel "$wl/hello.elf" --set system.cpus=0
expect "unknown profile" "unknown CPU profile 'pentium'" -- \
  --kernel "$wl/hello.elf" --grid cpu=skylake,pentium
expect "malformed grid" "key=value1,value2" -- --kernel "$wl/hello.elf" --grid system.cpus
expect "empty value" "empty value" -- --kernel "$wl/hello.elf" --grid system.cpus=1,,2
expect "axis twice" "given twice" -- --kernel "$wl/hello.elf" --grid system.cpus=1 --grid system.cpus=2
expect "missing kernel" "cannot open kernel" -- --kernel "$tmp/none.elf" --grid system.cpus=1
expect "no kernel" "kernel" -- --grid system.cpus=1

[ "$failures" -eq 0 ] && echo "PASS: vmxsim sweep" || echo "$failures failed"
[ "$failures" -eq 0 ]
