#!/usr/bin/env bash
# Builds the initrd of the NFS-root end-to-end test: Debian's busybox-static, the kernel modules
# an NFSv3 root over virtio-net needs (Debian's kernel has NFS and virtio-pci as modules, and no
# IP autoconfiguration, so root=/dev/nfs alone cannot work), and an /init that loads them, gets
# an address by DHCP, mounts the `nfsroot=SERVER:PATH` of the kernel command line and
# switch_roots into it (its /init prints the token, see the test).
#
#   bash scripts/make-nfs-initrd.sh BUSYBOX MODULES_DIR OUT.cpio.gz
set -euo pipefail
busybox=${1:?usage: make-nfs-initrd.sh BUSYBOX MODULES_DIR OUT}
modules=${2:?usage: make-nfs-initrd.sh BUSYBOX MODULES_DIR OUT}
out=${3:?usage: make-nfs-initrd.sh BUSYBOX MODULES_DIR OUT}
# In dependency order (each .ko's modinfo `depends=`).
order="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net
       sunrpc grace lockd netfs fscache nfs_acl nfs nfsv3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/proc" "$work/dev" "$work/sys" "$work/newroot" "$work/modules"
cp "$busybox" "$work/bin/busybox"
for m in $order; do
  f=$(find "$modules" -name "$m.ko" -print -quit)
  [ -n "$f" ] || { echo "make-nfs-initrd: $m.ko not found under $modules" >&2; exit 1; }
  cp "$f" "$work/modules/"
done
echo "$order" | tr -s ' \n' '\n\n' | sed '/^$/d' > "$work/modules/order"
cat > "$work/udhcpc.sh" <<'DHCP'
#!/bin/busybox sh
case "$1" in bound|renew) /bin/busybox ip addr add "$ip/$mask" dev "$interface" ;; esac
DHCP
cat > "$work/init" <<'INIT'
#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
$b mount -t sysfs sys /sys
$b mount -t devtmpfs dev /dev 2>/dev/null
for m in $($b cat /modules/order); do $b insmod /modules/$m.ko || echo "nfs-initrd: insmod $m failed"; done
for word in $($b cat /proc/cmdline); do
  # nfsroot=SERVER:PATH[,OPTIONS], as the kernel documents it.
  case "$word" in nfsroot=*) nfsroot=${word#nfsroot=} ;; esac
done
$b ip link set lo up
$b ip link set eth0 up
$b udhcpc -i eth0 -n -q -t 10 -s /udhcpc.sh || echo "nfs-initrd: no DHCP lease"
case "$nfsroot" in *,*) options=${nfsroot#*,}; nfsroot=${nfsroot%%,*} ;; esac
server=${nfsroot%%:*}
echo "nfs-initrd: mounting $nfsroot"
# nolock: no lock daemon (statd) in this initrd; the server's portmapper names the ports.
$b mount -t nfs -o "nolock,addr=$server${options:+,$options}" "$nfsroot" /newroot \
  || echo "nfs-initrd: mount failed"
$b mount --move /dev /newroot/dev
$b umount /proc /sys
exec $b switch_root /newroot /init
INIT
chmod +x "$work/init" "$work/udhcpc.sh" "$work/bin/busybox"
tmp=$(mktemp "$(dirname "$out")/.initrd.XXXXXX")
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -9) > "$tmp"
mv "$tmp" "$out"
