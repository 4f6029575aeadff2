#!/usr/bin/env bash
# --serial FILE, --stats-json FILE, --list-params and --help produce what they promise.
#   cli_outputs.sh VMXSIM KERNEL
set -u
vmxsim=$1 kernel=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$vmxsim" -kernel "$kernel" --serial "$tmp/serial.txt" --stats-json "$tmp/stats.json" -q >"$tmp/stdout"
[ $? -eq 1 ] || fail "guest exit status"
grep -q "RESULT hello=1" "$tmp/serial.txt" || fail "--serial file lacks the guest output"
grep -q "RESULT hello=1" "$tmp/stdout" && fail "--serial output also went to stdout"
/usr/bin/python3 - "$tmp/stats.json" <<'PY' || fail "--stats-json is not the expected JSON"
import json, sys
d = json.load(open(sys.argv[1]))
v = d["system.cpu0.instructions"]
assert v["unit"] == "instructions" and v["value"] > 1000 and v["description"]
PY
"$vmxsim" --list-params >"$tmp/params" || fail "--list-params"
grep -q "^system.cpus = 1 " "$tmp/params" || fail "--list-params lacks system.cpus"
grep -q "^system.cpu.latency.div = 26 .*cycles" "$tmp/params" || fail "--list-params lacks the skylake divide latency"
"$vmxsim" --help | grep -q -- "-kernel" || fail "--help"
echo "PASS: serial file, statistics JSON, parameter list, help"
