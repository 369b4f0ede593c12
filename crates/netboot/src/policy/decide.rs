//! Decisions: the boot file a firmware client gets, and the iPXE script an iPXE client gets,
//! with the rule that made each and every problem found on the way.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior, Value};

use super::client::{ClientArch, ClientFacts, FirmwareClass, IPXE_VARIABLES, Mac, bootstrap_script};
use super::config::{BootConfig, FileRef, Item, ItemKind, Menu, Rule, RuleTarget};
use super::once::{MemoryOnceStore, OnceStore};
use super::rules::{Selection, Specificity, Subject, select};
use super::xen::{
    GunzipCache, IPXE_MAX_MODULES, IPXE_MULTIBOOT_CMDLINE_BYTES, has_ip_setting, multiboot_line_bytes,
    nfs_root_over_udp, sniff, wants_nfs_root,
};

/// Where the server is, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrls {
    /// `http://host[:port]`, no trailing slash.
    pub http_base: String,
    /// Path of the script endpoint (`/_/boot.ipxe`).
    pub script_path: String,
}

/// The script endpoint's query key that asks for the `xen.cfg` of a Xen item instead of a
/// script (see [`Policy::xen_efi_config`]): Xen's EFI loader reads its configuration from a file
/// iPXE fetched, and the one endpoint serves both.
pub const XEN_CFG_QUERY_KEY: &str = "xen_cfg";

impl ServerUrls {
    /// URLs for a server at `http_base` with the script at `/_/boot.ipxe` (the HTTP service's own
    /// namespace).
    pub fn new(http_base: &str) -> ServerUrls {
        ServerUrls { http_base: http_base.trim_end_matches('/').into(), script_path: "/_/boot.ipxe".into() }
    }

    /// The full script URL.
    pub fn script_url(&self) -> String {
        format!("{}{}", self.http_base, self.script_path)
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The client cannot boot what the configuration means it to.
    Error,
    /// Something is left out for this client, but it still gets a working script.
    Warning,
    /// What the server does about it (e.g. unpacking a gzip'd hypervisor).
    Note,
}

/// One problem or remark, naming the item it concerns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// The item concerned, if one.
    pub item: Option<String>,
    /// What and why, with the fix where there is one.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        match &self.item {
            Some(item) => write!(f, "{sev}: item `{item}`: {}", self.message),
            None => write!(f, "{sev}: {}", self.message),
        }
    }
}

/// The DHCP-stage answer: what a client fetches next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootStep {
    /// A TFTP path (firmware PXE: the iPXE build for its architecture).
    Tftp(String),
    /// A full URL (UEFI HTTP boot: the iPXE EFI file; iPXE: the script).
    Url(String),
    /// Do not answer; the reason is logged.
    Ignore(String),
}

impl fmt::Display for BootStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootStep::Tftp(p) => write!(f, "TFTP {p}"),
            BootStep::Url(u) => write!(f, "URL {u}"),
            BootStep::Ignore(r) => write!(f, "no answer ({r})"),
        }
    }
}

/// What a script decision chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This menu (and its submenus).
    Menu(String),
    /// This item, without a menu.
    Item(String),
    /// A one-shot rule was already used: boot the next device.
    LocalAfterOnce {
        /// The one-shot rule.
        rule: String,
        /// The item it booted.
        item: String,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Menu(m) => write!(f, "menu `{m}`"),
            Target::Item(i) => write!(f, "item `{i}`"),
            Target::LocalAfterOnce { rule, item } => {
                write!(f, "local boot (rule `{rule}` already booted item `{i}` once)", i = item)
            }
        }
    }
}

/// A script and why it is what it is.
#[derive(Debug, Clone)]
pub struct ScriptDecision {
    /// The iPXE script.
    pub script: String,
    /// The deciding rule, its name and the keys it matched on.
    pub rule: Option<(String, String)>,
    /// Rules that matched but lost on specificity or order.
    pub also_matched: Vec<String>,
    /// What was chosen.
    pub target: Target,
    /// Inventory hostname and labels used for matching.
    pub hostname: Option<String>,
    /// Inventory and caller labels used for matching.
    pub labels: Vec<String>,
    /// Problems and remarks, errors first.
    pub findings: Vec<Finding>,
}

impl ScriptDecision {
    /// True if any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The human explanation (`optrom serve --explain`).
    pub fn explain(&self) -> String {
        let mut out = String::new();
        match &self.rule {
            Some((name, keys)) => out.push_str(&format!("rule: `{name}` (matched on {keys})\n")),
            None => out.push_str("rule: none matched; the default menu applies\n"),
        }
        for other in &self.also_matched {
            out.push_str(&format!("  also matched, less specific or later: `{other}`\n"));
        }
        if let Some(h) = &self.hostname {
            out.push_str(&format!("hostname: {h}\n"));
        }
        if !self.labels.is_empty() {
            out.push_str(&format!("labels: {}\n", self.labels.join(", ")));
        }
        out.push_str(&format!("decision: {}\n", self.target));
        for f in &self.findings {
            out.push_str(&format!("{f}\n"));
        }
        out
    }
}

/// A file the HTTP server serves on the policy's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFile {
    /// The local file.
    pub path: PathBuf,
    /// Serve the decompressed content (a gzip'd multiboot hypervisor for iPXE).
    pub gunzip: bool,
}

/// The script endpoint's answer ([`Policy::answer`]).
#[derive(Debug, Clone)]
pub enum Answer {
    /// The bootstrap that makes iPXE report its variables.
    Bootstrap(String),
    /// The client's script and the decision behind it.
    Script {
        /// Who asked.
        facts: Box<ClientFacts>,
        /// What it gets and why.
        decision: Box<ScriptDecision>,
    },
    /// A `xen.cfg` for Xen's EFI loader.
    XenCfg(String),
    /// The request was malformed.
    Invalid {
        /// A script that shows the problem on the client (empty for a `xen.cfg` request).
        script: String,
        /// The problem.
        reason: String,
    },
}

/// What a served file is to the items that name it (for the status page's "kernel fetched").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// A Linux kernel or a Xen dom0 kernel.
    Kernel,
    /// A Linux initrd.
    Initrd,
    /// A multiboot hypervisor.
    Hypervisor,
    /// A multiboot module after the dom0 kernel.
    Module,
    /// Xen's EFI loader.
    XenEfi,
}

/// The boot policy: a validated configuration plus the state it keeps.
pub struct Policy {
    config: BootConfig,
    once: Arc<dyn OnceStore>,
    gunzip: GunzipCache,
    /// URL path (no leading `/`) → local file, for files outside `root` (quick modes).
    extra_files: BTreeMap<String, PathBuf>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy").field("config", &self.config.source).finish_non_exhaustive()
    }
}

/// Why an item cannot be offered to a client.
#[derive(Debug, Clone)]
struct Refusal {
    reason: String,
    /// True when only this platform is the problem (another client could boot the item).
    platform_only: bool,
}

impl Refusal {
    fn item(reason: impl Into<String>) -> Refusal {
        Refusal { reason: reason.into(), platform_only: false }
    }
}

const FAILED_LABEL: &str = "optrom_failed";
const EXIT_LABEL: &str = "optrom_exit";

impl Policy {
    /// A policy with in-memory one-shot state.
    pub fn new(config: BootConfig) -> Policy {
        Policy::with_once_store(config, Arc::new(MemoryOnceStore::default()))
    }

    /// A policy with the given one-shot state store.
    pub fn with_once_store(config: BootConfig, once: Arc<dyn OnceStore>) -> Policy {
        Policy { config, once, gunzip: GunzipCache::default(), extra_files: BTreeMap::new() }
    }

    /// Adds files served outside the root (quick modes): URL path (no leading `/`) → file.
    pub fn with_extra_files(mut self, files: BTreeMap<String, PathBuf>) -> Policy {
        self.extra_files = files;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &BootConfig {
        &self.config
    }

    /// The one-shot state.
    pub fn once_store(&self) -> &Arc<dyn OnceStore> {
        &self.once
    }

    /// The server URLs to use: the config's `http_base` if set, else `fallback`.
    pub fn urls(&self, fallback: &ServerUrls) -> ServerUrls {
        match &self.config.http_base {
            Some(base) => ServerUrls { http_base: base.clone(), script_path: fallback.script_path.clone() },
            None => fallback.clone(),
        }
    }

    /// The DHCP-stage answer. Firmware PXE gets the iPXE build for its architecture over TFTP,
    /// UEFI HTTP boot the same file as an HTTP URL, and any iPXE the script URL — so an iPXE we
    /// served never gets the boot file again (no chain loop).
    pub fn boot_file(&self, facts: &ClientFacts, urls: &ServerUrls) -> BootStep {
        match facts.firmware {
            FirmwareClass::Ipxe => BootStep::Url(urls.script_url()),
            FirmwareClass::Pxe | FirmwareClass::HttpBoot => match self.config.boot_file(facts.arch) {
                None => BootStep::Ignore(format!(
                    "no boot file for {} clients (set [boot_files] {} in {})",
                    facts.arch, facts.arch, self.config.source
                )),
                Some(file) if facts.firmware == FirmwareClass::Pxe => BootStep::Tftp(file.into()),
                Some(_) if facts.arch == ClientArch::Bios => {
                    BootStep::Ignore("BIOS HTTP boot is not served (no iPXE build for it)".into())
                }
                Some(file) => BootStep::Url(FileRef(file.into()).url(&urls.http_base)),
            },
        }
    }

    /// Resolves a request path (`/xen/xen-4.17-amd64.gz`) to the file to serve, if the policy
    /// serves it. Paths with `..` are refused.
    pub fn resolve_file(&self, url_path: &str) -> Option<ServedFile> {
        let rel = url_path.trim_start_matches('/');
        if rel.split('/').any(|c| c == ".." || c.is_empty()) || rel.contains('\\') {
            return None;
        }
        let path = match self.extra_files.get(rel) {
            Some(p) => p.clone(),
            None => self.config.root.as_ref()?.join(rel),
        };
        if !path.is_file() {
            return None;
        }
        let gunzip = self.config.gunzip && self.is_multiboot_hypervisor(rel) && sniff(&path).is_ok_and(|s| s.gzip);
        Some(ServedFile { path, gunzip })
    }

    /// What `url_path` is to the configured items, if any item boots it.
    pub fn file_role(&self, url_path: &str) -> Option<FileRole> {
        let rel = url_path.trim_start_matches('/');
        let is = |f: &FileRef| !f.is_url() && f.0.trim_start_matches('/') == rel;
        self.config.items.values().find_map(|item| match &item.kind {
            ItemKind::Linux { kernel, initrds, .. } => {
                if is(kernel) {
                    Some(FileRole::Kernel)
                } else {
                    initrds.iter().any(is).then_some(FileRole::Initrd)
                }
            }
            ItemKind::Xen { hypervisor, kernel, modules, efi, .. } => {
                if is(hypervisor) {
                    Some(FileRole::Hypervisor)
                } else if is(kernel) {
                    Some(FileRole::Kernel)
                } else if modules.iter().any(|m| is(&m.file)) {
                    Some(FileRole::Module)
                } else {
                    efi.as_ref().filter(|e| is(e)).map(|_| FileRole::XenEfi)
                }
            }
            _ => None,
        })
    }

    /// The bytes of a served file that is sent decompressed.
    pub fn gunzipped(&self, file: &ServedFile) -> Result<Arc<[u8]>, String> {
        self.gunzip.get(&file.path)
    }

    fn is_multiboot_hypervisor(&self, rel: &str) -> bool {
        self.config
            .items
            .values()
            .any(|i| matches!(&i.kind, ItemKind::Xen { hypervisor, .. } if !hypervisor.is_url() && hypervisor.0.trim_start_matches('/') == rel))
    }

    fn local_path(&self, file: &FileRef) -> Option<PathBuf> {
        if file.is_url() {
            return None;
        }
        let rel = file.0.trim_start_matches('/');
        match self.extra_files.get(rel) {
            Some(p) => Some(p.clone()),
            None => self.config.root.as_ref().map(|r| r.join(rel)),
        }
    }

    /// Answers a request to the script endpoint from its query string: the bootstrap script
    /// for a client that has not identified itself, the `xen.cfg` for a Xen item (query key
    /// [`XEN_CFG_QUERY_KEY`]), else the client's own script (recording one-shot boots). A bad
    /// query gets a script that prints the problem, so the console shows it.
    pub fn answer(&self, query: &[(String, String)], urls: &ServerUrls) -> Answer {
        let facts = match ClientFacts::from_ipxe_query(query) {
            Ok(f) => f,
            Err(e) => {
                return Answer::Invalid {
                    script: format!("#!ipxe\necho optrom: bad script request: {}\nsleep 10 ||\nexit 1\n", one_line(&e)),
                    reason: e,
                };
            }
        };
        if let Some((_, item)) = query.iter().find(|(k, _)| k == XEN_CFG_QUERY_KEY) {
            let Some(facts) = facts else {
                return Answer::Invalid { script: String::new(), reason: "xen.cfg request without mac".into() };
            };
            return match self.xen_efi_config(item, &facts, urls) {
                Ok(cfg) => Answer::XenCfg(cfg),
                Err(e) => Answer::Invalid { script: String::new(), reason: e },
            };
        }
        match facts {
            None => Answer::Bootstrap(bootstrap_script(&urls.script_url())),
            Some(facts) => {
                let decision = self.script(&facts, urls);
                Answer::Script { facts: Box::new(facts), decision: Box::new(decision) }
            }
        }
    }

    /// The script for an iPXE client, recording one-shot boots.
    pub fn script(&self, facts: &ClientFacts, urls: &ServerUrls) -> ScriptDecision {
        self.decide(facts, urls, true)
    }

    /// The same decision without recording anything (`--explain`, `--check`).
    pub fn explain(&self, facts: &ClientFacts, urls: &ServerUrls) -> ScriptDecision {
        self.decide(facts, urls, false)
    }

    fn decide(&self, facts: &ClientFacts, urls: &ServerUrls, commit: bool) -> ScriptDecision {
        let subject = Subject::new(&self.config, facts);
        let Selection { winner, also_matched } = select(&self.config.rules, &subject);
        let machine_key = facts.mac.map(|m| m.to_string()).or_else(|| facts.uuid.as_ref().map(|u| u.to_string()));
        let mut findings = Vec::new();
        let target = match winner.map(|r| (r, &r.target)) {
            None => Target::Menu(self.config.default_menu.clone()),
            Some((_, RuleTarget::Menu(m))) => Target::Menu(m.clone()),
            Some((_, RuleTarget::Item { item, once: false })) => Target::Item(item.clone()),
            Some((rule, RuleTarget::Item { item, once: true })) => {
                let key = machine_key.clone().unwrap_or_default();
                if self.once.used(&rule.name, &key) {
                    Target::LocalAfterOnce { rule: rule.name.clone(), item: item.clone() }
                } else {
                    if commit && let Err(e) = self.once.mark(&rule.name, &key) {
                        findings.push(Finding {
                            severity: Severity::Warning,
                            item: Some(item.clone()),
                            message: format!("could not record the one-shot boot of rule `{}`: {e}", rule.name),
                        });
                    }
                    Target::Item(item.clone())
                }
            }
        };
        let mut renderer = Renderer::new(self, facts, &subject, winner, urls);
        let script = renderer.render(&target, winner);
        findings.append(&mut renderer.findings);
        findings.sort();
        findings.dedup();
        ScriptDecision {
            script,
            rule: winner.map(|r| (r.name.clone(), Specificity::describe(&r.selector))),
            also_matched: also_matched.iter().map(|r| r.name.clone()).collect(),
            target,
            hostname: subject.hostname.clone(),
            labels: subject.labels.clone(),
            findings,
        }
    }

    /// The `xen.cfg` that Xen's EFI loader reads for a Xen item, for a UEFI client.
    pub fn xen_efi_config(&self, item_id: &str, facts: &ClientFacts, urls: &ServerUrls) -> Result<String, String> {
        let item = self.config.items.get(item_id).ok_or_else(|| format!("no item `{item_id}`"))?;
        let subject = Subject::new(&self.config, facts);
        let winner = select(&self.config.rules, &subject).winner;
        let mut renderer = Renderer::new(self, facts, &subject, winner, urls);
        renderer.xen_cfg(item).map_err(|r| r.reason)
    }

    /// Validates the configuration for every client class × architecture (and for every rule
    /// on the architectures it can match). Returns the printed report and the findings.
    pub fn check(&self, urls: &ServerUrls) -> CheckReport {
        let mut sections = Vec::new();
        let mut findings: BTreeSet<(Finding, String)> = BTreeSet::new();
        for arch in ClientArch::ALL {
            let boot_file = self.config.boot_file(arch);
            if boot_file.is_none() && arch != ClientArch::Bios {
                continue;
            }
            for firmware in [FirmwareClass::Pxe, FirmwareClass::HttpBoot] {
                let step = self.boot_file(&ClientFacts::anonymous(arch, firmware), urls);
                sections.push(CheckSection { arch, firmware, step: step.to_string(), script: None });
            }
            let facts = ClientFacts::anonymous(arch, FirmwareClass::Ipxe);
            let decision = self.explain(&facts, urls);
            for f in &decision.findings {
                findings.insert((f.clone(), format!("{arch} clients")));
            }
            sections.push(CheckSection {
                arch,
                firmware: FirmwareClass::Ipxe,
                step: format!("URL {}", urls.script_url()),
                script: Some(decision.script),
            });
        }
        // Every rule, for each architecture it can match, with facts that satisfy it.
        for rule in &self.config.rules {
            let arches: Vec<ClientArch> = match rule.selector.arch {
                Some(a) => vec![a],
                None => ClientArch::ALL
                    .into_iter()
                    .filter(|a| *a == ClientArch::Bios || self.config.boot_file(*a).is_some())
                    .collect(),
            };
            for arch in arches {
                let facts = ClientFacts {
                    mac: rule.selector.mac.or(Some(Mac([0x02, 0, 0, 0, 0, 1]))),
                    uuid: rule.selector.uuid.clone(),
                    arch,
                    firmware: FirmwareClass::Ipxe,
                    hostname: rule.selector.hostname.clone(),
                    labels: rule.selector.label.iter().cloned().collect(),
                    ipxe: BTreeMap::new(),
                };
                let decision = self.explain(&facts, urls);
                if decision.rule.as_ref().map(|(n, _)| n) != Some(&rule.name) {
                    continue;
                }
                for f in &decision.findings {
                    findings.insert((f.clone(), format!("rule `{}`, {arch} clients", rule.name)));
                }
            }
        }
        CheckReport { sections, findings: findings.into_iter().collect() }
    }
}

/// One row of the `--check` matrix.
#[derive(Debug, Clone)]
pub struct CheckSection {
    /// The architecture.
    pub arch: ClientArch,
    /// The client class.
    pub firmware: FirmwareClass,
    /// The DHCP-stage answer.
    pub step: String,
    /// The script an iPXE client of this architecture gets.
    pub script: Option<String>,
}

/// The result of [`Policy::check`].
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// One row per architecture × class.
    pub sections: Vec<CheckSection>,
    /// Each finding with the clients it concerns.
    pub findings: Vec<(Finding, String)>,
}

impl CheckReport {
    /// True if any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|(f, _)| f.severity == Severity::Error)
    }

    /// The printed form: the matrix, then the findings.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.sections {
            out.push_str(&format!("== {} / {}: {}\n", s.arch, s.firmware, s.step));
            if let Some(script) = &s.script {
                for line in script.lines() {
                    out.push_str(&format!("   | {line}\n"));
                }
            }
        }
        if self.findings.is_empty() {
            out.push_str("no problems found\n");
        }
        for (f, whom) in &self.findings {
            out.push_str(&format!("{f} (for {whom})\n"));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering.

struct Renderer<'a> {
    policy: &'a Policy,
    facts: &'a ClientFacts,
    urls: &'a ServerUrls,
    env: Environment<'static>,
    context: BTreeMap<String, Value>,
    findings: Vec<Finding>,
}

/// One line's worth of text for iPXE: newlines and runs of whitespace become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl<'a> Renderer<'a> {
    fn new(
        policy: &'a Policy,
        facts: &'a ClientFacts,
        subject: &Subject,
        rule: Option<&Rule>,
        urls: &'a ServerUrls,
    ) -> Renderer<'a> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut vars = policy.config.vars.clone();
        if let Some(m) = subject.machine {
            vars.extend(m.vars.clone());
        }
        if let Some(r) = rule {
            vars.extend(r.vars.clone());
        }
        let mut context: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in &vars {
            context.insert(k.clone(), Value::from_serialize(v));
        }
        context.insert("vars".into(), Value::from_serialize(&vars));
        for name in IPXE_VARIABLES {
            context.insert((*name).into(), Value::from(facts.ipxe_value(name)));
        }
        if let Some(h) = &subject.hostname {
            context.insert("hostname".into(), Value::from(h.clone()));
        }
        context.insert("arch".into(), Value::from(facts.arch.name()));
        context.insert("firmware".into(), Value::from(facts.firmware.name()));
        context.insert("server".into(), Value::from(urls.http_base.clone()));
        context.insert("labels".into(), Value::from_serialize(&subject.labels));
        context.insert("rule".into(), Value::from(rule.map(|r| r.name.clone()).unwrap_or_default()));
        Renderer { policy, facts, urls, env, context, findings: Vec::new() }
    }

    fn template(&self, item: &Item, field: &str, text: &str) -> Result<String, Refusal> {
        let mut ctx = self.context.clone();
        ctx.insert("item".into(), Value::from(item.id.clone()));
        self.env
            .render_str(text, ctx)
            .map_err(|e| Refusal::item(format!("{field}: template error: {}", e.detail().unwrap_or(&e.to_string()))))
    }

    fn args(&self, item: &Item, field: &str, text: Option<&str>) -> Result<Option<String>, Refusal> {
        text.map(|t| self.template(item, field, t).map(|s| one_line(&s))).transpose()
    }

    fn url(&self, file: &FileRef) -> String {
        file.url(&self.urls.http_base)
    }

    /// Checks a local file exists; a URL is taken as given.
    fn require(&self, field: &str, file: &FileRef) -> Result<(), Refusal> {
        match self.policy.local_path(file) {
            Some(p) if !p.is_file() => {
                Err(Refusal::item(format!("{field} {} not found (looked at {})", file.0, p.display())))
            }
            _ => Ok(()),
        }
    }

    /// iPXE expands `${name}` in command lines before they reach the multiboot buffer; count
    /// them with the values this client reported (unknown ones as written).
    fn expanded_len(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find('}') {
                Some(end) => {
                    let name = after[..end].split(':').next().unwrap_or("").replace('-', "_");
                    let value = self.facts.ipxe_value(&name);
                    if value.is_empty() {
                        out.push_str(&rest[start..start + 3 + end]);
                    } else {
                        out.push_str(&value);
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn nfs_root_check(&mut self, item: &Item, args: Option<&str>, has_initrd: bool, what: &str) -> Result<(), Refusal> {
        let Some(args) = args.filter(|a| wants_nfs_root(a)) else { return Ok(()) };
        if nfs_root_over_udp(args) {
            // A warning, not an error: other kernels may still have NFS over UDP.
            self.findings.push(Finding {
                severity: Severity::Warning,
                item: Some(item.id.clone()),
                message: format!(
                    "{what} mounts the NFS root over UDP (nfsroot=…,udp); Debian 12's kernel is built with \
                     CONFIG_NFS_DISABLE_UDP_SUPPORT=y and fails that mount with \"Invalid argument\" — use tcp"
                ),
            });
        }
        if !has_initrd {
            return Err(Refusal::item(format!(
                "{what} has root=/dev/nfs but no initrd: Debian's kernels build NFS as a module and without \
                 IP autoconfiguration (CONFIG_NFS_FS=m, no CONFIG_IP_PNP), so an NFS root needs an initramfs \
                 that mounts it (initramfs-tools with boot=nfs); add one, or use a kernel with NFS and ip= built in"
            )));
        }
        if !has_ip_setting(args) {
            return Err(Refusal::item(format!(
                "{what} has root=/dev/nfs but no ip= setting: the kernel or initramfs would not configure the \
                 network before mounting the root; add ip=dhcp (or a static ip=…)"
            )));
        }
        Ok(())
    }

    /// The iPXE commands for one item, or why it cannot be offered to this client.
    fn item_commands(&mut self, item: &Item) -> Result<Vec<String>, Refusal> {
        let arch = self.facts.arch;
        match &item.kind {
            ItemKind::Linux { kernel, initrds, args } => {
                self.require("kernel", kernel)?;
                for i in initrds {
                    self.require("initrd", i)?;
                }
                let args = self.args(item, "args", args.as_deref())?;
                self.nfs_root_check(item, args.as_deref(), !initrds.is_empty(), "the kernel command line")?;
                let mut line = format!("kernel {}", self.url(kernel));
                if arch.is_efi() {
                    // iPXE's EFI loader hands the kernel's EFI stub the initrds it names.
                    for i in initrds {
                        line.push_str(&format!(" initrd={}", i.basename()));
                    }
                }
                if let Some(a) = args.filter(|a| !a.is_empty()) {
                    line.push(' ');
                    line.push_str(&a);
                }
                let mut out = vec!["imgfree".to_string(), line];
                out.extend(initrds.iter().map(|i| format!("initrd {}", self.url(i))));
                out.push(format!("boot || goto {FAILED_LABEL}"));
                Ok(out)
            }
            ItemKind::Xen { hypervisor, hypervisor_args, kernel, args, modules, efi } => {
                let hv_args = self.args(item, "hypervisor_args", hypervisor_args.as_deref())?;
                let dom0_args = self.args(item, "args", args.as_deref())?;
                let mut module_args = Vec::new();
                for m in modules {
                    module_args.push(self.args(item, "modules.args", m.args.as_deref())?);
                }
                self.require("kernel", kernel)?;
                for m in modules {
                    self.require("module", &m.file)?;
                }
                self.nfs_root_check(item, dom0_args.as_deref(), !modules.is_empty(), "the dom0 command line")?;
                if arch.is_efi() {
                    return self.xen_efi_commands(item, efi.as_ref(), kernel, modules.len());
                }
                self.require("hypervisor", hypervisor)?;
                self.check_hypervisor(item, hypervisor)?;
                let count = 1 + modules.len();
                if count > IPXE_MAX_MODULES {
                    return Err(Refusal::item(format!(
                        "{count} multiboot modules (the dom0 kernel and {} more); iPXE passes at most \
                         {IPXE_MAX_MODULES} and silently drops the rest — merge initrds (cat a.cpio.gz b.cpio.gz) \
                         or boot through GRUB",
                        modules.len()
                    )));
                }
                let mut images: Vec<(String, Option<String>)> = vec![(self.url(hypervisor), hv_args.clone())];
                images.push((self.url(kernel), dom0_args.clone()));
                for (m, a) in modules.iter().zip(&module_args) {
                    images.push((self.url(&m.file), a.clone()));
                }
                let sizes: Vec<usize> = images
                    .iter()
                    .map(|(uri, a)| multiboot_line_bytes(uri, a.as_deref().map(|a| self.expanded_len(a)).as_deref()))
                    .collect();
                let total: usize = sizes.iter().sum();
                if total > IPXE_MULTIBOOT_CMDLINE_BYTES {
                    let parts: Vec<String> = sizes.iter().map(usize::to_string).collect();
                    return Err(Refusal::item(format!(
                        "multiboot command lines take {total} bytes ({} = each image's URI, its arguments and a \
                         NUL); iPXE has one {IPXE_MULTIBOOT_CMDLINE_BYTES}-byte buffer for all of them and cuts \
                         the rest silently — shorten the arguments or the file paths",
                        parts.join(" + ")
                    )));
                }
                let mut out = vec!["imgfree".to_string()];
                let line = |cmd: &str, (uri, a): &(String, Option<String>)| match a.as_deref().filter(|a| !a.is_empty())
                {
                    Some(a) => format!("{cmd} {uri} {a}"),
                    None => format!("{cmd} {uri}"),
                };
                out.push(line("kernel", &images[0]));
                out.extend(images[1..].iter().map(|i| line("module", i)));
                out.push(format!("boot || goto {FAILED_LABEL}"));
                Ok(out)
            }
            ItemKind::Chain { url } => {
                let url = one_line(&self.template(item, "url", url)?);
                Ok(vec![format!("chain --autofree {} || goto {FAILED_LABEL}", FileRef(url).url(&self.urls.http_base))])
            }
            ItemKind::Local => Ok(vec!["exit".into()]),
            ItemKind::Shell => Ok(vec!["shell".into()]),
            ItemKind::Submenu { menu } => Ok(vec![format!("goto m_{menu}")]),
            ItemKind::Script { script } => {
                let text = self.template(item, "script", script)?;
                Ok(text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("#!ipxe"))
                    .map(|l| l.trim_end().to_string())
                    .filter(|l| !l.is_empty())
                    .collect())
            }
        }
    }

    fn check_hypervisor(&mut self, item: &Item, hypervisor: &FileRef) -> Result<(), Refusal> {
        match self.policy.local_path(hypervisor) {
            Some(path) => {
                let s = sniff(&path).map_err(|e| Refusal::item(format!("hypervisor {}: {e}", path.display())))?;
                if s.gzip && !self.policy.config.gunzip {
                    return Err(Refusal::item(format!(
                        "hypervisor {} is gzip-compressed and iPXE cannot boot it (\"Exec format error\", \
                         ipxe.org/2e008001); unpack it (gunzip -k {}) and name the unpacked file, or set \
                         `gunzip = true` in [server] to serve it decompressed",
                        hypervisor.0,
                        path.display()
                    )));
                }
                if !s.multiboot {
                    return Err(Refusal::item(format!(
                        "hypervisor {} is not a Multiboot ELF image (no Multiboot header in its first 8 KiB, \
                         or not ELF); name Xen's ELF hypervisor (boot/xen-*.gz or unpacked), not xen.efi or \
                         a vmlinuz",
                        hypervisor.0
                    )));
                }
                if s.gzip {
                    self.findings.push(Finding {
                        severity: Severity::Note,
                        item: Some(item.id.clone()),
                        message: format!("hypervisor {} is gzip'd; it is served decompressed", hypervisor.0),
                    });
                }
                Ok(())
            }
            None if hypervisor.0.ends_with(".gz") => Err(Refusal::item(format!(
                "hypervisor {} is a gzip'd file on another server; iPXE cannot boot it (\"Exec format error\") \
                 and optrom can only unpack files it serves — put the unpacked hypervisor under the boot root",
                hypervisor.0
            ))),
            None => Ok(()),
        }
    }

    fn xen_efi_commands(
        &mut self,
        item: &Item,
        efi: Option<&FileRef>,
        kernel: &FileRef,
        modules: usize,
    ) -> Result<Vec<String>, Refusal> {
        let arch = self.facts.arch;
        let Some(efi) = efi else {
            return Err(Refusal {
                reason: format!(
                    "Xen boots through iPXE's multiboot loader, which iPXE builds only for BIOS, and this client \
                     is {arch} UEFI; set `efi = \"xen-4.17-amd64.efi\"` in [item.{}] (Debian's \
                     xen-hypervisor package ships boot/xen-*.efi) to boot Xen's EFI loader, or boot it through GRUB",
                    item.id
                ),
                platform_only: true,
            });
        };
        if modules > 1 {
            return Err(Refusal {
                reason: format!(
                    "Xen's EFI loader takes one ramdisk in xen.cfg, this item has {modules} modules after the dom0 kernel"
                ),
                platform_only: true,
            });
        }
        self.require("efi", efi)?;
        self.findings.push(Finding {
            severity: Severity::Note,
            item: Some(item.id.clone()),
            message: format!("{arch} UEFI clients boot Xen's EFI loader {} (no multiboot on UEFI)", efi.0),
        });
        let ItemKind::Xen { modules, .. } = &item.kind else { return Err(Refusal::item("not a xen item")) };
        let mut query = format!(
            "{XEN_CFG_QUERY_KEY}={}&platform={}&buildarch={}",
            item.id,
            arch.ipxe_platform(),
            arch.ipxe_buildarch()
        );
        if let Some(mac) = self.facts.mac {
            query.push_str(&format!("&mac={mac}"));
        }
        if let Some(uuid) = &self.facts.uuid {
            query.push_str(&format!("&uuid={uuid}"));
        }
        let mut out = vec![
            "imgfree".to_string(),
            format!("imgfetch --name xen.cfg {}?{query}", self.urls.script_url()),
            format!("imgfetch --name {} {}", kernel.basename(), self.url(kernel)),
        ];
        out.extend(modules.iter().map(|m| format!("imgfetch --name {} {}", m.file.basename(), self.url(&m.file))));
        out.push(format!("chain --name xen.efi {} || goto {FAILED_LABEL}", self.url(efi)));
        Ok(out)
    }

    fn xen_cfg(&mut self, item: &Item) -> Result<String, Refusal> {
        let ItemKind::Xen { hypervisor_args, kernel, args, modules, .. } = &item.kind else {
            return Err(Refusal::item(format!("item `{}` is not a xen item", item.id)));
        };
        let hv = self.args(item, "hypervisor_args", hypervisor_args.as_deref())?.unwrap_or_default();
        let dom0 = self.args(item, "args", args.as_deref())?.unwrap_or_default();
        let mut cfg =
            format!("[global]\ndefault=optrom\n\n[optrom]\noptions={hv}\nkernel={} {dom0}\n", kernel.basename());
        if let Some(m) = modules.first() {
            cfg.push_str(&format!("ramdisk={}\n", m.file.basename()));
        }
        Ok(cfg)
    }

    fn offered(&self, item: &Item) -> bool {
        item.arches.as_ref().is_none_or(|a| a.contains(&self.facts.arch))
    }

    fn render(&mut self, target: &Target, rule: Option<&Rule>) -> String {
        let mut out = String::from("#!ipxe\n");
        let who = match self.facts.mac {
            Some(m) => format!("{m}, {} {}", self.facts.arch, self.facts.firmware),
            None => format!("{} {}", self.facts.arch, self.facts.firmware),
        };
        out.push_str(&format!("# optrom boot script for {who}\n"));
        match rule {
            Some(r) => out.push_str(&format!("# decided by rule `{}`: {target}\n", r.name)),
            None => out.push_str(&format!("# no rule matched: {target}\n")),
        }
        let config = &self.policy.config;
        match target {
            Target::LocalAfterOnce { .. } => {
                out.push_str("exit\n");
                out
            }
            Target::Item(id) => {
                let Some(item) = config.items.get(id) else { return out };
                match self.item_commands(item) {
                    Ok(cmds) => {
                        out.push_str(&format!(":i_{id}\n"));
                        for c in cmds {
                            out.push_str(&format!("{c}\n"));
                        }
                        out.push_str(&format!(
                            ":{FAILED_LABEL}\necho optrom: booting {id} failed: ${{errno}}\nsleep 10 ||\nexit 1\n"
                        ));
                    }
                    Err(refusal) => {
                        self.refuse(item, &refusal, true);
                        out.push_str(&format!(
                            "echo optrom: item {id} cannot boot here: {}\nsleep 10 ||\nexit 1\n",
                            one_line(&refusal.reason)
                        ));
                    }
                }
                out
            }
            Target::Menu(start) => {
                self.render_menus(start, &mut out);
                out
            }
        }
    }

    fn refuse(&mut self, item: &Item, refusal: &Refusal, sole: bool) {
        let severity = if refusal.platform_only && !sole { Severity::Warning } else { Severity::Error };
        let message = if refusal.platform_only && !sole {
            format!("not offered to {} clients: {}", self.facts.arch, refusal.reason)
        } else {
            refusal.reason.clone()
        };
        self.findings.push(Finding { severity, item: Some(item.id.clone()), message });
    }

    fn render_menus(&mut self, start: &str, out: &mut String) {
        let config = &self.policy.config;
        // Menus reachable from the start menu, in visiting order.
        let mut order: Vec<&Menu> = Vec::new();
        let mut queue = VecDeque::from([start.to_string()]);
        let mut seen = BTreeSet::new();
        while let Some(name) = queue.pop_front() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(menu) = config.menus.get(&name) else { continue };
            order.push(menu);
            for id in &menu.items {
                if let Some(ItemKind::Submenu { menu }) = config.items.get(id).map(|i| &i.kind) {
                    queue.push_back(menu.clone());
                }
            }
        }
        let mut bodies: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut sections = String::new();
        for menu in &order {
            let mut lines = vec![format!(":m_{}", menu.name), format!("menu {}", one_line(&menu.title))];
            let mut bootable = Vec::new();
            let mut refusals = Vec::new();
            for id in &menu.items {
                let Some(item) = config.items.get(id) else { continue };
                if !self.offered(item) {
                    continue;
                }
                let label = one_line(&item.label);
                if let ItemKind::Submenu { menu: sub } = &item.kind {
                    lines.push(format!("item m_{sub} {label} >"));
                    continue;
                }
                let commands = match bodies.get(id) {
                    Some(c) => Ok(c.clone()),
                    None => self.item_commands(item),
                };
                match commands {
                    Ok(cmds) => {
                        lines.push(format!("item i_{id} {label}"));
                        if !matches!(item.kind, ItemKind::Local | ItemKind::Shell) {
                            bootable.push(id.clone());
                        }
                        bodies.insert(id.clone(), cmds);
                    }
                    Err(refusal) => {
                        let short = refusal.reason.split(';').next().unwrap_or(&refusal.reason).to_string();
                        lines.push(format!("item --gap {label} (unavailable: {})", one_line(&short)));
                        refusals.push((item, refusal));
                    }
                }
            }
            let sole = bootable.is_empty() && !refusals.is_empty();
            for (item, refusal) in &refusals {
                self.refuse(item, refusal, sole);
            }
            if sole {
                self.findings.push(Finding {
                    severity: Severity::Error,
                    item: None,
                    message: format!("menu `{}` has nothing bootable for {} clients", menu.name, self.facts.arch),
                });
            }
            // A default hidden from this architecture (`arches`) falls back to the first bootable
            // item, so a timeout still boots something.
            let hidden_default =
                menu.default.as_ref().and_then(|d| config.items.get(d)).is_some_and(|i| !self.offered(i));
            let default = if hidden_default {
                bootable.first()
            } else {
                menu.default.as_ref().filter(|d| bodies.contains_key(*d))
            };
            if let Some(d) = &menu.default
                && default.is_none()
                && refusals.iter().any(|(i, _)| &i.id == d)
            {
                self.findings.push(Finding {
                    severity: Severity::Warning,
                    item: Some(d.clone()),
                    message: format!(
                        "default of menu `{}` is unavailable to {} clients; no default",
                        menu.name, self.facts.arch
                    ),
                });
            }
            match (default, menu.timeout) {
                (Some(d), Some(0)) => {
                    // Timeout 0: boot the default at once, no menu shown.
                    lines.truncate(1);
                    lines.push(format!("goto i_{d}"));
                }
                _ => {
                    let mut choose = String::from("choose");
                    if let (Some(t), Some(_)) = (menu.timeout, default) {
                        choose.push_str(&format!(" --timeout {}", u64::from(t) * 1000));
                    }
                    if let Some(d) = default {
                        choose.push_str(&format!(" --default i_{d}"));
                    }
                    choose.push_str(&format!(" optrom_choice || goto {EXIT_LABEL}"));
                    lines.push(choose);
                    lines.push("goto ${optrom_choice}".into());
                }
            }
            sections.push_str(&lines.join("\n"));
            sections.push('\n');
        }
        out.push_str(&sections);
        for (id, cmds) in &bodies {
            out.push_str(&format!(":i_{id}\n"));
            for c in cmds {
                out.push_str(&format!("{c}\n"));
            }
            if matches!(config.items.get(id).map(|i| &i.kind), Some(ItemKind::Shell)) {
                out.push_str(&format!("goto m_{start}\n"));
            }
        }
        out.push_str(&format!(
            ":{FAILED_LABEL}\necho optrom: boot failed: ${{errno}}\nsleep 10 ||\ngoto m_{start}\n:{EXIT_LABEL}\nexit\n"
        ));
    }
}
