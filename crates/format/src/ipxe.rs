//! iPXE's own ROM header (`iPXE`), 12 bytes, found through the legacy header's
//! pointer at 0x10.
//!
//! | off  | size | field |
//! |------|------|-------|
//! | 0x00 | 4    | `iPXE` |
//! | 0x04 | 1    | length |
//! | 0x05 | 1    | checksum (the structure sums to 0) |
//! | 0x06 | 1    | shrunk ROM size, 512-byte blocks |
//! | 0x07 | 1    | reserved |
//! | 0x08 | 4    | build ID |

use crate::error::{Error, ErrorKind, Result};
use crate::field::{set_u32, u32_at};

#[allow(missing_docs)]
pub mod field {
    pub const SIGNATURE: core::ops::Range<usize> = 0x00..0x04;
    pub const LENGTH: usize = 0x04;
    pub const CHECKSUM: usize = 0x05;
    pub const SHRUNK: usize = 0x06;
    pub const RESERVED: usize = 0x07;
    pub const BUILD_ID: usize = 0x08;
    pub const END: usize = 0x0C;
}

/// Length of the defined fields.
pub const HEADER_LEN: usize = field::END;
/// The signature.
pub const SIGNATURE: &[u8; 4] = b"iPXE";

view!(
    /// A view of an iPXE header.
    IpxeHeader,
    HEADER_LEN,
    "iPXE header"
);

impl<T: AsRef<[u8]>> IpxeHeader<T> {
    /// Whether the signature is `iPXE`.
    pub fn has_signature(&self) -> bool {
        &self.b()[field::SIGNATURE] == SIGNATURE
    }
    /// Length (the checksummed span).
    pub fn length(&self) -> u8 {
        self.b()[field::LENGTH]
    }
    /// Checksum byte.
    pub fn checksum(&self) -> u8 {
        self.b()[field::CHECKSUM]
    }
    /// Shrunk ROM size in 512-byte blocks.
    pub fn shrunk_rom_size(&self) -> u8 {
        self.b()[field::SHRUNK]
    }
    /// Build ID.
    pub fn build_id(&self) -> u32 {
        u32_at(self.b(), field::BUILD_ID)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IpxeHeader<T> {
    /// Set the checksum byte.
    pub fn set_checksum(&mut self, v: u8) {
        self.buffer.as_mut()[field::CHECKSUM] = v
    }
}

/// Every byte of an iPXE header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct IpxeHeaderRepr {
    pub length: u8,
    pub checksum: u8,
    pub shrunk_rom_size: u8,
    pub reserved: u8,
    pub build_id: u32,
}

impl IpxeHeaderRepr {
    /// Decode, requiring the `iPXE` signature.
    pub fn parse<T: AsRef<[u8]>>(h: &IpxeHeader<T>) -> Result<Self> {
        if !h.has_signature() {
            return Err(Error::new(
                0,
                "iPXE.Signature",
                ErrorKind::BadSignature { expected: "iPXE", found: u32_at(h.b(), 0) },
            ));
        }
        Ok(IpxeHeaderRepr {
            length: h.length(),
            checksum: h.checksum(),
            shrunk_rom_size: h.shrunk_rom_size(),
            reserved: h.b()[field::RESERVED],
            build_id: h.build_id(),
        })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write every byte of the structure.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut IpxeHeader<T>) {
        let b = h.buffer.as_mut();
        b[field::SIGNATURE].copy_from_slice(SIGNATURE);
        b[field::LENGTH] = self.length;
        b[field::CHECKSUM] = self.checksum;
        b[field::SHRUNK] = self.shrunk_rom_size;
        b[field::RESERVED] = self.reserved;
        set_u32(b, field::BUILD_ID, self.build_id);
    }
}
