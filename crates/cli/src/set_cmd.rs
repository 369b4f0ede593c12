//! `optrom pack`, `optrom migrate-check`, `optrom resolve`.

use std::path::{Path, PathBuf};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use optrom::migrate::{self, RomSizes, Verdict};
use optrom::nic::NicModel;
use optrom::pack::{self, Progress, Target};
use optrom::resolve::{self, Distro, SearchPath};
use optrom::size::human;
use serde_json::json;

use optrom::outcome::Classify;

use crate::output::{exit_status, fail, fail_io, outln, print_json, read};
use crate::{EXIT_FINDINGS, EXIT_OK};

pub fn pack(
    manifest_path: &Path,
    out: &Path,
    report_html: Option<&Path>,
    json: bool,
    strict: bool,
    level: Option<optrom_codec::Level>,
) -> u8 {
    let text = match read(manifest_path) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut manifest = match pack::Manifest::from_bytes(&text) {
        Ok(m) => m,
        Err(e) => return fail(manifest_path, &e),
    };
    manifest.set.strict |= strict;
    if let Some(level) = level {
        manifest.set.level = level;
    }
    let base = manifest_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("valid template"));
    let result = pack::pack(&manifest, base, &mut |p| match p {
        Progress::Start(n) => bar.set_length(n),
        Progress::Step(what) => {
            bar.set_message(what);
            bar.inc(1);
        }
    });
    bar.finish_and_clear();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("optrom: {}: {line}", manifest_path.display());
            }
            return exit_status(e.failure());
        }
    };
    if let Err(e) = pack::write_set(&report, out, report_html) {
        return fail_io(&e);
    }
    if json {
        print_json(&serde_json::to_value(&report).expect("reports serialize"));
        return EXIT_OK;
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["ROM", "NIC", "target", "images (bytes)", "content", "file", "BAR", "bucket", "headroom"]);
    for rom in &report.roms {
        table.add_row([
            rom.path.clone(),
            rom.nic.clone(),
            rom.target.clone(),
            rom.images.iter().map(|i| format!("{} {}", i.label, i.size)).collect::<Vec<_>>().join(" + "),
            rom.content_size.to_string(),
            rom.file_size.to_string(),
            human(rom.bar_size),
            rom.bucket.map_or("-".into(), human),
            rom.headroom.map_or("-".into(), |h| h.to_string()),
        ]);
    }
    outln!("{table}");
    for rom in &report.roms {
        for f in &rom.findings {
            outln!("{}: {f}", rom.path);
        }
    }
    outln!("wrote {} ROMs and {}", report.roms.len(), out.join(pack::SIZE_REPORT).display());
    if let Some(html) = report_html {
        outln!("wrote {}", html.display());
    }
    EXIT_OK
}

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
