//! The boot-test matrix: which NIC × firmware × machine cases a ROM set calls for,
//! what each case is expected to show, and running them in real guests.
//!
//! **Planning** reads each ROM with the optrom library: its images and their
//! architectures ([`optrom::inspect()`]) decide the firmware (a legacy image →
//! SeaBIOS, an X64 EFI image → OVMF, an AA64 one → AAVMF, a RISCV64 or LOONGARCH64
//! one → that architecture's EDK2 on its `virt` machine); its file name or PCI IDs
//! decide the NIC model ([`optrom::migrate::models_for`], [`optrom::nic`]); and
//! [`optrom::check()`] predicts what the firmware will refuse (a bad checksum, PCI IDs
//! SeaBIOS does not match, an EFI stream that does not decode). A case the ROM
//! cannot boot is planned as an *expected negative* with that reason.
//!
//! **Proof** that the ROM's driver moved packets: an iPXE image (legacy or EFI)
//! must fetch a per-case script over slirp's TFTP and print a token that exists
//! nowhere but in that run (built from two iPXE variables, so the script text
//! itself can never match). A non-iPXE EFI driver must be listed by the UEFI
//! shell's `drivers` command with the ROM image as its image name
//! (`Offset(first,last)`), which EDK2 only shows once PciBusDxe has loaded and
//! started it. An expected negative is confirmed by the same run: the firmware
//! ran, and no code from the ROM did.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use optrom::finding::Severity;
use optrom::inspect::RomInfo;
use optrom::nic::NicModel;
use optrom_format::{CodeType, Machine as PeMachine};

use crate::guest::{
    Accel, Firmware, FirmwarePaths, Guest, GuestSpec, Machine, Network, NicSpec, Outcome, QemuError, RomChoice,
    UserNet, Watch, work_dir,
};

/// A ROM to test, as found on the command line.
#[derive(Debug, Clone)]
pub struct RomInput {
    /// The file.
    pub path: PathBuf,
    /// How reports name it (the path relative to the set directory).
    pub label: String,
    /// For a per-target set (`aarch64/efi-e1000.rom`): the only architecture it is for.
    pub arch: Option<&'static str>,
}

/// Turn command-line paths into ROM inputs: a directory contributes its set files
/// (`*.rom` at the top and in per-target subdirectories), a file itself. The bool
/// is true when every input was a file named explicitly.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<(Vec<RomInput>, bool), String> {
    let mut inputs = Vec::new();
    let mut all_files = true;
    for path in paths {
        if path.is_dir() {
            all_files = false;
            let files = optrom::migrate::set_files(path);
            if files.is_empty() {
                return Err(format!("{}: no *.rom files in this directory", path.display()));
            }
            for rel in files {
                let arch = rel.split_once('/').map(|(dir, _)| match dir {
                    "x86_64" => "x86_64",
                    "aarch64" => "aarch64",
                    "riscv64" => "riscv64",
                    "loongarch64" => "loongarch64",
                    _ => "other",
                });
                inputs.push(RomInput { path: path.join(&rel), label: rel, arch });
            }
        } else if path.is_file() {
            let label = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
            inputs.push(RomInput { path: path.clone(), label, arch: None });
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    // Several sets hold files of the same name: name each by its whole path.
    let mut labels: Vec<&str> = inputs.iter().map(|i| i.label.as_str()).collect();
    labels.sort();
    if labels.windows(2).any(|w| w[0] == w[1]) {
        for input in &mut inputs {
            input.label = input.path.display().to_string();
        }
    }
    Ok((inputs, all_files))
}

/// What the caller narrowed the matrix to.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// NIC models; `None`: each ROM's own model. With explicit files, each file is
    /// tested on every model listed here.
    pub nics: Option<Vec<&'static NicModel>>,
    /// Firmware; `None`: what each ROM holds images for. Firmware listed here that
    /// a ROM holds nothing for gives expected-negative cases.
    pub firmware: Option<Vec<Firmware>>,
    /// Machines; `None`: each firmware's default (SeaBIOS `pc`, OVMF `q35`, AAVMF `virt`).
    pub machines: Option<Vec<Machine>>,
    /// The inputs were files named explicitly (see [`collect_inputs`]).
    pub explicit_files: bool,
}

/// What a case should show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Expectation {
    /// The ROM's driver runs and moves packets.
    Boots,
    /// The firmware will not run the ROM, for this reason.
    Negative {
        /// Why, from the ROM's contents.
        reason: String,
    },
}

/// How a case proves the ROM's driver ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Proof {
    /// iPXE fetches the case's script over TFTP and prints its token.
    IpxeScript,
    /// The UEFI shell's `drivers` lists this ROM image (EDK2's `Offset(first,last)`).
    RomDriverListed {
        /// The image name as EDK2 prints it.
        image: String,
    },
    /// A legacy image that is not iPXE: nothing to prove it by.
    None,
}

/// One guest to run.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// Unique, readable id: `rom/nic/firmware-machine`.
    pub id: String,
    /// The ROM file.
    pub rom: PathBuf,
    /// The ROM as reports name it.
    pub rom_label: String,
    /// The NIC model.
    pub nic: &'static str,
    /// Firmware.
    pub firmware: Firmware,
    /// Machine.
    pub machine: Machine,
    /// What the ROM's contents predict.
    pub expectation: Expectation,
    /// How the driver's run is proved.
    pub proof: Proof,
}

/// The cases, plus ROMs or pairs that gave no case and why.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Cases, in report order.
    pub cases: Vec<Case>,
    /// One line per ROM that gave no case.
    pub notes: Vec<String>,
}

/// Build the case matrix. Errors (an unreadable file, a file that is not a ROM)
/// are one line naming the file, and the offset and field where known.
pub fn plan(inputs: &[RomInput], opts: &PlanOptions) -> Result<Plan, String> {
    let mut plan = Plan::default();
    for input in inputs {
        let bytes = optrom::fsio::read(&input.path).map_err(|e| e.to_string())?;
        let info = optrom::inspect(&bytes)
            .map_err(|e| format!("{}: offset 0x{:x}: {}: {}", input.path.display(), e.offset, e.field, e.message))?;
        let models: Vec<&'static NicModel> = match (&opts.nics, opts.explicit_files) {
            (Some(nics), true) => nics.clone(),
            (nics, _) => match model_for(&input.label, &info) {
                Some(m) if nics.as_ref().is_none_or(|n| n.iter().any(|x| x.model == m.model)) => vec![m],
                Some(_) => continue,
                None => {
                    plan.notes.push(format!(
                        "{}: no QEMU NIC model for this ROM (name it efi-<nic>.rom, or give --nic)",
                        input.label
                    ));
                    continue;
                }
            },
        };
        let firmware: Vec<Firmware> = match &opts.firmware {
            Some(list) => list.clone(),
            None => Firmware::ALL.into_iter().filter(|f| holds_image_for(&info, *f)).collect(),
        };
        let firmware: Vec<Firmware> =
            firmware.into_iter().filter(|f| input.arch.is_none_or(|a| a == f.default_machine().arch())).collect();
        if firmware.is_empty() {
            plan.notes.push(format!(
                "{}: holds nothing SeaBIOS or EDK2 (x86_64, aarch64, riscv64, loongarch64) runs ({})",
                input.label,
                contents(&info)
            ));
            continue;
        }
        let pe_text = ipxe_efi_images(&bytes);
        for nic in &models {
            let report = optrom::check(&info, &optrom::CheckOptions { nic: Some(nic), ..Default::default() });
            for &fw in &firmware {
                let machines: Vec<Machine> = match &opts.machines {
                    Some(list) => list.iter().copied().filter(|m| fw.runs_on(*m)).collect(),
                    None => vec![fw.default_machine()],
                };
                for machine in machines {
                    let (expectation, proof) = predict(&bytes, &info, &report, fw, &pe_text);
                    plan.cases.push(Case {
                        id: format!("{}/{}/{}-{}", input.label, nic.model, fw.name(), machine.label()),
                        rom: input.path.clone(),
                        rom_label: input.label.clone(),
                        nic: nic.model,
                        firmware: fw,
                        machine,
                        expectation,
                        proof,
                    });
                }
            }
        }
    }
    Ok(plan)
}

/// The NIC model a ROM is for: its file name as QEMU's default romfile
/// (`efi-e1000.rom`, `pxe-eepro100.rom`), `efi-<model or alias>.rom`, else the first
/// model whose PCI IDs its first image carries.
pub fn model_for(label: &str, info: &RomInfo) -> Option<&'static NicModel> {
    let name = label.rsplit('/').next().unwrap_or(label);
    if let Some(m) = optrom::migrate::models_for(name).first() {
        return Some(m);
    }
    let stem = name.strip_suffix(".rom").unwrap_or(name);
    let stem = stem.strip_prefix("efi-").or_else(|| stem.strip_prefix("pxe-")).unwrap_or(stem);
    if let Some(m) = optrom::nic::find(stem) {
        return Some(m);
    }
    // `efi-e1000-patched.rom`: the longest model name the stem starts with, then a dash.
    let prefixed = optrom::nic::NIC_MODELS
        .iter()
        .flat_map(|m| std::iter::once(m.model).chain(m.aliases.iter().copied()).map(move |n| (n, m)))
        .filter(|(n, _)| stem.strip_prefix(n).is_some_and(|rest| rest.starts_with('-')))
        .max_by_key(|(n, _)| n.len());
    if let Some((_, m)) = prefixed {
        return Some(m);
    }
    let pcir = info.images.iter().find_map(|i| i.pcir.as_ref())?;
    optrom::nic::NIC_MODELS.iter().find(|m| m.vendor == pcir.vendor && m.device == pcir.device)
}

/// The EFI machine a UEFI firmware loads (64-bit OVMF runs X64 images only).
fn efi_machine(fw: Firmware) -> Option<PeMachine> {
    match fw {
        Firmware::SeaBios => None,
        Firmware::Ovmf => Some(PeMachine::X64),
        Firmware::Aavmf => Some(PeMachine::Aa64),
        Firmware::Riscv64Edk2 => Some(PeMachine::RiscV64),
        Firmware::Loongarch64Edk2 => Some(PeMachine::LoongArch64),
    }
}

fn holds_image_for(info: &RomInfo, fw: Firmware) -> bool {
    info.images.iter().any(|i| match efi_machine(fw) {
        None => i.code_type == CodeType::PcAt,
        Some(m) => i.efi.as_ref().is_some_and(|e| e.machine == m),
    })
}

fn contents(info: &RomInfo) -> String {
    let kinds: Vec<String> = info
        .images
        .iter()
        .map(|i| match (&i.efi, i.code_type) {
            (Some(e), _) => format!("EFI {}", e.machine),
            (None, CodeType::PcAt) => "legacy x86".into(),
            (None, other) => format!("code type {other}"),
        })
        .collect();
    if kinds.is_empty() { "no images".into() } else { kinds.join(" + ") }
}

/// Indexes of the EFI images whose decompressed driver is an iPXE build.
fn ipxe_efi_images(rom: &[u8]) -> Vec<usize> {
    let Ok((manifest, files)) = optrom::edit::split(rom) else { return Vec::new() };
    manifest
        .images
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let driver = entry.driver.as_ref()?;
            let file = files.iter().find(|f| &f.name == driver)?;
            contains(&file.bytes, b"iPXE").then_some(index)
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// EDK2's name for a driver loaded from a PCI option ROM image: the image's first
/// and last byte within the ROM.
fn rom_image_name(offset: u64, length: u64) -> String {
    format!("Offset(0x{offset:X},0x{:X})", offset + length - 1)
}

fn predict(
    rom: &[u8],
    info: &RomInfo,
    report: &optrom::CheckReport,
    fw: Firmware,
    ipxe_efi: &[usize],
) -> (Expectation, Proof) {
    let relevant: Vec<&optrom::inspect::ImageInfo> = info
        .images
        .iter()
        .filter(|i| match efi_machine(fw) {
            None => i.code_type == CodeType::PcAt,
            Some(m) => i.efi.as_ref().is_some_and(|e| e.machine == m),
        })
        .collect();
    let errors_of = |index: usize| -> Vec<String> {
        report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error && f.image.is_none_or(|i| i == index))
            .map(|f| match f.offset {
                Some(o) => format!("{} at 0x{o:x}: {}", f.field, f.message),
                None => format!("{}: {}", f.field, f.message),
            })
            .collect()
    };
    let Some(first) = relevant.first() else {
        let reason = match fw {
            Firmware::SeaBios => format!("no legacy x86 image for SeaBIOS (the ROM holds {})", contents(info)),
            _ => format!(
                "no driver for this architecture: the ROM holds {}; {} on {} loads only {} EFI images",
                contents(info),
                fw.name(),
                fw.default_machine().arch(),
                efi_machine(fw).map_or("?".into(), |m| m.to_string())
            ),
        };
        let proof = match fw {
            Firmware::SeaBios => Proof::IpxeScript,
            _ => Proof::RomDriverListed { image: "Offset(".into() },
        };
        return (Expectation::Negative { reason }, proof);
    };
    // SeaBIOS runs the first legacy image only; EDK2 tries every image of its machine.
    let (chosen, errors) = match fw {
        Firmware::SeaBios => (*first, errors_of(first.index)),
        _ => relevant
            .iter()
            .map(|i| (*i, errors_of(i.index)))
            .find(|(_, e)| e.is_empty())
            .unwrap_or_else(|| (*first, errors_of(first.index))),
    };
    let proof = match fw {
        Firmware::SeaBios => {
            let bytes = rom.get(chosen.offset as usize..(chosen.offset + chosen.length) as usize).unwrap_or(&[]);
            if contains(bytes, b"iPXE") { Proof::IpxeScript } else { Proof::None }
        }
        _ if ipxe_efi.contains(&chosen.index) => Proof::IpxeScript,
        _ => Proof::RomDriverListed { image: rom_image_name(chosen.offset, chosen.length) },
    };
    let expectation = if errors.is_empty() {
        Expectation::Boots
    } else {
        Expectation::Negative { reason: format!("image {}: {}", chosen.index, errors.join("; ")) }
    };
    (expectation, proof)
}

/// How the cases run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Firmware images.
    pub firmware_paths: FirmwarePaths,
    /// Accelerator.
    pub accel: Accel,
    /// Per-case limit, from QEMU's start.
    pub timeout: Duration,
    /// Let slirp offer IPv6 (router advertisements).
    pub ipv6: bool,
    /// Benchmark knob: QEMU's default devices and the firmware's own boot order
    /// (what a plain command line gives), instead of `-nodefaults` and the NIC first.
    pub plain_machine: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            firmware_paths: FirmwarePaths::default(),
            accel: Accel::Tcg,
            timeout: Duration::from_secs(120),
            ipv6: true,
            plain_machine: false,
        }
    }
}

/// A case's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The proof appeared.
    Pass,
    /// The firmware did not run the ROM, as its contents predicted.
    ExpectedNegative,
    /// Anything else: no proof where one was expected, or ROM code ran where none should.
    Fail,
    /// The case could not be run (QEMU failed, setup, interrupted).
    Error,
}

impl Verdict {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::ExpectedNegative => "expected-negative",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }

    /// Whether the case came out as it should.
    pub fn ok(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::ExpectedNegative)
    }
}

/// What running a case showed.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// Verdict.
    pub verdict: Verdict,
    /// Why, in one line.
    pub reason: String,
    /// Seconds from QEMU's start to the proof (pass), or to the evidence that the
    /// firmware passed the ROM over (expected negative).
    pub proof_secs: Option<f64>,
    /// Seconds the case took, QEMU start to kill.
    pub wall_secs: f64,
    /// The console lines that prove it (the token line, the `drivers` line, iPXE's NIC line).
    pub evidence: Vec<String>,
    /// The last 40 console lines (for failures).
    pub console_tail: Vec<String>,
    /// The whole time-stamped console.
    #[serde(skip)]
    pub transcript: Vec<String>,
    /// The QEMU command line.
    pub command: Vec<String>,
    /// QEMU's stderr.
    pub qemu_stderr: String,
}

/// Lines of console kept for a failure report.
pub const TAIL_LINES: usize = 40;

fn token() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:016x}", h.finish())
}

/// Console text after which a UEFI guest will not run the ROM any more: it fell
/// through to its shell, or to EDK2's own IPv6/HTTP network boot (a minute each).
const UEFI_GAVE_UP: [&str; 4] = ["Press ESC in", "Shell>", ">>Start PXE over IPv6", ">>Start HTTP Boot"];
/// SeaBIOS tried every boot entry (with `-no-reboot`, QEMU then exits).
const SEABIOS_GAVE_UP: &str = "No bootable device";

/// Run one case in a guest of its own.
pub fn run_case(case: &Case, opts: &RunOptions) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult {
        case: case.clone(),
        verdict: Verdict::Error,
        reason: String::new(),
        proof_secs: None,
        wall_secs: 0.0,
        evidence: Vec::new(),
        console_tail: Vec::new(),
        transcript: Vec::new(),
        command: Vec::new(),
        qemu_stderr: String::new(),
    };
    let mut guest = None;
    let outcome = drive(case, opts, &mut guest, &mut result);
    if let Err(e) = outcome {
        result.verdict = Verdict::Error;
        result.reason = e.to_string();
        if let QemuError::Failed { stderr, .. } = &e {
            result.qemu_stderr = stderr.clone();
        }
    }
    if let Some(g) = &mut guest {
        g.kill();
        let console = g.console();
        result.transcript = console.transcript(None);
        result.console_tail = console.transcript(Some(TAIL_LINES));
        if result.qemu_stderr.is_empty() {
            result.qemu_stderr = g.stderr();
        }
    }
    drop(guest); // removes the guest's directory
    result.wall_secs = started.elapsed().as_secs_f64();
    result
}

fn drive(case: &Case, opts: &RunOptions, slot: &mut Option<Guest>, result: &mut CaseResult) -> Result<(), QemuError> {
    let work = work_dir()?;
    let tftp = work.path().join("tftp");
    std::fs::create_dir(&tftp).map_err(|e| QemuError::Setup(format!("cannot create {}: {e}", tftp.display())))?;
    let token = token();
    // The proof line is "optrom-proof-TOKEN PLATFORM": it is assembled by iPXE from a
    // variable, so the line exists only if iPXE executed the script it fetched.
    let script = format!("#!ipxe\nset p optrom-proof\necho ${{p}}-{token} ${{platform}} ${{buildarch}}\n");
    std::fs::write(tftp.join("boot.ipxe"), script)
        .map_err(|e| QemuError::Setup(format!("cannot write the boot script: {e}")))?;
    let platform = if case.firmware == Firmware::SeaBios { "pcbios" } else { "efi" };
    let proof_marker = format!("optrom-proof-{token} {platform}");

    let mut spec = GuestSpec::new(case.firmware);
    spec.machine = case.machine;
    spec.accel = opts.accel;
    spec.firmware_paths = opts.firmware_paths.clone();
    spec.default_devices = opts.plain_machine;
    spec.nic = Some(NicSpec {
        model: case.nic.to_string(),
        properties: Vec::new(),
        rom: RomChoice::File(case.rom.clone()),
        mac: None,
        boot_first: !opts.plain_machine,
        network: Network::User(UserNet { tftp: Some(tftp), bootfile: Some("boot.ipxe".into()), ipv6: opts.ipv6 }),
    });
    let guest = slot.insert(Guest::start_in(&spec, work)?);
    result.command = guest.command().to_vec();
    let deadline = Instant::now() + opts.timeout;
    let remaining = || deadline.saturating_duration_since(Instant::now());

    let negative = matches!(case.expectation, Expectation::Negative { .. });
    let reason_expected = match &case.expectation {
        Expectation::Negative { reason } => reason.clone(),
        Expectation::Boots => String::new(),
    };
    let fail_on: Vec<String> = if case.firmware == Firmware::SeaBios {
        vec![SEABIOS_GAVE_UP.into()]
    } else {
        UEFI_GAVE_UP.iter().map(|s| s.to_string()).collect()
    };
    let first =
        guest.wait_for(&Watch { all: vec![proof_marker.clone()], fail_on, more_than: None, timeout: remaining() })?;
    let console = guest.console();
    let ipxe_ran = console.contains("iPXE");
    // iPXE's "net0: MAC using DRIVER on PCI" names the driver that moved the packets.
    if let Some(line) = console.lines().into_iter().find(|l| l.text.contains("net0:") && l.text.contains(" using ")) {
        result.evidence.push(line.text.trim().to_string());
    }
    if let Outcome::Seen(at) = first {
        result.proof_secs = Some(at.as_secs_f64());
        // The proof line goes on with the platform and build; wait (briefly) for its end.
        let line_end = Instant::now() + Duration::from_secs(2);
        let token_text = format!("optrom-proof-{token}");
        while !guest.console().finished_line_with(&token_text) && Instant::now() < line_end {
            std::thread::sleep(Duration::from_millis(50));
        }
        let console = guest.console();
        if let Some(line) = console.line_with(&format!("optrom-proof-{token}")) {
            result.evidence.insert(0, line.text.trim().to_string());
        }
        if negative {
            result.verdict = Verdict::Fail;
            result.reason =
                format!("the ROM's iPXE fetched the script although it was expected not to run: {reason_expected}");
        } else {
            result.verdict = Verdict::Pass;
            result.reason = format!("iPXE fetched the case's script over TFTP and printed its token ({platform})");
        }
        return Ok(());
    }

    // No token. Under UEFI, ask the shell which drivers the firmware started.
    let mut listed: Option<(bool, Duration)> = None; // (ROM image listed, when the list ended)
    let mut gave_up = describe(&first, opts.timeout);
    if case.firmware.is_uefi() && matches!(&first, Outcome::FailMarker(m, _) if m == "Press ESC in" || m == "Shell>") {
        if console.contains("Press ESC in") && !console.contains("Shell>") {
            let _ = guest.send(b"\x1b"); // skip startup.nsh's 5 s countdown
        }
        let prompt = guest.wait_for(&Watch { all: vec!["Shell>".into()], timeout: remaining(), ..Watch::default() })?;
        if let Outcome::Seen(_) = prompt {
            let prompts = guest.console().count("Shell>");
            let _ = guest.send(b"drivers\r");
            let image = match &case.proof {
                Proof::RomDriverListed { image } => image.clone(),
                _ => "Offset(".into(),
            };
            let done = guest.wait_for(&Watch {
                all: vec![image.clone()],
                more_than: Some(("Shell>".into(), prompts)),
                timeout: remaining(),
                ..Watch::default()
            })?;
            let console = guest.console();
            match done {
                Outcome::Seen(at) => {
                    // Let the line finish so the evidence is whole.
                    let _ = guest.wait_for(&Watch {
                        all: vec![],
                        more_than: Some(("Shell>".into(), prompts)),
                        timeout: Duration::from_secs(3).min(remaining()),
                        ..Watch::default()
                    });
                    let lines = guest.console().lines();
                    if let Some(at) = lines.iter().position(|l| l.text.contains("Offset(")) {
                        let mut text = lines[at].text.trim_end().to_string();
                        // The shell's 80-column screen wraps a long `Offset(first,last)`
                        // (a ROM image far into a large ROM): join the continuation.
                        if !text.rsplit("Offset(").next().is_some_and(|rest| rest.contains(')'))
                            && let Some(next) = lines.get(at + 1)
                        {
                            text.push_str(next.text.trim());
                        }
                        result.evidence.push(text.trim().to_string());
                    }
                    listed = Some((true, at));
                }
                Outcome::FailMarker(_, at) if console.contains("PCI Bus Driver") || console.contains("DRV") => {
                    listed = Some((console.contains("Offset("), at));
                }
                other => {
                    gave_up = format!("the shell's `drivers` command gave no list ({})", describe(&other, opts.timeout))
                }
            }
        } else {
            gave_up = format!("no shell prompt ({})", describe(&prompt, opts.timeout));
        }
    }

    let console = guest.console();
    let firmware_ran = match case.firmware {
        Firmware::SeaBios => console.contains("SeaBIOS (version"),
        _ => console.contains("BdsDxe") || console.contains("UEFI") || console.contains("Shell>"),
    };
    let end = match &first {
        Outcome::FailMarker(_, at) | Outcome::Exited(at) | Outcome::Timeout(at) | Outcome::Seen(at) => *at,
    };
    match (&case.proof, listed) {
        (Proof::RomDriverListed { .. }, Some((true, at))) if !negative => {
            result.verdict = Verdict::Pass;
            result.proof_secs = Some(at.as_secs_f64());
            result.reason =
                format!("{} started the ROM's EFI driver (the shell's `drivers` lists it)", case.firmware.name());
            return Ok(());
        }
        (_, Some((true, _))) if negative => {
            result.verdict = Verdict::Fail;
            result.reason =
                format!("the firmware started an EFI driver from the ROM although expected not to: {reason_expected}");
            return Ok(());
        }
        _ => {}
    }
    if negative {
        if !firmware_ran {
            result.verdict = Verdict::Fail;
            result.reason = format!("{} printed nothing recognisable ({gave_up})", case.firmware.name());
        } else if ipxe_ran {
            result.verdict = Verdict::Fail;
            result.reason =
                format!("iPXE from the ROM ran although expected not to ({reason_expected}), and fetched no script");
        } else if matches!(first, Outcome::Timeout(_)) && listed.is_none() {
            result.verdict = Verdict::Fail;
            result.reason = format!("no evidence either way: {gave_up}");
        } else {
            result.verdict = Verdict::ExpectedNegative;
            result.proof_secs = Some(listed.map_or(end, |(_, at)| at).as_secs_f64());
            let seen = match (case.firmware, listed) {
                (Firmware::SeaBios, _) => "SeaBIOS ran no code from the ROM".to_string(),
                (_, Some(_)) => "the shell's `drivers` lists no driver from the ROM".to_string(),
                (_, None) => format!("no iPXE ran ({gave_up})"),
            };
            result.reason = format!("{reason_expected} — confirmed: {seen}");
        }
        return Ok(());
    }
    result.verdict = Verdict::Fail;
    result.reason = match (&case.proof, listed) {
        (Proof::None, _) => "the legacy image is not iPXE: boot-test can prove only iPXE legacy images".into(),
        (Proof::RomDriverListed { image }, Some((false, _))) => {
            format!("the shell's `drivers` does not list the ROM's image {image}: the firmware did not start it")
        }
        (Proof::IpxeScript, Some((true, _))) => {
            "the firmware started the ROM's iPXE driver, but iPXE did not fetch and run the case's script".into()
        }
        (Proof::IpxeScript, Some((false, _))) => {
            "the firmware did not start the ROM's iPXE driver (the shell's `drivers` does not list it)".into()
        }
        _ if ipxe_ran => format!("iPXE ran but did not fetch and run the case's script ({gave_up})"),
        _ if !firmware_ran => format!("{} printed nothing recognisable ({gave_up})", case.firmware.name()),
        _ => format!("no iPXE from the ROM ran ({gave_up})"),
    };
    Ok(())
}

fn describe(outcome: &Outcome, timeout: Duration) -> String {
    match outcome {
        Outcome::Seen(at) => format!("done at {:.1} s", at.as_secs_f64()),
        Outcome::FailMarker(m, at) => format!("\"{m}\" at {:.1} s", at.as_secs_f64()),
        Outcome::Timeout(_) => format!("timeout after {} s", timeout.as_secs()),
        Outcome::Exited(at) => format!("the guest reset at {:.1} s", at.as_secs_f64()),
    }
}

/// Run every case, at most `jobs` guests at a time, calling `on_done` as each
/// finishes. Results come back in case order. After an interrupt, cases not yet
/// started come back as errors without starting QEMU.
pub fn run_all(
    cases: &[Case],
    opts: &RunOptions,
    jobs: usize,
    on_done: &(dyn Fn(&CaseResult) + Sync),
) -> Vec<CaseResult> {
    // Longest first (UEFI guests take about three times as long as SeaBIOS ones), so
    // the last guests to finish are short ones and the workers end together.
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| !cases[i].firmware.is_uefi());
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<CaseResult>>> = cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(cases.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::SeqCst)) else { return };
                    let case = &cases[i];
                    let result = run_case(case, opts);
                    on_done(&result);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    slots.into_iter().map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()).expect("every case ran")).collect()
}

/// Does a path look like something QEMU and the firmware need and lack? One line
/// per missing piece, for the front end to report before running anything.
pub fn missing_prerequisites(cases: &[Case], opts: &RunOptions) -> Vec<String> {
    let mut out = Vec::new();
    let mut firmware: Vec<Firmware> = cases.iter().map(|c| c.firmware).collect();
    firmware.sort();
    firmware.dedup();
    for fw in firmware {
        if let Some(m) = opts.firmware_paths.missing(fw) {
            out.push(m);
        }
    }
    let mut binaries: Vec<&str> = cases.iter().map(|c| c.machine.qemu_binary()).collect();
    binaries.sort();
    binaries.dedup();
    for binary in binaries {
        if !on_path(binary) {
            out.push(format!("{binary} not found on PATH (install QEMU: scripts/install-qemu.sh)"));
        }
    }
    out
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| Path::new(&d).join(binary).is_file()))
}
