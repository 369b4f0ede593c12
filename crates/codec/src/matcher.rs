//! Hash-chain match finder over the whole input.

pub(crate) const MIN_MATCH: usize = 3;
pub(crate) const MAX_MATCH: usize = 256;
const NIL: u32 = u32::MAX;

pub(crate) struct Matcher<'a> {
    data: &'a [u8],
    hash_bits: u32,
    head: Vec<u32>,
    prev: Vec<u32>,
    pub max_dist: usize,
    pub depth: usize,
}

impl<'a> Matcher<'a> {
    pub fn new(data: &'a [u8], max_dist: usize, depth: usize) -> Self {
        let hash_bits = if data.len() < 1 << 16 { 14 } else { 16 };
        Matcher { data, hash_bits, head: vec![NIL; 1 << hash_bits], prev: vec![NIL; data.len()], max_dist, depth }
    }

    #[inline]
    fn hash(&self, i: usize) -> usize {
        let d = self.data;
        let v = (u32::from(d[i]) << 16) | (u32::from(d[i + 1]) << 8) | u32::from(d[i + 2]);
        (v.wrapping_mul(0x9E37_79B1) >> (32 - self.hash_bits)) as usize
    }

    /// Insert position `i` (no-op near the end of the input).
    #[inline]
    pub fn insert(&mut self, i: usize) {
        if i + MIN_MATCH <= self.data.len() {
            let h = self.hash(i);
            self.prev[i] = self.head[h];
            self.head[h] = i as u32;
        }
    }

    /// Length of the common prefix of positions `a` and `b`, at most `max`.
    #[inline]
    fn common(&self, a: usize, b: usize, max: usize) -> usize {
        let d = self.data;
        let mut l = 0;
        while l + 8 <= max {
            let x = u64::from_le_bytes(d[a + l..a + l + 8].try_into().unwrap());
            let y = u64::from_le_bytes(d[b + l..b + l + 8].try_into().unwrap());
            let z = x ^ y;
            if z != 0 {
                return l + (z.trailing_zeros() / 8) as usize;
            }
            l += 8;
        }
        while l < max && d[a + l] == d[b + l] {
            l += 1;
        }
        l
    }

    /// Find matches at `i` (which must not be inserted yet). Appends
    /// `(length, distance)` candidates to `out` and returns the longest
    /// `(length, distance)` (length 0 if none ≥ 3).
    ///
    /// Without `per_class`, the candidates are the Pareto frontier: strictly
    /// increasing lengths, each with the smallest distance found for it.
    /// With `per_class`, they are the longest match within each position
    /// class (distances sharing a position symbol cost the same), in order of
    /// increasing distance; a farther class may be cheaper than a nearer one.
    pub fn find(&self, i: usize, out: &mut Vec<(u16, u32)>, per_class: bool) -> (usize, usize) {
        let n = self.data.len();
        if i + MIN_MATCH > n {
            return (0, 0);
        }
        let max = (n - i).min(MAX_MATCH);
        let mut best = MIN_MATCH - 1;
        let mut best_dist = 0;
        // Per-class state.
        let mut class = usize::MAX;
        let mut cbest = MIN_MATCH - 1;
        let mut cdist = 0usize;
        let mut cand = self.head[self.hash(i)];
        let mut depth = self.depth;
        let d = self.data;
        while cand != NIL && depth > 0 {
            let c = cand as usize;
            let dist = i - c;
            if dist > self.max_dist {
                break;
            }
            depth -= 1;
            if per_class {
                let k = (usize::BITS - (dist - 1).leading_zeros()) as usize;
                if k != class {
                    if cbest >= MIN_MATCH {
                        out.push((cbest as u16, cdist as u32));
                    }
                    class = k;
                    cbest = MIN_MATCH - 1;
                }
                if d[c + cbest] == d[i + cbest] {
                    let l = self.common(c, i, max);
                    if l > cbest {
                        cbest = l;
                        cdist = dist;
                        if l > best {
                            best = l;
                            best_dist = dist;
                        }
                        if l >= max {
                            break;
                        }
                    }
                }
            } else if d[c + best] == d[i + best] {
                let l = self.common(c, i, max);
                if l > best {
                    best = l;
                    best_dist = dist;
                    out.push((l as u16, dist as u32));
                    if l >= max {
                        break;
                    }
                }
            }
            cand = self.prev[c];
        }
        if per_class && cbest >= MIN_MATCH {
            out.push((cbest as u16, cdist as u32));
        }
        if best >= MIN_MATCH { (best, best_dist) } else { (0, 0) }
    }

    /// Longest match only: `(length, distance)`, length 0 if none.
    pub fn longest(&self, i: usize, scratch: &mut Vec<(u16, u32)>) -> (usize, usize) {
        scratch.clear();
        self.find(i, scratch, false)
    }
}
