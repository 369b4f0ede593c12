//! iPXE's packed payload in BIOS images (`.rom`, `.kpxe`, `.pxe`, `.lkrn`).
//!
//! iPXE's build tool `zbin` (`src/util/zbin.c`) writes an image as its uncompressed
//! prefix followed by one compressed blob: the linked `.text16.late`, `.data16`
//! and `.textdata` sections (`arch/x86/scripts/pcbios.lds`), first run through a
//! simple x86 branch filter and then compressed as a *raw* LZMA1 stream (no
//! `.lzma` header) with lc=2, lp=0, pb=0 ("must match those used by unlzma.S").
//! liblzma's raw LZMA1 encoder ends such a stream with an end-of-payload marker.
//!
//! The branch filter: at every offset, an `E8` (call) or `E9` (jmp) byte followed
//! by a little-endian rel32 has that target rewritten to an absolute one (targets
//! inside `[-offset, limit-offset)` become `target+offset`, targets in
//! `[limit-offset, limit)` are folded to `target-limit`, where
//! `limit = len - 5`), and the four target bytes are skipped. [`unbranch`] is the
//! inverse, walking the same positions.
//!
//! Nothing in the prefix records where the blob starts in a way that survives
//! every prefix type, so [`find`] tries each 4-byte-aligned offset in the first
//! 64 KiB whose byte is 0 (a range-coded LZMA stream always starts with 0) and
//! accepts the first stream that decodes to its end marker. The work spent on
//! wrong offsets is capped (16 MiB decoded in all), so hostile input costs
//! bounded time.

use std::cell::Cell;
use std::io::{self, BufRead, Read, Write};

use lzma_rs::decompress::raw::{LzmaDecoder, LzmaParams, LzmaProperties};
use serde::Serialize;

/// The LZMA properties `zbin` uses.
const PROPS: LzmaProperties = LzmaProperties { lc: 2, lp: 0, pb: 0 };
/// Decoding window. The decoder hands output on (and so to the work budget)
/// each time this window fills, which bounds what a wrong start offset costs;
/// it holds the whole of every iPXE payload seen (Debian's all-driver
/// `ipxe.lkrn` unpacks to 747,144 bytes), so no match reaches past it.
const DICT_SIZE: u32 = 1 << 20;
/// Largest unpacked payload accepted.
pub const MAX_UNPACKED: usize = 2 << 20;
/// Where the stream may start: iPXE prefixes are a few KiB.
const SCAN_WINDOW: usize = 64 << 10;
/// Smallest payload taken for iPXE code: a stray 0 byte that happens to decode
/// to an end marker yields a few bytes at most.
const MIN_UNPACKED: usize = 4096;
/// Total bytes read plus written across all attempts before giving up: a few
/// real payloads' worth, so hostile input costs a bounded, small time.
const WORK_BUDGET: u64 = 16 << 20;

/// Where the packed payload sits and what it unpacks to.
#[derive(Debug, Clone, Serialize)]
pub struct PackedPayload {
    /// Offset of the LZMA stream within the image or file.
    pub stream_offset: u64,
    /// Bytes of the stream, up to and including the end marker.
    pub packed_size: u64,
    /// Bytes it unpacks to.
    pub unpacked_size: u64,
    /// How the stream was recognised.
    pub evidence: String,
}

/// A found and unpacked payload.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// Location and sizes.
    pub info: PackedPayload,
    /// The unpacked, un-filtered bytes.
    pub data: Vec<u8>,
}

/// A slice reader that charges every byte it hands out to a shared budget and
/// tells how far the decoder got.
struct Metered<'a> {
    data: &'a [u8],
    pos: usize,
    budget: &'a Cell<u64>,
}

impl Read for Metered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl io::BufRead for Metered<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.budget.get() == 0 {
            return Err(io::Error::other("work budget spent"));
        }
        let end = self.data.len().min(self.pos + 4096);
        Ok(&self.data[self.pos..end])
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.budget.set(self.budget.get().saturating_sub(n as u64));
    }
}

/// Output sink with a size cap, charging the shared budget.
struct Capped<'a> {
    out: Vec<u8>,
    budget: &'a Cell<u64>,
}

impl Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len() + buf.len() > MAX_UNPACKED {
            return Err(io::Error::other("payload larger than the limit"));
        }
        let left =
            self.budget.get().checked_sub(buf.len() as u64).ok_or_else(|| io::Error::other("work budget spent"))?;
        self.budget.set(left);
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Run the decoder over `data`: the output and how many input bytes it read.
fn run(data: &[u8], budget: &Cell<u64>) -> (Result<Vec<u8>, Stop>, usize) {
    let params = LzmaParams::new(PROPS, DICT_SIZE, None);
    let Ok(mut decoder) = LzmaDecoder::new(params, Some(DICT_SIZE as usize)) else { return (Err(Stop::Broken), 0) };
    let mut input = Metered { data, pos: 0, budget };
    let mut output = Capped { out: Vec::new(), budget };
    let result = decoder.decompress(&mut input, &mut output);
    let read = input.pos;
    let result = result.map(|()| output.out).map_err(|e| match e {
        // lzma-rs's words for "the stream ended with its end marker and input
        // remains"; every other error means no stream ends there.
        lzma_rs::error::Error::LzmaError(m) if m.contains("end-of-stream marker but more bytes") => Stop::EndMarker,
        _ => Stop::Broken,
    });
    (result, read)
}

/// Why a decoder run stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// At the end-of-stream marker, with input left over.
    EndMarker,
    /// At bad data, a limit, or the end of the input.
    Broken,
}

/// Decode one raw stream at the start of `data`: the unpacked bytes and the
/// stream length, or `None` when no complete stream starts there. lzma-rs
/// refuses a stream that is followed by more bytes (and then gives no output),
/// so a run that stops at the end marker is repeated on exactly the bytes it
/// read.
fn decode_at(data: &[u8], budget: &Cell<u64>) -> Option<(Vec<u8>, usize)> {
    let (result, read) = run(data, budget);
    match result {
        Ok(out) => return Some((out, read)),
        Err(Stop::Broken) => return None,
        Err(Stop::EndMarker) if read == 0 || read >= data.len() => return None,
        Err(Stop::EndMarker) => {}
    }
    let (again, read_again) = run(&data[..read], budget);
    again.ok().filter(|_| read_again == read).map(|out| (out, read))
}

/// Find and unpack the payload of an iPXE BIOS image.
pub fn find(image: &[u8]) -> Option<Unpacked> {
    let budget = Cell::new(WORK_BUDGET);
    let window = image.len().min(SCAN_WINDOW);
    for offset in (0..window).step_by(4) {
        // A range-coded stream starts with a 0 byte and then the coder's initial
        // 32-bit code, which is never all zero in a real stream (odds 2^-32) but
        // is in zero fill, where decoding would run long.
        if image[offset] != 0 || image.get(offset + 1..offset + 5).is_none_or(|code| code == [0; 4]) {
            continue;
        }
        if budget.get() == 0 {
            return None;
        }
        let Some((mut data, packed)) = decode_at(&image[offset..], &budget) else { continue };
        if data.len() < MIN_UNPACKED {
            continue;
        }
        unbranch(&mut data);
        let info = PackedPayload {
            stream_offset: offset as u64,
            packed_size: packed as u64,
            unpacked_size: data.len() as u64,
            evidence: format!(
                "raw LZMA1 stream (lc=2 lp=0 pb=0, as iPXE's zbin writes) at {offset:#x} decodes to its end after {packed} bytes; x86 branch filter undone"
            ),
        };
        return Some(Unpacked { info, data });
    }
    None
}

/// Undo zbin's x86 branch filter in place.
pub fn unbranch(data: &mut [u8]) {
    let Some(limit) = data.len().checked_sub(5) else { return };
    let limit = limit as i64;
    let mut offset = 0usize;
    while offset as i64 <= limit {
        if data[offset] != 0xE8 && data[offset] != 0xE9 {
            offset += 1;
            continue;
        }
        let at = offset + 1;
        let stored = i64::from(i32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]));
        let off = offset as i64;
        let original = if (0..limit).contains(&stored) {
            stored - off
        } else if (-off..0).contains(&stored) {
            stored + limit
        } else {
            stored
        };
        data[at..at + 4].copy_from_slice(&(original as i32).to_le_bytes());
        offset += 5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forward filter exactly as described in the module doc, to check the
    /// inverse against.
    fn branch(data: &mut [u8]) {
        let limit = data.len() as i64 - 5;
        let mut offset = 0usize;
        while offset as i64 <= limit {
            if data[offset] != 0xE8 && data[offset] != 0xE9 {
                offset += 1;
                continue;
            }
            let at = offset + 1;
            let target = i64::from(i32::from_le_bytes(data[at..at + 4].try_into().unwrap()));
            let off = offset as i64;
            let stored = if (-off..limit - off).contains(&target) {
                target + off
            } else if (limit - off..limit).contains(&target) {
                target - limit
            } else {
                target
            };
            data[at..at + 4].copy_from_slice(&(stored as i32).to_le_bytes());
            offset += 5;
        }
    }

    #[test]
    fn branch_filter_round_trips() {
        let mut seed = 0x1234_5678u32;
        for len in [0usize, 4, 5, 6, 64, 1000] {
            let original: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    // Many call/jmp opcodes, so most positions are exercised.
                    if seed >> 29 == 0 { 0xE8 } else { (seed >> 16) as u8 }
                })
                .collect();
            let mut data = original.clone();
            branch(&mut data);
            unbranch(&mut data);
            assert_eq!(data, original, "len {len}");
        }
    }

    #[test]
    fn garbage_and_zeros_find_nothing_quickly() {
        assert!(find(&[]).is_none());
        assert!(find(&vec![0u8; 300_000]).is_none());
        let noise: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert!(find(&noise).is_none());
    }
}
