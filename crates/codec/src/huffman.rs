//! Length-limited Huffman code construction and canonical code assignment.
//!
//! Code lengths are computed with an ordinary Huffman construction (two-queue
//! method over the sorted frequencies); if that exceeds the limit, they are
//! recomputed with package-merge, which gives optimal length-limited codes.

/// Maximum code length accepted by the format's decoders.
pub(crate) const MAX_LEN: u32 = 16;

/// Compute code lengths for `freqs` limited to `limit` bits.
///
/// Unused symbols get length 0. If fewer than two symbols are used, all
/// lengths are 0 (the caller must use the single-symbol form).
pub(crate) fn code_lengths(freqs: &[u32], limit: u32, lens: &mut [u8]) {
    debug_assert_eq!(freqs.len(), lens.len());
    lens.iter_mut().for_each(|l| *l = 0);
    let mut syms: Vec<(u32, u16)> =
        freqs.iter().enumerate().filter(|(_, f)| **f > 0).map(|(i, f)| (*f, i as u16)).collect();
    if syms.len() < 2 {
        return;
    }
    syms.sort_unstable();
    if !plain_huffman(&syms, limit, lens) {
        package_merge(&syms, limit, lens);
    }
}

/// Two-queue Huffman over symbols sorted by frequency. Returns false if the
/// limit is exceeded (lens content is then unspecified).
fn plain_huffman(syms: &[(u32, u16)], limit: u32, lens: &mut [u8]) -> bool {
    let n = syms.len();
    // Internal nodes: weight and parent. Leaves: parent.
    let mut leaf_parent = vec![0u32; n];
    let mut node_w: Vec<u64> = Vec::with_capacity(n);
    let mut node_parent: Vec<u32> = Vec::with_capacity(n);
    let (mut li, mut ni) = (0usize, 0usize);
    // Take the smallest available item: leaf (index) or node (index | TOP).
    const TOP: u32 = 1 << 31;
    let take = |li: &mut usize, ni: &mut usize, node_w: &Vec<u64>| -> (u64, u32) {
        let lw = if *li < n { Some(u64::from(syms[*li].0)) } else { None };
        let nw = if *ni < node_w.len() { Some(node_w[*ni]) } else { None };
        match (lw, nw) {
            (Some(a), Some(b)) if a <= b => {
                *li += 1;
                (a, (*li - 1) as u32)
            }
            (Some(a), None) => {
                *li += 1;
                (a, (*li - 1) as u32)
            }
            (_, Some(b)) => {
                *ni += 1;
                (b, (*ni - 1) as u32 | TOP)
            }
            (None, None) => unreachable!(),
        }
    };
    for _ in 0..n - 1 {
        let (wa, a) = take(&mut li, &mut ni, &node_w);
        let (wb, b) = take(&mut li, &mut ni, &node_w);
        let id = node_w.len() as u32;
        node_w.push(wa + wb);
        node_parent.push(u32::MAX);
        for x in [a, b] {
            if x & TOP != 0 {
                node_parent[(x & !TOP) as usize] = id;
            } else {
                leaf_parent[x as usize] = id;
            }
        }
    }
    // Depths: root is the last node; parents have larger indices.
    let m = node_w.len();
    let mut depth = vec![0u32; m];
    for i in (0..m - 1).rev() {
        depth[i] = depth[node_parent[i] as usize] + 1;
    }
    for (i, &(_, s)) in syms.iter().enumerate() {
        let d = depth[leaf_parent[i] as usize] + 1;
        if d > limit {
            return false;
        }
        lens[s as usize] = d as u8;
    }
    true
}

/// Package-merge (optimal length-limited code).
fn package_merge(syms: &[(u32, u16)], limit: u32, lens: &mut [u8]) {
    let n = syms.len();
    assert!(n <= (1usize << limit), "too many symbols for the length limit");
    // Node arena: leaf (symbol index) or package (two children).
    #[derive(Clone, Copy)]
    enum Node {
        Leaf(u32),
        Pkg(u32, u32),
    }
    let mut arena: Vec<Node> = Vec::new();
    let leaves: Vec<(u64, u32)> = syms
        .iter()
        .enumerate()
        .map(|(i, &(f, _))| {
            arena.push(Node::Leaf(i as u32));
            (u64::from(f), (arena.len() - 1) as u32)
        })
        .collect();
    let mut list = leaves.clone();
    for _ in 1..limit {
        // Package pairs of the current list, merge with the leaves.
        let mut pk: Vec<(u64, u32)> = Vec::with_capacity(list.len() / 2);
        for pair in list.chunks_exact(2) {
            arena.push(Node::Pkg(pair[0].1, pair[1].1));
            pk.push((pair[0].0 + pair[1].0, (arena.len() - 1) as u32));
        }
        let mut merged = Vec::with_capacity(leaves.len() + pk.len());
        let (mut i, mut j) = (0, 0);
        while i < leaves.len() || j < pk.len() {
            if j >= pk.len() || (i < leaves.len() && leaves[i].0 <= pk[j].0) {
                merged.push(leaves[i]);
                i += 1;
            } else {
                merged.push(pk[j]);
                j += 1;
            }
        }
        list = merged;
    }
    let mut count = vec![0u8; n];
    let mut stack = Vec::new();
    for &(_, id) in &list[..2 * n - 2] {
        stack.push(id);
        while let Some(x) = stack.pop() {
            match arena[x as usize] {
                Node::Leaf(s) => count[s as usize] += 1,
                Node::Pkg(a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
            }
        }
    }
    for (i, &(_, s)) in syms.iter().enumerate() {
        lens[s as usize] = count[i];
    }
}

/// Canonical codes as the format defines them: codes are assigned in order of
/// increasing length, and within one length in order of increasing symbol.
pub(crate) fn canonical_codes(lens: &[u8], codes: &mut [u16]) {
    let mut count = [0u32; 17];
    for &l in lens {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; 18];
    let mut code = 0u32;
    for len in 1..=16 {
        code = (code + count[len - 1]) << 1;
        next[len] = code;
    }
    for (s, &l) in lens.iter().enumerate() {
        if l > 0 {
            codes[s] = next[l as usize] as u16;
            next[l as usize] += 1;
        } else {
            codes[s] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(lens: &[u8]) -> u64 {
        lens.iter().filter(|&&l| l > 0).map(|&l| 1u64 << (16 - l)).sum()
    }

    #[test]
    fn fibonacci_is_limited_and_complete() {
        let mut f = vec![1u32, 1];
        while f.len() < 30 {
            let k = f.len();
            f.push(f[k - 1] + f[k - 2]);
        }
        let mut lens = vec![0u8; f.len()];
        code_lengths(&f, 16, &mut lens);
        assert!(lens.iter().all(|&l| (1..=16).contains(&l)));
        assert_eq!(kraft(&lens), 1 << 16);
        // Package-merge must be at least as good as any other valid limited code;
        // compare against plain Huffman on a case where the limit is not hit.
        let g: Vec<u32> = (1..100).collect();
        let mut a = vec![0u8; g.len()];
        let mut b = vec![0u8; g.len()];
        code_lengths(&g, 16, &mut a);
        let syms: Vec<(u32, u16)> = g.iter().enumerate().map(|(i, &f)| (f, i as u16)).collect();
        package_merge(&syms, 16, &mut b);
        let cost = |l: &[u8]| -> u64 { l.iter().zip(&g).map(|(&l, &f)| u64::from(l) * u64::from(f)).sum() };
        assert_eq!(cost(&a), cost(&b));
        assert_eq!(kraft(&b), 1 << 16);
    }

    #[test]
    fn canonical_order() {
        let lens = [2u8, 1, 3, 3];
        let mut codes = [0u16; 4];
        canonical_codes(&lens, &mut codes);
        assert_eq!(codes, [0b10, 0b0, 0b110, 0b111]);
    }
}
