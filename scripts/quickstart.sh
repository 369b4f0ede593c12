#!/usr/bin/env bash
# The quick start, one command on a fresh Debian bookworm machine (as root or with
# sudo):
#
#   bash scripts/quickstart.sh
#
# It installs Debian's ipxe-qemu (and Rust through rustup when no cargo ≥ 1.88 is
# there), builds optrom, and runs the main job on Debian's real ROMs:
#   1. `optrom info` on efi-e1000.rom and `optrom check --nic auto` on the whole set;
#   2. the release example: Debian's set split into parts and rebuilt byte for byte,
#      then rebuilt the maintainer's way — from the iPXE EFI drivers (PE) with
#      optrom's compressor — with each ROM's size against Debian's;
#   3. `optrom migrate-check` of the rebuilt set against /usr/lib/ipxe/qemu (passes),
#      and what it says when a ROM crosses the 256 KiB bucket.
# Outputs go to target/quickstart/. OPTROM_NO_INSTALL=1 skips the install step.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
step() { printf '\n== %s\n' "$*"; }

if [ "${OPTROM_NO_INSTALL:-0}" != 1 ]; then
  if ! dpkg-query -W -f='${Status}' ipxe-qemu 2>/dev/null | grep -q "install ok installed"; then
    step "apt-get install ipxe-qemu"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ipxe-qemu >/dev/null
  fi
  rust_ok() { command -v cargo >/dev/null 2>&1 && [ "$(printf '%s\n1.88.0\n' "$(cargo --version | cut -d' ' -f2)" | sort -V | head -1)" = 1.88.0 ]; }
  if ! rust_ok && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
  if ! rust_ok; then
    step "Rust ≥ 1.88 through rustup (bookworm's cargo is 1.63)"
    command -v curl >/dev/null 2>&1 || as_root apt-get install -y -qq curl ca-certificates build-essential >/dev/null
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

step "cargo build --release -p optrom-cli"
cargo build -q --release -p optrom-cli
OPTROM=$ROOT/target/release/optrom
DEBIAN=/usr/lib/ipxe/qemu

step "optrom info $DEBIAN/efi-e1000.rom"
"$OPTROM" info "$DEBIAN/efi-e1000.rom"

step "optrom check --nic auto $DEBIAN/*.rom"
"$OPTROM" check --nic auto "$DEBIAN"/*.rom

WORK=$ROOT/target/quickstart
rm -rf "$WORK"
mkdir -p "$WORK"
cp -r examples/debian "$WORK/debian"
cd "$WORK/debian"

step "release example 1: Debian's set from its parts, byte for byte"
OPTROM=$OPTROM sh extract-parts.sh
"$OPTROM" pack debian-ipxe-qemu.toml -o out >/dev/null
for f in "$DEBIAN"/*.rom; do cmp "$f" "out/$(basename "$f")"; done
echo "all $(ls "$DEBIAN"/*.rom | wc -l) files of $DEBIAN rebuilt identically"

step "release example 2: from the iPXE EFI drivers (PE), compressed by optrom (level best)"
"$OPTROM" pack debian-from-drivers.toml -o out-drivers --report-html out-drivers/sizes.html
printf '\n%-18s %10s %10s %10s %8s\n' ROM Debian optrom saved BAR
for f in out-drivers/efi-*.rom; do
  name=$(basename "$f")
  old=$(stat -c %s "$DEBIAN/$name")
  new=$(stat -c %s "$f")
  printf '%-18s %10d %10d %10d %8s\n' "$name" "$old" "$new" $((old - new)) \
    "$("$OPTROM" info --json "$f" | python3 -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["bar_size"] // 1024, end="")')K"
done

step "optrom migrate-check $DEBIAN out-drivers"
"$OPTROM" migrate-check "$DEBIAN" out-drivers

step "a ROM over the 256 KiB bucket: migrate-check names QEMU's error and the fix"
mkdir -p over
"$OPTROM" pad out-drivers/efi-e1000.rom --to $((256 * 1024 + 512)) -o over/efi-e1000.rom >/dev/null
status=0
"$OPTROM" migrate-check "$DEBIAN/efi-e1000.rom" over/efi-e1000.rom || status=$?
[ "$status" = 1 ] || { echo "expected migrate-check to predict a failed migration (exit 1), got $status"; exit 1; }

step "done: outputs in $WORK/debian (out/, out-drivers/, out-drivers/sizes.html)"
