//! Boot proofs: Debian's iPXE ROM really runs in QEMU firmware (SeaBIOS and OVMF, TCG), and
//! broken or wrong ROMs do not. Runs `scripts/qemu-boot.py` (see its --help for the markers).
//!
//! Needs qemu-system-x86_64, OVMF, SeaBIOS and ipxe-qemu: `scripts/install-qemu.sh` (as root).
//! Without them these tests FAIL, unless OPTROM_SKIP_QEMU=1 is set.
//!
//! QEMU runs are serialized (one TCG guest at a time; the CI machines have 2 vCPUs). Times on
//! such a machine, QEMU 10.0.2: SeaBIOS about 2.5 s to the markers, OVMF about 7.5 s.
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
/// x64, then aa64/riscv64/loongarch64 — Debian's x64 driver relabelled, as Debian
/// ships no such iPXE builds), packed by `optrom pack` into a 512 KiB bucket. OVMF
/// must skip the foreign images and run the x64 one; SeaBIOS the legacy one.
#[test]
fn packed_multiarch_rom_boots_under_seabios_and_ovmf() {
    if !qemu_present() {
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
    for (arch, machine) in [("aa64", 0xAA64u16), ("riscv64", 0x5064), ("loongarch64", 0x6264)] {
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
