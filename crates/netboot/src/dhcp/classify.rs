//! Who is asking: every request becomes a typed [`Classification`] for the boot policy —
//! firmware kind (PXE, UEFI HTTP boot, iPXE), architecture from the raw option 93 codes (IANA
//! "Processor Architecture Types", not dhcproto's pre-erratum labels where 7 and 9 are swapped),
//! MAC, UUID (option 97), option 60 fields, user class (option 77 raw or RFC 3004), and iPXE's
//! option 175 feature flags.

use std::fmt;

use super::packet::{MacAddr, RawOptions, code};

/// What a processor architecture code (option 93) names: the CPU. Variant names follow the
/// IANA registry entries.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cpu {
    X86,
    Ia32,
    X64,
    /// EFI Byte Code (code 9/17). Real clients that send 9 are x64 machines (VMware), so the
    /// default boot table treats it as [`Cpu::X64`].
    Ebc,
    Arm32,
    Arm64,
    RiscV32,
    RiscV64,
    RiscV128,
    LoongArch32,
    LoongArch64,
    Itanium,
    PowerPc,
    S390,
    Mips32,
    Mips64,
    Sunway32,
    Sunway64,
    /// A deprecated or unassigned code.
    Other,
}

/// How the client boots: which firmware interface and download protocol the code implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// PC BIOS PXE.
    Bios,
    /// UEFI PXE (TFTP).
    Uefi,
    /// UEFI HTTP boot.
    UefiHttp,
    /// pc/at BIOS HTTP (code 20).
    BiosHttp,
    /// U-Boot PXE.
    UBoot,
    /// U-Boot HTTP.
    UBootHttp,
    /// PowerPC Open Firmware / ePAPR / OPAL, s390.
    Firmware,
    /// Raspberry Pi rpiboot (code 41).
    RpiBoot,
    /// Deprecated or unassigned.
    Other,
}

/// The IANA registry (netboot.md §2.3), written once: code, CPU, platform, name.
const ARCH_TABLE: &[(u16, Cpu, Platform, &str)] = &[
    (0, Cpu::X86, Platform::Bios, "x86 BIOS"),
    (1, Cpu::Other, Platform::Other, "NEC/PC98 (deprecated)"),
    (2, Cpu::Itanium, Platform::Other, "Itanium"),
    (3, Cpu::Other, Platform::Other, "DEC Alpha (deprecated)"),
    (4, Cpu::Other, Platform::Other, "Arc x86 (deprecated)"),
    (5, Cpu::Other, Platform::Other, "Intel Lean Client (deprecated)"),
    (6, Cpu::Ia32, Platform::Uefi, "x86 UEFI (IA32)"),
    (7, Cpu::X64, Platform::Uefi, "x64 UEFI"),
    (8, Cpu::Other, Platform::Other, "EFI Xscale (deprecated)"),
    (9, Cpu::Ebc, Platform::Uefi, "EBC"),
    (10, Cpu::Arm32, Platform::Uefi, "ARM 32-bit UEFI"),
    (11, Cpu::Arm64, Platform::Uefi, "ARM 64-bit UEFI"),
    (12, Cpu::PowerPc, Platform::Firmware, "PowerPC Open Firmware"),
    (13, Cpu::PowerPc, Platform::Firmware, "PowerPC ePAPR"),
    (14, Cpu::PowerPc, Platform::Firmware, "POWER OPAL v3"),
    (15, Cpu::Ia32, Platform::UefiHttp, "x86 UEFI HTTP"),
    (16, Cpu::X64, Platform::UefiHttp, "x64 UEFI HTTP"),
    (17, Cpu::Ebc, Platform::UefiHttp, "EBC HTTP"),
    (18, Cpu::Arm32, Platform::UefiHttp, "ARM 32-bit UEFI HTTP"),
    (19, Cpu::Arm64, Platform::UefiHttp, "ARM 64-bit UEFI HTTP"),
    (20, Cpu::X86, Platform::BiosHttp, "pc/at BIOS HTTP"),
    (21, Cpu::Arm32, Platform::UBoot, "ARM 32-bit U-Boot"),
    (22, Cpu::Arm64, Platform::UBoot, "ARM 64-bit U-Boot"),
    (23, Cpu::Arm32, Platform::UBootHttp, "ARM 32-bit U-Boot HTTP"),
    (24, Cpu::Arm64, Platform::UBootHttp, "ARM 64-bit U-Boot HTTP"),
    (25, Cpu::RiscV32, Platform::Uefi, "RISC-V 32-bit UEFI"),
    (26, Cpu::RiscV32, Platform::UefiHttp, "RISC-V 32-bit UEFI HTTP"),
    (27, Cpu::RiscV64, Platform::Uefi, "RISC-V 64-bit UEFI"),
    (28, Cpu::RiscV64, Platform::UefiHttp, "RISC-V 64-bit UEFI HTTP"),
    (29, Cpu::RiscV128, Platform::Uefi, "RISC-V 128-bit UEFI"),
    (30, Cpu::RiscV128, Platform::UefiHttp, "RISC-V 128-bit UEFI HTTP"),
    (31, Cpu::S390, Platform::Firmware, "s390 Basic"),
    (32, Cpu::S390, Platform::Firmware, "s390 Extended"),
    (33, Cpu::Mips32, Platform::Uefi, "MIPS 32-bit UEFI"),
    (34, Cpu::Mips64, Platform::Uefi, "MIPS 64-bit UEFI"),
    (35, Cpu::Sunway32, Platform::Uefi, "Sunway 32-bit UEFI"),
    (36, Cpu::Sunway64, Platform::Uefi, "Sunway 64-bit UEFI"),
    (37, Cpu::LoongArch32, Platform::Uefi, "LoongArch 32-bit UEFI"),
    (38, Cpu::LoongArch32, Platform::UefiHttp, "LoongArch 32-bit UEFI HTTP"),
    (39, Cpu::LoongArch64, Platform::Uefi, "LoongArch 64-bit UEFI"),
    (40, Cpu::LoongArch64, Platform::UefiHttp, "LoongArch 64-bit UEFI HTTP"),
    (41, Cpu::Arm64, Platform::RpiBoot, "ARM rpiboot"),
];

/// A client system architecture: the raw option 93 code, and what the IANA registry says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arch {
    /// The raw code as sent.
    pub code: u16,
    /// The CPU the code names.
    pub cpu: Cpu,
    /// The firmware interface and download protocol it implies.
    pub platform: Platform,
}

impl Arch {
    /// Maps a raw code; unassigned codes (such as iPXE s390x's 0xffff) become `Cpu::Other`.
    pub fn from_code(code: u16) -> Arch {
        match ARCH_TABLE.iter().find(|(c, ..)| *c == code) {
            Some(&(_, cpu, platform, _)) => Arch { code, cpu, platform },
            None => Arch { code, cpu: Cpu::Other, platform: Platform::Other },
        }
    }

    /// The registry's name ("x64 UEFI"), or "unassigned".
    pub fn name(&self) -> &'static str {
        ARCH_TABLE.iter().find(|(c, ..)| *c == self.code).map_or("unassigned", |e| e.3)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code, self.name())
    }
}

/// Option 60 as clients send it: `PXEClient:Arch:xxxxx:UNDI:yyyzzz`, `HTTPClient:…`, or other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorClass {
    /// Starts with `PXEClient`.
    PxeClient(VendorClassFields),
    /// Starts with `HTTPClient`.
    HttpClient(VendorClassFields),
    /// Anything else, lossy UTF-8.
    Other(String),
}

/// The `Arch:` and `UNDI:` fields of a PXE/HTTP vendor class (both decimal per the PXE spec).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VendorClassFields {
    /// The `Arch:` field (decimal), e.g. 7 for `Arch:00007`.
    pub arch: Option<u16>,
    /// UNDI major and minor version (`UNDI:003010` = 3.10).
    pub undi: Option<(u16, u16)>,
}

impl VendorClass {
    /// Parses option 60. Fields that are absent or malformed are `None`; the class still counts.
    pub fn parse(raw: &[u8]) -> VendorClass {
        let text = String::from_utf8_lossy(raw);
        let fields = || {
            let mut f = VendorClassFields::default();
            let parts: Vec<&str> = text.split(':').collect();
            for pair in parts.windows(2) {
                let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
                match pair {
                    ["Arch", v] if digits(v, 5) => f.arch = v.parse().ok(),
                    ["UNDI", v] if digits(v, 6) => {
                        f.undi = v[..3].parse().ok().zip(v[3..].parse().ok());
                    }
                    _ => {}
                }
            }
            f
        };
        if raw.starts_with(b"PXEClient") {
            VendorClass::PxeClient(fields())
        } else if raw.starts_with(b"HTTPClient") {
            VendorClass::HttpClient(fields())
        } else {
            VendorClass::Other(text.into_owned())
        }
    }
}

/// Option 77: RFC 3004 says a list of length-prefixed strings; iPXE sends its name raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserClass {
    /// The lengths added up: an RFC 3004 list.
    Rfc3004(Vec<Vec<u8>>),
    /// They did not: one raw string (iPXE, many firmwares).
    Raw(Vec<u8>),
}

impl UserClass {
    /// Parses option 77; an RFC 3004 list only if every length is non-zero and they add up.
    pub fn parse(raw: &[u8]) -> UserClass {
        let mut items = Vec::new();
        let mut at = 0;
        while at < raw.len() {
            let len = raw[at] as usize;
            if len == 0 || at + 1 + len > raw.len() {
                return UserClass::Raw(raw.to_vec());
            }
            items.push(raw[at + 1..at + 1 + len].to_vec());
            at += 1 + len;
        }
        if items.is_empty() { UserClass::Raw(raw.to_vec()) } else { UserClass::Rfc3004(items) }
    }

    /// True if one of the classes equals `name` exactly.
    pub fn contains(&self, name: &[u8]) -> bool {
        match self {
            UserClass::Rfc3004(items) => items.iter().any(|i| i == name),
            UserClass::Raw(r) => r == name,
        }
    }
}

/// iPXE feature codes sent as option 175 sub-options (iPXE `include/ipxe/features.h`); the
/// names are iPXE's feature names.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpxeFeature {
    PxeExt,
    Iscsi,
    Aoe,
    Http,
    Https,
    Tftp,
    Ftp,
    Dns,
    BzImage,
    Multiboot,
    Slam,
    Srp,
    Nbi,
    PxeImage,
    Elf,
    Comboot,
    Efi,
    Fcoe,
    Vlan,
    Menu,
    Sdi,
    Nfs,
}

/// Feature code table, written once.
const IPXE_FEATURES: &[(u8, IpxeFeature)] = &[
    (0x10, IpxeFeature::PxeExt),
    (0x11, IpxeFeature::Iscsi),
    (0x12, IpxeFeature::Aoe),
    (0x13, IpxeFeature::Http),
    (0x14, IpxeFeature::Https),
    (0x15, IpxeFeature::Tftp),
    (0x16, IpxeFeature::Ftp),
    (0x17, IpxeFeature::Dns),
    (0x18, IpxeFeature::BzImage),
    (0x19, IpxeFeature::Multiboot),
    (0x1a, IpxeFeature::Slam),
    (0x1b, IpxeFeature::Srp),
    (0x20, IpxeFeature::Nbi),
    (0x21, IpxeFeature::PxeImage),
    (0x22, IpxeFeature::Elf),
    (0x23, IpxeFeature::Comboot),
    (0x24, IpxeFeature::Efi),
    (0x25, IpxeFeature::Fcoe),
    (0x26, IpxeFeature::Vlan),
    (0x27, IpxeFeature::Menu),
    (0x28, IpxeFeature::Sdi),
    (0x29, IpxeFeature::Nfs),
];

/// Option 175 sub-option: the bus the NIC sits on (type, vendor, device).
const IPXE_BUS_ID: u8 = 0xb1;
/// Option 175 sub-option: the iPXE version (major, minor, patch).
const IPXE_VERSION: u8 = 0xeb;
/// Option 175, server to client: "do not wait for ProxyDHCP offers".
pub const IPXE_NO_PXEDHCP: u8 = 0xb0;

/// What an iPXE client told about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpxeInfo {
    /// Option 175 was present (every iPXE build sends it).
    pub encapsulated: bool,
    /// Option 77 was exactly `iPXE` (a custom `set user-class` changes this).
    pub user_class_ipxe: bool,
    /// Features and their version bytes, in the order sent.
    pub features: Vec<(IpxeFeature, u8)>,
    /// iPXE version (major, minor, patch).
    pub version: Option<(u8, u8, u8)>,
    /// NIC bus: (bus type, vendor, device), e.g. (1 = PCI, 0x1af4, 0x1000).
    pub bus_id: Option<(u8, u16, u16)>,
}

impl IpxeInfo {
    /// True if the client advertises `feature`.
    pub fn has(&self, feature: IpxeFeature) -> bool {
        self.features.iter().any(|(f, _)| *f == feature)
    }

    fn parse_encapsulated(&mut self, raw: &[u8]) {
        self.encapsulated = true;
        let mut at = 0;
        while at + 1 < raw.len() {
            let (sub, len) = (raw[at], raw[at + 1] as usize);
            let Some(value) = raw.get(at + 2..at + 2 + len) else { break };
            if let Some(&(_, f)) = IPXE_FEATURES.iter().find(|(c, _)| *c == sub) {
                self.features.push((f, value.first().copied().unwrap_or(0)));
            } else if sub == IPXE_VERSION
                && let [a, b, c] = *value
            {
                self.version = Some((a, b, c));
            } else if sub == IPXE_BUS_ID
                && let [t, v0, v1, d0, d1] = *value
            {
                self.bus_id = Some((t, u16::from_be_bytes([v0, v1]), u16::from_be_bytes([d0, d1])));
            }
            at += 2 + len;
        }
    }
}

/// The boot-relevant personality of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Firmware {
    /// A firmware PXE stack (BIOS or UEFI): option 60 `PXEClient`, no iPXE markers.
    Pxe,
    /// A UEFI HTTP boot client: option 60 `HTTPClient`.
    HttpBoot,
    /// iPXE, from a NIC ROM or chainloaded: option 175 or user class `iPXE`.
    Ipxe,
    /// A plain DHCP client (an OS, udhcpc).
    Other,
}

/// Everything the boot policy may decide on, parsed once at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// The client hardware address (chaddr).
    pub mac: MacAddr,
    /// The personality: firmware PXE, UEFI HTTP boot, iPXE or a plain client.
    pub firmware: Firmware,
    /// The first option 93 code, or option 60's `Arch:` field when option 93 is absent.
    pub arch: Option<Arch>,
    /// Every option 93 code as sent (RFC 4578 allows a list).
    pub arch_codes: Vec<u16>,
    /// Option 60, parsed.
    pub vendor_class: Option<VendorClass>,
    /// Option 77, parsed.
    pub user_class: Option<UserClass>,
    /// Present for [`Firmware::Ipxe`].
    pub ipxe: Option<IpxeInfo>,
    /// Option 97 as sent (echoed in replies; Pixiecore's rule: length 0 or 17 with type 0).
    pub machine_id: Option<Vec<u8>>,
    /// The 16-byte GUID of a well-formed option 97, in wire order.
    pub uuid: Option<[u8; 16]>,
    /// Option 94: (interface type, major, minor).
    pub network_interface: Option<(u8, u8, u8)>,
}

impl Classification {
    /// The UUID as iPXE's `${uuid}` prints it (wire byte order, 8-4-4-4-12).
    pub fn uuid_string(&self) -> Option<String> {
        self.uuid.map(|u| {
            let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
        })
    }

    /// True if option 60 asked for a PXE or HTTP boot (the clients a proxyDHCP answers).
    pub fn is_netboot(&self) -> bool {
        matches!(self.vendor_class, Some(VendorClass::PxeClient(_) | VendorClass::HttpClient(_)))
    }
}

/// Builds the classification from the raw options of one request.
pub(crate) fn classify(mac: MacAddr, options: &RawOptions) -> Classification {
    let arch_codes: Vec<u16> = options
        .get(code::CLIENT_ARCH)
        .map(|raw| raw.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect())
        .unwrap_or_default();
    let vendor_class = options.get(code::VENDOR_CLASS).map(VendorClass::parse);
    let user_class = options.get(code::USER_CLASS).map(UserClass::parse);
    let vendor_arch = match &vendor_class {
        Some(VendorClass::PxeClient(f) | VendorClass::HttpClient(f)) => f.arch,
        _ => None,
    };
    let arch = arch_codes.first().copied().or(vendor_arch).map(Arch::from_code);

    let user_class_ipxe = user_class.as_ref().is_some_and(|u| u.contains(b"iPXE"));
    let ipxe = match options.get(code::IPXE_ENCAP) {
        Some(raw) => {
            let mut info = IpxeInfo { user_class_ipxe, ..IpxeInfo::default() };
            info.parse_encapsulated(raw);
            Some(info)
        }
        None if user_class_ipxe => Some(IpxeInfo { user_class_ipxe, ..IpxeInfo::default() }),
        None => None,
    };
    let firmware = match (&ipxe, &vendor_class) {
        (Some(_), _) => Firmware::Ipxe,
        (None, Some(VendorClass::HttpClient(_))) => Firmware::HttpBoot,
        (None, Some(VendorClass::PxeClient(_))) => Firmware::Pxe,
        _ => Firmware::Other,
    };
    let machine_id = options.get(code::MACHINE_ID).map(<[u8]>::to_vec);
    let uuid = match machine_id.as_deref() {
        Some([0, guid @ ..]) if guid.len() == 16 => guid.try_into().ok(),
        _ => None,
    };
    let network_interface = match options.get(code::CLIENT_NDI) {
        Some(&[t, major, minor]) => Some((t, major, minor)),
        _ => None,
    };
    Classification {
        mac,
        firmware,
        arch,
        arch_codes,
        vendor_class,
        user_class,
        ipxe,
        machine_id,
        uuid,
        network_interface,
    }
}
