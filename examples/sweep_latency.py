#!/usr/bin/env python3
"""Sweep two instruction-latency parameters over the `loop` workload and plot the cycles.

    PYTHONPATH=build/python /usr/bin/python3 examples/sweep_latency.py --out-dir out

Writes out/sweep_latency.csv (one row per design point: parameters, exit status, RESULT values,
statistics) and out/sweep_latency.png (cpu0 cycles against the ALU latency, one line per MOV
latency: the loop's loads and stores are MOVs). The loop's work does not depend on latencies,
so the change in cycles is the timing model's.
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
    ap.add_argument("--out-dir", default=".", help="where the CSV and PNG go")
    ap.add_argument("--alu", type=int_list, default=[1, 2, 3, 4], help="ALU latencies, e.g. 1,2,4")
    ap.add_argument("--mov", type=int_list, default=[1, 4],
                    help="MOV (load/store) latencies, e.g. 1,4")
    ap.add_argument("--append", default="iters=50", help="loop's command line (size of the run)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes")
    args = ap.parse_args()

    df = vmxsim.sweep(os.path.join(args.build, "workloads", "loop.elf"),
                      grid={"system.cpu.latency.alu": args.alu,
                            "system.cpu.latency.mov": args.mov},
                      append=args.append, jobs=args.jobs,
                      metrics=["system.cpu0.cycles", "system.cpu0.cpi"])
    if not df["passed"].all():
        print(df[["system.cpu.latency.alu", "system.cpu.latency.mov", "exit_status",
                  "stop_reason"]], file=sys.stderr)
        sys.exit("sweep_latency: some design points failed")
    os.makedirs(args.out_dir, exist_ok=True)
    csv = os.path.join(args.out_dir, "sweep_latency.csv")
    df.to_csv(csv, index=False)
    png = vmxsim.plot.metric_vs_param(df, "system.cpu.latency.alu", "system.cpu0.cycles",
                                      os.path.join(args.out_dir, "sweep_latency.png"),
                                      hue="system.cpu.latency.mov")
    print(df[["system.cpu.latency.alu", "system.cpu.latency.mov", "instructions",
              "system.cpu0.cycles", "system.cpu0.cpi"]].to_string(index=False))
    print("wrote", csv, png)


if __name__ == "__main__":  # sweep workers re-import this file (spawn start method)
    main()
