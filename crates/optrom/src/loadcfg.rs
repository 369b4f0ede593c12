//! The QEMU arguments and libvirt XML that load exactly the files of a ROM set
//! with a ROM BAR pinned to the set's bucket, so that a later set which grows
//! inside the bucket still live-migrates (shared/reference/option-roms.md §4.3:
//! the ROM RAM block is `romsize`, or the file size rounded up to a power of two).
//!
//! A set is a directory in one of the two layouts `optrom pack` writes: combined
//! (`DIR/efi-e1000.rom`) or per-arch (`DIR/x86_64/efi-e1000.rom`). For a target
//! the per-arch directory wins when it exists.
//!
//! A NIC gets `romfile=PATH` unless its file's legacy image carries other PCI IDs
//! than the NIC (Debian's ne2k_pci ROM says 0000:0000, its virtio ROM 1af4:1041,
//! the one e1000 ROM serves three e1000 models): QEMU re-IDs only a ROM it loads
//! under the model's default name (`pci_patch_ids`, option-roms.md §4.5), and
//! SeaBIOS runs a legacy image only on an exact ID match, so such a NIC keeps the
//! default name and QEMU finds the set's file through `-L DIR`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::nic::{self, NicModel};
use crate::pack::Target;
use crate::size::{bar_size, human};

/// Which layout a set directory was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetLayout {
    /// `DIR/<romfile>`.
    Combined,
    /// `DIR/<target>/<romfile>`.
    PerArch,
}

/// One NIC's settings.
#[derive(Debug, Clone, Serialize)]
pub struct NicLoad {
    /// The `-device` model.
    pub model: String,
    /// The ROM file, absolute.
    pub romfile: PathBuf,
    /// Its size.
    pub file_size: u64,
    /// The ROM BAR QEMU would make without `romsize=`.
    pub natural_bar: u64,
    /// The `-device` argument (without `netdev=`, which is the caller's).
    pub device: String,
    /// libvirt's `<model type=…>` name.
    pub libvirt_model: String,
    /// The RAM block name QEMU migrates (without the PCI address).
    pub ramblock: String,
    /// Whether the device names the file with `romfile=`. It does not when the
    /// file's legacy image carries other PCI IDs than the model: QEMU rewrites
    /// the IDs only of a ROM it loads as the model's *default* romfile, and
    /// SeaBIOS runs a legacy image only when its IDs match exactly. Such a NIC
    /// keeps the default name and finds the set's file through `-L DIR`.
    pub explicit_romfile: bool,
    /// Why `explicit_romfile` is false.
    pub id_note: Option<String>,
}

/// Settings for a whole set.
#[derive(Debug, Clone, Serialize)]
pub struct LoadPlan {
    /// The target.
    pub target: Target,
    /// The directory the files come from.
    pub dir: PathBuf,
    /// Which layout.
    pub layout: SetLayout,
    /// The pinned ROM BAR (`romsize=`): the largest natural BAR in the set, or the
    /// value asked for.
    pub romsize: u64,
    /// Why that size.
    pub romsize_reason: String,
    /// Per NIC.
    pub nics: Vec<NicLoad>,
    /// `-L` and firmware hints for the target.
    pub firmware_hints: Vec<String>,
    /// The `-L` directory, when a NIC relies on QEMU's default-romfile lookup.
    pub dash_l: Option<PathBuf>,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Unknown NIC model.
    #[error("unknown NIC model {0:?}; known: {1}")]
    UnknownNic(String, String),
    /// The model loads no ROM.
    #[error("{0} has no option ROM in QEMU (no default romfile); nothing to load")]
    NoRom(String),
    /// The set lacks the file.
    #[error("{dir}: no {file} for {model} (looked in {looked})")]
    Missing {
        /// Directory.
        dir: String,
        /// File.
        file: String,
        /// Model.
        model: String,
        /// Where.
        looked: String,
    },
    /// `romsize` is unusable.
    #[error("romsize {0}: {1}")]
    BadRomsize(u64, String),
    /// The directory has no ROMs.
    #[error("{0}: no *.rom files in the combined or the per-arch layout")]
    EmptySet(String),
}

/// libvirt's `<model type=…>` value for a QEMU `-device` model: libvirt passes
/// the type through as the device name, except `virtio`, which it maps to
/// `virtio-net-pci`.
pub fn libvirt_model(model: &str) -> &str {
    match model {
        "virtio-net-pci" => "virtio",
        other => other,
    }
}

/// Make the plan.
pub fn plan(dir: &Path, target: Target, models: &[String], romsize: Option<u64>) -> Result<LoadPlan, PlanError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let per_arch = dir.join(target.name());
    let (layout, files_dir) =
        if per_arch.is_dir() { (SetLayout::PerArch, per_arch) } else { (SetLayout::Combined, dir.clone()) };
    let set = crate::migrate::set_files(&dir);
    if set.is_empty() {
        return Err(PlanError::EmptySet(dir.display().to_string()));
    }
    // The bucket covers every file of the set, all targets, so one romsize fits all.
    let largest =
        set.iter().filter_map(|rel| std::fs::metadata(dir.join(rel)).ok()).map(|m| m.len()).max().unwrap_or(0);
    let models: Vec<&'static NicModel> = if models.is_empty() {
        nic::NIC_MODELS.iter().filter(|m| m.romfile.is_some_and(|f| files_dir.join(f).is_file())).collect()
    } else {
        models
            .iter()
            .map(|name| nic::find(name).ok_or_else(|| PlanError::UnknownNic(name.clone(), nic::names().join(", "))))
            .collect::<Result<_, _>>()?
    };
    let (romsize, romsize_reason) = match romsize {
        Some(size) => {
            if !size.is_power_of_two() {
                return Err(PlanError::BadRomsize(
                    size,
                    "QEMU needs a power of two (\"ROM size N is not a power of two\")".into(),
                ));
            }
            if size < largest {
                return Err(PlanError::BadRomsize(
                    size,
                    format!("the set's largest ROM is {largest} bytes; QEMU refuses a romfile larger than romsize"),
                ));
            }
            (size, format!("asked for; the set's largest ROM is {largest} bytes"))
        }
        None => {
            let bucket = bar_size(largest);
            (bucket, format!("the set's bucket: its largest ROM ({largest} bytes) needs a {} BAR", human(bucket)))
        }
    };
    let mut nics = Vec::new();
    for model in models {
        let Some(file) = model.romfile else { return Err(PlanError::NoRom(model.model.to_string())) };
        let path = files_dir.join(file);
        let Ok(meta) = std::fs::metadata(&path) else {
            return Err(PlanError::Missing {
                dir: dir.display().to_string(),
                file: file.to_string(),
                model: model.model.to_string(),
                looked: files_dir.display().to_string(),
            });
        };
        // Only SeaBIOS (x86_64) compares the legacy image's IDs.
        let id_note = if target.runs_legacy() { legacy_id_mismatch(&path, model) } else { None };
        let explicit = id_note.is_none();
        nics.push(NicLoad {
            model: model.model.to_string(),
            device: if explicit {
                format!("{},romfile={},romsize={romsize}", model.model, path.display())
            } else {
                format!("{},romsize={romsize}", model.model)
            },
            romfile: path,
            file_size: meta.len(),
            natural_bar: bar_size(meta.len()),
            libvirt_model: libvirt_model(model.model).to_string(),
            ramblock: format!("{}.rom", model.ramblock_name),
            explicit_romfile: explicit,
            id_note,
        });
    }
    let dash_l = nics.iter().any(|n| !n.explicit_romfile).then(|| files_dir.clone());
    Ok(LoadPlan { target, dir, layout, romsize, romsize_reason, nics, firmware_hints: firmware_hints(target), dash_l })
}

/// When the file's first legacy image is not built for `model`'s IDs, why a
/// `romfile=` would make SeaBIOS skip it.
fn legacy_id_mismatch(path: &Path, model: &NicModel) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let info = crate::inspect(&bytes).ok()?;
    let first = info.images.first()?;
    if first.code_type != optrom_format::CodeType::PcAt {
        return None;
    }
    let pcir = first.pcir.as_ref()?;
    (pcir.vendor != model.vendor || pcir.device != model.device).then(|| {
        format!(
            "its legacy image is {:04x}:{:04x}, the {} is {:04x}:{:04x}: QEMU rewrites the IDs only of its default romfile, so with romfile= SeaBIOS would skip it; it keeps the default name and QEMU finds the set's file through -L (a file of that name in QEMU's working directory would still win)",
            pcir.vendor, pcir.device, model.model, model.vendor, model.device
        )
    })
}

fn firmware_hints(target: Target) -> Vec<String> {
    match target {
        Target::X86_64 => vec![
            "BIOS guests: SeaBIOS is QEMU's default (-bios bios-256k.bin, found through -L / the firmware path); it runs the legacy x86 image".into(),
            "UEFI guests: -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd -drive if=pflash,format=raw,unit=1,file=<copy of OVMF_VARS_4M.fd>; OVMF runs the X64 EFI image".into(),
            "the romfile= paths are absolute, so no -L is needed for them; QEMU tries a relative name in its working directory first, then each -L directory".into(),
        ],
        Target::Aarch64 => vec![
            "-machine virt with -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd -drive if=pflash,format=raw,unit=1,file=<copy of AAVMF_VARS.fd>; AAVMF runs only AA64 EFI images".into(),
        ],
        Target::Riscv64 => vec!["-machine virt with an EDK2 RISC-V firmware (pflash); it runs only RISCV64 EFI images".into()],
        Target::Loongarch64 => {
            vec!["-machine virt with an EDK2 LoongArch firmware (-bios); it runs only LOONGARCH64 EFI images".into()]
        }
    }
}

/// What switching ROM loading off costs, per model.
pub fn rom_off_consequence(model: &str) -> String {
    let uefi = if model.starts_with("virtio-net") {
        "under OVMF/AAVMF network boot still works: the firmware has its own virtio-net driver (VirtioNetDxe)"
    } else {
        "under OVMF the NIC gets no UEFI network boot entry at all: OVMF has no driver of its own for this NIC"
    };
    format!("SeaBIOS guests lose PXE boot from this NIC (no BIOS option ROM runs); {uefi}")
}

/// The QEMU command-line arguments, one `-device` per NIC (each on its own
/// user-mode netdev so the line runs as is).
pub fn qemu_args(plan: &LoadPlan) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(dir) = &plan.dash_l {
        args.push("-L".into());
        args.push(dir.display().to_string());
    }
    for (i, nic) in plan.nics.iter().enumerate() {
        args.push("-netdev".into());
        args.push(format!("user,id=net{i}"));
        args.push("-device".into());
        args.push(format!("{},netdev=net{i}", nic.device));
    }
    args
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;").replace('"', "&quot;")
}

/// libvirt domain XML: one `<interface>` per NIC with `<rom file=…/>`. libvirt's
/// `<rom>` element has `bar`, `file` and `enabled` but no size attribute, so the
/// ROM BAR size is set through libvirt's documented QEMU passthrough:
/// `<qemu:override>` of the device's `romsize` property, addressed by a user
/// alias (`ua-` prefix) on the interface.
pub fn libvirt_xml(plan: &LoadPlan, name: &str) -> String {
    let arch = match plan.target {
        Target::X86_64 => "x86_64",
        Target::Aarch64 => "aarch64",
        Target::Riscv64 => "riscv64",
        Target::Loongarch64 => "loongarch64",
    };
    let machine = if plan.target == Target::X86_64 { "pc" } else { "virt" };
    let mut x = String::new();
    x += "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n";
    x += &format!("  <name>{}</name>\n", xml_escape(name));
    x += "  <memory unit='MiB'>256</memory>\n";
    x += &format!("  <os>\n    <type arch='{arch}' machine='{machine}'>hvm</type>\n  </os>\n");
    x += "  <devices>\n";
    for (i, nic) in plan.nics.iter().enumerate() {
        x += &format!(
            "    <!-- {}: {} ({} bytes; QEMU alone would make a {} BAR, pinned to {}) -->\n",
            nic.model,
            nic.romfile.display(),
            nic.file_size,
            human(nic.natural_bar),
            human(plan.romsize)
        );
        if let Some(note) = &nic.id_note {
            x += &format!("    <!-- no <rom file>: {} -->\n", note.replace("--", "-"));
        }
        x += "    <interface type='user'>\n";
        x += &format!("      <model type='{}'/>\n", xml_escape(&nic.libvirt_model));
        if nic.explicit_romfile {
            x += &format!("      <rom file='{}'/>\n", xml_escape(&nic.romfile.display().to_string()));
        }
        x += &format!("      <alias name='ua-optrom-net{i}'/>\n");
        x += "    </interface>\n";
    }
    x += "  </devices>\n";
    x += "  <!-- libvirt's <rom> has no size attribute: pin the ROM BAR with QEMU passthrough -->\n";
    x += "  <qemu:override>\n";
    for (i, _) in plan.nics.iter().enumerate() {
        x += &format!("    <qemu:device alias='ua-optrom-net{i}'>\n      <qemu:frontend>\n");
        x += &format!("        <qemu:property name='romsize' type='unsigned' value='{}'/>\n", plan.romsize);
        x += "      </qemu:frontend>\n    </qemu:device>\n";
    }
    x += "  </qemu:override>\n";
    if let Some(dir) = &plan.dash_l {
        x += "  <qemu:commandline>\n    <qemu:arg value='-L'/>\n";
        x += &format!("    <qemu:arg value='{}'/>\n  </qemu:commandline>\n", xml_escape(&dir.display().to_string()));
    }
    x += "</domain>\n";
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_and_errors() {
        let dir = std::env::temp_dir().join(format!("optrom-loadcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("efi-e1000.rom"), vec![0u8; 200_000]).unwrap();
        std::fs::write(dir.join("efi-virtio.rom"), vec![0u8; 300_000]).unwrap();
        let p = plan(&dir, Target::X86_64, &["e1000".into()], None).unwrap();
        assert_eq!(p.romsize, 512 << 10, "the set's largest file decides");
        assert_eq!(p.layout, SetLayout::Combined);
        assert!(p.nics[0].device.ends_with("romsize=524288"), "{}", p.nics[0].device);
        assert!(matches!(
            plan(&dir, Target::X86_64, &["e1000".into()], Some(256 << 10)),
            Err(PlanError::BadRomsize(..))
        ));
        assert!(matches!(plan(&dir, Target::X86_64, &["e1000".into()], Some(300_000)), Err(PlanError::BadRomsize(..))));
        assert!(matches!(plan(&dir, Target::X86_64, &["rtl8139".into()], None), Err(PlanError::Missing { .. })));
        assert!(matches!(plan(&dir, Target::X86_64, &["igb".into()], None), Err(PlanError::NoRom(_))));
        let all = plan(&dir, Target::X86_64, &[], None).unwrap();
        assert!(all.nics.iter().any(|n| n.model == "virtio-net-pci" && n.libvirt_model == "virtio"));
        let xml = libvirt_xml(&all, "t");
        assert!(xml.contains("<qemu:property name='romsize' type='unsigned' value='524288'/>"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
