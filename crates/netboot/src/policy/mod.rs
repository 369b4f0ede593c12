//! The boot policy: what each client boots. A TOML configuration ([`BootConfig`], documented in
//! `docs/boot-config.md`) names iPXE boot files per architecture, menus and items (Linux, Xen,
//! chain, local, shell, submenu, script), rules that pick a menu or an item by MAC, UUID,
//! architecture, firmware class, hostname or label (most specific wins; "once, then local"), and
//! template variables. A [`Policy`] turns [`ClientFacts`] into the DHCP-stage [`BootStep`] and the
//! iPXE script, checking Xen entries against iPXE's multiboot limits on the way.
//!
//! Conversion point: DHCP and the script endpoint build [`ClientFacts`] from their own parsed
//! requests; the policy does no I/O except reading boot files it checks or serves.

pub mod client;
pub mod config;
pub mod decide;
pub mod once;
pub mod quick;
pub mod rules;
pub mod xen;

pub use client::{ClientArch, ClientFacts, FirmwareClass, IPXE_VARIABLES, Mac, Uuid, bootstrap_script};
pub use config::{BootConfig, ConfigError};
pub use decide::{
    Answer, BootStep, CheckReport, FileRole, Finding, Policy, ScriptDecision, ServedFile, ServerUrls, Severity, Target,
    XEN_CFG_QUERY_KEY,
};
pub use once::{MemoryOnceStore, OnceStore, SqliteOnceStore};
