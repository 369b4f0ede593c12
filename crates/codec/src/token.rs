//! The parse as the encoder sees it: tokens (literals and matches), the
//! format parameters that bound them, and per-block symbol histograms.

use crate::decode::NC;

/// Largest number of position symbols any configuration uses (v2: 20).
pub(crate) const MAX_NP: usize = 20;

/// One symbol of the parse: a literal (`c < 256`) or a match with
/// length `c - 253` and position value `p` (distance `p + 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tok {
    pub c: u16,
    pub p: u32,
}

impl Tok {
    #[inline]
    pub fn lit(b: u8) -> Tok {
        Tok { c: u16::from(b), p: 0 }
    }
    #[inline]
    pub fn mat(len: usize, dist: usize) -> Tok {
        debug_assert!((3..=256).contains(&len) && dist >= 1);
        Tok { c: (len + 253) as u16, p: (dist - 1) as u32 }
    }
    #[inline]
    pub fn len(self) -> usize {
        if self.c < 256 { 1 } else { self.c as usize - 253 }
    }
}

/// Position symbol of position value `p`.
#[inline]
pub(crate) fn psym(p: u32) -> usize {
    (32 - p.leading_zeros()) as usize
}

/// Format parameters the encoder needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// Width of the P count field.
    pub pbit: u32,
    /// Number of position symbols that may occur.
    pub np: usize,
    /// Largest distance (position value + 1).
    pub max_dist: usize,
    /// Header-aware code construction ([`Codes::new_opt`]).
    pub opt_header: bool,
}

/// Symbol frequencies of a block.
#[derive(Clone)]
pub(crate) struct Hist {
    pub c: [u32; NC],
    pub p: [u32; MAX_NP],
    pub n: u32,
}

impl Hist {
    pub fn new() -> Self {
        Hist { c: [0; NC], p: [0; MAX_NP], n: 0 }
    }
    pub fn of(toks: &[Tok]) -> Self {
        let mut h = Hist::new();
        for t in toks {
            h.add(*t);
        }
        h
    }
    #[inline]
    pub fn add(&mut self, t: Tok) {
        self.c[t.c as usize] += 1;
        if t.c >= 256 {
            self.p[psym(t.p)] += 1;
        }
        self.n += 1;
    }
}
