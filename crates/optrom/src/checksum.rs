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
//! * `none` — no byte keeps the image at zero (EDK2 `EfiRom` writes no EFI checksum;
//!   no firmware checks images of other code types, Open Firmware or PA-RISC).
//! * `other` — the image sums to zero but no known convention explains it.
//!
//! This module is the one engine: it detects ([`detect`]), chooses ([`choose`]),
//! positions ([`position`]) and applies ([`set_sum`]) a convention; `edit`,
//! `build` and `inspect` all go through it. The two legacy conventions apply only
//! to x86 (code type 0) images: only they have the `Size512` span at byte 2.

use serde::Serialize;

use optrom_format::{BLOCK, CodeType, EfiHeader, LegacyHeader, Pcir, byte_sum, legacy, pcir};

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

/// The convention a user asks `fix-checksum` for: `auto` lets [`choose`] decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Requested {
    /// The convention the image shows ([`choose`] with no request).
    #[default]
    Auto,
    /// This convention.
    Use(Convention),
}

impl Requested {
    /// The names `FromStr` accepts.
    pub const NAMES: [&'static str; 4] = ["auto", "ipxe-byte6", "last-byte", "efi-header-byte"];

    /// The convention asked for, `None` for auto.
    pub fn convention(self) -> Option<Convention> {
        match self {
            Requested::Auto => None,
            Requested::Use(c) => Some(c),
        }
    }
}

impl std::str::FromStr for Requested {
    type Err = String;

    /// `auto`, `ipxe-byte6`, `last-byte` or `efi-header-byte`.
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "auto" => Requested::Auto,
            "ipxe-byte6" => Requested::Use(Convention::IpxeByte6),
            "last-byte" => Requested::Use(Convention::LastByte),
            "efi-header-byte" => Requested::Use(Convention::EfiHeaderByte),
            _ => return Err(format!("{text:?} is not auto, ipxe-byte6, last-byte or efi-header-byte")),
        })
    }
}

/// The span firmware sums: `Size512 × 512` for non-EFI images, the whole image
/// for EFI images. May exceed the image when the header is inconsistent.
pub fn span(image: &[u8], code_type: CodeType) -> usize {
    match code_type {
        CodeType::Efi => image.len(),
        _ => usize::from(image.get(legacy::field::SIZE512).copied().unwrap_or(0)) * BLOCK,
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

fn code_type(image: &[u8], pcir_at: usize) -> Option<CodeType> {
    Pcir::new_checked(image.get(pcir_at..)?).ok().map(|p| p.code_type())
}

/// Which convention keeps `image` (with its PCIR at `pcir_at`) at zero.
pub fn detect(image: &[u8], pcir_at: usize) -> Convention {
    match code_type(image, pcir_at).unwrap_or(CodeType::PcAt) {
        CodeType::Efi => {
            let zero = byte_sum(image) == 0;
            match (zero, efi_checksum_byte(image, pcir_at)) {
                (true, Some(_)) => Convention::EfiHeaderByte,
                (true, None) => Convention::Other,
                (false, _) => Convention::None,
            }
        }
        CodeType::PcAt => detect_legacy(image),
        // No firmware sums Open Firmware or PA-RISC images, and they have no
        // Size512 byte: a zero sum is a coincidence or a private convention.
        _ if byte_sum(image) == 0 => Convention::Other,
        _ => Convention::None,
    }
}

/// Which convention keeps an x86 legacy image at zero; for images
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

/// Where `convention` puts the adjusting byte in an image of `code_type`
/// (PCIR at `pcir_at`; `None` for an ISA-style ROM, which is x86 legacy), if
/// the image has that byte: byte 6 and the last `Size512` byte only in x86
/// images whose span holds them, the free header byte only in EFI images.
pub fn position_for(
    image: &[u8],
    code_type: CodeType,
    pcir_at: Option<usize>,
    convention: Convention,
) -> Option<usize> {
    let span = span(image, code_type).min(image.len());
    match (convention, code_type) {
        (Convention::IpxeByte6, CodeType::PcAt) if span > 6 => Some(6),
        (Convention::LastByte, CodeType::PcAt) => span.checked_sub(1),
        (Convention::EfiHeaderByte, CodeType::Efi) => efi_checksum_byte(image, pcir_at?),
        _ => None,
    }
}

/// Where `convention` puts the adjusting byte in `image`, if anywhere.
pub fn position(image: &[u8], pcir_at: usize, convention: Convention) -> Option<usize> {
    position_for(image, code_type(image, pcir_at)?, Some(pcir_at), convention)
}

/// Why no convention can be chosen for an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// The image does not have the requested convention's byte.
    #[error("{code_type} image has no {convention} byte")]
    NoSuchByte {
        /// The image's code type.
        code_type: CodeType,
        /// The convention asked for.
        convention: Convention,
    },
    /// An x86 image that is not iPXE's and does not sum to zero: no byte can be
    /// told free.
    #[error(
        "not iPXE's and sums to {sum:#04x}; no byte can be told free: pass --convention last-byte (byte {last:#x}, now {last_value:#04x}) or ipxe-byte6"
    )]
    Ambiguous {
        /// The sum over the span.
        sum: u8,
        /// Position of the last span byte, in the image.
        last: usize,
        /// Its value.
        last_value: u8,
    },
}

/// The convention to keep an image at zero with: `requested` when the image has
/// its byte, otherwise the one the image shows — byte 6 for iPXE/PXE x86 images,
/// the last byte for other x86 images that already sum to zero, the free header
/// byte of an EFI image. EFI images without a free byte, and images of other
/// code types, keep [`Convention::None`]: no firmware checks them.
pub fn choose(
    image: &[u8],
    code_type: CodeType,
    pcir_at: Option<usize>,
    requested: Option<Convention>,
) -> Result<Convention, ChoiceError> {
    if let Some(convention) = requested {
        return match position_for(image, code_type, pcir_at, convention) {
            Some(_) => Ok(convention),
            None => Err(ChoiceError::NoSuchByte { code_type, convention }),
        };
    }
    let span = span(image, code_type).min(image.len());
    let sum = byte_sum(&image[..span]);
    Ok(match code_type {
        CodeType::Efi if pcir_at.and_then(|at| efi_checksum_byte(image, at)).is_some() => Convention::EfiHeaderByte,
        CodeType::PcAt if has_ipxe_markers(image) && span > 6 => Convention::IpxeByte6,
        CodeType::PcAt if sum == 0 && span > 0 => Convention::LastByte,
        CodeType::PcAt => {
            let last = span.saturating_sub(1);
            return Err(ChoiceError::Ambiguous { sum, last, last_value: image.get(last).copied().unwrap_or(0) });
        }
        _ => Convention::None,
    })
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
    let code_type = code_type(image, pcir_at)?;
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

#[cfg(test)]
mod tests {
    //! Images laid out by hand from the PCI Firmware Specification 3.0 (legacy
    //! header, PCIR) and UEFI 2.x §14.4.2 (EFI image header): byte positions
    //! here come from those tables, not from this module.
    use super::*;

    /// One 1024-byte image of `code_type` with a PCI 2.2 PCIR at 0x1C
    /// (24 bytes, so it ends at 0x34); EFI images get their payload at 0x40.
    fn image(code_type: u8) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        b[0] = 0x55;
        b[1] = 0xAA;
        b[2] = 2; // Size512 (legacy) / InitializationSize (EFI): 2 blocks
        if code_type == 3 {
            b[4..8].copy_from_slice(&0x0EF1u32.to_le_bytes());
            b[8] = 11; // boot-service driver
            b[0x0A..0x0C].copy_from_slice(&0x8664u16.to_le_bytes());
            b[0x16..0x18].copy_from_slice(&0x40u16.to_le_bytes());
        }
        b[0x18..0x1A].copy_from_slice(&0x1Cu16.to_le_bytes());
        // PCIR at 0x1C; its fields at PCIR + offset.
        b[0x1C..0x20].copy_from_slice(b"PCIR");
        b[0x20..0x24].copy_from_slice(&[0x86, 0x80, 0x0E, 0x10]); // +4 vendor, +6 device
        b[0x26..0x28].copy_from_slice(&0x18u16.to_le_bytes()); // +0x0A length
        b[0x28] = 0x00; // +0x0C revision: PCI 2.2
        b[0x2B] = 0x02; // +0x0D..0x10 class 020000
        b[0x2C..0x2E].copy_from_slice(&2u16.to_le_bytes()); // +0x10 image length
        b[0x30] = code_type; // +0x14 code type
        b[0x31] = 0x80; // +0x15 indicator: last image
        for (i, x) in b[0x100..].iter_mut().enumerate() {
            *x = (i * 7 + 3) as u8;
        }
        b
    }

    fn with_ipxe_marker(mut b: Vec<u8>) -> Vec<u8> {
        b[0x10..0x12].copy_from_slice(&0x80u16.to_le_bytes());
        b[0x80..0x84].copy_from_slice(b"iPXE");
        b
    }

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x))
    }

    const PCIR: usize = 0x1C;

    #[test]
    fn every_requested_name_parses() {
        for name in Requested::NAMES {
            assert!(name.parse::<Requested>().is_ok(), "{name}");
        }
        assert_eq!("last-byte".parse(), Ok(Requested::Use(Convention::LastByte)));
    }

    #[test]
    fn test_images_have_the_intended_code_types() {
        for raw in 0..=3u8 {
            assert_eq!(code_type(&image(raw), PCIR).map(|c| c.raw()), Some(raw));
        }
    }

    #[test]
    fn legacy_conventions_only_for_x86_images() {
        let x86 = image(0);
        assert_eq!(position(&x86, PCIR, Convention::IpxeByte6), Some(6));
        assert_eq!(position(&x86, PCIR, Convention::LastByte), Some(1023));
        assert_eq!(position(&x86, PCIR, Convention::EfiHeaderByte), None);
        // Open Firmware (1) and PA-RISC (2) images have no Size512 byte and no
        // firmware sums them: neither convention has a byte there.
        for raw in [1, 2] {
            let other = image(raw);
            for c in [Convention::IpxeByte6, Convention::LastByte, Convention::EfiHeaderByte] {
                assert_eq!(position(&other, PCIR, c), None, "code type {raw}, {c}");
            }
        }
    }

    #[test]
    fn efi_header_byte_is_the_first_byte_after_the_pcir() {
        let efi = image(3);
        assert_eq!(position(&efi, PCIR, Convention::EfiHeaderByte), Some(0x34));
        assert_eq!(position(&efi, PCIR, Convention::IpxeByte6), None, "byte 6 of an EFI image is its signature");
        assert_eq!(position(&efi, PCIR, Convention::LastByte), None);
        // Payload right after the PCIR: no free byte.
        let mut tight = efi.clone();
        tight[0x16..0x18].copy_from_slice(&0x34u16.to_le_bytes());
        assert_eq!(position(&tight, PCIR, Convention::EfiHeaderByte), None);
    }

    #[test]
    fn detect_each_convention() {
        let mut ipxe = with_ipxe_marker(image(0));
        ipxe[6] = 0u8.wrapping_sub(sum(&ipxe));
        assert_eq!(detect(&ipxe, PCIR), Convention::IpxeByte6);
        let mut last = image(0);
        last[1023] = 0u8.wrapping_sub(sum(&last[..1023]));
        assert_eq!(detect(&last, PCIR), Convention::LastByte);
        assert_eq!(detect(&image(0), PCIR), if sum(&image(0)) == 0 { Convention::LastByte } else { Convention::None });
        let mut efi = image(3);
        efi[0x34] = 0u8.wrapping_sub(sum(&efi));
        assert_eq!(detect(&efi, PCIR), Convention::EfiHeaderByte);
        let mut of = image(1);
        assert_ne!(sum(&of), 0);
        assert_eq!(detect(&of, PCIR), Convention::None);
        of[1023] = 0u8.wrapping_sub(sum(&of[..1023]));
        assert_eq!(detect(&of, PCIR), Convention::Other, "a zero sum is no legacy convention in an OF image");
    }

    #[test]
    fn choose_follows_the_image() {
        let ipxe = with_ipxe_marker(image(0));
        assert_eq!(choose(&ipxe, CodeType::PcAt, Some(PCIR), None), Ok(Convention::IpxeByte6));
        let plain = image(0);
        assert!(matches!(
            choose(&plain, CodeType::PcAt, Some(PCIR), None),
            Err(ChoiceError::Ambiguous { last: 1023, .. })
        ));
        assert_eq!(choose(&plain, CodeType::PcAt, Some(PCIR), Some(Convention::LastByte)), Ok(Convention::LastByte));
        assert_eq!(choose(&image(3), CodeType::Efi, Some(PCIR), None), Ok(Convention::EfiHeaderByte));
        let of = image(1);
        assert_eq!(choose(&of, CodeType::OpenFirmware, Some(PCIR), None), Ok(Convention::None));
        assert_eq!(
            choose(&of, CodeType::OpenFirmware, Some(PCIR), Some(Convention::IpxeByte6)),
            Err(ChoiceError::NoSuchByte { code_type: CodeType::OpenFirmware, convention: Convention::IpxeByte6 })
        );
    }

    #[test]
    fn set_sum_keeps_the_sum_and_touches_one_byte() {
        for (raw, convention, byte) in
            [(0, Convention::IpxeByte6, 6), (0, Convention::LastByte, 1023), (3, Convention::EfiHeaderByte, 0x34)]
        {
            let before = image(raw);
            let mut after = before.clone();
            assert_eq!(set_sum(&mut after, PCIR, convention, 0x5A), Some(byte));
            assert_eq!(sum(&after), 0x5A, "{convention}");
            let changed: Vec<usize> = (0..1024).filter(|&i| after[i] != before[i]).collect();
            assert!(changed.iter().all(|&i| i == byte), "{convention}: {changed:?}");
        }
        let mut of = image(1);
        assert_eq!(set_sum(&mut of, PCIR, Convention::IpxeByte6, 0), None);
        assert_eq!(of, image(1), "an Open Firmware image is never written");
    }

    /// `set-ids` used to rewrite byte 6 of an Open Firmware image that `fix-checksum` refused.
    #[test]
    fn set_ids_and_fix_checksum_agree_on_open_firmware_images() {
        let mut rom = with_ipxe_marker(image(0));
        rom[0x31] = 0; // not the last image
        rom[6] = 0u8.wrapping_sub(sum(&rom));
        let mut of = with_ipxe_marker(image(1));
        of[1023] = 0u8.wrapping_sub(sum(&of[..1023]));
        rom.extend(&of);
        let patched = crate::edit::set_ids(&rom, 0x10ec, &[0x8139], crate::edit::ImageSelect::All).unwrap();
        let changed: Vec<usize> = (1024..2048).filter(|&i| patched[i] != rom[i]).map(|i| i - 1024).collect();
        // Only the PCIR vendor and device IDs (PCIR + 4..8) change in the OF image.
        assert_eq!(changed, vec![0x20, 0x21, 0x22, 0x23], "OF image bytes written: {changed:?}");
        assert_eq!(sum(&patched[..1024]), 0, "the x86 image keeps its zero sum through byte 6");
        let (_, fixes) = crate::edit::fix_checksums(&patched, crate::edit::ImageSelect::Index(1), None).unwrap();
        assert_eq!(fixes[0].convention, Convention::None);
        assert_eq!(fixes[0].byte, None);
    }
}
