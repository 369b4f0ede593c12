//! Build an EFI option ROM image from a PE/COFF driver.
//!
//! The canonical layout optrom writes (every byte determined by the inputs):
//!
//! | offset | bytes | content |
//! |--------|-------|---------|
//! | 0x00   | 0x1A  | EFI image header |
//! | 0x1A   | 2     | zero (aligns the PCIR to 4, as EDK2 requires) |
//! | 0x1C   | 0x1C  | PCIR, PCI Firmware 3.0 layout (revision 3) |
//! | 0x38   | 2·(n+1) | device list, only when more than one device ID is given |
//! | next   | 1     | checksum byte: makes the whole image sum to 0 |
//! | next 8-aligned | … | the payload: the EFI-compressed stream, or the PE when that is smaller |
//! | …      | …     | zero padding to a 512-byte multiple |
//!
//! The checksum lives in a header byte between the PCIR (and device list) and the
//! payload, the same place iPXE's `efirom` uses: no firmware interprets it, and
//! unlike byte 6 (inside EfiSignature) or the last byte (payload or padding) it can
//! never clobber anything. InitializationSize equals ImageLength; the max run-time
//! length is 0 (EFI images have no run-time legacy portion).

use optrom_codec::{Format, Level};
use optrom_format::efi::{EFI_SIGNATURE, EfiHeader};
use optrom_format::pcir::{self, INDICATOR_LAST, Pcir, PcirRepr};
use optrom_format::{BLOCK, CodeType, Compression, EfiHeaderRepr, Machine, Subsystem};

use crate::checksum::{self, Convention};
use crate::pe::{self, PeInfo};

/// The PE machines an EFI option ROM may carry.
pub const ALLOWED_MACHINES: &[Machine] =
    &[Machine::Ia32, Machine::X64, Machine::Aa64, Machine::RiscV64, Machine::LoongArch64, Machine::Ebc, Machine::Arm];

/// Offset of the PCIR in optrom's layout: right after the EFI image header
/// (0x1A bytes), at the 4-byte alignment EDK2 requires (0x1C, as iPXE's efirom).
pub const PCIR_OFFSET: usize = optrom_format::efi::HEADER_LEN.next_multiple_of(4);
/// Alignment of the payload inside the image.
pub const PAYLOAD_ALIGN: usize = 8;

/// Which subsystem to write into the EFI header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubsystemChoice {
    /// The PE's own subsystem.
    #[default]
    Auto,
    /// Force this one.
    Force(Subsystem),
}

impl std::str::FromStr for SubsystemChoice {
    type Err = String;

    /// `auto`, `11` (boot-service driver) or `12` (runtime driver).
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(SubsystemChoice::Auto),
            "11" => Ok(SubsystemChoice::Force(Subsystem::BootServiceDriver)),
            "12" => Ok(SubsystemChoice::Force(Subsystem::RuntimeDriver)),
            _ => Err(format!("{text:?}: expected auto, 11 (boot-service driver) or 12 (runtime driver)")),
        }
    }
}

/// Options for [`efi_rom`].
#[derive(Debug, Clone)]
pub struct EfiRomOptions {
    /// PCI vendor ID.
    pub vendor: u16,
    /// PCI device IDs: the first goes into the PCIR, all of them into the device
    /// list when there is more than one.
    pub devices: Vec<u16>,
    /// 24-bit class code (0x020000 = Ethernet controller).
    pub class_code: u32,
    /// Code revision.
    pub revision: u16,
    /// Subsystem to declare.
    pub subsystem: SubsystemChoice,
    /// Compression level, `None` to store the PE uncompressed.
    pub compression: Option<Level>,
    /// Accept an EFI application (firmware will not load it from a ROM).
    pub allow_application: bool,
    /// Whether this image is the last of a ROM (sets indicator bit 7).
    pub last: bool,
}

impl Default for EfiRomOptions {
    fn default() -> Self {
        EfiRomOptions {
            vendor: 0,
            devices: Vec::new(),
            class_code: 0x020000,
            revision: 0,
            subsystem: SubsystemChoice::Auto,
            compression: Some(Level::Default),
            allow_application: false,
            last: true,
        }
    }
}

/// Why an EFI ROM image could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The input is not a PE/COFF image.
    #[error("offset 0x0, field PE header: {0}")]
    NotPe(String),
    /// The PE's machine cannot go into an option ROM.
    #[error(
        "offset {offset:#x}, field Machine: PE machine {machine} is not one of IA32, X64, AA64, RISCV64, LOONGARCH64, EBC, ARM"
    )]
    Machine {
        /// File offset of the COFF Machine field.
        offset: u64,
        /// The machine found.
        machine: Machine,
    },
    /// The PE's subsystem is not a driver.
    #[error("offset {offset:#x}, field Subsystem: {message}")]
    Subsystem {
        /// File offset of the optional-header Subsystem field.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// No device ID was given.
    #[error("no device ID given")]
    NoDevice,
    /// The image would exceed the 16-bit length fields.
    #[error("field ImageLength: image of {0} bytes exceeds the 65535 × 512 bytes a PCIR can describe")]
    TooLarge(usize),
}

/// The result of [`efi_rom`].
#[derive(Debug, Clone)]
pub struct EfiRom {
    /// The image bytes.
    pub bytes: Vec<u8>,
    /// The driver's PE facts.
    pub pe: PeInfo,
    /// Whether the payload is compressed.
    pub compressed: bool,
    /// Bytes of the payload in the image.
    pub payload_size: usize,
}

/// Validate `driver` as an option-ROM EFI driver and return its PE facts.
pub fn validate_driver(driver: &[u8], allow_application: bool) -> Result<PeInfo, BuildError> {
    let info = pe::parse(driver).map_err(|e| BuildError::NotPe(e.0))?;
    if !ALLOWED_MACHINES.contains(&info.machine) {
        return Err(BuildError::Machine { offset: info.offsets.machine, machine: info.machine });
    }
    let subsystem_at = info.offsets.subsystem;
    match info.subsystem {
        Subsystem::BootServiceDriver | Subsystem::RuntimeDriver => {}
        Subsystem::Application if allow_application => {}
        Subsystem::Application => {
            return Err(BuildError::Subsystem {
                offset: subsystem_at,
                message: "the PE is an EFI application (subsystem 10); firmware loads only drivers (11, 12) from option ROMs — pass --allow-application to build it anyway".into(),
            });
        }
        other => {
            return Err(BuildError::Subsystem {
                offset: subsystem_at,
                message: format!("PE subsystem {other} is not an EFI boot-service (11) or runtime (12) driver"),
            });
        }
    }
    Ok(info)
}

/// Build one EFI option ROM image from the PE driver `driver`.
pub fn efi_rom(driver: &[u8], opts: &EfiRomOptions) -> Result<EfiRom, BuildError> {
    let pe = validate_driver(driver, opts.allow_application)?;
    let (&first, _) = opts.devices.split_first().ok_or(BuildError::NoDevice)?;

    let compressed = opts.compression.map(|level| optrom_codec::compress(Format::Efi, driver, level));
    let (payload, compression): (&[u8], Compression) = match &compressed {
        Some(stream) if stream.len() < driver.len() => (stream, Compression::Efi),
        _ => (driver, Compression::None),
    };

    let list = opts.devices.len() > 1;
    let mut header_end = PCIR_OFFSET + pcir::LEN_V30;
    if list {
        header_end += pcir::device_list_len(&opts.devices);
    }
    let checksum_at = header_end;
    let payload_at = (checksum_at + 1).next_multiple_of(PAYLOAD_ALIGN);
    let total = (payload_at + payload.len()).next_multiple_of(BLOCK);
    let blocks = u16::try_from(total / BLOCK).map_err(|_| BuildError::TooLarge(total))?;
    let payload_offset = u16::try_from(payload_at).map_err(|_| BuildError::TooLarge(total))?;

    let mut image = vec![0u8; total];
    EfiHeaderRepr {
        init_size: blocks,
        efi_signature: EFI_SIGNATURE,
        subsystem: match opts.subsystem {
            SubsystemChoice::Auto => pe.subsystem,
            SubsystemChoice::Force(s) => s,
        },
        machine: pe.machine,
        compression,
        reserved: [0; 8],
        image_offset: payload_offset,
        pcir_offset: PCIR_OFFSET as u16,
    }
    .emit(&mut EfiHeader::new_unchecked(&mut image[..]));
    PcirRepr {
        vendor: opts.vendor,
        device: first,
        device_list_pointer: if list { pcir::LEN_V30 as u16 } else { 0 },
        length: pcir::LEN_V30 as u16,
        revision: 3,
        class_code: opts.class_code & 0xFF_FFFF,
        image_length: blocks,
        code_revision: opts.revision,
        code_type: CodeType::Efi,
        indicator: if opts.last { INDICATOR_LAST } else { 0 },
        max_runtime_length: 0,
        config_utility: Some(0),
        clp: Some(0),
    }
    .emit(&mut Pcir::new_unchecked(&mut image[PCIR_OFFSET..]));
    if list {
        pcir::emit_device_list(&opts.devices, &mut image[PCIR_OFFSET + pcir::LEN_V30..]);
    }
    image[payload_at..payload_at + payload.len()].copy_from_slice(payload);
    let fixed = checksum::fix(&mut image, PCIR_OFFSET, Convention::EfiHeaderByte);
    debug_assert_eq!(fixed, Some(checksum_at));

    Ok(EfiRom { bytes: image, pe, compressed: compression == Compression::Efi, payload_size: payload.len() })
}
