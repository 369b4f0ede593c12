#!/usr/bin/env bash
# Fetches the Debian packages the netboot end-to-end tests boot, without installing them:
# `apt-get download` + `dpkg-deb -x` into a cache directory, then prints the paths.
#
#   bash scripts/fetch-boot-packages.sh [CACHE_DIR]     # default: target/boot-packages
#
# Gives (under CACHE_DIR/root/):
#   boot/xen-4.17-amd64.gz, .efi, .config   xen-hypervisor-4.17-amd64
#   boot/vmlinuz-6.1.0-N-amd64              the kernel linux-image-amd64 depends on
#   bin/busybox                             busybox-static
# and CACHE_DIR/xen (the hypervisor unpacked), CACHE_DIR/vmlinuz (a stable name).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-${OPTROM_BOOT_CACHE:-target/boot-packages}}
mkdir -p "$CACHE/debs" "$CACHE/root"
CACHE=$(cd "$CACHE" && pwd)

kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel_pkg" ] || { echo "fetch-boot-packages: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
packages=(xen-hypervisor-4.17-amd64 "$kernel_pkg" busybox-static)

cd "$CACHE/debs"
for p in "${packages[@]}"; do
  if ! ls "${p}"_*.deb >/dev/null 2>&1; then
    apt-get download -q "$p" >/dev/null || { echo "fetch-boot-packages: apt-get download $p failed" >&2; exit 1; }
  fi
done
for deb in ./*.deb; do
  stamp="$CACHE/root/.$(basename "$deb").done"
  [ -e "$stamp" ] || { dpkg-deb -x "$deb" "$CACHE/root" && touch "$stamp"; }
done

xen_gz=$(ls "$CACHE"/root/boot/xen-4.17-amd64.gz 2>/dev/null || ls "$CACHE"/root/boot/xen-*-amd64.gz | head -1)
vmlinuz=$(ls "$CACHE"/root/boot/vmlinuz-*-amd64 | head -1)
tmp=$(mktemp "$CACHE/.xen.XXXXXX")
gzip -dc "$xen_gz" > "$tmp" && mv "$tmp" "$CACHE/xen"
ln -sf "$vmlinuz" "$CACHE/vmlinuz"
echo "xen.gz  $xen_gz"
echo "xen     $CACHE/xen"
echo "vmlinuz $vmlinuz"
echo "busybox $CACHE/root/bin/busybox"
