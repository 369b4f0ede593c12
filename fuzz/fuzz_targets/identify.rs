//! Any bytes through `optrom info`'s code identification: as a ROM (every
//! image: iPXE's LZMA payload unpacker and branch-filter inverse, the feature,
//! version and PCI driver tables, the PE debug directory) and as a boot file.
//! Nothing may panic; unpacked payloads stay within the stated limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = optrom::inspect(data) {
        for id in optrom::identify::identify_rom(data, &info) {
            assert!(id.image.is_some_and(|i| i < info.images.len()));
            if let Some(p) = &id.packed {
                assert!(p.unpacked_size as usize <= optrom::ipxe_payload::MAX_UNPACKED);
            }
        }
    }
    if let Some(id) = optrom::identify::identify_file(data) {
        assert!(id.image.is_none());
        let _ = serde_json::to_string(&id);
    }
});
