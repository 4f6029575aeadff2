#!/usr/bin/env python3
"""Run an exit-latency workload once and plot its cycles per VM-exit reason.

    PYTHONPATH=build/python /usr/bin/python3 examples/exit_latency.py \
        --kernel build/workloads/exitbench.elf --out exit_latency.png

The workload reports `RESULT exit.<reason>.cycles=N` lines (as measured with RDTSC around each
exiting instruction); every such line becomes one bar. `--from-csv` plots a row of a sweep's
CSV instead (the columns named exit.<reason>.cycles).
"""
import argparse
import sys

import vmxsim


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="build/workloads/exitbench.elf")
    ap.add_argument("--append", default="", help="the workload's command line")
    ap.add_argument("--cpu", default="skylake", help="CPU profile")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a parameter (repeatable)")
    ap.add_argument("--from-csv", metavar="CSV", help="plot row --row of a sweep CSV instead")
    ap.add_argument("--row", type=int, default=0)
    ap.add_argument("--out", default="exit_latency.png")
    args = ap.parse_args()

    if args.from_csv:
        import pandas as pd
        data = pd.read_csv(args.from_csv).iloc[args.row].to_dict()
    else:
        config = dict(s.split("=", 1) for s in args.set)
        r = vmxsim.run(args.kernel, append=args.append, cpu=args.cpu, config=config)
        if not r.passed:
            # A failed check elsewhere in the workload still leaves valid measurements.
            failed = [l for l in r.serial.splitlines() if l.startswith("FAIL")]
            print("exit_latency: warning: %s ended with %s (status %d)%s"
                  % (args.kernel, r.stop_reason, r.exit_status,
                     "".join("\n  " + l for l in failed)), file=sys.stderr)
        data = r
    cycles = vmxsim.plot.exit_cycles(data)
    for reason, value in cycles.items():
        print("%-24s %10g cycles" % (reason, value))
    print("wrote", vmxsim.plot.exit_latency(data, args.out))


if __name__ == "__main__":
    main()
