//! Any bytes through the whole inspection path: chain walk, every header view,
//! PE parsing, EFI decompression and the lint rules. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let walked = optrom_format::chain::walk(data);
    for image in &walked.images {
        assert!(image.end() <= data.len());
        let _ = optrom::checksum::detect(image.bytes, image.pcir_offset);
    }
    if let Ok(info) = optrom::inspect(data) {
        let _ = optrom::check(&info, &optrom::CheckOptions { bucket: Some(256 << 10), ..Default::default() });
        let _ = serde_json::to_string(&info);
    }
});
