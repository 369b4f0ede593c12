//! Block-level refinement after the global parse ([`Level::Best`]): every
//! block re-parsed for its own codes, neighbours merged, the stream re-split,
//! and the boundaries between blocks moved to where the pair costs least.
//!
//! The global parse and the splitter each work with the other's result held
//! fixed; these steps judge every change by the exact size of the blocks it
//! touches (header included) and keep it only when that drops, so they can
//! never make a stream larger.
//!
//! [`Level::Best`]: crate::Level::Best

use crate::codes::{Codes, block_bits};
use crate::cost::{CostModel, block_cost, block_starts, evaluate};
use crate::parse::{MatchLists, optimal_range, optimal_segments};
use crate::split::{MAX_BLOCK, split};
use crate::token::{Hist, Params, Tok};

/// Refinement rounds a trial merge gets (more rarely change the verdict).
const MERGE_ROUNDS: usize = 1;
/// Cost-model variants a block cycles through while it still shrinks (as in
/// the global schedule); one more variant adds each symbol's share of the
/// header.
const BLOCK_VARIANTS: [Option<(u32, f64)>; 3] = [None, Some((4096, 1024.0)), Some((0, 256.0))];
/// Header bits a used C symbol is charged, shared among its uses: a symbol
/// used once or twice costs its C length entry and often breaks a zero run.
const RARE_SYMBOL_BITS: f64 = 10.0;
/// Most refinement rounds per block.
const BLOCK_ROUNDS: usize = 6;
/// Bytes on each side of a boundary that a pair re-parse covers: away from
/// the boundary the parse already fits its block's codes.
const BOUNDARY_WINDOW: usize = 16 * 1024;
/// Token shifts a boundary is tried at with plain costs, nearest first.
const WIDE_SHIFTS: [usize; 16] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512];
/// Token shifts tried with exact costs afterwards.
const NARROW_SHIFTS: [usize; 6] = [1, 2, 3, 4, 6, 8];

/// One block: its byte range and its tokens.
#[derive(Clone)]
struct Block {
    lo: usize,
    hi: usize,
    toks: Vec<Tok>,
}

fn to_blocks(input_len: usize, (toks, ends): (Vec<Tok>, Vec<usize>)) -> Vec<Block> {
    let starts = block_starts(&toks, &ends);
    let mut ts = 0;
    ends.iter()
        .enumerate()
        .map(|(bi, &te)| {
            let b = Block {
                lo: starts[bi],
                hi: starts.get(bi + 1).copied().unwrap_or(input_len),
                toks: toks[ts..te].to_vec(),
            };
            ts = te;
            b
        })
        .collect()
}

fn from_blocks(blocks: Vec<Block>) -> (Vec<Tok>, Vec<usize>) {
    let mut toks = Vec::with_capacity(blocks.iter().map(|b| b.toks.len()).sum());
    let mut ends = Vec::with_capacity(blocks.len());
    for b in blocks {
        toks.extend_from_slice(&b.toks);
        ends.push(toks.len());
    }
    (toks, ends)
}

/// Per-block refinement and merging, then a re-split (kept if smaller), then
/// the boundaries moved: first by re-parsing each pair of neighbours with
/// the boundary free, then by whole-token shifts; then every block is
/// refined again.
pub(crate) fn polish(
    input: &[u8],
    ml: &MatchLists,
    params: &Params,
    chunk: usize,
    best: (Vec<Tok>, Vec<usize>),
) -> (Vec<Tok>, Vec<usize>) {
    let best = refine_blocks(input, ml, params, best);
    let mut best = merge_blocks(input, ml, params, best);
    let (best_bits, _) = evaluate(&best.0, &best.1, params);
    // Re-split the refined parse once; keep it if it is smaller.
    let ends = split(&best.0, params, chunk);
    let cand = refine_blocks(input, ml, params, (best.0.clone(), ends));
    let (bits, _) = evaluate(&cand.0, &cand.1, params);
    if bits < best_bits {
        best = cand;
    }
    let blocks = free_boundaries(input, ml, params, chunk, to_blocks(input.len(), best));
    let blocks = shift_boundaries(params, blocks);
    // Both steps changed blocks near their ends: re-parse them whole.
    refine_blocks(input, ml, params, from_blocks(blocks))
}

/// Re-parse every block on its own, inside fixed byte boundaries, and keep
/// each block's smallest parse: blocks cost independently once their
/// boundaries are fixed, so a block need not accept a global step that
/// helped others but not itself.
fn refine_blocks(
    input: &[u8],
    ml: &MatchLists,
    params: &Params,
    best: (Vec<Tok>, Vec<usize>),
) -> (Vec<Tok>, Vec<usize>) {
    let blocks = to_blocks(input.len(), best)
        .into_iter()
        .map(|b| {
            let (_, toks) = refine_one(input, ml, params, b.lo, b.hi, b.toks, BLOCK_ROUNDS);
            Block { toks, ..b }
        })
        .collect();
    from_blocks(blocks)
}

/// Cost model variant `v` of a block's codes: the [`BLOCK_VARIANTS`], then
/// (`v == BLOCK_VARIANTS.len()`) the one with header shares.
fn variant_model(k: &Codes, h: &Hist, np: usize, v: usize) -> CostModel {
    match BLOCK_VARIANTS.get(v) {
        Some(None) => CostModel::from_codes(k, np),
        Some(Some((w, f))) => CostModel::from_codes(k, np).with_entropy_ties(h, np, *w, *f),
        None => CostModel::from_codes(k, np).with_entropy_ties(h, np, 4096, 1024.0).with_header_share(
            h,
            4096,
            RARE_SYMBOL_BITS,
        ),
    }
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
            let m = variant_model(&k, &h, params.np, v);
            let nt = optimal_range(input, ml, lo, hi, &[lo], std::slice::from_ref(&m));
            if nt.len() > MAX_BLOCK {
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

/// Merge neighbouring blocks, left to right, where the merged range refined
/// on its own is smaller than the two blocks: the splitter judges a merge by
/// the parse made for two models and misses what one model's re-parse saves.
fn merge_blocks(
    input: &[u8],
    ml: &MatchLists,
    params: &Params,
    best: (Vec<Tok>, Vec<usize>),
) -> (Vec<Tok>, Vec<usize>) {
    let mut out: Vec<(u64, Block)> = Vec::new();
    for blk in to_blocks(input.len(), best) {
        let bits = block_cost(&blk.toks, params).0;
        if let Some((prev_bits, prev)) = out.last_mut()
            && prev.toks.len() + blk.toks.len() <= MAX_BLOCK
        {
            let mut both = prev.toks.clone();
            both.extend_from_slice(&blk.toks);
            let (merged_bits, both) = refine_one(input, ml, params, prev.lo, blk.hi, both, MERGE_ROUNDS);
            if merged_bits < *prev_bits + bits {
                *prev_bits = merged_bits;
                *prev = Block { lo: prev.lo, hi: blk.hi, toks: both };
                continue;
            }
        }
        out.push((bits, blk));
    }
    from_blocks(out.into_iter().map(|(_, b)| b).collect())
}

/// Re-parse each pair of neighbouring blocks near their boundary with the
/// boundary free ([`optimal_segments`] with each block's model variants),
/// keeping the best result that is smaller than the pair.
///
/// A block the free boundary would push past [`MAX_BLOCK`] symbols is cut
/// where the splitter finds it cheapest: when the block limit forced a cut
/// in the middle of uniform data, a small block at another place (often the
/// start of the file) lets the big one reach its natural end.
fn free_boundaries(input: &[u8], ml: &MatchLists, params: &Params, chunk: usize, mut blocks: Vec<Block>) -> Vec<Block> {
    let mut bi = 0;
    while bi + 1 < blocks.len() {
        let (a, b) = (&blocks[bi], &blocks[bi + 1]);
        let (ca, ha, ka) = block_cost(&a.toks, params);
        let (cb, hb, kb) = block_cost(&b.toks, params);
        let mut best_bits = ca + cb;
        // The window: a's tokens before `wlo` and b's from `whi` on stay.
        let (keep_a, wlo) = prefix_before(&a.toks, a.lo, a.hi.saturating_sub(BOUNDARY_WINDOW));
        let (keep_b, whi) = suffix_after(&b.toks, b.hi, b.lo + BOUNDARY_WINDOW);
        let mut replacement: Option<Vec<Block>> = None;
        for v in 0..=BLOCK_VARIANTS.len() {
            let models = [variant_model(&ka, &ha, params.np, v), variant_model(&kb, &hb, params.np, v)];
            let (mid, cuts) = optimal_segments(input, ml, wlo, whi, &models);
            let mut left = a.toks[..keep_a].to_vec();
            left.extend_from_slice(&mid[..cuts[0]]);
            let mut right = mid[cuts[0]..].to_vec();
            right.extend_from_slice(&b.toks[b.toks.len() - keep_b..]);
            let at = a.lo + left.iter().map(|t| t.len()).sum::<usize>();
            let mut pieces = Vec::with_capacity(3);
            for blk in [Block { lo: a.lo, hi: at, toks: left }, Block { lo: at, hi: b.hi, toks: right }] {
                if blk.toks.len() <= MAX_BLOCK {
                    pieces.push(blk);
                } else {
                    pieces.extend(cut_oversized(input, ml, params, chunk, blk));
                }
            }
            let bits: u64 = pieces.iter().map(|p| block_cost(&p.toks, params).0).sum();
            if bits < best_bits {
                best_bits = bits;
                replacement = Some(pieces);
            }
        }
        if let Some(r) = replacement {
            blocks.splice(bi..bi + 2, r);
        }
        bi += 1;
    }
    blocks
}

/// How many leading tokens of a block starting at `lo` end at or before
/// `limit`, and the byte position they end at (at least one token is left).
fn prefix_before(toks: &[Tok], lo: usize, limit: usize) -> (usize, usize) {
    let (mut n, mut pos) = (0, lo);
    for t in &toks[..toks.len() - 1] {
        if pos + t.len() > limit {
            break;
        }
        pos += t.len();
        n += 1;
    }
    (n, pos)
}

/// How many trailing tokens of a block ending at `hi` start at or after
/// `limit`, and the byte position they start at (at least one token is left).
fn suffix_after(toks: &[Tok], hi: usize, limit: usize) -> (usize, usize) {
    let (mut n, mut pos) = (0, hi);
    for t in toks[1..].iter().rev() {
        if pos < limit + t.len() {
            break;
        }
        pos -= t.len();
        n += 1;
    }
    (n, pos)
}

/// Split a block over [`MAX_BLOCK`] symbols where the splitter finds it
/// cheapest and refine the pieces.
fn cut_oversized(input: &[u8], ml: &MatchLists, params: &Params, chunk: usize, blk: Block) -> Vec<Block> {
    let ends = split(&blk.toks, params, chunk);
    to_blocks(blk.hi - blk.lo, (blk.toks, ends))
        .into_iter()
        .map(|p| {
            let (lo, hi) = (blk.lo + p.lo, blk.lo + p.hi);
            let (_, toks) = refine_one(input, ml, params, lo, hi, p.toks, MERGE_ROUNDS);
            Block { lo, hi, toks }
        })
        .collect()
}

/// Move each boundary by whole tokens while the two blocks shrink (the pair
/// re-parse decides with model costs, not exact ones): a wide search with
/// plain Huffman costs, then a narrow one with the exact costs.
fn shift_boundaries(params: &Params, mut blocks: Vec<Block>) -> Vec<Block> {
    for bi in 0..blocks.len().saturating_sub(1) {
        let mut both = blocks[bi].toks.clone();
        both.extend_from_slice(&blocks[bi + 1].toks);
        let admissible = |at: usize| at > 0 && at < both.len() && at <= MAX_BLOCK && both.len() - at <= MAX_BLOCK;
        let plain = |at: usize| block_bits(&Hist::of(&both[..at]), params) + block_bits(&Hist::of(&both[at..]), params);
        let exact = |at: usize| block_cost(&both[..at], params).0 + block_cost(&both[at..], params).0;
        let start = blocks[bi].toks.len();
        let wide = climb(start, &WIDE_SHIFTS, admissible, plain);
        let from = if wide != start && exact(wide) < exact(start) { wide } else { start };
        let at = climb(from, &NARROW_SHIFTS, admissible, exact);
        if at != start {
            let mid = blocks[bi].lo + both[..at].iter().map(|t| t.len()).sum::<usize>();
            let right = both.split_off(at);
            blocks[bi] = Block { lo: blocks[bi].lo, hi: mid, toks: both };
            blocks[bi + 1] = Block { lo: mid, hi: blocks[bi + 1].hi, toks: right };
        }
    }
    blocks
}

/// First-improvement hill climb of a cut position over `shifts` (nearest
/// first) in both directions.
fn climb(mut at: usize, shifts: &[usize], admissible: impl Fn(usize) -> bool, cost: impl Fn(usize) -> u64) -> usize {
    let mut bits = cost(at);
    'search: loop {
        for &d in shifts {
            for cand in [at + d, at.wrapping_sub(d)] {
                if !admissible(cand) {
                    continue;
                }
                let b = cost(cand);
                if b < bits {
                    (at, bits) = (cand, b);
                    continue 'search;
                }
            }
        }
        return at;
    }
}

#[cfg(test)]
mod tests {
    use crate::encode::{compress_tuned, tuning};
    use crate::{CompressOptions, Format, Level, decompress};

    /// Several regions with different statistics, long enough for blocks
    /// the refinement can move, merge and cut.
    fn regions() -> Vec<u8> {
        let mut next = crate::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let mut v = Vec::new();
        for r in 0..6 {
            for i in 0..5000 {
                v.push(match r % 3 {
                    0 => b"the quick brown fox "[(next() % 20) as usize],
                    1 => (next() % 251) as u8,
                    _ => {
                        if i % 9 == 0 {
                            0
                        } else {
                            (next() % 16) as u8 + 0x40
                        }
                    }
                });
            }
        }
        v
    }

    #[test]
    fn polish_shrinks_and_round_trips() {
        let data = regions();
        for format in [Format::Efi, Format::Tiano] {
            let opts = CompressOptions { format, level: Level::Best, allow_16k_efi_distances: false };
            let mut t = tuning(Level::Best, format);
            let polished = compress_tuned(&data, &opts, &t);
            t.refine = false;
            let plain = compress_tuned(&data, &opts, &t);
            // Every step keeps only what shrinks the blocks it touches; on
            // these regions it shrinks the stream by about 3 %.
            assert!(polished.len() < plain.len(), "{format:?}: {} >= {}", polished.len(), plain.len());
            assert_eq!(decompress(format, &polished, data.len()).unwrap(), data);
        }
    }
}
