//! The invariants the `parse_rom` fuzz target checks on any bytes: the whole
//! inspection path — chain walk, every header view, PE parsing, EFI
//! decompression, the lint rules — (small inputs) the code identification, and every
//! edit operation that accepts the input. Nothing may panic, and edits must produce ROMs that parse again.
//!
//! Shared by the fuzz target and by `crates/optrom/tests/fuzz_seeds.rs`, which
//! runs every crash seed in `fuzz/seeds/parse_rom/` as an ordinary test.

use optrom::edit::{self, ImageSelect, PadTarget};

/// Check every invariant on `data`; panics on a violation.
pub fn check(data: &[u8]) {
    let walked = optrom_format::chain::walk(data);
    for image in &walked.images {
        assert!(image.end() <= data.len());
        let _ = optrom::checksum::detect(image.bytes, image.pcir_offset);
    }
    if let Some(isa) = walked.isa {
        assert!(walked.images.is_empty() && isa.len() >= 0x1C && walked.end == isa.len());
    }
    if let Ok(info) = optrom::inspect(data) {
        // The uncompressed-driver rule compresses the payload: only for small
        // inputs, so the large seed ROMs keep the parser's run rate.
        let rom = (data.len() <= 64 << 10).then_some(data);
        let _ = optrom::check(&info, &optrom::CheckOptions { bucket: Some(256 << 10), rom, ..Default::default() });
        let _ = serde_json::to_string(&info);
        // Identification unpacks LZMA at a few MB/s: small inputs only here, so
        // the large seed ROMs keep this target's run rate (fuzz target
        // `identify` takes every size).
        if data.len() <= 16 << 10 {
            let _ = serde_json::to_string(&optrom::identify::identify_rom(data, &info));
        }
    }
    if let Ok(combined) = edit::combine(&[data, data]) {
        let again = optrom_format::chain::walk(&combined);
        assert!(again.error.is_none(), "combine produced a broken chain: {:?}", again.error);
    }
    if let Ok((manifest, files)) = edit::split(data) {
        let rebuilt = edit::combine_manifest(&manifest, |name| {
            files
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.bytes.clone())
                .ok_or_else(|| optrom::fsio::IoError { path: name.into(), message: "not written by split".into() })
        });
        assert_eq!(rebuilt.as_deref().ok(), Some(data), "split + combine must reproduce the input");
    }
    let _ = edit::set_ids(data, 0x8086, &[0x100e, 0x100f], ImageSelect::All);
    let _ = edit::pad(data, PadTarget::Pow2, 0xff);
    // Fixing checksums is idempotent: a second pass finds nothing to change.
    if let Ok((fixed, _)) = edit::fix_checksums(data, ImageSelect::All, None) {
        let (again, fixes) = edit::fix_checksums(&fixed, ImageSelect::All, None).expect("fixed ROM still parses");
        assert_eq!(again, fixed);
        assert!(fixes.iter().all(|f| f.byte.is_none()), "{fixes:?}");
    }
}
