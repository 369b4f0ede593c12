//! Will live migration from guests running the OLD ROM set to a host with the NEW
//! set work? QEMU migrates each NIC's ROM as a RAM block named
//! `<pci-addr>/<name>.rom` whose size is the ROM BAR: the file size rounded up to a
//! power of two, or `romsize=` when given. The destination sizes the block from
//! its own file; a different size aborts the migration.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::nic::NicModel;
use crate::platform::Target;
use crate::size::{bar_size, human};

/// `romsize=` pins for each side.
#[derive(Debug, Clone, Copy, Default)]
pub struct RomSizes {
    /// `romsize=` on the source (OLD) side.
    pub old: Option<u64>,
    /// `romsize=` on the destination (NEW) side.
    pub new: Option<u64>,
}

/// One side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The file, when present.
    pub path: Option<PathBuf>,
    /// Its size.
    pub file_size: Option<u64>,
    /// Bytes of images in it (without trailing padding).
    pub content_size: Option<u64>,
    /// The RAM block size QEMU makes.
    pub ram_block_size: Option<u64>,
    /// The `romsize=` applied.
    pub romsize: Option<u64>,
}

/// The verdict for one NIC model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Migration completes.
    Migratable,
    /// Migration (or starting the destination) fails.
    Fails,
}

/// One row of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationRow {
    /// NIC model, when the file is a model's default romfile (or one was named).
    pub nic: Option<String>,
    /// ROM file path relative to the set directory (or the file name).
    pub romfile: String,
    /// The RAM block QEMU migrates.
    pub ram_block: String,
    /// OLD side.
    pub old: Side,
    /// NEW side.
    pub new: Side,
    /// Verdict.
    pub verdict: Verdict,
    /// What QEMU prints when it fails.
    pub qemu_error: Option<String>,
    /// How to fix it, or a note.
    pub advice: Option<String>,
}

fn side(path: Option<&Path>, romsize: Option<u64>) -> Side {
    let Some(path) = path else {
        return Side { path: None, file_size: None, content_size: None, ram_block_size: None, romsize };
    };
    let bytes = crate::fsio::read(path).ok();
    let file_size = bytes.as_ref().map(|b| b.len() as u64);
    let content_size = bytes.as_deref().and_then(|b| crate::inspect(b).ok()).map(|i| i.content_size);
    let ram_block_size = file_size.map(|s| romsize.unwrap_or_else(|| bar_size(s)));
    Side { path: Some(path.to_path_buf()), file_size, content_size, ram_block_size, romsize }
}

/// Compare one OLD and one NEW ROM file as used by `nic` (or an unnamed device).
pub fn compare(
    romfile: &str,
    old: Option<&Path>,
    new: Option<&Path>,
    nic: Option<&NicModel>,
    sizes: RomSizes,
    pci_addr: &str,
) -> MigrationRow {
    let block_name = nic.map_or("<device>", |n| n.ramblock_name);
    let ram_block = format!("{pci_addr}/{block_name}.rom");
    let global = nic.map_or("<device>", |n| n.model);
    let old = side(old, sizes.old);
    let new = side(new, sizes.new);
    let mut row = MigrationRow {
        nic: nic.map(|n| n.model.to_string()),
        romfile: romfile.to_string(),
        ram_block: ram_block.clone(),
        old,
        new,
        verdict: Verdict::Migratable,
        qemu_error: None,
        advice: None,
    };
    let too_large = |s: &Side| match (s.path.as_ref(), s.file_size, s.romsize) {
        (Some(p), Some(size), Some(romsize)) if size > romsize => {
            Some(format!("romfile \"{}\" ({size} bytes) is too large for ROM size {romsize}", p.display()))
        }
        _ => None,
    };
    match (row.old.ram_block_size, row.new.ram_block_size) {
        (None, None) => {
            row.advice = Some("in neither set".into());
        }
        (Some(_), None) => {
            row.verdict = Verdict::Fails;
            row.qemu_error = Some(format!("failed to find romfile \"{romfile}\""));
            row.advice = Some(format!(
                "the NEW set lacks {romfile}: the destination cannot even start the {global}; ship the file"
            ));
        }
        (None, Some(_)) => {
            row.advice =
                Some("no ROM in the OLD set: the source sends no ROM block, the destination keeps its own".into());
        }
        (Some(o), Some(n)) => {
            if let Some(e) = too_large(&row.new) {
                row.verdict = Verdict::Fails;
                row.qemu_error = Some(e);
                row.advice = Some("romsize= must be at least the file size".into());
            } else if o == n {
                row.advice = None;
            } else {
                row.verdict = Verdict::Fails;
                row.qemu_error = Some(format!("Size mismatch: {ram_block}: {o:#x} != {n:#x}: Invalid argument"));
                let content = row.new.content_size.or(row.new.file_size).unwrap_or(0);
                let new_path = row.new.path.as_ref().map_or(romfile.to_string(), |p| p.display().to_string());
                row.advice = Some(if content <= o {
                    format!(
                        "pad the NEW ROM to the OLD size (`optrom pad {new_path} --to {o}`) or pin `-global {global}.romsize={o}` on the destination"
                    )
                } else {
                    format!(
                        "the NEW ROM's images are {} bytes over the OLD {} ROM BAR: compress harder (level best), move architectures out (per-arch layout), or keep the OLD ROM for guests started with it; pinning romsize={} needs it on both sides",
                        content - o,
                        human(o),
                        n
                    )
                });
            }
        }
    }
    row
}

pub use crate::nic::models_for;

/// Relative paths of the ROM files of a set directory: `*.rom` at the top and in
/// per-target subdirectories.
pub fn set_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut scan = |sub: &str| {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rom") && entry.path().is_file() {
                out.push(if sub.is_empty() { name } else { format!("{sub}/{name}") });
            }
        }
    };
    scan("");
    for target in Target::ALL {
        scan(target.name());
    }
    out.sort();
    out
}

/// Why two paths cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    /// A path does not exist.
    #[error("{0}: No such file or directory")]
    Missing(PathBuf),
    /// One path is a file and the other a directory.
    #[error("{old} is a {old_kind} and {new} a {new_kind}: give two ROM files or two ROM-set directories")]
    Mixed {
        /// OLD.
        old: PathBuf,
        /// `file` or `directory`.
        old_kind: &'static str,
        /// NEW.
        new: PathBuf,
        /// `file` or `directory`.
        new_kind: &'static str,
    },
}

impl crate::outcome::Classify for MigrateError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::Unusable
    }
}

/// Compare OLD and NEW: two set directories (per NIC model, [`compare_dirs`]) or
/// two ROM files, as used by `nic` — by default the model that loads NEW's file
/// name (`efi-e1000.rom`: e1000).
pub fn compare_paths(
    old: &Path,
    new: &Path,
    nic: Option<&'static NicModel>,
    sizes: RomSizes,
    pci_addr: &str,
) -> Result<Vec<MigrationRow>, MigrateError> {
    for p in [old, new] {
        if !p.exists() {
            return Err(MigrateError::Missing(p.to_path_buf()));
        }
    }
    let kind = |p: &Path| if p.is_dir() { "directory" } else { "file" };
    match (old.is_dir(), new.is_dir()) {
        (true, true) => Ok(compare_dirs(old, new, sizes, pci_addr)),
        (false, false) => {
            let name = new.file_name().and_then(|n| n.to_str()).unwrap_or("rom");
            let model = nic.or_else(|| models_for(name).into_iter().next());
            Ok(vec![compare(name, Some(old), Some(new), model, sizes, pci_addr)])
        }
        _ => Err(MigrateError::Mixed {
            old: old.to_path_buf(),
            old_kind: kind(old),
            new: new.to_path_buf(),
            new_kind: kind(new),
        }),
    }
}

/// Compare two ROM-set directories, per NIC model.
pub fn compare_dirs(old: &Path, new: &Path, sizes: RomSizes, pci_addr: &str) -> Vec<MigrationRow> {
    let mut names = set_files(old);
    names.extend(set_files(new));
    names.sort();
    names.dedup();
    let mut rows = Vec::new();
    for rel in names {
        let file_name = rel.rsplit('/').next().unwrap_or(&rel);
        let o = old.join(&rel);
        let n = new.join(&rel);
        let (o, n) = (o.is_file().then_some(o), n.is_file().then_some(n));
        let models = models_for(file_name);
        if models.is_empty() {
            rows.push(compare(&rel, o.as_deref(), n.as_deref(), None, sizes, pci_addr));
        }
        for model in models {
            rows.push(compare(&rel, o.as_deref(), n.as_deref(), Some(model), sizes, pci_addr));
        }
    }
    rows
}
