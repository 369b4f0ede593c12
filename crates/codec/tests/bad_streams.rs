//! Hand-crafted streams: each malformed case is rejected with the right
//! error kind (including cases EDK2's decoder silently accepts), and the
//! well-formed corner cases decode.

use optrom_codec::{DecodeErrorKind as K, Format, Table, decompress};

/// MSB-first bit writer for crafting streams.
#[derive(Default)]
struct Bits {
    bits: Vec<bool>,
}

impl Bits {
    fn put(&mut self, n: u32, v: u32) -> &mut Self {
        for i in (0..n).rev() {
            self.bits.push((v >> i) & 1 == 1);
        }
        self
    }
    /// Stream with header; `orig` is the declared original size.
    fn stream(&self, orig: u32) -> Vec<u8> {
        let mut body: Vec<u8> = self
            .bits
            .chunks(8)
            .map(|c| c.iter().enumerate().fold(0u8, |a, (i, &b)| a | (u8::from(b) << (7 - i))))
            .collect();
        body.push(0); // terminator
        let mut v = (body.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(&orig.to_le_bytes());
        v.extend(body);
        v
    }
}

fn kind(stream: &[u8]) -> K {
    decompress(Format::Efi, stream, 1 << 20).expect_err("stream should be rejected").kind
}

/// T table in the single-symbol form (symbol `t`, 0-bit codes).
fn t_single(b: &mut Bits, t: u32) {
    b.put(5, 0).put(5, t);
}

/// P table with a single symbol (v1: 4-bit fields).
fn p_single(b: &mut Bits, p: u32) {
    b.put(4, 0).put(4, p);
}

/// A block "literal 'a', then match (length 3, distance 1)" with `nsym` as
/// its declared symbol count.
fn a_then_copy(nsym: u32) -> Bits {
    let mut b = Bits::default();
    b.put(16, nsym);
    // T lengths: symbols 2 and 3 (C zero-run of 20+ and C length 1), 1 bit each.
    b.put(5, 4).put(3, 0).put(3, 0).put(3, 1).put(2, 0).put(3, 1);
    // C lengths, n = 257: 97 zeros, len 1 ('a'), 158 zeros, len 1 (symbol 256).
    b.put(9, 257);
    b.put(1, 0).put(9, 97 - 20); // T2: zero run
    b.put(1, 1); // T3: length 1
    b.put(1, 0).put(9, 158 - 20);
    b.put(1, 1);
    p_single(&mut b, 0);
    // Body: 'a' (code 0), match length 3 (code 1), position 0 (0 bits).
    b.put(1, 0).put(1, 1);
    b
}

#[test]
fn well_formed_crafted_stream_decodes() {
    assert_eq!(decompress(Format::Efi, &a_then_copy(2).stream(4), 100).unwrap(), b"aaaa");
}

#[test]
fn copy_past_declared_size() {
    assert_eq!(kind(&a_then_copy(2).stream(2)), K::OutputSizeMismatch { expected: 2, actual: 4 });
}

#[test]
fn symbols_left_after_output_complete() {
    assert_eq!(kind(&a_then_copy(3).stream(4)), K::ExcessSymbols { remaining: 1 });
}

#[test]
fn declared_size_above_limit() {
    let e = decompress(Format::Efi, &a_then_copy(2).stream(4), 3).unwrap_err();
    assert_eq!(e.kind, K::DeclaredSizeTooLarge { declared: 4, limit: 3 });
    assert_eq!(e.bit_offset, 32);
}

#[test]
fn truncation() {
    let s = a_then_copy(2).stream(4);
    // Shorter than the header.
    assert_eq!(kind(&s[..5]), K::Truncated);
    // Shorter than the declared compressed size.
    assert_eq!(kind(&s[..s.len() - 1]), K::Truncated);
    // Declared compressed size too small for the bits the decoder needs
    // (EDK2 would feed zero bits and carry on).
    let mut cut = s[..9].to_vec();
    cut[0..4].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(kind(&cut), K::Truncated);
}

#[test]
fn copy_before_start() {
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 0);
    b.put(9, 0).put(9, 256); // C: only "match of length 3"
    p_single(&mut b, 0);
    let e = decompress(Format::Efi, &b.stream(3), 100).unwrap_err();
    assert_eq!(e.kind, K::CopyBeforeStart { distance: 1, position: 0 });
    assert_eq!(
        e.to_string(),
        format!("at bit {}: copy from distance 1 at output position 0 starts before the output", e.bit_offset)
    );
}

#[test]
fn oversubscribed_c_table_is_rejected() {
    // EDK2 ignores MakeTable's result for the C table and decodes garbage.
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 3); // every C length is 1
    b.put(9, 3); // three lengths of 1 bit: Kraft sum 1.5
    p_single(&mut b, 0);
    b.put(1, 0);
    let e = decompress(Format::Efi, &b.stream(1), 100).unwrap_err();
    assert_eq!(e.kind, K::OversubscribedCode { table: Table::C });
    assert!(e.to_string().ends_with("over-subscribed Huffman code in the C table"), "{e}");
}

#[test]
fn incomplete_c_table_is_rejected() {
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 3);
    b.put(9, 1); // one length of 1 bit: Kraft sum 0.5
    p_single(&mut b, 0);
    b.put(1, 0);
    let e = decompress(Format::Efi, &b.stream(1), 100).unwrap_err();
    assert_eq!(e.kind, K::IncompleteCode { table: Table::C });
    assert!(e.to_string().contains("incomplete Huffman code in the C table"));
}

#[test]
fn incomplete_t_table_is_rejected() {
    let mut b = Bits::default();
    b.put(16, 1);
    b.put(5, 2).put(3, 1).put(3, 2); // lengths 1, 2: Kraft sum 0.75
    assert_eq!(kind(&b.stream(1)), K::IncompleteCode { table: Table::T });
}

#[test]
fn oversubscribed_p_table_is_rejected() {
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 0);
    b.put(9, 0).put(9, 65); // C: literal 'A' only
    b.put(4, 3).put(3, 1).put(3, 1).put(3, 1);
    assert_eq!(kind(&b.stream(1)), K::OversubscribedCode { table: Table::P });
}

#[test]
fn all_zero_p_lengths_are_rejected() {
    // EDK2 passes this Kraft check (sum 0) and leaves stale table entries.
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 0);
    b.put(9, 0).put(9, 65);
    b.put(4, 2).put(3, 0).put(3, 0);
    assert_eq!(kind(&b.stream(1)), K::IncompleteCode { table: Table::P });
}

#[test]
fn code_length_above_16_is_rejected() {
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 0);
    b.put(9, 0).put(9, 65);
    // P: n = 2, first length 17 = 13 one bits and a zero.
    b.put(4, 2).put(14, 0b11_1111_1111_1110).put(3, 1);
    assert_eq!(kind(&b.stream(1)), K::CodeLengthTooLong { table: Table::P, length: 17 });
}

#[test]
fn too_many_t_lengths_are_rejected() {
    let mut b = Bits::default();
    b.put(16, 1);
    b.put(5, 20);
    assert_eq!(kind(&b.stream(1)), K::TooManyCodeLengths { table: Table::T, count: 20, max: 19 });
}

#[test]
fn single_symbol_out_of_range_is_rejected() {
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 0);
    b.put(9, 0).put(9, 510);
    assert_eq!(kind(&b.stream(1)), K::InvalidSymbol { table: Table::C, symbol: 510 });
    let mut b = Bits::default();
    b.put(16, 1);
    t_single(&mut b, 19);
    assert_eq!(kind(&b.stream(1)), K::InvalidSymbol { table: Table::T, symbol: 19 });
}

#[test]
fn block_size_zero_means_65536_symbols() {
    // As in EDK2 (UINT16 counter); our encoder never writes it.
    let mut b = Bits::default();
    b.put(16, 0);
    t_single(&mut b, 0);
    b.put(9, 0).put(9, u32::from(b'x'));
    p_single(&mut b, 0);
    let out = decompress(Format::Efi, &b.stream(65_536), 1 << 20).unwrap();
    assert_eq!(out, vec![b'x'; 65_536]);
    // 65,537 bytes need a second block, whose header is missing.
    assert_eq!(kind(&b.stream(65_537)), K::Truncated);
}

#[test]
fn empty_and_trailing_padding() {
    // OrigSize 0 decodes to nothing whatever follows; padding after
    // CompSize bytes is ignored.
    assert_eq!(decompress(Format::Efi, &[0; 16], 0).unwrap(), Vec::<u8>::new());
    let mut s = a_then_copy(2).stream(4);
    s.extend_from_slice(&[0xFF; 100]);
    assert!(decompress(Format::Tiano, &s, 4).is_err(), "v2 reads a 5-bit P count");
    assert_eq!(decompress(Format::Efi, &s, 4).unwrap(), b"aaaa");
}

#[test]
fn garbage_never_panics() {
    let mut s: u64 = 0x1234_5678_9abc_def1;
    for len in 0..300usize {
        for _ in 0..20 {
            let mut v: Vec<u8> = (0..len)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    s as u8
                })
                .collect();
            if v.len() >= 8 {
                let comp = (v.len() - 8) as u32;
                v[0..4].copy_from_slice(&comp.to_le_bytes());
                v[4..8].copy_from_slice(&((s % 5000) as u32).to_le_bytes());
            }
            for f in [Format::Efi, Format::Tiano] {
                let _ = decompress(f, &v, 1 << 16);
            }
        }
    }
}
