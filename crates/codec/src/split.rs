//! Cost-based block splitting.

use crate::codes::{Codes, block_bits};
use crate::decode::NC;
use crate::token::{Hist, Params, Tok, psym};

/// Largest number of symbols in a block the encoder writes.
pub(crate) const MAX_BLOCK: usize = 65535;

struct Prefix<'a> {
    stride: usize,
    np: usize,
    sums: Vec<u32>,
    /// Token index of each chunk boundary.
    bounds: Vec<usize>,
    params: &'a Params,
    /// Search cuts with the plain cost, then decide with the exact cost of
    /// the codes the writer will use ([`Codes::final_codes`]).
    exact: bool,
}

impl Prefix<'_> {
    fn hist(&self, a: usize, b: usize) -> Hist {
        let mut h = Hist::new();
        let (x, y) = (&self.sums[a * self.stride..][..self.stride], &self.sums[b * self.stride..][..self.stride]);
        for s in 0..NC {
            h.c[s] = y[s] - x[s];
        }
        for k in 0..self.np {
            h.p[k] = y[NC + k] - x[NC + k];
        }
        h.n = (self.bounds[b] - self.bounds[a]) as u32;
        h
    }

    fn cost(&self, a: usize, b: usize) -> u64 {
        block_bits(&self.hist(a, b), self.params)
    }

    /// Exact cost with the codes the writer will use.
    fn xcost(&self, a: usize, b: usize) -> u64 {
        let h = self.hist(a, b);
        let k = Codes::final_codes(&h, self.params);
        k.header_bits(h.n, self.params) + k.body_bits(&h, self.params.np)
    }

    fn split(&self, a: usize, b: usize, whole: u64, out: &mut Vec<usize>) {
        let ntok = self.bounds[b] - self.bounds[a];
        if b - a >= 2 {
            let mut best: Option<(u64, usize, u64, u64)> = None;
            let try_at = |k: usize, best: &mut Option<(u64, usize, u64, u64)>| {
                let left = self.bounds[k] - self.bounds[a];
                let right = self.bounds[b] - self.bounds[k];
                if left > MAX_BLOCK && right > MAX_BLOCK {
                    return;
                }
                let (l, r) = (self.cost(a, k), self.cost(k, b));
                // Prefer splits that keep both halves within the block limit.
                let over = left > MAX_BLOCK || right > MAX_BLOCK;
                let key = l + r + if over { 1 << 40 } else { 0 };
                if best.is_none_or(|(c, ..)| key < c) {
                    *best = Some((key, k, l, r));
                }
            };
            // Coarse scan, then refine around the best coarse cut.
            let m = b - a;
            let step = if m > 64 { m / 32 } else { 1 };
            let mut k = a + step;
            while k < b {
                try_at(k, &mut best);
                k += step;
            }
            if step > 1 {
                // Near the ends (where the limit forces cuts) the coarse scan
                // may have skipped every admissible point.
                try_at(a + 1, &mut best);
                try_at(b - 1, &mut best);
            }
            if step > 1
                && !self.exact
                && let Some((_, k0, ..)) = best
            {
                for k in k0.saturating_sub(step - 1).max(a + 1)..(k0 + step).min(b) {
                    try_at(k, &mut best);
                }
            }
            // Exact mode: refine around the best cut with shrinking steps.
            let mut st = if self.exact { step } else { 1 };
            while st > 1 {
                let Some((_, k0, ..)) = best else { break };
                let s2 = (st / 6).max(1);
                let mut k = k0.saturating_sub(st - 1).max(a + 1);
                while k < (k0 + st).min(b) {
                    if k != k0 {
                        try_at(k, &mut best);
                    }
                    k += s2;
                }
                st = s2;
            }
            if self.exact
                && let Some((_, k, ..)) = best
            {
                let (l, r) = (self.xcost(a, k), self.xcost(k, b));
                if l + r < whole || ntok > MAX_BLOCK {
                    self.split(a, k, l, out);
                    self.split(k, b, r, out);
                    return;
                }
            } else if let Some((c, k, l, r)) = best
                && (c < whole || ntok > MAX_BLOCK)
            {
                self.split(a, k, l, out);
                self.split(k, b, r, out);
                return;
            }
        }
        assert!(ntok <= MAX_BLOCK);
        out.push(self.bounds[b]);
    }
}

/// Per-chunk prefix sums of the symbol counts; returns them and the number of chunks.
fn prefix<'a>(toks: &[Tok], params: &'a Params, chunk: usize) -> (Prefix<'a>, usize) {
    let chunk = chunk.clamp(1, MAX_BLOCK / 2);
    let np = params.np;
    let stride = NC + np;
    let m = toks.len().div_ceil(chunk);
    let mut sums = vec![0u32; (m + 1) * stride];
    let mut bounds = Vec::with_capacity(m + 1);
    bounds.push(0);
    let mut acc = vec![0u32; stride];
    for (ci, ch) in toks.chunks(chunk).enumerate() {
        for t in ch {
            acc[t.c as usize] += 1;
            if t.c >= 256 {
                acc[NC + psym(t.p)] += 1;
            }
        }
        sums[(ci + 1) * stride..(ci + 2) * stride].copy_from_slice(&acc);
        bounds.push(bounds[ci] + ch.len());
    }
    let pre = Prefix { stride, np, sums, bounds, params, exact: params.opt_header };
    (pre, m)
}

/// Split `toks` into blocks; returns the token index where each block ends
/// (so the last entry is `toks.len()`). `chunk` is the granularity in tokens.
pub(crate) fn split(toks: &[Tok], params: &Params, chunk: usize) -> Vec<usize> {
    if toks.is_empty() {
        return Vec::new();
    }
    let (pre, m) = prefix(toks, params, chunk);
    let mut out = Vec::new();
    let whole = if pre.exact { pre.xcost(0, m) } else { pre.cost(0, m) };
    pre.split(0, m, whole, &mut out);
    out
}
