#!/usr/bin/env python3
"""Sweep the VMX unit's transition costs under real KVM: Debian's Linux boots on vmxsim, its KVM
runs kvmexit's guest, and each design point reports KVM's round trips.

    bash scripts/build.sh && bash scripts/build-linux-images.sh build/linux
    PYTHONPATH=build/python /usr/bin/python3 examples/kvm_exit_cost_sweep.py --out-dir out

For every value of `system.cpu.vmx.exit_cycles` (the fixed microcode cost of a VM exit; the entry
cost is left alone), Linux boots and KVM measures CPUID, VMCALL, port I/O, MMIO, MSR and HLT
wake-up round trips with guest RDTSC (kvmexit, workloads/linux/README.md). Writes
out/kvm_exit_cost_sweep.csv and prints the round trips. An exit handled inside KVM (CPUID,
VMCALL, RDMSR) gains exactly one cycle per cycle of exit cost; one that goes to KVM's user space
(io_out, mmio_read) too, since it still takes one VM exit. Each point boots Linux (~2.6e9
instructions: ~20 s on the functional profile, ~40 s on skylake).
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
    ap.add_argument("--images", default=None, help="Linux images (default: BUILD/linux)")
    ap.add_argument("--out-dir", default=".", help="where the CSV goes")
    ap.add_argument("--exit-cycles", type=int_list, default=[110, 220, 440],
                    help="fixed VM-exit costs to try, e.g. 110,220,440")
    ap.add_argument("--cpu", default="skylake", help="CPU profile (default: skylake)")
    ap.add_argument("--iters", type=int, default=200, help="kvmexit round trips per operation")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes")
    args = ap.parse_args()

    images = args.images or os.path.join(args.build, "linux")
    kernel, initrd = os.path.join(images, "vmlinux"), os.path.join(images, "initramfs.cpio")
    for f in (kernel, initrd):
        if not os.path.isfile(f):
            sys.exit("kvm_exit_cost_sweep: no %s: run scripts/build-linux-images.sh %s" % (f, images))
    df = vmxsim.sweep(kernel, initrd=initrd, memory="512M", cpu=args.cpu,
                      grid={"system.cpu.vmx.exit_cycles": args.exit_cycles},
                      append="console=ttyS0 quiet panic=-1 mitigations=off vmxsim.run=kvmexit "
                             "vmxsim.kvmexit_args=--iters,%d" % args.iters,
                      max_insns=20_000_000_000, jobs=args.jobs)
    if not df["passed"].all():
        print(df[["system.cpu.vmx.exit_cycles", "exit_status", "stop_reason"]], file=sys.stderr)
        sys.exit("kvm_exit_cost_sweep: some design points failed")
    os.makedirs(args.out_dir, exist_ok=True)
    csv = os.path.join(args.out_dir, "kvm_exit_cost_sweep.csv")
    df.to_csv(csv, index=False)
    shown = [c for c in df.columns if c.startswith("kvm.") and c.endswith(".cycles") and c != "kvm.null.cycles"]
    print(df[["system.cpu.vmx.exit_cycles"] + shown].to_string(index=False))
    print("wrote", csv)


if __name__ == "__main__":  # sweep workers re-import this file (spawn start method)
    main()
