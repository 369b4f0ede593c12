//! The PC-AT legacy expansion ROM header (code type 0): bytes 0x00–0x1B of an image.
//!
//! | off  | size | field |
//! |------|------|-------|
//! | 0x00 | 2    | signature `55 AA` |
//! | 0x02 | 1    | initialization size, 512-byte blocks (the span BIOS copies and checksums) |
//! | 0x03 | 3    | init entry (a `jmp`) |
//! | 0x06 | 1    | iPXE/Etherboot checksum byte (reserved in the spec) |
//! | 0x07 | 9    | reserved |
//! | 0x10 | 2    | iPXE: pointer to the `iPXE` header |
//! | 0x12 | 2    | reserved |
//! | 0x14 | 2    | iPXE: pointer to the BOFM header |
//! | 0x16 | 2    | PXE: pointer to the UNDI ROM ID |
//! | 0x18 | 2    | pointer to the PCIR |
//! | 0x1A | 2    | pointer to the `$PnP` header |

use crate::error::{Error, ErrorKind, Result};
use crate::field::{set_u16, u16_at};

#[allow(missing_docs)]
pub mod field {
    pub const SIGNATURE: usize = 0x00;
    pub const SIZE512: usize = 0x02;
    pub const ENTRY: core::ops::Range<usize> = 0x03..0x06;
    pub const CHECKSUM: usize = 0x06;
    pub const RESERVED: core::ops::Range<usize> = 0x06..0x18;
    pub const IPXE: usize = 0x10;
    pub const BOFM: usize = 0x14;
    pub const UNDI: usize = 0x16;
    pub const PCIR: usize = crate::chain::PCIR_POINTER;
    pub const PNP: usize = 0x1A;
    pub const END: usize = 0x1C;
}

/// Length of the legacy header.
pub const HEADER_LEN: usize = field::END;

view!(
    /// A view of a legacy header at the start of `buffer`.
    LegacyHeader,
    HEADER_LEN,
    "legacy header"
);

impl<T: AsRef<[u8]>> LegacyHeader<T> {
    /// Signature, `0xAA55` for a valid ROM.
    pub fn signature(&self) -> u16 {
        u16_at(self.b(), field::SIGNATURE)
    }
    /// Initialization size in 512-byte blocks.
    pub fn size512(&self) -> u8 {
        self.b()[field::SIZE512]
    }
    /// The three entry bytes (normally a `jmp`).
    pub fn entry(&self) -> [u8; 3] {
        let b = self.b();
        [b[3], b[4], b[5]]
    }
    /// Byte 6, which iPXE adjusts to make the image sum to zero.
    pub fn checksum_byte(&self) -> u8 {
        self.b()[field::CHECKSUM]
    }
    /// iPXE header pointer (0x10); meaningful only when it points at `iPXE`.
    pub fn ipxe_offset(&self) -> u16 {
        u16_at(self.b(), field::IPXE)
    }
    /// BOFM header pointer (0x14); meaningful only for iPXE images.
    pub fn bofm_offset(&self) -> u16 {
        u16_at(self.b(), field::BOFM)
    }
    /// UNDI ROM ID pointer (0x16); meaningful only when it points at `UNDI`.
    pub fn undi_offset(&self) -> u16 {
        u16_at(self.b(), field::UNDI)
    }
    /// PCIR pointer.
    pub fn pcir_offset(&self) -> u16 {
        u16_at(self.b(), field::PCIR)
    }
    /// `$PnP` header pointer.
    pub fn pnp_offset(&self) -> u16 {
        u16_at(self.b(), field::PNP)
    }
    /// Whether the entry is a jump or call a BIOS can execute (`EB`, `E9`, `E8`).
    pub fn entry_is_jump(&self) -> bool {
        matches!(self.b()[3], 0xEB | 0xE9 | 0xE8)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LegacyHeader<T> {
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Set the signature.
    pub fn set_signature(&mut self, v: u16) {
        set_u16(self.m(), field::SIGNATURE, v)
    }
    /// Set the initialization size.
    pub fn set_size512(&mut self, v: u8) {
        self.m()[field::SIZE512] = v
    }
    /// Set byte 6.
    pub fn set_checksum_byte(&mut self, v: u8) {
        self.m()[field::CHECKSUM] = v
    }
    /// Set the PCIR pointer.
    pub fn set_pcir_offset(&mut self, v: u16) {
        set_u16(self.m(), field::PCIR, v)
    }
    /// Set the PnP pointer.
    pub fn set_pnp_offset(&mut self, v: u16) {
        set_u16(self.m(), field::PNP, v)
    }
}

/// Every byte of a legacy header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyHeaderRepr {
    /// Initialization size, 512-byte blocks.
    pub size512: u8,
    /// Entry bytes.
    pub entry: [u8; 3],
    /// Bytes 0x06–0x17: the iPXE checksum byte and the vendor pointers, kept raw.
    pub reserved: [u8; 0x12],
    /// PCIR pointer.
    pub pcir_offset: u16,
    /// PnP pointer.
    pub pnp_offset: u16,
}

impl LegacyHeaderRepr {
    /// Decode, requiring the `55 AA` signature.
    pub fn parse<T: AsRef<[u8]>>(header: &LegacyHeader<T>) -> Result<Self> {
        if header.signature() != crate::ROM_SIGNATURE {
            return Err(Error::new(
                field::SIGNATURE,
                "signature",
                ErrorKind::BadSignature { expected: "55 AA", found: header.signature().into() },
            ));
        }
        let mut reserved = [0u8; 0x12];
        reserved.copy_from_slice(&header.b()[field::RESERVED]);
        Ok(LegacyHeaderRepr {
            size512: header.size512(),
            entry: header.entry(),
            reserved,
            pcir_offset: header.pcir_offset(),
            pnp_offset: header.pnp_offset(),
        })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write every byte of the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut LegacyHeader<T>) {
        header.set_signature(crate::ROM_SIGNATURE);
        header.set_size512(self.size512);
        header.m()[field::ENTRY].copy_from_slice(&self.entry);
        header.m()[field::RESERVED].copy_from_slice(&self.reserved);
        header.set_pcir_offset(self.pcir_offset);
        header.set_pnp_offset(self.pnp_offset);
    }
}
