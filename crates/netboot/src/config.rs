//! What `optrom serve` runs with: one [`ServeConfig`], read from a TOML file
//! (every key optional, unknown keys refused) and overridden by command-line flags.
//! Every value is parsed here, once, into a type.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::tftp::options::{Limits, MAX_BLKSIZE};

/// Debian's iPXE boot files (package `ipxe`): served when no root is given.
pub const DEFAULT_ROOT: &str = "/usr/lib/ipxe";
/// Where lease state lives when `--state-dir` is not given.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/optrom";

/// Which DHCP service runs next to TFTP and HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DhcpMode {
    /// None: another DHCP server hands out boot information.
    Off,
    /// ProxyDHCP next to the network's DHCP server (boot information only, no leases).
    #[default]
    Proxy,
    /// A full DHCP server with an address pool and leases.
    Full,
}

impl FromStr for DhcpMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(DhcpMode::Off),
            "proxy" => Ok(DhcpMode::Proxy),
            "full" => Ok(DhcpMode::Full),
            _ => Err(format!("DHCP mode {s:?}: expected off, proxy or full")),
        }
    }
}

impl fmt::Display for DhcpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DhcpMode::Off => "off",
            DhcpMode::Proxy => "proxy",
            DhcpMode::Full => "full",
        })
    }
}

/// An inclusive IPv4 address range, written `START-END`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPool {
    /// First address handed out.
    pub start: Ipv4Addr,
    /// Last address handed out.
    pub end: Ipv4Addr,
}

impl FromStr for AddressPool {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').ok_or_else(|| format!("pool {s:?}: expected START-END"))?;
        let start: Ipv4Addr =
            a.trim().parse().map_err(|_| format!("pool {s:?}: start {a:?} is not an IPv4 address"))?;
        let end: Ipv4Addr = b.trim().parse().map_err(|_| format!("pool {s:?}: end {b:?} is not an IPv4 address"))?;
        if u32::from(start) > u32::from(end) {
            return Err(format!("pool {s:?}: start is after end"));
        }
        Ok(AddressPool { start, end })
    }
}

impl<'de> Deserialize<'de> for AddressPool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// TFTP settings (`[tftp]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TftpConfig {
    /// Serve TFTP at all.
    pub enabled: bool,
    /// UDP port of the listener (0: any free port).
    pub port: u16,
    /// Largest block size granted; further clamped to the interface MTU − 32.
    pub max_blksize: u16,
    /// Largest RFC 7440 window granted.
    pub max_windowsize: u16,
    /// Largest window in bytes (windowsize × blksize): bounds memory per transfer.
    pub max_window_bytes: u32,
    /// Transfers running at once; further requests get ERROR 0 "busy".
    pub max_transfers: usize,
    /// First retransmission timeout in milliseconds when the client names none.
    pub timeout_ms: u64,
    /// Retransmissions of one window before the transfer is given up (the timeout
    /// doubles after each, up to 8× the first).
    pub retries: u32,
}

impl Default for TftpConfig {
    fn default() -> Self {
        TftpConfig {
            enabled: true,
            port: 69,
            max_blksize: MAX_BLKSIZE,
            max_windowsize: 64,
            max_window_bytes: 256 * 1024,
            max_transfers: 512,
            timeout_ms: 1000,
            retries: 5,
        }
    }
}

impl TftpConfig {
    /// The negotiation limits, with the interface MTU (when known) applied.
    pub fn limits(&self, mtu: Option<u32>) -> Limits {
        let mtu_blksize =
            mtu.map_or(u32::from(MAX_BLKSIZE), |m| m.saturating_sub(crate::tftp::options::IPV4_TFTP_OVERHEAD).max(512));
        Limits {
            max_blksize: self.max_blksize.min(MAX_BLKSIZE).min(mtu_blksize.min(u32::from(MAX_BLKSIZE)) as u16).max(8),
            max_windowsize: self.max_windowsize.clamp(1, 64),
            max_window_bytes: self.max_window_bytes.max(512),
            default_timeout: Duration::from_millis(self.timeout_ms.max(10)),
        }
    }
}

/// HTTP settings (`[http]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Serve HTTP at all.
    pub enabled: bool,
    /// TCP port (0: any free port).
    pub port: u16,
    /// What the default iPXE script (`/_/boot.ipxe`) chains to: a path under the
    /// root or a URL. None: the script says so and exits.
    pub boot_file: Option<String>,
    /// Bytes read from a file per body chunk.
    pub chunk_size: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { enabled: true, port: 80, boot_file: None, chunk_size: 1 << 20 }
    }
}

/// Everything a server runs with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// The directory served over TFTP and HTTP.
    pub root: PathBuf,
    /// Bind every socket to this interface (SO_BINDTODEVICE) and clamp TFTP blocks to its MTU.
    pub interface: Option<String>,
    /// Address the listeners bind to (default: all, 0.0.0.0).
    pub address: Option<IpAddr>,
    /// DHCP mode.
    pub dhcp: DhcpMode,
    /// Address pool for `dhcp = "full"`.
    pub pool: Option<AddressPool>,
    /// Directory for durable state (DHCP leases).
    pub state_dir: PathBuf,
    /// DHCP ports, proxy style, lease time, netmask, router, DNS, reservations.
    pub dhcp_server: crate::dhcp::service::DhcpSettings,
    /// Seconds running transfers may take to finish after Ctrl-C/SIGTERM before they are aborted.
    pub shutdown_grace_secs: u64,
    /// TFTP.
    pub tftp: TftpConfig,
    /// HTTP.
    pub http: HttpConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            root: PathBuf::from(DEFAULT_ROOT),
            interface: None,
            address: None,
            dhcp: DhcpMode::default(),
            pool: None,
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            dhcp_server: Default::default(),
            shutdown_grace_secs: 5,
            tftp: TftpConfig::default(),
            http: HttpConfig::default(),
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML or a key is wrong; the message names line, column and key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (line, column, key).
        message: String,
    },
}

impl ServeConfig {
    /// Read a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<ServeConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse { path: path.to_path_buf(), message })
    }

    /// Parse TOML text.
    pub fn from_toml(text: &str) -> Result<ServeConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().replace('\n', " "))
    }

    /// The address listeners bind to.
    pub fn bind_address(&self) -> IpAddr {
        self.address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// How long transfers may run on after a shutdown request.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file_and_refuses_unknown_keys() {
        let c = ServeConfig::from_toml(
            "root = \"/srv\"\ndhcp = \"full\"\npool = \"10.0.0.10-10.0.0.20\"\n[tftp]\nport = 1069\nmax_blksize = 1468\n[http]\nboot_file = \"ipxe.efi\"\n",
        )
        .unwrap();
        assert_eq!(c.root, PathBuf::from("/srv"));
        assert_eq!(c.dhcp, DhcpMode::Full);
        assert_eq!(c.pool.unwrap().end, Ipv4Addr::new(10, 0, 0, 20));
        assert_eq!((c.tftp.port, c.tftp.max_blksize, c.http.port), (1069, 1468, 80));
        let e = ServeConfig::from_toml("[tftp]\nblocksize = 5\n").unwrap_err();
        assert!(e.contains("blocksize"), "{e}");
        let e = ServeConfig::from_toml("pool = \"10.0.0.9-10.0.0.1\"\n").unwrap_err();
        assert!(e.contains("start is after end"), "{e}");
    }

    #[test]
    fn mtu_clamps_blksize() {
        let limits = TftpConfig::default().limits(Some(1500));
        assert_eq!(limits.max_blksize, 1468);
        assert_eq!(TftpConfig::default().limits(None).max_blksize, 65464);
        assert_eq!(TftpConfig::default().limits(Some(65536)).max_blksize, 65464);
    }
}
