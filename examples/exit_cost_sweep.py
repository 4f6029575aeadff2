#!/usr/bin/env python3
"""Sweep the VM-exit hardware cost and APIC virtualization over exitbench: the exit-latency table
at each design point.

    PYTHONPATH=build/python /usr/bin/python3 examples/exit_cost_sweep.py --out-dir out

For every combination of `system.cpu.vmx.exit_cycles` and `system.cpu.feature.vmx_apicv`,
exitbench (the L1 hypervisor, docs/exitbench.md) measures each exit's round trip with guest
RDTSC. Writes out/exit_cost_sweep.csv (one row per design point with every exit.<op>.cycles
RESULT) and prints the round trips of a few operations. Without APICv the hypervisor finds no
posted interrupts: that row reports no value, the other exits are unchanged; each cycle of exit
cost adds one cycle to every round trip that exits.
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
    ap.add_argument("--exit-cycles", type=int_list, default=[110, 220, 440],
                    help="fixed VM-exit costs to try, e.g. 110,220,440")
    ap.add_argument("--iters", type=int, default=50, help="exitbench iterations per operation")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes")
    args = ap.parse_args()

    df = vmxsim.sweep(os.path.join(args.build, "workloads", "exitbench.elf"),
                      grid={"system.cpu.vmx.exit_cycles": args.exit_cycles,
                            "system.cpu.feature.vmx_apicv": [True, False]},
                      append="iters=%d" % args.iters, jobs=args.jobs)
    if not df["passed"].all():
        print(df[["system.cpu.vmx.exit_cycles", "system.cpu.feature.vmx_apicv", "exit_status",
                  "stop_reason"]], file=sys.stderr)
        sys.exit("exit_cost_sweep: some design points failed")
    os.makedirs(args.out_dir, exist_ok=True)
    csv = os.path.join(args.out_dir, "exit_cost_sweep.csv")
    df.to_csv(csv, index=False)
    shown = [c for c in ("exit.cpuid.cycles", "exit.vmcall.cycles", "exit.self_ipi.cycles",
                         "exit.self_ipi_posted.cycles") if c in df.columns]
    print(df[["system.cpu.vmx.exit_cycles", "system.cpu.feature.vmx_apicv"] + shown]
          .to_string(index=False))
    print("wrote", csv)


if __name__ == "__main__":  # sweep workers re-import this file (spawn start method)
    main()
