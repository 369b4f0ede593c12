//! compress then decompress must give the input back, both formats: every
//! input at level Fast, and small inputs (where the search is quick enough
//! for fuzzing) at Default and Best too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optrom_codec::{Format, Level, compress, decompress};

fuzz_target!(|data: &[u8]| {
    let levels: &[Level] =
        if data.len() <= 2048 { &[Level::Fast, Level::Default, Level::Best] } else { &[Level::Fast] };
    for f in [Format::Efi, Format::Tiano] {
        for &l in levels {
            let c = compress(f, data, l);
            let d = decompress(f, &c, data.len()).expect("our own stream must decode");
            assert_eq!(d, data, "{f} {l}");
        }
    }
});
