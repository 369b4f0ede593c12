//! Which file QEMU loads as a NIC's ROM, and why.
//!
//! QEMU (`qemu_find_file`, `system/datadir.c`) first tries the romfile name as
//! given — relative to its working directory — then `<dir>/<name>` for each data
//! directory in order: every `-L` directory, then each entry of the configure-time
//! firmware path, then the data directory, skipping duplicates.

use std::path::{Path, PathBuf};

use serde::Serialize;

use optrom_format::{CodeType, Machine};

use crate::nic::NicModel;
use crate::platform::Target;

/// A distribution's QEMU build layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distro {
    /// Debian and Ubuntu (`qemu-system-x86_64 -L help` on Debian 12 with QEMU 10).
    Debian,
    /// Fedora and RHEL-like spec files.
    Fedora,
}

impl Distro {
    /// The configure-time firmware path.
    pub fn firmware_path(self) -> &'static [&'static str] {
        match self {
            Distro::Debian => &["/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu"],
            Distro::Fedora => &[
                "/usr/share/qemu-firmware",
                "/usr/share/ipxe/qemu",
                "/usr/share/seavgabios",
                "/usr/share/seabios",
                "/usr/share/sgabios",
            ],
        }
    }

    /// The data directory.
    pub fn data_dir(self) -> &'static str {
        "/usr/share/qemu"
    }

    /// The names [`Distro::parse`] accepts.
    pub const NAMES: [&'static str; 4] = ["debian", "ubuntu", "fedora", "rhel"];

    /// Parse `debian` / `fedora`.
    pub fn parse(name: &str) -> Option<Distro> {
        match name {
            "debian" | "ubuntu" => Some(Distro::Debian),
            "fedora" | "rhel" => Some(Distro::Fedora),
            _ => None,
        }
    }
}

impl std::str::FromStr for Distro {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Distro::parse(name).ok_or_else(|| format!("unknown distribution layout {name:?}; use debian or fedora"))
    }
}

/// Where QEMU looks, in order.
#[derive(Debug, Clone)]
pub struct SearchPath {
    /// `-L` directories.
    pub dash_l: Vec<PathBuf>,
    /// Firmware path entries.
    pub firmware_path: Vec<PathBuf>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The working directory the bare name is tried in.
    pub cwd: PathBuf,
}

impl SearchPath {
    /// The search path of `distro`'s QEMU build with these command-line
    /// overrides: `firmware_path` is colon-separated as in QEMU's configure
    /// option; without it and `data_dir`, the distribution's own are used.
    pub fn new(
        distro: Distro,
        dash_l: Vec<PathBuf>,
        firmware_path: Option<&str>,
        data_dir: Option<PathBuf>,
        cwd: PathBuf,
    ) -> SearchPath {
        let firmware_path = match firmware_path {
            Some(p) => p.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect(),
            None => distro.firmware_path().iter().map(PathBuf::from).collect(),
        };
        SearchPath {
            dash_l,
            firmware_path,
            data_dir: data_dir.unwrap_or_else(|| PathBuf::from(distro.data_dir())),
            cwd,
        }
    }
}

/// One place QEMU tries.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The path tried.
    pub path: PathBuf,
    /// Why it is tried (`name as given`, `-L`, `firmware path`, `data dir`).
    pub source: &'static str,
    /// Whether it exists and is readable.
    pub exists: bool,
}

/// What resolving a NIC's ROM found.
#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    /// The QEMU target.
    pub target: Target,
    /// The NIC model.
    pub nic: String,
    /// The romfile name.
    pub romfile: Option<String>,
    /// Every place tried, in order, up to the first hit.
    pub candidates: Vec<Candidate>,
    /// The file QEMU loads.
    pub found: Option<PathBuf>,
    /// Whether the file holds something the target's firmware runs.
    pub runs_on_target: Option<bool>,
    /// What the file holds for this target, readable.
    pub contents: Option<String>,
}

/// Resolve `nic`'s romfile (or `romfile` when given) for `target`.
pub fn resolve(target: Target, nic: &NicModel, romfile: Option<&str>, search: &SearchPath) -> Resolution {
    let name = romfile.or(nic.romfile);
    let mut res = Resolution {
        target,
        nic: nic.model.to_string(),
        romfile: name.map(str::to_string),
        candidates: Vec::new(),
        found: None,
        runs_on_target: None,
        contents: None,
    };
    let Some(name) = name else {
        res.contents = Some(format!("{} has no default romfile: QEMU loads no ROM", nic.model));
        return res;
    };
    let mut tries: Vec<(PathBuf, &'static str)> = vec![(search.cwd.join(name), "name as given")];
    let mut seen: Vec<PathBuf> = Vec::new();
    let dirs = search
        .dash_l
        .iter()
        .map(|d| (d, "-L"))
        .chain(search.firmware_path.iter().map(|d| (d, "firmware path")))
        .chain(std::iter::once((&search.data_dir, "data dir")));
    for (dir, why) in dirs {
        if seen.contains(dir) {
            continue;
        }
        seen.push(dir.clone());
        tries.push((dir.join(name), why));
    }
    for (path, source) in tries {
        let exists = std::fs::File::open(&path).is_ok() && path.is_file();
        res.candidates.push(Candidate { path: path.clone(), source, exists });
        if exists {
            res.found = Some(path);
            break;
        }
    }
    if let Some(path) = &res.found {
        let (runs, text) = contents_for(path, target);
        res.runs_on_target = Some(runs);
        res.contents = Some(text);
    }
    res
}

fn contents_for(path: &Path, target: Target) -> (bool, String) {
    let Ok(bytes) = crate::fsio::read(path) else { return (false, "unreadable".into()) };
    let Ok(info) = crate::inspect(&bytes) else { return (false, "not an option ROM".into()) };
    let mut kinds = Vec::new();
    let mut runs = false;
    for image in &info.images {
        match (image.code_type, &image.efi) {
            (CodeType::PcAt, _) => {
                kinds.push("legacy x86".to_string());
                runs |= target.runs_legacy();
            }
            (CodeType::Efi, Some(efi)) => {
                kinds.push(format!("EFI {}", efi.machine));
                runs |= target.machines().contains(&efi.machine);
            }
            (other, _) => kinds.push(format!("code type {other}")),
        }
    }
    let wanted = if target.runs_legacy() { "legacy x86 or X64/IA32 EFI" } else { machine_name(target.machines()) };
    let verdict = if runs { "runs on" } else { "holds nothing for" };
    (runs, format!("{}; {verdict} {} (needs {wanted})", kinds.join(" + "), target.name()))
}

fn machine_name(machines: &[Machine]) -> &'static str {
    machines.first().and_then(|m| m.name()).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_distro_name_parses() {
        for name in Distro::NAMES {
            assert!(Distro::parse(name).is_some(), "{name}");
        }
    }
}
