#!/usr/bin/env python3
"""The layout question of Debian bug #1095073, answered with Debian trixie's real drivers.

    scripts/layout-table.py OPTROM TRIXIE_ROOT      # TRIXIE_ROOT from scripts/fetch-testdata.sh

For each NIC ROM in trixie's ipxe-qemu (/usr/share/qemu/efi-<nic>.rom) it splits out the x86
legacy image and the x64 iPXE EFI driver, rebuilds the x64 EFI image with `optrom efirom` at
each compression level, and prints per-architecture ROM sizes, the combined ROM size, and which
fits the 256 KiB migration bucket.

Trixie ships no per-NIC iPXE EFI *drivers* for arm64, riscv64 or loongarch64 — only the
all-drivers EFI *applications* ipxe-{amd64,arm64,riscv64,loong64}.efi. Their sizes are therefore
ESTIMATED: the x64 driver image times the ratio of each architecture's compressed ipxe-<arch>.efi
to the compressed ipxe-amd64.efi (same source, same options; measured in this run). The table
says which columns are measured and which are estimated.
"""
import json
import os
import subprocess
import sys
import tempfile

BUCKET = 256 * 1024
LEVELS = ("fast", "default", "best")
ARCHES = ("arm64", "riscv64", "loong64")


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def rom_size(optrom, path):
    info = json.loads(run(optrom, "info", "--json", path))
    return info["files"][0]["content_size"]


def round512(n):
    return (n + 511) // 512 * 512


def bar(n):
    size = 2048
    while size < n:
        size *= 2
    return size


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    optrom, root = os.path.abspath(sys.argv[1]), sys.argv[2]
    roms = os.path.join(root, "usr/share/qemu")
    with tempfile.TemporaryDirectory() as tmp:
        # Architecture ratios from the all-drivers applications, compressed the same way.
        compressed = {}
        for arch in ("amd64",) + ARCHES:
            out = os.path.join(tmp, f"ipxe-{arch}.z")
            run(optrom, "compress", "--level", "default", os.path.join(root, f"usr/lib/ipxe/ipxe-{arch}.efi"), out)
            compressed[arch] = os.path.getsize(out)
        ratio = {a: compressed[a] / compressed["amd64"] for a in ARCHES}
        print("architecture ratio (compressed ipxe-<arch>.efi / ipxe-amd64.efi, level default): "
              + ", ".join(f"{a} {ratio[a]:.3f}" for a in ARCHES))
        print()
        header = ("| NIC | legacy (measured) | x64 EFI as shipped | x64 EFI fast/default/best (measured) "
                  "| x86 ROM, per-arch layout | arm64/riscv64/loong64 image (est.) | combined, best (est.) | fits 256 KiB |")
        print(header)
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for name in sorted(os.listdir(roms)):
            if not (name.startswith("efi-") and name.endswith(".rom")):
                continue
            nic = name[4:-4]
            split = os.path.join(tmp, nic)
            run(optrom, "split", "-o", split, os.path.join(roms, name))
            files = sorted(os.listdir(split))
            legacy = next(f for f in files if f.startswith("00-legacy-"))
            efirom = next(f for f in files if f.endswith(".efirom"))
            pe = next(f for f in files if f.endswith(".efi"))
            vendor, device = pe.rsplit(".", 1)[0].split("-")[-2:]
            legacy_size = os.path.getsize(os.path.join(split, legacy))
            shipped = os.path.getsize(os.path.join(split, efirom))
            sizes = {}
            for level in LEVELS:
                out = os.path.join(tmp, f"{nic}-{level}.efirom")
                run(optrom, "efirom", "--vendor", vendor, "--device", device, "--level", level,
                    "-o", out, os.path.join(split, pe))
                sizes[level] = rom_size(optrom, out)
            est = {a: round512(int(sizes["best"] * ratio[a] + 0.5)) for a in ARCHES}
            x86_rom = legacy_size + sizes["best"]
            combined = x86_rom + sum(est.values())
            fits = "yes" if combined <= BUCKET else f"no: {bar(combined) // 1024} KiB BAR"
            print(f"| {nic} | {legacy_size} | {shipped} | {sizes['fast']} / {sizes['default']} / {sizes['best']} "
                  f"| {x86_rom} ({bar(x86_rom) // 1024} KiB BAR) | {est['arm64']} / {est['riscv64']} / {est['loong64']} "
                  f"| {combined} | {fits} |")


if __name__ == "__main__":
    main()
