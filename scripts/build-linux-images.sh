#!/usr/bin/env bash
# Builds the images for booting Debian 12's own Linux with KVM on vmxsim:
#   OUTDIR/bzImage             Debian's vmlinuz (linux-image-amd64's current kernel), as is
#   OUTDIR/vmlinux             the ELF kernel inside it, decompressed (no simulated xz)
#   OUTDIR/initramfs.cpio      L0's initramfs: busybox, the KVM modules, kvmexit, l1_launch,
#                              vmxsim_exit, /init, and for vmxsim.run=nested /boot/vmlinux +
#                              /boot/initramfs-l1.cpio; .cpio.gz: the same, compressed
#   OUTDIR/initramfs-l1.cpio   the L1 guest's initramfs: the same without /boot
#   OUTDIR/bin/                the static programs, also runnable on the build host
# usage: scripts/build-linux-images.sh [OUTDIR]   (default build/linux)
# The .debs are fetched with apt-get download into VMXSIM_DEB_CACHE (default
# ~/.cache/vmxsim/debs), one file per package version, and never fetched twice. Pin other
# versions with VMXSIM_LINUX_IMAGE=linux-image-6.1.0-NN-amd64[=VERSION].
# See workloads/linux/README.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/build/linux}")
cache=${VMXSIM_DEB_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/vmxsim/debs}
src=$root/workloads/linux

die() { echo "build-linux-images: $*" >&2; exit 1; }
note() { echo "build-linux-images: $*" >&2; }

for tool in apt-get apt-cache dpkg-deb tar gcc python3; do
    command -v "$tool" >/dev/null || die "$tool not found (this script needs a Debian system)"
done

# Prints "KERNEL_PACKAGE KERNEL_VERSION BUSYBOX_VERSION" from one apt-cache call (each call
# costs seconds here): linux-image-amd64 is a metapackage whose dependency names the current
# kernel ABI package, "Depends: linux-image-6.1.0-NN-amd64 (= VERSION)".
resolve_versions() {
    local pin=${VMXSIM_LINUX_IMAGE:-}
    local meta=linux-image-amd64
    [ -n "$pin" ] && meta=${pin%%=*}
    apt-cache show --no-all-versions "$meta" busybox-static 2>/dev/null | awk -v pin="$pin" '
        /^Package:/ { pkg = $2 }
        /^Version:/ { ver[pkg] = $2 }
        /^Depends:/ && pkg == "linux-image-amd64" && match($0, /linux-image-[0-9][^ ,]*/) {
            image = substr($0, RSTART, RLENGTH)
            if (match($0, /\(= [^)]*\)/)) image_ver = substr($0, RSTART + 3, RLENGTH - 4)
        }
        END {
            if (pin != "") {
                split(pin, p, "=")
                image = p[1]
                image_ver = (p[2] != "") ? p[2] : ver[image]
            }
            if (image != "" && image_ver != "" && ver["busybox-static"] != "")
                print image, image_ver, ver["busybox-static"]
        }'
}

# The cached .deb of PACKAGE VERSION, downloaded first if missing.
fetch_deb() {
    local pkg=$1 ver=$2
    local deb="$cache/${pkg}_${ver//:/%3a}_amd64.deb"
    if [ ! -s "$deb" ]; then
        mkdir -p "$cache"
        local tmp
        tmp=$(mktemp -d "$cache/.download.XXXXXX")
        note "downloading $pkg $ver"
        (cd "$tmp" && apt-get download -q "$pkg=$ver" >&2) ||
            { rm -rf "$tmp"; die "apt-get download $pkg=$ver failed (no package mirror reachable?)"; }
        mv "$tmp"/*.deb "$deb" || die "apt-get download left no $pkg .deb"
        rm -rf "$tmp"
    fi
    echo "$deb"
}

# Unpacks the listed members (tar wildcards) of DEB into DIR once; only what the images use,
# which spares writing the kernel package's 400 MB of modules.
extract() {
    local deb=$1 dir=$2
    shift 2
    [ -f "$dir/.complete" ] && return 0
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards "$@" ||
        die "cannot unpack $deb"
    touch "$dir/.complete"
}

# --- Debian packages -------------------------------------------------------------------
# The resolution is kept until apt's package lists change (or the pin does).
mkdir -p "$out"
resolved="$out/resolved-versions"
key="pin=${VMXSIM_LINUX_IMAGE:-}"
if [ -f "$resolved" ] && [ "$resolved" -nt /var/lib/apt/lists ] && [ "$(head -1 "$resolved")" = "$key" ]; then
    read -r image_pkg image_ver busybox_ver < <(tail -1 "$resolved")
else
    versions=$(resolve_versions)
    if [ -z "$versions" ] && [ "$(id -u)" = 0 ]; then
        note "apt knows no linux-image-amd64/busybox-static; running apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed"
        versions=$(resolve_versions)
    fi
    [ -n "$versions" ] || die "apt cannot resolve linux-image-amd64 and busybox-static (run apt-get update)"
    read -r image_pkg image_ver busybox_ver <<< "$versions"
    printf '%s\n%s\n' "$key" "$versions" > "$resolved"
fi

kernel_deb=$(fetch_deb "$image_pkg" "$image_ver")
busybox_deb=$(fetch_deb busybox-static "$busybox_ver")
kdir="$out/extract/${image_pkg}_${image_ver}"
bdir="$out/extract/busybox-static_${busybox_ver}"
extract "$kernel_deb" "$kdir" './boot/vmlinuz-*' './boot/config-*' \
    './lib/modules/*/kernel/arch/x86/kvm/*.ko' './lib/modules/*/kernel/virt/lib/irqbypass.ko' \
    './lib/modules/*/kernel/drivers/crypto/ccp/ccp.ko'
extract "$busybox_deb" "$bdir" ./bin/busybox

kver=${image_pkg#linux-image-}
vmlinuz="$kdir/boot/vmlinuz-$kver"
moddir="$kdir/lib/modules/$kver/kernel"
[ -f "$vmlinuz" ] || die "$image_pkg has no boot/vmlinuz-$kver"
# kvm-amd needs ccp (CONFIG_KVM_AMD_SEV); modules are plain .ko in Debian 12, not .ko.xz.
modules=("$moddir/virt/lib/irqbypass.ko" "$moddir/arch/x86/kvm/kvm.ko"
         "$moddir/arch/x86/kvm/kvm-intel.ko" "$moddir/arch/x86/kvm/kvm-amd.ko"
         "$moddir/drivers/crypto/ccp/ccp.ko")
for m in "${modules[@]}"; do [ -f "$m" ] || die "$image_pkg lacks ${m#$kdir/}"; done

# --- the static programs ---------------------------------------------------------------
mkdir -p "$out/bin"
cflags=(-static -O2 -g0 -Wall -Wextra -Werror -I"$src")
# build NAME SOURCES...: relinks when a source or header in workloads/linux changed.
build() {
    local name=$1
    shift
    local target="$out/bin/$name"
    if [ -f "$target" ] && [ -z "$(find "$src" -newer "$target" \( -name '*.[chS]' \) -print -quit)" ]; then
        return 0
    fi
    note "building $name"
    gcc "${cflags[@]}" -o "$target.tmp" "${@/#/$src/}" -lpthread && strip "$target.tmp" &&
        mv "$target.tmp" "$target" || die "cannot build $name"
}
build kvmexit kvmexit.c kvmexit_guest.S kvm_util.c long_mode.c
build l1_launch l1_launch.c linux_boot.c elf_kernel.c long_mode.c kvm_util.c uart16550.c cmos_rtc.c
build vmxsim_exit vmxsim_exit.c

# --- images --------------------------------------------------------------------------
if ! cmp -s "$vmlinuz" "$out/bzImage"; then
    cp "$vmlinuz" "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"
fi
if [ ! "$out/vmlinux" -nt "$out/bzImage" ]; then
    note "extracting vmlinux"
    python3 "$root/scripts/extract_vmlinux.py" "$out/bzImage" "$out/vmlinux" ||
        die "cannot extract vmlinux from $out/bzImage"
fi

# write_spec [extra spec lines...]: the shared content of both initramfs images.
write_spec() {
    cat <<SPEC
dir /bin 0755
dir /sbin 0755
dir /usr 0755
dir /usr/bin 0755
dir /usr/sbin 0755
dir /dev 0755
nod /dev/console 0600 c 5 1
dir /proc 0555
dir /sys 0555
dir /tmp 1777
dir /root 0700
dir /etc 0755
dir /lib 0755
dir /lib/modules 0755
dir /lib/modules/kvm 0755
file /init $src/init.sh 0755
file /bin/busybox $bdir/bin/busybox 0755
file /bin/kvmexit $out/bin/kvmexit 0755
file /bin/l1_launch $out/bin/l1_launch 0755
file /bin/vmxsim_exit $out/bin/vmxsim_exit 0755
SPEC
    for m in "${modules[@]}"; do echo "file /lib/modules/kvm/$(basename "$m") $m 0644"; done
    echo "file /etc/vmxsim-kernel $out/kernel-version 0644"
}

# make_image SPEC OUTPUT...: rebuilds the OUTPUTs when the spec or a file it names changed.
make_image() {
    local spec=$1 image=$2
    shift
    local missing=0 o
    for o in "$@"; do [ -f "$o" ] || missing=1; done
    if [ $missing = 0 ] && cmp -s "$spec" "$image.spec"; then
        local newer
        newer=$(awk '$1 == "file" { print $3 }' "$spec" | while read -r f; do
                    if [ "$f" -nt "$image" ]; then echo "$f"; fi; done)
        [ -z "$newer" ] && { rm -f "$spec"; return 0; }
    fi
    note "writing $(basename "$image")"
    python3 "$root/scripts/mk_newc.py" "$spec" "$@" || die "cannot write $image"
    mv "$spec" "$image.spec"
}

echo "$image_pkg $image_ver" > "$out/kernel-version.tmp"
cmp -s "$out/kernel-version.tmp" "$out/kernel-version" && rm "$out/kernel-version.tmp" ||
    mv "$out/kernel-version.tmp" "$out/kernel-version"

# Uncompressed archives: a simulated kernel copies them instead of inflating them; the L1
# archive inside L0's is compressed by the .gz variant anyway.
write_spec > "$out/initramfs-l1.spec.new"
make_image "$out/initramfs-l1.spec.new" "$out/initramfs-l1.cpio"
{
    write_spec
    echo "dir /boot 0755"
    # The ELF kernel, not the bzImage: L1 then skips the xz decompressor, about half of the
    # simulated instructions of a whole nested run, at the price of 56 MB more to unpack.
    echo "file /boot/vmlinux $out/vmlinux 0644"
    echo "file /boot/initramfs-l1.cpio $out/initramfs-l1.cpio 0644"
} > "$out/initramfs.spec.new"
make_image "$out/initramfs.spec.new" "$out/initramfs.cpio" "$out/initramfs.cpio.gz"

size() { echo "$(basename "$1") $(( $(stat -c %s "$1") / 1024 )) KiB"; }
note "$image_pkg $image_ver: $(size "$out/bzImage"), $(size "$out/vmlinux"),"\
     "$(size "$out/initramfs.cpio"), $(size "$out/initramfs.cpio.gz"), $(size "$out/initramfs-l1.cpio")"
