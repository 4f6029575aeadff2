#!/bin/busybox sh
# /init of vmxsim's Linux initramfs (built by scripts/build-linux-images.sh). Sets up the
# minimal system, loads KVM, does what the kernel command line asks, then ends the machine:
#   vmxsim.run=kvmexit   run kvmexit (RESULT kvm.* lines; kvm_nested.* when vmxsim.level=1)
#   vmxsim.run=nested    boot this kernel again as an L1 guest (l1_launch) that runs kvmexit
#   vmxsim.run=nested_with_single   kvmexit here first, then nested
#   vmxsim.run=exit      nothing: end at once (a boot test)
#   vmxsim.run=shell     interactive shell on the console (the default)
#   vmxsim.level=N       nesting level of this kernel (0 = on the machine itself)
#   vmxsim.kvmexit_args=A,B,...   extra kvmexit arguments, commas for spaces
#   vmxsim.l1_run=MODE   what the L1 guest of "nested" does (default kvmexit)
#   vmxsim.l1_mem=MIB    L1 guest memory (default 256)
#   vmxsim.l1_append=A,B extra L1 kernel parameters (e.g. loglevel=7 to see L1 boot)
#   vmxsim.kvm_args=A,B  extra kvm.ko parameters (e.g. halt_poll_ns=0)
# Exit: the debug-exit port with 0 on success (vmxsim_exit), else power off.

/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev    # CONFIG_DEVTMPFS_MOUNT is off in Debian's kernel

run=shell
level=0
kvmexit_args=
kvm_args=
l1_run=kvmexit
l1_mem=256
l1_append=
for word in $(cat /proc/cmdline); do
    case "$word" in
        vmxsim.run=*) run=${word#*=} ;;
        vmxsim.level=*) level=${word#*=} ;;
        vmxsim.kvmexit_args=*) kvmexit_args=$(echo "${word#*=}" | tr , ' ') ;;
        vmxsim.kvm_args=*) kvm_args=$(echo "${word#*=}" | tr , ' ') ;;
        vmxsim.l1_run=*) l1_run=${word#*=} ;;
        vmxsim.l1_mem=*) l1_mem=${word#*=} ;;
        vmxsim.l1_append=*) l1_append=$(echo "${word#*=}" | tr , ' ') ;;
    esac
done

# Modules in dependency order (Debian ships no modules.dep for this initramfs to use).
load_kvm() {
    mods=/lib/modules/kvm
    nested=
    case "$run" in nested*) nested=nested=1 ;; esac
    insmod $mods/irqbypass.ko || return 1
    insmod $mods/kvm.ko $kvm_args || return 1
    if grep -qw vmx /proc/cpuinfo; then
        insmod $mods/kvm-intel.ko $nested || return 1
    elif grep -qw svm /proc/cpuinfo; then
        insmod $mods/ccp.ko || return 1
        insmod $mods/kvm-amd.ko $nested || return 1
    else
        echo "init: this CPU shows neither VMX nor SVM: no /dev/kvm"
        return 1
    fi
    [ -c /dev/kvm ] || { echo "init: /dev/kvm did not appear"; return 1; }
}

prefix=kvm
[ "$level" -ge 1 ] 2>/dev/null && prefix=kvm_nested

run_kvmexit() {
    kvmexit --prefix $prefix $kvmexit_args
}

# L1's kernel: the ELF vmlinux (entered past the decompressor), else an older image's bzImage.
run_nested() {
    kernel=/boot/vmlinux
    [ -f $kernel ] || kernel=/boot/bzImage
    if [ ! -f $kernel ] || [ ! -f /boot/initramfs-l1.cpio ]; then
        echo "init: no /boot/vmlinux, /boot/bzImage or /boot/initramfs-l1.cpio in this initramfs"
        return 1
    fi
    # l1_launch's machine has no ACPI tables and no PCI devices: acpi=off, and pci=conf1 (the
    # configuration ports without the sanity check; every slot reads empty) keep L1's log free
    # of "ACPI BIOS Error ... RSDP" and "PCI: Fatal: No config space access function".
    append="console=ttyS0 nokaslr mitigations=off quiet acpi=off pci=conf1 vmxsim.run=$l1_run"
    append="$append vmxsim.level=$((level + 1))"
    [ -n "$kvmexit_args" ] && append="$append vmxsim.kvmexit_args=$(echo $kvmexit_args | tr ' ' ,)"
    [ -n "$l1_append" ] && append="$append $l1_append"
    l1_launch --kernel $kernel --initrd /boot/initramfs-l1.cpio --mem "$l1_mem" \
        --append "$append"
}

status=0
kvm=loaded
if [ "$run" != exit ]; then
    load_kvm || { status=1; kvm=missing; }
fi
echo "init: level $level, vmxsim.run=$run, kvm modules $kvm"

case "$run" in
    exit) ;;
    kvmexit)
        [ $status = 0 ] && { run_kvmexit; status=$?; }
        ;;
    nested)
        [ $status = 0 ] && { run_nested; status=$?; }
        ;;
    nested_with_single)
        [ $status = 0 ] && { run_kvmexit; status=$?; }
        [ $status = 0 ] && { run_nested; status=$?; }
        ;;
    shell)
        echo "init: shell on the console; 'vmxsim_exit 0' or 'poweroff -f' to end"
        setsid cttyhack sh
        status=0
        ;;
    *)
        echo "init: unknown vmxsim.run=$run (kvmexit, nested, nested_with_single, shell, exit)"
        status=2
        ;;
esac

echo "init: done, status $status"
vmxsim_exit $status
echo "init: no debug-exit device; powering off"
poweroff -f
while true; do sleep 1000; done    # /init must never exit: the kernel would panic
