#!/usr/bin/env python3
"""Run a workload on every CPU profile and plot cycles and CPI per profile.

    PYTHONPATH=build/python /usr/bin/python3 examples/plot_stats.py --out-dir out

Writes out/stats_<workload>.csv and two PNGs (cycles and CPI by profile). The profiles differ
only in timing, so the RESULT checksums of all rows must agree, and the script checks that.
"""
import argparse
import os
import sys

import vmxsim

PROFILES = ["functional", "haswell", "skylake"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--workload", default="cpu_basics", help="a program in BUILD/workloads")
    ap.add_argument("--out-dir", default=".", help="where the CSV and PNGs go")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes")
    args = ap.parse_args()

    kernel = os.path.join(args.build, "workloads", args.workload + ".elf")
    df = vmxsim.sweep(kernel, grid={"cpu": PROFILES}, jobs=args.jobs)
    checksums = [c for c in df.columns if c.endswith("checksum")]
    if not df["passed"].all() or any(df[c].nunique() != 1 for c in checksums):
        print(df[["cpu", "exit_status", "stop_reason"] + checksums], file=sys.stderr)
        sys.exit("plot_stats: runs failed or results differ between profiles")

    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, "stats_" + args.workload)
    df.to_csv(base + ".csv", index=False)
    for metric, name in [("system.cpu0.cycles", "cycles"), ("system.cpu0.cpi", "cpi")]:
        vmxsim.plot.metric_vs_param(df, "cpu", metric, "%s_%s.png" % (base, name),
                                    title="%s: %s by CPU profile" % (args.workload, metric))
    print(df[["cpu", "instructions", "system.cpu0.cycles", "system.cpu0.cpi"]]
          .to_string(index=False))
    print("wrote", base + ".csv", base + "_cycles.png", base + "_cpi.png")


if __name__ == "__main__":  # sweep workers re-import this file (spawn start method)
    main()
