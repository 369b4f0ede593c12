//! Code lengths: the exact optimisation of a block's Huffman code lengths
//! against what writing them costs, under the format's 16-bit limit.

use crate::decode::NC;

/// Code lengths minimising `Σ f·len + τ[len]` over used symbols, subject to a
/// complete code of at most 16 bits (lengths monotone in frequency).
pub(crate) fn dp_lengths(freq: &[u32; NC], tau: &[u32; 17], guide: &[u8; NC], win: usize) -> [u8; NC] {
    let v = dp_lengths_gen(freq, tau, guide, win);
    let mut out = [0u8; NC];
    out.copy_from_slice(&v);
    out
}

/// Cost of writing a T or P length (3-bit / unary coding).
pub(crate) const PT_TAU: [u32; 17] = [0, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];

/// [`dp_lengths`] for any alphabet.
#[allow(clippy::needless_range_loop)]
pub(crate) fn dp_lengths_gen(freq: &[u32], tau: &[u32; 17], guide: &[u8], win: usize) -> Vec<u8> {
    thread_local! {
        static BUF: std::cell::RefCell<(Vec<u32>, Vec<u32>, Vec<u8>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
    }
    let mut syms: Vec<(u32, u16)> = (0..freq.len()).filter(|&s| freq[s] > 0).map(|s| (freq[s], s as u16)).collect();
    syms.sort_unstable_by(|a, b| b.cmp(a));
    let m = syms.len();
    const INF: u32 = u32::MAX;
    // Window: at depth d only symbols whose guide length is within `win` of d
    // are assigned (the guide is monotone in this order).
    let mut glen: Vec<usize> = syms.iter().map(|&(_, s)| guide[s as usize] as usize).collect();
    for i in 1..m {
        glen[i] = glen[i].max(glen[i - 1]);
    }
    // lo[d] = #(glen < d - win), hi[d] = #(glen <= d + win).
    let mut lo = [0usize; 18];
    let mut hi = [0usize; 18];
    for d in 0..18 {
        lo[d] = glen.iter().take_while(|&&g| g + win < d).count();
        hi[d] = glen.iter().take_while(|&&g| g <= d + win).count();
    }
    // States (i assigned, a free slots at the current depth), a ≤ m - i,
    // stored triangularly. A state at depth d also needs a·2^(16-d) ≥ m - i.
    let tri = |i: usize| i * (m + 1) - i * i.saturating_sub(1) / 2;
    let size = tri(m) + 1;
    BUF.with(|b| {
        let mut b = b.borrow_mut();
        let (cur, next, from) = &mut *b;
        cur.clear();
        cur.resize(size, INF);
        next.clear();
        next.resize(size, INF);
        if from.len() < 17 * size {
            from.resize(17 * size, 0);
        }
        // from[d][state]: 1 = assigned at this depth, 2 = came from depth d - 1
        // (only states reached in this call are ever read).
        cur[tri(0) + 2] = 0;
        from[size + tri(0) + 2] = 2;
        let mut best = (INF, 0usize);
        // Reachable i range at the current depth.
        let mut ihi = 0usize;
        for d in 1..=16usize {
            let amin = |i: usize| ((m - i) >> (16 - d)).max(1);
            if d > 1 {
                for i in lo[d]..=ihi.min(hi[d]) {
                    let ti = tri(i);
                    let lim = (m - i).min(1 << d);
                    for a in 0..=lim {
                        next[ti + a] = INF;
                    }
                }
                for i in lo[d]..=ihi.min(hi[d]) {
                    let ti = tri(i);
                    let lo = amin(i).div_ceil(2);
                    let hi = ((m - i) / 2).min(1 << (d - 1));
                    for a in lo..=hi {
                        let c = cur[ti + a];
                        if c != INF {
                            next[ti + 2 * a] = c;
                            from[d * size + ti + 2 * a] = 2;
                        }
                    }
                }
                std::mem::swap(cur, next);
            }
            let td = tau[d];
            let fd = &mut from[d * size..(d + 1) * size];
            let amax = 1usize << d;
            for i in lo[d]..m.min(hi[d]) {
                if i > ihi {
                    break;
                }
                let step = syms[i].0 * d as u32 + td;
                let (ti, tn) = (tri(i), tri(i + 1));
                let hi = (m - i).min(amax);
                let lo = amin(i);
                for a in lo..=hi {
                    let c = cur[ti + a];
                    if c == INF {
                        continue;
                    }
                    let c2 = c + step;
                    let j = tn + a - 1;
                    if c2 < cur[j] {
                        cur[j] = c2;
                        fd[j] = 1;
                        if i + 1 > ihi {
                            ihi = i + 1;
                        }
                    }
                }
            }
            let c = cur[tri(m)];
            if ihi == m && hi[d] == m && c < best.0 {
                best = (c, d);
            }
        }
        if best.0 == INF {
            return guide.to_vec();
        }
        let mut lens = vec![0u8; freq.len()];
        let (mut d, mut i, mut a) = (best.1, m, 0usize);
        while i > 0 {
            match from[d * size + tri(i) + a] {
                1 => {
                    i -= 1;
                    a += 1;
                    lens[syms[i].1 as usize] = d as u8;
                }
                _ => {
                    d -= 1;
                    a /= 2;
                }
            }
        }
        lens
    })
}

/// Whether `lens` is a complete code of at most 16 bits covering exactly
/// the used symbols of `freq`.
pub(crate) fn complete(lens: &[u8], freq: &[u32]) -> bool {
    let mut sum = 0u64;
    for (&l, &f) in lens.iter().zip(freq) {
        if (l == 0) != (f == 0) || l > 16 {
            return false;
        }
        if l > 0 {
            sum += 1u64 << (16 - l);
        }
    }
    sum == 1 << 16
}
