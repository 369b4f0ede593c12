//! What the library's tests share: Debian's package paths and the one rule for
//! external dependencies ([`needs`]).
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// Debian's `ipxe-qemu`.
pub const IPXE_QEMU_DIR: &str = "/usr/lib/ipxe/qemu";
/// Debian's `ipxe`.
pub const IPXE_DIR: &str = "/usr/lib/ipxe";

/// Whether an external dependency is there. Missing: the test fails, unless
/// `OPTROM_SKIP_<var>=1` is set and `CI` is not `true`; then it prints
/// `SKIPPED: …` on the real stderr (not libtest's captured output) and returns
/// `false`, and the caller returns.
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

/// Debian's `ipxe-qemu` and `ipxe` packages (`OPTROM_SKIP_EXTERNAL`).
pub fn have_debian() -> bool {
    needs(
        "EXTERNAL",
        Path::new(IPXE_QEMU_DIR).join("efi-e1000.rom").exists() && Path::new(IPXE_DIR).join("ipxe.efi").exists(),
        "Debian's ipxe-qemu and ipxe packages (/usr/lib/ipxe)",
    )
}

/// A file of a Debian package; `None` (the test returns) only when skipping is allowed.
pub fn read_debian(path: &str) -> Option<Vec<u8>> {
    have_debian().then(|| std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}")))
}
