//! Shared output helpers.

use std::path::Path;

use optrom::inspect::{NotARom, RomInfo};

/// Read and inspect one file, or print the one-line reason it is unusable.
pub fn load(path: &Path) -> Option<RomInfo> {
    let bytes = match optrom::fsio::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("optrom: {e}");
            return None;
        }
    };
    match optrom::inspect(&bytes) {
        Ok(info) => Some(info),
        Err(NotARom { offset, field, message }) => {
            eprintln!("optrom: {}: offset {offset:#x}, field {field}: {message}", path.display());
            None
        }
    }
}

/// Print JSON to stdout.
pub fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON values always serialize"));
}
