//! The PnP expansion header (`$PnP`, PnP BIOS 1.0A), 32 bytes, found through the
//! legacy header's pointer at 0x1A and chained through its own "next" pointer.
//!
//! | off  | size | field |
//! |------|------|-------|
//! | 0x00 | 4    | `$PnP` |
//! | 0x04 | 1    | structure revision |
//! | 0x05 | 1    | length in 16-byte units |
//! | 0x06 | 2    | offset of the next header (0 = none) |
//! | 0x08 | 1    | reserved |
//! | 0x09 | 1    | checksum (the header's bytes sum to 0) |
//! | 0x0A | 4    | device identifier |
//! | 0x0E | 2    | manufacturer string pointer |
//! | 0x10 | 2    | product string pointer |
//! | 0x12 | 3    | device type code (base, sub, interface) |
//! | 0x15 | 1    | device indicators |
//! | 0x16 | 2    | BCV, boot connection vector |
//! | 0x18 | 2    | BDV, disconnect vector |
//! | 0x1A | 2    | BEV, bootstrap entry vector |
//! | 0x1C | 2    | reserved |
//! | 0x1E | 2    | static resource information vector |

use crate::error::{Error, ErrorKind, Result};
use crate::field::{set_u16, set_u32, u16_at, u32_at};

#[allow(missing_docs)]
pub mod field {
    pub const SIGNATURE: core::ops::Range<usize> = 0x00..0x04;
    pub const REVISION: usize = 0x04;
    pub const LENGTH: usize = 0x05;
    pub const NEXT: usize = 0x06;
    pub const RESERVED1: usize = 0x08;
    pub const CHECKSUM: usize = 0x09;
    pub const DEVICE_ID: usize = 0x0A;
    pub const MANUFACTURER: usize = 0x0E;
    pub const PRODUCT: usize = 0x10;
    pub const DEVICE_TYPE: core::ops::Range<usize> = 0x12..0x15;
    pub const INDICATORS: usize = 0x15;
    pub const BCV: usize = 0x16;
    pub const BDV: usize = 0x18;
    pub const BEV: usize = 0x1A;
    pub const RESERVED2: usize = 0x1C;
    pub const STATIC_RESOURCE: usize = 0x1E;
    pub const END: usize = 0x20;
}

/// Length of the header's defined fields.
pub const HEADER_LEN: usize = field::END;
/// The signature.
pub const SIGNATURE: &[u8; 4] = b"$PnP";

view!(
    /// A view of a `$PnP` header.
    PnpHeader,
    HEADER_LEN,
    "$PnP header"
);

impl<T: AsRef<[u8]>> PnpHeader<T> {
    /// Whether the signature is `$PnP`.
    pub fn has_signature(&self) -> bool {
        &self.b()[field::SIGNATURE] == SIGNATURE
    }
    /// Structure revision.
    pub fn revision(&self) -> u8 {
        self.b()[field::REVISION]
    }
    /// Length in 16-byte units.
    pub fn length(&self) -> u8 {
        self.b()[field::LENGTH]
    }
    /// The checksummed span in bytes.
    pub fn checksum_span(&self) -> usize {
        usize::from(self.length()) * 16
    }
    /// Next header pointer.
    pub fn next(&self) -> u16 {
        u16_at(self.b(), field::NEXT)
    }
    /// Checksum byte.
    pub fn checksum(&self) -> u8 {
        self.b()[field::CHECKSUM]
    }
    /// Device identifier.
    pub fn device_id(&self) -> u32 {
        u32_at(self.b(), field::DEVICE_ID)
    }
    /// Manufacturer string pointer.
    pub fn manufacturer(&self) -> u16 {
        u16_at(self.b(), field::MANUFACTURER)
    }
    /// Product string pointer.
    pub fn product(&self) -> u16 {
        u16_at(self.b(), field::PRODUCT)
    }
    /// Device type code as base, sub, interface.
    pub fn device_type(&self) -> [u8; 3] {
        let b = self.b();
        [b[0x12], b[0x13], b[0x14]]
    }
    /// Device indicators.
    pub fn indicators(&self) -> u8 {
        self.b()[field::INDICATORS]
    }
    /// Boot connection vector.
    pub fn bcv(&self) -> u16 {
        u16_at(self.b(), field::BCV)
    }
    /// Disconnect vector.
    pub fn bdv(&self) -> u16 {
        u16_at(self.b(), field::BDV)
    }
    /// Bootstrap entry vector.
    pub fn bev(&self) -> u16 {
        u16_at(self.b(), field::BEV)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> PnpHeader<T> {
    /// Set the checksum byte.
    pub fn set_checksum(&mut self, v: u8) {
        self.buffer.as_mut()[field::CHECKSUM] = v
    }
}

/// Every byte of a `$PnP` header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct PnpHeaderRepr {
    pub revision: u8,
    pub length: u8,
    pub next: u16,
    pub reserved1: u8,
    pub checksum: u8,
    pub device_id: u32,
    pub manufacturer: u16,
    pub product: u16,
    pub device_type: [u8; 3],
    pub indicators: u8,
    pub bcv: u16,
    pub bdv: u16,
    pub bev: u16,
    pub reserved2: u16,
    pub static_resource: u16,
}

impl PnpHeaderRepr {
    /// Decode, requiring the `$PnP` signature.
    pub fn parse<T: AsRef<[u8]>>(h: &PnpHeader<T>) -> Result<Self> {
        if !h.has_signature() {
            return Err(Error::new(
                0,
                "$PnP.Signature",
                ErrorKind::BadSignature { expected: "$PnP", found: u32_at(h.b(), 0) },
            ));
        }
        let b = h.b();
        Ok(PnpHeaderRepr {
            revision: h.revision(),
            length: h.length(),
            next: h.next(),
            reserved1: b[field::RESERVED1],
            checksum: h.checksum(),
            device_id: h.device_id(),
            manufacturer: h.manufacturer(),
            product: h.product(),
            device_type: h.device_type(),
            indicators: h.indicators(),
            bcv: h.bcv(),
            bdv: h.bdv(),
            bev: h.bev(),
            reserved2: u16_at(b, field::RESERVED2),
            static_resource: u16_at(b, field::STATIC_RESOURCE),
        })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write every byte of the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut PnpHeader<T>) {
        let b = h.buffer.as_mut();
        b[field::SIGNATURE].copy_from_slice(SIGNATURE);
        b[field::REVISION] = self.revision;
        b[field::LENGTH] = self.length;
        set_u16(b, field::NEXT, self.next);
        b[field::RESERVED1] = self.reserved1;
        b[field::CHECKSUM] = self.checksum;
        set_u32(b, field::DEVICE_ID, self.device_id);
        set_u16(b, field::MANUFACTURER, self.manufacturer);
        set_u16(b, field::PRODUCT, self.product);
        b[field::DEVICE_TYPE].copy_from_slice(&self.device_type);
        b[field::INDICATORS] = self.indicators;
        set_u16(b, field::BCV, self.bcv);
        set_u16(b, field::BDV, self.bdv);
        set_u16(b, field::BEV, self.bev);
        set_u16(b, field::RESERVED2, self.reserved2);
        set_u16(b, field::STATIC_RESOURCE, self.static_resource);
    }
}
