//! Compression and decompression for the EFI ("v1", UEFI specification) and
//! Tiano ("v2", EDK2 `TianoCompress`) formats used by PCI option ROM EFI
//! images and firmware volumes: an LZ77 + static-Huffman bitstream (Okumura's
//! ar002 `-lh5-` coder) behind an 8-byte `(CompSize, OrigSize)` header. The
//! decoder is table driven, never panics, bounds its memory by the declared
//! original size (capped by a caller-supplied limit) and reports malformed
//! input — including defects EDK2's decoder silently accepts, such as an
//! invalid C code — as a typed [`DecodeError`] with a bit offset. The encoder
//! produces streams that EDK2's decoders accept byte-exactly and that stay
//! within the specification by default (v1 positions ≤ 8190, complete codes
//! of at most 16 bits, block sizes 1..=65535, terminator byte kept); its
//! levels range from hash-chain lazy matching ([`Level::Fast`]) to iterated
//! cost-based optimal parsing with cost-based block splitting
//! ([`Level::Best`]). Only `std` is used.

mod bits;
mod codes;
mod cost;
mod decode;
mod encode;
mod huffman;
mod lengths;
mod matcher;
mod parse;
mod polish;
mod split;
mod token;

/// Deterministic xorshift64 generator for test inputs.
#[cfg(test)]
pub(crate) fn xorshift(mut s: u64) -> impl FnMut() -> u64 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

use std::fmt;
use std::str::FromStr;

/// Length of the `(CompSize, OrigSize)` header in bytes.
pub const HEADER_LEN: usize = 8;

/// Stream format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// EFI / UEFI compression ("version 1"): 4-bit position-set count,
    /// 8 KiB window. This is what option ROMs use.
    Efi,
    /// Tiano compression ("version 2"): 5-bit position-set count, 512 KiB window.
    Tiano,
}

/// Compression effort.
///
/// All levels write spec-conformant streams; they differ only in how hard
/// they search (see `BENCHMARKS.md` for sizes and times).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Level {
    /// One-step lazy matching over hash chains (depth 128; 384 for Tiano),
    /// then cost-based block splitting. Smaller and faster than EDK2's
    /// compressor.
    Fast,
    /// Cost-based optimal parsing (shortest path over Huffman code lengths)
    /// over the longest match of every position class (chain depth 96; 128
    /// for Tiano), two cost-refinement passes with per-block costs,
    /// cost-based block splitting.
    #[default]
    Default,
    /// As `Default` with deep chains (4096; 2048 for Tiano) and finer block
    /// splitting. Tiano: up to six refinement passes. EFI: block codes
    /// chosen for the exact block size including the header (optimal C, T and
    /// P lengths for the table coding, cost-based zero-run coding), split
    /// decisions on those exact sizes at 32-token granularity, and an
    /// annealed six-pass refinement (entropy-blended cost models first,
    /// Huffman lengths last; the smallest result wins). Both formats then
    /// re-parse every block on its own inside fixed boundaries, keeping each
    /// block's smallest parse, merge neighbours where one re-parsed block is
    /// smaller, re-split while that helps, and move every boundary to where
    /// the two blocks beside it cost least (a re-parse of the pair with the
    /// boundary free, then whole-token shifts). About 37× EDK2's time.
    Best,
}

/// Options for [`compress_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CompressOptions {
    /// Stream format.
    pub format: Format,
    /// Compression effort.
    pub level: Level,
    /// EFI (v1) only: allow match positions 8191..=16383 (position symbol 14,
    /// i.e. a 16 KiB window). The UEFI specification limits positions to
    /// 0..=8190, but EDK2's decoders (MdePkg `BaseUefiDecompressLib`, used by
    /// OVMF/DxeCore, and BaseTools) accept the larger range. Other vendors'
    /// decoders may not. Off by default; ignored for [`Format::Tiano`].
    pub allow_16k_efi_distances: bool,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions { format: Format::Efi, level: Level::Default, allow_16k_efi_distances: false }
    }
}

/// Compress `input` into a complete stream (8-byte header included).
pub fn compress(format: Format, input: &[u8], level: Level) -> Vec<u8> {
    compress_with(input, &CompressOptions { format, level, allow_16k_efi_distances: false })
}

/// Compress `input` with explicit options.
///
/// # Panics
/// If `input` is longer than `u32::MAX` bytes (the header cannot express it).
pub fn compress_with(input: &[u8], opts: &CompressOptions) -> Vec<u8> {
    encode::compress(input, opts)
}

/// Decompress a complete stream. `limit` caps the declared original size:
/// a stream declaring more than `limit` bytes is rejected before any
/// allocation. Bytes after the declared compressed size are ignored (option
/// ROM padding).
///
/// Differences from EDK2's decoder (which accepts everything this accepts,
/// with the same output): invalid C codes, all-zero code length lists,
/// out-of-range symbols in the single-symbol form, copies running past the
/// declared size, unused symbols left in the last block and bit reads beyond
/// the declared compressed size are reported as errors instead of being
/// silently accepted. A block size of 0 means 65,536 symbols, as in EDK2.
pub fn decompress(format: Format, input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    decode::decompress(format, input, limit)
}

/// `(compressed size, original size)` from a stream header, or `None` if
/// `input` is shorter than the header.
pub fn stream_sizes(input: &[u8]) -> Option<(u32, u32)> {
    if input.len() < HEADER_LEN {
        return None;
    }
    Some((u32::from_le_bytes(input[0..4].try_into().ok()?), u32::from_le_bytes(input[4..8].try_into().ok()?)))
}

/// Write a stream header: compressed size (the bytes after the header), then
/// original size, both little-endian.
pub(crate) fn write_stream_sizes(out: &mut [u8], comp: u32, orig: u32) {
    out[0..4].copy_from_slice(&comp.to_le_bytes());
    out[4..8].copy_from_slice(&orig.to_le_bytes());
}

/// One of the three Huffman code tables of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// The "extra set" code used to transmit the C code lengths.
    T,
    /// The "char & length" code (literals and match lengths).
    C,
    /// The position-set code.
    P,
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Table::T => "T",
            Table::C => "C",
            Table::P => "P",
        })
    }
}

/// Why a stream was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ends before the header, before the declared compressed
    /// size, or the decoder needed bits past the declared compressed size.
    Truncated,
    /// A code whose lengths do not fill the code space (Kraft sum < 1),
    /// including an explicit all-zero length list.
    IncompleteCode { table: Table },
    /// A code whose lengths over-fill the code space (Kraft sum > 1).
    OversubscribedCode { table: Table },
    /// A code length above 16.
    CodeLengthTooLong { table: Table, length: u32 },
    /// More code lengths than the table has symbols.
    TooManyCodeLengths { table: Table, count: u32, max: u32 },
    /// A single-symbol table naming a symbol outside the alphabet.
    InvalidSymbol { table: Table, symbol: u32 },
    /// A copy whose source lies before the start of the output.
    CopyBeforeStart { distance: u64, position: u64 },
    /// A copy that would run past the declared original size.
    OutputSizeMismatch { expected: u64, actual: u64 },
    /// The output reached the declared size with symbols left in the block.
    ExcessSymbols { remaining: u32 },
    /// The header declares an original size above the caller's limit.
    DeclaredSizeTooLarge { declared: u64, limit: u64 },
}

/// A decoding failure: what went wrong and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// Bit offset from the start of the stream (the 64 header bits included)
    /// of the field where the problem was detected.
    pub bit_offset: u64,
    /// The problem.
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match *self {
            Truncated => write!(f, "truncated input"),
            IncompleteCode { table } => write!(f, "incomplete Huffman code in the {table} table"),
            OversubscribedCode { table } => {
                write!(f, "over-subscribed Huffman code in the {table} table")
            }
            CodeLengthTooLong { table, length } => {
                write!(f, "code length {length} > 16 in the {table} table")
            }
            TooManyCodeLengths { table, count, max } => {
                write!(f, "{count} code lengths for the {table} table (at most {max})")
            }
            InvalidSymbol { table, symbol } => {
                write!(f, "invalid symbol {symbol} in the {table} table")
            }
            CopyBeforeStart { distance, position } => {
                write!(f, "copy from distance {distance} at output position {position} starts before the output")
            }
            OutputSizeMismatch { expected, actual } => {
                write!(f, "output size mismatch: declared {expected} bytes, stream produces {actual}")
            }
            ExcessSymbols { remaining } => {
                write!(f, "output complete with {remaining} symbols left in the block")
            }
            DeclaredSizeTooLarge { declared, limit } => {
                write!(f, "declared original size {declared} exceeds the limit {limit}")
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at bit {}: {}", self.bit_offset, self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// Error from parsing a [`Format`] or [`Level`] name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNameError {
    what: &'static str,
    got: String,
}

impl fmt::Display for ParseNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.what {
            "format" => write!(f, "unknown format {:?} (expected \"efi\" or \"tiano\")", self.got),
            _ => write!(f, "unknown level {:?} (expected \"fast\", \"default\" or \"best\")", self.got),
        }
    }
}

impl std::error::Error for ParseNameError {}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Efi => "efi",
            Format::Tiano => "tiano",
        })
    }
}

impl FromStr for Format {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "efi" => Ok(Format::Efi),
            "tiano" => Ok(Format::Tiano),
            _ => Err(ParseNameError { what: "format", got: s.to_string() }),
        }
    }
}

impl Format {
    /// Every format's name, as [`FromStr`] accepts it.
    pub const NAMES: [&'static str; 2] = ["efi", "tiano"];
}

impl Level {
    /// Every level's name, as [`FromStr`] accepts it.
    pub const NAMES: [&'static str; 3] = ["fast", "default", "best"];
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Fast => "fast",
            Level::Default => "default",
            Level::Best => "best",
        })
    }
}

impl FromStr for Level {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fast" => Ok(Level::Fast),
            "default" => Ok(Level::Default),
            "best" => Ok(Level::Best),
            _ => Err(ParseNameError { what: "level", got: s.to_string() }),
        }
    }
}
