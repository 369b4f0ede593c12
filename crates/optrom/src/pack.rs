//! Build a whole QEMU NIC ROM set from one TOML manifest (documented in
//! `docs/manifest.md`): per NIC, a legacy image and EFI drivers per architecture,
//! laid out as one combined ROM per NIC ("Opt1"), one directory per QEMU target
//! holding only what that target runs ("Opt2"), or both — each ROM inside a size
//! budget, reproducibly.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use optrom_codec::Level;
use optrom_format::{CodeType, EfiHeader, Machine};

use crate::build::{self, EfiRomOptions};
use crate::check::{CheckOptions, check};
use crate::edit::{self, PadTarget};
use crate::finding::{Finding, Severity};
use crate::nic;
use crate::size::{bar_size, human, parse_size};

/// An EFI architecture a manifest can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// x86-64.
    X64,
    /// 32-bit x86.
    Ia32,
    /// 64-bit ARM.
    Aa64,
    /// 64-bit RISC-V.
    Riscv64,
    /// 64-bit LoongArch.
    Loongarch64,
}

impl Arch {
    /// The PE machine of this architecture.
    pub fn machine(self) -> Machine {
        match self {
            Arch::X64 => Machine::X64,
            Arch::Ia32 => Machine::Ia32,
            Arch::Aa64 => Machine::Aa64,
            Arch::Riscv64 => Machine::RiscV64,
            Arch::Loongarch64 => Machine::LoongArch64,
        }
    }

    /// The QEMU target (`qemu-system-<target>`) that runs this architecture's firmware.
    pub fn target(self) -> Target {
        match self {
            Arch::X64 | Arch::Ia32 => Target::X86_64,
            Arch::Aa64 => Target::Aarch64,
            Arch::Riscv64 => Target::Riscv64,
            Arch::Loongarch64 => Target::Loongarch64,
        }
    }

    /// The manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X64 => "x64",
            Arch::Ia32 => "ia32",
            Arch::Aa64 => "aa64",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }
}

/// A QEMU system emulator target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `qemu-system-x86_64`: legacy BIOS (SeaBIOS) and x64/ia32 UEFI (OVMF).
    #[serde(rename = "x86_64")]
    X86_64,
    /// `qemu-system-aarch64`: AAVMF.
    Aarch64,
    /// `qemu-system-riscv64`.
    Riscv64,
    /// `qemu-system-loongarch64`.
    Loongarch64,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [Target::X86_64, Target::Aarch64, Target::Riscv64, Target::Loongarch64];

    /// The directory / command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64",
            Target::Aarch64 => "aarch64",
            Target::Riscv64 => "riscv64",
            Target::Loongarch64 => "loongarch64",
        }
    }

    /// Whether firmware on this target runs legacy x86 images.
    pub fn runs_legacy(self) -> bool {
        self == Target::X86_64
    }

    /// The EFI machines this target's firmware loads.
    pub fn machines(self) -> &'static [Machine] {
        match self {
            Target::X86_64 => &[Machine::X64, Machine::Ia32],
            Target::Aarch64 => &[Machine::Aa64],
            Target::Riscv64 => &[Machine::RiscV64],
            Target::Loongarch64 => &[Machine::LoongArch64],
        }
    }

    /// Parse a target name.
    pub fn parse(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Which layout a manifest asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One ROM per NIC with every architecture in it, in the output directory.
    #[default]
    Combined,
    /// One directory per QEMU target, each ROM holding what that target runs.
    PerArch,
    /// Both.
    Both,
}

/// What to pad each ROM to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PadPolicy {
    /// No padding.
    #[default]
    None,
    /// Exactly the bucket size, so the ROM BAR never changes while the content fits.
    Bucket,
    /// The next power of two (the BAR QEMU makes anyway).
    Pow2,
}

/// `[set]`: options for the whole set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetOptions {
    /// Name of the set, for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Layout.
    #[serde(default)]
    pub layout: Layout,
    /// Size budget per ROM (`256K`); `none` for no budget.
    #[serde(default = "default_bucket")]
    pub bucket: String,
    /// Padding policy.
    #[serde(default)]
    pub pad: PadPolicy,
    /// Padding byte.
    #[serde(default = "default_fill")]
    pub fill: String,
    /// Compression level for EFI drivers built from PE files.
    #[serde(default = "default_level")]
    pub level: String,
    /// Class code written into EFI images built from PE files.
    #[serde(default = "default_class")]
    pub class: String,
    /// Fail the build when `check` finds errors in a ROM (otherwise they are reported).
    #[serde(default)]
    pub strict: bool,
}

fn default_bucket() -> String {
    "256K".into()
}
fn default_fill() -> String {
    "0xff".into()
}
fn default_level() -> String {
    "best".into()
}
fn default_class() -> String {
    "020000".into()
}

impl Default for SetOptions {
    fn default() -> Self {
        SetOptions {
            name: None,
            layout: Layout::default(),
            bucket: default_bucket(),
            pad: PadPolicy::default(),
            fill: default_fill(),
            level: default_level(),
            class: default_class(),
            strict: false,
        }
    }
}

/// `[[nic]]`: one NIC model's ROM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicEntry {
    /// QEMU `-device` model.
    pub model: String,
    /// Vendor ID (hex); defaults to the model's.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Device ID (hex); defaults to the model's.
    #[serde(default)]
    pub device: Option<String>,
    /// More device IDs for the EFI images' PCI 3.0 device lists.
    #[serde(default)]
    pub extra_devices: Vec<String>,
    /// Name of the ROM with EFI images (default: the model's QEMU romfile name).
    #[serde(default)]
    pub output: Option<String>,
    /// Also write the legacy image alone under this name (`pxe-<nic>.rom`).
    #[serde(default)]
    pub legacy_output: Option<String>,
    /// The legacy (x86 BIOS) ROM.
    #[serde(default)]
    pub legacy: Option<String>,
    /// EFI drivers (PE/COFF) per architecture, built into EFI images.
    #[serde(default)]
    pub efi: BTreeMap<Arch, String>,
    /// Ready EFI ROM images per architecture, used as they are.
    #[serde(default)]
    pub efirom: BTreeMap<Arch, String>,
    /// Per-NIC size budget, overriding `[set] bucket`.
    #[serde(default)]
    pub bucket: Option<String>,
}

/// A ROM-set manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Set-wide options.
    #[serde(default)]
    pub set: SetOptions,
    /// The NICs.
    #[serde(rename = "nic", default)]
    pub nics: Vec<NicEntry>,
}

/// Why a set could not be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// The manifest is not valid TOML or does not match the format.
    #[error("{0}")]
    Manifest(String),
    /// A file the manifest names could not be used.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// One or more ROMs are over budget.
    #[error("{}", .0.join("\n"))]
    OverBudget(Vec<String>),
    /// A built ROM fails `check`.
    #[error("{}", .0.join("\n"))]
    Check(Vec<String>),
}

/// Size of one image in a packed ROM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSize {
    /// `legacy` or the EFI architecture (`x64`, `aa64`, …).
    pub label: String,
    /// Bytes.
    pub size: u64,
}

/// One ROM of the set.
#[derive(Debug, Clone, Serialize)]
pub struct PackedRom {
    /// Path relative to the output directory.
    pub path: String,
    /// The NIC model.
    pub nic: String,
    /// `combined`, or the QEMU target of a per-arch ROM.
    pub target: String,
    /// Images in chain order.
    pub images: Vec<ImageSize>,
    /// Bytes of images.
    pub content_size: u64,
    /// Bytes of the file, padding included.
    pub file_size: u64,
    /// ROM BAR QEMU makes for the file.
    pub bar_size: u64,
    /// The budget, when there is one.
    pub bucket: Option<u64>,
    /// Bucket minus content: what the images may still grow.
    pub headroom: Option<i64>,
    /// What `check` says about the ROM (errors fail the build only with `strict`).
    pub findings: Vec<Finding>,
    /// The bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// The whole set.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// `optrom-pack`.
    pub schema: &'static str,
    /// Version of this report format.
    pub schema_version: u32,
    /// Set name.
    pub name: Option<String>,
    /// Layout.
    pub layout: Layout,
    /// Every ROM.
    pub roms: Vec<PackedRom>,
}

/// Progress events for front ends.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The number of build steps.
    Start(u64),
    /// One step done, with what it was.
    Step(String),
}

/// Parse a manifest file's bytes: as [`parse_manifest`], and a file that is not
/// text at all is `offset N: not UTF-8 text`.
pub fn parse_manifest_bytes(bytes: &[u8]) -> Result<Manifest, PackError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        PackError::Manifest(format!("offset {:#x}: not UTF-8 text, not a TOML manifest", e.valid_up_to()))
    })?;
    parse_manifest(text)
}

/// Parse a manifest's text.
///
/// A syntax or schema error is one line: `line L, column C: what`.
pub fn parse_manifest(text: &str) -> Result<Manifest, PackError> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end().replace('\n', " ");
        PackError::Manifest(match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {column}: {message}")
            }
            None => message,
        })
    })
}

struct Ids {
    vendor: u16,
    devices: Vec<u16>,
}

fn hex_id(text: &str, what: &str, model: &str) -> Result<u16, PackError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    u16::from_str_radix(digits, 16)
        .ok()
        .filter(|_| !digits.is_empty() && digits.len() <= 4)
        .ok_or_else(|| PackError::Manifest(format!("nic {model}: {what} {text:?} is not a 16-bit hex ID")))
}

fn resolve_ids(entry: &NicEntry) -> Result<Ids, PackError> {
    let known = nic::find(&entry.model);
    let vendor = match (&entry.vendor, known) {
        (Some(v), _) => hex_id(v, "vendor", &entry.model)?,
        (None, Some(m)) => m.vendor,
        (None, None) => {
            return Err(PackError::Manifest(format!(
                "nic {}: unknown QEMU model; give vendor and device (known models: {})",
                entry.model,
                nic::names().join(", ")
            )));
        }
    };
    let device = match (&entry.device, known) {
        (Some(d), _) => hex_id(d, "device", &entry.model)?,
        (None, Some(m)) => m.device,
        (None, None) => {
            return Err(PackError::Manifest(format!(
                "nic {}: unknown QEMU model; give vendor and device",
                entry.model
            )));
        }
    };
    let mut devices = vec![device];
    for extra in &entry.extra_devices {
        let id = hex_id(extra, "extra device", &entry.model)?;
        if !devices.contains(&id) {
            devices.push(id);
        }
    }
    Ok(Ids { vendor, devices })
}

/// An output name from the manifest: a plain relative path that stays inside
/// the output directory (no `..`, no root, no `.`), never the size report's name.
fn output_name(name: &str, key: &str, model: &str) -> Result<String, PackError> {
    let path = Path::new(name);
    let plain = !name.is_empty()
        && path.components().all(|c| matches!(c, std::path::Component::Normal(_)))
        && !name.ends_with('/');
    if !plain {
        return Err(PackError::Manifest(format!(
            "nic {model}: {key} {name:?} must be a file name or relative path inside the output directory (no '..', no leading '/')"
        )));
    }
    if name == SIZE_REPORT {
        return Err(PackError::Manifest(format!("nic {model}: {key} {name:?} is the size report's name")));
    }
    Ok(name.to_string())
}

/// The size report `pack` writes beside the ROMs.
pub const SIZE_REPORT: &str = "size-report.json";

fn default_output(entry: &NicEntry) -> String {
    match nic::find(&entry.model).and_then(|m| m.romfile) {
        Some(name) if name.starts_with("efi-") => name.to_string(),
        _ => format!("efi-{}.rom", entry.model),
    }
}

/// A built image ready to be chained.
#[derive(Clone)]
struct Part {
    label: String,
    arch: Option<Arch>,
    bytes: Vec<u8>,
}

/// Pack the set described by `manifest`; file names in it are relative to `base`.
/// Nothing is written: the caller writes [`PackedRom::bytes`] (see [`write_set`]).
pub fn pack(manifest: &Manifest, base: &Path, progress: &mut dyn FnMut(Progress)) -> Result<PackReport, PackError> {
    let set = &manifest.set;
    let level: Level = set.level.parse().map_err(|e| PackError::Manifest(format!("[set] level: {e}")))?;
    let class = u32::from_str_radix(set.class.trim_start_matches("0x"), 16)
        .ok()
        .filter(|c| *c <= 0xFF_FFFF)
        .ok_or_else(|| PackError::Manifest(format!("[set] class {:?} is not a 24-bit hex class code", set.class)))?;
    let fill = parse_fill(&set.fill)?;
    let set_bucket = parse_bucket(&set.bucket, "[set] bucket")?;
    if manifest.nics.is_empty() {
        return Err(PackError::Manifest("the manifest has no [[nic]] entries".into()));
    }
    let jobs = driver_jobs(manifest, base);
    let steps: u64 = jobs.len() as u64 + manifest.nics.iter().map(|n| (n.efirom.len() + 1) as u64).sum::<u64>();
    progress(Progress::Start(steps));
    let options = |key: &DriverKey| EfiRomOptions {
        vendor: key.1,
        devices: key.2.clone(),
        class_code: class,
        compression: Some(level),
        ..Default::default()
    };
    let mut built = build_drivers(jobs, &options, progress);

    let mut roms = Vec::new();
    let mut seen_outputs = HashMap::new();
    for entry in &manifest.nics {
        let ids = resolve_ids(entry)?;
        let bucket = match &entry.bucket {
            Some(b) => parse_bucket(b, &format!("nic {} bucket", entry.model))?,
            None => set_bucket,
        };
        let mut parts: Vec<Part> = Vec::new();
        if let Some(path) = &entry.legacy {
            let bytes = read_input(base, path)?;
            let images = edit::input_images(&bytes).map_err(|e| input_error(base, path, e.to_string()))?;
            if images.iter().any(|i| i.pcir().code_type() != CodeType::PcAt) {
                return Err(input_error(
                    base,
                    path,
                    "holds non-legacy images; give only the legacy (x86 BIOS) ROM".into(),
                ));
            }
            let end = images.last().map_or(0, |i| i.end());
            parts.push(Part { label: "legacy".into(), arch: None, bytes: bytes[..end].to_vec() });
        }
        for arch in all_arches(entry) {
            if let Some(path) = entry.efi.get(&arch) {
                let driver = read_input(base, path)?;
                let key = (driver, ids.vendor, ids.devices.clone());
                // Every readable driver was built up front; build here only
                // what that pass could not see.
                let rom = match built.get(&key) {
                    Some(rom) => rom.clone(),
                    None => {
                        let rom = build_driver(&key, &options);
                        built.entry(key).or_insert(rom).clone()
                    }
                };
                let (bytes, machine) = rom.map_err(|e| input_error(base, path, e))?;
                if machine != arch.machine() {
                    return Err(input_error(base, path, format!("is a {machine} driver, listed as {}", arch.name())));
                }
                parts.push(Part { label: arch.name().into(), arch: Some(arch), bytes });
            } else if let Some(path) = entry.efirom.get(&arch) {
                let bytes = read_input(base, path)?;
                let images = edit::input_images(&bytes).map_err(|e| input_error(base, path, e.to_string()))?;
                for image in &images {
                    let machine = EfiHeader::new_checked(image.bytes).map(|h| h.machine()).ok();
                    if image.pcir().code_type() != CodeType::Efi || machine != Some(arch.machine()) {
                        return Err(input_error(
                            base,
                            path,
                            format!("image {} is not an EFI {} image", image.index, arch.machine()),
                        ));
                    }
                }
                let end = images.last().map_or(0, |i| i.end());
                parts.push(Part { label: arch.name().into(), arch: Some(arch), bytes: bytes[..end].to_vec() });
                progress(Progress::Step(format!("{} {} image", entry.model, arch.name())));
            }
        }
        if parts.is_empty() {
            return Err(PackError::Manifest(format!("nic {}: no legacy ROM and no EFI driver given", entry.model)));
        }

        let output = match &entry.output {
            Some(name) => output_name(name, "output", &entry.model)?,
            None => default_output(entry),
        };
        let mut outputs: Vec<(String, String, Vec<&Part>)> = Vec::new();
        if matches!(set.layout, Layout::Combined | Layout::Both) {
            outputs.push((output.clone(), "combined".into(), parts.iter().collect()));
        }
        if matches!(set.layout, Layout::PerArch | Layout::Both) {
            for target in Target::ALL {
                let chosen: Vec<&Part> = parts
                    .iter()
                    .filter(|p| match p.arch {
                        None => target.runs_legacy(),
                        Some(a) => a.target() == target,
                    })
                    .collect();
                if !chosen.iter().any(|p| p.arch.is_some()) {
                    continue;
                }
                outputs.push((format!("{}/{output}", target.name()), target.name().into(), chosen));
            }
        }
        if let Some(legacy_name) = &entry.legacy_output {
            let legacy_name = output_name(legacy_name, "legacy_output", &entry.model)?;
            let legacy: Vec<&Part> = parts.iter().filter(|p| p.arch.is_none()).collect();
            if legacy.is_empty() {
                return Err(PackError::Manifest(format!("nic {}: legacy_output without legacy", entry.model)));
            }
            outputs.push((legacy_name, "legacy".into(), legacy));
        }
        for (path, target, chosen) in outputs {
            // A legacy-only ROM has its own, smaller BAR: the EFI ROM's budget does not apply.
            let bucket = if target == "legacy" { None } else { bucket };
            if let Some(other) = seen_outputs.insert(path.clone(), entry.model.clone()) {
                return Err(PackError::Manifest(format!("nic {} and nic {other} both write {path}", entry.model)));
            }
            let refs: Vec<&[u8]> = chosen.iter().map(|p| p.bytes.as_slice()).collect();
            let bytes = edit::combine(&refs).map_err(|e| PackError::Manifest(format!("{path}: {e}")))?;
            let images =
                chosen.iter().map(|p| ImageSize { label: p.label.clone(), size: p.bytes.len() as u64 }).collect();
            roms.push(PackedRom {
                path,
                nic: entry.model.clone(),
                target,
                images,
                content_size: bytes.len() as u64,
                file_size: bytes.len() as u64,
                bar_size: bar_size(bytes.len() as u64),
                bucket,
                headroom: bucket.map(|b| b as i64 - bytes.len() as i64),
                findings: Vec::new(),
                bytes,
            });
        }
        progress(Progress::Step(format!("{} ROMs", entry.model)));
    }

    let over: Vec<String> = roms.iter().filter_map(over_budget).collect();
    if !over.is_empty() {
        return Err(PackError::OverBudget(over));
    }

    let mut failed = Vec::new();
    for rom in &mut roms {
        let target = match (set.pad, rom.bucket) {
            (PadPolicy::Bucket, Some(b)) => Some(PadTarget::Bytes(b)),
            (PadPolicy::Bucket, None) | (PadPolicy::Pow2, _) => Some(PadTarget::Pow2),
            (PadPolicy::None, _) => None,
        };
        if let Some(target) = target {
            rom.bytes =
                edit::pad(&rom.bytes, target, fill).map_err(|e| PackError::Manifest(format!("{}: {e}", rom.path)))?;
            rom.file_size = rom.bytes.len() as u64;
            rom.bar_size = bar_size(rom.file_size);
        }
        let info = crate::inspect(&rom.bytes).map_err(|e| PackError::Manifest(format!("{}: {e}", rom.path)))?;
        let file_name = Path::new(&rom.path).file_name().and_then(|n| n.to_str());
        let report = check(
            &info,
            &CheckOptions { nic: nic::find(&rom.nic), bucket: rom.bucket, file_name, rom: Some(&rom.bytes) },
        );
        for f in &report.findings {
            if f.severity == Severity::Error {
                failed.push(format!("{}: {f}", rom.path));
            }
        }
        rom.findings = report.findings;
    }
    if set.strict && !failed.is_empty() {
        return Err(PackError::Check(failed));
    }
    roms.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(PackReport { schema: "optrom-pack", schema_version: 1, name: set.name.clone(), layout: set.layout, roms })
}

fn over_budget(rom: &PackedRom) -> Option<String> {
    let bucket = rom.bucket?;
    if rom.content_size <= bucket {
        return None;
    }
    let mut largest: Vec<&ImageSize> = rom.images.iter().collect();
    largest.sort_by(|a, b| b.size.cmp(&a.size).then(a.label.cmp(&b.label)));
    let list = largest.iter().take(3).map(|i| format!("{} {} bytes", i.label, i.size)).collect::<Vec<_>>().join(", ");
    Some(format!(
        "{}: {} bytes, {} bytes over the {} budget; largest images: {list}",
        rom.path,
        rom.content_size,
        rom.content_size - bucket,
        human(bucket)
    ))
}

/// A driver build: PE bytes, vendor ID, device IDs.
type DriverKey = (Vec<u8>, u16, Vec<u16>);
/// A built EFI ROM image and the driver's machine, or why it failed.
type BuiltDriver = Result<(Vec<u8>, Machine), String>;

/// The distinct driver builds of the manifest, in manifest order, with the
/// NIC and architecture that first names each. Entries whose IDs or files
/// are bad are left out: the main pass reports them in order.
fn driver_jobs(manifest: &Manifest, base: &Path) -> Vec<(DriverKey, String)> {
    let mut jobs: Vec<(DriverKey, String)> = Vec::new();
    for entry in &manifest.nics {
        let Ok(ids) = resolve_ids(entry) else { continue };
        for (arch, path) in &entry.efi {
            let Ok(driver) = read_input(base, path) else { continue };
            let key = (driver, ids.vendor, ids.devices.clone());
            if !jobs.iter().any(|(k, _)| *k == key) {
                jobs.push((key, format!("{} {} driver", entry.model, arch.name())));
            }
        }
    }
    jobs
}

fn build_driver(key: &DriverKey, options: &dyn Fn(&DriverKey) -> EfiRomOptions) -> BuiltDriver {
    build::efi_rom(&key.0, &options(key)).map(|rom| (rom.bytes, rom.pe.machine)).map_err(|e| e.to_string())
}

/// Build (compress) every job, on as many threads as there are CPUs:
/// compression dominates `pack` at level best, and each job is independent.
/// The result does not depend on the thread count.
fn build_drivers(
    jobs: Vec<(DriverKey, String)>,
    options: &(dyn Fn(&DriverKey) -> EfiRomOptions + Sync),
    progress: &mut dyn FnMut(Progress),
) -> HashMap<DriverKey, BuiltDriver> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<BuiltDriver>> = vec![None; jobs.len()];
    std::thread::scope(|scope| {
        let (done, finished) = std::sync::mpsc::channel();
        for _ in 0..threads {
            let (done, next, jobs) = (done.clone(), &next, &jobs);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((key, _)) = jobs.get(i) else { break };
                    let rom = build_driver(key, options);
                    if done.send((i, rom)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        for (i, rom) in finished {
            progress(Progress::Step(jobs[i].1.clone()));
            results[i] = Some(rom);
        }
    });
    jobs.into_iter().zip(results).filter_map(|((key, _), rom)| Some((key, rom?))).collect()
}

fn all_arches(entry: &NicEntry) -> Vec<Arch> {
    let mut arches: Vec<Arch> = entry.efi.keys().chain(entry.efirom.keys()).copied().collect();
    arches.sort();
    arches.dedup();
    arches
}

fn parse_bucket(text: &str, what: &str) -> Result<Option<u64>, PackError> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let size = parse_size(text).map_err(|e| PackError::Manifest(format!("{what}: {e}")))?;
    if !size.is_power_of_two() {
        return Err(PackError::Manifest(format!("{what}: {size} is not a power of two (ROM BARs are)")));
    }
    Ok(Some(size))
}

fn parse_fill(text: &str) -> Result<u8, PackError> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| PackError::Manifest(format!("[set] fill {text:?} is not a byte")))
}

fn input_error(base: &Path, path: &str, message: String) -> PackError {
    PackError::Input { path: base.join(path).display().to_string(), message }
}

fn read_input(base: &Path, path: &str) -> Result<Vec<u8>, PackError> {
    crate::fsio::read(&base.join(path))
        .map_err(|e| PackError::Input { path: e.path.display().to_string(), message: e.message })
}

/// Write every ROM of `report` and `size-report.json` under `out`, and the
/// HTML size picture to `report_html` when asked: all of them or none (every
/// destination is checked before anything is written; see
/// [`crate::fsio::write_all_atomic`]). Returns the paths written.
pub fn write_set(
    report: &PackReport,
    out: &Path,
    report_html: Option<&Path>,
) -> Result<Vec<PathBuf>, crate::fsio::IoError> {
    let json = serde_json::to_string_pretty(report).expect("reports serialize") + "\n";
    let html = report_html.map(|_| crate::html::render(report));
    let mut files: Vec<(PathBuf, &[u8])> =
        report.roms.iter().map(|rom| (out.join(&rom.path), rom.bytes.as_slice())).collect();
    files.push((out.join(SIZE_REPORT), json.as_bytes()));
    if let (Some(path), Some(html)) = (report_html, &html) {
        files.push((path.to_path_buf(), html.as_bytes()));
    }
    crate::fsio::write_all_atomic(&[out], &files)?;
    Ok(files.into_iter().map(|(path, _)| path).collect())
}
