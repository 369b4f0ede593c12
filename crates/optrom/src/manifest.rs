//! The ROM-set manifest `optrom pack` reads (documented in `docs/manifest.md`),
//! parsed once into typed values: levels, fill bytes, class codes, budgets, PCI
//! IDs and output names are checked while the TOML is read, so every mistake is
//! reported as `line L, column C: what` and nothing downstream parses text.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::{Deserialize, Deserializer, Serialize};

use optrom_codec::Level;

use crate::parse;
use crate::platform::Arch;

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

/// The size report `pack` writes beside the ROMs; no ROM may take its name.
pub const SIZE_REPORT: &str = "size-report.json";

/// The default budget: the 256 KiB ROM BAR Debian's ROMs live in.
pub const DEFAULT_BUCKET: u64 = 256 << 10;

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
    #[serde(default = "default_bucket", deserialize_with = "optional_bucket")]
    pub bucket: Option<u64>,
    /// Padding policy.
    #[serde(default)]
    pub pad: PadPolicy,
    /// Padding byte.
    #[serde(default = "default_fill", deserialize_with = "fill")]
    pub fill: u8,
    /// Compression level for EFI drivers built from PE files (the same
    /// default as `optrom compress` and `optrom efirom`).
    #[serde(default, deserialize_with = "level")]
    pub level: Level,
    /// Class code written into EFI images built from PE files.
    #[serde(default = "default_class", deserialize_with = "class")]
    pub class: u32,
    /// Fail the build when `check` finds errors in a ROM (otherwise they are reported).
    #[serde(default)]
    pub strict: bool,
}

fn default_bucket() -> Option<u64> {
    Some(DEFAULT_BUCKET)
}
fn default_fill() -> u8 {
    0xFF
}
fn default_class() -> u32 {
    0x02_0000
}

impl Default for SetOptions {
    fn default() -> Self {
        SetOptions {
            name: None,
            layout: Layout::default(),
            bucket: default_bucket(),
            pad: PadPolicy::default(),
            fill: default_fill(),
            level: Level::default(),
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
    /// Vendor ID; defaults to the model's.
    #[serde(default, deserialize_with = "optional_id")]
    pub vendor: Option<u16>,
    /// Device ID; defaults to the model's.
    #[serde(default, deserialize_with = "optional_id")]
    pub device: Option<u16>,
    /// More device IDs for the EFI images' PCI 3.0 device lists.
    #[serde(default, deserialize_with = "ids")]
    pub extra_devices: Vec<u16>,
    /// Name of the ROM with EFI images (default: the model's QEMU romfile name).
    #[serde(default, deserialize_with = "output")]
    pub output: Option<String>,
    /// Also write the legacy image alone under this name (`pxe-<nic>.rom`).
    #[serde(default, deserialize_with = "legacy_output")]
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
    /// Per-NIC size budget, overriding `[set] bucket` (`none`: no budget).
    #[serde(default, deserialize_with = "nic_bucket")]
    pub bucket: Option<Option<u64>>,
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

/// Why a manifest cannot be read: one line, with the place when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

impl Manifest {
    /// Parse a manifest's text. A syntax, schema or value error is one line:
    /// `line L, column C: what`.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end().replace('\n', " ");
            ManifestError(match e.span() {
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

    /// Parse a manifest file's bytes: as [`Manifest::parse`], and a file that is
    /// not text at all is `offset N: not UTF-8 text`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            ManifestError(format!("offset {:#x}: not UTF-8 text, not a TOML manifest", e.valid_up_to()))
        })?;
        Manifest::parse(text)
    }
}

/// An output name: a plain relative path that stays inside the output
/// directory (no `..`, no root, no `.`), and not the size report's name.
pub fn output_name(name: &str) -> Result<&str, String> {
    let plain = !name.is_empty()
        && !name.ends_with('/')
        && Path::new(name).components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(format!(
            "{name:?} must be a file name or relative path inside the output directory (no '..', no leading '/')"
        ));
    }
    if name == SIZE_REPORT {
        return Err(format!("{name:?} is the size report's name"));
    }
    Ok(name)
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

fn optional_bucket<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    parse::optional_bucket(&text(d)?).map_err(|e| serde::de::Error::custom(format!("bucket: {e}")))
}

fn nic_bucket<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    optional_bucket(d).map(Some)
}

fn fill<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    parse::fill_byte(&text(d)?).map_err(|e| serde::de::Error::custom(format!("fill: {e}")))
}

fn class<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    parse::class_code(&text(d)?).map_err(|e| serde::de::Error::custom(format!("class: {e}")))
}

fn level<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    text(d)?.parse().map_err(|e| serde::de::Error::custom(format!("level: {e}")))
}

fn optional_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    parse::hex_id(&text(d)?).map(Some).map_err(serde::de::Error::custom)
}

fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    Vec::<String>::deserialize(d)?.iter().map(|t| parse::hex_id(t).map_err(serde::de::Error::custom)).collect()
}

fn output_name_for<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<String>, D::Error> {
    let name = text(d)?;
    output_name(&name).map_err(|e| serde::de::Error::custom(format!("{key} {e}")))?;
    Ok(Some(name))
}

fn output<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    output_name_for(d, "output")
}

fn legacy_output<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    output_name_for(d, "legacy_output")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_at_load() {
        let m = Manifest::parse(
            "[set]\nbucket = \"512K\"\nfill = \"0x00\"\nlevel = \"fast\"\nclass = \"0x020000\"\n\
             [[nic]]\nmodel = \"x\"\nvendor = \"0x8086\"\ndevice = \"100e\"\nextra_devices = [\"100f\"]\nbucket = \"none\"\n",
        )
        .unwrap();
        assert_eq!((m.set.bucket, m.set.fill, m.set.level, m.set.class), (Some(512 << 10), 0, Level::Fast, 0x020000));
        let nic = &m.nics[0];
        assert_eq!((nic.vendor, nic.device, nic.extra_devices.as_slice()), (Some(0x8086), Some(0x100e), &[0x100f][..]));
        assert_eq!(nic.bucket, Some(None));
        let d = Manifest::parse("").unwrap();
        assert_eq!((d.set.bucket, d.set.fill, d.set.level), (Some(DEFAULT_BUCKET), 0xFF, Level::Default));
    }

    #[test]
    fn bad_values_name_line_and_column() {
        for (text, expected) in [
            ("[set]\nbucket = \"300K\"\n", "line 2, column 10: bucket: 307200 is not a power of two"),
            ("[set]\nfill = \"0x100\"\n", "line 2, column 8: fill: \"0x100\" is not a byte"),
            ("[set]\nlevel = \"max\"\n", "line 2, column 9: level:"),
            ("[[nic]]\nmodel = \"e1000\"\nvendor = \"80866\"\n", "line 3, column 10: \"80866\" is not a 16-bit hex ID"),
            ("[[nic]]\nmodel = \"e1000\"\noutput = \"../x.rom\"\n", "line 3, column 10: output \"../x.rom\" must be"),
            ("[[nic]]\nmodel = \"e1000\"\noutput = \"/x.rom\"\n", "line 3, column 10: output \"/x.rom\" must be"),
        ] {
            let e = Manifest::parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn output_names_stay_inside() {
        for ok in ["efi-e1000.rom", "x86_64/efi-e1000.rom"] {
            assert_eq!(output_name(ok), Ok(ok));
        }
        for bad in ["", "..", "../x", "a/../../x", "/x", "./x", "dir/", SIZE_REPORT] {
            assert!(output_name(bad).is_err(), "{bad:?}");
        }
    }
}
