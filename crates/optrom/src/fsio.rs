//! File input and output with the error messages users need: the path in every
//! message, and outputs that are complete or absent, never half written.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A file could not be read or written.
#[derive(Debug, thiserror::Error)]
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
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name =
        path.file_name().ok_or_else(|| IoError { path: path.to_path_buf(), message: "not a file name".into() })?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error(path, &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
