//! Build a whole QEMU NIC ROM set from one manifest ([`crate::manifest`]): per
//! NIC, a legacy image and EFI drivers per architecture, laid out as one
//! combined ROM per NIC ("Opt1"), one directory per QEMU target holding only
//! what that target runs ("Opt2"), or both — each ROM inside a size budget,
//! reproducibly.
//!
//! [`pack`] is a pipeline: the manifest's NICs are resolved once (IDs, budget,
//! output names), every input file is read once, the distinct EFI driver builds
//! run in parallel, each NIC's images become its ROMs, the budgets and `check`
//! run on the result, and [`write_set`] writes everything or nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use optrom_format::{CodeType, EfiHeader, Machine};

use crate::build::{self, EfiRomOptions};
use crate::check::{CheckOptions, check};
use crate::edit::{self, PadTarget};
use crate::finding::{Finding, Severity};
pub use crate::manifest::{Layout, Manifest, ManifestError, NicEntry, PadPolicy, SIZE_REPORT, SetOptions};
use crate::nic;
pub use crate::platform::{Arch, Target};
use crate::size::{bar_size, human};

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

impl From<ManifestError> for PackError {
    fn from(e: ManifestError) -> Self {
        PackError::Manifest(e.0)
    }
}

/// Parse a manifest's text ([`Manifest::parse`]).
pub fn parse_manifest(text: &str) -> Result<Manifest, PackError> {
    Ok(Manifest::parse(text)?)
}

/// One NIC of the manifest with everything about it decided: IDs (the model's
/// unless given), budget, output names.
struct NicPlan<'m> {
    entry: &'m NicEntry,
    vendor: u16,
    devices: Vec<u16>,
    bucket: Option<u64>,
    output: String,
}

fn plan<'m>(entry: &'m NicEntry, set: &SetOptions) -> Result<NicPlan<'m>, PackError> {
    let known = nic::find(&entry.model);
    let unknown = |also: &str| {
        PackError::Manifest(format!("nic {}: unknown QEMU model; give vendor and device{also}", entry.model))
    };
    let names = format!(" (known models: {})", nic::names().join(", "));
    let vendor = entry.vendor.or(known.map(|m| m.vendor)).ok_or_else(|| unknown(&names))?;
    let device = entry.device.or(known.map(|m| m.device)).ok_or_else(|| unknown(""))?;
    let mut devices = vec![device];
    for id in &entry.extra_devices {
        if !devices.contains(id) {
            devices.push(*id);
        }
    }
    let output = match (&entry.output, known.and_then(|m| m.romfile)) {
        (Some(name), _) => name.clone(),
        (None, Some(name)) if name.starts_with("efi-") => name.to_string(),
        (None, _) => format!("efi-{}.rom", entry.model),
    };
    if entry.legacy.is_none() && entry.efi.is_empty() && entry.efirom.is_empty() {
        return Err(PackError::Manifest(format!("nic {}: no legacy ROM and no EFI driver given", entry.model)));
    }
    if entry.legacy_output.is_some() && entry.legacy.is_none() {
        return Err(PackError::Manifest(format!("nic {}: legacy_output without legacy", entry.model)));
    }
    Ok(NicPlan { entry, vendor, devices, bucket: entry.bucket.unwrap_or(set.bucket), output })
}

/// Every input file, read once, in manifest order.
struct Inputs {
    base: PathBuf,
    files: HashMap<String, Vec<u8>>,
}

impl Inputs {
    fn read_all(base: &Path, plans: &[NicPlan<'_>]) -> Result<Inputs, PackError> {
        let mut inputs = Inputs { base: base.to_path_buf(), files: HashMap::new() };
        for plan in plans {
            let e = plan.entry;
            for path in e.legacy.iter().chain(arches(e).iter().filter_map(|a| e.efi.get(a).or(e.efirom.get(a)))) {
                if !inputs.files.contains_key(path) {
                    let bytes = crate::fsio::read(&base.join(path))
                        .map_err(|e| PackError::Input { path: e.path.display().to_string(), message: e.message })?;
                    inputs.files.insert(path.clone(), bytes);
                }
            }
        }
        Ok(inputs)
    }

    fn get(&self, path: &str) -> &[u8] {
        &self.files[path]
    }

    fn error(&self, path: &str, message: String) -> PackError {
        PackError::Input { path: self.base.join(path).display().to_string(), message }
    }
}

/// An EFI driver build: which input, with which IDs. Builds are shared between
/// NICs that name the same driver with the same IDs.
#[derive(Clone, PartialEq, Eq, Hash)]
struct DriverJob {
    path: String,
    vendor: u16,
    devices: Vec<u16>,
}

/// A built EFI ROM image and the driver's machine, or why it failed.
type BuiltDriver = Result<(Vec<u8>, Machine), String>;

/// A built image ready to be chained.
struct Part {
    label: String,
    arch: Option<Arch>,
    bytes: Vec<u8>,
}

/// Pack the set described by `manifest`; file names in it are relative to `base`.
/// Nothing is written: the caller writes [`PackedRom::bytes`] (see [`write_set`]).
pub fn pack(manifest: &Manifest, base: &Path, progress: &mut dyn FnMut(Progress)) -> Result<PackReport, PackError> {
    let set = &manifest.set;
    if manifest.nics.is_empty() {
        return Err(PackError::Manifest("the manifest has no [[nic]] entries".into()));
    }
    let plans = manifest.nics.iter().map(|entry| plan(entry, set)).collect::<Result<Vec<_>, _>>()?;
    let inputs = Inputs::read_all(base, &plans)?;
    let jobs = driver_jobs(&plans);
    let steps = jobs.len() as u64 + plans.iter().map(|p| (p.entry.efirom.len() + 1) as u64).sum::<u64>();
    progress(Progress::Start(steps));
    let built = build_drivers(&jobs, &inputs, set, progress);

    let mut roms = Vec::new();
    let mut seen_outputs = HashMap::new();
    for plan in &plans {
        let parts = nic_images(plan, &inputs, &built, progress)?;
        for (path, target, chosen) in layouts(plan, set.layout, &parts) {
            // A legacy-only ROM has its own, smaller BAR: the EFI ROM's budget does not apply.
            let bucket = if target == "legacy" { None } else { plan.bucket };
            if let Some(other) = seen_outputs.insert(path.clone(), plan.entry.model.clone()) {
                return Err(PackError::Manifest(format!("nic {} and nic {other} both write {path}", plan.entry.model)));
            }
            let refs: Vec<&[u8]> = chosen.iter().map(|p| p.bytes.as_slice()).collect();
            let bytes = edit::combine(&refs).map_err(|e| PackError::Manifest(format!("{path}: {e}")))?;
            let images =
                chosen.iter().map(|p| ImageSize { label: p.label.clone(), size: p.bytes.len() as u64 }).collect();
            roms.push(PackedRom {
                path,
                nic: plan.entry.model.clone(),
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
        progress(Progress::Step(format!("{} ROMs", plan.entry.model)));
    }

    let over: Vec<String> = roms.iter().filter_map(over_budget).collect();
    if !over.is_empty() {
        return Err(PackError::OverBudget(over));
    }
    let failed = pad_and_check(&mut roms, set)?;
    if set.strict && !failed.is_empty() {
        return Err(PackError::Check(failed));
    }
    roms.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(PackReport { schema: "optrom-pack", schema_version: 1, name: set.name.clone(), layout: set.layout, roms })
}

/// The distinct driver builds, in manifest order, with what first names each.
fn driver_jobs(plans: &[NicPlan<'_>]) -> Vec<(DriverJob, String)> {
    let mut jobs: Vec<(DriverJob, String)> = Vec::new();
    for plan in plans {
        for (arch, path) in &plan.entry.efi {
            let job = DriverJob { path: path.clone(), vendor: plan.vendor, devices: plan.devices.clone() };
            if !jobs.iter().any(|(j, _)| *j == job) {
                jobs.push((job, format!("{} {} driver", plan.entry.model, arch.name())));
            }
        }
    }
    jobs
}

/// Build (compress) every job, on as many threads as there are CPUs:
/// compression dominates `pack` at level best, and each job is independent.
/// The result does not depend on the thread count.
fn build_drivers(
    jobs: &[(DriverJob, String)],
    inputs: &Inputs,
    set: &SetOptions,
    progress: &mut dyn FnMut(Progress),
) -> HashMap<DriverJob, BuiltDriver> {
    let build = |job: &DriverJob| -> BuiltDriver {
        let options = EfiRomOptions {
            vendor: job.vendor,
            devices: job.devices.clone(),
            class_code: set.class,
            compression: Some(set.level),
            ..Default::default()
        };
        build::efi_rom(inputs.get(&job.path), &options)
            .map(|rom| (rom.bytes, rom.pe.machine))
            .map_err(|e| e.to_string())
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<BuiltDriver>> = vec![None; jobs.len()];
    std::thread::scope(|scope| {
        let (done, finished) = std::sync::mpsc::channel();
        for _ in 0..threads {
            let (done, next, build) = (done.clone(), &next, &build);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((job, _)) = jobs.get(i) else { break };
                    if done.send((i, build(job))).is_err() {
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
    jobs.iter().zip(results).filter_map(|((job, _), rom)| Some((job.clone(), rom?))).collect()
}

/// A NIC's images in chain order: the legacy image, then each architecture's
/// EFI image (built from its driver, or a ready EFI ROM image).
fn nic_images(
    plan: &NicPlan<'_>,
    inputs: &Inputs,
    built: &HashMap<DriverJob, BuiltDriver>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Part>, PackError> {
    let entry = plan.entry;
    let mut parts = Vec::new();
    if let Some(path) = &entry.legacy {
        let bytes = inputs.get(path);
        let images = edit::input_images(bytes).map_err(|e| inputs.error(path, e.to_string()))?;
        if images.iter().any(|i| i.pcir().code_type() != CodeType::PcAt) {
            return Err(inputs.error(path, "holds non-legacy images; give only the legacy (x86 BIOS) ROM".into()));
        }
        let end = images.last().map_or(0, |i| i.end());
        parts.push(Part { label: "legacy".into(), arch: None, bytes: bytes[..end].to_vec() });
    }
    for arch in arches(entry) {
        if let Some(path) = entry.efi.get(&arch) {
            let job = DriverJob { path: path.clone(), vendor: plan.vendor, devices: plan.devices.clone() };
            let (bytes, machine) = built[&job].clone().map_err(|e| inputs.error(path, e))?;
            if machine != arch.machine() {
                return Err(inputs.error(path, format!("is a {machine} driver, listed as {}", arch.name())));
            }
            parts.push(Part { label: arch.name().into(), arch: Some(arch), bytes });
        } else if let Some(path) = entry.efirom.get(&arch) {
            let bytes = inputs.get(path);
            let images = edit::input_images(bytes).map_err(|e| inputs.error(path, e.to_string()))?;
            for image in &images {
                let machine = EfiHeader::new_checked(image.bytes).map(|h| h.machine()).ok();
                if image.pcir().code_type() != CodeType::Efi || machine != Some(arch.machine()) {
                    return Err(
                        inputs.error(path, format!("image {} is not an EFI {} image", image.index, arch.machine()))
                    );
                }
            }
            let end = images.last().map_or(0, |i| i.end());
            parts.push(Part { label: arch.name().into(), arch: Some(arch), bytes: bytes[..end].to_vec() });
            progress(Progress::Step(format!("{} {} image", entry.model, arch.name())));
        }
    }
    Ok(parts)
}

/// The ROMs a NIC's images make in `layout`: (path, target, images).
fn layouts<'p>(plan: &NicPlan<'_>, layout: Layout, parts: &'p [Part]) -> Vec<(String, String, Vec<&'p Part>)> {
    let mut outputs = Vec::new();
    if matches!(layout, Layout::Combined | Layout::Both) {
        outputs.push((plan.output.clone(), "combined".into(), parts.iter().collect()));
    }
    if matches!(layout, Layout::PerArch | Layout::Both) {
        for target in Target::ALL {
            let chosen: Vec<&Part> = parts
                .iter()
                .filter(|p| match p.arch {
                    None => target.runs_legacy(),
                    Some(a) => a.target() == target,
                })
                .collect();
            if chosen.iter().any(|p| p.arch.is_some()) {
                outputs.push((format!("{}/{}", target.name(), plan.output), target.name().into(), chosen));
            }
        }
    }
    if let Some(name) = &plan.entry.legacy_output {
        outputs.push((name.clone(), "legacy".into(), parts.iter().filter(|p| p.arch.is_none()).collect()));
    }
    outputs
}

/// Pad every ROM as the set asks and run `check` on it; returns the errors.
fn pad_and_check(roms: &mut [PackedRom], set: &SetOptions) -> Result<Vec<String>, PackError> {
    let mut failed = Vec::new();
    for rom in roms {
        let target = match (set.pad, rom.bucket) {
            (PadPolicy::Bucket, Some(b)) => Some(PadTarget::Bytes(b)),
            (PadPolicy::Bucket, None) | (PadPolicy::Pow2, _) => Some(PadTarget::Pow2),
            (PadPolicy::None, _) => None,
        };
        if let Some(target) = target {
            rom.bytes = edit::pad(&rom.bytes, target, set.fill)
                .map_err(|e| PackError::Manifest(format!("{}: {e}", rom.path)))?;
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
    Ok(failed)
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

/// The architectures a NIC names, each once, in order.
fn arches(entry: &NicEntry) -> Vec<Arch> {
    let mut arches: Vec<Arch> = entry.efi.keys().chain(entry.efirom.keys()).copied().collect();
    arches.sort();
    arches.dedup();
    arches
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::legacy_image;

    /// A directory with `rom.bin` (a 2-block e1000 legacy image) and `big.bin` (255 blocks).
    fn inputs() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("optrom-pack-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rom.bin"), legacy_image(2, true, 0x8086, 0x100e)).unwrap();
        std::fs::write(dir.join("big.bin"), legacy_image(255, true, 0x8086, 0x100e)).unwrap();
        dir
    }

    fn run(text: &str, dir: &Path) -> Result<PackReport, PackError> {
        pack(&Manifest::parse(text).unwrap(), dir, &mut |_| {})
    }

    #[test]
    fn a_legacy_only_set_with_padding_and_a_legacy_copy() {
        let dir = inputs();
        let report = run(
            "[set]\npad = \"bucket\"\nbucket = \"128K\"\n[[nic]]\nmodel = \"e1000\"\nlegacy = \"rom.bin\"\nlegacy_output = \"pxe.rom\"\n",
            &dir,
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let report = report.unwrap();
        let paths: Vec<&str> = report.roms.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["efi-e1000.rom", "pxe.rom"], "the model's romfile name by default");
        let rom = &report.roms[0];
        assert_eq!((rom.content_size, rom.file_size, rom.bar_size, rom.headroom), (1024, 131072, 131072, Some(130048)));
        assert!(rom.bytes[1024..].iter().all(|b| *b == 0xFF));
        // The legacy copy has its own BAR and no budget: padded to a power of two.
        assert_eq!((report.roms[1].bucket, report.roms[1].file_size), (None, 1024));
    }

    #[test]
    fn over_budget_names_the_rom_and_its_largest_image() {
        let dir = inputs();
        let result = run("[set]\nbucket = \"64K\"\n[[nic]]\nmodel = \"e1000\"\nlegacy = \"big.bin\"\n", &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let Err(PackError::OverBudget(lines)) = result else { panic!("{result:?}") };
        assert_eq!(
            lines,
            ["efi-e1000.rom: 130560 bytes, 65024 bytes over the 64 KiB budget; largest images: legacy 130560 bytes"]
        );
    }

    #[test]
    fn manifest_mistakes_are_manifest_errors() {
        let dir = inputs();
        let cases = [
            ("[[nic]]\nmodel = \"e1000\"\n", "nic e1000: no legacy ROM and no EFI driver given"),
            (
                "[[nic]]\nmodel = \"e1000\"\nlegacy_output = \"p.rom\"\nefi.x64 = \"rom.bin\"\n",
                "legacy_output without legacy",
            ),
            ("[[nic]]\nmodel = \"nosuch\"\nlegacy = \"rom.bin\"\n", "nic nosuch: unknown QEMU model"),
            (
                "[[nic]]\nmodel = \"e1000\"\nlegacy = \"rom.bin\"\n[[nic]]\nmodel = \"e1000\"\nlegacy = \"rom.bin\"\n",
                "both write efi-e1000.rom",
            ),
        ];
        let results: Vec<_> = cases.iter().map(|(text, _)| run(text, &dir)).collect();
        let missing = run("[[nic]]\nmodel = \"e1000\"\nlegacy = \"none.bin\"\n", &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        for ((text, expected), result) in cases.iter().zip(results) {
            let Err(PackError::Manifest(message)) = result else { panic!("{text}: {result:?}") };
            assert!(message.contains(expected), "{text}: {message}");
        }
        assert!(matches!(missing, Err(PackError::Input { .. })), "{missing:?}");
    }
}
