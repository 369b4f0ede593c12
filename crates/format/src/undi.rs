//! The PXE UNDI ROM ID structure (`UNDI`, PXE 2.1), 0x16 bytes, found through the
//! legacy header's pointer at 0x16.
//!
//! | off  | size | field |
//! |------|------|-------|
//! | 0x00 | 4    | `UNDI` |
//! | 0x04 | 1    | structure length |
//! | 0x05 | 1    | checksum (the structure sums to 0) |
//! | 0x06 | 1    | structure revision |
//! | 0x07 | 3    | UNDI version: revision, minor, major |
//! | 0x0A | 2    | loader entry offset |
//! | 0x0C | 2    | stack size |
//! | 0x0E | 2    | data segment size |
//! | 0x10 | 2    | code segment size |
//! | 0x12 | 4    | bus type (`PCIR`) |

use crate::error::{Error, ErrorKind, Result};
use crate::field::{set_u16, u16_at, u32_at};

#[allow(missing_docs)]
pub mod field {
    pub const SIGNATURE: core::ops::Range<usize> = 0x00..0x04;
    pub const LENGTH: usize = 0x04;
    pub const CHECKSUM: usize = 0x05;
    pub const REVISION: usize = 0x06;
    pub const VERSION: core::ops::Range<usize> = 0x07..0x0A;
    pub const LOADER: usize = 0x0A;
    pub const STACK: usize = 0x0C;
    pub const DATA: usize = 0x0E;
    pub const CODE: usize = 0x10;
    pub const BUS_TYPE: core::ops::Range<usize> = 0x12..0x16;
    pub const END: usize = 0x16;
}

/// Length of the defined fields.
pub const HEADER_LEN: usize = field::END;
/// The signature.
pub const SIGNATURE: &[u8; 4] = b"UNDI";

view!(
    /// A view of an UNDI ROM ID.
    UndiRomId,
    HEADER_LEN,
    "UNDI ROM ID"
);

impl<T: AsRef<[u8]>> UndiRomId<T> {
    /// Whether the signature is `UNDI`.
    pub fn has_signature(&self) -> bool {
        &self.b()[field::SIGNATURE] == SIGNATURE
    }
    /// Structure length (the checksummed span).
    pub fn length(&self) -> u8 {
        self.b()[field::LENGTH]
    }
    /// Checksum byte.
    pub fn checksum(&self) -> u8 {
        self.b()[field::CHECKSUM]
    }
    /// Structure revision.
    pub fn revision(&self) -> u8 {
        self.b()[field::REVISION]
    }
    /// UNDI version as (major, minor, revision).
    pub fn version(&self) -> (u8, u8, u8) {
        let b = self.b();
        (b[9], b[8], b[7])
    }
    /// Loader entry offset.
    pub fn loader_entry(&self) -> u16 {
        u16_at(self.b(), field::LOADER)
    }
    /// Stack size.
    pub fn stack_size(&self) -> u16 {
        u16_at(self.b(), field::STACK)
    }
    /// Data segment size.
    pub fn data_size(&self) -> u16 {
        u16_at(self.b(), field::DATA)
    }
    /// Code segment size.
    pub fn code_size(&self) -> u16 {
        u16_at(self.b(), field::CODE)
    }
    /// Bus type bytes.
    pub fn bus_type(&self) -> [u8; 4] {
        let b = self.b();
        [b[0x12], b[0x13], b[0x14], b[0x15]]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UndiRomId<T> {
    /// Set the checksum byte.
    pub fn set_checksum(&mut self, v: u8) {
        self.buffer.as_mut()[field::CHECKSUM] = v
    }
}

/// Every byte of an UNDI ROM ID, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UndiRomIdRepr {
    pub length: u8,
    pub checksum: u8,
    pub revision: u8,
    /// Revision, minor, major, in stored order.
    pub version: [u8; 3],
    pub loader_entry: u16,
    pub stack_size: u16,
    pub data_size: u16,
    pub code_size: u16,
    pub bus_type: [u8; 4],
}

impl UndiRomIdRepr {
    /// Decode, requiring the `UNDI` signature.
    pub fn parse<T: AsRef<[u8]>>(h: &UndiRomId<T>) -> Result<Self> {
        if !h.has_signature() {
            return Err(Error::new(
                0,
                "UNDI.Signature",
                ErrorKind::BadSignature { expected: "UNDI", found: u32_at(h.b(), 0) },
            ));
        }
        let b = h.b();
        Ok(UndiRomIdRepr {
            length: h.length(),
            checksum: h.checksum(),
            revision: h.revision(),
            version: [b[7], b[8], b[9]],
            loader_entry: h.loader_entry(),
            stack_size: h.stack_size(),
            data_size: h.data_size(),
            code_size: h.code_size(),
            bus_type: h.bus_type(),
        })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write every byte of the structure.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut UndiRomId<T>) {
        let b = h.buffer.as_mut();
        b[field::SIGNATURE].copy_from_slice(SIGNATURE);
        b[field::LENGTH] = self.length;
        b[field::CHECKSUM] = self.checksum;
        b[field::REVISION] = self.revision;
        b[field::VERSION].copy_from_slice(&self.version);
        set_u16(b, field::LOADER, self.loader_entry);
        set_u16(b, field::STACK, self.stack_size);
        set_u16(b, field::DATA, self.data_size);
        set_u16(b, field::CODE, self.code_size);
        b[field::BUS_TYPE].copy_from_slice(&self.bus_type);
    }
}
