//! Encoder front end: level configurations and stream assembly.

use crate::bits::Writer;
use crate::codes::Codes;
use crate::cost::{CostModel, block_starts, evaluate};
use crate::parse::{MatchLists, lazy, lazy_from_lists, optimal};
use crate::polish::polish;
use crate::split::split;
use crate::token::{Hist, Params, Tok};
use crate::{CompressOptions, Format, HEADER_LEN, Level, write_stream_sizes};

/// Effort knobs behind a [`Level`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tuning {
    /// Hash-chain depth.
    pub depth: usize,
    /// Use optimal parsing (else lazy only).
    pub optimal: bool,
    /// Optimal-parse passes (each re-derives costs from the previous pass).
    pub passes: usize,
    /// Block-split granularity in tokens (first pass / later passes).
    pub chunk_first: usize,
    pub chunk: usize,
    /// Optimal parse: consider the longest match of every position class.
    pub per_class: bool,
    /// Lazy parse: take matches of this length at once. Optimal parse:
    /// after a match this long, positions inside it only get its continuation.
    pub nice: usize,
    /// Lazy parse: length-3 matches are only taken up to this distance.
    pub max3: usize,
    /// Optimal parse: instead of `passes` plain refinement passes, run the
    /// [`ANNEAL`] schedule (cost models blended with entropy costs) and keep
    /// the smallest result.
    pub anneal: bool,
    /// Optimal parse: afterwards refine each block on its own, merge and
    /// re-split ([`polish`]).
    pub refine: bool,
}

/// Cost-model schedule of the annealed refinement: `None` = the Huffman
/// code lengths of the previous pass; `Some((w, f))` = `w`·lengths +
/// `f`·entropy costs (−log2 of the previous pass's frequencies), in 1/w bits.
const ANNEAL: [Option<(u32, f64)>; 6] =
    [Some((0, 256.0)), Some((0, 256.0)), Some((4096, 4096.0)), Some((4096, 1024.0)), None, None];

pub(crate) fn tuning(level: Level, format: Format) -> Tuning {
    let v2 = format == Format::Tiano;
    match level {
        Level::Fast => Tuning {
            depth: if v2 { 384 } else { 128 },
            optimal: false,
            per_class: false,
            passes: 0,
            chunk_first: 2048,
            chunk: 2048,
            nice: 64,
            max3: if v2 { 2048 } else { usize::MAX },
            anneal: false,
            refine: false,
        },
        Level::Default => Tuning {
            depth: if v2 { 128 } else { 96 },
            optimal: true,
            per_class: true,
            passes: 2,
            chunk_first: 1024,
            chunk: 256,
            nice: 256,
            max3: if v2 { 2048 } else { usize::MAX },
            anneal: false,
            refine: false,
        },
        Level::Best => Tuning {
            depth: if v2 { 2048 } else { 4096 },
            optimal: true,
            per_class: true,
            passes: 6,
            chunk_first: 512,
            chunk: if v2 { 128 } else { 32 },
            nice: usize::MAX, // no skipping inside long matches
            max3: if v2 { 2048 } else { usize::MAX },
            anneal: !v2,
            refine: true,
        },
    }
}

fn params(opts: &CompressOptions) -> Params {
    // Header-aware codes and exact split decisions: EFI at level Best.
    let opt_header = opts.level == Level::Best && opts.format == Format::Efi;
    match opts.format {
        Format::Efi if opts.allow_16k_efi_distances => Params { pbit: 4, np: 15, max_dist: 16384, opt_header },
        // Positions 0..=8190 (UEFI spec): distance ≤ 8191.
        Format::Efi => Params { pbit: 4, np: 14, max_dist: 8191, opt_header },
        // 512 KiB window, positions ≤ 2^19 - 2 (symbols 0..=19).
        Format::Tiano => Params { pbit: 5, np: 20, max_dist: (1 << 19) - 1, opt_header },
    }
}

pub(crate) fn compress(input: &[u8], opts: &CompressOptions) -> Vec<u8> {
    compress_tuned(input, opts, &tuning(opts.level, opts.format))
}

pub(crate) fn compress_tuned(input: &[u8], opts: &CompressOptions, t: &Tuning) -> Vec<u8> {
    assert!(u32::try_from(input.len()).is_ok(), "input larger than 4 GiB");
    if input.is_empty() {
        // What EfiCompress writes for empty input: an 8-byte all-zero body
        // (decoders return at once because OrigSize is 0).
        let mut v = vec![0; HEADER_LEN + 8];
        write_stream_sizes(&mut v, 8, 0);
        return v;
    }
    let params = params(opts);
    let (toks, ends) = parse(input, &params, t);
    write_stream(input.len(), &toks, &ends, &params)
}

fn models(coded: &[(Hist, Box<Codes>)], np: usize, mix: Option<(u32, f64)>) -> Vec<CostModel> {
    coded
        .iter()
        .map(|(h, k)| {
            let m = CostModel::from_codes(k, np);
            match mix {
                Some((w, f)) => m.with_entropy_ties(h, np, w, f),
                None => m,
            }
        })
        .collect()
}

fn parse(input: &[u8], params: &Params, t: &Tuning) -> (Vec<Tok>, Vec<usize>) {
    if !t.optimal {
        let toks = lazy(input, params.max_dist, t.depth, t.max3, t.nice);
        let ends = split(&toks, params, t.chunk_first);
        return (toks, ends);
    }
    let ml = MatchLists::collect(input, params.max_dist, t.depth, t.nice, t.per_class);
    let toks = lazy_from_lists(input, &ml, t.max3);
    let ends = split(&toks, params, t.chunk_first);
    let (mut best_bits, mut coded) = evaluate(&toks, &ends, params);
    let mut best = (toks, ends);
    if !t.anneal {
        for _ in 0..t.passes {
            let (toks, ends) = (&best.0, &best.1);
            let starts = block_starts(toks, ends);
            let ms = models(&coded, params.np, None);
            let nt = optimal(input, &ml, &starts, &ms);
            let ne = split(&nt, params, t.chunk);
            let (bits, nc) = evaluate(&nt, &ne, params);
            if bits < best_bits {
                best_bits = bits;
                best = (nt, ne);
                coded = nc;
            } else {
                break;
            }
        }
        return if t.refine { polish(input, &ml, params, t.chunk, best) } else { best };
    }
    // Annealed refinement: every pass continues from the previous one (even
    // when it was worse); the smallest parse seen wins.
    let mut cur = best.clone();
    for mix in ANNEAL {
        let starts = block_starts(&cur.0, &cur.1);
        let ms = models(&coded, params.np, mix);
        let nt = optimal(input, &ml, &starts, &ms);
        let ne = split(&nt, params, t.chunk);
        let (bits, nc) = evaluate(&nt, &ne, params);
        cur = (nt, ne);
        coded = nc;
        if bits < best_bits {
            best_bits = bits;
            best = cur.clone();
        }
    }
    if t.refine { polish(input, &ml, params, t.chunk, best) } else { best }
}

fn write_stream(orig: usize, toks: &[Tok], ends: &[usize], params: &Params) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(orig / 2 + 64));
    w.out.extend_from_slice(&[0; HEADER_LEN]);
    let mut s = 0;
    let mut last_c = 0u64;
    for &e in ends {
        let blk = &toks[s..e];
        let h = Hist::of(blk);
        assert!((1..=65535).contains(&h.n), "block size out of range");
        let k = Codes::final_codes(&h, params);
        k.write_header(&mut w, h.n, params);
        for &tk in blk {
            last_c = w.bit_len();
            k.write_tok(&mut w, tk);
        }
        s = e;
    }
    let mut out = w.finish();
    // Terminator byte (counted in CompSize, as EfiCompress does). Decoders
    // that peek 12 bits for every C code without zero padding need 12 bits
    // after the start of the last code: add a byte if that is short.
    out.push(0);
    if (out.len() as u64) * 8 - last_c < 12 {
        out.push(0);
    }
    let comp = (out.len() - HEADER_LEN) as u32;
    write_stream_sizes(&mut out, comp, orig as u32);
    out
}
