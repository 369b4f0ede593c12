//! `optrom compress` and `optrom decompress`.

use std::path::Path;

use optrom_codec::{CompressOptions, Format, Level};

use optrom::outcome::Classify;

use crate::output::{exit_status, fail_io, outln, read};
use crate::{EXIT_OK, EXIT_UNUSABLE};

pub fn compress(input: &Path, output: &Path, format: Format, level: Level, allow_16k: bool) -> u8 {
    let data = match read(input) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if u32::try_from(data.len()).is_err() {
        eprintln!(
            "optrom: {}: {} bytes is more than the format's 32-bit size field holds",
            input.display(),
            data.len()
        );
        return EXIT_UNUSABLE;
    }
    let stream =
        optrom_codec::compress_with(&data, &CompressOptions { format, level, allow_16k_efi_distances: allow_16k });
    if let Err(e) = optrom::fsio::write_atomic(output, &stream) {
        return fail_io(&e);
    }
    let ratio = if data.is_empty() { 0.0 } else { 100.0 * stream.len() as f64 / data.len() as f64 };
    outln!("{}: {} -> {} bytes ({ratio:.1} %), {format}, level {level}", input.display(), data.len(), stream.len());
    EXIT_OK
}

pub fn decompress(input: &Path, output: &Path, format: Format, limit: u64) -> u8 {
    let data = match read(input) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match optrom_codec::decompress(format, &data, limit) {
        Ok(plain) => {
            if let Err(e) = optrom::fsio::write_atomic(output, &plain) {
                return fail_io(&e);
            }
            outln!("{}: {} -> {} bytes, {format}", input.display(), data.len(), plain.len());
            EXIT_OK
        }
        Err(e) => {
            // A whole option ROM is a common mistake: say where its stream is.
            let hint = if data.starts_with(&[0x55, 0xAA]) {
                " (this is an option ROM, not a stream: `optrom split` writes each EFI image's driver, decompressed)"
            } else {
                ""
            };
            eprintln!(
                "optrom: {}: offset {:#x} (bit {}), field {format} stream: {}{hint}",
                input.display(),
                e.bit_offset / 8,
                e.bit_offset,
                e.kind
            );
            exit_status(e.failure())
        }
    }
}
