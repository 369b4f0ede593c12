//! The EFI PCI expansion ROM header (code type 3): bytes 0x00–0x19 of an image.
//!
//! | off  | size | field |
//! |------|------|-------|
//! | 0x00 | 2    | signature `55 AA` |
//! | 0x02 | 2    | InitializationSize, 512-byte blocks, header included |
//! | 0x04 | 4    | EfiSignature `0x0EF1` |
//! | 0x08 | 2    | EfiSubsystem (10 application, 11 boot-service driver, 12 runtime driver) |
//! | 0x0A | 2    | EfiMachineType (the PE `Machine`) |
//! | 0x0C | 2    | CompressionType (0 none, 1 EFI compression) |
//! | 0x0E | 8    | reserved |
//! | 0x16 | 2    | EfiImageHeaderOffset: where the PE image (or compressed stream) starts |
//! | 0x18 | 2    | PcirOffset |
//!
//! Byte 6 is part of EfiSignature, so iPXE's legacy "checksum at byte 6" can never be
//! applied to an EFI image.

use crate::error::{Error, ErrorKind, Result};
use crate::field::{set_u16, set_u32, u16_at, u32_at};
use crate::types::{Compression, Machine, Subsystem};

#[allow(missing_docs)]
pub mod field {
    pub const SIGNATURE: usize = 0x00;
    pub const INIT_SIZE: usize = 0x02;
    pub const EFI_SIGNATURE: usize = 0x04;
    pub const SUBSYSTEM: usize = 0x08;
    pub const MACHINE: usize = 0x0A;
    pub const COMPRESSION: usize = 0x0C;
    pub const RESERVED: core::ops::Range<usize> = 0x0E..0x16;
    pub const IMAGE_OFFSET: usize = 0x16;
    pub const PCIR: usize = crate::chain::PCIR_POINTER;
    pub const END: usize = 0x1A;
}

/// Length of the EFI header.
pub const HEADER_LEN: usize = field::END;

/// The value of EfiSignature.
pub const EFI_SIGNATURE: u32 = 0x0EF1;

view!(
    /// A view of an EFI header at the start of `buffer`.
    EfiHeader,
    HEADER_LEN,
    "EFI header"
);

impl<T: AsRef<[u8]>> EfiHeader<T> {
    /// Signature, `0xAA55`.
    pub fn signature(&self) -> u16 {
        u16_at(self.b(), field::SIGNATURE)
    }
    /// InitializationSize in 512-byte blocks.
    pub fn init_size(&self) -> u16 {
        u16_at(self.b(), field::INIT_SIZE)
    }
    /// EfiSignature, `0x0EF1` when valid.
    pub fn efi_signature(&self) -> u32 {
        u32_at(self.b(), field::EFI_SIGNATURE)
    }
    /// EFI subsystem.
    pub fn subsystem(&self) -> Subsystem {
        u16_at(self.b(), field::SUBSYSTEM).into()
    }
    /// Machine type.
    pub fn machine(&self) -> Machine {
        u16_at(self.b(), field::MACHINE).into()
    }
    /// Compression type.
    pub fn compression(&self) -> Compression {
        u16_at(self.b(), field::COMPRESSION).into()
    }
    /// Offset of the PE image or compressed stream.
    pub fn image_offset(&self) -> u16 {
        u16_at(self.b(), field::IMAGE_OFFSET)
    }
    /// PCIR pointer.
    pub fn pcir_offset(&self) -> u16 {
        u16_at(self.b(), field::PCIR)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EfiHeader<T> {
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Set InitializationSize.
    pub fn set_init_size(&mut self, v: u16) {
        set_u16(self.m(), field::INIT_SIZE, v)
    }
    /// Set the subsystem.
    pub fn set_subsystem(&mut self, v: Subsystem) {
        set_u16(self.m(), field::SUBSYSTEM, v.raw())
    }
    /// Set the machine.
    pub fn set_machine(&mut self, v: Machine) {
        set_u16(self.m(), field::MACHINE, v.raw())
    }
    /// Set the compression type.
    pub fn set_compression(&mut self, v: Compression) {
        set_u16(self.m(), field::COMPRESSION, v.raw())
    }
    /// Set the image offset.
    pub fn set_image_offset(&mut self, v: u16) {
        set_u16(self.m(), field::IMAGE_OFFSET, v)
    }
    /// Set the PCIR pointer.
    pub fn set_pcir_offset(&mut self, v: u16) {
        set_u16(self.m(), field::PCIR, v)
    }
}

/// Every byte of an EFI header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiHeaderRepr {
    /// InitializationSize, 512-byte blocks.
    pub init_size: u16,
    /// EfiSignature as read (0x0EF1 for a valid image; kept so odd images round-trip).
    pub efi_signature: u32,
    /// Subsystem.
    pub subsystem: Subsystem,
    /// Machine.
    pub machine: Machine,
    /// Compression.
    pub compression: Compression,
    /// Reserved bytes 0x0E–0x15.
    pub reserved: [u8; 8],
    /// Image offset.
    pub image_offset: u16,
    /// PCIR pointer.
    pub pcir_offset: u16,
}

impl EfiHeaderRepr {
    /// Decode, requiring both signatures.
    pub fn parse<T: AsRef<[u8]>>(header: &EfiHeader<T>) -> Result<Self> {
        if header.signature() != crate::ROM_SIGNATURE {
            return Err(Error::new(
                field::SIGNATURE,
                "signature",
                ErrorKind::BadSignature { expected: "55 AA", found: header.signature().into() },
            ));
        }
        if header.efi_signature() != EFI_SIGNATURE {
            return Err(Error::new(
                field::EFI_SIGNATURE,
                "EfiSignature",
                ErrorKind::BadSignature { expected: "0x0EF1", found: header.efi_signature() },
            ));
        }
        let mut reserved = [0u8; 8];
        reserved.copy_from_slice(&header.b()[field::RESERVED]);
        Ok(EfiHeaderRepr {
            init_size: header.init_size(),
            efi_signature: header.efi_signature(),
            subsystem: header.subsystem(),
            machine: header.machine(),
            compression: header.compression(),
            reserved,
            image_offset: header.image_offset(),
            pcir_offset: header.pcir_offset(),
        })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write every byte of the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut EfiHeader<T>) {
        set_u16(header.m(), field::SIGNATURE, crate::ROM_SIGNATURE);
        header.set_init_size(self.init_size);
        set_u32(header.m(), field::EFI_SIGNATURE, self.efi_signature);
        header.set_subsystem(self.subsystem);
        header.set_machine(self.machine);
        header.set_compression(self.compression);
        header.m()[field::RESERVED].copy_from_slice(&self.reserved);
        header.set_image_offset(self.image_offset);
        header.set_pcir_offset(self.pcir_offset);
    }
}
