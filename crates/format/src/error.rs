use core::fmt;

/// A malformed structure: where it is, which field, and what is wrong with it.
///
/// `offset` is relative to the buffer handed to the parser; [`crate::chain`] hands
/// out whole-file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Byte offset of the offending field.
    pub offset: usize,
    /// Name of the field, as in the specifications (`PCIR.ImageLength`, …).
    pub field: &'static str,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// The ways a structure can be malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The buffer ends before the structure does.
    Truncated {
        /// Bytes the structure needs from `offset`.
        needed: usize,
        /// Bytes available from `offset`.
        available: usize,
    },
    /// A signature or magic value is not the expected one.
    BadSignature {
        /// The expected bytes, as text (`55 AA`, `PCIR`, …).
        expected: &'static str,
        /// The bytes found, as read.
        found: u32,
    },
    /// A pointer leads outside the image or file.
    OutOfBounds {
        /// The pointer's value.
        value: usize,
        /// The limit it must stay below.
        limit: usize,
    },
    /// A pointer that must be aligned is not.
    Unaligned {
        /// The pointer's value.
        value: usize,
        /// The required alignment.
        align: usize,
    },
    /// A length that must not be zero is.
    Zero,
    /// The image extends past the end of the file.
    PastEnd {
        /// Where the image would end.
        end: usize,
        /// The file size.
        size: usize,
    },
    /// The file ends and no image had the last-image bit set.
    NoLastImage,
    /// The first image's PCIR pointer is 0: an ISA-style ROM with no PCI Data
    /// Structure, which can neither sit in a PCI ROM BAR nor take part in a chain.
    NoPcir,
    /// A pointer leads into the header that holds it.
    InsideHeader {
        /// The pointer's value.
        value: usize,
        /// Where the header ends: the pointer must be at least this.
        header_end: usize,
    },
    /// A length field disagrees with the structure it describes.
    BadLength {
        /// The value found.
        value: usize,
        /// What the value must be (or at least be).
        expected: usize,
    },
}

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(offset: usize, field: &'static str, kind: ErrorKind) -> Self {
        Error { offset, field, kind }
    }

    /// Shift the offset by `base`, turning a structure-relative offset into a
    /// file offset.
    pub fn rebase(mut self, base: usize) -> Self {
        self.offset += base;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {:#x}, field {}: {}", self.offset, self.field, self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { needed, available } => {
                write!(f, "truncated: needs {needed} bytes, only {available} present")
            }
            ErrorKind::BadSignature { expected, found } => {
                write!(f, "bad signature: expected {expected}, found {found:#x}")
            }
            ErrorKind::OutOfBounds { value, limit } => {
                write!(f, "out of bounds: {value:#x} is not below {limit:#x}")
            }
            ErrorKind::Unaligned { value, align } => {
                write!(f, "unaligned: {value:#x} is not a multiple of {align}")
            }
            ErrorKind::Zero => write!(f, "is zero"),
            ErrorKind::PastEnd { end, size } => {
                write!(f, "the image is cut off at {size:#x}, the end of the file; it declares its end at {end:#x}")
            }
            ErrorKind::NoLastImage => {
                write!(f, "the file ends but no image has the last-image bit (indicator bit 7) set")
            }
            ErrorKind::NoPcir => write!(
                f,
                "is 0: no PCI Data Structure (an ISA-style ROM, not a PCI option ROM image that can be chained)"
            ),
            ErrorKind::InsideHeader { value, header_end } => {
                write!(f, "{value:#x} points into the header (must be at least {header_end:#x})")
            }
            ErrorKind::BadLength { value, expected } => {
                write!(f, "bad length {value:#x}, expected {expected:#x}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Fail with `Truncated` unless `buf` holds `needed` bytes.
pub(crate) fn need(buf: &[u8], needed: usize, field: &'static str) -> Result<()> {
    if buf.len() < needed {
        Err(Error::new(0, field, ErrorKind::Truncated { needed, available: buf.len() }))
    } else {
        Ok(())
    }
}
