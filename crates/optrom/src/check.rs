//! Lint a ROM against what SeaBIOS, EDK2's PciBusDxe and QEMU will do with it.

use serde::Serialize;

use optrom_format::{CodeType, Compression, Subsystem, chain, efi, legacy, pcir};

use crate::finding::{Finding, Severity};
use crate::inspect::{ImageInfo, PayloadError, RomInfo};
use crate::nic::NicModel;
use crate::serialize::hex16;
use crate::size::{bar_size, human};

/// What to check a ROM against, beyond the always-on rules.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions<'a> {
    /// The NIC model the ROM is meant for.
    pub nic: Option<&'a NicModel>,
    /// The size budget: the file must fit, and should fill, a BAR of this size.
    pub bucket: Option<u64>,
    /// The file's name, to tell whether QEMU would treat it as the model's default
    /// romfile (whose first image QEMU re-IDs at load time).
    pub file_name: Option<&'a str>,
    /// The ROM's bytes, for rules that need the payload: an uncompressed EFI
    /// image is compressed to tell how much room compression would free.
    pub rom: Option<&'a [u8]>,
}

/// The outcome of checking one ROM.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
    /// Number of error findings.
    pub errors: usize,
    /// Number of warning findings.
    pub warnings: usize,
}

impl CheckReport {
    /// Whether firmware will accept the ROM as checked.
    pub fn passed(&self) -> bool {
        self.errors == 0
    }
}

/// Check a parsed ROM.
pub fn check(info: &RomInfo, opts: &CheckOptions<'_>) -> CheckReport {
    let mut findings = info.problems.clone();
    chain_rules(info, &mut findings);
    for image in &info.images {
        if image.pcir.is_none() {
            isa_rules(image, &mut findings);
        }
        match image.code_type {
            CodeType::PcAt => seabios_rules(image, &mut findings),
            CodeType::Efi => edk2_rules(image, &mut findings),
            other => findings.push(Finding::new(
                Severity::Note,
                "code-type",
                Some(image.index),
                image.pcir.as_ref().map(|p| image.offset + p.offset + pcir::field::CODE_TYPE as u64),
                "PCIR.CodeType",
                format!("code type {other} is run by neither SeaBIOS nor UEFI firmware"),
            )),
        }
    }
    if let Some(nic) = opts.nic {
        nic_rules(info, nic, opts.file_name, &mut findings);
    }
    if let Some(bucket) = opts.bucket {
        bucket_rules(info, bucket, &mut findings);
    }
    if let Some(rom) = opts.rom {
        compression_rules(info, rom, &mut findings);
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.image.cmp(&b.image)).then(a.offset.cmp(&b.offset)));
    findings.dedup();
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.iter().filter(|f| f.severity == Severity::Warning).count();
    CheckReport { findings, errors, warnings }
}

fn chain_rules(info: &RomInfo, out: &mut Vec<Finding>) {
    if info.trailing.fill == "mixed" {
        out.push(Finding::new(
            Severity::Warning,
            "trailing",
            None,
            Some(info.content_size),
            "padding",
            format!(
                "{} bytes after the last image are not uniform padding; no firmware will see them",
                info.trailing.bytes
            ),
        ));
    }
    if info.images.iter().filter(|i| i.code_type == CodeType::PcAt).count() > 1 {
        out.push(Finding::new(
            Severity::Warning,
            "seabios-multiple",
            None,
            None,
            "PCIR.CodeType",
            "more than one legacy image: SeaBIOS runs only the first one that matches the device",
        ));
    }
}

/// PCI class code (base class, subclass) of a VGA-compatible display controller.
const PCI_CLASS_DISPLAY_VGA: u32 = 0x0300;

/// An ISA-style ROM (no PCIR) runs only when firmware loads it from fw_cfg
/// or a fixed address.
fn isa_rules(image: &ImageInfo, out: &mut Vec<Finding>) {
    out.push(Finding::new(
        Severity::Warning,
        "no-pcir",
        Some(image.index),
        Some(image.offset + chain::PCIR_POINTER as u64),
        "PCIR pointer",
        "no PCI Data Structure (pointer 0): an ISA-style ROM. SeaBIOS runs it from fw_cfg (vgaroms/, genroms/, -option-rom) but skips it in a PCI ROM BAR (romfile=), and UEFI firmware never runs it",
    ));
}

fn seabios_rules(image: &ImageInfo, out: &mut Vec<Finding>) {
    let Some(legacy) = &image.legacy else { return };
    let at = |field: usize| Some(image.offset + field as u64);
    if legacy.size512 == 0 {
        out.push(Finding::new(
            Severity::Error,
            "seabios-size",
            Some(image.index),
            at(2),
            "Size512",
            "initialization size is 0: SeaBIOS skips the image",
        ));
    }
    if !image.checksum.valid {
        out.push(Finding::new(
            Severity::Error,
            "seabios-checksum",
            Some(image.index),
            // iPXE's checksum byte, or else the Size512 field that sets the span.
            at(match image.checksum.convention {
                crate::checksum::Convention::IpxeByte6 => legacy::field::CHECKSUM,
                _ => legacy::field::SIZE512,
            }),
            "checksum",
            format!(
                "bytes 0..{:#x} (Size512 × 512) sum to {:#04x}, not 0: SeaBIOS rejects the ROM (\"bad checksum\")",
                image.checksum.span, image.checksum.sum
            ),
        ));
    }
    if !legacy.entry_is_jump {
        out.push(Finding::new(
            Severity::Warning,
            "seabios-entry",
            Some(image.index),
            at(3),
            "InitEntryPoint",
            format!("entry bytes {} are not a jmp/call", legacy.entry),
        ));
    }
    // SeaBIOS calls the init entry of VGA ROMs unconditionally and of other
    // ROMs only when they carry a $PnP header (optionroms.c init_optionrom);
    // an ISA-style ROM's role depends on how it is loaded (vgaroms/ or genroms/).
    let vga = image.pcir.as_ref().is_some_and(|p| p.class_code >> 8 == PCI_CLASS_DISPLAY_VGA);
    if legacy.pnp.is_empty() && image.pcir.is_some() && !vga {
        out.push(Finding::new(
            Severity::Warning,
            "seabios-pnp",
            Some(image.index),
            at(legacy::field::PNP),
            "PnP pointer",
            "no $PnP header: SeaBIOS does not run the init entry at POST but registers it as a legacy BCV, so the ROM gets no boot-menu (BEV) entry",
        ));
    }
    // Structures with their own checksums: (rule, field, what, file offset of the byte, valid).
    let structures = legacy
        .pnp
        .iter()
        .map(|p| ("pnp-checksum", "$PnP.Checksum", "the $PnP header", p.offset + 9, p.checksum_valid))
        .chain(
            legacy
                .undi
                .iter()
                .map(|u| ("undi-checksum", "UNDI.Checksum", "the UNDI ROM ID", u.offset + 5, u.checksum_valid)),
        )
        .chain(
            legacy
                .ipxe
                .iter()
                .map(|x| ("ipxe-checksum", "iPXE.Checksum", "the iPXE header", x.offset + 5, x.checksum_valid)),
        );
    for (rule, field, what, offset, valid) in structures {
        if !valid {
            out.push(Finding::new(
                Severity::Warning,
                rule,
                Some(image.index),
                Some(image.offset + offset),
                field,
                format!("{what} does not sum to 0"),
            ));
        }
    }
}

fn edk2_rules(image: &ImageInfo, out: &mut Vec<Finding>) {
    let Some(efi) = &image.efi else { return };
    let at = |field: usize| Some(image.offset + field as u64);
    let mut err = |rule, field: usize, name: &str, message: String| {
        out.push(Finding::new(Severity::Error, rule, Some(image.index), at(field), name, message))
    };
    match efi.subsystem {
        Subsystem::BootServiceDriver | Subsystem::RuntimeDriver => {}
        Subsystem::Application => err(
            "edk2-subsystem",
            efi::field::SUBSYSTEM,
            "EfiSubsystem",
            "subsystem 10 (EFI application): PciBusDxe skips applications in option ROMs".into(),
        ),
        other => err(
            "edk2-subsystem",
            efi::field::SUBSYSTEM,
            "EfiSubsystem",
            format!(
                "subsystem {other} is not 11 (boot-service driver) or 12 (runtime driver): PciBusDxe skips the image"
            ),
        ),
    }
    if let Compression::Other(v) = efi.compression {
        err(
            "edk2-compression",
            efi::field::COMPRESSION,
            "CompressionType",
            format!("compression type {v} is above 1: PciBusDxe skips the image"),
        );
    }
    if u64::from(efi.init_size) * 512 > image.length {
        err(
            "edk2-init-size",
            efi::field::INIT_SIZE,
            "InitializationSize",
            format!(
                "InitializationSize {} blocks exceeds ImageLength {} blocks: PciBusDxe skips the image",
                efi.init_size,
                image.length / 512
            ),
        );
    }
    if efi.init_size == 0 {
        err("edk2-init-size", efi::field::INIT_SIZE, "InitializationSize", "InitializationSize is 0".into());
    }
    // An offset outside the span has its own `efi-offset` finding.
    if let Some(PayloadError::Header(reason) | PayloadError::Payload(reason)) = &efi.payload_error {
        err("edk2-payload", usize::from(efi.image_offset), "EFI payload", reason.clone());
    }
    if let Some(pe) = &efi.pe {
        if pe.machine != efi.machine {
            err(
                "edk2-machine",
                efi::field::MACHINE,
                "EfiMachineType",
                format!("header says {} but the PE image is {}", efi.machine, pe.machine),
            );
        }
        if pe.subsystem != efi.subsystem {
            out.push(Finding::new(
                Severity::Warning,
                "edk2-subsystem",
                Some(image.index),
                at(efi::field::SUBSYSTEM),
                "EfiSubsystem",
                format!("header says {} but the PE image is {}", efi.subsystem, pe.subsystem),
            ));
        }
    }
    if efi.machine.name().is_none() {
        out.push(Finding::new(
            Severity::Warning,
            "edk2-machine",
            Some(image.index),
            at(efi::field::MACHINE),
            "EfiMachineType",
            format!("unknown machine type {}: no firmware will load it", efi.machine),
        ));
    }
}

fn nic_rules(info: &RomInfo, nic: &NicModel, file_name: Option<&str>, out: &mut Vec<Finding>) {
    let id = format!("{}:{}", hex16(nic.vendor), hex16(nic.device));
    if nic.romfile.is_none() {
        out.push(Finding::new(
            Severity::Note,
            "nic-romfile",
            None,
            None,
            "romfile",
            format!("QEMU loads no ROM for {} by default; pass romfile= to use this one", nic.model),
        ));
    }
    let is_default = file_name.is_some() && file_name == nic.romfile;
    let legacy = info.images.iter().find(|i| i.code_type == CodeType::PcAt);
    match legacy {
        None => out.push(Finding::new(
            Severity::Warning,
            "nic-legacy",
            None,
            None,
            "PCIR.CodeType",
            format!("no legacy image: a SeaBIOS guest with {} gets no network boot from this ROM", nic.model),
        )),
        Some(ImageInfo { pcir: None, index, .. }) => out.push(Finding::new(
            Severity::Error,
            "nic-ids",
            Some(*index),
            Some(chain::PCIR_POINTER as u64),
            "PCIR pointer",
            format!(
                "the ROM has no PCIR, so it carries no PCI IDs: as the {}'s romfile SeaBIOS skips it (\"No valid pci signature found\")",
                nic.model
            ),
        )),
        Some(image @ ImageInfo { pcir: Some(pcir), .. }) if pcir.vendor != nic.vendor || pcir.device != nic.device => {
            let found = format!("{}:{}", hex16(pcir.vendor), hex16(pcir.device));
            let listed =
                pcir.vendor == nic.vendor && pcir.device_list.as_ref().is_some_and(|l| l.contains(&nic.device));
            let offset = Some(image.offset + pcir.offset + 4);
            let (severity, why) = if is_default && image.index == 0 {
                (
                    Severity::Warning,
                    format!(
                        "legacy image is {found}, the {} is {id}: works only because QEMU rewrites the first image's IDs when it loads its default romfile; as a custom romfile= SeaBIOS skips it",
                        nic.model
                    ),
                )
            } else if listed {
                (
                    Severity::Error,
                    format!(
                        "legacy image is {found}; {id} is only in the PCI 3.0 device list, which SeaBIOS ignores: SeaBIOS skips the ROM (\"Didn't match dev/ven\")"
                    ),
                )
            } else {
                (
                    Severity::Error,
                    format!(
                        "legacy image is {found}, the {} is {id}: SeaBIOS skips the ROM (\"Didn't match dev/ven\")",
                        nic.model
                    ),
                )
            };
            out.push(Finding::new(severity, "nic-ids", Some(image.index), offset, "PCIR.VendorId/DeviceId", why));
        }
        Some(_) => {}
    }
    for image in info.images.iter().filter(|i| i.code_type == CodeType::Efi) {
        let Some(pcir) = &image.pcir else { continue };
        let listed = pcir.device_list.as_ref().is_some_and(|l| l.contains(&nic.device));
        if (pcir.vendor != nic.vendor || pcir.device != nic.device) && !listed {
            out.push(Finding::new(
                Severity::Note,
                "nic-ids",
                Some(image.index),
                Some(image.offset + pcir.offset + 4),
                "PCIR.VendorId/DeviceId",
                format!(
                    "EFI image is {}:{}, the {} is {id}; EDK2 does not compare IDs, other UEFI firmware may",
                    hex16(pcir.vendor),
                    hex16(pcir.device),
                    nic.model
                ),
            ));
        }
    }
}

fn bucket_rules(info: &RomInfo, bucket: u64, out: &mut Vec<Finding>) {
    if info.file_size > bucket {
        out.push(Finding::new(
            Severity::Error,
            "bucket",
            None,
            Some(bucket),
            "file size",
            format!(
                "file is {} bytes, {} over the {} bucket: QEMU makes a {} ROM BAR, and live migration from a {} guest fails",
                info.file_size,
                info.file_size - bucket,
                human(bucket),
                human(bar_size(info.file_size)),
                human(bucket)
            ),
        ));
    } else if bar_size(info.file_size) < bucket {
        out.push(Finding::new(
            Severity::Warning,
            "bucket",
            None,
            None,
            "file size",
            format!(
                "file is {} bytes, so QEMU makes a {} ROM BAR, not {}: pad the file to {} or pin romsize={bucket} to keep migration compatible",
                info.file_size,
                human(bar_size(info.file_size)),
                human(bucket),
                human(bucket)
            ),
        ));
    }
}

/// Uncompressed EFI payloads: what EFI compression would save. Distribution
/// ROMs that store the driver uncompressed are the ones that outgrow their
/// migration bucket first.
fn compression_rules(info: &RomInfo, rom: &[u8], out: &mut Vec<Finding>) {
    for image in &info.images {
        let Some(efi) = &image.efi else { continue };
        let (Compression::None, Some(stored), Some(_)) = (efi.compression, efi.stored_size, &efi.pe) else {
            continue;
        };
        let start = image.offset + u64::from(efi.image_offset);
        let Some(payload) =
            usize::try_from(start).ok().zip(usize::try_from(start + stored).ok()).and_then(|(a, b)| rom.get(a..b))
        else {
            continue;
        };
        let compressed = optrom_codec::compress(optrom_codec::Format::Efi, payload, optrom_codec::Level::Fast).len();
        let length = (u64::from(efi.image_offset) + compressed as u64).div_ceil(512) * 512;
        if length >= image.length {
            continue;
        }
        out.push(Finding::new(
            Severity::Note,
            "efi-uncompressed",
            Some(image.index),
            Some(image.offset + efi::field::COMPRESSION as u64),
            "CompressionType",
            format!(
                "the {} B EFI driver is stored uncompressed; EFI-compressed (level fast) it takes {compressed} B, \
                 so the image would shrink from {} to {length} B (-{} B): `optrom efirom`, or an `efi.<arch>` \
                 driver in a pack manifest, builds it compressed",
                stored,
                image.length,
                image.length - length
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::legacy_image;

    fn run(rom: &[u8], nic: Option<&str>) -> CheckReport {
        let info = crate::inspect(rom).unwrap();
        let nic = nic.map(|n| crate::nic::find(n).unwrap());
        check(&info, &CheckOptions { nic, bucket: Some(256 << 10), file_name: Some("x.rom"), rom: Some(rom) })
    }

    #[test]
    fn a_flipped_byte_breaks_the_seabios_checksum() {
        let good = legacy_image(2, true, 0x8086, 0x100e);
        assert!(run(&good, Some("e1000")).passed(), "{:?}", run(&good, Some("e1000")).findings);
        let mut bad = good.clone();
        bad[0x100] ^= 1;
        let report = run(&bad, Some("e1000"));
        assert!(!report.passed());
        let f = report.findings.iter().find(|f| f.rule == "seabios-checksum").expect("seabios-checksum");
        // No byte is known to keep a non-iPXE image's sum: the finding points
        // at Size512, the field that sets the summed span.
        assert_eq!((f.offset, f.field.as_str()), (Some(2), "checksum"));
    }

    #[test]
    fn wrong_ids_for_the_nic_are_an_error() {
        let rom = legacy_image(2, true, 0x10ec, 0x8139);
        let report = run(&rom, Some("e1000"));
        assert!(report.findings.iter().any(|f| f.rule == "nic-ids" && f.severity == Severity::Error));
        assert!(run(&rom, Some("rtl8139")).passed());
    }

    #[test]
    fn a_non_jump_entry_is_an_error() {
        let mut rom = legacy_image(2, true, 0x8086, 0x100e);
        rom[3] = 0x90; // nop, not jmp/call
        let end = rom.len() - 1;
        rom[end] = rom[end].wrapping_sub(0x90u8.wrapping_sub(0xE9)); // keep the sum at zero
        let report = run(&rom, None);
        assert!(report.findings.iter().any(|f| f.rule == "seabios-entry"), "{:?}", report.findings);
    }
}
