//! The "what code is inside" part of `optrom info`: iPXE build, features,
//! drivers, EFI boot role, PE facts — for ROM images and for boot files that are
//! not ROMs (`ipxe.efi`, `snponly.efi`, `undionly.kpxe`, `ipxe.lkrn`).

use std::path::Path;

use optrom::identify::{self, Fact, Identification};
use optrom::report::hex16;
use serde_json::json;

use crate::output::outln;

/// A boot file that is not an option ROM, identified; `None` when it is a ROM
/// (or unreadable: `info`'s ROM path reports that).
pub fn boot_file(path: &Path) -> Option<(u64, Identification)> {
    let bytes = optrom::fsio::read(path).ok()?;
    if bytes.starts_with(&[0x55, 0xAA]) {
        return None;
    }
    identify::identify_file(&bytes).map(|id| (bytes.len() as u64, id))
}

/// The JSON entry of a boot file.
pub fn boot_file_json(path: &Path, size: u64, id: &Identification) -> serde_json::Value {
    json!({ "path": path.display().to_string(), "kind": "boot-file", "file_size": size, "identification": [id] })
}

/// Print a boot file.
pub fn print_boot_file(path: &Path, size: u64, id: &Identification) {
    outln!("{}", path.display());
    outln!("  boot file, {size} bytes (not a PCI option ROM)");
    print(id);
}

/// Print the identification of every image of a ROM.
pub fn print_rom(ids: &[Identification]) {
    for id in ids {
        print(id);
    }
}

fn fact<T>(f: &Fact<T>, show: impl Fn(&T) -> String) -> String {
    match &f.value {
        Some(v) => format!("{}\n        evidence: {}", show(v), f.evidence),
        None => format!("unknown\n        evidence: {}", f.evidence),
    }
}

fn print(id: &Identification) {
    let title = match id.image {
        Some(i) => format!("image {i}"),
        None => "contents".into(),
    };
    outln!(
        "  {title}: {} code, {}",
        id.platform,
        match id.code {
            "ipxe" => "iPXE",
            "edk2" => "EDK2 module",
            _ => "not identified",
        }
    );
    outln!("      identified by: {}", id.code_evidence);
    if let Some(p) = &id.packed {
        outln!(
            "      packed payload: {} bytes at {:#x} unpack to {} bytes\n        evidence: {}",
            p.packed_size,
            p.stream_offset,
            p.unpacked_size,
            p.evidence
        );
    }
    if let Some(x) = &id.ipxe {
        outln!("      version: {}", fact(&x.version, |v| v.clone()));
        outln!("      build: {}", fact(&x.build_name, |v| v.clone()));
        outln!("      features: {}", fact(&x.features, |v| v.join(" ")));
        outln!(
            "      PCI drivers: {}",
            fact(&x.pci_drivers, |ids| {
                if ids.is_empty() {
                    return "none".into();
                }
                let mut names: Vec<&str> = ids.iter().map(|i| i.name.as_str()).collect();
                names.dedup();
                let shown: Vec<String> = ids
                    .iter()
                    .take(12)
                    .map(|i| format!("{}:{} {}", hex16(i.vendor), hex16(i.device), i.name))
                    .collect();
                let more = if ids.len() > 12 { format!(", … ({} more)", ids.len() - 12) } else { String::new() };
                format!("{} PCI IDs: {}{more}", ids.len(), shown.join(", "))
            })
        );
        if id.platform == "efi" {
            outln!("      UEFI network boot: {}", fact(&x.efi_boot, |r| r.describe().to_string()));
        }
    }
    if let Some(pe) = &id.pe {
        let h = &pe.header;
        outln!(
            "      PE: {} {} {}, {} bytes in the file, SizeOfImage {:#x}, sections {}",
            h.format,
            h.machine,
            h.subsystem,
            h.file_size,
            h.size_of_image,
            h.sections.join(" ")
        );
        match (&pe.module, &pe.pdb_path) {
            (Some(m), Some(p)) => outln!("      module: {m} (debug directory CodeView path {p:?})"),
            _ => outln!("      module: unknown (no CodeView entry in the debug directory)"),
        }
    }
}
