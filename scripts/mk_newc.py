#!/usr/bin/env python3
"""Writes an initramfs: a cpio archive in the "newc" format the kernel unpacks
(Documentation/driver-api/early-userspace/buffer-format.rst), written to each OUTPUT given,
gzip-compressed when its name ends in .gz.

Debian 12 ships no cpio binary by default, and this writer needs none: it also makes device
nodes without root and gives reproducible bytes (every entry owned by root, mtime 0, inode
numbers in order, gzip header without a timestamp), so an unchanged input gives an unchanged
archive.

The spec (one entry per line, '#' starts a comment; parents before children), after the
kernel's usr/gen_init_cpio but without owners:
    dir   NAME MODE
    file  NAME SOURCE MODE
    slink NAME TARGET
    nod   NAME MODE c|b MAJOR MINOR

usage: mk_newc.py SPEC OUTPUT...
"""
import gzip
import os
import stat
import sys

MAGIC = b"070701"


def header(ino, mode, nlink, size, name, rdev=(0, 0)):
    name_bytes = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name_bytes), 0)
    return MAGIC + b"".join(b"%08x" % f for f in fields) + name_bytes


def pad4(n):
    return b"\0" * (-n % 4)


def entries(spec_path):
    with open(spec_path) as spec:
        for number, line in enumerate(spec, 1):
            words = line.split("#", 1)[0].split()
            if words:
                yield number, words


def build(spec_path):
    out = bytearray()
    ino = 0

    def add(mode, name, data=b"", nlink=1, rdev=(0, 0)):
        nonlocal ino
        ino += 1
        h = header(ino, mode, nlink, len(data), name.lstrip("/"), rdev)
        out.extend(h + pad4(len(h)) + data + pad4(len(data)))

    for number, words in entries(spec_path):
        kind, args = words[0], words[1:]
        try:
            if kind == "dir" and len(args) == 2:
                add(stat.S_IFDIR | int(args[1], 8), args[0], nlink=2)
            elif kind == "file" and len(args) == 3:
                with open(args[1], "rb") as f:
                    add(stat.S_IFREG | int(args[2], 8), args[0], f.read())
            elif kind == "slink" and len(args) == 2:
                add(stat.S_IFLNK | 0o777, args[0], args[1].encode())
            elif kind == "nod" and len(args) == 5 and args[2] in ("c", "b"):
                type_bits = stat.S_IFCHR if args[2] == "c" else stat.S_IFBLK
                add(type_bits | int(args[1], 8), args[0], rdev=(int(args[3]), int(args[4])))
            else:
                raise ValueError("unknown or malformed entry")
        except (OSError, ValueError) as e:
            sys.exit(f"mk_newc: {spec_path}:{number}: {' '.join(words)}: {e}")
    add(0, "TRAILER!!!")
    return bytes(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    spec_path, outputs = sys.argv[1], sys.argv[2:]
    data = build(spec_path)
    for output in outputs:
        tmp = output + ".tmp"
        with open(tmp, "wb") as f:
            f.write(gzip.compress(data, compresslevel=6, mtime=0) if output.endswith(".gz") else data)
        os.replace(tmp, output)


if __name__ == "__main__":
    main()
