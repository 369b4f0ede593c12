//! Quick modes: a policy from command-line files instead of a config file — every client boots
//! one Linux kernel, or every BIOS client boots one multiboot hypervisor with its modules. The
//! files are served under `quick/N/<name>` so two files with the same name do not collide.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::config::{BootConfig, FileRef, Item, ItemKind, Menu, Module, Position, default_boot_files};
use super::decide::Policy;

/// A `--module "FILE [ARGS]"` value, split at the first whitespace.
pub fn parse_module_spec(spec: &str) -> Result<(PathBuf, Option<String>), String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err("--module: empty value (expected \"FILE [ARGS]\")".into());
    }
    match spec.split_once(char::is_whitespace) {
        Some((file, args)) => Ok((PathBuf::from(file), Some(args.trim().to_string()).filter(|a| !a.is_empty()))),
        None => Ok((PathBuf::from(spec), None)),
    }
}

struct Files(BTreeMap<String, PathBuf>);

impl Files {
    fn add(&mut self, flag: &str, path: &Path) -> Result<FileRef, String> {
        if !path.is_file() {
            return Err(format!("{flag} {}: no such file", path.display()));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
        let key = format!("quick/{}/{name}", self.0.len());
        let abs = std::fs::canonicalize(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
        self.0.insert(key.clone(), abs);
        Ok(FileRef(key))
    }
}

fn single_item_config(source: &str, item: Item) -> BootConfig {
    let id = item.id.clone();
    BootConfig {
        source: source.into(),
        root: None,
        http_base: None,
        gunzip: true,
        boot_files: default_boot_files(),
        vars: BTreeMap::new(),
        default_menu: "main".into(),
        menus: BTreeMap::from([(
            "main".to_string(),
            Menu {
                name: "main".into(),
                title: "optrom".into(),
                items: vec![id.clone()],
                default: Some(id.clone()),
                timeout: Some(0),
                at: Position::default(),
            },
        )]),
        items: BTreeMap::from([(id, item)]),
        rules: Vec::new(),
        machines: Vec::new(),
    }
}

/// `--kernel K [--initrd I]... [--cmdline ARGS]`: every client boots this Linux.
pub fn quick_linux(kernel: &Path, initrds: &[PathBuf], cmdline: Option<&str>) -> Result<Policy, String> {
    let mut files = Files(BTreeMap::new());
    let kernel = files.add("--kernel", kernel)?;
    let initrds = initrds.iter().map(|i| files.add("--initrd", i)).collect::<Result<Vec<_>, _>>()?;
    let item = Item {
        id: "linux".into(),
        label: "Linux".into(),
        kind: ItemKind::Linux { kernel, initrds, args: cmdline.map(str::to_string) },
        arches: None,
        at: Position::default(),
    };
    Ok(Policy::new(single_item_config("--kernel", item)).with_extra_files(files.0))
}

/// `--multiboot XEN [--cmdline ARGS] --module "FILE [ARGS]"...`: every BIOS client boots this
/// hypervisor; the first module is the dom0 kernel. UEFI clients are refused with the reason.
pub fn quick_multiboot(hypervisor: &Path, cmdline: Option<&str>, modules: &[String]) -> Result<Policy, String> {
    let mut files = Files(BTreeMap::new());
    let hv = files.add("--multiboot", hypervisor)?;
    let mut parsed = Vec::new();
    for spec in modules {
        let (path, args) = parse_module_spec(spec)?;
        parsed.push(Module { file: files.add("--module", &path)?, args });
    }
    if parsed.is_empty() {
        return Err("--multiboot needs at least one --module (the dom0 kernel)".into());
    }
    let dom0 = parsed.remove(0);
    let item = Item {
        id: "xen".into(),
        label: "Xen".into(),
        kind: ItemKind::Xen {
            hypervisor: hv,
            hypervisor_args: cmdline.map(str::to_string),
            kernel: dom0.file,
            args: dom0.args,
            modules: parsed,
            efi: None,
        },
        arches: None,
        at: Position::default(),
    };
    Ok(Policy::new(single_item_config("--multiboot", item)).with_extra_files(files.0))
}
