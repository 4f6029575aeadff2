#!/usr/bin/env python3
"""Writes the uncompressed kernel (the vmlinux ELF) that a bzImage carries, unchanged.

vmxsim can enter it directly (its PVH note), which spares the simulated decompressor. The
payload's place is in the setup header (Documentation/x86/boot.rst: payload_offset at 0x248,
counted from the protected-mode code, and payload_length at 0x24c); Debian's kernels use xz
(CONFIG_KERNEL_XZ), the only format handled here.

usage: extract_vmlinux.py BZIMAGE OUTPUT
"""
import lzma
import os
import struct
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    bzimage, output = sys.argv[1:]
    with open(bzimage, "rb") as f:
        image = f.read()
    if image[0x202:0x206] != b"HdrS":
        sys.exit(f"extract_vmlinux: {bzimage} is not a bzImage")
    setup_sects = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    payload = image[start:start + length]
    if not payload.startswith(b"\xfd7zXZ\x00"):
        sys.exit(f"extract_vmlinux: {bzimage}'s payload is not xz")
    # The build appends the uncompressed size after the stream: unused_data, not an error.
    vmlinux = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if not vmlinux.startswith(b"\x7fELF"):
        sys.exit(f"extract_vmlinux: {bzimage}'s payload is not an ELF file")
    tmp = output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(vmlinux)
    os.replace(tmp, output)


if __name__ == "__main__":
    main()
