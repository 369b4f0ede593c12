//! The network half of optrom: the services a netboot client talks to. Today it
//! holds DHCP ([`dhcp`]: request classification — PXE, UEFI HTTP boot, iPXE, IANA
//! architecture codes — proxyDHCP with the port-4011 boot server, full DHCP with
//! leases in SQLite), TFTP (our own implementation: [`tftp`], with its wire format in
//! [`tftp::wire`]), HTTP for files, generated iPXE scripts and Prometheus metrics
//! ([`http`]), one path confinement both share ([`confine`]), the configuration
//! ([`config`]) and the composition that runs services together with shared
//! metrics and a two-stage shutdown ([`server`]), where DHCP is one more
//! [`server::Service`]; the boot policy ([`policy`]: the TOML boot configuration, rules,
//! iPXE script rendering with templates, the Xen/multiboot checks) and the boot tracker
//! behind the status page ([`status`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod confine;
pub mod dhcp;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod server;
pub mod status;
pub mod tftp;

pub use config::{AddressPool, DhcpMode, ServeConfig};
pub use http::{ChainScript, FileOverride, ScriptDecision, ScriptProvider, ScriptRequest};
pub use metrics::Metrics;
pub use server::{ClientTable, Context, MacAddr, Server, Service, ServiceError, ServiceFuture, Shutdown};
