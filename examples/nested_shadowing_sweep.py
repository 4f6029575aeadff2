#!/usr/bin/env python3
"""When does VMCS shadowing pay off for nested virtualization? A sweep of the system-instruction
latency over exitbench's nested rows.

    PYTHONPATH=build/python /usr/bin/python3 examples/nested_shadowing_sweep.py --out-dir out

exitbench's `cpuid_nested` runs a guest hypervisor whose VMCS lives in a shadow VMCS (its
VMREAD/VMWRITEs do not exit, but exitbench's own hypervisor copies ~145 fields through the shadow
VMCS on every round trip); `cpuid_nested_noshadow` runs the same stack without shadowing (four
more exits per round trip, the copies cost ordinary instructions). `system.cpu.latency.system`
is the base latency of the 'system' instruction class, VMREAD and VMWRITE among them (skylake:
20 cycles). Cheap VMREAD/VMWRITEs make shadowing the winner, expensive ones the loser: the
printed table shows where the two curves cross (docs/exitbench.md). Writes
out/nested_shadowing_sweep.csv with every exit.<op>.cycles RESULT per design point.
"""
import argparse
import os
import sys

import vmxsim


def int_list(text):
    return [int(v, 0) for v in text.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--out-dir", default=".", help="where the CSV goes")
    ap.add_argument("--latencies", type=int_list, default=[1, 5, 10, 20, 40],
                    help="system-instruction latencies to try, e.g. 1,10,20,40")
    ap.add_argument("--iters", type=int, default=50, help="exitbench iterations per operation")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes")
    args = ap.parse_args()

    knob = "system.cpu.latency.system"
    df = vmxsim.sweep(os.path.join(args.build, "workloads", "exitbench.elf"),
                      grid={knob: args.latencies},
                      append="iters=%d only=cpuid,cpuid_nested,cpuid_nested_noshadow" % args.iters,
                      jobs=args.jobs)
    if not df["passed"].all():
        print(df[[knob, "exit_status", "stop_reason"]], file=sys.stderr)
        sys.exit("nested_shadowing_sweep: some design points failed")
    os.makedirs(args.out_dir, exist_ok=True)
    csv = os.path.join(args.out_dir, "nested_shadowing_sweep.csv")
    df.to_csv(csv, index=False)
    table = df[[knob, "exit.cpuid.cycles", "exit.cpuid_nested.cycles",
                "exit.cpuid_nested_noshadow.cycles"]].copy()
    table["shadowing saves"] = table["exit.cpuid_nested_noshadow.cycles"] - table["exit.cpuid_nested.cycles"]
    print(table.to_string(index=False))
    print("wrote", csv)


if __name__ == "__main__":  # sweep workers re-import this file (spawn start method)
    main()
