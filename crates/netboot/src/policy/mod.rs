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
pub mod wiring;
pub mod xen;

pub use client::{ClientArch, ClientFacts, FirmwareClass, IPXE_VARIABLES, Mac, Uuid, bootstrap_script};
pub use config::{BootConfig, ConfigError};
pub use decide::{
    Answer, BootStep, CheckReport, FileRole, Finding, Policy, ScriptDecision, ServedFile, ServerUrls, Severity, Target,
    XEN_CFG_QUERY_KEY,
};
pub use once::{MemoryOnceStore, OnceStore, SqliteOnceStore};

use std::path::Path;

/// The top-level tables only a boot configuration has (a serve configuration has none of them).
const BOOT_CONFIG_TABLES: &[&str] = &["menu", "item", "rule", "machine", "boot_files"];

/// True if the TOML file at `path` is a boot configuration (it has menus, items, rules,
/// machines or boot files) rather than a server configuration. A file that is not valid TOML
/// counts as a boot configuration when it mentions `[menu.` or `[item.`, so the error comes from
/// the parser that fits.
pub fn is_boot_config(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    match text.parse::<toml::Table>() {
        Ok(table) => table.keys().any(|k| BOOT_CONFIG_TABLES.contains(&k.as_str())),
        Err(_) => text.contains("[menu.") || text.contains("[item.") || text.contains("[[rule]]"),
    }
}

/// The facts `--explain --mac M --arch A [--uuid U]` asks about: an iPXE client (the stage that
/// gets a script). Errors name the flag.
pub fn explain_facts(mac: &str, arch: &str, uuid: Option<&str>) -> Result<ClientFacts, String> {
    let mut facts =
        ClientFacts::anonymous(arch.parse::<ClientArch>().map_err(|e| format!("--arch: {e}"))?, FirmwareClass::Ipxe);
    facts.mac = Some(mac.parse::<Mac>().map_err(|e| format!("--mac: {e}"))?);
    facts.uuid = uuid.map(|u| u.parse::<Uuid>().map_err(|e| format!("--uuid: {e}"))).transpose()?;
    Ok(facts)
}

/// The `--explain` text: what each boot stage of this machine gets, the deciding rule, and the
/// script. Returns the text and whether the decision has errors.
pub fn explain_report(policy: &Policy, facts: &ClientFacts, urls: &ServerUrls) -> (String, bool) {
    let mut out = String::new();
    let mac = facts.mac.map(|m| m.to_string()).unwrap_or_default();
    out.push_str(&format!(
        "client: {mac}, {}{}\n",
        facts.arch,
        facts.uuid.as_ref().map(|u| format!(", uuid {u}")).unwrap_or_default()
    ));
    for firmware in FirmwareClass::ALL {
        let stage = ClientFacts { firmware, ..facts.clone() };
        out.push_str(&format!("{} stage: {}\n", firmware, policy.boot_file(&stage, urls)));
    }
    let decision = policy.explain(facts, urls);
    out.push_str(&decision.explain());
    out.push_str("script:\n");
    for line in decision.script.lines() {
        out.push_str(&format!("  | {line}\n"));
    }
    (out, decision.has_errors())
}
