//! Scratch directories, executable scripts, Debian's boot packages and per-run tokens.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::netns::sh;

/// The workspace's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scratch directory `base/name`, emptied first (tests pass their `CARGO_TARGET_TMPDIR`).
pub fn scratch_in(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `text` to `path` and makes it executable.
pub fn write_exec(path: &Path, text: &str) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    sh(&["chmod", "+x", path.to_str().unwrap()]);
}

/// Debian's unpacked Xen, kernel and busybox packages under `<repo>/target/boot-packages`, from
/// `scripts/fetch-boot-packages.sh` (idempotent: the first run downloads); the script's stderr
/// when it fails.
pub fn fetch_boot_packages() -> Result<PathBuf, String> {
    let cache = repo_root().join("target/boot-packages");
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/fetch-boot-packages.sh"))
        .arg(&cache)
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(cache)
}

/// [`fetch_boot_packages`] plus `token-initrd.gz` beside them (`scripts/make-token-initrd.sh`:
/// a busybox initrd that prints `BOOT-TOKEN-<token>` from the kernel command line), built once
/// per target dir. Panics with the scripts' stderr when either fails.
pub fn boot_packages() -> PathBuf {
    let cache = fetch_boot_packages().unwrap_or_else(|e| panic!("scripts/fetch-boot-packages.sh: {e}"));
    let initrd = cache.join("token-initrd.gz");
    if !initrd.exists() {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/make-token-initrd.sh"))
            .arg(cache.join("root/bin/busybox"))
            .arg(&initrd)
            .output()
            .expect("bash");
        assert!(out.status.success(), "make-token-initrd.sh: {}", String::from_utf8_lossy(&out.stderr));
    }
    cache
}

/// A token unique to this run (pid and clock), so a guest's output cannot come from an earlier run.
pub fn token() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
    )
}
