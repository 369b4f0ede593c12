//! Encoder front end: level configurations and stream assembly.

use crate::bits::Writer;
use crate::block::{Codes, CostModel, Hist, Params, Tok};
use crate::parse::{MatchLists, lazy, lazy_from_lists, optimal, optimal_range};
use crate::split::split;
use crate::{CompressOptions, Format, Level};

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
        let mut v = vec![8, 0, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&[0; 8]);
        return v;
    }
    let params = params(opts);
    let (toks, ends) = parse(input, &params, t);
    write_stream(input.len(), &toks, &ends, &params)
}

/// Byte position where each block starts, from token block ends.
fn block_starts(toks: &[Tok], ends: &[usize]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(ends.len());
    let mut pos = 0;
    let mut ti = 0;
    for &e in ends {
        starts.push(pos);
        pos += toks[ti..e].iter().map(|t| t.len()).sum::<usize>();
        ti = e;
    }
    starts
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

/// Exact size in bits of a parse, with the codes of every block.
fn evaluate(toks: &[Tok], ends: &[usize], params: &Params) -> (u64, Vec<(Hist, Box<Codes>)>) {
    let mut s = 0;
    let mut bits = 0;
    let v = ends
        .iter()
        .map(|&e| {
            let (b, h, k) = block_cost(&toks[s..e], params);
            s = e;
            bits += b;
            (h, k)
        })
        .collect();
    (bits, v)
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
        return if t.refine { polish(input, &ml, params, t, best) } else { best };
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
    if t.refine { polish(input, &ml, params, t, best) } else { best }
}

/// Per-block refinement and merging, then re-split and refine again while
/// that helps.
fn polish(
    input: &[u8],
    ml: &MatchLists,
    params: &Params,
    t: &Tuning,
    best: (Vec<Tok>, Vec<usize>),
) -> (Vec<Tok>, Vec<usize>) {
    let best = refine_blocks(input, ml, params, best);
    let mut best = merge_blocks(input, ml, params, best);
    let (mut best_bits, _) = evaluate(&best.0, &best.1, params);
    for _ in 0..RESPLITS {
        let ends = split(&best.0, params, t.chunk);
        let cand = refine_blocks(input, ml, params, (best.0.clone(), ends));
        let (bits, _) = evaluate(&cand.0, &cand.1, params);
        if bits >= best_bits {
            break;
        }
        (best, best_bits) = (cand, bits);
    }
    best
}

/// Most rounds of (split, refine) after the first refinement.
const RESPLITS: usize = 1;
/// Refinement rounds a trial merge gets (more rarely change the verdict).
const MERGE_ROUNDS: usize = 1;

/// Cost-model variants a block cycles through while it still shrinks (as in
/// [`ANNEAL`]); one more variant adds each symbol's share of the header.
const BLOCK_VARIANTS: [Option<(u32, f64)>; 3] = [None, Some((4096, 1024.0)), Some((0, 256.0))];
/// Header bits a used C symbol is charged, shared among its uses: a symbol
/// used once or twice costs its C length entry and often breaks a zero run.
const RARE_SYMBOL_BITS: f64 = 10.0;
/// Most refinement rounds per block.
const BLOCK_ROUNDS: usize = 6;

/// Re-parse every block on its own, inside fixed byte boundaries, and keep
/// each block's smallest parse: blocks cost independently once their
/// boundaries are fixed, so a block need not accept a global step that
/// helped others but not itself.
fn refine_blocks(
    input: &[u8],
    ml: &MatchLists,
    params: &Params,
    (toks, ends): (Vec<Tok>, Vec<usize>),
) -> (Vec<Tok>, Vec<usize>) {
    let starts = block_starts(&toks, &ends);
    let mut out_t = Vec::with_capacity(toks.len());
    let mut out_e = Vec::with_capacity(ends.len());
    let mut ts = 0;
    for (bi, &te) in ends.iter().enumerate() {
        let (lo, hi) = (starts[bi], starts.get(bi + 1).copied().unwrap_or(input.len()));
        let cur = &toks[ts..te];
        ts = te;
        let (_, refined) = refine_one(input, ml, params, lo, hi, cur.to_vec(), BLOCK_ROUNDS);
        out_t.extend_from_slice(&refined);
        out_e.push(out_t.len());
    }
    (out_t, out_e)
}

/// Exact size in bits of one block, with its histogram and codes.
fn block_cost(t: &[Tok], params: &Params) -> (u64, Hist, Box<Codes>) {
    let h = Hist::of(t);
    let k = Codes::final_codes(&h, params);
    (k.header_bits(h.n, params) + k.body_bits(&h, params.np), h, k)
}

/// Re-parse the block `lo..hi` with models derived from its own best parse
/// until none of the model variants shrinks it.
fn refine_one(
    input: &[u8],
    ml: &MatchLists,
    params: &Params,
    lo: usize,
    hi: usize,
    mut cur: Vec<Tok>,
    rounds: usize,
) -> (u64, Vec<Tok>) {
    let (mut bits, mut h, mut k) = block_cost(&cur, params);
    for _ in 0..rounds {
        let mut improved = false;
        for v in 0..=BLOCK_VARIANTS.len() {
            let m = match BLOCK_VARIANTS.get(v) {
                Some(None) => CostModel::from_codes(&k, params.np),
                Some(Some((w, f))) => CostModel::from_codes(&k, params.np).with_entropy_ties(&h, params.np, *w, *f),
                None => CostModel::from_codes(&k, params.np)
                    .with_entropy_ties(&h, params.np, 4096, 1024.0)
                    .with_header_share(&h, 4096, RARE_SYMBOL_BITS),
            };
            let nt = optimal_range(input, ml, lo, hi, &[lo], std::slice::from_ref(&m));
            if nt.len() > crate::split::MAX_BLOCK {
                continue;
            }
            let (b2, h2, k2) = block_cost(&nt, params);
            if b2 < bits {
                (bits, h, k, cur) = (b2, h2, k2, nt);
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    (bits, cur)
}

fn write_stream(orig: usize, toks: &[Tok], ends: &[usize], params: &Params) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(orig / 2 + 64));
    w.out.extend_from_slice(&[0; 8]);
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
    let comp = (out.len() - 8) as u32;
    out[0..4].copy_from_slice(&comp.to_le_bytes());
    out[4..8].copy_from_slice(&(orig as u32).to_le_bytes());
    out
}

/// Merge neighbouring blocks, left to right, where the merged range refined
/// on its own is smaller than the two blocks: the splitter judges a merge by
/// the parse made for two models and misses what one model's re-parse saves.
fn merge_blocks(
    input: &[u8],
    ml: &MatchLists,
    params: &Params,
    (toks, ends): (Vec<Tok>, Vec<usize>),
) -> (Vec<Tok>, Vec<usize>) {
    struct Block {
        lo: usize,
        hi: usize,
        bits: u64,
        toks: Vec<Tok>,
    }
    let starts = block_starts(&toks, &ends);
    let mut out: Vec<Block> = Vec::with_capacity(ends.len());
    let mut ts = 0;
    for (bi, &te) in ends.iter().enumerate() {
        let blk = Block {
            lo: starts[bi],
            hi: starts.get(bi + 1).copied().unwrap_or(input.len()),
            bits: block_cost(&toks[ts..te], params).0,
            toks: toks[ts..te].to_vec(),
        };
        ts = te;
        if let Some(prev) = out.last_mut()
            && prev.toks.len() + blk.toks.len() <= crate::split::MAX_BLOCK
        {
            let mut both = prev.toks.clone();
            both.extend_from_slice(&blk.toks);
            let (bits, both) = refine_one(input, ml, params, prev.lo, blk.hi, both, MERGE_ROUNDS);
            if bits < prev.bits + blk.bits {
                *prev = Block { lo: prev.lo, hi: blk.hi, bits, toks: both };
                continue;
            }
        }
        out.push(blk);
    }
    let mut ot = Vec::with_capacity(toks.len());
    let mut oe = Vec::with_capacity(out.len());
    for b in out {
        ot.extend_from_slice(&b.toks);
        oe.push(ot.len());
    }
    (ot, oe)
}
