//! Parsers: lazy matching and cost-based optimal parsing.

use crate::cost::CostModel;
use crate::matcher::{MAX_MATCH, MIN_MATCH, Matcher};
use crate::token::{Tok, psym};

/// Whether a match is worth taking at all under a rough cost model:
/// short matches at large distances cost more than their literals.
#[inline]
fn worth(len: usize, dist: usize, max3: usize) -> bool {
    len > MIN_MATCH || dist <= max3
}

/// One-step lazy matching (as EDK2, but with a bounded chain and a rough
/// short-far-match filter).
pub(crate) fn lazy(data: &[u8], max_dist: usize, depth: usize, max3: usize, nice: usize) -> Vec<Tok> {
    let n = data.len();
    let mut m = Matcher::new(data, max_dist, depth);
    let mut toks = Vec::with_capacity(n / 2 + 1);
    let mut scratch = Vec::new();
    let mut i = 0;
    // Match found at i-1, not yet emitted.
    let mut pending: Option<(usize, usize)> = None;
    while i < n {
        let (mut l, d) = m.longest(i, &mut scratch);
        m.insert(i);
        if l > 0 && !worth(l, d, max3) {
            l = 0;
        }
        if let Some((pl, pd)) = pending {
            if l > pl {
                toks.push(Tok::lit(data[i - 1]));
                pending = Some((l, d));
                i += 1;
            } else {
                toks.push(Tok::mat(pl, pd));
                let end = i - 1 + pl;
                for j in i + 1..end {
                    m.insert(j);
                }
                i = end;
                pending = None;
            }
            continue;
        }
        if l >= nice {
            toks.push(Tok::mat(l, d));
            for j in i + 1..i + l {
                m.insert(j);
            }
            i += l;
        } else if l > 0 {
            pending = Some((l, d));
            i += 1;
        } else {
            toks.push(Tok::lit(data[i]));
            i += 1;
        }
    }
    if let Some((pl, pd)) = pending {
        toks.push(Tok::mat(pl, pd));
    }
    toks
}

/// Match lists for every position (Pareto frontiers).
pub(crate) struct MatchLists {
    off: Vec<u32>,
    items: Vec<(u16, u32)>,
    /// Longest match per position.
    best: Vec<(u16, u32)>,
}

impl MatchLists {
    /// `skip`: after a match of at least this length, positions inside it get
    /// only the continuation of that match (saves time on long repeats).
    pub fn collect(data: &[u8], max_dist: usize, depth: usize, skip: usize, per_class: bool) -> MatchLists {
        let n = data.len();
        let mut m = Matcher::new(data, max_dist, depth);
        let mut off = Vec::with_capacity(n + 1);
        let mut items = Vec::with_capacity(n);
        let mut bests = Vec::with_capacity(n);
        let mut i = 0;
        while i < n {
            off.push(items.len() as u32);
            let (best, dist) = m.find(i, &mut items, per_class);
            bests.push((best as u16, dist as u32));
            m.insert(i);
            i += 1;
            if best >= skip {
                let mut rem = best - 1;
                while rem >= skip / 2 && rem >= MIN_MATCH && i < n {
                    off.push(items.len() as u32);
                    items.push((rem as u16, dist as u32));
                    bests.push((rem as u16, dist as u32));
                    m.insert(i);
                    i += 1;
                    rem -= 1;
                }
            }
        }
        off.push(items.len() as u32);
        MatchLists { off, items, best: bests }
    }

    #[inline]
    pub fn at(&self, i: usize) -> &[(u16, u32)] {
        &self.items[self.off[i] as usize..self.off[i + 1] as usize]
    }

    /// Longest match at i.
    #[inline]
    pub fn longest(&self, i: usize) -> (usize, usize) {
        let (l, d) = self.best[i];
        (l as usize, d as usize)
    }
}

/// Lazy parse over precomputed match lists.
pub(crate) fn lazy_from_lists(data: &[u8], ml: &MatchLists, max3: usize) -> Vec<Tok> {
    let n = data.len();
    let mut toks = Vec::with_capacity(n / 2 + 1);
    let mut i = 0;
    let get = |i: usize| {
        let (l, d) = ml.longest(i);
        if l > 0 && worth(l, d, max3) { (l, d) } else { (0, 0) }
    };
    while i < n {
        let (l, d) = get(i);
        if l == 0 {
            toks.push(Tok::lit(data[i]));
            i += 1;
            continue;
        }
        if i + 1 < n && l < MAX_MATCH && get(i + 1).0 > l {
            toks.push(Tok::lit(data[i]));
            i += 1;
            continue;
        }
        toks.push(Tok::mat(l, d));
        i += l;
    }
    toks
}

/// Shortest path over bit costs. `models[b]` applies to positions in
/// `[starts[b], starts[b+1])`.
pub(crate) fn optimal(data: &[u8], ml: &MatchLists, starts: &[usize], models: &[CostModel]) -> Vec<Tok> {
    optimal_range(data, ml, 0, data.len(), starts, models)
}

/// [`optimal`] over the bytes `lo..hi` only: the parse starts at `lo` and
/// no match runs past `hi` (matches may still reach back before `lo`).
/// `starts` are absolute byte positions.
pub(crate) fn optimal_range(
    data: &[u8],
    ml: &MatchLists,
    lo: usize,
    hi: usize,
    starts: &[usize],
    models: &[CostModel],
) -> Vec<Tok> {
    let n = hi - lo;
    let mut paths = Paths::new(n);
    paths.cost[0] = 0;
    let mut b = 0;
    while b + 1 < starts.len() && lo >= starts[b + 1] {
        b += 1;
    }
    let mut model = &models[b];
    for i in 0..n {
        let at = lo + i;
        if b + 1 < starts.len() && at >= starts[b + 1] {
            while b + 1 < starts.len() && at >= starts[b + 1] {
                b += 1;
            }
            model = &models[b];
        }
        debug_assert!(paths.cost[i] != INF);
        paths.relax(data, ml, lo, i, model);
    }
    let mut toks = Vec::new();
    let mut i = n;
    while i > 0 {
        i = step_back(data, lo, i, paths.from[i], &mut toks);
    }
    toks.reverse();
    toks
}

const INF: u64 = u64::MAX;

/// Shortest paths over the positions `0..=n` of a range.
struct Paths {
    cost: Vec<u64>,
    /// (length, distance) of the step reaching each position; length 1 = literal.
    from: Vec<(u16, u32)>,
}

impl Paths {
    fn new(n: usize) -> Paths {
        Paths { cost: vec![INF; n + 1], from: vec![(0, 0); n + 1] }
    }

    /// Relax every step out of position `i` (absolute `lo + i`).
    #[inline]
    fn relax(&mut self, data: &[u8], ml: &MatchLists, lo: usize, i: usize, model: &CostModel) {
        let (cost, from) = (&mut self.cost, &mut self.from);
        let n = cost.len() - 1;
        let base = cost[i];
        let at = lo + i;
        let lc = base + u64::from(model.lit[data[at] as usize]);
        if lc < cost[i + 1] {
            cost[i + 1] = lc;
            from[i + 1] = (1, 0);
        }
        // Candidates come in order of increasing distance. Lengths already
        // reachable through a nearer candidate at no higher position cost
        // are skipped.
        let mut covered = [0usize; 32];
        let mut nc = 0;
        for &(len, dist) in ml.at(at) {
            let len = (len as usize).min(n - i);
            if len < MIN_MATCH {
                continue;
            }
            let k = psym(dist - 1);
            let pc = model.pos[k];
            let mut reached = MIN_MATCH - 1;
            for &packed in &covered[..nc] {
                let (c, l) = (packed >> 16, packed & 0xFFFF);
                if c as u32 <= pc && l > reached {
                    reached = l;
                }
            }
            let dc = base + u64::from(pc);
            for l in reached + 1..=len {
                let c = dc + u64::from(model.len[l]);
                if c < cost[i + l] {
                    cost[i + l] = c;
                    from[i + l] = (l as u16, dist);
                }
            }
            if nc < 32 {
                covered[nc] = ((pc as usize) << 16) | len;
                nc += 1;
            }
        }
    }
}

/// Push the step `(length, distance)` that reaches position `i` (absolute
/// `lo + i`) and return the position it starts at.
#[inline]
fn step_back(data: &[u8], lo: usize, i: usize, (l, d): (u16, u32), toks: &mut Vec<Tok>) -> usize {
    if l == 1 {
        toks.push(Tok::lit(data[lo + i - 1]));
        i - 1
    } else {
        toks.push(Tok::mat(l as usize, d as usize));
        i - l as usize
    }
}

/// Shortest path over `lo..hi` through the models in order, switching from
/// each to the next once, where that is cheapest: neighbouring blocks
/// re-parsed together with the boundaries between them free. Returns the
/// tokens and, for each model after the first, the index of its first token.
pub(crate) fn optimal_segments(
    data: &[u8],
    ml: &MatchLists,
    lo: usize,
    hi: usize,
    models: &[CostModel],
) -> (Vec<Tok>, Vec<usize>) {
    let n = hi - lo;
    let k = models.len();
    let mut paths: Vec<Paths> = (0..k).map(|_| Paths::new(n)).collect();
    assert!(k <= 32);
    // Bit s of switched[i]: the path under model s at i comes from model
    // s-1 at i.
    let mut switched = vec![0u32; n + 1];
    paths[0].cost[0] = 0;
    for (i, sw) in switched.iter_mut().enumerate().take(n) {
        // A switch at i hands the token at i to the next model. No block
        // may be empty: a switch needs i > 0 and a cost that a token under
        // the previous model reached.
        for s in 1..k {
            let prev = paths[s - 1].cost[i];
            if i > 0 && prev < paths[s].cost[i] && *sw & (1 << (s - 1)) == 0 {
                paths[s].cost[i] = prev;
                *sw |= 1 << s;
            }
        }
        for (p, model) in paths.iter_mut().zip(models) {
            if p.cost[i] != INF {
                p.relax(data, ml, lo, i, model);
            }
        }
    }
    let mut toks = Vec::new();
    let mut i = n;
    let mut s = k - 1;
    let mut cuts_from_end = Vec::new();
    while i > 0 {
        if s > 0 && switched[i] & (1 << s) != 0 {
            s -= 1;
            cuts_from_end.push(toks.len());
            continue;
        }
        i = step_back(data, lo, i, paths[s].from[i], &mut toks);
    }
    debug_assert_eq!(s, 0);
    toks.reverse();
    let cuts = cuts_from_end.iter().rev().map(|&c| toks.len() - c).collect();
    (toks, cuts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Codes;
    use crate::token::Hist;

    /// Bytes whose statistics change half way: text-like, then code-like.
    fn two_regimes() -> Vec<u8> {
        let mut next = crate::xorshift(0x2545_F491_4F6C_DD1Du64);
        let mut v: Vec<u8> = (0..6000).map(|_| b"etaoin shrdlu "[(next() % 14) as usize]).collect();
        v.extend((0..6000).map(|i| if i % 7 == 0 { 0xE8 } else { (next() % 40) as u8 }));
        v
    }

    fn bytes_of(data: &[u8], lo: usize, toks: &[Tok]) -> Vec<u8> {
        let mut out = data[..lo].to_vec();
        for t in toks {
            if t.c < 256 {
                out.push(t.c as u8);
            } else {
                let start = out.len() - (t.p as usize + 1);
                for j in 0..t.len() {
                    out.push(out[start + j]);
                }
            }
        }
        out[lo..].to_vec()
    }

    fn model_of(toks: &[Tok]) -> CostModel {
        CostModel::from_codes(&Codes::new(&Hist::of(toks), 14), 14)
    }

    fn cost(m: &CostModel, toks: &[Tok]) -> u64 {
        toks.iter()
            .map(|t| {
                if t.c < 256 {
                    u64::from(m.lit[t.c as usize])
                } else {
                    u64::from(m.len[t.len()]) + u64::from(m.pos[psym(t.p)])
                }
            })
            .sum()
    }

    #[test]
    fn segments_with_one_model_twice_cost_what_the_plain_parse_costs() {
        let data = two_regimes();
        let ml = MatchLists::collect(&data, 8191, 256, usize::MAX, true);
        let m = model_of(&lazy_from_lists(&data, &ml, usize::MAX));
        let plain = optimal_range(&data, &ml, 100, data.len(), &[100], std::slice::from_ref(&m));
        let (toks, cuts) = optimal_segments(&data, &ml, 100, data.len(), &[m.clone(), m.clone()]);
        assert_eq!(bytes_of(&data, 100, &toks), &data[100..]);
        assert_eq!(cuts.len(), 1);
        assert!(cuts[0] > 0 && cuts[0] < toks.len(), "both segments non-empty");
        assert_eq!(cost(&m, &toks), cost(&m, &plain));
    }

    #[test]
    fn segments_switch_where_the_data_changes() {
        let data = two_regimes();
        let ml = MatchLists::collect(&data, 8191, 256, usize::MAX, true);
        let toks = lazy_from_lists(&data, &ml, usize::MAX);
        let half = toks.iter().scan(0, |p, t| {
            *p += t.len();
            Some(*p)
        });
        let cut = half.take_while(|&p| p <= 6000).count();
        let (a, b) = (model_of(&toks[..cut]), model_of(&toks[cut..]));
        // Start the search from models fitted to the two halves: the free
        // switch must land near byte 6000, and beat any fixed cut that is
        // far from it.
        let (seg, cuts) = optimal_segments(&data, &ml, 0, data.len(), &[a.clone(), b.clone()]);
        assert_eq!(bytes_of(&data, 0, &seg), data);
        let at: usize = seg[..cuts[0]].iter().map(|t| t.len()).sum();
        assert!((5500..=6500).contains(&at), "switch at byte {at}");
        let total = cost(&a, &seg[..cuts[0]]) + cost(&b, &seg[cuts[0]..]);
        for fixed in [2000, 10000] {
            let t = optimal_range(&data, &ml, 0, data.len(), &[0, fixed], &[a.clone(), b.clone()]);
            // Tokens starting before `fixed` were priced with model a.
            let starts = t.iter().scan(0, |p, x| {
                let s = *p;
                *p += x.len();
                Some(s)
            });
            let k = starts.take_while(|&s| s < fixed).count();
            assert!(total < cost(&a, &t[..k]) + cost(&b, &t[k..]), "fixed cut at {fixed}");
        }
    }
}
