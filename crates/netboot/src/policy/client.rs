//! What the policy knows about one client: the facts a decision may depend on, parsed once at
//! the edge. DHCP fills them from a classified request (option 93 code, PXE/HTTP/iPXE class, MAC,
//! option 97 UUID); the script endpoint fills them from the variables iPXE reports in the query
//! string of the bootstrap chain ([`ClientFacts::from_ipxe_query`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A MAC address, printed the way iPXE prints `${mac}` (lowercase, colon-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    type Err = String;

    /// Accepts `52:54:00:12:34:56`, `52-54-00-12-34-56` (iPXE's `${mac:hexhyp}`) and
    /// `525400123456` (`${mac:hexraw}`), any case.
    fn from_str(text: &str) -> Result<Mac, String> {
        let digits: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
        let separators = text.len() - digits.len();
        let bad = || format!("invalid MAC address {text:?} (expected six hex bytes, e.g. 52:54:00:12:34:56)");
        if digits.len() != 12 || !(separators == 0 || separators == 5) {
            return Err(bad());
        }
        let mut mac = [0u8; 6];
        for (i, byte) in mac.iter_mut().enumerate() {
            *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
        }
        Ok(Mac(mac))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// An SMBIOS/option 97 UUID as iPXE's `${uuid}` prints it: lowercase 8-4-4-4-12 hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(String);

impl Uuid {
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Uuid {
    type Err = String;

    fn from_str(text: &str) -> Result<Uuid, String> {
        let lower = text.to_ascii_lowercase();
        let groups: Vec<&str> = lower.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(format!("invalid UUID {text:?} (expected 8-4-4-4-12 hex digits)"));
        }
        Ok(Uuid(lower))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The CPU and firmware interface a client boots with; decides which iPXE build it needs and
/// whether multiboot is possible (iPXE builds its multiboot loader only for PC BIOS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientArch {
    /// PC BIOS (option 93 code 0; iPXE `${platform}` = `pcbios`).
    Bios,
    /// 32-bit x86 UEFI (codes 6, 15).
    Ia32,
    /// x64 UEFI (codes 7, 16; and 9/17, EBC, which real x64 machines send).
    X64,
    /// 32-bit ARM UEFI (codes 10, 18).
    Arm32,
    /// 64-bit ARM UEFI (codes 11, 19).
    Arm64,
    /// 64-bit RISC-V UEFI (codes 27, 28).
    RiscV64,
    /// 64-bit LoongArch UEFI (codes 39, 40).
    Loong64,
}

/// Names used in the config file and on the command line, written once.
const ARCH_NAMES: &[(ClientArch, &str)] = &[
    (ClientArch::Bios, "bios"),
    (ClientArch::Ia32, "ia32"),
    (ClientArch::X64, "x64"),
    (ClientArch::Arm32, "arm32"),
    (ClientArch::Arm64, "arm64"),
    (ClientArch::RiscV64, "riscv64"),
    (ClientArch::Loong64, "loong64"),
];

impl ClientArch {
    /// Every architecture the policy serves, in the order `--check` prints them.
    pub const ALL: [ClientArch; 7] = [
        ClientArch::Bios,
        ClientArch::Ia32,
        ClientArch::X64,
        ClientArch::Arm32,
        ClientArch::Arm64,
        ClientArch::RiscV64,
        ClientArch::Loong64,
    ];

    /// Maps an option 93 code (IANA "Processor Architecture Types"; 7 is x64 UEFI per RFC 4578
    /// erratum 4624) to the architecture and whether the code is a UEFI HTTP boot code.
    /// Returns `None` for codes this policy cannot serve.
    pub fn from_dhcp_code(code: u16) -> Option<(ClientArch, bool)> {
        Some(match code {
            0 => (ClientArch::Bios, false),
            6 => (ClientArch::Ia32, false),
            7 | 9 => (ClientArch::X64, false),
            10 => (ClientArch::Arm32, false),
            11 => (ClientArch::Arm64, false),
            15 => (ClientArch::Ia32, true),
            16 | 17 => (ClientArch::X64, true),
            18 => (ClientArch::Arm32, true),
            19 => (ClientArch::Arm64, true),
            27 => (ClientArch::RiscV64, false),
            28 => (ClientArch::RiscV64, true),
            39 => (ClientArch::Loong64, false),
            40 => (ClientArch::Loong64, true),
            _ => return None,
        })
    }

    /// Maps iPXE's `${platform}` and `${buildarch}`. BIOS iPXE reports `i386` even on x86-64
    /// CPUs, so `pcbios` alone means [`ClientArch::Bios`].
    pub fn from_ipxe(platform: &str, buildarch: &str) -> Option<ClientArch> {
        match (platform, buildarch) {
            ("pcbios", _) => Some(ClientArch::Bios),
            ("efi", "i386") => Some(ClientArch::Ia32),
            ("efi", "x86_64") => Some(ClientArch::X64),
            ("efi", "arm32") => Some(ClientArch::Arm32),
            ("efi", "arm64") => Some(ClientArch::Arm64),
            ("efi", "riscv64") => Some(ClientArch::RiscV64),
            ("efi", "loong64") => Some(ClientArch::Loong64),
            _ => None,
        }
    }

    /// The config name (`bios`, `x64`, …).
    pub fn name(self) -> &'static str {
        ARCH_NAMES.iter().find(|(a, _)| *a == self).map_or("?", |(_, n)| n)
    }

    /// True for every UEFI architecture (no iPXE multiboot there).
    pub fn is_efi(self) -> bool {
        self != ClientArch::Bios
    }

    /// What iPXE reports as `${platform}` on this architecture.
    pub fn ipxe_platform(self) -> &'static str {
        if self.is_efi() { "efi" } else { "pcbios" }
    }

    /// What iPXE reports as `${buildarch}` on this architecture.
    pub fn ipxe_buildarch(self) -> &'static str {
        match self {
            ClientArch::Bios | ClientArch::Ia32 => "i386",
            ClientArch::X64 => "x86_64",
            ClientArch::Arm32 => "arm32",
            ClientArch::Arm64 => "arm64",
            ClientArch::RiscV64 => "riscv64",
            ClientArch::Loong64 => "loong64",
        }
    }
}

impl FromStr for ClientArch {
    type Err = String;

    /// A config name (`x64`) or a raw option 93 code (`7`).
    fn from_str(text: &str) -> Result<ClientArch, String> {
        if let Some((arch, _)) = ARCH_NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(text)) {
            return Ok(*arch);
        }
        if let Ok(code) = text.parse::<u16>() {
            return ClientArch::from_dhcp_code(code)
                .map(|(a, _)| a)
                .ok_or_else(|| format!("architecture code {code} is not served (see docs/boot-config.md)"));
        }
        let names: Vec<&str> = ARCH_NAMES.iter().map(|(_, n)| *n).collect();
        Err(format!("unknown architecture {text:?} (one of {} or an option 93 code)", names.join(", ")))
    }
}

impl fmt::Display for ClientArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which boot stage is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FirmwareClass {
    /// A firmware PXE stack (BIOS or UEFI): gets an iPXE boot file over TFTP.
    Pxe,
    /// A UEFI HTTP boot client: gets the iPXE EFI file as an `http://` URL.
    HttpBoot,
    /// iPXE (a NIC ROM's or the one we served): gets the script, never the boot file again.
    Ipxe,
}

const FIRMWARE_NAMES: &[(FirmwareClass, &str)] =
    &[(FirmwareClass::Pxe, "pxe"), (FirmwareClass::HttpBoot, "http"), (FirmwareClass::Ipxe, "ipxe")];

impl FirmwareClass {
    /// Every class, in the order `--check` prints them.
    pub const ALL: [FirmwareClass; 3] = [FirmwareClass::Pxe, FirmwareClass::HttpBoot, FirmwareClass::Ipxe];

    /// The config name (`pxe`, `http`, `ipxe`).
    pub fn name(self) -> &'static str {
        FIRMWARE_NAMES.iter().find(|(c, _)| *c == self).map_or("?", |(_, n)| n)
    }
}

impl FromStr for FirmwareClass {
    type Err = String;

    fn from_str(text: &str) -> Result<FirmwareClass, String> {
        FIRMWARE_NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text))
            .map(|(c, _)| *c)
            .ok_or_else(|| format!("unknown firmware class {text:?} (one of pxe, http, ipxe)"))
    }
}

impl fmt::Display for FirmwareClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The iPXE settings a client reports to the script endpoint, by template name. The names are
/// iPXE's setting names with `-` written `_` (`next-server` is `next_server`); a template always
/// sees all of them (empty when the client did not report one).
pub const IPXE_VARIABLES: &[&str] = &[
    "mac",
    "uuid",
    "buildarch",
    "platform",
    "serial",
    "manufacturer",
    "product",
    "asset",
    "busid",
    "chip",
    "version",
    "hostname",
    "ip",
    "next_server",
    "memsize",
    "unixtime",
];

/// The iPXE setting (and type suffix) each template variable is read from in the bootstrap
/// chain; `uristring` percent-encodes free text so it survives the query string.
const IPXE_QUERY_SOURCES: &[(&str, &str)] = &[
    ("mac", "mac"),
    ("uuid", "uuid"),
    ("buildarch", "buildarch"),
    ("platform", "platform"),
    ("serial", "serial:uristring"),
    ("manufacturer", "manufacturer:uristring"),
    ("product", "product:uristring"),
    ("asset", "asset:uristring"),
    ("busid", "busid"),
    ("chip", "chip:uristring"),
    ("version", "version:uristring"),
    ("hostname", "hostname:uristring"),
    ("ip", "ip"),
    ("next_server", "next-server"),
    ("memsize", "memsize"),
    ("unixtime", "unixtime"),
];

/// Everything a decision may depend on for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFacts {
    /// The client's MAC (absent only in `--check`'s anonymous clients).
    pub mac: Option<Mac>,
    /// SMBIOS UUID (option 97 or `${uuid}`).
    pub uuid: Option<Uuid>,
    /// The architecture it boots with.
    pub arch: ClientArch,
    /// Which boot stage is asking.
    pub firmware: FirmwareClass,
    /// From DHCP option 12, iPXE's `${hostname}`, or the machine inventory.
    pub hostname: Option<String>,
    /// Extra labels from the caller; the machine inventory adds its own.
    pub labels: Vec<String>,
    /// iPXE settings as reported (names from [`IPXE_VARIABLES`]).
    pub ipxe: BTreeMap<String, String>,
}

impl ClientFacts {
    /// Facts with only an architecture and class (what `--check` renders for).
    pub fn anonymous(arch: ClientArch, firmware: FirmwareClass) -> ClientFacts {
        ClientFacts { mac: None, uuid: None, arch, firmware, hostname: None, labels: Vec::new(), ipxe: BTreeMap::new() }
    }

    /// Parses the query of a script request made by the bootstrap chain
    /// ([`bootstrap_script`]). Returns `Ok(None)` when the request carries no `mac` (a client that
    /// has not been through the bootstrap yet), an error naming the field when a value is bad.
    pub fn from_ipxe_query(query: &[(String, String)]) -> Result<Option<ClientFacts>, String> {
        let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let Some(mac_text) = get("mac").filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        let mac = mac_text.parse::<Mac>().map_err(|e| format!("query field mac: {e}"))?;
        let platform = get("platform").unwrap_or("");
        let buildarch = get("buildarch").unwrap_or("");
        let arch = ClientArch::from_ipxe(platform, buildarch).ok_or_else(|| {
            format!("query fields platform/buildarch: {platform:?}/{buildarch:?} is not a served iPXE platform")
        })?;
        let uuid = match get("uuid").filter(|u| !u.is_empty()) {
            Some(u) => Some(u.parse::<Uuid>().map_err(|e| format!("query field uuid: {e}"))?),
            None => None,
        };
        let ipxe: BTreeMap<String, String> = IPXE_VARIABLES
            .iter()
            .filter_map(|name| get(name).filter(|v| !v.is_empty()).map(|v| (name.to_string(), v.to_string())))
            .collect();
        Ok(Some(ClientFacts {
            mac: Some(mac),
            uuid,
            arch,
            firmware: FirmwareClass::Ipxe,
            hostname: get("hostname").filter(|h| !h.is_empty()).map(str::to_string),
            labels: Vec::new(),
            ipxe,
        }))
    }

    /// The value a template sees for iPXE variable `name`: what the client reported, else what
    /// the facts imply (MAC, UUID, platform, buildarch), else empty.
    pub fn ipxe_value(&self, name: &str) -> String {
        if let Some(v) = self.ipxe.get(name) {
            return v.clone();
        }
        match name {
            "mac" => self.mac.map(|m| m.to_string()).unwrap_or_default(),
            "uuid" => self.uuid.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            "platform" => self.arch.ipxe_platform().into(),
            "buildarch" => self.arch.ipxe_buildarch().into(),
            "hostname" => self.hostname.clone().unwrap_or_default(),
            _ => String::new(),
        }
    }
}

/// The script served to an iPXE client that has not identified itself yet: it chains back to
/// `script_url` with every variable of [`IPXE_VARIABLES`] in the query string, which
/// [`ClientFacts::from_ipxe_query`] parses. This is what makes the chain step loop-free: the
/// DHCP answer to any iPXE is this URL, never a boot file.
pub fn bootstrap_script(script_url: &str) -> String {
    let query: Vec<String> =
        IPXE_QUERY_SOURCES.iter().map(|(name, setting)| format!("{name}=${{{setting}}}")).collect();
    let sep = if script_url.contains('?') { '&' } else { '?' };
    format!(
        "#!ipxe\n# optrom: identify this client, then fetch its own script\n\
         chain --autofree {script_url}{sep}{} || goto failed\n\
         :failed\necho optrom: could not fetch the boot script: ${{errno}}\nsleep 10\nexit 1\n",
        query.join("&")
    )
}
