//! The PE/COFF facts an option ROM cares about, read with the `object` crate.

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile32, PeFile64};
use serde::Serialize;

use optrom_format::{Machine, Subsystem};

/// The header fields of a PE/COFF image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeInfo {
    /// COFF machine.
    #[serde(serialize_with = "crate::serialize::ser_machine")]
    pub machine: Machine,
    /// Optional-header subsystem.
    #[serde(serialize_with = "crate::serialize::ser_subsystem")]
    pub subsystem: Subsystem,
    /// `PE32` or `PE32+`.
    pub format: &'static str,
    /// SizeOfImage: bytes the loader maps.
    pub size_of_image: u32,
    /// AddressOfEntryPoint (RVA).
    pub entry_point: u32,
    /// COFF TimeDateStamp (often 0 in reproducible builds).
    pub timestamp: u32,
    /// Section names in table order.
    pub sections: Vec<String>,
    /// Bytes of the file the image occupies: headers and every section's raw data.
    pub file_size: u64,
    /// File offsets of the COFF `Machine` and optional-header `Subsystem` fields,
    /// for errors that name them.
    #[serde(skip)]
    pub offsets: PeOffsets,
}

/// Where the fields an option ROM checks sit in the PE file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeOffsets {
    /// COFF header `Machine`.
    pub machine: u64,
    /// Optional header `Subsystem`.
    pub subsystem: u64,
}

/// Why a buffer is not a usable PE image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PeError(pub String);

/// Parse the PE/COFF headers at the start of `data`. Trailing bytes (padding after
/// the image) are allowed.
pub fn parse(data: &[u8]) -> Result<PeInfo, PeError> {
    if data.len() < 2 || &data[..2] != b"MZ" {
        return Err(PeError("no DOS header (MZ signature missing)".into()));
    }
    let magic = object::read::pe::optional_header_magic(data).map_err(|e| PeError(format!("bad PE header: {e}")))?;
    match magic {
        pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => {
            let file = PeFile32::parse(data).map_err(|e| PeError(format!("bad PE32 image: {e}")))?;
            let at = offsets::<pe::ImageOptionalHeader32>(data)?;
            Ok(info(file.nt_headers(), file.section_table(), "PE32", at))
        }
        pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => {
            let file = PeFile64::parse(data).map_err(|e| PeError(format!("bad PE32+ image: {e}")))?;
            let at = offsets::<pe::ImageOptionalHeader64>(data)?;
            Ok(info(file.nt_headers(), file.section_table(), "PE32+", at))
        }
        other => Err(PeError(format!("unknown optional-header magic {other:#x}"))),
    }
}

/// The field offsets, from the DOS header's `e_lfanew` and the layouts of the
/// NT headers (signature, COFF header, optional header `O`).
fn offsets<O>(data: &[u8]) -> Result<PeOffsets, PeError> {
    let dos = pe::ImageDosHeader::parse(data).map_err(|e| PeError(format!("bad DOS header: {e}")))?;
    let nt = u64::from(dos.nt_headers_offset());
    let coff = nt + std::mem::size_of::<object::U32<LE>>() as u64;
    let optional = coff + std::mem::size_of::<pe::ImageFileHeader>() as u64;
    let subsystem = if std::mem::size_of::<O>() == std::mem::size_of::<pe::ImageOptionalHeader64>() {
        std::mem::offset_of!(pe::ImageOptionalHeader64, subsystem)
    } else {
        std::mem::offset_of!(pe::ImageOptionalHeader32, subsystem)
    };
    Ok(PeOffsets {
        machine: coff + std::mem::offset_of!(pe::ImageFileHeader, machine) as u64,
        subsystem: optional + subsystem as u64,
    })
}

fn info<H: ImageNtHeaders>(
    nt: &H,
    sections: object::read::pe::SectionTable<'_>,
    format: &'static str,
    offsets: PeOffsets,
) -> PeInfo {
    let fh = nt.file_header();
    let oh = nt.optional_header();
    let mut file_size = u64::from(oh.size_of_headers());
    let mut names = Vec::new();
    for section in sections.iter() {
        let raw_end = u64::from(section.pointer_to_raw_data.get(LE)) + u64::from(section.size_of_raw_data.get(LE));
        if section.size_of_raw_data.get(LE) != 0 {
            file_size = file_size.max(raw_end);
        }
        let name = section.name.split(|b| *b == 0).next().unwrap_or(&[]);
        names.push(String::from_utf8_lossy(name).into_owned());
    }
    PeInfo {
        machine: fh.machine.get(LE).into(),
        subsystem: oh.subsystem().into(),
        format,
        size_of_image: oh.size_of_image(),
        entry_point: oh.address_of_entry_point(),
        timestamp: fh.time_date_stamp.get(LE),
        sections: names,
        file_size,
        offsets,
    }
}
