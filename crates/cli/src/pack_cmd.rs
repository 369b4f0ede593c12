//! `optrom pack`: build a ROM set from a manifest and print its size table.

use std::path::Path;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use optrom::outcome::Classify;
use optrom::pack::{self, Progress};
use optrom::size::human;

use crate::EXIT_OK;
use crate::output::{exit_status, fail, fail_io, outln, print_json, read};

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
