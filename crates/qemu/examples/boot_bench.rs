//! Benchmark: wall time of the x86 boot-test matrix (Debian's eight efi-*.rom ×
//! SeaBIOS and OVMF, TCG, 2 guests at a time) and where each case's time goes,
//! measured from the guests' time-stamped consoles; then what the harness's cuts
//! are worth, each measured in the same run.
//!
//!     cargo run --release -p optrom-qemu --example boot_bench [-- JOBS]
//!
//! Variants: `shipped` (what `optrom boot-test` does: -nodefaults, the NIC first in
//! the boot order, slirp with IPv6 router advertisements, stop at the proof);
//! `no-ipv6` (slirp without IPv6: iPXE waits for IPv6 autoconfiguration to time out);
//! `plain` (QEMU's default devices and the firmware's own boot order).

use std::path::PathBuf;
use std::time::Instant;

use optrom_qemu::boottest::{self, CaseResult, PlanOptions, RunOptions, Verdict};
use optrom_qemu::{Firmware, interrupt};

const NICS: [&str; 8] = ["e1000", "e1000e", "eepro100", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3"];

/// Seconds from QEMU's start to the first console line containing `needle`.
fn at(r: &CaseResult, needles: &[&str]) -> Option<f64> {
    r.transcript.iter().find(|l| needles.iter().any(|n| l.contains(n))).and_then(|l| {
        let (stamp, _) = l.trim_start_matches('[').split_once(']')?;
        stamp.trim().parse().ok()
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("-".into(), |s| format!("{s:.1}"))
}

fn main() {
    interrupt::install().expect("signal handlers");
    let jobs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let roms: Vec<PathBuf> = NICS.iter().map(|n| PathBuf::from(format!("/usr/lib/ipxe/qemu/efi-{n}.rom"))).collect();
    let (inputs, explicit) = boottest::collect_inputs(&roms).expect("Debian's ipxe-qemu ROMs");
    let plan = boottest::plan(&inputs, &PlanOptions { explicit_files: explicit, ..Default::default() }).expect("plan");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "x86 matrix: {} cases, {jobs} guests at a time, TCG; load average before: {}",
        plan.cases.len(),
        load.trim()
    );

    let variants: [(&str, RunOptions, bool); 3] = [
        ("shipped", RunOptions::default(), true),
        ("no-ipv6", RunOptions { ipv6: false, ..RunOptions::default() }, false),
        ("plain", RunOptions { plain_machine: true, ..RunOptions::default() }, false),
    ];
    let mut summary = Vec::new();
    for (name, opts, full) in variants {
        // The shipped variant runs the whole matrix; the others the e1000 pair, to show the cut.
        let cases: Vec<_> = plan.cases.iter().filter(|c| full || c.rom_label == "efi-e1000.rom").cloned().collect();
        let started = Instant::now();
        let results = boottest::run_all(&cases, &opts, jobs, &|_| {});
        let wall = started.elapsed();
        if full {
            println!(
                "\n| case | result | firmware's first line | iPXE banner | DHCP done | proof (token) | case wall |"
            );
            println!("|---|---|---|---|---|---|---|");
            for r in &results {
                println!(
                    "| {} {} | {} | {} | {} | {} | {} | {:.1} |",
                    r.case.nic,
                    r.case.firmware.name(),
                    r.verdict.name(),
                    fmt(at(r, &["SeaBIOS (version", "BdsDxe", "UEFI"])),
                    fmt(at(r, &["iPXE initialising", "Open Source Network Boot Firmware"])),
                    fmt(at(r, &["Configuring (net0"])),
                    fmt(r.proof_secs),
                    r.wall_secs
                );
            }
        }
        for fw in [Firmware::SeaBios, Firmware::Ovmf] {
            let passed: Vec<&CaseResult> =
                results.iter().filter(|r| r.case.firmware == fw && r.verdict == Verdict::Pass).collect();
            summary.push(format!(
                "| {name} | {} | {}/{} | {} | {} | {} | {} |",
                fw.name(),
                passed.len(),
                results.iter().filter(|r| r.case.firmware == fw).count(),
                fmt(median(
                    passed.iter().filter_map(|r| at(r, &["iPXE initialising", "Open Source Network"])).collect()
                )),
                fmt(median(passed.iter().filter_map(|r| at(r, &["Configuring (net0"])).collect())),
                fmt(median(passed.iter().filter_map(|r| r.proof_secs).collect())),
                if full { format!("{:.1} s", wall.as_secs_f64()) } else { "-".into() }
            ));
        }
        if interrupt::requested().is_some() {
            break;
        }
    }
    println!("\n| variant | firmware | passed | iPXE banner (median s) | DHCP done | proof | matrix wall |");
    println!("|---|---|---|---|---|---|---|");
    for line in summary {
        println!("{line}");
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average after: {}", load.trim());
}
