//! The boot-policy flags of `optrom serve` (`--check`, `--explain`, the quick modes) and their
//! printing; the decisions themselves live in `optrom_netboot::policy`.

use std::path::{Path, PathBuf};

use optrom_netboot::ServeConfig;
use optrom_netboot::policy::wiring::{PolicySource, check_urls};
use optrom_netboot::policy::{Policy, explain_facts, explain_report, is_boot_config};

use crate::output::outln;
use crate::{EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE};

/// Flags that choose and inspect what each client boots.
#[derive(clap::Args, Default)]
pub struct PolicyArgs {
    /// Validate the boot policy and print, per client class × architecture, what each client gets;
    /// exit 1 if a client would fail to boot.
    #[arg(long)]
    check: bool,
    /// Print the decision for one machine (with --mac and --arch [--uuid]) and the rule that made it.
    #[arg(long, requires_all = ["mac", "arch"])]
    explain: bool,
    /// The machine's MAC for --explain.
    #[arg(long)]
    mac: Option<String>,
    /// The machine's architecture for --explain: bios, ia32, x64, arm32, arm64, riscv64, loong64 or an option 93 code.
    #[arg(long)]
    arch: Option<String>,
    /// The machine's SMBIOS UUID for --explain.
    #[arg(long)]
    uuid: Option<String>,
    /// Quick mode: boot every client into this Linux kernel.
    #[arg(long, value_name = "VMLINUZ", conflicts_with = "multiboot")]
    kernel: Option<PathBuf>,
    /// Quick mode: an initrd for --kernel (repeatable, in order).
    #[arg(long, value_name = "FILE")]
    initrd: Vec<PathBuf>,
    /// Quick mode: the kernel's (or, with --multiboot, the hypervisor's) command line.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    cmdline: Option<String>,
    /// Quick mode: boot every BIOS client into this multiboot hypervisor (Xen; gzip'd is fine).
    #[arg(long, value_name = "XEN")]
    multiboot: Option<PathBuf>,
    /// Quick mode: a module for --multiboot, "FILE [ARGS]" (repeatable; the dom0 kernel first).
    #[arg(long, value_name = "FILE [ARGS]", allow_hyphen_values = true)]
    module: Vec<String>,
}

impl PolicyArgs {
    /// Where the policy comes from: `--config` when it is a boot configuration, or a quick mode.
    pub fn source(&self, config: Option<&Path>, state_dir: &Path) -> PolicySource {
        PolicySource {
            config: config.filter(|p| is_boot_config(p)).map(Path::to_path_buf),
            kernel: self.kernel.clone(),
            initrds: self.initrd.clone(),
            cmdline: self.cmdline.clone(),
            multiboot: self.multiboot.clone(),
            modules: self.module.clone(),
            once_state: Some(state_dir.join("boot-once.sqlite")),
        }
    }

    /// `--check` or `--explain`: prints and returns the exit code; `None` to run the server.
    pub fn inspect(&self, policy: Option<&Policy>, config: &ServeConfig) -> Option<u8> {
        if !self.check && !self.explain {
            return None;
        }
        let Some(policy) = policy else {
            eprintln!(
                "optrom serve: --check and --explain need a boot configuration (--config BOOT.toml) or --kernel/--multiboot"
            );
            return Some(EXIT_UNUSABLE);
        };
        let urls = policy.urls(&check_urls(config));
        if self.explain {
            let facts = match explain_facts(
                self.mac.as_deref().unwrap_or_default(),
                self.arch.as_deref().unwrap_or_default(),
                self.uuid.as_deref(),
            ) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("optrom serve: {e}");
                    return Some(EXIT_UNUSABLE);
                }
            };
            let (text, errors) = explain_report(policy, &facts, &urls);
            outln!("{}", text.strip_suffix('\n').unwrap_or(&text));
            return Some(if errors { EXIT_FINDINGS } else { EXIT_OK });
        }
        let report = policy.check(&urls);
        let text = report.render();
        outln!("{}", text.strip_suffix('\n').unwrap_or(&text));
        Some(if report.has_errors() { EXIT_FINDINGS } else { EXIT_OK })
    }
}
