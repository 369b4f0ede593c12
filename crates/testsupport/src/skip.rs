//! The one rule for external dependencies, and the probes several tests make.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

/// Debian's `ipxe-qemu`: the ROMs QEMU loads for its NICs.
pub const IPXE_QEMU_DIR: &str = "/usr/lib/ipxe/qemu";
/// Debian's `ipxe`: iPXE's boot files.
pub const IPXE_DIR: &str = "/usr/lib/ipxe";
/// Debian's e1000 ROM (iPXE legacy image + x86-64 EFI driver).
pub const E1000: &str = "/usr/lib/ipxe/qemu/efi-e1000.rom";
/// Debian's `ipxe`: iPXE's EFI boot file, a PE/COFF EFI application.
pub const IPXE_EFI: &str = "/usr/lib/ipxe/ipxe.efi";
/// Debian's `ipxe`: iPXE for UEFI over the firmware's own network driver (SNP).
pub const SNPONLY: &str = "/usr/lib/ipxe/snponly.efi";
/// Debian's `ipxe-qemu`: BIOS iPXE for the modern virtio-net ID 1af4:1041 (hence
/// `disable-legacy=on`).
pub const PXE_VIRTIO_ROM: &str = "/usr/lib/ipxe/qemu/pxe-virtio.rom";
/// Debian's `ovmf`: the 4 MiB x86-64 firmware code.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// Debian's `ovmf`: the variable store template each guest copies.
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// Whether an external dependency the test needs is there. Present: `true`. Missing: the test
/// fails, unless `OPTROM_SKIP_<skip_var>=1` is set (`=1` only) and `CI` is not `true`; then it
/// prints `SKIPPED: <test>: <what> is missing` where the person running the tests sees it (the
/// real stderr, not libtest's captured output) and returns `false`, and the caller returns.
pub fn needs(skip_var: &str, present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    let skip = std::env::var(format!("OPTROM_SKIP_{skip_var}")).is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if skip && !ci {
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {what} is missing (OPTROM_SKIP_{skip_var}=1)");
        return false;
    }
    let how_to_skip = if ci {
        " (CI=true: never skipped)".to_string()
    } else {
        format!("; OPTROM_SKIP_{skip_var}=1 skips this test")
    };
    panic!("{what} is missing: `bash scripts/test.sh` installs it{how_to_skip}");
}

/// [`needs`] with the arguments in the order the network tests used, and the whole variable
/// name (`"OPTROM_SKIP_NETNS"`).
pub fn require(ok: bool, skip_var: &str, what: &str) -> bool {
    needs(skip_var.strip_prefix("OPTROM_SKIP_").unwrap_or(skip_var), ok, what)
}

/// Whether `program --version` runs and succeeds.
pub fn runs(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Whether this process runs as root (network namespaces and taps need it).
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n")
}

/// Root and iproute2, which the network-namespace tests need (`OPTROM_SKIP_NETNS`).
pub fn netns_available() -> bool {
    let ip = Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success());
    needs("NETNS", is_root() && ip, "root and iproute2 (for network namespaces)")
}

/// QEMU for x86-64 (`OPTROM_SKIP_QEMU`).
pub fn have_qemu() -> bool {
    needs("QEMU", runs("qemu-system-x86_64"), "qemu-system-x86_64 (scripts/install-qemu.sh)")
}

/// Debian's `ipxe-qemu` and `ipxe` ROMs and boot files (`OPTROM_SKIP_EXTERNAL`).
pub fn have_debian() -> bool {
    needs(
        "EXTERNAL",
        Path::new(E1000).exists() && Path::new(IPXE_EFI).exists(),
        "Debian's ipxe-qemu and ipxe packages (/usr/lib/ipxe)",
    )
}

/// A file of a Debian package; `None` (the test returns) only when Debian's ipxe packages are
/// missing and skipping is allowed ([`have_debian`]).
pub fn read_debian(path: &str) -> Option<Vec<u8>> {
    have_debian().then(|| std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// What the proxyDHCP guest tests need: root and iproute2 ([`netns_available`]), then QEMU,
/// dnsmasq, OVMF, `pxe-virtio.rom` and `snponly.efi` (`OPTROM_SKIP_QEMU`).
pub fn have_proxy_guest_tools() -> bool {
    if !netns_available() {
        return false;
    }
    let files = [OVMF_CODE, OVMF_VARS, SNPONLY, PXE_VIRTIO_ROM].iter().all(|f| Path::new(f).is_file());
    needs(
        "QEMU",
        runs("qemu-system-x86_64") && runs("dnsmasq") && files,
        "qemu-system-x86_64, dnsmasq, OVMF, ipxe-qemu or ipxe (for the proxyDHCP guest tests)",
    )
}
