#!/bin/sh
# Split Debian's efi-<nic>.rom files into their images under parts/efi-<nic>/.
# Uses $OPTROM, else `optrom` from PATH, else the repository's own release build
# (cargo build --release -p optrom-cli), so no `cargo install` is needed.
set -eu
cd "$(dirname "$0")"
if [ -z "${OPTROM:-}" ]; then
  if command -v optrom >/dev/null 2>&1; then
    OPTROM=optrom
  elif [ -x ../../target/release/optrom ]; then
    OPTROM=$(pwd)/../../target/release/optrom
  else
    echo "optrom not found: run cargo build --release -p optrom-cli (or cargo install --path crates/cli), or set OPTROM" >&2
    exit 1
  fi
fi
for nic in e1000 e1000e eepro100 ne2k_pci pcnet rtl8139 virtio vmxnet3; do
  "$OPTROM" split "/usr/lib/ipxe/qemu/efi-$nic.rom" -o "parts/efi-$nic" >/dev/null
done
echo "parts extracted to $(pwd)/parts"
