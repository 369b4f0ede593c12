//! Arbitrary bytes through the EFI and Tiano decoders: must never panic,
//! and memory stays bounded by the 1 MiB limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optrom_codec::{Format, decompress};

fuzz_target!(|data: &[u8]| {
    for f in [Format::Efi, Format::Tiano] {
        if let Ok(out) = decompress(f, data, 1 << 20) {
            assert!(out.len() <= 1 << 20);
        }
    }
});
