//! `optrom check`.

use std::path::PathBuf;

use optrom::{CheckOptions, nic};
use serde_json::json;

use crate::output::{load_with_bytes, outln, print_json};
use crate::{EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE};

pub fn run(files: &[PathBuf], nic_name: Option<&str>, bucket: Option<u64>, json: bool) -> u8 {
    // `--nic auto`: each file for the model QEMU loads it for by default.
    let auto = nic_name == Some("auto");
    let nic = match nic_name.filter(|_| !auto).map(|n| (n, nic::find(n))) {
        None => None,
        Some((_, Some(model))) => Some(model),
        Some((name, None)) => {
            eprintln!("optrom: unknown NIC model {name:?}; known models: auto, {}", nic::names().join(", "));
            return EXIT_UNUSABLE;
        }
    };
    let mut status = EXIT_OK;
    let mut reports = Vec::new();
    for path in files {
        let Some((info, bytes)) = load_with_bytes(path) else {
            status = EXIT_UNUSABLE;
            continue;
        };
        let file_name = path.file_name().and_then(|n| n.to_str());
        let nic = match (auto, file_name) {
            (true, Some(n)) => optrom::migrate::models_for(n).into_iter().find(|m| m.romfile == Some(n)),
            (true, None) => None,
            (false, _) => nic,
        };
        let report = optrom::check(&info, &CheckOptions { nic, bucket, file_name, rom: Some(&bytes) });
        if !report.passed() && status == EXIT_OK {
            status = EXIT_FINDINGS;
        }
        if json {
            let mut entry = json!({
                "path": path.display().to_string(),
                "passed": report.passed(),
                "errors": report.errors,
                "warnings": report.warnings,
                "findings": report.findings,
            });
            if nic_name.is_some() {
                entry["nic"] = json!(nic.map(|m| m.model));
            }
            reports.push(entry);
            continue;
        }
        let verdict = if report.passed() { "ok" } else { "FAILED" };
        let model = match (auto, nic) {
            (true, Some(m)) => format!(", as {}'s default romfile", m.model),
            (true, None) => ", no NIC model loads this file by default".into(),
            _ => String::new(),
        };
        outln!(
            "{}: {verdict} ({} error{}, {} warning{}{model})",
            path.display(),
            report.errors,
            if report.errors == 1 { "" } else { "s" },
            report.warnings,
            if report.warnings == 1 { "" } else { "s" }
        );
        for finding in &report.findings {
            outln!("{}: {finding}", path.display());
        }
    }
    if json {
        print_json(&json!({ "schema": "optrom-check", "schema_version": 1, "files": reports }));
    }
    status
}
