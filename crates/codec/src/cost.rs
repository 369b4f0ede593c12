//! What a parse costs: exact bit counts of blocks and whole parses, and the
//! per-symbol cost models the optimal parser minimises.

use crate::codes::Codes;
use crate::decode::NC;
use crate::token::{Hist, MAX_NP, Params, Tok};

/// Byte position where each block starts, from token block ends.
pub(crate) fn block_starts(toks: &[Tok], ends: &[usize]) -> Vec<usize> {
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

/// Exact size in bits of a parse, with the codes of every block.
pub(crate) fn evaluate(toks: &[Tok], ends: &[usize], params: &Params) -> (u64, Vec<(Hist, Box<Codes>)>) {
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

/// Exact size in bits of one block, with its histogram and codes.
pub(crate) fn block_cost(t: &[Tok], params: &Params) -> (u64, Hist, Box<Codes>) {
    let h = Hist::of(t);
    let k = Codes::final_codes(&h, params);
    (k.header_bits(h.n, params) + k.body_bits(&h, params.np), h, k)
}

/// Per-symbol costs in bits derived from a block's codes, for the parser.
#[derive(Clone)]
pub(crate) struct CostModel {
    pub lit: [u32; 256],
    /// Indexed by match length (3..=256).
    pub len: [u32; 257],
    /// Indexed by position symbol; includes the extra bits.
    pub pos: [u32; MAX_NP],
}

impl CostModel {
    pub fn from_codes(k: &Codes, np: usize) -> CostModel {
        let mut m = CostModel { lit: [0; 256], len: [0; 257], pos: [0; MAX_NP] };
        let cmax = k.c_len.iter().copied().max().unwrap_or(0);
        let c_pen = u32::from(cmax).max(8) + 2;
        for s in 0..NC {
            let c = if let Some(one) = k.c_single {
                if s == one as usize { 1 } else { 12 }
            } else if k.c_len[s] == 0 {
                c_pen
            } else {
                u32::from(k.c_len[s])
            };
            if s < 256 {
                m.lit[s] = c;
            } else {
                m.len[s - 253] = c;
            }
        }
        let pmax = k.p_len[..np].iter().copied().max().unwrap_or(0);
        let p_pen = u32::from(pmax).max(3) + 2;
        for s in 0..np {
            let base = if let Some(one) = k.p_single {
                if s == one as usize { 1 } else { 5 }
            } else if k.p_len[s] == 0 {
                p_pen
            } else {
                u32::from(k.p_len[s])
            };
            m.pos[s] = base + s.saturating_sub(1) as u32;
        }
        for s in np..MAX_NP {
            m.pos[s] = u32::MAX / 4;
        }
        m
    }
}

impl CostModel {
    /// Break ties between paths of equal integer cost by the entropy
    /// (−log2 frequency) costs of `h`: every cost becomes `W·bits + F·entropy`.
    pub fn with_entropy_ties(mut self, h: &Hist, np: usize, w: u32, f: f64) -> CostModel {
        let nc: f64 = h.c.iter().map(|&x| f64::from(x)).sum();
        let npp: f64 = h.p[..np].iter().map(|&x| f64::from(x)).sum();
        let frac = |x: u32, tot: f64, int: u32| -> u32 {
            if x == 0 || tot == 0.0 {
                (f64::from(int) * f) as u32
            } else {
                (-(f64::from(x) / tot).log2() * f).round() as u32
            }
        };
        for s in 0..256 {
            self.lit[s] = self.lit[s] * w + frac(h.c[s], nc, self.lit[s]);
        }
        for l in 3..=256 {
            self.len[l] = self.len[l] * w + frac(h.c[l + 253], nc, self.len[l]);
        }
        for k in 0..np {
            let extra = k.saturating_sub(1) as u32;
            let base = self.pos[k] - extra;
            self.pos[k] = self.pos[k] * w + frac(h.p[k], npp, base) + (f64::from(extra) * f) as u32;
        }
        self
    }

    /// Add to every used C symbol `bits`/frequency (in 1/`w` bits): its
    /// share of the block header, which the parse saves by not using it.
    pub fn with_header_share(mut self, h: &Hist, w: u32, bits: f64) -> CostModel {
        for (s, &f) in h.c.iter().enumerate() {
            if f > 0 {
                let add = (bits * f64::from(w) / f64::from(f)) as u32;
                if s < 256 {
                    self.lit[s] += add;
                } else {
                    self.len[s - 253] += add;
                }
            }
        }
        self
    }
}
