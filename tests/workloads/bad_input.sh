#!/usr/bin/env bash
# Bad input never crashes vmxsim: each case must end with the documented exit status and a
# message naming the problem.
#   bad_input.sh VMXSIM WORKLOAD_DIR
set -u
vmxsim=$1 wl=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0 passed=0

# expect NAME STATUS PATTERN -- ARGS...
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  "$vmxsim" "$@" >"$tmp/out" 2>&1
  local got=$?
  if [ "$got" -ne "$want" ] || ! grep -Eq -- "$pattern" "$tmp/out"; then
    echo "FAIL: $name: status $got (want $want), output:"
    sed 's/^/    /' "$tmp/out" | head -20
    failures=$((failures + 1))
  else
    echo "PASS: $name"
    passed=$((passed + 1))
  fi
}

head -c 0 /dev/null >"$tmp/empty.elf"
head -c 100 "$wl/hello.elf" >"$tmp/truncated.elf"
printf 'this is not a kernel\n' >"$tmp/text.elf"
cp "$wl/hello.elf" "$tmp/corrupt.elf"
# Smash the program-header table offset of the ELF header (e_phoff at 0x1c in ELF32).
printf '\xff\xff\xff\x7f' | dd of="$tmp/corrupt.elf" bs=1 seek=28 conv=notrunc status=none
# Break the multiboot header's checksum (the header sits at file offset 0x1000).
cp "$wl/hello.elf" "$tmp/badsum.elf"
printf '\x00\x00\x00\x00' | dd of="$tmp/badsum.elf" bs=1 seek=$((0x1008)) conv=notrunc status=none

expect "missing kernel file" 2 "no-such-file" -- -kernel "$tmp/no-such-file.elf"
expect "empty kernel file" 2 "empty|too short|truncated|not a multiboot" -- -kernel "$tmp/empty.elf"
expect "truncated ELF" 2 "truncated|too short|beyond|not a multiboot" -- -kernel "$tmp/truncated.elf"
expect "not a kernel" 2 "not a multiboot" -- -kernel "$tmp/text.elf"
expect "corrupt program headers" 2 "program header|beyond|outside" -- -kernel "$tmp/corrupt.elf"
expect "bad multiboot checksum" 2 "checksum|not a multiboot" -- -kernel "$tmp/badsum.elf"
expect "unknown option" 2 "unrecognised|unrecognized|unknown" -- --no-such-option
expect "unknown --set key" 2 "unknown configuration key 'system.cpu.no_such_key'" -- -kernel "$wl/hello.elf" --set system.cpu.no_such_key=1
expect "misspelt --set key suggests" 2 "did you mean 'system.cpus'" -- -kernel "$wl/hello.elf" --set system.cpuss=2
expect "bad --set value" 2 "bad value 'lots' for system.cpus" -- -kernel "$wl/hello.elf" --set system.cpus=lots
expect "out-of-range --set value" 2 "system.cpus" -- -kernel "$wl/hello.elf" --set system.cpus=100000
expect "malformed --set" 2 "key=value|expected" -- -kernel "$wl/hello.elf" --set system.cpus
expect "unknown CPU profile" 2 "unknown CPU profile 'pentium'" -- -kernel "$wl/hello.elf" --cpu pentium
expect "missing config file" 2 "nonexistent.cfg" -- -kernel "$wl/hello.elf" --config "$tmp/nonexistent.cfg"
expect "bad -smp" 2 "system.cpus" -- -kernel "$wl/hello.elf" -smp 0
expect "guest triple fault" 4 "triple fault" -- -kernel "$wl/triple_fault.elf"
expect "guest never exits: instruction limit" 6 "instruction limit reached" -- -kernel "$wl/spin.elf" --max-insns 2000000
expect "guest never exits: cycle limit" 6 "cycle limit reached" -- -kernel "$wl/spin.elf" --max-cycles 5000000
expect "guest halts forever" 8 "halted or waiting" -- -kernel "$wl/halt_forever.elf"
expect "guest waits in MWAIT forever" 8 "halted or waiting" -- -kernel "$wl/mwait_forever.elf"
expect "halted with every interrupt source masked: cycle limit" 6 "cycle limit reached" -- -kernel "$wl/halt_masked.elf" --max-cycles 20000000
expect "a kernel named without -kernel runs" 1 "RESULT hello=1" -- "$wl/hello.elf"
expect "a missing positional kernel is an error" 2 "nonexistent.elf" -- "$tmp/nonexistent.elf"
expect "-kernel and a positional kernel" 2 "unexpected argument" -- -kernel "$wl/hello.elf" "$wl/spin.elf"
expect "-m with a lower-case suffix" 1 "RESULT ram_size_mib=64" -- -kernel "$wl/hello.elf" -m 64m

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
