//! The Huffman codes of one block: building them (with the header cost in
//! view), and writing the block header and body.

use crate::bits::{Counter, Sink};
use crate::decode::{NC, NT};
use crate::huffman::{MAX_LEN, canonical_codes, code_lengths};
use crate::lengths::{PT_TAU, complete, dp_lengths, dp_lengths_gen};
use crate::token::{Hist, MAX_NP, Params, Tok, psym};

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
    /// Zero-run coding of the C lengths: `None` = EDK2's fixed rules,
    /// otherwise the T symbol sequence (symbol, extra value).
    pub cseq: Option<Vec<(u8, u16)>>,
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
            cseq: None,
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
        self.c_syms(|t, _, _| f[t] += 1);
        self.t_freq = f;
    }

    /// The C-length T symbols as written: `emit(t_symbol, extra_bits, extra_value)`.
    fn c_syms(&self, mut emit: impl FnMut(usize, u32, u32)) {
        match &self.cseq {
            None => Self::c_len_symbols(&self.c_len, emit),
            Some(v) => {
                for &(t, x) in v {
                    let eb = match t {
                        1 => 4,
                        2 => 9,
                        _ => 0,
                    };
                    emit(t as usize, eb, u32::from(x));
                }
            }
        }
    }

    /// As [`Codes::new`], but minimising the exact block size, header
    /// included: C lengths from flattened frequencies and from an exact
    /// optimisation against the T-code cost of each length ([`dp_lengths`]),
    /// cost-based zero-run coding of the C lengths, and T/P lengths optimal
    /// for their 3-bit/unary coding. Every code stays complete, ≤ 16 bits.
    pub fn new_opt(h: &Hist, np: usize) -> Box<Codes> {
        let mut k = Codes::new(h, np);
        if k.c_single.is_none() {
            k.opt_c_header();
            let cbody =
                |l: &[u8; NC]| -> u64 { h.c.iter().zip(l.iter()).map(|(&f, &l)| u64::from(f) * u64::from(l)).sum() };
            let mut best = (k.t_header_bits() + cbody(&k.c_len), k.c_len);
            let betas: &[u32] = &BETAS;
            for &beta in betas {
                let mut f = [0u32; NC];
                for (fs, &c) in f.iter_mut().zip(h.c.iter()) {
                    if c > 0 {
                        *fs = c * 16 + beta;
                    }
                }
                let mut l = [0u8; NC];
                code_lengths(&f, MAX_LEN, &mut l);
                if l == best.1 {
                    continue;
                }
                k.set_c_lengths(l);
                let b = k.t_header_bits() + cbody(&l);
                if b < best.0 {
                    best = (b, l);
                }
            }
            // One round of (T costs of the current choice → optimal C lengths).
            'dp: {
                k.set_c_lengths(best.1);
                let tmax = k.t_len.iter().copied().max().unwrap_or(0);
                let mut tau = [0u32; 17];
                for (d, td) in tau.iter_mut().enumerate().skip(1) {
                    *td = if k.t_single.is_some() {
                        if k.t_single == Some((d + 2) as u16) { 0 } else { 6 }
                    } else if k.t_len[d + 2] == 0 {
                        u32::from(tmax) + 2
                    } else {
                        u32::from(k.t_len[d + 2])
                    };
                }
                let l = dp_lengths(&h.c, &tau, &best.1, DP_WINDOW);
                if l == best.1 || !complete(&l, &h.c) {
                    break 'dp;
                }
                k.set_c_lengths(l);
                let b = k.t_header_bits() + cbody(&l);
                if b < best.0 {
                    best = (b, l);
                } else {
                    break 'dp;
                }
            }
            if k.c_len != best.1 {
                k.set_c_lengths(best.1);
            }
            canonical_codes(&k.c_len, &mut k.c_code);
        }
        if k.p_single.is_none() {
            k.opt_p(h, np);
        }
        k
    }

    /// Take `c_len` as the C lengths and plan their header (T code, zero runs).
    fn set_c_lengths(&mut self, c_len: [u8; NC]) {
        self.c_len = c_len;
        self.cseq = None;
        self.count_t_freq();
        self.opt_c_header();
    }

    fn t_header_bits(&self) -> u64 {
        let mut c = Counter::default();
        match self.t_single {
            Some(_) => c.put(10, 0),
            None => write_pt_len(&mut c, &self.t_len, 5, Some(3)),
        }
        let (tl, single) = (&self.t_len, self.t_single.is_some());
        self.c_syms(|t, eb, _| {
            if !single {
                c.0 += u64::from(tl[t]);
            }
            c.0 += u64::from(eb);
        });
        c.0
    }

    /// Choose T lengths for the current T frequencies (length limit by exact cost).
    fn fit_t(&mut self) {
        match single(&self.t_freq) {
            Some(s) => {
                self.t_single = Some(s.unwrap_or(0));
                self.t_len = [0; NT];
            }
            None => {
                self.t_single = None;
                let used = self.t_freq.iter().filter(|&&f| f > 0).count();
                let minlim = (usize::BITS - (used - 1).leading_zeros()).max(1);
                let mut best: Option<(u64, [u8; NT])> = None;
                let mut lim = MAX_LEN;
                loop {
                    let mut l = [0u8; NT];
                    code_lengths(&self.t_freq, lim, &mut l);
                    self.t_len = l;
                    let b = self.t_header_bits();
                    if best.is_none_or(|(c, _)| b < c) {
                        best = Some((b, l));
                    }
                    let mx = u32::from(*l.iter().max().unwrap());
                    if mx <= 5 || mx <= minlim {
                        break;
                    }
                    lim = mx - 1;
                }
                // Exact optimum for the 3-bit/unary length coding.
                let (bb, mut bl) = best.unwrap();
                let l = dp_lengths_gen(&self.t_freq, &PT_TAU, &bl, 16);
                if complete(&l, &self.t_freq) {
                    self.t_len.copy_from_slice(&l);
                    if self.t_header_bits() < bb {
                        bl = self.t_len;
                    }
                }
                self.t_len = bl;
            }
        }
    }

    fn opt_c_header(&mut self) {
        // Start: EDK2's rules (already in place), fit T, then re-plan zero runs
        // with the T lengths and iterate.
        self.fit_t();
        let mut best_bits = self.t_header_bits();
        let mut best_state = (self.cseq.clone(), self.t_len, self.t_single, self.t_freq);
        for _ in 0..3 {
            if self.t_single.is_some() {
                break;
            }
            let cost = |t: usize| -> u32 { if self.t_len[t] == 0 { 1000 } else { u32::from(self.t_len[t]) } };
            let seq = plan_c(&self.c_len, cost(0), cost(1) + 4, cost(2) + 9);
            self.cseq = Some(seq);
            self.count_t_freq();
            self.fit_t();
            let b = self.t_header_bits();
            if b < best_bits {
                best_bits = b;
                best_state = (self.cseq.clone(), self.t_len, self.t_single, self.t_freq);
            } else {
                break;
            }
        }
        (self.cseq, self.t_len, self.t_single, self.t_freq) = best_state;
        if self.t_single.is_none() {
            canonical_codes(&self.t_len, &mut self.t_code);
        }
    }

    fn opt_p(&mut self, h: &Hist, np: usize) {
        let used = h.p[..np].iter().filter(|&&f| f > 0).count();
        let minlim = (usize::BITS - (used - 1).leading_zeros()).max(1);
        let pbits = |l: &[u8]| -> u64 {
            let mut c = Counter::default();
            write_pt_len(&mut c, l, 4, None);
            c.0 + (0..np).map(|i| u64::from(h.p[i]) * u64::from(l[i])).sum::<u64>()
        };
        let mut best = (pbits(&self.p_len[..np]), self.p_len);
        let mut lim = u32::from(*self.p_len[..np].iter().max().unwrap());
        while lim > minlim.max(3) {
            lim -= 1;
            let mut l = [0u8; MAX_NP];
            code_lengths(&h.p[..np], lim, &mut l[..np]);
            let b = pbits(&l[..np]);
            if b < best.0 {
                best = (b, l);
            }
        }
        let l = dp_lengths_gen(&h.p[..np], &PT_TAU, &best.1[..np], 16);
        if complete(&l, &h.p[..np]) {
            let mut la = [0u8; MAX_NP];
            la[..np].copy_from_slice(&l);
            let b = pbits(&la[..np]);
            if b < best.0 {
                best = (b, la);
            }
        }
        self.p_len = best.1;
        canonical_codes(&self.p_len[..np], &mut self.p_code[..np]);
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
            self.c_syms(|t, eb, ev| {
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

    /// Codes for writing (most effort).
    pub fn final_codes(h: &Hist, params: &Params) -> Box<Codes> {
        if params.opt_header { Codes::new_opt(h, params.np) } else { Codes::new(h, params.np) }
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
            let l = if self.p_single.is_some() { 0 } else { u64::from(self.p_len[k]) };
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

/// Flattening offsets (in 1/16 of a use) tried on the C frequencies before
/// the exact optimisation of the C lengths.
const BETAS: [u32; 4] = [8, 16, 32, 64];
/// Search window of the C-length optimisation around the Huffman lengths.
const DP_WINDOW: usize = 2;

/// Cheapest T-symbol coding of the C lengths' zero runs, given the cost of
/// one T 0 (one zero), one T 1 (3..=18 zeros) and one T 2 (20..=531 zeros),
/// extra bits included.
fn plan_c(c_len: &[u8; NC], c0: u32, c1: u32, c2: u32) -> Vec<(u8, u16)> {
    let n = trimmed(c_len);
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let k = c_len[i];
        i += 1;
        if k != 0 {
            out.push((k + 2, 0));
            continue;
        }
        let mut r = 1usize;
        while i < n && c_len[i] == 0 {
            i += 1;
            r += 1;
        }
        // Without T 2: k1 T 1 pieces and k0 T 0s.
        let mut best = (u64::MAX, 0usize);
        for k1 in 0..=r / 3 {
            let k0 = r.saturating_sub(18 * k1);
            let c = k0 as u64 * u64::from(c0) + k1 as u64 * u64::from(c1);
            if c < best.0 {
                best = (c, k1);
            }
        }
        if r >= 20 && u64::from(c2) < best.0 {
            out.push((2, (r - 20) as u16));
            continue;
        }
        let k1 = best.1;
        let k0 = r.saturating_sub(18 * k1);
        let mut z = r - k0; // zeros covered by T 1 pieces
        for j in 0..k1 {
            let left = k1 - j - 1;
            // Largest piece that leaves at least 3 per remaining piece.
            let take = (z - 3 * left).min(18);
            out.push((1, (take - 3) as u16));
            z -= take;
        }
        out.extend(std::iter::repeat_n((0u8, 0u16), k0));
    }
    out
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
