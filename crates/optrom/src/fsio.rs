//! File input and output with the error messages users need: the path in every
//! message, and outputs that are complete or absent, never half written.

use std::fs;
use std::io::Write;
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

/// Read a whole regular file. Directories and other non-files give a clear error.
pub fn read(path: &Path) -> Result<Vec<u8>, IoError> {
    let meta = fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(IoError { path: path.to_path_buf(), message: "is a directory, not a ROM file".into() });
    }
    fs::read(path).map_err(|e| io_error(path, &e))
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
