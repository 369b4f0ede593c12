//! `optrom migrate-check`: whether guests on the OLD ROMs migrate to the NEW ones.

use std::path::Path;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use optrom::migrate::{self, RomSizes, Verdict};
use optrom::nic::NicModel;
use optrom::outcome::Classify;
use serde_json::json;

use crate::output::{exit_status, outln, print_json};
use crate::{EXIT_FINDINGS, EXIT_OK};

pub struct MigrateArgs<'a> {
    pub old: &'a Path,
    pub new: &'a Path,
    pub nic: Option<&'static NicModel>,
    pub sizes: RomSizes,
    pub pci_addr: &'a str,
    pub json: bool,
}

pub fn migrate_check(a: MigrateArgs<'_>) -> u8 {
    let rows = match migrate::compare_paths(a.old, a.new, a.nic, a.sizes, a.pci_addr) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("optrom: {e}");
            return exit_status(e.failure());
        }
    };
    let fails = rows.iter().filter(|r| r.verdict == Verdict::Fails).count();
    if a.json {
        print_json(
            &json!({ "schema": "optrom-migrate-check", "schema_version": 1, "migratable": fails == 0, "rows": rows }),
        );
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["NIC", "ROM file", "RAM block", "OLD", "NEW", "verdict"]);
        let size = |s: &migrate::Side| match (s.file_size, s.ram_block_size) {
            (Some(f), Some(b)) => {
                format!("{f} B -> {b:#x}{}", s.romsize.map_or(String::new(), |_| " (romsize)".into()))
            }
            _ => "absent".into(),
        };
        for r in &rows {
            table.add_row([
                r.nic.clone().unwrap_or_else(|| "-".into()),
                r.romfile.clone(),
                r.ram_block.clone(),
                size(&r.old),
                size(&r.new),
                match r.verdict {
                    Verdict::Migratable => "migratable".into(),
                    Verdict::Fails => "FAILS".into(),
                },
            ]);
        }
        outln!("{table}");
        for r in rows.iter().filter(|r| r.verdict == Verdict::Fails) {
            outln!(
                "{}: QEMU: {}\n  fix: {}",
                r.nic.as_deref().unwrap_or(&r.romfile),
                r.qemu_error.as_deref().unwrap_or("-"),
                r.advice.as_deref().unwrap_or("-")
            );
        }
        outln!(
            "{}",
            if fails == 0 {
                "all NICs migrate".to_string()
            } else {
                format!("{fails} NIC model(s) would fail to migrate")
            }
        );
    }
    if fails == 0 { EXIT_OK } else { EXIT_FINDINGS }
}
