//! File input and output with the error messages users need: the path in every
//! message, and outputs that are complete or absent, never half written.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A file could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct IoError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

fn io_error(path: &Path, e: &std::io::Error) -> IoError {
    IoError { path: path.to_path_buf(), message: e.to_string() }
}

/// The largest input any command reads: an option ROM image is at most
/// 0xFFFF × 512 bytes (the 16-bit PCIR image length), and a ROM with a legacy
/// image and EFI drivers for every architecture, or a decompressed EFI driver
/// ([`crate::inspect::MAX_DECOMPRESSED`]), stays below this. Larger inputs are
/// refused before they are read.
pub const MAX_INPUT: u64 = 64 << 20;

/// Read a whole regular file of at most [`MAX_INPUT`] bytes. Directories,
/// devices (`/dev/zero`), FIFOs and sockets give a clear error, as do larger files.
pub fn read(path: &Path) -> Result<Vec<u8>, IoError> {
    let meta = fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(IoError { path: path.to_path_buf(), message: "is a directory, not a ROM file".into() });
    }
    if !meta.is_file() {
        return Err(IoError {
            path: path.to_path_buf(),
            message: "is not a regular file (a device, FIFO or socket); give a file".into(),
        });
    }
    let too_large = |size: u64| IoError {
        path: path.to_path_buf(),
        message: format!(
            "{size} bytes is larger than any option ROM or EFI driver can be (the limit is {} = {MAX_INPUT} bytes)",
            crate::size::human(MAX_INPUT)
        ),
    };
    if meta.len() > MAX_INPUT {
        return Err(too_large(meta.len()));
    }
    // The file may grow after the check (or report no size at all, as /proc
    // files do): read one byte past the limit to tell.
    let file = fs::File::open(path).map_err(|e| io_error(path, &e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_INPUT + 1).read_to_end(&mut bytes).map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Write `bytes` to `path` atomically: into a temporary file in the same directory,
/// flushed, then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_all_atomic(&[], &[(path.to_path_buf(), bytes)])
}

/// Where a new file at `path` would go is unusable: its directory is missing
/// (and `may_create` is false) or is not a directory, or `path` is a directory.
fn check_destination(path: &Path, may_create: bool) -> Result<(), IoError> {
    let fail = |message: String| Err(IoError { path: path.to_path_buf(), message });
    if path.is_dir() {
        return fail("is a directory; give a file name".into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // The nearest existing ancestor must be a directory; without `may_create`
    // it must be the file's own directory.
    let mut existing = dir;
    while !existing.exists() {
        if !may_create {
            return fail(format!("the directory {} does not exist", dir.display()));
        }
        existing = match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
    if !existing.is_dir() {
        return fail(format!("{} is not a directory", existing.display()));
    }
    Ok(())
}

/// Write several files so that either all of them are written or none is:
/// every destination is checked first, then each file is written to a
/// temporary file beside its destination, and only when all are complete are
/// they renamed into place. Directories are created for files under one of
/// `create_under` (an output directory); any other file's directory must exist.
/// On failure, temporary files and directories this call created are removed.
pub fn write_all_atomic(create_under: &[&Path], files: &[(PathBuf, &[u8])]) -> Result<(), IoError> {
    for (path, _) in files {
        check_destination(path, create_under.iter().any(|root| path.starts_with(root)))?;
    }
    let mut created: Vec<PathBuf> = Vec::new();
    let mut temps: Vec<(PathBuf, &Path)> = Vec::new();
    let result = (|| {
        for (path, bytes) in files {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            create_dirs(dir, &mut created)?;
            let tmp = temp_name(path)?;
            temps.push((tmp.clone(), path));
            write_synced(&tmp, bytes).map_err(|e| io_error(path, &e))?;
        }
        for (tmp, path) in &temps {
            fs::rename(tmp, path).map_err(|e| io_error(path, &e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        for (tmp, _) in &temps {
            let _ = fs::remove_file(tmp);
        }
        for dir in created.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
    result
}

/// `create_dir_all`, remembering each directory it made (outermost first).
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), IoError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent, created)?;
    }
    fs::create_dir(dir).map_err(|e| io_error(dir, &e))?;
    created.push(dir.to_path_buf());
    Ok(())
}

fn temp_name(path: &Path) -> Result<PathBuf, IoError> {
    let name =
        path.file_name().ok_or_else(|| IoError { path: path.to_path_buf(), message: "not a file name".into() })?;
    Ok(path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id())))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_files_are_all_written_or_none() {
        let dir = std::env::temp_dir().join(format!("optrom-fsio-set-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let ok: Vec<(PathBuf, &[u8])> = vec![(out.join("a.rom"), b"a"), (out.join("x86_64/b.rom"), b"b")];
        write_all_atomic(&[&out], &ok).unwrap();
        assert_eq!(fs::read(out.join("x86_64/b.rom")).unwrap(), b"b");
        // A second file in a directory that does not exist: nothing is written.
        let other = dir.join("other");
        let bad: Vec<(PathBuf, &[u8])> = vec![(other.join("c.rom"), b"c"), (dir.join("missing/x.html"), b"x")];
        let e = write_all_atomic(&[&other], &bad).unwrap_err();
        let left = other.exists();
        fs::remove_dir_all(&dir).unwrap();
        assert!(e.message.contains("does not exist"), "{e}");
        assert!(!left, "the output directory was created although the set failed");
    }

    #[test]
    fn devices_are_refused_without_reading() {
        let e = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(e.path, Path::new("/dev/zero"));
        assert!(e.message.contains("not a regular file"), "{e}");
    }

    #[test]
    fn files_over_the_limit_are_refused_naming_it() {
        let dir = std::env::temp_dir().join(format!("optrom-fsio-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.rom");
        // Sparse: costs no disk space.
        fs::File::create(&big).unwrap().set_len(MAX_INPUT + 1).unwrap();
        let e = read(&big).unwrap_err();
        let at_limit = dir.join("at-limit.rom");
        fs::File::create(&at_limit).unwrap().set_len(1024).unwrap();
        let ok = read(&at_limit);
        fs::remove_dir_all(&dir).unwrap();
        assert!(e.message.contains(&format!("{} bytes is larger", MAX_INPUT + 1)), "{e}");
        assert!(e.message.contains("64 MiB"), "the limit is named: {e}");
        assert_eq!(ok.unwrap().len(), 1024);
    }
}
