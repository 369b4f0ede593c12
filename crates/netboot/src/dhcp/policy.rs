//! What to boot: the seam between DHCP and the boot policy. DHCP asks a [`BootPolicy`] for a
//! [`Decision`] on every netboot request and must answer within milliseconds (iPXE waits only
//! about 2 s for ProxyDHCP offers), so `decide` is synchronous and must not do I/O: a policy
//! computes its answers ahead (or returns [`Decision::NotReady`] and lets the client retry).
//! [`DefaultBootTable`] is the built-in policy until the policy layer replaces it.

use std::net::Ipv4Addr;

use super::classify::{Classification, Cpu, Firmware, IpxeFeature, Platform};

/// Where a client fetches its next stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootFile {
    /// A path on the TFTP server at `siaddr` (the server's address).
    Tftp(String),
    /// A full URL (`http://10.0.0.1/boot.ipxe`, `tftp://…`); iPXE and UEFI HTTP boot take these.
    Url(String),
}

impl BootFile {
    /// The text that goes into the `file` field or option 67.
    pub fn as_str(&self) -> &str {
        match self {
            BootFile::Tftp(p) | BootFile::Url(p) => p,
        }
    }
}

/// A policy's answer for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Offer this boot file.
    Boot(BootFile),
    /// Do not answer this client at all (unknown architecture, not wanted); the reason is logged.
    Ignore(String),
    /// The answer is being computed; stay silent now, the client retries.
    NotReady,
}

/// The boot policy as DHCP sees it. Implementations must be fast and non-blocking.
pub trait BootPolicy: Send + Sync + 'static {
    /// Decides for one classified client.
    fn decide(&self, client: &Classification) -> Decision;
}

/// The default table: iPXE binaries by architecture for firmware clients, a script URL for iPXE.
#[derive(Debug, Clone)]
pub struct DefaultBootTable {
    /// BIOS PXE (arch 0) → this TFTP file. Default `undionly.kpxe` (uses the ROM's UNDI driver).
    pub bios: String,
    /// UEFI PXE / HTTP boot → a file per CPU. Default: x64 (and EBC, code 9) `snponly.efi`,
    /// ia32 `ipxe-i386.efi`, arm32 `ipxe-arm32.efi`, arm64 `ipxe-arm64.efi`, riscv64
    /// `ipxe-riscv64.efi`, loongarch64 `ipxe-loong64.efi`.
    pub efi: Vec<(Cpu, String)>,
    /// iPXE clients with HTTP support → this URL (default `http://<server>[:port]/_/boot.ipxe`,
    /// the script the HTTP service generates).
    pub ipxe_script_url: String,
    /// iPXE clients without HTTP (feature 0x13 absent in option 175) → this URL
    /// (default `tftp://<server>/boot.ipxe`, a file in the served root).
    pub ipxe_script_tftp_url: String,
    /// Base of the URLs given to UEFI HTTP boot clients (default `http://<server>[:port]/`).
    pub http_base: String,
}

impl DefaultBootTable {
    /// The table for a server at `server` with its HTTP service on `http_port`.
    pub fn new(server: Ipv4Addr, http_port: u16) -> DefaultBootTable {
        let http = if http_port == 80 { format!("http://{server}") } else { format!("http://{server}:{http_port}") };
        DefaultBootTable {
            bios: "undionly.kpxe".into(),
            efi: vec![
                (Cpu::X64, "snponly.efi".into()),
                (Cpu::Ebc, "snponly.efi".into()),
                (Cpu::Ia32, "ipxe-i386.efi".into()),
                (Cpu::Arm32, "ipxe-arm32.efi".into()),
                (Cpu::Arm64, "ipxe-arm64.efi".into()),
                (Cpu::RiscV64, "ipxe-riscv64.efi".into()),
                (Cpu::LoongArch64, "ipxe-loong64.efi".into()),
            ],
            ipxe_script_url: format!("{http}/_/boot.ipxe"),
            ipxe_script_tftp_url: format!("tftp://{server}/boot.ipxe"),
            http_base: format!("{http}/"),
        }
    }

    fn efi_file(&self, cpu: Cpu) -> Option<&str> {
        self.efi.iter().find(|(c, _)| *c == cpu).map(|(_, f)| f.as_str())
    }
}

impl BootPolicy for DefaultBootTable {
    fn decide(&self, client: &Classification) -> Decision {
        let Some(arch) = client.arch else {
            return match client.firmware {
                Firmware::Ipxe => self.ipxe_decision(client),
                _ => Decision::Ignore("no client architecture (option 93 or option 60 Arch)".into()),
            };
        };
        match client.firmware {
            Firmware::Ipxe => self.ipxe_decision(client),
            Firmware::Pxe => match arch.platform {
                Platform::Bios => Decision::Boot(BootFile::Tftp(self.bios.clone())),
                Platform::Uefi => match self.efi_file(arch.cpu) {
                    Some(f) => Decision::Boot(BootFile::Tftp(f.into())),
                    None => Decision::Ignore(format!("no boot file for architecture {arch}")),
                },
                _ => Decision::Ignore(format!("PXE client with architecture {arch} is not served")),
            },
            Firmware::HttpBoot => match self.efi_file(arch.cpu) {
                Some(f) => Decision::Boot(BootFile::Url(format!("{}{f}", self.http_base))),
                None => Decision::Ignore(format!("no HTTP boot file for architecture {arch}")),
            },
            Firmware::Other => Decision::Ignore("not a netboot client".into()),
        }
    }
}

impl DefaultBootTable {
    fn ipxe_decision(&self, client: &Classification) -> Decision {
        let http = client.ipxe.as_ref().is_none_or(|i| !i.encapsulated || i.has(IpxeFeature::Http));
        let url = if http { &self.ipxe_script_url } else { &self.ipxe_script_tftp_url };
        Decision::Boot(BootFile::Url(url.clone()))
    }
}
