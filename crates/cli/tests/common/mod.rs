//! What every test of the `optrom` binary shares: the runner, the paths of the
//! Debian packages the tests read, and the one rule for external dependencies
//! ([`needs`]).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Debian's `ipxe-qemu`: the ROMs QEMU loads for its NICs.
pub const IPXE_QEMU_DIR: &str = "/usr/lib/ipxe/qemu";
/// Debian's e1000 ROM (iPXE legacy image + x86-64 EFI driver).
pub const E1000: &str = "/usr/lib/ipxe/qemu/efi-e1000.rom";
/// Debian's `ipxe`: iPXE's EFI boot file, a PE/COFF EFI application.
pub const IPXE_EFI: &str = "/usr/lib/ipxe/ipxe.efi";

/// Run the `optrom` binary built for this test run.
pub fn optrom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optrom")).args(args).output().expect("run optrom")
}

/// Run `optrom` in `dir`.
pub fn optrom_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optrom")).current_dir(dir).args(args).output().expect("run optrom")
}

/// stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Status, stdout and stderr in one string, for assertion messages.
pub fn show(o: &Output) -> String {
    let (out, err) = text(o);
    format!("status {:?}\n--- stdout\n{out}--- stderr\n{err}", o.status.code())
}

/// A path as `&str` (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 test path")
}

/// Whether an external dependency the test needs is there. Present: `true`.
/// Missing: the test fails, unless `OPTROM_SKIP_<var>=1` is set (and `CI` is not
/// `true`); then it prints `SKIPPED: <why>` where the person running the tests
/// sees it (the real stderr, not libtest's captured output) and returns `false`,
/// and the caller returns.
pub fn needs(var: &str, present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    let skip = std::env::var(format!("OPTROM_SKIP_{var}")).is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if skip && !ci {
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {what} is missing (OPTROM_SKIP_{var}=1)");
        return false;
    }
    let how_to_skip =
        if ci { " (CI=true: never skipped)".to_string() } else { format!("; OPTROM_SKIP_{var}=1 skips this test") };
    panic!("{what} is missing: `bash scripts/test.sh` installs it{how_to_skip}");
}

/// Debian's `ipxe-qemu` and `ipxe` ROMs and boot files (`OPTROM_SKIP_EXTERNAL`).
pub fn have_debian() -> bool {
    needs(
        "EXTERNAL",
        Path::new(E1000).exists() && Path::new(IPXE_EFI).exists(),
        "Debian's ipxe-qemu and ipxe packages (/usr/lib/ipxe)",
    )
}

/// QEMU for x86-64 (`OPTROM_SKIP_QEMU`).
pub fn have_qemu() -> bool {
    let ok = Command::new("qemu-system-x86_64").arg("--version").output().is_ok_and(|o| o.status.success());
    needs("QEMU", ok, "qemu-system-x86_64 (scripts/install-qemu.sh)")
}

/// Python's `uefi_firmware`: EDK2's own (de)compressor (`OPTROM_SKIP_EXTERNAL`).
pub fn have_edk2_python() -> bool {
    let ok =
        Command::new("python3").args(["-c", "import uefi_firmware.efi_compressor"]).status().is_ok_and(|s| s.success());
    needs("EXTERNAL", ok, "python3 with uefi_firmware (pip install uefi_firmware)")
}

/// Every ROM of Debian's `ipxe-qemu`, sorted.
pub fn debian_roms() -> Vec<PathBuf> {
    let mut roms: Vec<PathBuf> = std::fs::read_dir(IPXE_QEMU_DIR)
        .unwrap_or_else(|e| panic!("{IPXE_QEMU_DIR}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rom"))
        .collect();
    roms.sort();
    roms
}

/// The repository's `examples/` directory.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}
