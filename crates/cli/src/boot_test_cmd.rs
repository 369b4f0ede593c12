//! `optrom boot-test`: argument mapping and reporting over `optrom_qemu::boottest`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use optrom_qemu::boottest::{self, CaseResult, PlanOptions, RunOptions, Verdict};
use optrom_qemu::{Accel, Firmware, FirmwarePaths, Machine};
use serde_json::json;

use crate::{EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE};

/// Arguments of `optrom boot-test`.
#[derive(clap::Args)]
pub struct BootTestArgs {
    /// ROM set directories (`*.rom`, also in x86_64/, aarch64/, riscv64/ and loongarch64/
    /// subdirectories) or ROM files.
    #[arg(required = true)]
    pub roms: Vec<PathBuf>,
    /// NIC models (comma-separated), or all. With ROM files: test each file on each of
    /// these; with a directory: only its ROMs for these models. Default: each ROM's
    /// own model (from its file name, else its PCI IDs).
    #[arg(long, value_delimiter = ',')]
    pub nic: Vec<String>,
    /// Firmware (comma-separated): seabios, ovmf, aavmf, riscv64-edk2, loongarch64-edk2. Default: what each ROM holds
    /// images for; a firmware listed here that a ROM holds nothing for is an expected negative.
    #[arg(long, value_delimiter = ',')]
    pub firmware: Vec<String>,
    /// Machines (comma-separated): pc, q35 (x86_64), virt (aarch64), riscv64-virt,
    /// loongarch64-virt; x86_64, aarch64, riscv64 and loongarch64 mean the firmware's
    /// default machine. Default: SeaBIOS pc, OVMF q35, the others their virt.
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Guests at a time. Default: the number of CPUs.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Seconds per case, from QEMU's start.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// tcg or kvm. KVM only on request: iPXE dies under KVM on nested hosts.
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// Print the results as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write each case's QEMU command, stderr and time-stamped console to DIR/<case>.log.
    #[arg(long)]
    pub keep_logs: Option<PathBuf>,
    /// Slirp offers no IPv6 (iPXE then waits longer before it fetches the script).
    #[arg(long)]
    pub no_ipv6: bool,
    /// OVMF code image (default: Debian's /usr/share/OVMF/OVMF_CODE_4M.fd).
    #[arg(long)]
    pub ovmf_code: Option<PathBuf>,
    /// OVMF variable store template, copied per case.
    #[arg(long)]
    pub ovmf_vars: Option<PathBuf>,
    /// AAVMF code image (default: /usr/share/AAVMF/AAVMF_CODE.fd).
    #[arg(long)]
    pub aavmf_code: Option<PathBuf>,
    /// AAVMF variable store template, copied per case.
    #[arg(long)]
    pub aavmf_vars: Option<PathBuf>,
    /// RISC-V EDK2 code image (default: /usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd,
    /// else the same path under scripts/fetch-testdata.sh's $OPTROM_CACHE/trixie/root).
    #[arg(long)]
    pub riscv64_code: Option<PathBuf>,
    /// RISC-V EDK2 variable store template, copied per case.
    #[arg(long)]
    pub riscv64_vars: Option<PathBuf>,
    /// LoongArch EDK2 code image (default: /usr/share/qemu-efi-loongarch64/QEMU_EFI.fd,
    /// else the same path under $OPTROM_CACHE/trixie/root).
    #[arg(long)]
    pub loongarch64_code: Option<PathBuf>,
    /// LoongArch EDK2 variable store template, copied per case.
    #[arg(long)]
    pub loongarch64_vars: Option<PathBuf>,
}

fn usage(message: String) -> u8 {
    eprintln!("optrom boot-test: {message}");
    EXIT_UNUSABLE
}

pub fn run(args: BootTestArgs) -> u8 {
    let nics = match args.nic.as_slice() {
        [] => None,
        [all] if all == "all" => None,
        names => {
            let mut models = Vec::new();
            for name in names {
                match optrom::nic::find(name) {
                    Some(m) => models.push(m),
                    None => {
                        return usage(format!(
                            "--nic {name}: unknown NIC model (known: {})",
                            optrom::nic::names().join(", ")
                        ));
                    }
                }
            }
            Some(models)
        }
    };
    let mut firmware = Vec::new();
    for name in &args.firmware {
        match Firmware::parse(name) {
            Some(f) => firmware.push(f),
            None => {
                return usage(format!(
                    "--firmware {name}: expected seabios, ovmf, aavmf, riscv64-edk2 or loongarch64-edk2"
                ));
            }
        }
    }
    let mut machines = Vec::new();
    for name in &args.target {
        match name.as_str() {
            "x86_64" => machines.extend([Machine::Pc, Machine::Q35]),
            "aarch64" => machines.push(Machine::Virt),
            "riscv64" => machines.push(Machine::Riscv64Virt),
            "loongarch64" => machines.push(Machine::Loongarch64Virt),
            other => match Machine::parse(other) {
                Some(m) => machines.push(m),
                None => {
                    return usage(format!(
                        "--target {other}: expected pc, q35, virt, riscv64-virt, loongarch64-virt, x86_64, \
                         aarch64, riscv64 or loongarch64"
                    ));
                }
            },
        }
    }
    let accel = match args.accel.as_str() {
        "tcg" => Accel::Tcg,
        "kvm" => Accel::Kvm,
        other => return usage(format!("--accel {other}: expected tcg or kvm")),
    };
    if args.timeout == 0 {
        return usage("--timeout must be at least 1 second".into());
    }
    let (inputs, explicit_files) = match boottest::collect_inputs(&args.roms) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let mut plan_options = PlanOptions { nics, firmware: None, machines: None, explicit_files };
    if !firmware.is_empty() {
        plan_options.firmware = Some(firmware);
    }
    if !machines.is_empty() {
        // x86_64 means each x86 firmware's own default machine, not both.
        let defaults_only =
            args.target.iter().all(|t| ["x86_64", "aarch64", "riscv64", "loongarch64"].contains(&t.as_str()));
        plan_options.machines = if defaults_only { None } else { Some(machines) };
        if defaults_only {
            let archs: Vec<&str> = args.target.iter().map(String::as_str).collect();
            let list = plan_options.firmware.get_or_insert_with(|| Firmware::ALL.to_vec());
            list.retain(|f| archs.contains(&f.default_machine().arch()));
        }
    }
    let plan = match boottest::plan(&inputs, &plan_options) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    for note in &plan.notes {
        eprintln!("optrom boot-test: note: {note}");
    }
    if plan.cases.is_empty() {
        return usage("no cases to run".into());
    }
    let defaults = FirmwarePaths::default();
    let run_options = RunOptions {
        firmware_paths: FirmwarePaths {
            ovmf_code: args.ovmf_code.unwrap_or(defaults.ovmf_code),
            ovmf_vars: args.ovmf_vars.unwrap_or(defaults.ovmf_vars),
            aavmf_code: args.aavmf_code.unwrap_or(defaults.aavmf_code),
            aavmf_vars: args.aavmf_vars.unwrap_or(defaults.aavmf_vars),
            riscv64_code: args.riscv64_code.unwrap_or(defaults.riscv64_code),
            riscv64_vars: args.riscv64_vars.unwrap_or(defaults.riscv64_vars),
            loongarch64_code: args.loongarch64_code.unwrap_or(defaults.loongarch64_code),
            loongarch64_vars: args.loongarch64_vars.unwrap_or(defaults.loongarch64_vars),
            seabios: None,
        },
        accel,
        timeout: Duration::from_secs(args.timeout),
        ipv6: !args.no_ipv6,
        plain_machine: false,
    };
    let missing = boottest::missing_prerequisites(&plan.cases, &run_options);
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("optrom boot-test: {m}");
        }
        return EXIT_UNUSABLE;
    }
    if let Some(dir) = &args.keep_logs
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return usage(format!("{}: cannot create: {e}", dir.display()));
    }
    if let Err(e) = optrom_qemu::interrupt::install() {
        return usage(format!("cannot install signal handlers: {e}"));
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);

    let started = Instant::now();
    let bar = ProgressBar::new(plan.cases.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} {bar:30} {pos}/{len} {msg}").expect("valid template"),
    );
    bar.set_message(format!("{} cases, {jobs} at a time", plan.cases.len()));
    let results = boottest::run_all(&plan.cases, &run_options, jobs, &|r: &CaseResult| {
        bar.set_message(format!("{} {}", r.case.id, r.verdict.name()));
        bar.inc(1);
    });
    bar.finish_and_clear();
    let wall = started.elapsed();

    if let Some(dir) = &args.keep_logs {
        for r in &results {
            let name: String = r
                .case
                .id
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                .collect();
            let text = format!(
                "case: {}\nverdict: {}\nreason: {}\ncommand: {}\n--- qemu stderr ---\n{}\n--- console ---\n{}\n",
                r.case.id,
                r.verdict.name(),
                r.reason,
                r.command.join(" "),
                r.qemu_stderr,
                r.transcript.join("\n")
            );
            if let Err(e) = optrom::fsio::write_atomic(&dir.join(format!("{name}.log")), text.as_bytes()) {
                eprintln!("optrom boot-test: {e}");
            }
        }
    }
    if let Some(path) = &args.junit
        && let Err(e) = optrom::fsio::write_atomic(path, junit(&results, wall).as_bytes())
    {
        eprintln!("optrom boot-test: {e}");
        return EXIT_UNUSABLE;
    }
    let interrupted = optrom_qemu::interrupt::requested();
    if args.json {
        let value = json!({
            "schema": "optrom-boot-test",
            "schema_version": 1,
            "wall_secs": wall.as_secs_f64(),
            "jobs": jobs,
            "accel": accel.name(),
            "interrupted": interrupted,
            "notes": plan.notes,
            "cases": results,
        });
        let mut out = std::io::stdout().lock();
        // A closed pipe is not an error worth a panic.
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value).expect("results serialize"));
    } else {
        print_report(&results, wall, jobs);
    }
    if let Some(signum) = interrupted {
        eprintln!("optrom boot-test: interrupted by signal {signum}; every QEMU guest was stopped");
        return EXIT_UNUSABLE;
    }
    if results.iter().any(|r| r.verdict == Verdict::Error) {
        EXIT_UNUSABLE
    } else if results.iter().all(|r| r.verdict.ok()) {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }
}

fn print_report(results: &[CaseResult], wall: Duration, jobs: usize) {
    let mut out = std::io::stdout().lock();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if table.width().is_none() {
        table.set_width(160); // not a terminal: wrap the reasons at a readable width
    }
    table.set_header(["ROM", "NIC", "firmware", "result", "proof at", "reason / evidence"]);
    for r in results {
        let detail = match r.verdict {
            Verdict::Pass => r.evidence.first().cloned().unwrap_or_else(|| r.reason.clone()),
            _ => r.reason.clone(),
        };
        table.add_row([
            r.case.rom_label.clone(),
            r.case.nic.to_string(),
            format!("{} ({})", r.case.firmware.name(), r.case.machine.label()),
            r.verdict.name().to_string(),
            r.proof_secs.map_or("-".into(), |s| format!("{s:.1} s")),
            detail,
        ]);
    }
    let _ = writeln!(out, "{table}");
    let _ = writeln!(out, "\n{}", matrix(results));
    for r in results.iter().filter(|r| !r.verdict.ok()) {
        let _ = writeln!(out, "\n{} {}: {}", r.verdict.name(), r.case.id, r.reason);
        if !r.qemu_stderr.trim().is_empty() {
            let _ = writeln!(out, "--- qemu stderr ---\n{}", r.qemu_stderr.trim_end());
        }
        let _ = writeln!(out, "--- last {} console lines ---", boottest::TAIL_LINES);
        if r.console_tail.is_empty() {
            let _ = writeln!(out, "(no console output)");
        }
        for line in &r.console_tail {
            let _ = writeln!(out, "{line}");
        }
    }
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    let _ = writeln!(
        out,
        "\n{} cases in {:.1} s ({jobs} at a time): {} pass, {} expected negative, {} fail, {} error",
        results.len(),
        wall.as_secs_f64(),
        count(Verdict::Pass),
        count(Verdict::ExpectedNegative),
        count(Verdict::Fail),
        count(Verdict::Error)
    );
}

/// The overview: one row per ROM and NIC, one column per firmware and machine.
fn matrix(results: &[CaseResult]) -> Table {
    let mut columns: Vec<(Firmware, Machine)> = results.iter().map(|r| (r.case.firmware, r.case.machine)).collect();
    columns.sort();
    columns.dedup();
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for r in results {
        if !rows.contains(&(r.case.rom_label.as_str(), r.case.nic)) {
            rows.push((r.case.rom_label.as_str(), r.case.nic));
        }
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["ROM".to_string(), "NIC".to_string()];
    header.extend(columns.iter().map(|(f, m)| format!("{} ({})", f.name(), m.label())));
    table.set_header(header);
    for (rom, nic) in rows {
        let mut row = vec![rom.to_string(), nic.to_string()];
        for (fw, machine) in &columns {
            let cell = results
                .iter()
                .find(|r| {
                    r.case.rom_label == rom && r.case.nic == nic && r.case.firmware == *fw && r.case.machine == *machine
                })
                .map_or(String::new(), |r| match (r.verdict, r.proof_secs) {
                    (Verdict::ExpectedNegative, _) => "expected negative".into(),
                    (v, Some(t)) => format!("{} {t:.1} s", v.name()),
                    (v, None) => v.name().into(),
                });
            row.push(cell);
        }
        table.add_row(row);
    }
    table
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one testcase per case; expected negatives pass, with their reason as output.
fn junit(results: &[CaseResult], wall: Duration) -> String {
    let failures = results.iter().filter(|r| r.verdict == Verdict::Fail).count();
    let errors = results.iter().filter(|r| r.verdict == Verdict::Error).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml += &format!(
        "<testsuites name=\"optrom boot-test\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        results.len(),
        wall.as_secs_f64()
    );
    xml += &format!(
        "  <testsuite name=\"optrom boot-test\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        results.len(),
        wall.as_secs_f64()
    );
    for r in results {
        let c = &r.case;
        xml += &format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
            xml_escape(&c.rom_label),
            xml_escape(&format!("{} {} {}", c.nic, c.firmware.name(), c.machine.label())),
            r.wall_secs
        );
        let tail = xml_escape(&r.console_tail.join("\n"));
        match r.verdict {
            Verdict::Pass | Verdict::ExpectedNegative => {
                xml += &format!(
                    "      <system-out>{}: {}</system-out>\n",
                    r.verdict.name(),
                    xml_escape(&format!("{}\n{}", r.reason, r.evidence.join("\n")))
                );
            }
            Verdict::Fail => {
                xml += &format!("      <failure message=\"{}\">{tail}</failure>\n", xml_escape(&r.reason));
            }
            Verdict::Error => {
                xml += &format!(
                    "      <error message=\"{}\">{}</error>\n",
                    xml_escape(&r.reason),
                    xml_escape(&r.qemu_stderr)
                );
            }
        }
        xml += "    </testcase>\n";
    }
    xml += "  </testsuite>\n</testsuites>\n";
    xml
}
