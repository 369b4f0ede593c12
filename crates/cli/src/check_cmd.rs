//! `optrom check`.

use std::path::PathBuf;

use optrom::{CheckOptions, nic};
use serde_json::json;

use crate::output::{load_with_bytes, print_json};
use crate::{EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE};

pub fn run(files: &[PathBuf], nic_name: Option<&str>, bucket: Option<u64>, json: bool) -> u8 {
    let nic = match nic_name.map(|n| (n, nic::find(n))) {
        None => None,
        Some((_, Some(model))) => Some(model),
        Some((name, None)) => {
            eprintln!("optrom: unknown NIC model {name:?}; known models: {}", nic::names().join(", "));
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
        let report = optrom::check(&info, &CheckOptions { nic, bucket, file_name, rom: Some(&bytes) });
        if !report.passed() && status == EXIT_OK {
            status = EXIT_FINDINGS;
        }
        if json {
            reports.push(json!({
                "path": path.display().to_string(),
                "passed": report.passed(),
                "errors": report.errors,
                "warnings": report.warnings,
                "findings": report.findings,
            }));
            continue;
        }
        let verdict = if report.passed() { "ok" } else { "FAILED" };
        println!(
            "{}: {verdict} ({} error{}, {} warning{})",
            path.display(),
            report.errors,
            if report.errors == 1 { "" } else { "s" },
            report.warnings,
            if report.warnings == 1 { "" } else { "s" }
        );
        for finding in &report.findings {
            println!("{}: {finding}", path.display());
        }
    }
    if json {
        print_json(&json!({ "schema": "optrom-check", "schema_version": 1, "files": reports }));
    }
    status
}
