#!/bin/sh
# Runs a workload on Bochs, a VMX-capable reference emulator (EPT, VPID,
# preemption timer, virtual-interrupt delivery; no posted interrupts), to
# cross-check exitbench's hypervisor against an implementation other than
# vmxsim's. Bochs cannot load multiboot kernels itself, so the kernel goes
# on a GRUB rescue CD.
#   workloads/exitbench/run_bochs.sh KERNEL.elf [CPU_MODEL] [cmdline words...]
# Needs the Debian packages bochs, bochsbios, vgabios, grub-pc-bin, xorriso
# and mtools. Prints the serial output; exits 0 when it has a SUMMARY line
# with 0 failures. CPU_MODEL defaults to corei7_skylake_x; TIMEOUT (seconds,
# default 300) bounds the run.
set -u
kernel=$1
model=${2:-corei7_skylake_x}
[ $# -ge 2 ] && shift 2 || shift $#
timeout=${TIMEOUT:-300}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/iso/boot/grub"
cp "$kernel" "$dir/iso/boot/kernel.elf"
cat >"$dir/iso/boot/grub/grub.cfg" <<EOF
set timeout=0
set default=0
menuentry "kernel" {
  multiboot /boot/kernel.elf $*
  boot
}
EOF
grub-mkrescue -o "$dir/boot.iso" "$dir/iso" >"$dir/mkrescue.log" 2>&1 || {
  cat "$dir/mkrescue.log" >&2
  exit 2
}

cat >"$dir/bochsrc" <<EOF
megs: 256
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
cpu: model=$model, ips=100000000
ata0-master: type=cdrom, path=$dir/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$dir/serial.txt
display_library: rfb, options="timeout=0"
# No sound: Debian's Bochs 2.7 aborts in its mixer thread ("buffer overflow detected") on a
# machine without an audio device.
speaker: enabled=0
sound: driver=dummy
log: $dir/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
# Debian's Bochs has the debugger built in: tell it to continue.
printf 'c\nquit\n' >"$dir/debugger.rc"

bochs-bin -q -f "$dir/bochsrc" -rc "$dir/debugger.rc" >"$dir/bochs.out" 2>&1 &
pid=$!
# There is no debug-exit device: stop once the summary has been written.
i=0
while [ $i -lt "$timeout" ] && kill -0 $pid 2>/dev/null; do
  grep -q "^SUMMARY: .*skipped" "$dir/serial.txt" 2>/dev/null && break
  sleep 1
  i=$((i + 1))
done
kill $pid 2>/dev/null
wait $pid 2>/dev/null
# Drop GRUB's screen-control sequences.
tr -d '\033' <"$dir/serial.txt" 2>/dev/null | grep -v '^\[H'
grep -Eq "^SUMMARY: [0-9]+ tests, 0 failures" "$dir/serial.txt" 2>/dev/null
