#!/usr/bin/env bash
# Fetches the multi-architecture test data that bookworm lacks, from Debian trixie's package
# registry, into a cache directory — without changing the system's apt sources or installing
# anything: a private apt configuration (sources, lists and archives under the cache) drives
# `apt-get download`, and `dpkg-deb -x` unpacks each package under $CACHE/trixie/root.
#
#   bash scripts/fetch-testdata.sh            # prints the root directory it filled
#   OPTROM_CACHE=/some/dir bash scripts/fetch-testdata.sh
#
# What it fetches (all of it is read by the tests; nothing is built):
#   ipxe                  /usr/lib/ipxe/ipxe-{amd64,arm64,riscv64,loong64}.efi, snponly.efi
#   ipxe-qemu             /usr/share/qemu/{efi,pxe}-<nic>.rom (trixie's layout: EFI-compressed, 256 KiB)
#   qemu-efi-riscv64      /usr/share/qemu-efi-riscv64/RISCV_VIRT_{CODE,VARS}.fd
#   qemu-efi-loongarch64  /usr/share/qemu-efi-loongarch64/QEMU_{EFI,VARS}.fd
#   linux-image-*-arm64   Debian's arm64 kernel (the versioned package the metapackage names)
#   busybox-static:arm64  an arm64 busybox for the test initrd
# Idempotent: a package already unpacked (its .deb is in the archive directory) is not fetched again.
set -euo pipefail

CACHE=${OPTROM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/optrom}
DIR=$CACHE/trixie
ROOT=$DIR/root
mkdir -p "$DIR/parts" "$DIR/lists/partial" "$DIR/archives/partial" "$ROOT"
# One fetch at a time (tests run it in parallel): the others wait, then find it done.
exec 9>"$DIR/.lock"
flock 9

cat >"$DIR/parts/trixie.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

OPTS=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$DIR/parts"
  -o "Dir::State::Lists=$DIR/lists" -o "Dir::Cache::archives=$DIR/archives"
  -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1
  -o APT::Sandbox::User=root)
APT=(apt-get -q "${OPTS[@]}")

# The package lists are refreshed once a day at most.
stamp=$DIR/lists/.fetched
have_lists() { ls "$DIR"/lists/*binary-arm64_Packages* "$DIR"/lists/*binary-amd64_Packages* >/dev/null 2>&1; }
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || ! have_lists; then
  rm -f "$stamp"
  "${APT[@]}" update >"$DIR/update.log" 2>&1 || { cat "$DIR/update.log" >&2; exit 1; }
  have_lists || { echo "fetch-testdata: apt-get update left no package lists in $DIR/lists" >&2; cat "$DIR/update.log" >&2; exit 1; }
  touch "$stamp"
fi

# linux-image-arm64 is a metapackage; its Depends names the real kernel package.
kernel=$(apt-cache "${OPTS[@]}" show linux-image-arm64:arm64 | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n1 || true)
[ -n "$kernel" ] || { echo "fetch-testdata: trixie's linux-image-arm64 names no kernel package" >&2; exit 1; }

packages=(ipxe ipxe-qemu qemu-efi-riscv64 qemu-efi-loongarch64 "$kernel:arm64" busybox-static:arm64)
cd "$DIR/archives"
for p in "${packages[@]}"; do
  name=${p%%:*}
  arch=${p#*:}; [ "$arch" = "$p" ] && arch=""
  if ! ls "${name}"_*"${arch:+_$arch}".deb >/dev/null 2>&1 && ! ls "${name}"_*_all.deb >/dev/null 2>&1; then
    "${APT[@]}" download "$p" >>"$DIR/download.log" 2>&1 || { tail -n 20 "$DIR/download.log" >&2; exit 1; }
  fi
done
for deb in *.deb; do
  marker=$DIR/.unpacked-${deb%.deb}
  [ -f "$marker" ] && continue
  dpkg-deb -x "$deb" "$ROOT"
  touch "$marker"
done

# Fail loudly if any file the tests rely on is missing.
for f in usr/lib/ipxe/ipxe-arm64.efi usr/lib/ipxe/ipxe-riscv64.efi usr/lib/ipxe/ipxe-loong64.efi \
  usr/share/qemu/efi-e1000.rom usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd \
  usr/share/qemu-efi-loongarch64/QEMU_EFI.fd usr/bin/busybox; do
  [ -e "$ROOT/$f" ] || { echo "fetch-testdata: $ROOT/$f is missing after unpacking" >&2; exit 1; }
done
ls "$ROOT"/boot/vmlinuz-* >/dev/null 2>&1 || { echo "fetch-testdata: no arm64 kernel under $ROOT/boot" >&2; exit 1; }
echo "$ROOT"
