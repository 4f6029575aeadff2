#!/usr/bin/env bash
# Debian's Linux with KVM on vmxsim, one command: builds vmxsim and the Linux images (Debian's
# kernel and busybox, fetched with apt-get download and cached; kvmexit, l1_launch), boots the
# kernel on vmxsim and prints the KVM exit table.
#   single  L0 Linux runs kvmexit on its KVM: RESULT kvm.<op>.cycles=N
#   nested  L0 Linux runs kvmexit, then boots itself as an L1 guest whose KVM runs kvmexit
#           again: RESULT kvm_nested.<op>.cycles=N, beside the single-level numbers and the ratio
# usage: bash scripts/run-kvm.sh single|nested [vmxsim options, e.g. --cpu skylake --stats]
# Environment: VMXSIM_KVM_ITERS (round trips per op, default 1000), VMXSIM_LINUX_OUT (image
# directory, default build/linux). docs/linux-kvm.md explains the numbers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=${1:-}
case "$mode" in
  single|nested) shift ;;
  *) echo "usage: bash scripts/run-kvm.sh single|nested [vmxsim options]" >&2; exit 2 ;;
esac

out=${VMXSIM_LINUX_OUT:-$root/build/linux}
bash scripts/build.sh >&2
bash scripts/build-linux-images.sh "$out" >&2

# The uncompressed vmlinux (PVH entry) spares the bzImage decompressor ~4.5e9 instructions.
kernel=$out/vmlinux
[ -f "$kernel" ] || kernel=$out/bzImage
iters=${VMXSIM_KVM_ITERS:-1000}
run=kvmexit
[ "$mode" = nested ] && run=nested_with_single
append="console=ttyS0 mitigations=off panic=-1 quiet vmxsim.run=$run vmxsim.kvmexit_args=--iters,$iters"
memory=512
[ "$mode" = nested ] && memory=1024

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
build/vmxsim -kernel "$kernel" -initrd "$out/initramfs.cpio" -append "$append" -m "$memory" \
  --max-insns 60000000000 "$@" | tee "$log"
status=${PIPESTATUS[0]}
set -e

python3 - "$log" "$mode" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
mode = sys.argv[2]
res = {}
for key, val in re.findall(r"RESULT (kvm(?:_nested)?\.\w+\.cycles)=(\d+)", text):
    res[key] = int(val)
ops = [k.split(".")[1] for k in res if k.startswith("kvm.")]
if not ops:
    sys.exit("run-kvm: no RESULT kvm.* lines: the run failed (see the log above)")
print()
if mode == "single":
    print(f"{'KVM round trip':<16}{'cycles':>10}")
    for op in ops:
        print(f"{op:<16}{res['kvm.' + op + '.cycles']:>10}")
else:
    print(f"{'KVM round trip':<16}{'single':>10}{'nested':>10}{'ratio':>8}")
    for op in ops:
        s, n = res.get("kvm." + op + ".cycles"), res.get("kvm_nested." + op + ".cycles")
        ratio = f"{n / s:.1f}x" if s and n else "-"
        print(f"{op:<16}{s if s is not None else '-':>10}{n if n is not None else '-':>10}{ratio:>8}")
    if not any(k.startswith("kvm_nested.") for k in res):
        sys.exit("run-kvm: no RESULT kvm_nested.* lines: the nested run failed (see the log above)")
EOF
# vmxsim's status is the guest's (code << 1) | 1: 1 means /init finished with success.
[ "$status" -eq 1 ] || { echo "run-kvm: vmxsim exit status $status" >&2; exit 1; }
