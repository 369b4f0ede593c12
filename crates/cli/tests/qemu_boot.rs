//! Boot proofs: Debian's iPXE ROM really runs in QEMU firmware (SeaBIOS and OVMF, TCG), ROMs
//! built by optrom run there too, an AArch64 EFI image built by optrom is loaded by AAVMF on an
//! aarch64 guest, and broken or wrong ROMs do not run. Runs `scripts/qemu-boot.py` (see its
//! --help for the markers).
//!
//! Needs qemu-system-x86_64, qemu-system-aarch64, OVMF, AAVMF (qemu-efi-aarch64), SeaBIOS and
//! ipxe-qemu: `scripts/install-qemu.sh` (as root). Without them these tests FAIL, unless
//! OPTROM_SKIP_QEMU=1 is set.
//!
//! QEMU runs are serialized (one TCG guest at a time; the CI machines have 2 vCPUs). Times on
//! such a machine, QEMU 10.0.2: SeaBIOS about 2.5 s to the markers, OVMF about 7.5 s, AAVMF
//! about 4.5 s to the shell's `drivers` list.
//!
//! Later tests can copy `boot`/`boot_with` (and `QEMU_LOCK`, `qemu_present`) as they are.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const E1000_ROM: &str = "/usr/lib/ipxe/qemu/efi-e1000.rom"; // legacy + EFI images
const E1000_LEGACY_ONLY_ROM: &str = "/usr/lib/ipxe/qemu/pxe-e1000.rom"; // no EFI image

/// One QEMU guest at a time: parallel TCG guests on 2 vCPUs slow each other down.
static QEMU_LOCK: Mutex<()> = Mutex::new(());

/// What one run of scripts/qemu-boot.py gave.
#[allow(dead_code)]
pub struct BootRun {
    /// 0 all markers seen; 1 not seen (timeout, guest gave up); 2 setup error or QEMU failed.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/qemu-boot.py")
}

/// True if QEMU and the ROMs are there. If not: panics with how to install them, or returns
/// false (the caller then skips) when OPTROM_SKIP_QEMU=1.
pub fn qemu_present() -> bool {
    let qemu_ok =
        Command::new("qemu-system-x86_64").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    let roms_ok = Path::new(E1000_ROM).is_file() && Path::new("/usr/share/OVMF").is_dir();
    if qemu_ok && roms_ok {
        return true;
    }
    let what =
        if qemu_ok { "OVMF or Debian's ipxe-qemu ROMs are missing" } else { "qemu-system-x86_64 is not installed" };
    if std::env::var("OPTROM_SKIP_QEMU").as_deref() == Ok("1") {
        eprintln!("skipping QEMU boot test: {what} (OPTROM_SKIP_QEMU=1)");
        return false;
    }
    panic!("{what}: run `sudo bash scripts/install-qemu.sh` (or set OPTROM_SKIP_QEMU=1 to skip QEMU boot tests)");
}

/// Debian's AAVMF image with its DXE drivers (one of them is our AArch64 driver).
const QEMU_EFI_AARCH64: &str = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd";

/// As [`qemu_present`], for the aarch64 guest: qemu-system-aarch64 and AAVMF.
pub fn aavmf_present() -> bool {
    if !qemu_present() {
        return false;
    }
    let qemu_ok =
        Command::new("qemu-system-aarch64").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    let firmware_ok = Path::new("/usr/share/AAVMF/AAVMF_CODE.fd").is_file() && Path::new(QEMU_EFI_AARCH64).is_file();
    if qemu_ok && firmware_ok {
        return true;
    }
    let what = if qemu_ok { "AAVMF (qemu-efi-aarch64) is missing" } else { "qemu-system-aarch64 is not installed" };
    if std::env::var("OPTROM_SKIP_QEMU").as_deref() == Ok("1") {
        eprintln!("skipping AAVMF boot test: {what} (OPTROM_SKIP_QEMU=1)");
        return false;
    }
    panic!("{what}: run `sudo bash scripts/install-qemu.sh` (or set OPTROM_SKIP_QEMU=1 to skip QEMU boot tests)");
}

/// Boot `rom` on NIC model `nic` under `firmware` ("seabios" or "ovmf") with extra
/// qemu-boot.py arguments (e.g. `["--expect", "REGEX"]`, `["--timeout", "30"]`).
pub fn boot_with(firmware: &str, nic: &str, rom: &Path, extra: &[&str]) -> BootRun {
    let _guard = QEMU_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("python3")
        .arg(script())
        .args(["--firmware", firmware, "--nic", nic, "--rom"])
        .arg(rom)
        .args(extra)
        .output()
        .expect("run python3 scripts/qemu-boot.py");
    let run = BootRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // Keep the timing lines in the test log (shown with --nocapture or on failure).
    for line in run.stdout.lines().filter(|l| l.contains(" seen at ") || l.contains("PASS")) {
        eprintln!("{firmware}/{nic}/{}: {line}", rom.display());
    }
    run
}

/// Ok(stdout, which ends with the console transcript) if the default markers for `firmware`
/// were seen; Err(report) if they were not (the guest booted but the ROM did not run).
/// Panics on a setup error or a QEMU failure (exit status 2), which is neither.
pub fn boot(firmware: &str, nic: &str, rom: &Path) -> Result<String, String> {
    let run = boot_with(firmware, nic, rom, &[]);
    match run.code {
        0 => Ok(run.stdout),
        1 => Err(format!("{}{}", run.stdout, run.stderr)),
        c => panic!("qemu-boot.py failed (status {c}):\n{}{}", run.stdout, run.stderr),
    }
}

/// The console transcript part of a qemu-boot.py report (`boot`'s Ok or Err text, or a
/// `BootRun`'s stdout/stderr): what follows `--- console ---` or `--- last N console lines ---`.
pub fn console(report: &str) -> &str {
    ["\n--- console ---\n", " console lines ---\n"]
        .iter()
        .find_map(|sep| report.rfind(sep).map(|i| &report[i + sep.len()..]))
        .unwrap_or("")
}

/// Sum of the bytes of the first (legacy) image, as its header's size byte gives it.
fn legacy_image_sum(rom: &[u8]) -> u8 {
    let len = rom[2] as usize * 512;
    rom[..len].iter().fold(0u8, |a, b| a.wrapping_add(*b))
}

#[test]
fn seabios_runs_ipxe_legacy_image_of_debian_e1000_rom() {
    if !qemu_present() {
        return;
    }
    let report = boot("seabios", "e1000", Path::new(E1000_ROM)).unwrap_or_else(|e| panic!("{e}"));
    let out = console(&report);
    // Init banner from the ROM's legacy image, then the iPXE it started drives the NIC.
    assert!(out.contains("iPXE (http://ipxe.org) 00:02.0 C000 PCI2.10 PnP PMM"), "{out}");
    assert!(out.contains("using 82540em on 0000:00:02.0"), "{out}");
    // The legacy build: its feature list names PXE/bzImage and not EFI.
    let features = out.lines().find(|l| l.contains("Features:")).unwrap_or_else(|| panic!("no Features line:\n{out}"));
    assert!(features.contains("PXE") && !features.contains("EFI"), "{features}");
}

#[test]
fn ovmf_runs_ipxe_efi_driver_of_debian_e1000_rom() {
    if !qemu_present() {
        return;
    }
    let report = boot("ovmf", "e1000", Path::new(E1000_ROM)).unwrap_or_else(|e| panic!("{e}"));
    // iPXE's own e1000 driver (not SNP over some other driver) drives the q35 NIC.
    assert_efi_ipxe_drives_q35_e1000(&report);
}

#[test]
fn seabios_rejects_legacy_image_with_bad_checksum() {
    if !qemu_present() {
        return;
    }
    let mut rom = std::fs::read(E1000_ROM).unwrap();
    assert_eq!(legacy_image_sum(&rom), 0, "Debian's ROM should have a valid legacy checksum");
    assert!(rom[2] as usize * 512 > 0x1000);
    rom[0x1000] ^= 0xff;
    assert_ne!(legacy_image_sum(&rom), 0);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("efi-e1000-badsum.rom");
    std::fs::write(&bad, &rom).unwrap();

    let run = boot_with("seabios", "e1000", &bad, &[]);
    assert_eq!(run.code, 1, "expected exit 1 (no iPXE banner):\n{}{}", run.stdout, run.stderr);
    // The firmware did run (so the control is not vacuous), and no iPXE at all.
    let out = console(&run.stderr);
    assert!(out.contains("SeaBIOS (version"), "{}", run.stderr);
    assert!(out.contains("No bootable device"), "{}", run.stderr);
    assert!(!out.contains("iPXE"), "{}", run.stderr);
}

/// A maintainer edits a message in the legacy image: SeaBIOS rejects the ROM
/// until `optrom fix-checksum` sets byte 6 (iPXE's convention); then the
/// edited iPXE runs and prints the edited message.
#[test]
fn fix_checksum_makes_an_edited_rom_boot_again() {
    if !qemu_present() {
        return;
    }
    let mut rom = std::fs::read(E1000_ROM).unwrap();
    let at = rom.windows(12).position(|w| w == b"Press Ctrl-B").expect("iPXE's Ctrl-B prompt");
    assert!(at < rom[2] as usize * 512, "the prompt is in the legacy image");
    rom[at] = b'p';
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited.rom");
    std::fs::write(&edited, &rom).unwrap();
    let run = boot_with("seabios", "e1000", &edited, &[]);
    assert_eq!(run.code, 1, "bad checksum, yet iPXE ran:\n{}{}", run.stdout, run.stderr);

    let fixed = dir.path().join("fixed.rom");
    optrom(&["fix-checksum", edited.to_str().unwrap(), "-o", fixed.to_str().unwrap()]);
    let repaired = std::fs::read(&fixed).unwrap();
    assert_eq!(legacy_image_sum(&repaired), 0);
    assert_eq!((0..rom.len()).filter(|&i| repaired[i] != rom[i]).collect::<Vec<_>>(), [6]);
    let report = boot("seabios", "e1000", &fixed).unwrap_or_else(|e| panic!("{e}"));
    assert!(console(&report).contains("press Ctrl-B to configure iPXE"), "{report}");
}

#[test]
fn ovmf_does_not_boot_legacy_only_rom() {
    // Control for the OVMF markers: OVMF has no iPXE and no e1000 driver of its own, so with a
    // ROM that has no EFI image the markers must not appear (OVMF falls through to its shell).
    if !qemu_present() {
        return;
    }
    let run = boot_with("ovmf", "e1000", Path::new(E1000_LEGACY_ONLY_ROM), &[]);
    assert_eq!(run.code, 1, "expected exit 1:\n{}{}", run.stdout, run.stderr);
    let out = console(&run.stderr);
    assert!(out.contains("EFI Internal Shell"), "{}", run.stderr);
    assert!(!out.contains("iPXE"), "{}", run.stderr);
}

/// OVMF markers: an EFI build of iPXE (its Features line names EFI) drives the
/// q35 e1000 with its own 82540em driver.
fn assert_efi_ipxe_drives_q35_e1000(report: &str) {
    let out = console(report);
    let features = out.lines().find(|l| l.contains("Features:")).unwrap_or_else(|| panic!("no Features line:\n{out}"));
    assert!(features.contains(" EFI"), "{features}");
    assert!(out.contains("using 82540em on 0000:00:01.0"), "{out}");
}

/// Run optrom; it must succeed. Returns its stdout.
fn optrom(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_optrom")).args(args).output().unwrap();
    assert!(out.status.success(), "optrom {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rebuild efi-e1000.rom the way a maintainer would with optrom alone: split
/// Debian's ROM for its x64 driver, `efirom` it (compressed by our codec, level
/// best), `combine` it behind Debian's legacy pxe-e1000.rom.
fn rebuilt_e1000(dir: &Path) -> PathBuf {
    let parts = dir.join("parts");
    optrom(&["split", E1000_ROM, "-o", parts.to_str().unwrap()]);
    let efirom = dir.join("e1000.efirom");
    optrom(&[
        "efirom",
        parts.join("01-efi-x64-8086-100e.efi").to_str().unwrap(),
        "--vendor",
        "8086",
        "--device",
        "100e",
        "--level",
        "best",
        "-o",
        efirom.to_str().unwrap(),
    ]);
    let rom = dir.join("rebuilt-efi-e1000.rom");
    optrom(&["combine", E1000_LEGACY_ONLY_ROM, efirom.to_str().unwrap(), "-o", rom.to_str().unwrap()]);
    let check = optrom(&["check", "--nic", "e1000", rom.to_str().unwrap()]);
    assert!(check.contains("ok (0 errors"), "{check}");
    let info = optrom(&["info", rom.to_str().unwrap()]);
    assert!(info.contains("efi-compressed"), "{info}");
    rom
}

#[test]
fn rebuilt_e1000_rom_boots_under_seabios() {
    if !qemu_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rom = rebuilt_e1000(dir.path());
    let report = boot("seabios", "e1000", &rom).unwrap_or_else(|e| panic!("{e}"));
    let out = console(&report);
    assert!(out.contains("iPXE (http://ipxe.org) 00:02.0"), "{out}");
    assert!(out.contains("using 82540em on 0000:00:02.0"), "{out}");
}

#[test]
fn rebuilt_e1000_rom_boots_under_ovmf_from_the_compressed_driver() {
    if !qemu_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rom = rebuilt_e1000(dir.path());
    let report = boot("ovmf", "e1000", &rom).unwrap_or_else(|e| panic!("{e}"));
    assert_efi_ipxe_drives_q35_e1000(&report);
}

/// Debian's "Opt1": one e1000 ROM with every architecture's EFI driver (legacy,
/// x64, a real AArch64 driver from AAVMF, then riscv64/loongarch64 — Debian's x64
/// driver relabelled, as Debian ships no such builds), packed by `optrom pack`
/// into a 512 KiB bucket. SeaBIOS must run the legacy image, OVMF skip the foreign
/// images and run the x64 one, and AAVMF on an aarch64 guest start the AA64 one.
#[test]
fn packed_multiarch_rom_boots_under_seabios_ovmf_and_aavmf() {
    if !aavmf_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    optrom(&["split", E1000_ROM, "-o", parts.to_str().unwrap()]);
    let x64 = std::fs::read(parts.join("01-efi-x64-8086-100e.efi")).unwrap();
    let nt = u32::from_le_bytes(x64[0x3C..0x40].try_into().unwrap()) as usize;
    let mut manifest = format!(
        "[set]\nlayout = \"combined\"\nbucket = \"512K\"\npad = \"bucket\"\nlevel = \"fast\"\n\n[[nic]]\nmodel = \"e1000\"\nlegacy = \"{E1000_LEGACY_ONLY_ROM}\"\nefi.x64 = \"parts/01-efi-x64-8086-100e.efi\"\n"
    );
    let aa64 = aa64_driver(dir.path());
    manifest += &format!("efi.aa64 = \"{}\"\n", aa64.display());
    for (arch, machine) in [("riscv64", 0x5064u16), ("loongarch64", 0x6264)] {
        let mut pe = x64.clone();
        pe[nt + 4..nt + 6].copy_from_slice(&machine.to_le_bytes());
        std::fs::write(dir.path().join(format!("{arch}.efi")), pe).unwrap();
        manifest += &format!("efi.{arch} = \"{arch}.efi\"\n");
    }
    let manifest_path = dir.path().join("opt1.toml");
    std::fs::write(&manifest_path, manifest).unwrap();
    let out = dir.path().join("out");
    optrom(&["pack", manifest_path.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let rom = out.join("efi-e1000.rom");
    assert_eq!(std::fs::metadata(&rom).unwrap().len(), 524288);

    let report = boot("seabios", "e1000", &rom).unwrap_or_else(|e| panic!("{e}"));
    assert!(console(&report).contains("using 82540em on 0000:00:02.0"), "{report}");
    let report = boot("ovmf", "e1000", &rom).unwrap_or_else(|e| panic!("{e}"));
    assert_efi_ipxe_drives_q35_e1000(&report);
    // The aarch64 guest skips the legacy, x64, riscv64 and loongarch64 images
    // and starts the AA64 one, from its place in the middle of the ROM.
    let marker = rom_driver_marker(&rom, "AA64");
    assert!(!marker.starts_with(r"Offset\(0x0,"), "{marker}");
    let run = boot_with("aavmf", "e1000", &rom, &["--expect", &marker]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// The whole Debian set, rebuilt NIC by NIC with optrom alone — `split`, `set-ids`
/// (Debian's legacy images carry 0000:0000, 1af4:1041 and 8086:1229 where QEMU's
/// ne2k_pci, virtio-net-pci and i82550 are 10ec:8029, 1af4:1000 and 8086:1209, which
/// SeaBIOS skips for a custom romfile=), `efirom` (compressed by our codec) and
/// `combine` — boots under SeaBIOS and OVMF on every NIC model.
#[test]
fn every_debian_nic_rebuilt_boots_under_seabios_and_ovmf() {
    if !qemu_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (nic, model, vendor, device) in [
        ("e1000", "e1000", "8086", "100e"),
        ("e1000e", "e1000e", "8086", "10d3"),
        ("rtl8139", "rtl8139", "10ec", "8139"),
        ("virtio", "virtio-net-pci", "1af4", "1000"),
        ("vmxnet3", "vmxnet3", "15ad", "07b0"),
        ("pcnet", "pcnet", "1022", "2000"),
        ("ne2k_pci", "ne2k_pci", "10ec", "8029"),
        ("eepro100", "i82550", "8086", "1209"),
    ] {
        let parts = dir.path().join(nic);
        let p = |name: &str| parts.join(name).to_str().unwrap().to_string();
        optrom(&["split", &format!("/usr/lib/ipxe/qemu/efi-{nic}.rom"), "-o", &p("")]);
        let mut names: Vec<String> =
            std::fs::read_dir(&parts).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        let legacy = names.iter().find(|n| n.starts_with("00-legacy")).unwrap();
        let driver = names.iter().find(|n| n.ends_with(".efi")).unwrap();
        optrom(&["set-ids", &p(legacy), "--vendor", vendor, "--device", device, "-o", &p("legacy.rom")]);
        optrom(&["efirom", &p(driver), "--vendor", vendor, "--device", device, "-o", &p("x64.efirom")]);
        let rom = dir.path().join(format!("efi-{nic}.rom"));
        optrom(&["combine", &p("legacy.rom"), &p("x64.efirom"), "-o", rom.to_str().unwrap()]);
        let check = optrom(&["check", "--nic", model, rom.to_str().unwrap()]);
        assert!(check.contains("ok (0 errors, 0 warnings)"), "{check}");
        for firmware in ["seabios", "ovmf"] {
            if let Err(e) = boot(firmware, model, &rom) {
                failures.push(format!("{nic} under {firmware}:\n{e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// VirtioNetDxe, a real EFI boot-service driver, out of Debian's firmware
/// image `fd` into `dir/name`.
fn firmware_driver(fd: &str, dir: &Path, name: &str) -> PathBuf {
    let driver = dir.join(name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/extract-efi-driver.py");
    let o = Command::new("python3").arg(script).arg(fd).arg("VirtioNetDxe").arg(&driver).output().unwrap();
    assert!(o.status.success(), "extract-efi-driver.py: {}", String::from_utf8_lossy(&o.stderr));
    driver
}

/// A real AArch64 EFI driver, from Debian's AAVMF (Debian ships no arm64 iPXE).
fn aa64_driver(dir: &Path) -> PathBuf {
    firmware_driver(QEMU_EFI_AARCH64, dir, "VirtioNetDxe-aa64.efi")
}

/// The marker AAVMF's shell prints for the ROM's `machine` EFI image once
/// PciBusDxe has loaded and started it: a `drivers` line whose image name is
/// `Offset(first byte, last byte)` of that image within the ROM.
fn rom_driver_marker(rom: &Path, machine: &str) -> String {
    let info: serde_json::Value = serde_json::from_str(&optrom(&["info", "--json", rom.to_str().unwrap()])).unwrap();
    let images = info["files"][0]["images"].as_array().unwrap();
    let image = images
        .iter()
        .find(|i| i["efi"]["machine"]["name"] == machine)
        .unwrap_or_else(|| panic!("no {machine} image in {}", rom.display()));
    let (offset, length) = (image["offset"].as_u64().unwrap(), image["length"].as_u64().unwrap());
    format!(r"Offset\(0x{offset:X},0x{:X}\)", offset + length - 1)
}

/// An AArch64 EFI ROM built by `optrom efirom` (compressed by our codec, level
/// best) for the guest's e1000: AAVMF's PciBusDxe decompresses and starts it.
/// Control: Debian's x86 ROM on the same NIC gives no ROM driver at all.
#[test]
fn aavmf_starts_aa64_efi_image_built_by_optrom() {
    if !aavmf_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let driver = aa64_driver(dir.path());
    let rom = dir.path().join("aa64-e1000.rom");
    let args = ["--vendor", "8086", "--device", "100e", "--level", "best", "-o", rom.to_str().unwrap()];
    optrom(&[&["efirom", driver.to_str().unwrap()][..], &args].concat());
    let info = optrom(&["info", rom.to_str().unwrap()]);
    assert!(info.contains("AA64 boot-service-driver, compression efi"), "{info}");
    let marker = format!("Virtio Network Driver +{}", rom_driver_marker(&rom, "AA64"));
    let run = boot_with("aavmf", "e1000", &rom, &["--expect", &marker]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let run = boot_with("aavmf", "e1000", Path::new(E1000_ROM), &[]);
    assert_eq!(run.code, 1, "x86 ROM under AAVMF:\n{}{}", run.stdout, run.stderr);
    let out = console(&run.stderr);
    // The drivers list was printed (the control is not vacuous) and holds no ROM image.
    assert!(out.contains("PCI Bus Driver") && !out.contains("Offset("), "{}", run.stderr);
}

/// Not only iPXE: an x64 EFI driver from Debian's OVMF (its VirtioNetDxe),
/// built into an e1000 ROM by `optrom efirom`, is started by OVMF's PciBusDxe
/// (OVMF has no e1000 driver, so it then reaches its shell and lists it).
#[test]
fn ovmf_starts_any_x64_efi_driver_built_by_optrom() {
    if !qemu_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let code = ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("OVMF");
    let driver = firmware_driver(code, dir.path(), "VirtioNetDxe-x64.efi");
    let rom = dir.path().join("x64-e1000.rom");
    let args = ["--vendor", "8086", "--device", "100e", "-o", rom.to_str().unwrap()];
    optrom(&[&["efirom", driver.to_str().unwrap()][..], &args].concat());
    let marker = format!("Virtio Network Driver +{}", rom_driver_marker(&rom, "X64"));
    let run = boot_with("ovmf", "e1000", &rom, &["--shell-command", "drivers", "--expect", &marker]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}
