//! Interoperability with EDK2's codec (through Python's `uefi_firmware`):
//! every stream we write must decode byte-exactly with EDK2's decoder, and
//! our decoder must decode EDK2's compressor output. On the Debian corpus every
//! level's stream is no larger than EDK2's compressor output.

mod common;

use common::Edk2;
use optrom_codec::{CompressOptions, Format, Level, compress, compress_with, decompress};

const LEVELS: [Level; 3] = [Level::Fast, Level::Default, Level::Best];
const FORMATS: [Format; 2] = [Format::Efi, Format::Tiano];

/// Compress `data` at every level (or with `opts`), check both decoders give it
/// back, and return each level's stream size.
fn check_ours_with_edk2(
    mut e: Option<&mut Edk2>,
    name: &str,
    data: &[u8],
    f: Format,
    opts: Option<CompressOptions>,
) -> Vec<(Level, usize)> {
    let levels: Vec<CompressOptions> = match opts {
        Some(o) => vec![o],
        None => {
            LEVELS.iter().map(|&level| CompressOptions { format: f, level, allow_16k_efi_distances: false }).collect()
        }
    };
    let mut sizes = Vec::new();
    for o in levels {
        let c = compress_with(data, &o);
        sizes.push((o.level, c.len()));
        if let Some(e) = e.as_deref_mut() {
            let back =
                e.decompress(o.format, &c).unwrap_or_else(|m| panic!("{name} {o:?}: EDK2 rejected our stream: {m}"));
            assert!(back == data, "{name} {o:?}: EDK2 decoded {} bytes, not the original {}", back.len(), data.len());
        }
        let ours = decompress(o.format, &c, data.len()).unwrap_or_else(|err| panic!("{name} {o:?}: {err}"));
        assert!(ours == data, "{name} {o:?}: our decoder disagrees");
    }
    sizes
}

fn corpus_test(f: Format) {
    let Some(mut e) = Edk2::start() else { return };
    for (name, data) in common::corpus(&mut e) {
        // EDK2's compressor output decodes with our decoder.
        let theirs = e.compress(f, &data);
        let d = decompress(f, &theirs, data.len()).unwrap_or_else(|err| panic!("{name}: EDK2 stream: {err}"));
        assert!(d == data, "{name}: our decoder on EDK2's stream gives wrong output");
        // Sizes are deterministic: every level's stream is at most EDK2's
        // (its own compressor, the reference), for every corpus file.
        for (level, size) in check_ours_with_edk2(Some(&mut e), &name, &data, f, None) {
            assert!(size <= theirs.len(), "{name} {f} level {level}: {size} B, EDK2's compressor {} B", theirs.len());
        }
    }
}

#[test]
fn corpus_efi() {
    corpus_test(Format::Efi);
}

#[test]
fn corpus_tiano() {
    corpus_test(Format::Tiano);
}

#[test]
fn corpus_efi_16k_opt_in() {
    let Some(mut e) = Edk2::start() else { return };
    let corpus = common::corpus(&mut e);
    for (name, data) in corpus.iter().take(2) {
        for level in LEVELS {
            let o = CompressOptions { format: Format::Efi, level, allow_16k_efi_distances: true };
            let _ = check_ours_with_edk2(Some(&mut e), name, data, Format::Efi, Some(o));
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

/// A block of noise repeated at exactly distance `dist` (the best match for
/// every byte of the second copy lies at that distance).
fn repeat_at(dist: usize, len: usize, seed: u64) -> Vec<u8> {
    let mut v = noise(dist, seed);
    let head = v[..len].to_vec();
    v.extend_from_slice(&head);
    v
}

fn synthetic() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("one byte".into(), vec![0x41]),
        ("three bytes".into(), b"abc".to_vec()),
        // Two C symbols of length 1: the T table has a single symbol.
        ("bytes 0 and 1".into(), vec![0, 1]),
        ("zeros 100k".into(), vec![0; 100_000]),
        ("random 64k".into(), noise(65_536, 7)),
        ("pattern".into(), b"abcabcabdabcabcabd".repeat(3000)),
        ("long repeat of noise".into(), noise(5000, 3).repeat(20)),
        ("two symbols".into(), (0..10_000).map(|i| if i % 7 == 0 { b'x' } else { b'y' }).collect()),
    ];
    // > 65,535 symbols: mostly literals that cannot match.
    let mut many = noise(150_000, 11);
    many.extend(vec![0u8; 70_000]);
    v.push(("several blocks".into(), many));
    for d in [8190, 8191, 8192, 8193, 16384, 16385] {
        v.push((format!("repeat at distance {d}"), repeat_at(d, 300, d as u64)));
    }
    v
}

#[test]
fn synthetic_inputs() {
    // Without EDK2 (OPTROM_SKIP_EXTERNAL=1) only our own decoder checks.
    let mut e = Edk2::start();
    for (name, data) in synthetic() {
        for f in FORMATS {
            let _ = check_ours_with_edk2(e.as_mut(), &name, &data, f, None);
            if f == Format::Efi {
                for level in LEVELS {
                    let o = CompressOptions { format: f, level, allow_16k_efi_distances: true };
                    let _ = check_ours_with_edk2(e.as_mut(), &name, &data, f, Some(o));
                }
            }
            if let Some(e) = e.as_mut() {
                let theirs = e.compress(f, &data);
                assert_eq!(decompress(f, &theirs, data.len()).unwrap(), data, "{name}: EDK2 stream");
            }
        }
    }
}

#[test]
fn distances_respect_the_window() {
    // Best matches at distance 8192 lie outside the v1 window (positions ≤
    // 8190): the default encoder must not use them; with the opt-in it may.
    let data = repeat_at(8192, 4000, 5);
    let plain = compress(Format::Efi, &data, Level::Best);
    let wide = compress_with(
        &data,
        &CompressOptions { format: Format::Efi, level: Level::Best, allow_16k_efi_distances: true },
    );
    assert!(wide.len() + 2000 < plain.len(), "opt-in should find the 8192 match ({} vs {})", wide.len(), plain.len());
    let data = repeat_at(8191, 4000, 5);
    let near = compress(Format::Efi, &data, Level::Best);
    assert!(near.len() + 2000 < plain.len(), "distance 8191 (position 8190) is allowed");
}
