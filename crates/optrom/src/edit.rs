//! Operations on whole ROM files: combine, split, re-ID, pad.
//!
//! Each takes bytes and returns new bytes; none mutates its input. Checksums are
//! re-fixed in the convention each image already uses ([`crate::checksum`]), so an
//! operation never writes into code, into the EFI signature (byte 6 of an EFI
//! image), or into an image that kept no checksum.

use serde::{Deserialize, Serialize};

use optrom_format::chain::{self, ImageRef};
use optrom_format::pcir::{self, Pcir};
use optrom_format::{CodeType, Error as FormatError};

use crate::checksum::{self, ChoiceError, Convention};
use crate::inspect::efi_driver;
use crate::size::{bar_size, human};

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// An input's chain is malformed.
    #[error("{0}")]
    Malformed(FormatError),
    /// An input holds no image at all.
    #[error("offset 0x0, field signature: no option ROM image")]
    Empty,
    /// The requested image does not exist.
    #[error("field image: there is no image {index}; the ROM has {count}")]
    NoSuchImage {
        /// Requested index.
        index: usize,
        /// Number of images.
        count: usize,
    },
    /// The content does not fit the padding target.
    #[error("field file size: content is {content} bytes, {over} bytes over the {target_text} target")]
    DoesNotFit {
        /// Content bytes.
        content: u64,
        /// The target.
        target: u64,
        /// The target, readable.
        target_text: String,
        /// Bytes over.
        over: u64,
    },
    /// The device list has no room for the requested IDs.
    #[error(
        "offset {offset:#x}, field PCIR device list: image {image} has room for {room} device IDs, {wanted} requested"
    )]
    NoRoom {
        /// Image index.
        image: usize,
        /// File offset of the list.
        offset: u64,
        /// Capacity.
        room: usize,
        /// Requested.
        wanted: usize,
    },
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
    /// An input file could not be read.
    #[error("{0}")]
    Io(#[from] crate::fsio::IoError),
    /// A split manifest is not one.
    #[error("{0}")]
    Manifest(String),
}

impl From<FormatError> for EditError {
    fn from(e: FormatError) -> Self {
        EditError::Malformed(e)
    }
}

/// The images of a well-formed ROM; malformed chains are refused.
pub fn images(rom: &[u8]) -> Result<Vec<ImageRef<'_>>, EditError> {
    let walked = chain::walk(rom);
    if let Some(e) = walked.error {
        return Err(e.into());
    }
    if walked.images.is_empty() {
        return Err(EditError::Empty);
    }
    Ok(walked.images)
}

/// Copy `image`, set or clear its last-image bit, and re-fix its checksum in the
/// convention it used before. The image keeps the sum it had: a valid image stays
/// valid, and an image whose bit is already right comes out byte for byte.
fn rechain(image: &ImageRef<'_>, last: bool) -> Vec<u8> {
    let convention = checksum::detect(image.bytes, image.pcir_offset);
    let before = checksum::span_sum(image.bytes, image.pcir_offset);
    let mut bytes = image.bytes.to_vec();
    Pcir::new_unchecked(&mut bytes[image.pcir_offset..]).set_last(last);
    if bytes != image.bytes {
        checksum::set_sum(&mut bytes, image.pcir_offset, convention, before);
    }
    bytes
}

/// The images of a combine input. Unlike [`images`], a chain that simply ends
/// at the end of the file without a last-image bit is accepted: it is a piece of
/// a ROM (a non-final image written by `split`), which `combine` re-chains anyway.
pub fn input_images(rom: &[u8]) -> Result<Vec<ImageRef<'_>>, EditError> {
    let walked = chain::walk(rom);
    match walked.error {
        Some(e) if e.kind != optrom_format::ErrorKind::NoLastImage => Err(e.into()),
        _ if walked.images.is_empty() => Err(EditError::Empty),
        _ => Ok(walked.images),
    }
}

/// Chain the images of every input, in order, into one ROM: trailing padding of
/// the inputs is dropped, the last-image bit is set on the final image only, and
/// checksums are re-fixed in each image's own convention.
///
/// An input whose length is not a multiple of 512 (a raw legacy image as some
/// build tools leave it) is first zero-padded to the block size: zeros keep
/// whatever sum its author computed, where 0xFF padding would break it.
pub fn combine(inputs: &[&[u8]]) -> Result<Vec<u8>, EditError> {
    let padded: Vec<std::borrow::Cow<'_, [u8]>> =
        inputs.iter().map(|input| pad_last_block(input)).collect::<Result<_, _>>()?;
    let mut all = Vec::new();
    for input in &padded {
        all.extend(input_images(input)?);
    }
    let count = all.len();
    let mut out = Vec::with_capacity(all.iter().map(ImageRef::len).sum());
    for (i, image) in all.iter().enumerate() {
        out.extend(rechain(image, i + 1 == count));
    }
    Ok(out)
}

/// A combine input, zero-padded to whole blocks when only the last partial
/// block is missing. A file cut off earlier is refused with its real length.
fn pad_last_block(input: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, EditError> {
    let block_end = input.len().next_multiple_of(optrom_format::BLOCK);
    match input_images(input) {
        Err(EditError::Malformed(FormatError { kind: optrom_format::ErrorKind::PastEnd { end, .. }, .. }))
            if end <= block_end =>
        {
            let mut v = input.to_vec();
            v.resize(block_end, 0);
            Ok(std::borrow::Cow::Owned(v))
        }
        Err(e) => Err(e),
        Ok(_) => Ok(std::borrow::Cow::Borrowed(input)),
    }
}

/// What a ROM's split produced, and how to put it back together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitManifest {
    /// `optrom-split`.
    pub schema: String,
    /// Version of this manifest format.
    pub schema_version: u32,
    /// Image files, in chain order, relative to the manifest.
    pub images: Vec<SplitEntry>,
    /// Padding after the last image, to reproduce the file exactly.
    pub trailing: Option<TrailingSpec>,
}

/// One image of a split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitEntry {
    /// The image file (`.rom` legacy, `.efirom` EFI, `.img` other).
    pub file: String,
    /// For EFI images: the driver, decompressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Code type name.
    pub code_type: String,
    /// Vendor:device.
    pub id: String,
}

/// Bytes after the last image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrailingSpec {
    /// `bytes` copies of `fill`.
    Fill {
        /// Count.
        bytes: u64,
        /// The byte.
        fill: u8,
    },
    /// Arbitrary bytes kept in a file.
    File {
        /// The file, relative to the manifest.
        file: String,
    },
}

/// A file a split produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitFile {
    /// File name.
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Split a ROM into its images (plus decompressed EFI drivers) and a manifest that
/// [`combine_manifest`] turns back into the identical file.
pub fn split(rom: &[u8]) -> Result<(SplitManifest, Vec<SplitFile>), EditError> {
    let images = images(rom)?;
    let mut files = Vec::new();
    let mut entries = Vec::new();
    for image in &images {
        let view = image.pcir();
        let code_type = view.code_type();
        let id = format!("{:04x}-{:04x}", view.vendor(), view.device());
        let stem = match code_type {
            CodeType::Efi => {
                let machine = optrom_format::EfiHeader::new_checked(image.bytes)
                    .map(|h| h.machine().to_string().to_ascii_lowercase())
                    .unwrap_or_else(|_| "unknown".into());
                format!("{:02}-efi-{machine}-{id}", image.index)
            }
            CodeType::PcAt => format!("{:02}-legacy-{id}", image.index),
            other => format!("{:02}-type{:02x}-{id}", image.index, other.raw()),
        };
        let ext = match code_type {
            CodeType::Efi => "efirom",
            CodeType::PcAt => "rom",
            _ => "img",
        };
        let file = format!("{stem}.{ext}");
        files.push(SplitFile { name: file.clone(), bytes: image.bytes.to_vec() });
        let mut driver = None;
        if code_type == CodeType::Efi
            && let Ok(pe) = efi_driver(image.bytes)
        {
            let name = format!("{stem}.efi");
            files.push(SplitFile { name: name.clone(), bytes: pe });
            driver = Some(name);
        }
        entries.push(SplitEntry { file, driver, code_type: code_type.to_string(), id: id.replace('-', ":") });
    }
    let end = images.last().map_or(0, ImageRef::end);
    let tail = &rom[end..];
    let trailing = match tail.first() {
        None => None,
        Some(&b) if tail.iter().all(|x| *x == b) => Some(TrailingSpec::Fill { bytes: tail.len() as u64, fill: b }),
        Some(_) => {
            files.push(SplitFile { name: "trailing.bin".into(), bytes: tail.to_vec() });
            Some(TrailingSpec::File { file: "trailing.bin".into() })
        }
    };
    let manifest = SplitManifest { schema: "optrom-split".into(), schema_version: 1, images: entries, trailing };
    Ok((manifest, files))
}

/// Parse a manifest written by [`split`]: `line L, column C: what` when it is
/// not one, `offset N: not UTF-8 text` when it is not text at all.
pub fn parse_split_manifest(bytes: &[u8]) -> Result<SplitManifest, EditError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        EditError::Manifest(format!("offset {:#x}: not UTF-8 text, not a split manifest (JSON)", e.valid_up_to()))
    })?;
    let manifest: SplitManifest = serde_json::from_str(text)
        .map_err(|e| EditError::Manifest(format!("line {}, column {}: {e}", e.line(), e.column())))?;
    if manifest.schema != "optrom-split" {
        return Err(EditError::Manifest(format!(
            "field schema: {:?} is not \"optrom-split\" (a manifest written by `optrom split`)",
            manifest.schema
        )));
    }
    Ok(manifest)
}

/// Rebuild a ROM from a split manifest; `read` loads a file named in it.
pub fn combine_manifest(
    manifest: &SplitManifest,
    mut read: impl FnMut(&str) -> Result<Vec<u8>, crate::fsio::IoError>,
) -> Result<Vec<u8>, EditError> {
    let parts = manifest.images.iter().map(|e| read(&e.file)).collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let mut rom = combine(&refs)?;
    match &manifest.trailing {
        None => {}
        Some(TrailingSpec::Fill { bytes, fill }) => rom.resize(rom.len() + *bytes as usize, *fill),
        Some(TrailingSpec::File { file }) => rom.extend(read(file)?),
    }
    Ok(rom)
}

/// Which images [`set_ids`] patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSelect {
    /// One image by index.
    Index(usize),
    /// Every image.
    All,
}

/// Patch the vendor and device IDs (and, when there are several device IDs, the PCI
/// 3.0 device list in place) of the selected images, re-fixing checksums in each
/// image's convention. Returns the new ROM and the checksum byte positions written.
///
/// Like `combine`, it accepts a piece of a ROM written by `split` (a chain that
/// ends with the file and has no last-image bit).
pub fn set_ids(rom: &[u8], vendor: u16, devices: &[u16], select: ImageSelect) -> Result<Vec<u8>, EditError> {
    let images = input_images(rom)?;
    let (&first, _) = devices.split_first().ok_or_else(|| EditError::Other("no device ID given".into()))?;
    if let ImageSelect::Index(index) = select
        && index >= images.len()
    {
        return Err(EditError::NoSuchImage { index, count: images.len() });
    }
    let mut out = rom.to_vec();
    for image in &images {
        if select != ImageSelect::All && select != ImageSelect::Index(image.index) {
            continue;
        }
        let convention = checksum::detect(image.bytes, image.pcir_offset);
        let before = checksum::span_sum(image.bytes, image.pcir_offset);
        let bytes = &mut out[image.offset..image.end()];
        let at = image.pcir_offset;
        let (is30, list_ptr) = {
            let view = Pcir::new_unchecked(&bytes[at..]);
            (view.is_pci30(), view.device_list_pointer())
        };
        let mut view = Pcir::new_unchecked(&mut bytes[at..]);
        view.set_vendor(vendor);
        view.set_device(first);
        let old = if is30 && list_ptr != 0 { Some(pcir::device_list(bytes, at, list_ptr)?) } else { None };
        // An empty list (iPXE writes ID 0000, which reads as the terminator) stays
        // empty when only the primary ID changes: there is no slot to write into.
        let old = old.filter(|ids| !(ids.is_empty() && devices.len() == 1));
        if let Some(old) = old {
            let wanted = if devices.len() > 1 { devices.to_vec() } else { vec![first] };
            if wanted.len() > old.len() {
                return Err(EditError::NoRoom {
                    image: image.index,
                    offset: (image.offset + at + usize::from(list_ptr)) as u64,
                    room: old.len(),
                    wanted: wanted.len(),
                });
            }
            let start = at + usize::from(list_ptr);
            // Same footprint as before: the new IDs, the terminator, zeros after it.
            let old_len = pcir::device_list_len(&old);
            bytes[start..start + old_len].fill(0);
            pcir::emit_device_list(&wanted, &mut bytes[start..]);
        } else if devices.len() > 1 {
            return Err(EditError::NoRoom {
                image: image.index,
                offset: (image.offset + at) as u64,
                room: 1,
                wanted: devices.len(),
            });
        }
        // `set_sum` never targets byte 6 of an EFI image, nor an image without a checksum.
        if convention != Convention::None && convention != Convention::Other {
            checksum::set_sum(bytes, at, convention, before);
        }
    }
    Ok(out)
}

/// QEMU refuses romfiles of 2 GiB and more ("too large (size cannot exceed 2 GiB)").
pub const MAX_ROM_FILE: u64 = (2 << 30) - 1;

/// How far [`pad`] pads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadTarget {
    /// To exactly this many bytes.
    Bytes(u64),
    /// To the next power of two at or above the content (the BAR QEMU would make).
    Pow2,
}

impl std::str::FromStr for PadTarget {
    type Err = String;

    /// `pow2` or a size (`256K`, `512KiB`, `0x40000`, `262144`).
    fn from_str(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("pow2") {
            return Ok(PadTarget::Pow2);
        }
        crate::size::parse_size(text).map(PadTarget::Bytes)
    }
}

/// Drop any padding after the last image and pad the content to `target` with
/// `fill`.
pub fn pad(rom: &[u8], target: PadTarget, fill: u8) -> Result<Vec<u8>, EditError> {
    let images = images(rom)?;
    let content = images.last().map_or(0, ImageRef::end);
    let target = match target {
        PadTarget::Bytes(n) => n,
        PadTarget::Pow2 => bar_size(content as u64),
    };
    if target > MAX_ROM_FILE {
        return Err(EditError::Other(format!(
            "field file size: {target} bytes is over the {} QEMU accepts for a romfile",
            human(MAX_ROM_FILE)
        )));
    }
    if content as u64 > target {
        return Err(EditError::DoesNotFit {
            content: content as u64,
            target,
            target_text: human(target),
            over: content as u64 - target,
        });
    }
    let mut out = rom[..content].to_vec();
    out.resize(target as usize, fill);
    Ok(out)
}

/// What [`fix_checksums`] found and did for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecksumFix {
    /// Image index.
    pub image: usize,
    /// The convention used.
    pub convention: Convention,
    /// The 8-bit sum over the span firmware checks, before.
    pub sum_before: u8,
    /// File offset of the byte written; `None` when the image already summed to zero.
    pub byte: Option<u64>,
    /// That byte's value before and after.
    pub values: Option<(u8, u8)>,
}

/// Make every selected image sum to zero over the span firmware checks
/// (`Size512 × 512` for legacy images, the whole image for EFI ones) by
/// writing one byte of `convention`, or — when `None` — of the convention the
/// image shows: byte 6 for iPXE/PXE legacy images, the free header byte of an
/// EFI image (an EFI image without one keeps no checksum: EDK2 checks none).
/// A legacy image that is not iPXE's and does not sum to zero has no byte that
/// can be told safe, so it needs the convention spelled out.
/// Images that already sum to zero are left alone. ISA-style ROMs (no PCIR)
/// are one legacy image.
pub fn fix_checksums(
    rom: &[u8],
    select: ImageSelect,
    convention: Option<Convention>,
) -> Result<(Vec<u8>, Vec<ChecksumFix>), EditError> {
    let walked = chain::walk(rom);
    // (index, offset, length, PCIR offset) of every image.
    let spans: Vec<(usize, usize, usize, Option<usize>)> = match walked.isa {
        Some(isa) => vec![(0, 0, isa.len(), None)],
        None => input_images(rom)?.iter().map(|i| (i.index, i.offset, i.len(), Some(i.pcir_offset))).collect(),
    };
    if let ImageSelect::Index(index) = select
        && index >= spans.len()
    {
        return Err(EditError::NoSuchImage { index, count: spans.len() });
    }
    let mut out = rom.to_vec();
    let mut fixes = Vec::new();
    for (index, offset, len, pcir_at) in spans {
        if select != ImageSelect::All && select != ImageSelect::Index(index) {
            continue;
        }
        let image = &mut out[offset..offset + len];
        let code_type =
            pcir_at.and_then(|at| Pcir::new_checked(&image[at..]).ok()).map_or(CodeType::PcAt, |p| p.code_type());
        let span = checksum::span(image, code_type).min(len);
        let sum_before = optrom_format::byte_sum(&image[..span]);
        let choice = checksum::choose(image, code_type, pcir_at, convention).map_err(|e| {
            EditError::Other(match e {
                ChoiceError::NoSuchByte { code_type, convention } => {
                    format!("offset {offset:#x}, field checksum: image {index} ({code_type}) has no {convention} byte")
                }
                ChoiceError::Ambiguous { sum, last, last_value } => format!(
                    "offset {offset:#x}, field checksum: image {index} is not iPXE's and sums to {sum:#04x}; no byte can be told free: pass --convention last-byte (byte {:#x}, now {last_value:#04x}) or ipxe-byte6",
                    offset + last
                ),
            })
        });
        let convention = match choice? {
            // EDK2 checks no EFI checksum, no firmware one of other code types.
            Convention::None => {
                fixes.push(ChecksumFix {
                    image: index,
                    convention: Convention::None,
                    sum_before,
                    byte: None,
                    values: None,
                });
                continue;
            }
            c => c,
        };
        let at = checksum::position_for(image, code_type, pcir_at, convention)
            .expect("checksum::choose only returns conventions whose byte the image has");
        if sum_before == 0 {
            fixes.push(ChecksumFix { image: index, convention, sum_before, byte: None, values: None });
            continue;
        }
        let old = image[at];
        let new = old.wrapping_sub(sum_before);
        image[at] = new;
        debug_assert_eq!(optrom_format::byte_sum(&image[..span]), 0);
        fixes.push(ChecksumFix {
            image: index,
            convention,
            sum_before,
            byte: Some((offset + at) as u64),
            values: Some((old, new)),
        });
    }
    Ok((out, fixes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{legacy_image, sum};

    #[test]
    fn combine_chains_and_keeps_each_images_sum() {
        let a = legacy_image(2, true, 0x8086, 0x100e);
        let b = legacy_image(1, true, 0x10ec, 0x8139);
        let rom = combine(&[&a, &b]).unwrap();
        assert_eq!(rom.len(), 1536);
        // PCIR indicator at image + 0x35: only the final image is the last one.
        assert_eq!((rom[0x35], rom[1024 + 0x35]), (0x00, 0x80));
        assert_eq!((sum(&rom[..1024]), sum(&rom[1024..])), (0, 0), "each image still sums to zero");
        assert_eq!(&rom[1024..], &b[..], "an image whose bit is already right comes out byte for byte");
    }

    #[test]
    fn split_then_combine_reproduces_the_file() {
        let mut rom = combine(&[&legacy_image(2, true, 0x8086, 0x100e), &legacy_image(1, true, 1, 2)]).unwrap();
        rom.extend([0xFF; 512]);
        let (manifest, files) = split(&rom).unwrap();
        assert_eq!(manifest.images.len(), 2);
        assert_eq!(manifest.trailing, Some(TrailingSpec::Fill { bytes: 512, fill: 0xFF }));
        let back = combine_manifest(&manifest, |name| {
            files
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.bytes.clone())
                .ok_or_else(|| crate::fsio::IoError { path: name.into(), message: "missing".into() })
        })
        .unwrap();
        assert_eq!(back, rom);
    }

    #[test]
    fn pad_and_its_budget() {
        let rom = legacy_image(2, true, 0x8086, 0x100e);
        let padded = pad(&rom, PadTarget::Bytes(4096), 0xFF).unwrap();
        assert_eq!((padded.len(), &padded[..1024], padded[4095]), (4096, &rom[..], 0xFF));
        assert_eq!(pad(&rom, PadTarget::Pow2, 0).unwrap().len(), 1024);
        let e = pad(&rom, PadTarget::Bytes(512), 0xFF).unwrap_err();
        assert_eq!(e, EditError::DoesNotFit { content: 1024, target: 512, target_text: "512 B".into(), over: 512 });
    }

    #[test]
    fn set_ids_rewrites_the_pcir_and_keeps_the_sum() {
        let rom = legacy_image(2, true, 0x8086, 0x100e);
        let out = set_ids(&rom, 0x10ec, &[0x8139], ImageSelect::All).unwrap();
        assert_eq!(&out[0x24..0x28], &[0xEC, 0x10, 0x39, 0x81]);
        assert_eq!(sum(&out), 0, "the last-byte convention keeps the image at zero");
        let changed: Vec<usize> = (0..rom.len()).filter(|&i| out[i] != rom[i]).collect();
        assert_eq!(changed, vec![0x24, 0x25, 0x26, 0x27, 1023]);
        // A PCI 2.2 image has no device list: several IDs do not fit.
        assert!(matches!(set_ids(&rom, 1, &[2, 3], ImageSelect::All), Err(EditError::NoRoom { .. })));
        assert_eq!(set_ids(&rom, 1, &[2], ImageSelect::Index(3)), Err(EditError::NoSuchImage { index: 3, count: 1 }));
    }

    #[test]
    fn combine_reports_a_cut_off_input_with_its_real_length() {
        let rom = legacy_image(4, true, 0x8086, 0x100e);
        let e = combine(&[&rom[..1500]]).unwrap_err().to_string();
        assert!(e.contains("cut off at 0x5dc"), "{e}");
        // Only the last partial block missing: zero-padded as a raw image.
        let mut raw = legacy_image(2, true, 0x8086, 0x100e);
        raw.truncate(1000);
        assert_eq!(combine(&[&raw]).unwrap().len(), 1024);
    }
}
