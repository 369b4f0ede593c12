//! compress (Fast) then decompress must give the input back, both formats.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optrom_codec::{Format, Level, compress, decompress};

fuzz_target!(|data: &[u8]| {
    for f in [Format::Efi, Format::Tiano] {
        let c = compress(f, data, Level::Fast);
        let d = decompress(f, &c, data.len()).expect("our own stream must decode");
        assert_eq!(d, data);
    }
});
