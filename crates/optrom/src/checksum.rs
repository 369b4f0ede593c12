//! Checksum conventions: which byte keeps an image's 8-bit sum at zero.
//!
//! Firmware only needs the sum over the span to be zero (SeaBIOS sums
//! `Size512 × 512` bytes of legacy images; EDK2 checks nothing), so which byte
//! absorbs the difference is a tool convention. What matters is that a tool never
//! writes it into code or into a field firmware interprets:
//!
//! * `ipxe-byte6` — legacy images built by iPXE/Etherboot: byte 6, right after the
//!   3-byte entry jump, reserved in the spec.
//! * `last-byte` — other legacy images (QEMU's `signrom.py`, EDK2 `EfiRom -b`): the
//!   last byte of the `Size512 × 512` span.
//! * `efi-header-byte` — EFI images built by iPXE's `efirom` (and by optrom): the
//!   first byte after the PCIR (and its device list) and before the payload, a
//!   byte no firmware reads.
//! * `none` — no byte keeps the image at zero (EDK2 `EfiRom` writes no EFI checksum).
//! * `other` — the image sums to zero but no known convention explains it.

use serde::Serialize;

use optrom_format::{CodeType, EfiHeader, LegacyHeader, Pcir, byte_sum, pcir};

/// A checksum convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Convention {
    /// Byte 6 of a legacy image.
    IpxeByte6,
    /// Last byte of the legacy initialization span.
    LastByte,
    /// Free header byte between the PCIR and the payload of an EFI image.
    EfiHeaderByte,
    /// No checksum kept.
    None,
    /// Sums to zero for an unknown reason.
    Other,
}

impl std::fmt::Display for Convention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Convention::IpxeByte6 => "ipxe-byte6",
            Convention::LastByte => "last-byte",
            Convention::EfiHeaderByte => "efi-header-byte",
            Convention::None => "none",
            Convention::Other => "other",
        })
    }
}

/// The span firmware sums: `Size512 × 512` for non-EFI images, the whole image
/// for EFI images. May exceed the image when the header is inconsistent.
pub fn span(image: &[u8], code_type: CodeType) -> usize {
    match code_type {
        CodeType::Efi => image.len(),
        _ => usize::from(image.get(2).copied().unwrap_or(0)) * 512,
    }
}

/// Whether the legacy image carries iPXE's or PXE's structures (so it follows the
/// byte-6 convention).
pub fn has_ipxe_markers(image: &[u8]) -> bool {
    let Ok(header) = LegacyHeader::new_checked(image) else { return false };
    let at = |p: u16, sig: &[u8; 4]| {
        let p = usize::from(p);
        p != 0 && image.get(p..p + 4) == Some(&sig[..])
    };
    at(header.ipxe_offset(), b"iPXE") || at(header.undi_offset(), b"UNDI")
}

/// The free header byte of an EFI image: the first byte after the PCIR and its
/// device list, when it lies before the payload.
pub fn efi_checksum_byte(image: &[u8], pcir_at: usize) -> Option<usize> {
    let header = EfiHeader::new_checked(image).ok()?;
    let view = Pcir::new_checked(image.get(pcir_at..)?).ok()?;
    let mut end = pcir_at + view.layout_len();
    if view.is_pci30() && view.device_list_pointer() != 0 {
        let ids = pcir::device_list(image, pcir_at, view.device_list_pointer()).ok()?;
        let list_end = pcir_at + usize::from(view.device_list_pointer()) + pcir::device_list_len(&ids);
        end = end.max(list_end);
    }
    (end < usize::from(header.image_offset()) && end < image.len()).then_some(end)
}

/// Which convention keeps `image` (with its PCIR at `pcir_at`) at zero.
pub fn detect(image: &[u8], pcir_at: usize) -> Convention {
    let code_type =
        Pcir::new_checked(image.get(pcir_at..).unwrap_or(&[])).map(|p| p.code_type()).unwrap_or(CodeType::PcAt);
    let span = span(image, code_type).min(image.len());
    let zero = byte_sum(&image[..span]) == 0;
    match code_type {
        CodeType::Efi => match (zero, efi_checksum_byte(image, pcir_at)) {
            (true, Some(_)) => Convention::EfiHeaderByte,
            (true, None) => Convention::Other,
            (false, _) => Convention::None,
        },
        _ => detect_legacy(image),
    }
}

/// Which convention keeps a legacy (non-EFI) image at zero; for images
/// without a PCIR (ISA-style ROMs) too.
pub fn detect_legacy(image: &[u8]) -> Convention {
    let span = span(image, CodeType::PcAt).min(image.len());
    if has_ipxe_markers(image) {
        Convention::IpxeByte6
    } else if byte_sum(&image[..span]) == 0 {
        Convention::LastByte
    } else {
        Convention::None
    }
}

/// Where `convention` puts the adjusting byte in `image`, if anywhere.
pub fn position(image: &[u8], pcir_at: usize, convention: Convention) -> Option<usize> {
    let code_type = Pcir::new_checked(image.get(pcir_at..)?).ok()?.code_type();
    match convention {
        Convention::IpxeByte6 if code_type != CodeType::Efi => Some(6),
        Convention::LastByte if code_type != CodeType::Efi => {
            let span = span(image, code_type).min(image.len());
            span.checked_sub(1)
        }
        Convention::EfiHeaderByte if code_type == CodeType::Efi => efi_checksum_byte(image, pcir_at),
        _ => None,
    }
}

/// Make `image` sum to zero using `convention`. Returns the byte position
/// written, or `None` when the convention keeps no checksum.
pub fn fix(image: &mut [u8], pcir_at: usize, convention: Convention) -> Option<usize> {
    set_sum(image, pcir_at, convention, 0)
}

/// Write the convention's byte so that the checksummed span sums to `target`.
/// Operations that change a few bytes of an image pass the sum the image had
/// before, so a valid image stays valid and nothing else about it changes.
pub fn set_sum(image: &mut [u8], pcir_at: usize, convention: Convention, target: u8) -> Option<usize> {
    let at = position(image, pcir_at, convention)?;
    let code_type = Pcir::new_checked(&image[pcir_at..]).ok()?.code_type();
    let span = span(image, code_type).min(image.len());
    image[at] = 0;
    let sum = byte_sum(&image[..span]);
    image[at] = target.wrapping_sub(sum);
    Some(at)
}

/// The 8-bit sum over the span firmware checks.
pub fn span_sum(image: &[u8], pcir_at: usize) -> u8 {
    let code_type =
        Pcir::new_checked(image.get(pcir_at..).unwrap_or(&[])).map(|p| p.code_type()).unwrap_or(CodeType::PcAt);
    byte_sum(&image[..span(image, code_type).min(image.len())])
}
