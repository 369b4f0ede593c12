#!/bin/sh
# Split Debian's efi-<nic>.rom files into their images under parts/efi-<nic>/.
set -eu
cd "$(dirname "$0")"
OPTROM=${OPTROM:-optrom}
for nic in e1000 e1000e eepro100 ne2k_pci pcnet rtl8139 virtio vmxnet3; do
  "$OPTROM" split "/usr/lib/ipxe/qemu/efi-$nic.rom" -o "parts/efi-$nic" >/dev/null
done
echo "parts extracted to $(pwd)/parts"
