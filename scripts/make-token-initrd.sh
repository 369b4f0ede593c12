#!/usr/bin/env bash
# Builds the initrd the netboot end-to-end tests boot: a newc cpio (gzip'd) holding Debian's
# busybox-static and an /init that prints "BOOT-TOKEN-<token>" (the token= word of the kernel
# command line) on the console and powers the machine off. Works as a Linux initrd and as a
# Xen dom0 initrd (console=hvc0). BUSYBOX may be any architecture's static busybox (the
# serve_arch test uses trixie's arm64 one): it is only copied, never run on this host.
#
#   bash scripts/make-token-initrd.sh BUSYBOX OUT.cpio.gz
set -euo pipefail
busybox=${1:?usage: make-token-initrd.sh BUSYBOX OUT}
out=${2:?usage: make-token-initrd.sh BUSYBOX OUT}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/proc" "$work/dev" "$work/sys"
cp "$busybox" "$work/bin/busybox"
cat > "$work/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
for word in $(/bin/busybox cat /proc/cmdline); do
  case "$word" in token=*) token=${word#token=} ;; esac
done
for console in /dev/console /dev/hvc0 /dev/ttyS0; do
  [ -e "$console" ] && echo "BOOT-TOKEN-${token:-none}" > "$console" 2>/dev/null
done
echo "BOOT-TOKEN-${token:-none}"
/bin/busybox sleep 1
/bin/busybox poweroff -f
INIT
chmod +x "$work/init" "$work/bin/busybox"
tmp=$(mktemp "$(dirname "$out")/.initrd.XXXXXX")
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -9) > "$tmp"
mv "$tmp" "$out"
