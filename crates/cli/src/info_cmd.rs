//! `optrom info`.

use std::path::PathBuf;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use optrom::inspect::{ImageInfo, RomInfo};
use optrom::serialize::hex16;
use optrom::size::human;
use optrom::{Finding, Severity};
use serde_json::json;

use crate::output::{load_with_bytes, outln, print_json};
use crate::{EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE};

pub fn run(files: &[PathBuf], json: bool) -> u8 {
    let mut status = EXIT_OK;
    let mut entries = Vec::new();
    for path in files {
        if let Some((size, id)) = crate::identify_cmd::boot_file(path) {
            match json {
                true => entries.push(crate::identify_cmd::boot_file_json(path, size, &id)),
                false => crate::identify_cmd::print_boot_file(path, size, &id),
            }
            continue;
        }
        let Some((info, bytes)) = load_with_bytes(path) else {
            status = EXIT_UNUSABLE;
            continue;
        };
        let errors: Vec<&Finding> = info.problems.iter().filter(|p| p.severity == Severity::Error).collect();
        for problem in &errors {
            eprintln!("optrom: {}: {problem}", path.display());
        }
        if !errors.is_empty() && status == EXIT_OK {
            status = EXIT_FINDINGS;
        }
        if json {
            let mut value = serde_json::to_value(&info).expect("reports serialize");
            value
                .as_object_mut()
                .expect("report is an object")
                .insert("path".into(), json!(path.display().to_string()));
            value["kind"] = json!("rom");
            value["identification"] = json!(optrom::identify::identify_rom(&bytes, &info));
            entries.push(value);
        } else {
            print_text(&path.display().to_string(), &info);
            crate::identify_cmd::print_rom(&optrom::identify::identify_rom(&bytes, &info));
        }
    }
    if json {
        print_json(&json!({ "schema": "optrom-info", "schema_version": 2, "files": entries }));
    }
    status
}

fn print_text(path: &str, info: &RomInfo) {
    outln!("{path}");
    outln!(
        "  file {} bytes, content {} bytes, trailing {} bytes ({}); ROM BAR {} with {} bytes headroom",
        info.file_size,
        info.content_size,
        info.trailing.bytes,
        info.trailing.fill,
        human(info.bar_size),
        info.headroom
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "#",
        "offset",
        "length",
        "type",
        "vendor:device",
        "class",
        "arch",
        "payload",
        "checksum",
        "last",
    ]);
    for image in &info.images {
        table.add_row([
            image.index.to_string(),
            format!("{:#x}", image.offset),
            image.length.to_string(),
            match image.pcir {
                Some(_) => image.code_type.to_string(),
                None => "isa".into(),
            },
            image.pcir.as_ref().map_or("-".into(), |p| format!("{}:{}", hex16(p.vendor), hex16(p.device))),
            image.pcir.as_ref().map_or("-".into(), |p| format!("{:06x}", p.class_code)),
            arch(image),
            payload(image),
            format!("{} ({})", if image.checksum.valid { "ok" } else { "BAD" }, image.checksum.convention),
            if image.last { "yes".into() } else { "no".into() },
        ]);
    }
    for line in table.to_string().lines() {
        outln!("  {line}");
    }
    for image in &info.images {
        print_image(image);
    }
}

fn arch(image: &ImageInfo) -> String {
    match &image.efi {
        Some(efi) => efi.machine.to_string(),
        None if image.code_type == optrom_format::CodeType::PcAt => "x86 BIOS".into(),
        None => "-".into(),
    }
}

fn payload(image: &ImageInfo) -> String {
    match &image.efi {
        Some(efi) => match (efi.compression, efi.stored_size, efi.pe_size) {
            (optrom_format::Compression::Efi, Some(stored), Some(pe)) => format!("efi-compressed {stored} -> {pe}"),
            (_, Some(stored), _) => format!("uncompressed {stored}"),
            _ => "unreadable".into(),
        },
        None => match &image.legacy {
            Some(l) => format!("init {}", l.init_size),
            None => "-".into(),
        },
    }
}

fn print_image(image: &ImageInfo) {
    let Some(p) = &image.pcir else {
        outln!("  image {} at {:#x}: {} bytes, ISA-style ROM", image.index, image.offset, image.length);
        outln!(
            "    no PCIR (pointer at 0x18 is 0): firmware runs it from fw_cfg or a fixed address, not a PCI ROM BAR"
        );
        print_body(image);
        return;
    };
    outln!("  image {} at {:#x}: {} bytes, code type {}", image.index, image.offset, image.length, image.code_type);
    let mut pcir = format!(
        "    PCIR at +{:#x}: revision {}, length {:#x}, {}:{}, class {:06x}, image length {} blocks, code revision {:#06x}, indicator {:#04x}",
        p.offset,
        p.revision,
        p.length,
        hex16(p.vendor),
        hex16(p.device),
        p.class_code,
        p.image_length,
        p.code_revision,
        p.indicator
    );
    if let Some(list) = &p.device_list {
        pcir += &format!(", device list [{}]", list.iter().map(|d| hex16(*d)).collect::<Vec<_>>().join(" "));
    }
    if let Some(rt) = p.max_runtime_length {
        pcir += &format!(", max run-time {} blocks", rt);
    }
    outln!("{pcir}");
    print_body(image);
}

/// The headers after the PCIR line: legacy or EFI details and the checksum.
fn print_body(image: &ImageInfo) {
    if let Some(l) = &image.legacy {
        outln!("    legacy: Size512 {} ({} bytes), entry {}", l.size512, l.init_size, l.entry);
        for pnp in &l.pnp {
            outln!(
                "    $PnP at +{:#x}: revision {}, product {:?}, manufacturer {:?}, device type {}, BCV {:#x} BDV {:#x} BEV {:#x}, checksum {}",
                pnp.offset,
                pnp.revision,
                pnp.product.as_deref().unwrap_or("-"),
                pnp.manufacturer.as_deref().unwrap_or("-"),
                pnp.device_type,
                pnp.bcv,
                pnp.bdv,
                pnp.bev,
                ok(pnp.checksum_valid)
            );
        }
        if let Some(u) = &l.undi {
            outln!(
                "    UNDI at +{:#x}: version {}, loader {:#x}, stack {} data {} code {}, checksum {}",
                u.offset,
                u.version,
                u.loader_entry,
                u.stack_size,
                u.data_size,
                u.code_size,
                ok(u.checksum_valid)
            );
        }
        if let Some(x) = &l.ipxe {
            outln!(
                "    iPXE at +{:#x}: build {}, shrunk ROM {} bytes, checksum {}",
                x.offset,
                x.build_id,
                x.shrunk_rom_size,
                ok(x.checksum_valid)
            );
        }
    }
    if let Some(e) = &image.efi {
        outln!(
            "    EFI: {} {}, compression {}, InitializationSize {} blocks, payload at +{:#x}{}",
            e.machine,
            e.subsystem,
            e.compression,
            e.init_size,
            e.image_offset,
            match (e.stored_size, e.pe_size) {
                (Some(s), Some(p)) if s != p => format!(", {s} bytes stored, {p} bytes decompressed"),
                (Some(s), _) => format!(", {s} bytes"),
                _ => String::new(),
            }
        );
        if let Some(pe) = &e.pe {
            outln!(
                "    PE: {} {} {}, SizeOfImage {:#x}, entry {:#x}, timestamp {:#x}, {} sections ({})",
                pe.format,
                pe.machine,
                pe.subsystem,
                pe.size_of_image,
                pe.entry_point,
                pe.timestamp,
                pe.sections.len(),
                pe.sections.join(" ")
            );
        }
        if let Some(err) = &e.payload_error {
            outln!("    payload: {err}");
        }
    }
    let c = &image.checksum;
    outln!(
        "    checksum: bytes 0..{:#x} sum to {:#04x} ({}), whole image {:#04x}, convention {}",
        c.span,
        c.sum,
        ok(c.valid),
        c.image_sum,
        c.convention
    );
}

fn ok(valid: bool) -> &'static str {
    if valid { "ok" } else { "BAD" }
}
