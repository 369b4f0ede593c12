//! Property tests: compress → decompress is the identity for every format,
//! level and the 16 KiB opt-in, on random and structured inputs.

use optrom_codec::{CompressOptions, Format, Level, compress_with, decompress, stream_sizes};
use proptest::prelude::*;

fn all_options() -> Vec<CompressOptions> {
    let mut v = Vec::new();
    for format in [Format::Efi, Format::Tiano] {
        for level in [Level::Fast, Level::Default, Level::Best] {
            v.push(CompressOptions { format, level, allow_16k_efi_distances: false });
        }
    }
    v.push(CompressOptions { format: Format::Efi, level: Level::Default, allow_16k_efi_distances: true });
    v
}

fn check(data: &[u8]) -> Result<(), TestCaseError> {
    for o in all_options() {
        let c = compress_with(data, &o);
        let (comp, orig) = stream_sizes(&c).unwrap();
        prop_assert_eq!(comp as usize + 8, c.len());
        prop_assert_eq!(orig as usize, data.len());
        let d = decompress(o.format, &c, data.len());
        prop_assert!(d.as_deref() == Ok(data), "{:?}: {:?}", o, d.err());
    }
    Ok(())
}

/// Inputs built from a small alphabet and repeated fragments, so that
/// matches of all lengths and distances occur.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(0u8..4, 1..40),
        prop::collection::vec(any::<u8>(), 1..20),
        (any::<u8>(), 1usize..600).prop_map(|(b, n)| vec![b; n]),
    ];
    (prop::collection::vec(piece, 1..40), prop::collection::vec((0usize..10_000, 3usize..300), 0..20)).prop_map(
        |(pieces, copies)| {
            let mut v: Vec<u8> = pieces.concat();
            for (back, len) in copies {
                if v.is_empty() {
                    break;
                }
                let start = v.len() - 1 - back % v.len();
                for j in 0..len {
                    let b = v[start + j];
                    v.push(b);
                }
            }
            v
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        check(&data)?;
    }

    #[test]
    fn structured_inputs(data in structured()) {
        check(&data)?;
    }
}

#[test]
fn names_parse_and_print() {
    for f in [Format::Efi, Format::Tiano] {
        assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
    }
    for l in [Level::Fast, Level::Default, Level::Best] {
        assert_eq!(l.to_string().parse::<Level>().unwrap(), l);
    }
    assert_eq!("EFI".parse::<Format>().unwrap(), Format::Efi);
    assert!("lzma".parse::<Format>().is_err());
    assert!("max".parse::<Level>().unwrap_err().to_string().contains("fast"));
    assert_eq!(stream_sizes(&[1, 2, 3]), None);
}

#[test]
fn every_level_and_format_name_parses() {
    for name in optrom_codec::Level::NAMES {
        assert_eq!(name.parse::<optrom_codec::Level>().map(|l| l.to_string()), Ok(name.to_string()));
    }
    for name in optrom_codec::Format::NAMES {
        assert_eq!(name.parse::<optrom_codec::Format>().map(|f| f.to_string()), Ok(name.to_string()));
    }
}
