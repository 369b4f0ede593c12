//! Tokens, per-block Huffman codes, block header/body writing and costing.

use crate::bits::{Counter, Sink};
use crate::decode::{NC, NT};
use crate::huffman::{MAX_LEN, canonical_codes, code_lengths};

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
        Tok {
            c: u16::from(b),
            p: 0,
        }
    }
    #[inline]
    pub fn mat(len: usize, dist: usize) -> Tok {
        debug_assert!((3..=256).contains(&len) && dist >= 1);
        Tok {
            c: (len + 253) as u16,
            p: (dist - 1) as u32,
        }
    }
    #[inline]
    pub fn len(self) -> usize {
        if self.c < 256 {
            1
        } else {
            self.c as usize - 253
        }
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
        Hist {
            c: [0; NC],
            p: [0; MAX_NP],
            n: 0,
        }
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

/// Huffman codes of one block.
pub(crate) struct Codes {
    pub c_len: [u8; NC],
    pub c_code: [u16; NC],
    /// Single used C symbol (0-bit code), if any.
    pub c_single: Option<u16>,
    pub p_len: [u8; MAX_NP],
    pub p_code: [u16; MAX_NP],
    pub p_single: Option<u16>,
    pub t_len: [u8; NT],
    pub t_code: [u16; NT],
    pub t_single: Option<u16>,
    pub t_freq: [u32; NT],
}

fn single(freq: &[u32]) -> Option<Option<u16>> {
    let mut used = freq.iter().enumerate().filter(|(_, f)| **f > 0);
    match (used.next(), used.next()) {
        (None, _) => Some(None),
        (Some((s, _)), None) => Some(Some(s as u16)),
        _ => None,
    }
}

/// Number of C lengths transmitted (up to the last nonzero one).
fn trimmed(lens: &[u8]) -> usize {
    lens.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1)
}

impl Codes {
    pub fn new(h: &Hist, np: usize) -> Box<Codes> {
        let mut k = Box::new(Codes {
            c_len: [0; NC],
            c_code: [0; NC],
            c_single: None,
            p_len: [0; MAX_NP],
            p_code: [0; MAX_NP],
            p_single: None,
            t_len: [0; NT],
            t_code: [0; NT],
            t_single: None,
            t_freq: [0; NT],
        });
        match single(&h.c) {
            Some(s) => k.c_single = Some(s.unwrap_or(0)),
            None => {
                code_lengths(&h.c, MAX_LEN, &mut k.c_len);
                canonical_codes(&k.c_len, &mut k.c_code);
                k.count_t_freq();
                match single(&k.t_freq) {
                    Some(s) => k.t_single = Some(s.unwrap_or(0)),
                    None => {
                        code_lengths(&k.t_freq, MAX_LEN, &mut k.t_len);
                        canonical_codes(&k.t_len, &mut k.t_code);
                    }
                }
            }
        }
        match single(&h.p[..np]) {
            Some(s) => k.p_single = Some(s.unwrap_or(0)),
            None => {
                code_lengths(&h.p[..np], MAX_LEN, &mut k.p_len[..np]);
                canonical_codes(&k.p_len[..np], &mut k.p_code[..np]);
            }
        }
        k
    }

    /// Walk the C lengths with the zero-run coding; `emit(t_symbol, extra_bits, extra_value)`.
    fn c_len_symbols(c_len: &[u8; NC], mut emit: impl FnMut(usize, u32, u32)) {
        let n = trimmed(c_len);
        let mut i = 0;
        while i < n {
            let k = c_len[i];
            i += 1;
            if k == 0 {
                let mut run = 1usize;
                while i < n && c_len[i] == 0 {
                    i += 1;
                    run += 1;
                }
                match run {
                    1 | 2 => (0..run).for_each(|_| emit(0, 0, 0)),
                    3..=18 => emit(1, 4, (run - 3) as u32),
                    19 => {
                        emit(0, 0, 0);
                        emit(1, 4, 15);
                    }
                    _ => emit(2, 9, (run - 20) as u32),
                }
            } else {
                emit(k as usize + 2, 0, 0);
            }
        }
    }

    fn count_t_freq(&mut self) {
        let mut f = [0u32; NT];
        Self::c_len_symbols(&self.c_len, |t, _, _| f[t] += 1);
        self.t_freq = f;
    }

    /// Write the block header (size, T, C and P lengths).
    pub fn write_header<S: Sink>(&self, s: &mut S, ntok: u32, params: &Params) {
        // (Costing may ask about oversized ranges; the writer asserts the limit.)
        s.put(16, ntok & 0xFFFF);
        if let Some(c) = self.c_single {
            s.put(5, 0);
            s.put(5, 0);
            s.put(9, 0);
            s.put(9, u32::from(c));
        } else {
            match self.t_single {
                Some(t) => {
                    s.put(5, 0);
                    s.put(5, u32::from(t));
                }
                None => write_pt_len(s, &self.t_len, 5, Some(3)),
            }
            let n = trimmed(&self.c_len);
            s.put(9, n as u32);
            let (tl, tc) = (&self.t_len, &self.t_code);
            let single = self.t_single.is_some();
            Self::c_len_symbols(&self.c_len, |t, eb, ev| {
                if !single {
                    s.put(u32::from(tl[t]), u32::from(tc[t]));
                }
                s.put(eb, ev);
            });
        }
        match self.p_single {
            Some(p) => {
                s.put(params.pbit, 0);
                s.put(params.pbit, u32::from(p));
            }
            None => write_pt_len(s, &self.p_len[..params.np], params.pbit, None),
        }
    }

    pub fn header_bits(&self, ntok: u32, params: &Params) -> u64 {
        let mut c = Counter::default();
        self.write_header(&mut c, ntok, params);
        c.0
    }

    /// Bits of the block body for histogram `h`.
    pub fn body_bits(&self, h: &Hist, np: usize) -> u64 {
        let mut bits = 0u64;
        if self.c_single.is_none() {
            for (f, l) in h.c.iter().zip(self.c_len.iter()) {
                bits += u64::from(*f) * u64::from(*l);
            }
        }
        for k in 0..np {
            let l = if self.p_single.is_some() {
                0
            } else {
                u64::from(self.p_len[k])
            };
            bits += u64::from(h.p[k]) * (l + k.saturating_sub(1) as u64);
        }
        bits
    }

    #[inline]
    pub fn write_tok<S: Sink>(&self, s: &mut S, t: Tok) {
        let c = t.c as usize;
        s.put(u32::from(self.c_len[c]), u32::from(self.c_code[c]));
        if c >= 256 {
            let k = psym(t.p);
            s.put(u32::from(self.p_len[k]), u32::from(self.p_code[k]));
            if k >= 2 {
                s.put(k as u32 - 1, t.p);
            }
        }
    }
}

/// T or P lengths: count, then 3-bit or unary lengths (with the 2-bit zero
/// run after the third length for T).
fn write_pt_len<S: Sink>(s: &mut S, lens: &[u8], nbit: u32, special: Option<usize>) {
    let n = trimmed(lens);
    s.put(nbit, n as u32);
    let mut i = 0;
    while i < n {
        let k = u32::from(lens[i]);
        i += 1;
        if k <= 6 {
            s.put(3, k);
        } else {
            // k-4 one bits and a zero.
            s.put(k - 3, ((1u32 << (k - 3)) - 1) << 1);
        }
        if Some(i) == special {
            let mut j = i;
            while j < 6 && j < n && lens[j] == 0 {
                j += 1;
            }
            s.put(2, (j - i) as u32);
            i = j;
        }
    }
}

/// Exact size in bits of a block with histogram `h`.
pub(crate) fn block_bits(h: &Hist, params: &Params) -> u64 {
    let k = Codes::new(h, params.np);
    k.header_bits(h.n, params) + k.body_bits(h, params.np)
}

/// Cost units per bit.
pub(crate) const SCALE: u32 = 1;

/// Per-symbol costs (in 1/SCALE bits) derived from a block's codes, for the parser.
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
        let mut m = CostModel {
            lit: [0; 256],
            len: [0; 257],
            pos: [0; MAX_NP],
        };
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
                m.lit[s] = c * SCALE;
            } else {
                m.len[s - 253] = c * SCALE;
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
            m.pos[s] = (base + s.saturating_sub(1) as u32) * SCALE;
        }
        for s in np..MAX_NP {
            m.pos[s] = u32::MAX / 4;
        }
        m
    }
}
