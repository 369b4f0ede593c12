//! The `optrom` binary as a user runs it, on Debian's ROMs and on broken copies.

mod common;

use std::path::{Path, PathBuf};

use common::{E1000, optrom, read_debian as rom, text};

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(name);
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&value).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_valid(validator: &jsonschema::Validator, value: &serde_json::Value) {
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "schema violations:\n{}", errors.join("\n"));
}

fn debian_roms() -> Vec<String> {
    if !common::have_debian() {
        return vec![];
    }
    common::debian_roms().iter().map(|p| p.display().to_string()).collect()
}

#[test]
fn info_json_matches_schema() {
    let roms = debian_roms();
    if roms.is_empty() {
        return;
    }
    let args: Vec<&str> = ["info", "--json"].into_iter().chain(roms.iter().map(String::as_str)).collect();
    let out = optrom(&args);
    assert!(out.status.success(), "{:?}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("info.schema.json"), &value);
    let files = value["files"].as_array().unwrap();
    assert_eq!(files.len(), roms.len());
    let e1000 = files.iter().find(|f| f["path"] == E1000).unwrap();
    assert_eq!(e1000["bar_size"], 262144);
    assert_eq!(e1000["images"][0]["pcir"]["vendor"], "8086");
    assert_eq!(e1000["images"][1]["efi"]["machine"]["name"], "X64");
    assert_eq!(e1000["images"][1]["efi"]["pe"]["format"], "PE32+");
}

#[test]
fn info_text_is_readable() {
    if rom(E1000).is_none() {
        return;
    }
    let out = optrom(&["info", E1000]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    for needle in ["ROM BAR 256 KiB", "8086:100e", "X64", "boot-service-driver", "ipxe-byte6", "$PnP", "UNDI", "PE32+"]
    {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
}

#[test]
fn check_nic_e1000_passes() {
    if rom(E1000).is_none() {
        return;
    }
    let out = optrom(&["check", "--nic", "e1000", "--bucket", "256K", E1000]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("ok (0 errors"));
    let json = optrom(&["check", "--json", "--nic", "e1000", E1000]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_valid(&schema("check.schema.json"), &value);
    assert_eq!(value["files"][0]["passed"], true);
}

fn temp_with(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn flipped_legacy_byte_fails_checksum() {
    let Some(mut data) = rom(E1000) else { return };
    let dir = tempfile::tempdir().unwrap();
    data[0x1000] ^= 0x01;
    let p = temp_with(&dir, "flipped.rom", &data);
    let out = optrom(&["check", "--nic", "e1000", p.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("image 0, offset 0x6, field checksum"), "{stdout}");
    assert!(stdout.contains("sum to 0xff") && stdout.contains("[seabios-checksum]"), "{stdout}");
    let json = optrom(&["check", "--json", p.to_str().unwrap()]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_valid(&schema("check.schema.json"), &value);
    assert_eq!(value["files"][0]["findings"][0]["rule"], "seabios-checksum");
}

/// A minimal valid legacy image of `blocks` × 512 bytes.
fn legacy_image(blocks: u8, last: bool) -> Vec<u8> {
    let mut b = vec![0u8; usize::from(blocks) * 512];
    b[..3].copy_from_slice(&[0x55, 0xAA, blocks]);
    b[3..6].copy_from_slice(&[0xE9, 0x00, 0x00]);
    b[0x18] = 0x20;
    b[0x20..0x24].copy_from_slice(b"PCIR");
    b[0x24..0x28].copy_from_slice(&[0x86, 0x80, 0x0E, 0x10]);
    b[0x2A] = 0x18;
    b[0x30] = blocks;
    b[0x35] = if last { 0x80 } else { 0 };
    let sum = b.iter().fold(0u8, |a, x| a.wrapping_add(*x));
    b[6] = 0u8.wrapping_sub(sum);
    b
}

/// Each malformed input: exit status and the one line that names file, offset and field.
#[test]
fn malformed_inputs_fail_with_specific_messages() {
    let dir = tempfile::tempdir().unwrap();
    let good = legacy_image(2, true);
    let mut cases: Vec<(&str, Vec<u8>, i32, &str)> = vec![
        ("empty.rom", vec![], 2, "offset 0x0, field file: empty file"),
        (
            "random.rom",
            (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
            2,
            "offset 0x0, field signature: not an option ROM",
        ),
        ("truncated.rom", good[..0x10].to_vec(), 1, "offset 0x0, field image header: truncated"),
        (
            "halfimage.rom",
            good[..700].to_vec(),
            1,
            "offset 0x30, field PCIR.ImageLength: the image is cut off at 0x2bc, the end of the file; it declares its end at 0x400",
        ),
        (
            "zero-length.rom",
            {
                let mut b = good.clone();
                b[0x30] = 0;
                b
            },
            1,
            "offset 0x30, field PCIR.ImageLength: is zero",
        ),
        (
            "pcir-oob.rom",
            {
                let mut b = good.clone();
                b[0x18] = 0x00;
                b[0x19] = 0x10;
                b
            },
            1,
            "offset 0x18, field PCIR pointer: out of bounds",
        ),
        (
            "pcir-unaligned.rom",
            {
                let mut b = good.clone();
                b.copy_within(0x20..0x38, 0x22);
                b[0x18] = 0x22;
                b
            },
            1,
            "offset 0x18, field PCIR pointer: PCIR at 0x22 is not 4-byte aligned",
        ),
        (
            "no-last.rom",
            legacy_image(2, false),
            1,
            "offset 0x35, field PCIR.Indicator: the file ends but no image has the last-image bit",
        ),
        (
            "second-no-sig.rom",
            {
                let mut b = legacy_image(1, false);
                b.extend(vec![0u8; 512]);
                b
            },
            1,
            "offset 0x200, field signature: bad signature: expected 55 AA, found 0x0",
        ),
    ];
    // An EFI image whose payload offset lies outside the image.
    let mut efi = vec![0u8; 1024];
    efi[..2].copy_from_slice(&[0x55, 0xAA]);
    efi[2] = 2;
    efi[4..8].copy_from_slice(&0x0EF1u32.to_le_bytes());
    efi[8] = 11;
    efi[0x0A..0x0C].copy_from_slice(&0x8664u16.to_le_bytes());
    efi[0x16..0x18].copy_from_slice(&0x0900u16.to_le_bytes());
    efi[0x18] = 0x1C;
    efi[0x1C..0x20].copy_from_slice(b"PCIR");
    efi[0x26] = 0x18;
    efi[0x2C] = 2;
    efi[0x30] = 3;
    efi[0x31] = 0x80;
    cases.push((
        "efi-offset.rom",
        efi,
        1,
        "offset 0x16, field EfiImageHeaderOffset: EFI image offset 0x900 is not inside the initialization span 0x400",
    ));

    for (name, bytes, status, message) in cases {
        let p = temp_with(&dir, name, &bytes);
        let path = p.to_str().unwrap();
        for cmd in ["info", "check"] {
            let out = optrom(&[cmd, path]);
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(status), "{cmd} {name}: {stdout}{stderr}");
            let all = format!("{stdout}{stderr}");
            let line = all
                .lines()
                .find(|l| l.contains(message))
                .unwrap_or_else(|| panic!("{cmd} {name}: no line with {message:?} in\n{all}"));
            assert!(line.contains(path), "{cmd} {name}: line does not name the file: {line}");
            assert!(!all.contains("panicked"), "{all}");
        }
    }

    // A directory and a missing file: exit 2, one line naming the path.
    for (path, message) in [
        (dir.path().to_str().unwrap().to_string(), "is a directory"),
        (format!("{}/missing.rom", dir.path().display()), "No such file"),
    ] {
        for cmd in ["info", "check"] {
            let out = optrom(&[cmd, &path]);
            let (_, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {path}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.contains(&path) && stderr.contains(message), "{stderr}");
        }
    }

    // The minimal valid image itself passes.
    let p = temp_with(&dir, "good.rom", &good);
    let out = optrom(&["check", "--nic", "e1000", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn usage_errors_exit_2() {
    let out = optrom(&["check", "--nic", "no-such-nic", "x.rom"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("unknown NIC model"));
    let out = optrom(&["check", "--bucket", "300K", "x.rom"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("not a power of two"));
}

#[test]
fn compress_decompress_round_trip_and_bad_stream() {
    let Some(driver) = rom("/usr/lib/ipxe/snponly.efi") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = temp_with(&dir, "snponly.efi", &driver);
    for (format, level) in [("efi", "fast"), ("efi", "best"), ("tiano", "default")] {
        let z = dir.path().join(format!("snponly.{format}.{level}"));
        let back = dir.path().join("back.efi");
        let out =
            optrom(&["compress", "--format", format, "--level", level, input.to_str().unwrap(), z.to_str().unwrap()]);
        assert!(out.status.success(), "{:?}", text(&out));
        let compressed = std::fs::read(&z).unwrap();
        assert!(compressed.len() < driver.len() * 3 / 4, "{format}/{level}: {} bytes", compressed.len());
        let out = optrom(&["decompress", "--format", format, z.to_str().unwrap(), back.to_str().unwrap()]);
        assert!(out.status.success(), "{:?}", text(&out));
        assert_eq!(std::fs::read(&back).unwrap(), driver, "{format}/{level}");
    }
    // A truncated stream: exit 2 (unusable input), one line naming file, offset and field, no output file.
    let stream = std::fs::read(dir.path().join("snponly.efi.fast")).unwrap();
    let cut = temp_with(&dir, "cut.z", &stream[..stream.len() / 2]);
    let target = dir.path().join("never-written.efi");
    let out = optrom(&["decompress", cut.to_str().unwrap(), target.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cut.z: offset 0x") && stderr.contains("field efi stream: truncated"), "{stderr}");
    assert!(!target.exists(), "a failed decompress must not leave an output file");
    assert!(!stderr.contains("option ROM"), "{stderr}");
    // A whole ROM instead of a stream: the same line, with where the stream is.
    if rom(E1000).is_some() {
        let out = optrom(&["decompress", E1000, target.to_str().unwrap()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("this is an option ROM, not a stream: `optrom split`"), "{stderr}");
    }
}

#[test]
fn structure_checksums_are_checked() {
    let Some(mut data) = rom("/usr/lib/ipxe/qemu/pxe-e1000.rom") else { return };
    // One byte inside each of $PnP (0x40), UNDI (0x84) and iPXE (0x9c), off their signatures.
    for at in [0x4C, 0x8E, 0xA4] {
        data[at] ^= 0x01;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = temp_with(&dir, "structs.rom", &data);
    let (stdout, _) = text(&optrom(&["check", p.to_str().unwrap()]));
    for needle in [
        "offset 0x49, field $PnP.Checksum: the $PnP header does not sum to 0 [pnp-checksum]",
        "offset 0x89, field UNDI.Checksum: the UNDI ROM ID does not sum to 0 [undi-checksum]",
        "offset 0xa1, field iPXE.Checksum: the iPXE header does not sum to 0 [ipxe-checksum]",
        "offset 0x6, field checksum",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
}

#[test]
fn looping_pnp_chain_is_reported_once() {
    let Some(mut data) = rom("/usr/lib/ipxe/qemu/pxe-e1000.rom") else { return };
    data[0x46] = 0x40; // $PnP at 0x40: next header -> itself
    data[0x47] = 0x00;
    let dir = tempfile::tempdir().unwrap();
    let p = temp_with(&dir, "loop.rom", &data);
    let out = optrom(&["info", "--json", p.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"][0]["images"][0]["legacy"]["pnp"].as_array().unwrap().len(), 1);
    let (stdout, _) = text(&optrom(&["check", p.to_str().unwrap()]));
    assert!(stdout.contains("offset 0x40, field $PnP.NextHeader: the $PnP chain loops back"), "{stdout}");
}

/// SeaBIOS's VGA ROMs: PCI ones (class 0300, no `$PnP`, which SeaBIOS does not
/// need for VGA) and ISA-style ones without a PCIR (`vgabios-isavga.bin`,
/// `vgabios-ramfb.bin`), which QEMU loads through fw_cfg `vgaroms/`.
#[test]
fn seabios_vga_roms_pci_and_isa_style() {
    const ISA: &str = "/usr/share/seabios/vgabios-isavga.bin";
    const STDVGA: &str = "/usr/share/seabios/vgabios-stdvga.bin";
    let (Some(isa), Some(_)) = (rom(ISA), rom(STDVGA)) else { return };

    let out = optrom(&["info", "--json", ISA, STDVGA]);
    assert!(out.status.success(), "{:?}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("info.schema.json"), &value);
    let isa_json = &value["files"][0];
    assert_eq!(isa_json["images"].as_array().unwrap().len(), 1);
    assert!(isa_json["images"][0]["pcir"].is_null());
    assert_eq!(isa_json["images"][0]["length"], usize::from(isa[2]) * 512);
    assert_eq!(isa_json["images"][0]["checksum"]["valid"], true);
    assert_eq!(isa_json["content_size"], isa.len());
    assert_eq!(value["files"][1]["images"][0]["pcir"]["class_code"], "030000");

    let (stdout, _) = text(&optrom(&["info", ISA]));
    assert!(stdout.contains("ISA-style ROM") && stdout.contains("no PCIR"), "{stdout}");

    // Both pass; the ISA ROM is told where it can run, the PCI VGA ROM gets
    // no `$PnP` warning.
    let out = optrom(&["check", "--json", ISA, STDVGA]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("check.schema.json"), &value);
    let rules = |i: usize| -> Vec<String> {
        value["files"][i]["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().into()).collect()
    };
    assert_eq!(rules(0), ["no-pcir"]);
    assert!(rules(1).is_empty(), "{:?}", rules(1));

    // As a NIC's romfile it is useless, and check says so.
    let out = optrom(&["check", "--nic", "e1000", ISA]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("field PCIR pointer: the ROM has no PCIR") && stdout.contains("[nic-ids]"), "{stdout}");

    // Chain operations refuse it as unusable input (exit 2) with the field named.
    let dir = tempfile::tempdir().unwrap();
    let out = optrom(&["split", ISA, "-o", dir.path().join("parts").to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("offset 0x18, field PCIR pointer: is 0: no PCI Data Structure"), "{stderr}");
}

/// A non-VGA legacy ROM without `$PnP`: SeaBIOS registers its init entry as a
/// legacy BCV instead of running it, so a NIC ROM gets no boot entry.
#[test]
fn legacy_rom_without_pnp_is_warned_unless_vga() {
    let dir = tempfile::tempdir().unwrap();
    let nic = legacy_image(1, true); // class 000000, no $PnP
    let p = temp_with(&dir, "nopnp.rom", &nic);
    let (stdout, _) = text(&optrom(&["check", p.to_str().unwrap()]));
    assert!(stdout.contains("field PnP pointer: no $PnP header") && stdout.contains("[seabios-pnp]"), "{stdout}");
    let mut vga = nic.clone();
    vga[0x20 + 0x0F] = 0x03; // PCIR class code 030000: display, VGA
    vga[6] = vga[6].wrapping_sub(3);
    let p = temp_with(&dir, "vga.rom", &vga);
    let out = optrom(&["check", p.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert!(out.status.success() && !stdout.contains("seabios-pnp"), "{stdout}");
}

/// `check --nic auto` over Debian's whole set: each file for the model QEMU
/// loads it for by default, none for files no model loads by default.
#[test]
fn check_nic_auto_over_debians_set() {
    let roms = debian_roms();
    if roms.is_empty() {
        return;
    }
    let args: Vec<&str> =
        ["check", "--nic", "auto", "--json"].into_iter().chain(roms.iter().map(String::as_str)).collect();
    let out = optrom(&args);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("check.schema.json"), &value);
    let file = |name: &str| {
        value["files"].as_array().unwrap().iter().find(|f| f["path"].as_str().unwrap().ends_with(name)).unwrap().clone()
    };
    assert_eq!(file("/efi-e1000.rom")["nic"], "e1000");
    assert_eq!(file("/pxe-eepro100.rom")["nic"], "i82550", "QEMU's eepro100 models load pxe-eepro100.rom");
    assert!(file("/pxe-e1000.rom")["nic"].is_null(), "QEMU's e1000 loads efi-e1000.rom");
    let ne2k = file("/efi-ne2k_pci.rom");
    assert_eq!(ne2k["nic"], "ne2k_pci");
    let rules: Vec<&str> = ne2k["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"nic-ids"), "{ne2k}");
    let (stdout, _) = text(&optrom(&["check", "--nic", "auto", E1000]));
    assert!(stdout.contains("ok (0 errors, 0 warnings, as e1000's default romfile)"), "{stdout}");
}
