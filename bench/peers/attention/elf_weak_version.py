#!/usr/bin/env python3
# NativeProb — MIT License.
"""Marks one version-needed entry of an ELF64 shared object as weak (VER_FLG_WEAK).

Why: TorchSharp-cpu 0.107.0 ships libLibTorchSharp.so built with GCC 13, which records a need for
GLIBCXX_3.4.32 only for the marker symbol _ZSt21ios_base_library_initv. Debian 12's libstdc++ stops
at GLIBCXX_3.4.30, so the dynamic loader refuses the library. glibc treats a missing *weak* version
need as non-fatal, so flipping that one flag lets the library load; nothing else changes.

Use it on the build-output copy only, never on the NuGet package cache:
    elf_weak_version.py FILE [VERSION]        (VERSION defaults to GLIBCXX_3.4.32)

The file is rewritten through a temporary file and a rename, so a hard link into a package cache is
never modified in place. Running it twice is harmless. Exit status 0 when the entry is weak
afterwards (or the file does not need that version at all), 1 on a malformed file.
"""
import os
import struct
import sys
import tempfile

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def cstring(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii", "replace")


def patch(data: bytearray, version: str) -> str:
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ValueError("only 64-bit little-endian ELF is handled")
    (e_shoff,) = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    if e_shoff == 0 or e_shentsize < 64:
        raise ValueError("no section headers")

    def section(index: int):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, ...
        return struct.unpack_from("<IIQQQQII", data, e_shoff + index * e_shentsize)

    for i in range(e_shnum):
        _, sh_type, _, _, sh_offset, _, sh_link, sh_info = section(i)
        if sh_type != SHT_GNU_VERNEED:
            continue
        strtab_offset = section(sh_link)[4]
        need = sh_offset
        for _ in range(sh_info):  # sh_info = number of Verneed records
            _, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, need)
            aux = need + vn_aux
            for _ in range(vn_cnt):
                _, vna_flags, _, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                if cstring(data, strtab_offset + vna_name) == version:
                    library = cstring(data, strtab_offset + vn_file)
                    if vna_flags & VER_FLG_WEAK:
                        return f"{version} (from {library}) was already weak"
                    struct.pack_into("<H", data, aux + 4, vna_flags | VER_FLG_WEAK)
                    return f"{version} (from {library}) marked weak"
                if vna_next == 0:
                    break
                aux += vna_next
            if vn_next == 0:
                break
            need += vn_next
    return f"{version} is not needed: nothing to do"


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    version = sys.argv[2] if len(sys.argv) == 3 else "GLIBCXX_3.4.32"
    if "/.nuget/packages/" in os.path.realpath(path):
        print(f"refusing to patch {path}: it is inside the NuGet package cache", file=sys.stderr)
        return 1
    with open(path, "rb") as f:
        data = bytearray(f.read())
    try:
        message = patch(data, version)
    except (ValueError, struct.error) as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 1
    if message.endswith("marked weak"):
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".elfpatch-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    print(f"{path}: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
