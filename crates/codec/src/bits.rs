//! MSB-first bit output (and a bit counter with the same interface, used for costing).

/// Destination for bits, written MSB-first.
pub(crate) trait Sink {
    /// Append the low `n` bits of `v` (n ≤ 32), most significant first.
    fn put(&mut self, n: u32, v: u32);
}

/// Counts bits without storing them.
#[derive(Default)]
pub(crate) struct Counter(pub u64);

impl Sink for Counter {
    #[inline]
    fn put(&mut self, n: u32, _v: u32) {
        self.0 += u64::from(n);
    }
}

/// Packs bits MSB-first into bytes.
pub(crate) struct Writer {
    pub out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Writer {
    pub fn new(out: Vec<u8>) -> Self {
        Writer { out, acc: 0, n: 0 }
    }

    pub fn bit_len(&self) -> u64 {
        self.out.len() as u64 * 8 + u64::from(self.n)
    }

    /// Zero-fill to a byte boundary and return the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n % 8;
            if pad < 8 {
                self.put(pad, 0);
            }
        }
        debug_assert_eq!(self.n, 0);
        self.out
    }
}

impl Sink for Writer {
    #[inline]
    fn put(&mut self, n: u32, v: u32) {
        if n == 0 {
            return;
        }
        debug_assert!(n <= 32);
        let v = u64::from(v) & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | v;
        self.n += n;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
    }
}
