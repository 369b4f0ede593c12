#!/usr/bin/env bash
# Time `optrom pack` on the two example workloads and print a table:
#   debian     examples/debian/debian-ipxe-qemu.toml: Debian's 8 NICs rebuilt from
#              their parts (no compression: Debian stores its EFI drivers as they are)
#   multiarch  the shape of examples/multiarch.toml (layout both, level best, 512K
#              bucket): e1000 and virtio, Debian's x64 iPXE drivers plus copies
#              relabelled aa64/riscv64/loongarch64 (no iPXE build tree needed)
#
#   bash scripts/bench-pack.sh [OPTROM...]   # one column per binary (default: target/release/optrom)
#   RUNS=5 bash scripts/bench-pack.sh old/optrom target/release/optrom
# Needs Debian's ipxe-qemu. Prints the median wall time of RUNS runs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=(target/release/optrom)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
QEMU_DIR=/usr/lib/ipxe/qemu

# Debian example, parts extracted with the first binary.
cp -r examples/debian "$WORK/debian"
OPTROM=$(realpath "${BINS[0]}") sh "$WORK/debian/extract-parts.sh" >/dev/null

# Multiarch workload.
mkdir -p "$WORK/multiarch/parts"
{
  printf '[set]\nname = "multiarch-bench"\nlayout = "both"\nbucket = "512K"\npad = "bucket"\nlevel = "best"\n'
  for nic in e1000 virtio; do
    model=$nic; [ "$nic" = virtio ] && model=virtio-net-pci
    "${BINS[0]}" split "$QEMU_DIR/efi-$nic.rom" -o "$WORK/multiarch/parts/$nic" >/dev/null
    python3 - "$WORK/multiarch/parts/$nic" <<'PY'
import glob, struct, sys
d = sys.argv[1]
x64 = open(glob.glob(d + '/*.efi')[0], 'rb').read()
nt = struct.unpack_from('<I', x64, 0x3C)[0]
for arch, machine in [('x64', 0x8664), ('aa64', 0xAA64), ('riscv64', 0x5064), ('loongarch64', 0x6264)]:
    pe = bytearray(x64)
    struct.pack_into('<H', pe, nt + 4, machine)
    open('%s-%s.efi' % (d, arch), 'wb').write(pe)
PY
    printf '\n[[nic]]\nmodel = "%s"\nlegacy = "%s/pxe-%s.rom"\nlegacy_output = "pxe-%s.rom"\n' "$model" "$QEMU_DIR" "$nic" "$nic"
    for arch in x64 aa64 riscv64 loongarch64; do
      printf 'efi.%s = "parts/%s-%s.efi"\n' "$arch" "$nic" "$arch"
    done
  done
} > "$WORK/multiarch/multiarch.toml"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_pack() { # binary manifest
  local t0 t1
  for _ in $(seq "$RUNS"); do
    rm -rf "$WORK/out"
    t0=$(date +%s.%N)
    "$1" pack "$2" -o "$WORK/out" >/dev/null 2>&1 || { echo "FAILED: $1 pack $2" >&2; exit 1; }
    t1=$(date +%s.%N)
    printf "%.3f\n" "$(echo "$t1 - $t0" | bc)"
  done | median
}

printf '%-10s' workload; for b in "${BINS[@]}"; do printf ' | %-28s' "$b"; done; printf '\n'
for w in debian/debian-ipxe-qemu.toml multiarch/multiarch.toml; do
  printf '%-10s' "${w%%/*}"
  for b in "${BINS[@]}"; do printf ' | %-28s' "$(time_pack "$(realpath "$b")" "$WORK/$w") s"; done
  printf '\n'
done
echo "(median of $RUNS runs, $(nproc) CPUs, wall time)"
