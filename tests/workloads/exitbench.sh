#!/usr/bin/env bash
# Runs the exitbench hypervisor on vmxsim and checks that every operation was
# measured: for each one a `RESULT exit.<op>.cycles=` line with a positive
# average (zero allowed only for the operations that must not exit), a
# `RESULT exit.<op>.count=` equal to the expected exit count (iters, or 0 for
# RDMSR pass-through and posted interrupts) and a PASS line; no FAIL line;
# VMXON, VMLAUNCH and the whole guest run passed; exit status 1 (success); and
# vmxsim's own statistics (--stats: system.cpu0.vmx.exits.<reason>) agree with
# the exits the hypervisor counted by reason, each with handler time
# (system.cpu0.vmx.handler_cycles.<reason>).
#   exitbench.sh VMXSIM KERNEL [--iters N] [--guest "words"] [--allow-skip op,op]
#                [-- vmxsim args...]
# --guest adds words to the kernel command line (e.g. "no_ack no_vpid").
# --allow-skip names operations that may report SKIP (features the CPU
# profile does not advertise) instead of results; an advertised feature that
# does not work is a FAIL either way.
set -u
vmxsim=$1 kernel=$2
shift 2
iters=20
guest=""
allow_skip=""
while [ $# -gt 0 ]; do
  case $1 in
    --iters) iters=$2; shift 2 ;;
    --guest) guest=$2; shift 2 ;;
    --allow-skip) allow_skip=",$2,"; shift 2 ;;
    --) shift; break ;;
    *) echo "exitbench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

ops="cpuid vmcall wrmsr rdmsr rdmsr_passthrough io_out io_in hlt hlt_timer ept_mmio extint
     preemption_timer cr3_load invlpg rdtsc self_ipi self_ipi_posted vmread vmread_shadow
     cpuid_nested cpuid_nested_noshadow"
no_exit_ops=" rdmsr_passthrough self_ipi_posted vmread_shadow "

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$vmxsim" -kernel "$kernel" -append "iters=$iters $guest" --stats "$@" >"$out" 2>&1
status=$?
cat "$out"

errors=0
err() { echo "exitbench.sh: $*" >&2; errors=$((errors + 1)); }

[ "$status" -eq 1 ] || err "exit status $status, expected 1"
grep -q "^FAIL" "$out" && err "FAIL lines in the output"
for p in "PASS: vmxon" "PASS: vmlaunch" "PASS: guest ran to completion"; do
  grep -q "^$p" "$out" || err "missing '$p'"
done
case " $guest " in
  *" break="*) grep -q "^PASS: break=" "$out" || err "no PASS line for the spoiled VM entry" ;;
esac
for op in $ops; do
  if grep -q "^SKIP: exit\.$op " "$out"; then
    case $allow_skip in
      *",$op,"*) echo "exitbench.sh: $op skipped (allowed)"; continue ;;
      *) err "$op skipped: $(grep "^SKIP: exit\.$op " "$out")"; continue ;;
    esac
  fi
  want=$iters
  case $no_exit_ops in *" $op "*) want=0 ;; esac
  cycles=$(sed -n "s/^RESULT exit\.$op\.cycles=\([0-9][0-9]*\)$/\1/p" "$out")
  count=$(sed -n "s/^RESULT exit\.$op\.count=\([0-9][0-9]*\)$/\1/p" "$out")
  if [ -z "$cycles" ]; then
    err "no RESULT exit.$op.cycles"
  elif [ "$want" -ne 0 ] && [ "$cycles" -eq 0 ]; then
    err "exit.$op.cycles is 0"
  fi
  if [ -z "$count" ]; then
    err "no RESULT exit.$op.count"
  elif [ "$count" -ne "$want" ]; then
    err "exit.$op.count=$count, expected $want"
  fi
  grep -q "^PASS: exit\.$op " "$out" || err "no PASS line for exit.$op"
done
# The hypervisor's count by exit reason against vmxsim's statistics.
declare -A stat_name=([1]=external_interrupt [10]=cpuid [12]=hlt [14]=invlpg [16]=rdtsc
                      [18]=vmcall [19]=vmclear [20]=vmlaunch [21]=vmptrld [23]=vmread
                      [24]=vmresume [25]=vmwrite [26]=vmxoff [27]=vmxon [28]=cr_access [30]=io_instruction [31]=rdmsr [32]=wrmsr
                      [48]=ept_violation [52]=preemption_timer)
by_reason=$(sed -n 's/^exitbench: exits by reason://p' "$out")
[ -n "$by_reason" ] || err "no 'exits by reason' line"
while read -r reason count; do
  name=${stat_name[$reason]:-}
  if [ -z "$name" ]; then
    err "exit reason $reason has no statistics name here"
    continue
  fi
  sim=$(awk -v k="system.cpu0.vmx.exits.$name" '$1 == k { print $2 }' "$out")
  if [ -z "$sim" ]; then
    err "vmxsim statistic system.cpu0.vmx.exits.$name missing"
  elif [ "${sim%.*}" -ne "$count" ]; then
    err "vmxsim counted $sim exits of reason $reason ($name), the hypervisor $count"
  fi
  # Every exit the hypervisor handled took root-mode time until its next VM entry.
  handler=$(awk -v k="system.cpu0.vmx.handler_cycles.$name" '$1 == k { print $2 }' "$out")
  if [ -z "$handler" ]; then
    err "vmxsim statistic system.cpu0.vmx.handler_cycles.$name missing"
  elif [ "$count" -gt 0 ] && [ "${handler%.*}" -lt "$count" ]; then
    err "handler_cycles.$name=$handler for $count exits"
  fi
done < <(echo "$by_reason" | grep -o "[0-9][0-9]*([^)]*)=[0-9][0-9]*" | sed 's/(.*)=/ /')
[ "$errors" -eq 0 ] || { echo "exitbench.sh: $errors problem(s)" >&2; exit 1; }
echo "exitbench.sh: all operations measured, counts match"
