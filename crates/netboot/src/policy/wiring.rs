//! The conversion point between the policy and the services: [`PolicyService`] implements the
//! DHCP layer's [`BootPolicy`] (from its typed [`Classification`]) and the HTTP layer's
//! [`ScriptProvider`] (script endpoint, transparent gunzip, quick-mode files, the status page),
//! and reports each step to the [`BootTracker`].

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use super::client::{ClientArch, ClientFacts, FirmwareClass, Mac, Uuid};
use super::decide::{Answer, BootStep, FileRole, Policy, ServerUrls};
use crate::dhcp::{BootFile, BootPolicy, Classification, Decision, Firmware, IpxeFeature};
use crate::http::{FileOverride, ScriptDecision as HttpScript, ScriptProvider, ScriptRequest};
use crate::status::{BootTracker, Event, Step};

/// The policy as the server's services see it.
pub struct PolicyService {
    policy: Arc<Policy>,
    urls: RwLock<ServerUrls>,
    tracker: RwLock<Arc<BootTracker>>,
}

impl std::fmt::Debug for PolicyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyService").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl PolicyService {
    /// Serves `policy`; `urls` are the server's as clients see them (set again with
    /// [`PolicyService::set_urls`] once the ports are bound).
    pub fn new(policy: Arc<Policy>, urls: ServerUrls, tracker: Arc<BootTracker>) -> PolicyService {
        let urls = policy.urls(&urls);
        PolicyService { policy, urls: RwLock::new(urls), tracker: RwLock::new(tracker) }
    }

    /// Updates the server URLs (the config's `http_base` still wins).
    pub fn set_urls(&self, urls: ServerUrls) {
        *self.urls.write().unwrap_or_else(|p| p.into_inner()) = self.policy.urls(&urls);
    }

    fn urls(&self) -> ServerUrls {
        self.urls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The tracker behind the status page.
    pub fn tracker(&self) -> Arc<BootTracker> {
        self.tracker.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Shares the server's tracker (the one DHCP and TFTP report to).
    pub fn set_tracker(&self, tracker: Arc<BootTracker>) {
        *self.tracker.write().unwrap_or_else(|p| p.into_inner()) = tracker;
    }
}

/// The policy's view of a classified DHCP request; `None` for clients it does not serve
/// (plain DHCP clients, unknown architectures).
pub fn facts_from_classification(c: &Classification) -> Result<ClientFacts, String> {
    let firmware = match c.firmware {
        Firmware::Pxe => FirmwareClass::Pxe,
        Firmware::HttpBoot => FirmwareClass::HttpBoot,
        Firmware::Ipxe => FirmwareClass::Ipxe,
        Firmware::Other => return Err("not a netboot client".into()),
    };
    let arch = match c.arch {
        Some(a) => ClientArch::from_dhcp_code(a.code)
            .map(|(arch, _)| arch)
            .ok_or_else(|| format!("architecture {a} is not served"))?,
        // iPXE without option 93 (rare): it asks for the script, where it reports its platform.
        None if firmware == FirmwareClass::Ipxe => ClientArch::Bios,
        None => return Err("no client architecture (option 93 or option 60 Arch)".into()),
    };
    Ok(ClientFacts {
        mac: Some(Mac(c.mac.0)),
        uuid: c.uuid_string().and_then(|u| u.parse::<Uuid>().ok()),
        arch,
        firmware,
        hostname: None,
        labels: Vec::new(),
        ipxe: Default::default(),
    })
}

impl BootPolicy for PolicyService {
    fn decide(&self, client: &Classification) -> Decision {
        let facts = match facts_from_classification(client) {
            Ok(f) => f,
            Err(why) => return Decision::Ignore(why),
        };
        self.tracker().record(
            Mac(client.mac.0),
            None,
            Event::Dhcp {
                uuid: facts.uuid.as_ref().map(|u| u.to_string()),
                arch: Some(facts.arch),
                firmware: Some(facts.firmware),
                lease: None,
            },
        );
        if facts.firmware == FirmwareClass::Ipxe
            && client.ipxe.as_ref().is_some_and(|i| i.encapsulated && !i.has(IpxeFeature::Http))
        {
            return Decision::Ignore("this iPXE has no HTTP support; the script is served over HTTP only".into());
        }
        match self.policy.boot_file(&facts, &self.urls()) {
            BootStep::Tftp(path) => Decision::Boot(BootFile::Tftp(path)),
            BootStep::Url(url) => Decision::Boot(BootFile::Url(url)),
            BootStep::Ignore(why) => Decision::Ignore(why),
        }
    }
}

impl ScriptProvider for PolicyService {
    fn script(&self, request: &ScriptRequest) -> HttpScript {
        let urls = self.urls();
        let address = Some(request.client.ip());
        match self.policy.answer(&request.query, &urls) {
            Answer::Bootstrap(text) => HttpScript::Ready(text),
            Answer::XenCfg(text) => {
                tracing::info!(client = %request.client, "xen.cfg served for Xen's EFI loader");
                HttpScript::Ready(text)
            }
            Answer::Script { facts, decision } => {
                let detail = script_step_detail(&decision);
                tracing::info!(
                    client = %request.client,
                    mac = facts.mac.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                    arch = %facts.arch,
                    firmware = %facts.firmware,
                    rule = decision.rule.as_ref().map_or("-", |(name, _)| name.as_str()),
                    decision = %detail,
                    "boot decision"
                );
                if let Some(mac) = facts.mac {
                    self.tracker().record(mac, address, Event::Script { decision: detail });
                    for f in decision.findings.iter().filter(|f| f.severity == super::decide::Severity::Error) {
                        self.tracker().record(
                            mac,
                            address,
                            Event::Failed { step: Step::Script, reason: f.to_string() },
                        );
                    }
                }
                HttpScript::Ready(decision.script.clone())
            }
            Answer::Invalid { script, reason } => {
                tracing::warn!(client = %request.client, reason, "bad script request");
                if let Some(mac) = request.mac {
                    self.tracker().record(Mac(mac.0), address, Event::Failed { step: Step::Script, reason });
                }
                if script.is_empty() { HttpScript::NotFound } else { HttpScript::Ready(script) }
            }
        }
    }

    fn file(&self, path: &str) -> Option<FileOverride> {
        let served = self.policy.resolve_file(path)?;
        if served.gunzip {
            return match self.policy.gunzipped(&served) {
                Ok(bytes) => Some(FileOverride::Bytes(bytes)),
                Err(e) => {
                    tracing::warn!(path, error = %e, "cannot unpack the hypervisor");
                    None
                }
            };
        }
        // Files outside the root (quick modes) are served from where they are.
        Some(FileOverride::Path(served.path))
    }

    fn file_sent(&self, client: SocketAddr, mac: Option<crate::MacAddr>, path: &str, status: u16) {
        let Some(role) = self.policy.file_role(path) else { return };
        let Some(mac) = mac.map(|m| Mac(m.0)).or_else(|| self.tracker().mac_of(client.ip())) else { return };
        let address = Some(client.ip());
        if (200..300).contains(&status) {
            if matches!(role, FileRole::Kernel | FileRole::Hypervisor | FileRole::XenEfi) {
                self.tracker().record(mac, address, Event::Kernel { path: path.trim_start_matches('/').into() });
            }
        } else {
            self.tracker().record(
                mac,
                address,
                Event::Failed { step: Step::Kernel, reason: format!("HTTP {status} for {path}") },
            );
        }
    }

    fn status_page(&self) -> Option<String> {
        Some(self.tracker().render_html())
    }
}

/// What the log and the status page say about a served script: the target, then every note and
/// warning behind it — e.g. why a UEFI client gets Xen's EFI loader instead of multiboot.
pub fn script_step_detail(decision: &super::decide::ScriptDecision) -> String {
    let mut detail = decision.target.to_string();
    for f in decision.findings.iter().filter(|f| f.severity != super::decide::Severity::Error) {
        detail.push_str("; ");
        detail.push_str(&f.to_string());
    }
    detail
}

/// Where `optrom serve` gets its boot policy from.
#[derive(Debug, Clone, Default)]
pub struct PolicySource {
    /// A boot configuration file (see [`super::is_boot_config`]).
    pub config: Option<std::path::PathBuf>,
    /// Quick mode: this Linux kernel for every client.
    pub kernel: Option<std::path::PathBuf>,
    /// Quick mode: its initrds.
    pub initrds: Vec<std::path::PathBuf>,
    /// Quick mode: the kernel's (or hypervisor's) command line.
    pub cmdline: Option<String>,
    /// Quick mode: this multiboot hypervisor for every BIOS client.
    pub multiboot: Option<std::path::PathBuf>,
    /// Quick mode: its modules, `"FILE [ARGS]"`, the dom0 kernel first.
    pub modules: Vec<String>,
    /// Where one-shot boots are remembered (an SQLite file); `None`: in memory.
    pub once_state: Option<std::path::PathBuf>,
}

/// Builds the policy `source` names; `Ok(None)` when it names none (the server then chains to
/// its configured boot file). Errors are one line naming the file or flag.
pub fn load_policy(source: &PolicySource) -> Result<Option<Policy>, String> {
    let quick = source.kernel.is_some() as u8 + source.multiboot.is_some() as u8 + source.config.is_some() as u8;
    if quick > 1 {
        return Err("give one of --config BOOT.toml, --kernel and --multiboot".into());
    }
    if source.kernel.is_none() && !source.initrds.is_empty() {
        return Err("--initrd needs --kernel".into());
    }
    if source.multiboot.is_none() && !source.modules.is_empty() {
        return Err("--module needs --multiboot".into());
    }
    if source.kernel.is_none() && source.multiboot.is_none() && source.cmdline.is_some() {
        return Err("--cmdline needs --kernel or --multiboot".into());
    }
    let policy = if let Some(k) = &source.kernel {
        super::quick::quick_linux(k, &source.initrds, source.cmdline.as_deref())?
    } else if let Some(x) = &source.multiboot {
        super::quick::quick_multiboot(x, source.cmdline.as_deref(), &source.modules)?
    } else if let Some(path) = &source.config {
        let config = super::BootConfig::load(path).map_err(|e| e.to_string())?;
        match &source.once_state {
            Some(state) => {
                if let Some(dir) = state.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                Policy::with_once_store(config, Arc::new(super::SqliteOnceStore::open(state)?))
            }
            None => Policy::new(config),
        }
    } else {
        return Ok(None);
    };
    Ok(Some(policy))
}

/// The URLs clients use to reach this server: `http://ADDRESS[:PORT]`, port 80 left out. The
/// address is the DHCP service's (it knows which interface address clients reach), else the
/// configured one, else the interface's first IPv4 address, else loopback.
pub fn server_urls(config: &crate::ServeConfig, http_port: u16, dhcp_server: Option<std::net::Ipv4Addr>) -> ServerUrls {
    let address = dhcp_server
        .map(std::net::IpAddr::V4)
        .or(config.address.filter(|a| !a.is_unspecified()))
        .or_else(|| config.interface.as_deref().and_then(crate::dhcp::interface_ipv4).map(std::net::IpAddr::V4))
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let base = if http_port == 80 { format!("http://{address}") } else { format!("http://{address}:{http_port}") };
    ServerUrls::new(&base)
}

/// The URLs `--check` and `--explain` assume before anything is bound: the configured address,
/// else the longest IPv4 address (`255.255.255.255`), so a configuration that passes the Xen
/// command-line budget here passes it with any IPv4 server address.
pub fn check_urls(config: &crate::ServeConfig) -> ServerUrls {
    let address = config
        .address
        .filter(|a| !a.is_unspecified())
        .or_else(|| config.interface.as_deref().and_then(crate::dhcp::interface_ipv4).map(std::net::IpAddr::V4))
        .map_or_else(|| "255.255.255.255".to_string(), |a| a.to_string());
    let port = config.http.port;
    let base = if port == 80 { format!("http://{address}") } else { format!("http://{address}:{port}") };
    ServerUrls::new(&base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ScriptRequest;

    /// A Xen item with `efi` served to an x64 UEFI iPXE and to a BIOS iPXE: the status page's
    /// script step says why the UEFI client got Xen's EFI loader, and the BIOS one gets no note.
    #[test]
    fn script_step_says_why_a_uefi_client_gets_xen_efi() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["xen.efi", "vmlinuz", "initrd"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        // An ELF file with a Multiboot header (magic, flags, checksum summing to 0) in its first
        // 8 KiB, as the Multiboot specification (section 3.1.1) places it.
        let mut xen = vec![0u8; 8192];
        xen[..4].copy_from_slice(b"\x7fELF");
        let (magic, flags) = (0x1BAD_B002u32, 0u32);
        xen[16..20].copy_from_slice(&magic.to_le_bytes());
        xen[20..24].copy_from_slice(&flags.to_le_bytes());
        xen[24..28].copy_from_slice(&0u32.wrapping_sub(magic).wrapping_sub(flags).to_le_bytes());
        std::fs::write(dir.path().join("xen"), &xen).unwrap();
        let path = dir.path().join("boot.toml");
        std::fs::write(
            &path,
            "[menu.main]\nitems = [\"xen\"]\ndefault = \"xen\"\ntimeout = 0\n[item.xen]\nkind = \"xen\"\n\
             hypervisor = \"xen\"\nefi = \"xen.efi\"\nkernel = \"vmlinuz\"\nmodules = [{ file = \"initrd\" }]\n",
        )
        .unwrap();
        let policy = Policy::new(crate::policy::BootConfig::load(&path).unwrap());
        let service =
            PolicyService::new(Arc::new(policy), ServerUrls::new("http://10.0.0.1"), Arc::new(BootTracker::new()));
        let ask = |mac: &str, platform: &str, buildarch: &str| {
            let query = [("mac", mac), ("platform", platform), ("buildarch", buildarch)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let request = ScriptRequest { client: "10.0.0.9:1000".parse().unwrap(), mac: None, query };
            match service.script(&request) {
                HttpScript::Ready(text) => text,
                other => panic!("{other:?}"),
            }
        };
        let uefi = ask("52:54:00:00:00:07", "efi", "x86_64");
        assert!(uefi.contains("chain --name xen.efi http://10.0.0.1/xen.efi"), "{uefi}");
        let bios = ask("52:54:00:00:00:08", "pcbios", "i386");
        assert!(bios.contains("kernel http://10.0.0.1/xen") && !bios.contains("xen.efi"), "{bios}");
        let detail = |mac: &str| {
            let mac: Mac = mac.parse().unwrap();
            let client = service.tracker().snapshot().into_iter().find(|c| c.mac == mac).unwrap();
            client.steps[&Step::Script].1.clone()
        };
        assert_eq!(
            detail("52:54:00:00:00:07"),
            "menu `main`; note: item `xen`: x64 UEFI clients boot Xen's EFI loader xen.efi (no multiboot on UEFI)"
        );
        assert_eq!(detail("52:54:00:00:00:08"), "menu `main`");
    }
}
