//! What every test of the `optrom` binary shares: everything of `optrom-testsupport` (the
//! paths of the Debian packages the tests read, the one rule for external dependencies,
//! [`needs`], and its probes), plus the runner and the ways the tests read its output.
#![allow(dead_code)]

pub use optrom_testsupport::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
