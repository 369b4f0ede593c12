//! The PCI Data Structure (`PCIR`), PCI 2.2 (revision 0, 0x18 bytes) and PCI
//! Firmware 3.0 (revision 3, 0x1C bytes) layouts.
//!
//! | off  | size | rev 0 | rev 3 |
//! |------|------|-------|-------|
//! | 0x00 | 4    | `PCIR` | same |
//! | 0x04 | 2    | vendor ID | same |
//! | 0x06 | 2    | device ID | same |
//! | 0x08 | 2    | VPD pointer / reserved | device-list pointer, relative to the PCIR |
//! | 0x0A | 2    | structure length 0x18 | 0x1C |
//! | 0x0C | 1    | revision 0 | 3 |
//! | 0x0D | 3    | class code (prog-IF, sub-class, base class) | same |
//! | 0x10 | 2    | image length, 512-byte blocks | same |
//! | 0x12 | 2    | code revision | same |
//! | 0x14 | 1    | code type | same |
//! | 0x15 | 1    | indicator, bit 7 = last image | same |
//! | 0x16 | 2    | reserved | max run-time image length, 512-byte blocks |
//! | 0x18 | 2    | — | configuration utility code header pointer |
//! | 0x1A | 2    | — | DMTF CLP entry point pointer |
//!
//! Which layout applies is decided by the structure's own length and revision
//! fields, never by the caller.

use crate::error::{Error, ErrorKind, Result, need};
use crate::field::{set_u16, try_u16, u16_at};
use crate::types::CodeType;

#[allow(missing_docs)]
pub mod field {
    pub const SIGNATURE: core::ops::Range<usize> = 0x00..0x04;
    pub const VENDOR: usize = 0x04;
    pub const DEVICE: usize = 0x06;
    pub const DEVICE_LIST: usize = 0x08;
    pub const LENGTH: usize = 0x0A;
    pub const REVISION: usize = 0x0C;
    pub const CLASS: core::ops::Range<usize> = 0x0D..0x10;
    pub const IMAGE_LENGTH: usize = 0x10;
    pub const CODE_REVISION: usize = 0x12;
    pub const CODE_TYPE: usize = 0x14;
    pub const INDICATOR: usize = 0x15;
    pub const MAX_RUNTIME: usize = 0x16;
    pub const CONFIG_UTILITY: usize = 0x18;
    pub const CLP: usize = 0x1A;
}

/// Length of a PCI 2.2 (revision 0) PCIR.
pub const LEN_V22: usize = 0x18;
/// Length of a PCI 3.0 (revision 3) PCIR.
pub const LEN_V30: usize = 0x1C;
/// Bit 7 of the indicator: this is the last image of the ROM.
pub const INDICATOR_LAST: u8 = 0x80;
/// The PCIR signature.
pub const SIGNATURE: &[u8; 4] = b"PCIR";

/// A view of a PCIR at the start of `buffer`.
#[derive(Debug, Clone, Copy)]
pub struct Pcir<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Pcir<T> {
    /// Wrap without checking; accessors panic on a short buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        Pcir { buffer }
    }

    /// Wrap, checking the buffer holds the structure its own length field
    /// announces (at least the 0x18 bytes of revision 0).
    pub fn new_checked(buffer: T) -> Result<Self> {
        need(buffer.as_ref(), LEN_V22, "PCIR")?;
        let pcir = Pcir { buffer };
        if pcir.layout_len() > LEN_V22 {
            need(pcir.b(), LEN_V30, "PCIR")?;
        }
        Ok(pcir)
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The four signature bytes.
    pub fn signature(&self) -> [u8; 4] {
        let b = self.b();
        [b[0], b[1], b[2], b[3]]
    }
    /// Vendor ID.
    pub fn vendor(&self) -> u16 {
        u16_at(self.b(), field::VENDOR)
    }
    /// Device ID.
    pub fn device(&self) -> u16 {
        u16_at(self.b(), field::DEVICE)
    }
    /// Word at 0x08: the device-list pointer in PCI 3.0, VPD/reserved before.
    pub fn device_list_pointer(&self) -> u16 {
        u16_at(self.b(), field::DEVICE_LIST)
    }
    /// Structure length field.
    pub fn length(&self) -> u16 {
        u16_at(self.b(), field::LENGTH)
    }
    /// Structure revision.
    pub fn revision(&self) -> u8 {
        self.b()[field::REVISION]
    }
    /// 24-bit class code (base class in bits 23–16).
    pub fn class_code(&self) -> u32 {
        let c = &self.b()[field::CLASS];
        u32::from(c[0]) | u32::from(c[1]) << 8 | u32::from(c[2]) << 16
    }
    /// Image length in 512-byte blocks.
    pub fn image_length(&self) -> u16 {
        u16_at(self.b(), field::IMAGE_LENGTH)
    }
    /// Code revision.
    pub fn code_revision(&self) -> u16 {
        u16_at(self.b(), field::CODE_REVISION)
    }
    /// Code type.
    pub fn code_type(&self) -> CodeType {
        self.b()[field::CODE_TYPE].into()
    }
    /// Indicator byte.
    pub fn indicator(&self) -> u8 {
        self.b()[field::INDICATOR]
    }
    /// Whether bit 7 of the indicator marks this as the last image.
    pub fn is_last(&self) -> bool {
        self.indicator() & INDICATOR_LAST != 0
    }
    /// Word at 0x16: max run-time length in PCI 3.0, reserved before.
    pub fn max_runtime_length(&self) -> u16 {
        u16_at(self.b(), field::MAX_RUNTIME)
    }
    /// Whether the PCI 3.0 fields (device list, run-time length, CU, CLP) apply.
    pub fn is_pci30(&self) -> bool {
        self.revision() >= 3 && usize::from(self.length()) >= LEN_V30
    }
    /// Bytes of the structure this crate decodes: 0x1C when the length field says
    /// at least that much, else 0x18.
    pub fn layout_len(&self) -> usize {
        if usize::from(self.length()) >= LEN_V30 { LEN_V30 } else { LEN_V22 }
    }
    /// Config utility code header pointer (PCI 3.0 layout).
    pub fn config_utility(&self) -> Option<u16> {
        (self.layout_len() >= LEN_V30).then(|| u16_at(self.b(), field::CONFIG_UTILITY))
    }
    /// DMTF CLP entry point pointer (PCI 3.0 layout).
    pub fn clp(&self) -> Option<u16> {
        (self.layout_len() >= LEN_V30).then(|| u16_at(self.b(), field::CLP))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Pcir<T> {
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Set the vendor ID.
    pub fn set_vendor(&mut self, v: u16) {
        set_u16(self.m(), field::VENDOR, v)
    }
    /// Set the device ID.
    pub fn set_device(&mut self, v: u16) {
        set_u16(self.m(), field::DEVICE, v)
    }
    /// Set the image length.
    pub fn set_image_length(&mut self, v: u16) {
        set_u16(self.m(), field::IMAGE_LENGTH, v)
    }
    /// Set the indicator byte.
    pub fn set_indicator(&mut self, v: u8) {
        self.m()[field::INDICATOR] = v
    }
    /// Set or clear the last-image bit, keeping the reserved bits.
    pub fn set_last(&mut self, last: bool) {
        let v = self.indicator();
        self.set_indicator(if last { v | INDICATOR_LAST } else { v & !INDICATOR_LAST })
    }
}

/// Every byte of a PCIR, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcirRepr {
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Word at 0x08 (device-list pointer in PCI 3.0).
    pub device_list_pointer: u16,
    /// Structure length field as read.
    pub length: u16,
    /// Revision.
    pub revision: u8,
    /// 24-bit class code.
    pub class_code: u32,
    /// Image length, 512-byte blocks.
    pub image_length: u16,
    /// Code revision.
    pub code_revision: u16,
    /// Code type.
    pub code_type: CodeType,
    /// Indicator byte, reserved bits kept.
    pub indicator: u8,
    /// Word at 0x16 (max run-time length in PCI 3.0).
    pub max_runtime_length: u16,
    /// Config-utility pointer, present in the 0x1C layout.
    pub config_utility: Option<u16>,
    /// CLP pointer, present in the 0x1C layout.
    pub clp: Option<u16>,
}

impl PcirRepr {
    /// Decode, requiring the `PCIR` signature and a length of at least 0x18.
    pub fn parse<T: AsRef<[u8]>>(pcir: &Pcir<T>) -> Result<Self> {
        if &pcir.signature() != SIGNATURE {
            return Err(Error::new(
                0,
                "PCIR.Signature",
                ErrorKind::BadSignature { expected: "PCIR", found: u32::from_le_bytes(pcir.signature()) },
            ));
        }
        if usize::from(pcir.length()) < LEN_V22 {
            return Err(Error::new(
                field::LENGTH,
                "PCIR.Length",
                ErrorKind::BadLength { value: pcir.length().into(), expected: LEN_V22 },
            ));
        }
        Ok(PcirRepr {
            vendor: pcir.vendor(),
            device: pcir.device(),
            device_list_pointer: pcir.device_list_pointer(),
            length: pcir.length(),
            revision: pcir.revision(),
            class_code: pcir.class_code(),
            image_length: pcir.image_length(),
            code_revision: pcir.code_revision(),
            code_type: pcir.code_type(),
            indicator: pcir.indicator(),
            max_runtime_length: pcir.max_runtime_length(),
            config_utility: pcir.config_utility(),
            clp: pcir.clp(),
        })
    }

    /// Whether the PCI 3.0 fields apply.
    pub fn is_pci30(&self) -> bool {
        self.revision >= 3 && usize::from(self.length) >= LEN_V30
    }

    /// Whether this is the last image of the ROM.
    pub fn is_last(&self) -> bool {
        self.indicator & INDICATOR_LAST != 0
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        if self.config_utility.is_some() || self.clp.is_some() { LEN_V30 } else { LEN_V22 }
    }

    /// Write every byte of the structure.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, pcir: &mut Pcir<T>) {
        let b = pcir.m();
        b[field::SIGNATURE].copy_from_slice(SIGNATURE);
        set_u16(b, field::VENDOR, self.vendor);
        set_u16(b, field::DEVICE, self.device);
        set_u16(b, field::DEVICE_LIST, self.device_list_pointer);
        set_u16(b, field::LENGTH, self.length);
        b[field::REVISION] = self.revision;
        b[field::CLASS].copy_from_slice(&self.class_code.to_le_bytes()[..3]);
        set_u16(b, field::IMAGE_LENGTH, self.image_length);
        set_u16(b, field::CODE_REVISION, self.code_revision);
        b[field::CODE_TYPE] = self.code_type.raw();
        b[field::INDICATOR] = self.indicator;
        set_u16(b, field::MAX_RUNTIME, self.max_runtime_length);
        if self.buffer_len() >= LEN_V30 {
            set_u16(b, field::CONFIG_UTILITY, self.config_utility.unwrap_or(0));
            set_u16(b, field::CLP, self.clp.unwrap_or(0));
        }
    }
}

/// Read the device list of a PCI 3.0 PCIR found at `pcir_at` inside `image`.
///
/// Returns the IDs without the terminator. Fails when the pointer leaves the image
/// or the list runs off its end without a terminator.
pub fn device_list(image: &[u8], pcir_at: usize, pointer: u16) -> Result<Vec<u16>> {
    let start = pcir_at.saturating_add(usize::from(pointer));
    if start >= image.len() {
        return Err(Error::new(
            pcir_at + field::DEVICE_LIST,
            "PCIR.DeviceListOffset",
            ErrorKind::OutOfBounds { value: start, limit: image.len() },
        ));
    }
    let list = &image[start..];
    let mut ids = Vec::new();
    let mut at = 0;
    loop {
        match try_u16(list, at) {
            Some(0) => return Ok(ids),
            Some(id) => ids.push(id),
            None => {
                return Err(Error::new(
                    start + at,
                    "PCIR device list",
                    ErrorKind::Truncated { needed: 2, available: list.len() - at },
                ));
            }
        }
        at += 2;
    }
}

/// Bytes the device list `ids` occupies when written with its terminator.
pub fn device_list_len(ids: &[u16]) -> usize {
    (ids.len() + 1) * 2
}

/// Write `ids` and the terminator at the start of `buf`.
pub fn emit_device_list(ids: &[u16], buf: &mut [u8]) {
    for (i, id) in ids.iter().chain(core::iter::once(&0)).enumerate() {
        set_u16(buf, i * 2, *id);
    }
}
