//! Inspect a ROM file: every image, every header, checksums, the embedded PE, and
//! the whole-file facts (content size, padding, ROM BAR size).

use serde::Serialize;

use optrom_format::chain::{self, ImageRef};
use optrom_format::{
    CodeType, Compression, EfiHeader, EfiHeaderRepr, IpxeHeader, LegacyHeader, Machine, PcirRepr, PnpHeader, Subsystem,
    UndiRomId, byte_sum, efi, pcir,
};

use crate::checksum::{self, Convention};
use crate::finding::{Finding, Severity};
use crate::pe::{self, PeInfo};
use crate::serialize::{
    ser_class, ser_code_type, ser_compression, ser_hex16, ser_hex16_list, ser_machine, ser_subsystem,
};
use crate::size::bar_size;

/// Upper bound on a decompressed EFI driver. An image is at most 0xFFFF × 512
/// bytes and compresses at best ~8:1 in practice; this caps memory on hostile input.
pub const MAX_DECOMPRESSED: usize = 64 << 20;

/// The input is not an option ROM at all (exit status 2 material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset:#x}, field {field}: {message}")]
pub struct NotARom {
    /// File offset.
    pub offset: u64,
    /// Field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Everything `optrom info` knows about one ROM file.
#[derive(Debug, Clone, Serialize)]
pub struct RomInfo {
    /// File size in bytes.
    pub file_size: u64,
    /// End of the last image: the bytes that matter.
    pub content_size: u64,
    /// Bytes after the last image.
    pub trailing: Trailing,
    /// ROM BAR QEMU creates for this file: the next power of two ≥ the file size.
    pub bar_size: u64,
    /// Bytes left before the file would need a larger BAR.
    pub headroom: u64,
    /// Images in chain order.
    pub images: Vec<ImageInfo>,
    /// Structural problems met while walking (malformed chain or headers).
    pub problems: Vec<Finding>,
}

/// What follows the last image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trailing {
    /// Number of bytes.
    pub bytes: u64,
    /// `none`, `0x00`, `0xff` or `mixed`.
    pub fill: &'static str,
}

/// One image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// Position in the chain.
    pub index: usize,
    /// File offset.
    pub offset: u64,
    /// Image length in bytes (`PCIR.ImageLength × 512`).
    pub length: u64,
    /// Code type from the PCIR.
    #[serde(serialize_with = "ser_code_type")]
    pub code_type: CodeType,
    /// Whether the PCIR marks this as the last image.
    pub last: bool,
    /// The PCI data structure; `None` for an ISA-style ROM (PCIR pointer 0),
    /// which firmware loads from fw_cfg or a fixed address, never from a PCI
    /// ROM BAR.
    pub pcir: Option<PcirInfo>,
    /// Legacy (code type 0) header details.
    pub legacy: Option<LegacyInfo>,
    /// EFI (code type 3) header details.
    pub efi: Option<EfiInfo>,
    /// Checksum facts.
    pub checksum: ChecksumInfo,
}

/// PCIR fields.
#[derive(Debug, Clone, Serialize)]
pub struct PcirInfo {
    /// Offset within the image.
    pub offset: u64,
    /// Vendor ID.
    #[serde(serialize_with = "ser_hex16")]
    pub vendor: u16,
    /// Device ID.
    #[serde(serialize_with = "ser_hex16")]
    pub device: u16,
    /// Structure revision.
    pub revision: u8,
    /// Structure length field.
    pub length: u16,
    /// Class code.
    #[serde(serialize_with = "ser_class")]
    pub class_code: u32,
    /// Image length, 512-byte blocks.
    pub image_length: u16,
    /// Code revision.
    pub code_revision: u16,
    /// Indicator byte.
    pub indicator: u8,
    /// PCI 3.0 device list (without the terminator), `None` before PCI 3.0 or when empty pointer.
    #[serde(serialize_with = "ser_hex16_list")]
    pub device_list: Option<Vec<u16>>,
    /// PCI 3.0 max run-time length (512-byte blocks).
    pub max_runtime_length: Option<u16>,
    /// PCI 3.0 configuration utility pointer.
    pub config_utility: Option<u16>,
    /// PCI 3.0 DMTF CLP pointer.
    pub clp: Option<u16>,
}

impl PcirInfo {
    /// The report of a PCIR at `offset` in its image, from the fields the chain
    /// walker decoded, with the device list read from the image.
    pub fn from_repr(offset: usize, repr: &PcirRepr, device_list: Option<Vec<u16>>) -> PcirInfo {
        PcirInfo {
            offset: offset as u64,
            vendor: repr.vendor,
            device: repr.device,
            revision: repr.revision,
            length: repr.length,
            class_code: repr.class_code,
            image_length: repr.image_length,
            code_revision: repr.code_revision,
            indicator: repr.indicator,
            device_list,
            max_runtime_length: repr.is_pci30().then_some(repr.max_runtime_length),
            config_utility: repr.config_utility,
            clp: repr.clp,
        }
    }
}

/// Legacy header details.
#[derive(Debug, Clone, Serialize)]
pub struct LegacyInfo {
    /// Initialization size, 512-byte blocks.
    pub size512: u8,
    /// Initialization size in bytes.
    pub init_size: u64,
    /// Entry bytes, hex.
    pub entry: String,
    /// Whether the entry is a jump or call a BIOS can execute.
    #[serde(skip)]
    pub entry_is_jump: bool,
    /// `$PnP` headers in chain order.
    pub pnp: Vec<PnpInfo>,
    /// PXE UNDI ROM ID.
    pub undi: Option<UndiInfo>,
    /// iPXE header.
    pub ipxe: Option<IpxeInfo>,
}

/// `$PnP` header.
#[derive(Debug, Clone, Serialize)]
pub struct PnpInfo {
    /// Offset within the image.
    pub offset: u64,
    /// Revision.
    pub revision: u8,
    /// Length in bytes.
    pub length: u64,
    /// Whether the header sums to zero.
    pub checksum_valid: bool,
    /// Manufacturer string.
    pub manufacturer: Option<String>,
    /// Product string.
    pub product: Option<String>,
    /// Device type code (base, sub, interface) as hex.
    pub device_type: String,
    /// Boot connection vector.
    pub bcv: u16,
    /// Disconnect vector.
    pub bdv: u16,
    /// Bootstrap entry vector.
    pub bev: u16,
}

/// UNDI ROM ID.
#[derive(Debug, Clone, Serialize)]
pub struct UndiInfo {
    /// Offset within the image.
    pub offset: u64,
    /// Structure length.
    pub length: u8,
    /// Whether the structure sums to zero.
    pub checksum_valid: bool,
    /// UNDI version, `major.minor.revision`.
    pub version: String,
    /// Loader entry.
    pub loader_entry: u16,
    /// Stack size.
    pub stack_size: u16,
    /// Data size.
    pub data_size: u16,
    /// Code size.
    pub code_size: u16,
}

/// iPXE header.
#[derive(Debug, Clone, Serialize)]
pub struct IpxeInfo {
    /// Offset within the image.
    pub offset: u64,
    /// Structure length.
    pub length: u8,
    /// Whether the structure sums to zero.
    pub checksum_valid: bool,
    /// Shrunk ROM size in bytes.
    pub shrunk_rom_size: u64,
    /// Build ID, hex.
    pub build_id: String,
}

/// EFI header details.
#[derive(Debug, Clone, Serialize)]
pub struct EfiInfo {
    /// InitializationSize, 512-byte blocks.
    pub init_size: u16,
    /// Subsystem.
    #[serde(serialize_with = "ser_subsystem")]
    pub subsystem: Subsystem,
    /// Machine.
    #[serde(serialize_with = "ser_machine")]
    pub machine: Machine,
    /// Compression.
    #[serde(serialize_with = "ser_compression")]
    pub compression: Compression,
    /// Offset of the PE image or compressed stream within the image.
    pub image_offset: u16,
    /// Bytes the payload occupies in the ROM (compressed stream, or the PE).
    pub stored_size: Option<u64>,
    /// Size of the PE image after decompression (same as stored for uncompressed).
    pub pe_size: Option<u64>,
    /// The embedded PE header.
    pub pe: Option<PeInfo>,
    /// Why the payload could not be read, when it could not.
    pub payload_error: Option<PayloadError>,
}

/// Why an EFI image's payload could not be read. Serialized as its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The EFI image header is malformed.
    #[error("{0}")]
    Header(String),
    /// `EfiImageHeaderOffset` lies outside the initialization span (reported
    /// as its own `efi-offset` finding).
    #[error("{0}")]
    Offset(String),
    /// The compressed stream or the embedded PE cannot be read.
    #[error("{0}")]
    Payload(String),
}

impl Serialize for PayloadError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Checksum facts.
#[derive(Debug, Clone, Serialize)]
pub struct ChecksumInfo {
    /// Span SeaBIOS sums: `Size512 × 512` for legacy images, the image length otherwise.
    pub span: u64,
    /// 8-bit sum over `span`.
    pub sum: u8,
    /// 8-bit sum over `PCIR.ImageLength × 512`.
    pub image_sum: u8,
    /// Which convention holds the image at zero.
    pub convention: Convention,
    /// Whether the sum over `span` is zero.
    pub valid: bool,
}

/// Inspect a whole ROM file.
pub fn inspect(data: &[u8]) -> Result<RomInfo, NotARom> {
    if data.is_empty() {
        return Err(NotARom { offset: 0, field: "file", message: "empty file, not an option ROM".into() });
    }
    if data.get(..2) != Some(&optrom_format::ROM_SIGNATURE.to_le_bytes()[..]) {
        let found = data.iter().take(2).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
        let hint = if data.starts_with(b"MZ") {
            " (this is a PE/COFF image: `optrom efirom` builds an option ROM from an EFI driver)"
        } else {
            ""
        };
        return Err(NotARom {
            offset: 0,
            field: "signature",
            message: format!("not an option ROM: expected 55 AA, found {found}{hint}"),
        });
    }
    let walk = chain::walk(data);
    let mut problems = Vec::new();
    let images: Vec<ImageInfo> = match walk.isa {
        Some(bytes) => vec![isa_image_info(bytes, &mut problems)],
        None => {
            if let Some(e) = &walk.error {
                problems.push(Finding::from_format(e, Some(walk.images.len())));
            }
            walk.images.iter().map(|image| image_info(image, &mut problems)).collect()
        }
    };
    let file_size = data.len() as u64;
    // An image cut off by the end of the file is content up to the end, not
    // trailing padding: the chain error says where it is cut off.
    let cut_off =
        matches!(walk.error, Some(optrom_format::Error { kind: optrom_format::ErrorKind::PastEnd { .. }, .. }));
    let content_end = if cut_off { data.len() } else { walk.end };
    let content_size = content_end as u64;
    let tail = &data[content_end..];
    let fill = if tail.is_empty() {
        "none"
    } else if tail.iter().all(|b| *b == 0) {
        "0x00"
    } else if tail.iter().all(|b| *b == 0xFF) {
        "0xff"
    } else {
        "mixed"
    };
    let bar = bar_size(file_size);
    Ok(RomInfo {
        file_size,
        content_size,
        trailing: Trailing { bytes: tail.len() as u64, fill },
        bar_size: bar,
        headroom: bar - file_size,
        images,
        problems,
    })
}

fn image_info(image: &ImageRef<'_>, problems: &mut Vec<Finding>) -> ImageInfo {
    let view = image.pcir();
    let bytes = image.bytes;
    let base = image.offset as u64;
    let pcir_at = image.pcir_offset;
    let code_type = view.code_type();

    if !pcir_at.is_multiple_of(4) {
        problems.push(Finding::new(
            Severity::Error,
            "pcir-alignment",
            Some(image.index),
            Some(base + chain::PCIR_POINTER as u64),
            "PCIR pointer",
            format!("PCIR at {pcir_at:#x} is not 4-byte aligned (EDK2 rejects the image, SeaBIOS warns)"),
        ));
    }

    let device_list = if view.is_pci30() && view.device_list_pointer() != 0 {
        match pcir::device_list(bytes, pcir_at, view.device_list_pointer()) {
            Ok(ids) => Some(ids),
            Err(e) => {
                problems.push(Finding::from_format(&e.rebase(image.offset), Some(image.index)));
                None
            }
        }
    } else {
        None
    };
    let pcir = PcirInfo::from_repr(pcir_at, &image.pcir_repr, device_list);

    let (legacy, efi) = match code_type {
        CodeType::Efi => (None, Some(efi_info(image, problems))),
        _ => (Some(legacy_info(LegacyImage::of(image), problems)), None),
    };

    let checksum = checksum_info(image, problems);
    ImageInfo {
        index: image.index,
        offset: base,
        length: bytes.len() as u64,
        code_type,
        last: view.is_last(),
        pcir: Some(pcir),
        legacy,
        efi,
        checksum,
    }
}

fn checksum_info(image: &ImageRef<'_>, problems: &mut Vec<Finding>) -> ChecksumInfo {
    let bytes = image.bytes;
    let span = checksum::span(bytes, image.pcir().code_type());
    if span > bytes.len() {
        problems.push(Finding::new(
            Severity::Error,
            "seabios-size",
            Some(image.index),
            Some(image.offset as u64 + 2),
            "Size512",
            format!(
                "initialization size {span:#x} exceeds the image length {:#x}; BIOS would copy and sum bytes of the next image",
                bytes.len()
            ),
        ));
    }
    let sum = byte_sum(&bytes[..span.min(bytes.len())]);
    ChecksumInfo {
        span: span as u64,
        sum,
        image_sum: byte_sum(bytes),
        convention: checksum::detect(bytes, image.pcir_offset),
        valid: sum == 0,
    }
}

/// The one image of an ISA-style ROM: a legacy header without a PCIR.
fn isa_image_info(bytes: &[u8], problems: &mut Vec<Finding>) -> ImageInfo {
    let image = LegacyImage { index: 0, offset: 0, bytes };
    let span = checksum::span(bytes, CodeType::PcAt);
    let sum = byte_sum(&bytes[..span.min(bytes.len())]);
    if span > bytes.len() {
        problems.push(Finding::new(
            Severity::Error,
            "seabios-size",
            Some(0),
            Some(2),
            "Size512",
            format!("initialization size {span:#x} runs past the end of the file ({:#x})", bytes.len()),
        ));
    }
    ImageInfo {
        index: 0,
        offset: 0,
        length: bytes.len() as u64,
        code_type: CodeType::PcAt,
        last: true,
        pcir: None,
        legacy: Some(legacy_info(image, problems)),
        efi: None,
        checksum: ChecksumInfo {
            span: span as u64,
            sum,
            image_sum: byte_sum(bytes),
            convention: checksum::detect_legacy(bytes),
            valid: sum == 0,
        },
    }
}

/// Where an image sits: what the legacy-header helpers need, for PCI images
/// and ISA-style ones alike.
#[derive(Clone, Copy)]
struct LegacyImage<'a> {
    index: usize,
    offset: usize,
    bytes: &'a [u8],
}

impl<'a> LegacyImage<'a> {
    fn of(image: &ImageRef<'a>) -> LegacyImage<'a> {
        LegacyImage { index: image.index, offset: image.offset, bytes: image.bytes }
    }
}

fn legacy_info(image: LegacyImage<'_>, problems: &mut Vec<Finding>) -> LegacyInfo {
    let bytes = image.bytes;
    let header = LegacyHeader::new_unchecked(bytes);
    let entry = header.entry();
    LegacyInfo {
        size512: header.size512(),
        init_size: u64::from(header.size512()) * 512,
        entry: entry.iter().map(|b| format!("{b:02x}")).collect(),
        entry_is_jump: header.entry_is_jump(),
        pnp: pnp_chain(image, header.pnp_offset(), problems),
        undi: undi_info(bytes, header.undi_offset()),
        ipxe: ipxe_info(bytes, header.ipxe_offset()),
    }
}

fn pnp_chain(image: LegacyImage<'_>, first: u16, problems: &mut Vec<Finding>) -> Vec<PnpInfo> {
    let bytes = image.bytes;
    let mut out = Vec::new();
    let mut at = usize::from(first);
    let mut visited = Vec::new();
    while at != 0 {
        if visited.contains(&at) {
            problems.push(Finding::new(
                Severity::Warning,
                "pnp",
                Some(image.index),
                Some((image.offset + at) as u64),
                "$PnP.NextHeader",
                "the $PnP chain loops back to a header already seen",
            ));
            break;
        }
        visited.push(at);
        let Some(view) = bytes.get(at..).and_then(|b| PnpHeader::new_checked(b).ok()) else {
            if out.is_empty() {
                break; // pointer at 0x1A holds something else: not a PnP ROM.
            }
            problems.push(Finding::new(
                Severity::Warning,
                "pnp",
                Some(image.index),
                Some((image.offset + at) as u64),
                "$PnP.NextHeader",
                "points outside the image",
            ));
            break;
        };
        if !view.has_signature() {
            if !out.is_empty() {
                problems.push(Finding::new(
                    Severity::Warning,
                    "pnp",
                    Some(image.index),
                    Some((image.offset + at) as u64),
                    "$PnP.Signature",
                    "next-header pointer leads to bytes without the $PnP signature",
                ));
            }
            break;
        }
        let span = view.checksum_span().max(1);
        let checksum_valid = bytes.get(at..at + span).is_some_and(|s| byte_sum(s) == 0);
        let t = view.device_type();
        out.push(PnpInfo {
            offset: at as u64,
            revision: view.revision(),
            length: span as u64,
            checksum_valid,
            manufacturer: c_string(bytes, view.manufacturer()),
            product: c_string(bytes, view.product()),
            device_type: format!("{:02x}{:02x}{:02x}", t[0], t[1], t[2]),
            bcv: view.bcv(),
            bdv: view.bdv(),
            bev: view.bev(),
        });
        at = usize::from(view.next());
    }
    out
}

fn c_string(bytes: &[u8], at: u16) -> Option<String> {
    if at == 0 {
        return None;
    }
    let rest = bytes.get(usize::from(at)..)?;
    let end = rest.iter().take(256).position(|b| *b == 0)?;
    let s = &rest[..end];
    s.iter().all(|b| b.is_ascii_graphic() || *b == b' ').then(|| String::from_utf8_lossy(s).into_owned())
}

fn undi_info(bytes: &[u8], at: u16) -> Option<UndiInfo> {
    let at = usize::from(at);
    if at == 0 {
        return None;
    }
    let view = UndiRomId::new_checked(bytes.get(at..)?).ok()?;
    if !view.has_signature() {
        return None;
    }
    let (major, minor, rev) = view.version();
    let len = usize::from(view.length());
    Some(UndiInfo {
        offset: at as u64,
        length: view.length(),
        checksum_valid: len > 0 && bytes.get(at..at + len).is_some_and(|s| byte_sum(s) == 0),
        version: format!("{major}.{minor}.{rev}"),
        loader_entry: view.loader_entry(),
        stack_size: view.stack_size(),
        data_size: view.data_size(),
        code_size: view.code_size(),
    })
}

fn ipxe_info(bytes: &[u8], at: u16) -> Option<IpxeInfo> {
    let at = usize::from(at);
    if at == 0 {
        return None;
    }
    let view = IpxeHeader::new_checked(bytes.get(at..)?).ok()?;
    if !view.has_signature() {
        return None;
    }
    let len = usize::from(view.length());
    Some(IpxeInfo {
        offset: at as u64,
        length: view.length(),
        checksum_valid: len > 0 && bytes.get(at..at + len).is_some_and(|s| byte_sum(s) == 0),
        shrunk_rom_size: u64::from(view.shrunk_rom_size()) * 512,
        build_id: format!("{:#010x}", view.build_id()),
    })
}

fn efi_info(image: &ImageRef<'_>, problems: &mut Vec<Finding>) -> EfiInfo {
    let bytes = image.bytes;
    let header = EfiHeader::new_unchecked(bytes);
    let here = |field: usize| Some((image.offset + field) as u64);
    let mut info = EfiInfo {
        init_size: header.init_size(),
        subsystem: header.subsystem(),
        machine: header.machine(),
        compression: header.compression(),
        image_offset: header.image_offset(),
        stored_size: None,
        pe_size: None,
        pe: None,
        payload_error: None,
    };
    if let Err(e) = EfiHeaderRepr::parse(&header) {
        let e = e.rebase(image.offset);
        info.payload_error = Some(PayloadError::Header(e.to_string()));
        problems.push(Finding::from_format(&e, Some(image.index)));
        return info;
    }
    let init_bytes = usize::from(header.init_size()) * 512;
    let offset = usize::from(header.image_offset());
    // EDK2 loads from the InitializationSize span; never read past the image itself.
    let end = init_bytes.min(bytes.len());
    if offset >= end {
        let message = format!("EFI image offset {offset:#x} is not inside the initialization span {end:#x}");
        problems.push(Finding::new(
            Severity::Error,
            "efi-offset",
            Some(image.index),
            here(efi::field::IMAGE_OFFSET),
            "EfiImageHeaderOffset",
            message.clone(),
        ));
        info.payload_error = Some(PayloadError::Offset(message));
        return info;
    }
    let payload = &bytes[offset..end];
    match payload_pe(payload, header.compression()) {
        Ok((stored, pe_bytes)) => {
            info.stored_size = Some(stored as u64);
            match pe::parse(&pe_bytes) {
                Ok(pe) => {
                    info.pe_size = Some(if header.compression() == Compression::Efi {
                        pe_bytes.len() as u64
                    } else {
                        pe.file_size
                    });
                    if header.compression() == Compression::None {
                        info.stored_size = Some(pe.file_size.min(payload.len() as u64));
                    }
                    info.pe = Some(pe);
                }
                Err(e) => info.payload_error = Some(PayloadError::Payload(format!("embedded PE: {e}"))),
            }
        }
        Err(e) => info.payload_error = Some(PayloadError::Payload(e)),
    }
    info
}

/// The stored length and the PE bytes of an EFI payload.
fn payload_pe(payload: &[u8], compression: Compression) -> Result<(usize, std::borrow::Cow<'_, [u8]>), String> {
    match compression {
        Compression::None => Ok((payload.len(), std::borrow::Cow::Borrowed(payload))),
        Compression::Efi => {
            let (comp, _orig) = optrom_codec::stream_sizes(payload)
                .ok_or_else(|| "compressed stream shorter than its 8-byte header".to_string())?;
            let stored = optrom_codec::HEADER_LEN.saturating_add(comp as usize);
            if stored > payload.len() {
                return Err(format!(
                    "compressed stream claims {stored} bytes but only {} remain in the image",
                    payload.len()
                ));
            }
            let pe = optrom_codec::decompress(optrom_codec::Format::Efi, &payload[..stored], MAX_DECOMPRESSED)
                .map_err(|e| format!("EFI decompression failed: {e}"))?;
            Ok((stored, std::borrow::Cow::Owned(pe)))
        }
        Compression::Other(v) => Err(format!("unknown compression type {v}")),
    }
}

/// The decompressed (or stored) PE driver of an EFI image, for `split` and tests.
pub fn efi_driver(image: &[u8]) -> Result<Vec<u8>, String> {
    let header = EfiHeader::new_checked(image).map_err(|e| e.to_string())?;
    EfiHeaderRepr::parse(&header).map_err(|e| e.to_string())?;
    let end = (usize::from(header.init_size()) * 512).min(image.len());
    let offset = usize::from(header.image_offset());
    if offset >= end {
        return Err(format!("EFI image offset {offset:#x} outside the image"));
    }
    let payload = &image[offset..end];
    let (_, pe_bytes) = payload_pe(payload, header.compression())?;
    let pe = pe::parse(&pe_bytes).map_err(|e| e.to_string())?;
    let len = (pe.file_size as usize).min(pe_bytes.len());
    Ok(pe_bytes[..len].to_vec())
}
