#!/usr/bin/env bash
# The exit-latency table is deterministic: exitbench on the skylake profile must report exactly
# the round-trip cycles recorded in exitbench_cycles.skylake. A model change that moves them is
# intended or a regression; when intended, regenerate the file with --update and say why in the
# commit (docs/exitbench.md has the table).
#   exitbench_cycles.sh VMXSIM KERNEL [--update]
set -u
vmxsim=$1 kernel=$2
expected=$(dirname "$0")/exitbench_cycles.skylake
# The multiboot command line starts with the kernel's path (as QEMU's does), and its length
# moves what the runtime allocates after it: a few round trips then differ by a cycle. The
# kernel runs from a path of fixed length, so the numbers do not depend on the build directory.
work=$(mktemp -d /tmp/vmxsim-cycles.XXXXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$kernel" "$work/exitbench.elf"
got=$("$vmxsim" -kernel "$work/exitbench.elf" -append "iters=200" --cpu skylake 2>/dev/null |
      grep -E '^RESULT exit\.[a-z_0-9]+\.cycles=' | sort)
if [ -z "$got" ]; then
  echo "exitbench_cycles.sh: no RESULT lines from exitbench" >&2
  exit 1
fi
if [ "${3:-}" = "--update" ]; then
  printf '%s\n' "$got" >"$expected"
  echo "exitbench_cycles.sh: wrote $expected"
  exit 0
fi
if ! diff -u "$expected" <(printf '%s\n' "$got"); then
  echo "exitbench_cycles.sh: exit round-trip cycles differ from $expected (see the diff above)" >&2
  exit 1
fi
echo "exitbench_cycles.sh: $(printf '%s\n' "$got" | wc -l) exit latencies match"
