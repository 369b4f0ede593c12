//! `optrom check`.

use std::path::PathBuf;

use optrom::CheckOptions;
use optrom::nic::Selection;
use serde_json::json;

use crate::output::{load_with_bytes, outln, print_json};
use crate::{EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE};

pub fn run(files: &[PathBuf], selection: Option<Selection>, bucket: Option<u64>, json: bool) -> u8 {
    let mut status = EXIT_OK;
    let mut reports = Vec::new();
    for path in files {
        let Some((info, bytes)) = load_with_bytes(path) else {
            status = EXIT_UNUSABLE;
            continue;
        };
        let file_name = path.file_name().and_then(|n| n.to_str());
        let nic = selection.and_then(|s| s.model_for(file_name));
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
            if selection.is_some() {
                entry["nic"] = json!(nic.map(|m| m.model));
            }
            reports.push(entry);
            continue;
        }
        let verdict = if report.passed() { "ok" } else { "FAILED" };
        let model = match (selection, nic) {
            (Some(Selection::Auto), Some(m)) => format!(", as {}'s default romfile", m.model),
            (Some(Selection::Auto), None) => ", no NIC model loads this file by default".into(),
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
