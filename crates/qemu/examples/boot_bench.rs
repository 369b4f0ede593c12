//! Benchmark: wall time of the x86 boot-test matrix (Debian's eight efi-*.rom ×
//! SeaBIOS and OVMF, TCG, 2 guests at a time) and where each case's time goes,
//! measured from the guests' time-stamped consoles; then what the harness's cuts
//! are worth, each measured in the same run.
//!
//!     cargo run --release -p optrom-qemu --example boot_bench [-- JOBS]
//!
//! Then the e1000 pair three times per variant, interleaved. Variants: `shipped` (what `optrom boot-test` does: -nodefaults, the NIC first in
//! the boot order, slirp with IPv6 router advertisements, stop at the proof);
//! `no-ipv6` (slirp without IPv6: iPXE waits for IPv6 autoconfiguration to time out);
//! `plain` (QEMU's default devices and the firmware's own boot order).

use std::path::PathBuf;
use std::time::Instant;

use optrom_qemu::boottest::{self, CaseResult, PlanOptions, RunOptions, Verdict};
use optrom_qemu::{Firmware, interrupt};

const ROUNDS: usize = 3;
const BANNER: &[&str] = &["iPXE initialising", "Open Source Network Boot Firmware"];
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

    // 1. The whole matrix, as `optrom boot-test` runs it.
    let started = Instant::now();
    let results = boottest::run_all(&plan.cases, &RunOptions::default(), jobs, &|_| {});
    let wall = started.elapsed();
    println!("\n| case | result | iPXE banner | DHCP done | proof (token) | case wall |");
    println!("|---|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} {} | {} | {} | {} | {} | {:.1} |",
            r.case.nic,
            r.case.firmware.name(),
            r.verdict.name(),
            fmt(at(r, BANNER)),
            fmt(at(r, &["Configuring (net0"])),
            fmt(r.proof_secs),
            r.wall_secs
        );
    }
    println!("\nwhole x86 matrix: {} cases in {:.1} s wall ({jobs} at a time)", results.len(), wall.as_secs_f64());

    // 2. What each cut is worth: the e1000 pair, ROUNDS times per variant, interleaved.
    let variants: [(&str, RunOptions); 3] = [
        ("shipped", RunOptions::default()),
        ("no-ipv6", RunOptions { ipv6: false, ..RunOptions::default() }),
        ("plain", RunOptions { plain_machine: true, ..RunOptions::default() }),
    ];
    let pair: Vec<_> = plan.cases.iter().filter(|c| c.rom_label == "efi-e1000.rom").cloned().collect();
    let mut by_variant: Vec<Vec<CaseResult>> = vec![Vec::new(); variants.len()];
    for _ in 0..ROUNDS {
        for (i, (_, opts)) in variants.iter().enumerate() {
            by_variant[i].extend(boottest::run_all(&pair, opts, jobs, &|_| {}));
        }
        if interrupt::requested().is_some() {
            return;
        }
    }
    let mut summary = Vec::new();
    for ((name, _), results) in variants.iter().zip(&by_variant) {
        for fw in [Firmware::SeaBios, Firmware::Ovmf] {
            let passed: Vec<&CaseResult> =
                results.iter().filter(|r| r.case.firmware == fw && r.verdict == Verdict::Pass).collect();
            summary.push(format!(
                "| {name} | {} | {}/{} | {} | {} | {} |",
                fw.name(),
                passed.len(),
                results.iter().filter(|r| r.case.firmware == fw).count(),
                fmt(median(passed.iter().filter_map(|r| at(r, BANNER)).collect())),
                fmt(median(passed.iter().filter_map(|r| at(r, &["Configuring (net0"])).collect())),
                fmt(median(passed.iter().filter_map(|r| r.proof_secs).collect())),
            ));
        }
    }
    println!("\ne1000 pair, {ROUNDS} rounds per variant (medians, seconds from QEMU start):");
    println!("\n| variant | firmware | passed | iPXE banner | DHCP done | proof |");
    println!("|---|---|---|---|---|---|");
    for line in summary {
        println!("{line}");
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average after: {}", load.trim());
}
