#!/usr/bin/env python3
"""Extract one DXE driver (its PE32 section) by UI name from a UEFI firmware image.

    extract-efi-driver.py /usr/share/qemu-efi-aarch64/QEMU_EFI.fd VirtioNetDxe out.efi

Debian ships no non-x86 iPXE drivers, but its AAVMF firmware (qemu-efi-aarch64) carries
real AArch64 EFI drivers, such as VirtioNetDxe; optrom's tests use one as a real AA64
driver. Parsing is done by PyPI's uefi_firmware (EDK2's decompressors).
"""
import contextlib
import io
import os
import sys
import tempfile

import uefi_firmware


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    fd, name, out = sys.argv[1:]
    data = open(fd, "rb").read()
    at = data.find(b"_FVH")
    if at < 0x28:
        sys.exit(f"{fd}: no firmware volume header (_FVH) found")
    volume = uefi_firmware.uefi.FirmwareVolume(data[at - 0x28:])
    if not volume.valid_header or not volume.process():
        sys.exit(f"{fd}: firmware volume at {at - 0x28:#x} does not parse")
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.redirect_stdout(io.StringIO()):
            volume.dump(tmp)
        for root, _dirs, files in os.walk(tmp):
            for ui in (f for f in files if f.endswith(".ui")):
                label = open(os.path.join(root, ui), "rb").read().decode("utf-16-le", "replace").rstrip("\0")
                if label != name:
                    continue
                pes = sorted(f for f in files if f.endswith(".pe"))
                if not pes:
                    sys.exit(f"{fd}: {name} has no PE32 section")
                with open(out, "wb") as f:
                    f.write(open(os.path.join(root, pes[0]), "rb").read())
                return
    sys.exit(f"{fd}: no driver named {name}")


if __name__ == "__main__":
    main()
