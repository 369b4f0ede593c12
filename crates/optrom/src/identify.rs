//! What code an image holds: which iPXE build (version, build name, features,
//! PCI drivers, whether an EFI build takes over UEFI network boot) or, for other
//! EFI drivers, the PE facts and the EDK2 module name — every verdict with the
//! bytes that decided it, and "unknown" when those bytes are missing.
//!
//! Facts about iPXE's binaries used here, from iPXE's public source:
//! * `include/ipxe/features.h`: every `FEATURE()` also emits a three-byte DHCP
//!   feature option `{code, 1, version}` into the `dhcp_features` linker table,
//!   and `core/version.c` adds the version option `{0xEB, 3, major, minor,
//!   patch}`. The table is contiguous bytes in the linked image.
//! * `core/version.c`: the strings `build_name` (the target file, e.g.
//!   `82540em.efidrv`), `product_short_name` ("iPXE") and `product_version`
//!   (`VERSION`, which starts with `major.minor.patch`).
//! * `include/ipxe/pci.h`: each driver's ID table is an array of
//!   `struct pci_device_id { const char *name; uint16_t vendor, device;
//!   unsigned long driver_data; }` — 12 bytes on i386, 24 on x86-64 — and the
//!   driver's `struct pci_driver` starts with a pointer to that array and its
//!   entry count; a table counts only when such a driver entry points at exactly
//!   that many valid entries.
//! * `interface/efi/efi_snp.c` and `efi_pxe.c`: with `EFI_DOWNGRADE_UX` (set by
//!   `CONFIG=qemu`, `config/qemu/general.h`) iPXE installs its LoadFile and PXE
//!   base code interfaces under dummy GUIDs whose bytes read `#slow #unhelpful`
//!   and `#udp #wtf #moron`, so the firmware's own PXE/HTTP stack boots on top of
//!   iPXE's SNP; without it iPXE installs the real `EFI_LOAD_FILE_PROTOCOL` and
//!   boots by itself.

use std::collections::{HashMap, HashSet};

use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile32, PeFile64};
use object::{LittleEndian as LE, Object};
use serde::Serialize;

use optrom_format::{CodeType, EfiHeader};

use crate::ipxe_payload::{self, PackedPayload};
use crate::pe::{self, PeInfo};

/// A fact and why it is believed; `value` is `None` when the evidence is missing.
#[derive(Debug, Clone, Serialize)]
pub struct Fact<T> {
    /// The value, or `None` (unknown).
    pub value: Option<T>,
    /// Which bytes, strings or sections decided it (or why it is unknown).
    pub evidence: String,
}

impl<T> Fact<T> {
    fn known(value: T, evidence: String) -> Fact<T> {
        Fact { value: Some(value), evidence }
    }
    fn unknown(evidence: impl Into<String>) -> Fact<T> {
        Fact { value: None, evidence: evidence.into() }
    }
}

/// Whether an iPXE EFI build takes over UEFI network boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EfiBootRole {
    /// `EFI_DOWNGRADE_UX` (QEMU's `CONFIG=qemu`): a SNP driver only; the
    /// firmware's own PXE/HTTP boot runs on top and keeps the boot menu.
    DriverOnly,
    /// iPXE installs its own LoadFile protocol and boots by itself.
    FullStack,
}

impl EfiBootRole {
    /// Short human text.
    pub fn describe(self) -> &'static str {
        match self {
            EfiBootRole::DriverOnly => {
                "driver only (EFI_DOWNGRADE_UX, as CONFIG=qemu): the firmware's own PXE/HTTP boot runs on top of iPXE's SNP"
            }
            EfiBootRole::FullStack => {
                "full network stack: iPXE installs its own LoadFile and takes over UEFI network boot"
            }
        }
    }
}

/// One entry of a driver's PCI ID table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciId {
    /// Vendor ID.
    #[serde(serialize_with = "crate::report::ser_hex16")]
    pub vendor: u16,
    /// Device ID.
    #[serde(serialize_with = "crate::report::ser_hex16")]
    pub device: u16,
    /// iPXE's name for the device (what it prints as "using NAME").
    pub name: String,
}

/// What iPXE build an image holds.
#[derive(Debug, Clone, Serialize)]
pub struct IpxeFacts {
    /// `product_version`, e.g. `1.21.1+ (g4e456)` or a distribution's `VERSION=`.
    pub version: Fact<String>,
    /// The target the build was made for (`build_name`): `ipxe.efi`, `82540em.rom`, …
    pub build_name: Fact<String>,
    /// Features as iPXE's banner names them (`Features: DNS HTTP …`).
    pub features: Fact<Vec<String>>,
    /// PCI devices its drivers claim.
    pub pci_drivers: Fact<Vec<PciId>>,
    /// For EFI builds: driver-only or full stack. `None` value for BIOS builds.
    pub efi_boot: Fact<EfiBootRole>,
}

/// PE facts of an EFI image that is not (or not only) iPXE.
#[derive(Debug, Clone, Serialize)]
pub struct PeFacts {
    /// Header facts.
    #[serde(flatten)]
    pub header: PeInfo,
    /// CodeView PDB path from the debug directory, when the image carries one.
    pub pdb_path: Option<String>,
    /// The module name: the PDB file name without `.pdb`/`.dll`/`.debug`
    /// (EDK2 names it after the module's `BASE_NAME`, e.g. `VirtioNetDxe`).
    pub module: Option<String>,
}

/// What one image (or a whole boot file) holds.
#[derive(Debug, Clone, Serialize)]
pub struct Identification {
    /// Image index in the ROM chain; `None` for a boot file that is not a ROM.
    pub image: Option<usize>,
    /// `pcbios` (legacy x86) or `efi`.
    pub platform: &'static str,
    /// Which code: `ipxe`, `edk2`, or `unknown`.
    pub code: &'static str,
    /// Why `code` was decided.
    pub code_evidence: String,
    /// iPXE's packed payload (BIOS builds).
    pub packed: Option<PackedPayload>,
    /// iPXE facts when `code` is `ipxe`.
    pub ipxe: Option<IpxeFacts>,
    /// PE facts for EFI images.
    pub pe: Option<PeFacts>,
}

/// Identify every image of a ROM (already inspected as `info`).
pub fn identify_rom(data: &[u8], info: &crate::RomInfo) -> Vec<Identification> {
    info.images
        .iter()
        .filter_map(|image| {
            let start = usize::try_from(image.offset).ok()?;
            let end = start.checked_add(usize::try_from(image.length).ok()?)?.min(data.len());
            let bytes = data.get(start..end)?;
            let id = match image.code_type {
                CodeType::PcAt => identify_bios_for(bytes, image.pcir.as_ref().map(|p| (p.vendor, p.device))),
                CodeType::Efi => {
                    EfiHeader::new_checked(bytes).ok()?;
                    match crate::inspect::efi_driver(bytes).ok() {
                        Some(pe) => identify_pe(&pe),
                        None => Identification {
                            image: None,
                            platform: "efi",
                            code: "unknown",
                            code_evidence: "the EFI payload could not be read (see the image's payload error)".into(),
                            packed: None,
                            ipxe: None,
                            pe: None,
                        },
                    }
                }
                _ => return None,
            };
            Some(Identification { image: Some(image.index), ..id })
        })
        .collect()
}

/// Identify a boot file that is not a PCI ROM: a PE/COFF EFI binary (`ipxe.efi`,
/// `snponly.efi`) or an iPXE BIOS binary (`undionly.kpxe`, `ipxe.pxe`, `ipxe.lkrn`).
pub fn identify_file(data: &[u8]) -> Option<Identification> {
    if data.starts_with(b"MZ") {
        return Some(identify_pe(data));
    }
    let id = identify_bios(data);
    (id.code != "unknown").then_some(id)
}

/// A legacy x86 image or BIOS boot file: unpack iPXE's payload and read it.
pub fn identify_bios(bytes: &[u8]) -> Identification {
    identify_bios_for(bytes, None)
}

/// As [`identify_bios`]; `expected` is the PCIR's vendor:device: a driver-table
/// base that finds a table with those IDs is accepted on that evidence alone.
pub fn identify_bios_for(bytes: &[u8], expected: Option<(u16, u16)>) -> Identification {
    let mut id = Identification {
        image: None,
        platform: "pcbios",
        code: "unknown",
        code_evidence: String::new(),
        packed: None,
        ipxe: None,
        pe: None,
    };
    let Some(unpacked) = ipxe_payload::find(bytes) else {
        id.code_evidence = "no iPXE packed payload (raw LZMA1 lc=2 lp=0 pb=0 stream) in the first 64 KiB".into();
        return id;
    };
    let payload = &unpacked.data;
    let base = unpacked.info.stream_offset;
    id.packed = Some(unpacked.info);
    match ipxe_marker(payload) {
        Some(marker) => {
            id.code = "ipxe";
            id.code_evidence = format!("in the unpacked payload (offsets relative to it): {marker}");
            let mut facts = common_ipxe_facts(payload);
            facts.pci_drivers = legacy_pci_ids(payload, expected);
            facts.efi_boot = Fact::unknown("not applicable: a BIOS (pcbios) build");
            id.ipxe = Some(facts);
        }
        None => {
            id.code_evidence = format!(
                "a packed payload unpacks at {base:#x}, but it holds no iPXE version option and \"iPXE\" string"
            );
        }
    }
    id
}

/// An EFI PE image.
pub fn identify_pe(bytes: &[u8]) -> Identification {
    let mut id = Identification {
        image: None,
        platform: "efi",
        code: "unknown",
        code_evidence: String::new(),
        packed: None,
        ipxe: None,
        pe: None,
    };
    let header = match pe::parse(bytes) {
        Ok(h) => h,
        Err(e) => {
            id.code_evidence = format!("not a readable PE image: {e}");
            return id;
        }
    };
    let pdb_path = pdb_path(bytes);
    let module = pdb_path.as_deref().map(module_name);
    id.pe = Some(PeFacts { header, pdb_path: pdb_path.clone(), module: module.clone() });
    if let Some(marker) = ipxe_marker(bytes) {
        id.code = "ipxe";
        id.code_evidence = format!(
            "in the PE image (offsets relative to its first byte; decompressed first if the ROM stores it compressed): {marker}"
        );
        let mut facts = common_ipxe_facts(bytes);
        facts.pci_drivers = pe_pci_ids(bytes);
        facts.efi_boot = efi_boot_role(bytes);
        id.ipxe = Some(facts);
    } else if let (Some(path), Some(module)) = (&pdb_path, &module) {
        id.code = "edk2";
        id.code_evidence =
            format!("no iPXE version option; debug directory CodeView PDB path {path:?} names module {module}");
    } else {
        id.code_evidence = "no iPXE version option and no CodeView debug entry".into();
    }
    id
}

/// The CodeView PDB path from the PE debug directory.
fn pdb_path(bytes: &[u8]) -> Option<String> {
    let path = |info: object::CodeView<'_>| String::from_utf8_lossy(info.path()).into_owned();
    match object::read::pe::optional_header_magic(bytes).ok()? {
        object::pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => PeFile32::parse(bytes).ok()?.pdb_info().ok()?.map(path),
        object::pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => PeFile64::parse(bytes).ok()?.pdb_info().ok()?.map(path),
        _ => None,
    }
}

fn module_name(path: &str) -> String {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let mut name = file;
    for ext in [".pdb", ".dll", ".debug", ".efi"] {
        if let Some(stem) = name.strip_suffix(ext) {
            name = stem;
        }
    }
    name.to_string()
}

/// iPXE's DHCP feature option codes and the names its banner prints
/// (`include/ipxe/features.h` and the `FEATURE()` lines across iPXE's source).
pub const FEATURE_CODES: &[(u8, &str)] = &[
    (0x10, "PXEXT"),
    (0x11, "iSCSI"),
    (0x12, "AoE"),
    (0x13, "HTTP"),
    (0x14, "HTTPS"),
    (0x15, "TFTP"),
    (0x16, "FTP"),
    (0x17, "DNS"),
    (0x18, "bzImage"),
    (0x19, "MBOOT"),
    (0x1a, "SLAM"),
    (0x1b, "SRP"),
    (0x20, "NBI"),
    (0x21, "PXE"),
    (0x22, "ELF"),
    (0x23, "COMBOOT"),
    (0x24, "EFI"),
    (0x25, "FCoE"),
    (0x26, "VLAN"),
    (0x27, "Menu"),
    (0x28, "SDI"),
    (0x29, "NFS"),
];

/// The DHCP option iPXE's version feature uses.
const VERSION_OPTION: u8 = 0xEB;

fn feature_name(code: u8) -> Option<&'static str> {
    FEATURE_CODES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

fn is_feature_triplet(bytes: &[u8]) -> bool {
    bytes.len() == 3 && feature_name(bytes[0]).is_some() && bytes[1] == 1 && (1..=16).contains(&bytes[2])
}

/// The DHCP feature table: offset of its first byte, its bytes, and the
/// version option's offset.
struct FeatureTable {
    start: usize,
    end: usize,
    version_at: usize,
    version: (u8, u8, u8),
}

fn find_feature_table(data: &[u8]) -> Option<FeatureTable> {
    let mut from = 0;
    while let Some(pos) = find(&data[from..], &[VERSION_OPTION, 3]).map(|p| p + from) {
        from = pos + 1;
        let Some(v) = data.get(pos + 2..pos + 5) else { break };
        let mut start = pos;
        while start >= 3 && is_feature_triplet(&data[start - 3..start]) {
            start -= 3;
        }
        let mut end = pos + 5;
        while end + 3 <= data.len() && is_feature_triplet(&data[end..end + 3]) {
            end += 3;
        }
        // A stray EB 03 in code has no feature options around it.
        if end - start > 5 {
            return Some(FeatureTable { start, end, version_at: pos, version: (v[0], v[1], v[2]) });
        }
    }
    None
}

/// Whether the bytes are iPXE: its version feature option and product name.
fn ipxe_marker(data: &[u8]) -> Option<String> {
    let table = find_feature_table(data)?;
    let name_at = find(data, b"\0iPXE\0")? + 1;
    Some(format!(
        "DHCP feature table at {:#x} with iPXE's version option (EB 03 {:02x} {:02x} {:02x}) at {:#x}; product name \"iPXE\" at {name_at:#x}",
        table.start, table.version.0, table.version.1, table.version.2, table.version_at
    ))
}

fn common_ipxe_facts(data: &[u8]) -> IpxeFacts {
    let table = find_feature_table(data);
    let features = match &table {
        Some(t) => {
            let mut names = Vec::new();
            let mut at = t.start;
            while at + 3 <= t.end {
                if at == t.version_at {
                    at += 5;
                    continue;
                }
                if let Some(name) = feature_name(data[at]) {
                    names.push(name.to_string());
                }
                at += 3;
            }
            let hex: Vec<String> = data[t.start..t.end].iter().map(|b| format!("{b:02x}")).collect();
            Fact::known(
                names,
                format!("DHCP feature options {{code, 1, version}} at {:#x}..{:#x}: {}", t.start, t.end, hex.join(" ")),
            )
        }
        None => Fact::unknown("no DHCP feature table found"),
    };
    let version = match &table {
        Some(t) => version_string(data, t.version),
        None => Fact::unknown("no version option (EB 03 major minor patch) found"),
    };
    IpxeFacts {
        version,
        build_name: build_name(data),
        features,
        pci_drivers: Fact::unknown("not read"),
        efi_boot: Fact::unknown("not read"),
    }
}

fn version_string(data: &[u8], (major, minor, patch): (u8, u8, u8)) -> Fact<String> {
    let prefix = format!("{major}.{minor}.{patch}");
    let needle = [b"\0".as_slice(), prefix.as_bytes()].concat();
    let mut from = 0;
    while let Some(pos) = find(&data[from..], &needle).map(|p| p + from) {
        from = pos + 1;
        let start = pos + 1;
        if let Some(s) = c_string_at(data, start, 128) {
            let next = s.as_bytes().get(prefix.len()).copied();
            if matches!(next, None | Some(b'+' | b'-' | b'~' | b' ' | b'(')) {
                return Fact::known(
                    s.clone(),
                    format!("string {s:?} at {start:#x}, matching the version option {prefix}"),
                );
            }
        }
    }
    Fact::known(prefix.clone(), format!("only the version option {prefix}; no version string starting with it"))
}

/// iPXE's target extensions, as its Makefiles name build products.
const TARGET_EXTENSIONS: &[&str] = &[
    ".rom", ".mrom", ".efi", ".efidrv", ".efirom", ".kpxe", ".kkpxe", ".kkkpxe", ".pxe", ".lkrn", ".usb", ".iso",
    ".dsk", ".hd", ".raw", ".exe", ".sdsk", ".nbi", ".elf",
];

fn build_name(data: &[u8]) -> Fact<String> {
    // version.c defines build_name next to the product name; find a target-like
    // file name among the NUL-terminated strings close before "iPXE".
    let Some(name_at) = find(data, b"\0iPXE\0") else {
        return Fact::unknown("no product name string");
    };
    let window_start = name_at.saturating_sub(64);
    let mut at = window_start;
    let mut found = None;
    while at < name_at {
        if (at == 0 || data[at - 1] == 0)
            && let Some(s) = c_string_at(data, at, 64)
            && s.len() > 4
            && TARGET_EXTENSIONS.iter().any(|e| s.ends_with(e))
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        {
            found = Some((at, s));
        }
        at += 1;
    }
    match found {
        Some((at, s)) => Fact::known(s.clone(), format!("build name string {s:?} at {at:#x}, beside the product name")),
        None => Fact::unknown("no iPXE target file name beside the product name"),
    }
}

fn efi_boot_role(data: &[u8]) -> Fact<EfiBootRole> {
    // GUIDs as stored (little-endian fields).
    const DUMMY_LOAD_FILE: &[u8] = b"#slow #unhelpful";
    const DUMMY_PXE: &[u8] = b"#udp #wtf #moron";
    const LOAD_FILE: [u8; 16] =
        [0x91, 0x30, 0xec, 0x56, 0x4c, 0x95, 0xd2, 0x11, 0x8e, 0x3f, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b];
    let dummies: Vec<String> = [(DUMMY_LOAD_FILE, "LoadFile"), (DUMMY_PXE, "PXE base code")]
        .iter()
        .filter_map(|(g, what)| {
            find(data, g).map(|at| format!("dummy {what} GUID {:?} at {at:#x}", std::str::from_utf8(g).unwrap_or("")))
        })
        .collect();
    if !dummies.is_empty() {
        return Fact::known(EfiBootRole::DriverOnly, format!("EFI_DOWNGRADE_UX: {}", dummies.join("; ")));
    }
    match find(data, &LOAD_FILE) {
        Some(at) => Fact::known(
            EfiBootRole::FullStack,
            format!(
                "EFI_LOAD_FILE_PROTOCOL GUID 56EC3091-954C-11D2-8E3F-00A0C969723B at {at:#x} and neither EFI_DOWNGRADE_UX dummy GUID (\"#slow #unhelpful\", \"#udp #wtf #moron\") anywhere in the image"
            ),
        ),
        None => Fact::unknown("neither the LoadFile GUID nor an EFI_DOWNGRADE_UX dummy GUID is in the image"),
    }
}

/// Offsets of strings that look like iPXE device names, with the names.
fn identifier_strings(data: &[u8]) -> HashMap<usize, String> {
    let mut out = HashMap::new();
    let mut at = 0;
    while at < data.len() {
        if (at == 0 || data[at - 1] == 0)
            && let Some(s) = c_string_at(data, at, 32)
            && s.len() >= 2
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-+.".contains(&b))
        {
            let len = s.len();
            out.insert(at, s);
            at += len + 1;
            continue;
        }
        at += 1;
    }
    out
}

/// The device name a pointer lands on: a short lowercase identifier. It may
/// start inside a longer string, where the linker merged string tails.
fn device_name(data: &[u8], at: usize) -> Option<String> {
    let s = c_string_at(data, at, 32)?;
    (s.len() >= 2
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-+.".contains(&b)))
    .then_some(s)
}

fn plausible_id(vendor: u16, device: u16) -> bool {
    vendor != 0 && device != 0
}

/// PCI ID tables of a BIOS build's unpacked payload. Pointers there are
/// addresses in `.textdata`, which starts at an unknown offset of the payload:
/// runs of entries vote for the offset that makes their name pointers land on
/// name strings, and the winner must be backed by at least two runs.
fn legacy_pci_ids(data: &[u8], expected: Option<(u16, u16)>) -> Fact<Vec<PciId>> {
    // .textdata is linked at address 0 (pcbios.lds `.textdata 0x0`) and, in every
    // Debian build, its addresses are offsets into the unpacked payload: try that
    // first; only when it finds nothing, vote for another base.
    if let Some(found) = legacy_tables_at(data, 0) {
        return found;
    }
    let strings = identifier_strings(data);
    let entry = |at: usize| legacy_pci_entry(data, at);
    let mut votes: HashMap<i64, usize> = HashMap::new();
    let string_starts: Vec<usize> = strings.keys().copied().collect();
    // Voting costs pairs × strings; a cap keeps hostile payloads cheap.
    let mut work_left: usize = 8_000_000;
    let mut at = 0;
    while at + 2 * LEGACY_PCI_ENTRY_LEN <= data.len() && work_left > 0 {
        if let (Some((p0, v0, _)), Some((p1, v1, _))) = (entry(at), entry(at + LEGACY_PCI_ENTRY_LEN))
            && v0 == v1
            && p0 != p1
        {
            work_left = work_left.saturating_sub(string_starts.len());
            let mut bases = HashSet::new();
            for s in &string_starts {
                let base = *s as i64 - i64::from(p0);
                let second = i64::from(p1) + base;
                if second >= 0 && strings.contains_key(&(second as usize)) {
                    bases.insert(base);
                }
            }
            for b in bases {
                *votes.entry(b).or_default() += 1;
            }
        }
        at += 4;
    }
    // The best-supported bases; the driver-structure check decides.
    let mut ranked: Vec<(i64, usize)> = votes.into_iter().collect();
    ranked.sort_by_key(|(b, c)| (std::cmp::Reverse(*c), *b));
    for (base, votes) in ranked.into_iter().take(32) {
        let Some(found) = legacy_tables_at(data, base) else { continue };
        let ids = found.value.as_deref().unwrap_or_default();
        let anchored =
            votes >= 2 || expected.is_some_and(|(v, d)| ids.iter().any(|id| id.vendor == v && id.device == d));
        if anchored {
            return found;
        }
    }
    Fact::known(
        Vec::new(),
        "no struct pci_driver with a valid ID table in the unpacked payload: the build drives no PCI NIC itself (undionly.kpxe, for one, uses the NIC ROM's UNDI)".into(),
    )
}

/// Length of one 32-bit iPXE `struct pci_device_id`: name pointer, vendor, device,
/// driver data.
const LEGACY_PCI_ENTRY_LEN: usize = 12;

/// The `struct pci_device_id` at `at` in a 32-bit (BIOS) payload, when it looks like
/// one: (name pointer, vendor, device).
fn legacy_pci_entry(data: &[u8], at: usize) -> Option<(u32, u16, u16)> {
    let b = data.get(at..at + LEGACY_PCI_ENTRY_LEN)?;
    let ptr = u32::from_le_bytes(b[0..4].try_into().ok()?);
    let vendor = u16::from_le_bytes([b[4], b[5]]);
    let device = u16::from_le_bytes([b[6], b[7]]);
    let driver_data = u32::from_le_bytes(b[8..12].try_into().ok()?);
    ((ptr as usize) < data.len() && plausible_id(vendor, device) && driver_data < 0x0100_0000)
        .then_some((ptr, vendor, device))
}

fn legacy_tables_at(data: &[u8], base: i64) -> Option<Fact<Vec<PciId>>> {
    let entry = |at: usize| legacy_pci_entry(data, at);
    let map = |ptr: u64| -> Option<usize> {
        let at = i64::try_from(ptr).ok()? + base;
        usize::try_from(at).ok()
    };
    let entry_at = |at: usize| -> Option<PciId> {
        let (ptr, vendor, device) = entry(at)?;
        let name = device_name(data, map(u64::from(ptr))?)?;
        Some(PciId { vendor, device, name })
    };
    let (ids, tables) = driver_tables(data, 4, LEGACY_PCI_ENTRY_LEN, &map, &entry_at)?;
    Some(Fact::known(
        ids,
        format!(
            "struct pci_driver entries (ID-table pointer, ID count) at {tables}, each pointing at that many 12-byte i386 struct pci_device_id entries (name pointer, vendor, device, driver data); pointers are .textdata addresses, .textdata at payload offset {base:#x}"
        ),
    ))
}

/// Find `struct pci_driver` entries: an ID-table pointer followed by an ID count,
/// whose table holds exactly that many valid `struct pci_device_id` entries.
fn driver_tables(
    data: &[u8],
    ptr_size: usize,
    stride: usize,
    map: &dyn Fn(u64) -> Option<usize>,
    entry_at: &dyn Fn(usize) -> Option<PciId>,
) -> Option<(Vec<PciId>, String)> {
    let mut ids = Vec::new();
    let mut tables = Vec::new();
    let mut at = 0;
    while at + ptr_size + 4 <= data.len() {
        let ptr = if ptr_size == 8 {
            u64::from_le_bytes(data[at..at + 8].try_into().ok()?)
        } else {
            u64::from(u32::from_le_bytes(data[at..at + 4].try_into().ok()?))
        };
        let count = u32::from_le_bytes(data[at + ptr_size..at + ptr_size + 4].try_into().ok()?) as usize;
        if (1..=1024).contains(&count)
            && let Some(table) = map(ptr)
            && table % ptr_size == 0
            && let Some(run) = (0..count).map(|k| entry_at(table + k * stride)).collect::<Option<Vec<_>>>()
        {
            tables.push(format!("{at:#x} ({count} IDs at {table:#x})"));
            ids.extend(run);
        }
        at += ptr_size;
    }
    (!ids.is_empty()).then(|| (dedup(ids), tables.join(", ")))
}

/// PCI ID tables of a PE image: pointers are virtual addresses, mapped through
/// the section table.
fn pe_pci_ids(data: &[u8]) -> Fact<Vec<PciId>> {
    let Some(map) = SectionMap::new(data) else {
        return Fact::unknown("PE section table unreadable");
    };
    let (stride, ptr_size) = if map.pe32_plus { (24usize, 8usize) } else { (12, 4) };
    let entry = |at: usize| -> Option<PciId> {
        let b = data.get(at..at + stride)?;
        let ptr = if ptr_size == 8 {
            u64::from_le_bytes(b[0..8].try_into().ok()?)
        } else {
            u64::from(u32::from_le_bytes(b[0..4].try_into().ok()?))
        };
        let vendor = u16::from_le_bytes([b[ptr_size], b[ptr_size + 1]]);
        let device = u16::from_le_bytes([b[ptr_size + 2], b[ptr_size + 3]]);
        if ptr_size == 8 && b[12..16] != [0, 0, 0, 0] {
            return None;
        }
        if !plausible_id(vendor, device) {
            return None;
        }
        let name = device_name(data, map.file_offset(ptr)?)?;
        Some(PciId { vendor, device, name })
    };
    let map = |va: u64| map.file_offset(va);
    match driver_tables(data, ptr_size, stride, &map, &entry) {
        Some((ids, tables)) => Fact::known(
            ids,
            format!(
                "struct pci_driver entries (ID-table pointer, ID count) at {tables}, each pointing at that many {stride}-byte struct pci_device_id entries (name pointer, vendor, device, driver data); pointers mapped through the PE section table"
            ),
        ),
        None => Fact::known(
            Vec::new(),
            "no struct pci_driver with a valid ID table: the image drives no PCI NIC itself (snponly.efi, for one, runs on the firmware's SNP/NII)".into(),
        ),
    }
}

fn dedup(ids: Vec<PciId>) -> Vec<PciId> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert((id.vendor, id.device, id.name.clone()))).collect()
}

struct SectionMap {
    image_base: u64,
    pe32_plus: bool,
    /// (rva, virtual size, file offset, raw size)
    sections: Vec<(u64, u64, u64, u64)>,
}

impl SectionMap {
    fn new(data: &[u8]) -> Option<SectionMap> {
        fn collect<H: ImageNtHeaders>(file: &object::read::pe::PeFile<'_, H>, plus: bool) -> SectionMap {
            let sections = file
                .section_table()
                .iter()
                .map(|s| {
                    (
                        u64::from(s.virtual_address.get(LE)),
                        u64::from(s.virtual_size.get(LE)),
                        u64::from(s.pointer_to_raw_data.get(LE)),
                        u64::from(s.size_of_raw_data.get(LE)),
                    )
                })
                .collect();
            SectionMap { image_base: file.nt_headers().optional_header().image_base(), pe32_plus: plus, sections }
        }
        match object::read::pe::optional_header_magic(data).ok()? {
            object::pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => Some(collect(&PeFile32::parse(data).ok()?, false)),
            object::pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => Some(collect(&PeFile64::parse(data).ok()?, true)),
            _ => None,
        }
    }

    fn file_offset(&self, va: u64) -> Option<usize> {
        let rva = va.checked_sub(self.image_base)?;
        self.sections.iter().find_map(|&(start, vsize, raw, rsize)| {
            let within = rva.checked_sub(start)?;
            (within < vsize.min(rsize)).then(|| usize::try_from(raw + within).ok()).flatten()
        })
    }
}

fn c_string_at(data: &[u8], at: usize, max: usize) -> Option<String> {
    let rest = data.get(at..)?;
    let end = rest.iter().take(max + 1).position(|b| *b == 0)?;
    let s = &rest[..end];
    (!s.is_empty() && s.iter().all(|b| b.is_ascii_graphic() || *b == b' '))
        .then(|| String::from_utf8_lossy(s).into_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert_eq!(
            module_name("/build/OvmfX64/RELEASE_GCC5/X64/OvmfPkg/VirtioNetDxe/VirtioNetDxe/DEBUG/VirtioNetDxe.dll"),
            "VirtioNetDxe"
        );
        assert_eq!(module_name(r"c:\b\VirtioNetDxe.pdb"), "VirtioNetDxe");
    }

    #[test]
    fn feature_table_needs_feature_options_around_the_version() {
        let mut data = vec![0u8; 64];
        data[10..15].copy_from_slice(&[0xEB, 3, 1, 21, 1]);
        assert!(find_feature_table(&data).is_none(), "a lone EB 03 is no table");
        data[15..18].copy_from_slice(&[0x13, 1, 1]);
        data[7..10].copy_from_slice(&[0x17, 1, 1]);
        let t = find_feature_table(&data).unwrap();
        assert_eq!((t.start, t.end, t.version), (7, 18, (1, 21, 1)));
    }

    #[test]
    fn downgrade_guid_decides_driver_only() {
        let mut data = vec![0u8; 256];
        data[100..116].copy_from_slice(b"#slow #unhelpful");
        let f = efi_boot_role(&data);
        assert_eq!(f.value, Some(EfiBootRole::DriverOnly));
        assert!(f.evidence.contains("0x64"), "{}", f.evidence);
        assert!(efi_boot_role(&[0u8; 64]).value.is_none());
    }
}
