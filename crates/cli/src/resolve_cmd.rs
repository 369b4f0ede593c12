//! `optrom resolve`: which file QEMU loads as a NIC's ROM, and whether it runs.

use std::path::PathBuf;

use optrom::nic::NicModel;
use optrom::pack::Target;
use optrom::resolve::{self, Distro, SearchPath};
use serde_json::json;

use crate::output::{outln, print_json};
use crate::{EXIT_FINDINGS, EXIT_OK};

pub struct ResolveArgs {
    pub target: Target,
    pub nic: &'static NicModel,
    pub romfile: Option<String>,
    pub dash_l: Vec<PathBuf>,
    pub firmware_path: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub distro: Distro,
    pub json: bool,
}

pub fn resolve(a: ResolveArgs) -> u8 {
    let (target, model) = (a.target, a.nic);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let search = SearchPath::new(a.distro, a.dash_l, a.firmware_path.as_deref(), a.data_dir, cwd);
    let res = resolve::resolve(target, model, a.romfile.as_deref(), &search);
    if a.json {
        print_json(&json!({ "schema": "optrom-resolve", "schema_version": 1, "resolution": res }));
    } else {
        outln!(
            "qemu-system-{} -device {}: romfile {}",
            target.name(),
            res.nic,
            res.romfile.as_deref().unwrap_or("(none)")
        );
        for c in &res.candidates {
            outln!("  {:<14} {} {}", c.source, c.path.display(), if c.exists { "<- loaded" } else { "(missing)" });
        }
        match &res.found {
            Some(p) => outln!("loads {}: {}", p.display(), res.contents.as_deref().unwrap_or("")),
            None if res.romfile.is_some() => {
                outln!(
                    "not found: QEMU fails with: failed to find romfile \"{}\"",
                    res.romfile.as_deref().unwrap_or("")
                )
            }
            None => outln!("{}", res.contents.as_deref().unwrap_or("")),
        }
    }
    match (res.romfile.is_some(), res.found.is_some(), res.runs_on_target) {
        (false, _, _) => EXIT_OK,
        (true, true, Some(true)) => EXIT_OK,
        _ => EXIT_FINDINGS,
    }
}
