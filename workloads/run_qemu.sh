#!/bin/sh
# Runs one workload on QEMU the way the README describes.
#   workloads/run_qemu.sh BUILD_DIR NAME [SMP] [cmdline words...]
# Exit status is QEMU's: (code << 1) | 1, so 1 means the workload passed.
set -u
build=$1
name=$2
smp=${3:-1}
[ $# -ge 3 ] && shift 3 || shift $#
exec timeout 60 qemu-system-x86_64 -kernel "$build/workloads/$name.elf" \
    -nographic -serial stdio -monitor none -display none \
    -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -m 256 -smp "$smp" -cpu max -append "$*"
