//! Shared output helpers.

use std::path::Path;

use optrom::inspect::{NotARom, RomInfo};

/// Read and inspect one file, or print the one-line reason it is unusable.
#[allow(dead_code)] // kept for the other subcommands' use
pub fn load(path: &Path) -> Option<RomInfo> {
    load_with_bytes(path).map(|(info, _)| info)
}

/// As [`load`], keeping the file's bytes.
pub fn load_with_bytes(path: &Path) -> Option<(RomInfo, Vec<u8>)> {
    let bytes = match optrom::fsio::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("optrom: {e}");
            return None;
        }
    };
    match optrom::inspect(&bytes) {
        Ok(info) => Some((info, bytes)),
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

/// Stop quietly when the reader of stdout goes away (`optrom info … | head`):
/// `println!` panics on a closed pipe, and a panic is no way to end.
pub fn exit_quietly_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(i32::from(crate::EXIT_OK));
        }
        default(info);
    }));
}
