//! The boot configuration file (TOML, documented in `docs/boot-config.md`): parsed with serde
//! into raw tables that keep their source positions, then validated into [`BootConfig`], whose
//! every reference (menu → item, rule → menu/item) is known to resolve. Every error is one line,
//! `FILE: line L, column C: what`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::client::{ClientArch, FirmwareClass, IPXE_VARIABLES, Mac, Uuid};

/// A configuration error with its position in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or source description).
    pub file: String,
    /// 1-based line and column (0 when the error has no position, e.g. an unreadable file).
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: line {}, column {}: {}", self.file, self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where a table or value sits in the config file, for messages found after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
}

fn position(source: &str, offset: usize) -> Position {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Position { line, column }
}

// ---------------------------------------------------------------------------------------------
// Raw file shape (serde).

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    default: Option<Spanned<String>>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    boot_files: RawBootFiles,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
    #[serde(default)]
    menu: BTreeMap<String, Spanned<RawMenu>>,
    #[serde(default)]
    item: BTreeMap<String, Spanned<RawItem>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    #[serde(default)]
    machine: Vec<Spanned<RawMachine>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    root: Option<PathBuf>,
    http_base: Option<String>,
    gunzip: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBootFiles {
    bios: Option<String>,
    ia32: Option<String>,
    x64: Option<String>,
    arm32: Option<String>,
    arm64: Option<String>,
    riscv64: Option<String>,
    loong64: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMenu {
    title: Option<String>,
    items: Vec<Spanned<String>>,
    default: Option<Spanned<String>>,
    timeout: Option<u32>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Linux,
    Xen,
    Chain,
    Local,
    Shell,
    Submenu,
    Script,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    kind: RawKind,
    label: Option<String>,
    arches: Option<Vec<Spanned<String>>>,
    kernel: Option<String>,
    #[serde(default)]
    initrds: Vec<String>,
    args: Option<String>,
    hypervisor: Option<String>,
    hypervisor_args: Option<String>,
    #[serde(default)]
    modules: Vec<RawModule>,
    efi: Option<String>,
    url: Option<String>,
    menu: Option<Spanned<String>>,
    script: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    file: String,
    #[serde(default)]
    args: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    mac: Option<Spanned<String>>,
    uuid: Option<Spanned<String>>,
    arch: Option<Spanned<String>>,
    firmware: Option<Spanned<String>>,
    hostname: Option<String>,
    label: Option<String>,
    menu: Option<Spanned<String>>,
    item: Option<Spanned<String>>,
    #[serde(default)]
    once: bool,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMachine {
    mac: Option<Spanned<String>>,
    uuid: Option<Spanned<String>>,
    hostname: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
}

// ---------------------------------------------------------------------------------------------
// Validated configuration.

/// Variables for templates: TOML values (strings, numbers, booleans, arrays, tables).
pub type Vars = BTreeMap<String, toml::Value>;

/// The validated boot configuration.
#[derive(Debug, Clone)]
pub struct BootConfig {
    /// The file it came from (or a description such as `--kernel`), for messages.
    pub source: String,
    /// Directory holding the boot files that relative paths name (default: the config's dir).
    pub root: Option<PathBuf>,
    /// `http://host[:port]` the clients fetch files and scripts from; the server fills it in
    /// when the file does not.
    pub http_base: Option<String>,
    /// Serve gzip'd multiboot hypervisors decompressed (default true).
    pub gunzip: bool,
    /// iPXE boot file per architecture, relative to the TFTP/HTTP root.
    pub boot_files: BTreeMap<ClientArch, String>,
    /// `[vars]`: global template variables.
    pub vars: Vars,
    /// The menu a client gets when no rule matches.
    pub default_menu: String,
    /// Menus by name.
    pub menus: BTreeMap<String, Menu>,
    /// Items by id.
    pub items: BTreeMap<String, Item>,
    /// In file order (ties in specificity go to the earlier rule).
    pub rules: Vec<Rule>,
    /// The inventory.
    pub machines: Vec<Machine>,
}

/// A menu: items in order, an optional default and timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// The menu's name (`[menu.NAME]`).
    pub name: String,
    /// The title iPXE shows (default: the name).
    pub title: String,
    /// Item ids in display order.
    pub items: Vec<String>,
    /// The item chosen on timeout.
    pub default: Option<String>,
    /// Seconds before the default boots; `None` waits forever, 0 boots the default at once.
    pub timeout: Option<u32>,
    /// Where the menu is defined.
    pub at: Position,
}

/// A boot item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The item's id (`[item.ID]`).
    pub id: String,
    /// The menu text.
    pub label: String,
    /// What it boots.
    pub kind: ItemKind,
    /// The architectures the item is offered to (`None`: all); others do not see it.
    pub arches: Option<BTreeSet<ClientArch>>,
    /// Where the item is defined.
    pub at: Position,
}

/// A file an item boots: a path under the boot root, or a full URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef(pub String);

impl FileRef {
    /// True for `http://`, `https://`, `tftp://` and other absolute URLs.
    pub fn is_url(&self) -> bool {
        self.0.contains("://")
    }

    /// The URL a client fetches it from, given the server's `http://host[:port]`.
    pub fn url(&self, http_base: &str) -> String {
        if self.is_url() {
            self.0.clone()
        } else {
            format!("{}/{}", http_base.trim_end_matches('/'), self.0.trim_start_matches('/'))
        }
    }

    /// The last path component (the image name iPXE gives it).
    pub fn basename(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

/// A multiboot module: a file and its (templated) arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module file.
    pub file: FileRef,
    /// Its command line (a template).
    pub args: Option<String>,
}

/// What an item does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// A Linux kernel with initrds and a templated command line.
    Linux {
        /// The kernel.
        kernel: FileRef,
        /// Its initrds, in order.
        initrds: Vec<FileRef>,
        /// Its command line (a template).
        args: Option<String>,
    },
    /// Xen: hypervisor (multiboot on BIOS iPXE), dom0 kernel, further modules (the first is the
    /// dom0 initrd), and optionally Xen's EFI loader for UEFI clients.
    Xen {
        /// The multiboot hypervisor (Xen's ELF image, possibly gzip'd).
        hypervisor: FileRef,
        /// Xen's command line (a template).
        hypervisor_args: Option<String>,
        /// The dom0 kernel (first multiboot module).
        kernel: FileRef,
        /// The dom0 command line (a template).
        args: Option<String>,
        /// Further modules; the first is the dom0 initrd.
        modules: Vec<Module>,
        /// Xen's EFI loader (`xen.efi`), offered to UEFI clients.
        efi: Option<FileRef>,
    },
    /// Chain to another URL (script or EFI/PXE binary).
    Chain {
        /// The URL (a template; a relative path is on this server).
        url: String,
    },
    /// Leave iPXE so the firmware tries the next boot device.
    Local,
    /// The iPXE shell.
    Shell,
    /// Another menu.
    Submenu {
        /// The menu's name.
        menu: String,
    },
    /// A whole script body (a template), inserted as the item's commands.
    Script {
        /// The commands (a template).
        script: String,
    },
}

impl ItemKind {
    /// The config name of the kind.
    pub fn name(&self) -> &'static str {
        match self {
            ItemKind::Linux { .. } => "linux",
            ItemKind::Xen { .. } => "xen",
            ItemKind::Chain { .. } => "chain",
            ItemKind::Local => "local",
            ItemKind::Shell => "shell",
            ItemKind::Submenu { .. } => "submenu",
            ItemKind::Script { .. } => "script",
        }
    }

    /// Every template string the item holds, with the field it is in.
    pub fn templates(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        match self {
            ItemKind::Linux { args, .. } => out.extend(args.as_deref().map(|a| ("args", a))),
            ItemKind::Xen { hypervisor_args, args, modules, .. } => {
                out.extend(hypervisor_args.as_deref().map(|a| ("hypervisor_args", a)));
                out.extend(args.as_deref().map(|a| ("args", a)));
                out.extend(modules.iter().filter_map(|m| m.args.as_deref().map(|a| ("modules.args", a))));
            }
            ItemKind::Chain { url } => out.push(("url", url)),
            ItemKind::Script { script } => out.push(("script", script)),
            ItemKind::Local | ItemKind::Shell | ItemKind::Submenu { .. } => {}
        }
        out
    }
}

/// What a rule selects on; `None` fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// This MAC.
    pub mac: Option<Mac>,
    /// This SMBIOS UUID.
    pub uuid: Option<Uuid>,
    /// This architecture.
    pub arch: Option<ClientArch>,
    /// This firmware class.
    pub firmware: Option<FirmwareClass>,
    /// This hostname (inventory or client-reported), case-insensitive.
    pub hostname: Option<String>,
    /// Machines carrying this inventory label.
    pub label: Option<String>,
}

/// What a rule chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    /// Show this menu.
    Menu(String),
    /// Boot this item directly; with `once`, only the first time, then local.
    Item {
        /// The item.
        item: String,
        /// Boot it once per machine, then local.
        once: bool,
    },
}

/// A rule: selector, target, and variables it adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule's name (`rule #N` when the file gives none).
    pub name: String,
    /// What it matches.
    pub selector: Selector,
    /// What it chooses.
    pub target: RuleTarget,
    /// Template variables it sets (over machine and global ones).
    pub vars: Vars,
    /// Where the rule is defined.
    pub at: Position,
}

/// An inventory entry: how to recognise a machine and what it is called and tagged.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// Recognised by this MAC.
    pub mac: Option<Mac>,
    /// Or by this UUID.
    pub uuid: Option<Uuid>,
    /// Its hostname (matched by `hostname` rules, `{{ hostname }}` in templates).
    pub hostname: Option<String>,
    /// Its labels (matched by `label` rules).
    pub labels: Vec<String>,
    /// Its template variables (over global ones).
    pub vars: Vars,
}

/// The boot files Debian's `ipxe` package and iPXE's own build names use.
pub fn default_boot_files() -> BTreeMap<ClientArch, String> {
    [
        (ClientArch::Bios, "undionly.kpxe"),
        (ClientArch::X64, "snponly.efi"),
        (ClientArch::Arm64, "ipxe-arm64.efi"),
        (ClientArch::RiscV64, "ipxe-riscv64.efi"),
        (ClientArch::Loong64, "ipxe-loong64.efi"),
    ]
    .into_iter()
    .map(|(a, f)| (a, f.to_string()))
    .collect()
}

/// Template variable names the policy sets itself; config variables may not shadow them.
pub const BUILTIN_VARIABLES: &[&str] = &["arch", "firmware", "server", "item", "labels", "vars", "rule"];

struct Ctx<'a> {
    file: &'a str,
    source: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let p = position(self.source, span.start);
        ConfigError { file: self.file.into(), line: p.line, column: p.column, message: message.into() }
    }

    fn at(&self, span: Range<usize>) -> Position {
        position(self.source, span.start)
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
}

impl BootConfig {
    /// Reads and validates a config file. Relative `server.root` is taken from the file's
    /// directory; without one, the file's directory is the root.
    pub fn load(path: &Path) -> Result<BootConfig, ConfigError> {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        let mut config = BootConfig::parse(&file, &source)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        config.root = Some(match config.root.take() {
            Some(root) if root.is_relative() => dir.join(root),
            Some(root) => root,
            None => dir.to_path_buf(),
        });
        Ok(config)
    }

    /// Parses and validates config text; `file` names it in errors.
    pub fn parse(file: &str, source: &str) -> Result<BootConfig, ConfigError> {
        let ctx = Ctx { file, source };
        let raw: RawConfig = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ctx.err(span, e.message().trim().replace('\n', " "))
        })?;
        validate(&ctx, raw)
    }

    /// The boot file for an architecture, if one is configured.
    pub fn boot_file(&self, arch: ClientArch) -> Option<&str> {
        self.boot_files.get(&arch).map(String::as_str)
    }
}

fn parse_field<T: std::str::FromStr<Err = String>>(ctx: &Ctx, value: &Spanned<String>) -> Result<T, ConfigError> {
    value.get_ref().parse::<T>().map_err(|e| ctx.err(value.span(), e))
}

fn check_vars(ctx: &Ctx, span: Range<usize>, vars: &Vars, owner: &str) -> Result<(), ConfigError> {
    for name in vars.keys() {
        if BUILTIN_VARIABLES.contains(&name.as_str()) || IPXE_VARIABLES.contains(&name.as_str()) {
            return Err(ctx.err(
                span.clone(),
                format!("{owner}: variable `{name}` would hide the built-in template variable of that name"),
            ));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(ctx.err(span.clone(), format!("{owner}: variable name `{name}` is not a template identifier")));
        }
    }
    Ok(())
}

fn validate(ctx: &Ctx, raw: RawConfig) -> Result<BootConfig, ConfigError> {
    check_vars(ctx, 0..0, &raw.vars, "[vars]")?;

    let mut boot_files = default_boot_files();
    let b = &raw.boot_files;
    for (arch, file) in [
        (ClientArch::Bios, b.bios.clone()),
        (ClientArch::Ia32, b.ia32.clone()),
        (ClientArch::X64, b.x64.clone()),
        (ClientArch::Arm32, b.arm32.clone()),
        (ClientArch::Arm64, b.arm64.clone()),
        (ClientArch::RiscV64, b.riscv64.clone()),
        (ClientArch::Loong64, b.loong64.clone()),
    ] {
        match file {
            Some(f) if f.is_empty() => {
                boot_files.remove(&arch);
            }
            Some(f) => {
                boot_files.insert(arch, f);
            }
            None => {}
        }
    }

    let mut items = BTreeMap::new();
    for (id, spanned) in &raw.item {
        let span = spanned.span();
        if !is_identifier(id) {
            return Err(
                ctx.err(span, format!("item `{id}`: ids start with a letter and hold only letters, digits, `-`, `_`"))
            );
        }
        let item = validate_item(ctx, id, spanned.get_ref(), span.clone())?;
        items.insert(id.clone(), Item { at: ctx.at(span), ..item });
    }

    let mut menus = BTreeMap::new();
    for (name, spanned) in &raw.menu {
        let m = spanned.get_ref();
        if !is_identifier(name) {
            return Err(ctx.err(
                spanned.span(),
                format!("menu `{name}`: names start with a letter and hold only letters, digits, `-`, `_`"),
            ));
        }
        if m.items.is_empty() {
            return Err(ctx.err(spanned.span(), format!("menu `{name}`: `items` is empty")));
        }
        let mut seen = BTreeSet::new();
        for it in &m.items {
            if !items.contains_key(it.get_ref()) {
                return Err(ctx.err(
                    it.span(),
                    format!("menu `{name}`: no item `{}` ([item.{}] is missing)", it.get_ref(), it.get_ref()),
                ));
            }
            if !seen.insert(it.get_ref().clone()) {
                return Err(ctx.err(it.span(), format!("menu `{name}`: item `{}` listed twice", it.get_ref())));
            }
        }
        if let Some(d) = &m.default
            && !seen.contains(d.get_ref())
        {
            return Err(ctx.err(d.span(), format!("menu `{name}`: default `{}` is not one of its items", d.get_ref())));
        }
        menus.insert(
            name.clone(),
            Menu {
                name: name.clone(),
                title: m.title.clone().unwrap_or_else(|| name.clone()),
                items: m.items.iter().map(|i| i.get_ref().clone()).collect(),
                default: m.default.as_ref().map(|d| d.get_ref().clone()),
                timeout: m.timeout,
                at: ctx.at(spanned.span()),
            },
        );
    }
    for (id, spanned) in &raw.item {
        if let Some(menu) = &spanned.get_ref().menu
            && !menus.contains_key(menu.get_ref())
        {
            return Err(ctx.err(
                menu.span(),
                format!("item `{id}`: no menu `{}` ([menu.{}] is missing)", menu.get_ref(), menu.get_ref()),
            ));
        }
    }
    check_submenu_cycles(ctx, &raw, &items)?;

    let default_menu = match &raw.default {
        Some(d) if menus.contains_key(d.get_ref()) => d.get_ref().clone(),
        Some(d) => return Err(ctx.err(d.span(), format!("default: no menu `{}`", d.get_ref()))),
        None if menus.contains_key("main") => "main".into(),
        None if menus.len() == 1 => menus.keys().next().cloned().unwrap_or_default(),
        None => {
            return Err(ctx.err(
                0..0,
                "no default menu: add `default = \"NAME\"` at the top, or name one menu `main`".to_string(),
            ));
        }
    };

    let mut rules = Vec::new();
    for (index, spanned) in raw.rule.iter().enumerate() {
        let r = spanned.get_ref();
        let span = spanned.span();
        let name = r.name.clone().unwrap_or_else(|| format!("rule #{}", index + 1));
        let selector = Selector {
            mac: r.mac.as_ref().map(|m| parse_field(ctx, m)).transpose()?,
            uuid: r.uuid.as_ref().map(|u| parse_field(ctx, u)).transpose()?,
            arch: r.arch.as_ref().map(|a| parse_field(ctx, a)).transpose()?,
            firmware: r.firmware.as_ref().map(|f| parse_field(ctx, f)).transpose()?,
            hostname: r.hostname.clone(),
            label: r.label.clone(),
        };
        let target = match (&r.menu, &r.item) {
            (Some(m), None) if menus.contains_key(m.get_ref()) => {
                if r.once {
                    return Err(ctx.err(span, format!("{name}: `once` needs `item` (boot item X once, then local)")));
                }
                RuleTarget::Menu(m.get_ref().clone())
            }
            (Some(m), None) => return Err(ctx.err(m.span(), format!("{name}: no menu `{}`", m.get_ref()))),
            (None, Some(i)) if items.contains_key(i.get_ref()) => {
                RuleTarget::Item { item: i.get_ref().clone(), once: r.once }
            }
            (None, Some(i)) => return Err(ctx.err(i.span(), format!("{name}: no item `{}`", i.get_ref()))),
            (Some(_), Some(_)) => return Err(ctx.err(span, format!("{name}: give either `menu` or `item`, not both"))),
            (None, None) => return Err(ctx.err(span, format!("{name}: needs `menu` or `item`"))),
        };
        if r.once && selector.mac.is_none() && selector.uuid.is_none() {
            return Err(ctx.err(span, format!("{name}: `once` needs `mac` or `uuid` (it is remembered per machine)")));
        }
        check_vars(ctx, span.clone(), &r.vars, &name)?;
        rules.push(Rule { name, selector, target, vars: r.vars.clone(), at: ctx.at(span) });
    }

    let mut machines = Vec::new();
    for spanned in &raw.machine {
        let m = spanned.get_ref();
        let machine = Machine {
            mac: m.mac.as_ref().map(|v| parse_field(ctx, v)).transpose()?,
            uuid: m.uuid.as_ref().map(|v| parse_field(ctx, v)).transpose()?,
            hostname: m.hostname.clone(),
            labels: m.labels.clone(),
            vars: m.vars.clone(),
        };
        if machine.mac.is_none() && machine.uuid.is_none() {
            return Err(ctx.err(spanned.span(), "[[machine]]: needs `mac` or `uuid` to recognise the machine"));
        }
        check_vars(ctx, spanned.span(), &m.vars, "[[machine]]")?;
        machines.push(machine);
    }

    let http_base = match raw.server.http_base.clone() {
        Some(b) if !(b.starts_with("http://") || b.starts_with("https://")) => {
            return Err(ctx.err(0..0, format!("[server] http_base {b:?} must start with http:// or https://")));
        }
        other => other.map(|b| b.trim_end_matches('/').to_string()),
    };

    let config = BootConfig {
        source: ctx.file.into(),
        root: raw.server.root.clone(),
        http_base,
        gunzip: raw.server.gunzip.unwrap_or(true),
        boot_files,
        vars: raw.vars.clone(),
        default_menu,
        menus,
        items,
        rules,
        machines,
    };
    check_templates_compile(ctx, &config)?;
    Ok(config)
}

fn validate_item(ctx: &Ctx, id: &str, r: &RawItem, span: Range<usize>) -> Result<Item, ConfigError> {
    let need = |field: &Option<String>, name: &str| {
        field.clone().ok_or_else(|| {
            ctx.err(span.clone(), format!("item `{id}` (kind {:?}): missing `{name}`", r.kind).to_lowercase())
        })
    };
    // Fields that the kind does not use are an error: a typo'd kind would otherwise be silent.
    let used: &[&str] = match r.kind {
        RawKind::Linux => &["kernel", "initrds", "args"],
        RawKind::Xen => &["hypervisor", "hypervisor_args", "kernel", "args", "modules", "efi"],
        RawKind::Chain => &["url"],
        RawKind::Submenu => &["menu"],
        RawKind::Script => &["script"],
        RawKind::Local | RawKind::Shell => &[],
    };
    let present = [
        ("kernel", r.kernel.is_some()),
        ("initrds", !r.initrds.is_empty()),
        ("args", r.args.is_some()),
        ("hypervisor", r.hypervisor.is_some()),
        ("hypervisor_args", r.hypervisor_args.is_some()),
        ("modules", !r.modules.is_empty()),
        ("efi", r.efi.is_some()),
        ("url", r.url.is_some()),
        ("menu", r.menu.is_some()),
        ("script", r.script.is_some()),
    ];
    if let Some((field, _)) = present.iter().find(|(f, p)| *p && !used.contains(f)) {
        let kind = format!("{:?}", r.kind).to_lowercase();
        return Err(ctx.err(span, format!("item `{id}`: `{field}` does not apply to kind {kind}")));
    }
    let kind = match r.kind {
        RawKind::Linux => ItemKind::Linux {
            kernel: FileRef(need(&r.kernel, "kernel")?),
            initrds: r.initrds.iter().cloned().map(FileRef).collect(),
            args: r.args.clone(),
        },
        RawKind::Xen => ItemKind::Xen {
            hypervisor: FileRef(need(&r.hypervisor, "hypervisor")?),
            hypervisor_args: r.hypervisor_args.clone(),
            kernel: FileRef(need(&r.kernel, "kernel")?),
            args: r.args.clone(),
            modules: r.modules.iter().map(|m| Module { file: FileRef(m.file.clone()), args: m.args.clone() }).collect(),
            efi: r.efi.clone().map(FileRef),
        },
        RawKind::Chain => ItemKind::Chain { url: need(&r.url, "url")? },
        RawKind::Local => ItemKind::Local,
        RawKind::Shell => ItemKind::Shell,
        RawKind::Submenu => ItemKind::Submenu {
            menu: r
                .menu
                .as_ref()
                .map(|m| m.get_ref().clone())
                .ok_or_else(|| ctx.err(span.clone(), format!("item `{id}` (kind submenu): missing `menu`")))?,
        },
        RawKind::Script => ItemKind::Script { script: need(&r.script, "script")? },
    };
    let default_label = match &kind {
        ItemKind::Local => "Boot from the next device".to_string(),
        ItemKind::Shell => "iPXE shell".to_string(),
        _ => id.to_string(),
    };
    let arches = match &r.arches {
        Some(list) => Some(list.iter().map(|a| parse_field::<ClientArch>(ctx, a)).collect::<Result<BTreeSet<_>, _>>()?),
        None => None,
    };
    Ok(Item { id: id.into(), label: r.label.clone().unwrap_or(default_label), kind, arches, at: Position::default() })
}

fn check_submenu_cycles(ctx: &Ctx, raw: &RawConfig, items: &BTreeMap<String, Item>) -> Result<(), ConfigError> {
    // A menu reaching itself through submenus is allowed at runtime in iPXE (it is a `goto`),
    // but a menu whose only way out is itself is a trap; what must not happen is a submenu item
    // pointing at its own menu directly, which renders a menu that re-enters itself.
    for (name, menu) in &raw.menu {
        for it in &menu.get_ref().items {
            if let Some(ItemKind::Submenu { menu: target }) = items.get(it.get_ref()).map(|i| &i.kind)
                && target == name
            {
                return Err(ctx.err(
                    it.span(),
                    format!("menu `{name}`: item `{}` is a submenu of the menu itself", it.get_ref()),
                ));
            }
        }
    }
    Ok(())
}

fn check_templates_compile(ctx: &Ctx, config: &BootConfig) -> Result<(), ConfigError> {
    let env = minijinja::Environment::new();
    for item in config.items.values() {
        for (field, text) in item.kind.templates() {
            if let Err(e) = env.template_from_str(text) {
                let line_in_template = e.line().map_or(String::new(), |l| format!(" (template line {l})"));
                return Err(ConfigError {
                    file: ctx.file.into(),
                    line: item.at.line,
                    column: item.at.column,
                    message: format!(
                        "item `{}`: {field}: template syntax error{line_in_template}: {}",
                        item.id,
                        e.detail().unwrap_or("invalid template")
                    ),
                });
            }
        }
    }
    Ok(())
}
