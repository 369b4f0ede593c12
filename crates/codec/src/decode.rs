//! Table-driven decoder for the EFI (v1) / Tiano (v2) bitstream.

use crate::huffman::canonical_codes;
use crate::{DecodeError, DecodeErrorKind, Format, Table};

pub(crate) const NC: usize = 510;
pub(crate) const NT: usize = 19;
/// Number of P lengths the decoder's table holds (EDK2 `MAXNP`/`NPT`).
pub(crate) const MAXNP: usize = 31;

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    nbits: u32,
    consumed: u64,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        let mut r = Reader { data, pos: 0, buf: 0, nbits: 0, consumed: 0 };
        r.refill();
        r
    }

    /// Fill the buffer to at least 57 bits; past the end of the data, zero
    /// bits are supplied (as EDK2 does). Whether those were *consumed* is
    /// checked separately.
    #[inline]
    fn refill(&mut self) {
        if self.pos + 8 <= self.data.len() {
            let v = u64::from_be_bytes(self.data[self.pos..self.pos + 8].try_into().unwrap());
            self.buf |= v >> self.nbits;
            self.pos += ((63 - self.nbits) >> 3) as usize;
            self.nbits |= 56;
        } else {
            while self.nbits <= 56 {
                let b = self.data.get(self.pos).copied().unwrap_or(0);
                self.pos += 1;
                self.buf |= u64::from(b) << (56 - self.nbits);
                self.nbits += 8;
            }
        }
    }

    /// Peek `n` (1..=32) bits.
    #[inline]
    fn peek(&mut self, n: u32) -> u32 {
        if self.nbits < n {
            self.refill();
        }
        (self.buf >> (64 - n)) as u32
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.nbits -= n;
        self.consumed += u64::from(n);
    }

    #[inline]
    fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let v = self.peek(n);
        self.consume(n);
        v
    }

    /// Bit offset from the start of the stream (header included).
    fn offset(&self) -> u64 {
        64 + self.consumed
    }
}

const LONG: u32 = u32::MAX;

/// Decoding table: a primary lookup of `width` bits, plus canonical
/// first-code tables for the (rare) codes longer than `width`.
struct DecTable {
    width: u32,
    /// `sym | len << 16`, or LONG.
    primary: Vec<u32>,
    first: [u32; 17],
    count: [u32; 17],
    index: [u32; 17],
    sorted: Vec<u16>,
}

impl DecTable {
    fn new(width: u32) -> Self {
        DecTable {
            width,
            primary: vec![0; 1 << width],
            first: [0; 17],
            count: [0; 17],
            index: [0; 17],
            sorted: Vec::new(),
        }
    }

    fn single(&mut self, sym: u32) {
        self.primary.iter_mut().for_each(|e| *e = sym);
    }

    /// Build from code lengths (all ≤ 16). Returns the Kraft check failure if any.
    fn build(&mut self, lens: &[u8], table: Table) -> Result<(), DecodeErrorKind> {
        let mut kraft: u64 = 0;
        let mut count = [0u32; 17];
        for &l in lens {
            debug_assert!(l <= 16);
            if l > 0 {
                kraft += 1u64 << (16 - l);
                count[l as usize] += 1;
            }
        }
        if kraft < 1 << 16 {
            return Err(DecodeErrorKind::IncompleteCode { table });
        }
        if kraft > 1 << 16 {
            return Err(DecodeErrorKind::OversubscribedCode { table });
        }
        let mut codes = vec![0u16; lens.len()];
        canonical_codes(lens, &mut codes);
        let w = self.width;
        let mut code = 0u32;
        let mut idx = 0u32;
        #[allow(clippy::needless_range_loop)]
        for l in 1..=16usize {
            self.first[l] = code;
            self.count[l] = count[l];
            self.index[l] = idx;
            idx += count[l];
            code = (code + count[l]) << 1;
        }
        self.sorted.clear();
        self.sorted.resize(idx as usize, 0);
        let mut fill = self.index;
        for (s, &l) in lens.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let l32 = u32::from(l);
            self.sorted[fill[l as usize] as usize] = s as u16;
            fill[l as usize] += 1;
            let c = u32::from(codes[s]);
            if l32 <= w {
                let start = (c << (w - l32)) as usize;
                let e = s as u32 | (l32 << 16);
                self.primary[start..start + (1usize << (w - l32))].fill(e);
            } else {
                self.primary[(c >> (l32 - w)) as usize] = LONG;
            }
        }
        Ok(())
    }

    #[inline]
    fn decode(&self, r: &mut Reader) -> u32 {
        let e = self.primary[r.peek(self.width) as usize];
        if e != LONG {
            r.consume(e >> 16);
            return e & 0xFFFF;
        }
        let v = r.peek(16);
        for l in self.width + 1..=16 {
            let c = v >> (16 - l);
            let off = c.wrapping_sub(self.first[l as usize]);
            if off < self.count[l as usize] {
                r.consume(l);
                return u32::from(self.sorted[(self.index[l as usize] + off) as usize]);
            }
        }
        // Unreachable for a complete code.
        unreachable!("complete code without a match")
    }
}

struct Decoder<'a> {
    r: Reader<'a>,
    pbit: u32,
    t: DecTable,
    c: DecTable,
    p: DecTable,
}

impl Decoder<'_> {
    fn err(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { bit_offset: self.r.offset(), kind }
    }

    /// T and P code lengths (3-bit / unary coding).
    fn read_pt_len(&mut self, which: Table) -> Result<(), DecodeError> {
        let (nn, nbit, special, max_sym) = match which {
            Table::T => (NT, 5, Some(3usize), NT as u32),
            _ => (MAXNP, self.pbit, None, MAXNP as u32),
        };
        let start = self.r.offset();
        let n = self.r.bits(nbit) as usize;
        if n == 0 {
            let s = self.r.bits(nbit);
            if s >= max_sym {
                return Err(DecodeError {
                    bit_offset: start,
                    kind: DecodeErrorKind::InvalidSymbol { table: which, symbol: s },
                });
            }
            let t = if which == Table::T { &mut self.t } else { &mut self.p };
            t.single(s);
            return Ok(());
        }
        if n > nn {
            return Err(DecodeError {
                bit_offset: start,
                kind: DecodeErrorKind::TooManyCodeLengths { table: which, count: n as u32, max: nn as u32 },
            });
        }
        let mut lens = [0u8; MAXNP];
        let mut i = 0usize;
        while i < n {
            let at = self.r.offset();
            let mut c = self.r.peek(3);
            if c == 7 {
                // Count further one bits after the first three.
                let v = self.r.peek(32) << 3;
                let ones = v.leading_ones();
                c += ones;
                if c > 16 {
                    return Err(DecodeError {
                        bit_offset: at,
                        kind: DecodeErrorKind::CodeLengthTooLong { table: which, length: c },
                    });
                }
                self.r.consume(c - 3);
            } else {
                self.r.consume(3);
            }
            lens[i] = c as u8;
            i += 1;
            if Some(i) == special {
                let z = self.r.bits(2) as usize;
                i += z; // lengths stay 0
            }
        }
        let t = if which == Table::T { &mut self.t } else { &mut self.p };
        t.build(&lens[..nn], which).map_err(|kind| DecodeError { bit_offset: start, kind })
    }

    fn read_c_len(&mut self) -> Result<(), DecodeError> {
        let start = self.r.offset();
        let n = self.r.bits(9) as usize;
        if n == 0 {
            let s = self.r.bits(9);
            if s as usize >= NC {
                return Err(DecodeError {
                    bit_offset: start,
                    kind: DecodeErrorKind::InvalidSymbol { table: Table::C, symbol: s },
                });
            }
            self.c.single(s);
            return Ok(());
        }
        if n > NC {
            return Err(DecodeError {
                bit_offset: start,
                kind: DecodeErrorKind::TooManyCodeLengths { table: Table::C, count: n as u32, max: NC as u32 },
            });
        }
        let mut lens = [0u8; NC];
        let mut i = 0usize;
        while i < n {
            let t = self.t.decode(&mut self.r);
            if t <= 2 {
                let run = match t {
                    0 => 1,
                    1 => self.r.bits(4) as usize + 3,
                    _ => self.r.bits(9) as usize + 20,
                };
                if i + run > NC {
                    return Err(self.err(DecodeErrorKind::TooManyCodeLengths {
                        table: Table::C,
                        count: (i + run) as u32,
                        max: NC as u32,
                    }));
                }
                i += run;
            } else {
                lens[i] = (t - 2) as u8;
                i += 1;
            }
        }
        self.c.build(&lens, Table::C).map_err(|kind| DecodeError { bit_offset: start, kind })
    }

    fn check_truncation(&self, comp: u64) -> Result<(), DecodeError> {
        if self.r.consumed > comp * 8 {
            return Err(DecodeError { bit_offset: 64 + comp * 8, kind: DecodeErrorKind::Truncated });
        }
        Ok(())
    }

    fn run(&mut self, orig: usize, comp: u64) -> Result<Vec<u8>, DecodeError> {
        // Reserve for a typical ratio; the vector grows (up to `orig`) if
        // the stream is more compressible, so garbage headers cost little.
        let mut out: Vec<u8> = Vec::with_capacity(orig.min(4096usize.max(comp as usize * 4)));
        let mut remaining: u32 = 0;
        while out.len() < orig {
            if remaining == 0 {
                self.check_truncation(comp)?;
                remaining = self.r.bits(16);
                if remaining == 0 {
                    remaining = 1 << 16; // EDK2 keeps the count in a UINT16
                }
                self.read_pt_len(Table::T)?;
                self.read_c_len()?;
                self.read_pt_len(Table::P)?;
                self.check_truncation(comp)?;
            }
            remaining -= 1;
            let at = self.r.offset();
            let c = self.c.decode(&mut self.r);
            if self.r.consumed > comp * 8 {
                return Err(DecodeError { bit_offset: 64 + comp * 8, kind: DecodeErrorKind::Truncated });
            }
            if c < 256 {
                out.push(c as u8);
                continue;
            }
            let len = (c - 253) as usize;
            let k = self.p.decode(&mut self.r);
            let p = if k <= 1 { u64::from(k) } else { (1u64 << (k - 1)) + u64::from(self.r.bits(k - 1)) };
            let dist = p + 1;
            let pos = out.len();
            if dist > pos as u64 {
                return Err(DecodeError {
                    bit_offset: at,
                    kind: DecodeErrorKind::CopyBeforeStart { distance: dist, position: pos as u64 },
                });
            }
            if pos + len > orig {
                return Err(DecodeError {
                    bit_offset: at,
                    kind: DecodeErrorKind::OutputSizeMismatch { expected: orig as u64, actual: (pos + len) as u64 },
                });
            }
            let dist = dist as usize;
            let src = pos - dist;
            if dist >= len {
                out.extend_from_within(src..src + len);
            } else if dist == 1 {
                let b = out[src];
                out.resize(pos + len, b);
            } else {
                // Overlapping copy: the output from `src` on is periodic
                // with period `dist`, so copy ever larger prefixes of it.
                let mut copied = 0;
                while copied < len {
                    let n = (out.len() - src).min(len - copied);
                    out.extend_from_within(src..src + n);
                    copied += n;
                }
            }
        }
        self.check_truncation(comp)?;
        if remaining != 0 {
            return Err(self.err(DecodeErrorKind::ExcessSymbols { remaining }));
        }
        Ok(out)
    }
}

pub(crate) fn decompress(format: Format, input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let total_bits = input.len() as u64 * 8;
    let Some((comp, orig)) = crate::stream_sizes(input) else {
        return Err(DecodeError { bit_offset: total_bits, kind: DecodeErrorKind::Truncated });
    };
    let (comp, orig) = (u64::from(comp), u64::from(orig));
    if orig > limit as u64 {
        return Err(DecodeError {
            bit_offset: 32,
            kind: DecodeErrorKind::DeclaredSizeTooLarge { declared: orig, limit: limit as u64 },
        });
    }
    if (input.len() as u64 - 8) < comp {
        return Err(DecodeError { bit_offset: total_bits, kind: DecodeErrorKind::Truncated });
    }
    if orig == 0 {
        return Ok(Vec::new());
    }
    let data = &input[8..8 + comp as usize];
    let mut d = Decoder {
        r: Reader::new(data),
        pbit: match format {
            Format::Efi => 4,
            Format::Tiano => 5,
        },
        t: DecTable::new(8),
        c: DecTable::new(12),
        p: DecTable::new(8),
    };
    d.run(orig as usize, comp)
}
