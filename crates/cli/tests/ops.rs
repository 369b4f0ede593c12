//! efirom, combine, split, set-ids and pad as a maintainer runs them, on Debian's
//! real ROMs and drivers, cross-checked with `optrom info` and EDK2's own decoder.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{IPXE_QEMU_DIR as QEMU_DIR, have_debian, optrom, s};

const NICS: [&str; 8] = ["e1000", "e1000e", "eepro100", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3"];

fn ok(args: &[&str]) -> String {
    let out = optrom(args);
    assert!(
        out.status.success(),
        "optrom {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must refuse its input (exit 2); returns its stderr.
fn refused(args: &[&str]) -> String {
    failed_with(2, args)
}

/// Runs a command that must fail with `code`; returns its stderr.
fn failed_with(code: i32, args: &[&str]) -> String {
    let out = optrom(args);
    assert_eq!(out.status.code(), Some(code), "optrom {args:?} should fail with {code}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn info_json(path: &Path) -> serde_json::Value {
    let out = optrom(&["info", "--json", s(path)]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["files"][0].clone()
}

/// EDK2's EfiDecompress (PyPI uefi_firmware) on the payload of every EFI image in
/// `rom`; returns the decompressed drivers.
fn edk2_decompress_all(rom: &Path) -> Vec<Vec<u8>> {
    let script = r#"
import struct, sys
from uefi_firmware import efi_compressor
d = open(sys.argv[1], 'rb').read()
o = 0
while True:
    p = o + struct.unpack_from('<H', d, o + 0x18)[0]
    ilen = struct.unpack_from('<H', d, p + 0x10)[0] * 512
    if d[p + 0x14] == 3:
        comp = struct.unpack_from('<H', d, o + 0x0C)[0]
        off = struct.unpack_from('<H', d, o + 0x16)[0]
        assert comp == 1, 'image at %#x is not compressed' % o
        size = struct.unpack_from('<I', d, o + off)[0] + 8
        out = efi_compressor.EfiDecompress(d[o + off:o + off + size], size)
        sys.stdout.buffer.write(struct.pack('<I', len(out)) + out)
    if d[p + 0x15] & 0x80:
        break
    o += ilen
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(rom).output().expect("python3");
    assert!(out.status.success(), "EDK2 decoder rejected {}: {}", rom.display(), String::from_utf8_lossy(&out.stderr));
    let mut drivers = Vec::new();
    let mut rest = &out.stdout[..];
    while rest.len() >= 4 {
        let n = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        drivers.push(rest[4..4 + n].to_vec());
        rest = &rest[4 + n..];
    }
    drivers
}

#[test]
fn split_then_combine_reproduces_every_debian_rom() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for nic in NICS {
        let rom = PathBuf::from(format!("{QEMU_DIR}/efi-{nic}.rom"));
        let parts = dir.path().join(nic);
        ok(&["split", s(&rom), "-o", s(&parts)]);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(parts.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["images"].as_array().unwrap().len(), 2, "{nic}");
        let driver = parts.join(manifest["images"][1]["driver"].as_str().unwrap());
        assert_eq!(&std::fs::read(&driver).unwrap()[..2], b"MZ");
        let rebuilt = dir.path().join(format!("{nic}.rom"));
        ok(&["combine", "--manifest", s(&parts.join("manifest.json")), "-o", s(&rebuilt)]);
        assert_eq!(std::fs::read(&rebuilt).unwrap(), std::fs::read(&rom).unwrap(), "{nic}: not byte-identical");
    }
}

/// Rebuild efi-e1000.rom from pxe-e1000.rom and its EFI driver, compressed by our
/// codec; returns the ROM path. Shared by the QEMU boot test.
pub fn rebuild_e1000(dir: &Path) -> PathBuf {
    let parts = dir.join("parts");
    ok(&["split", &format!("{QEMU_DIR}/efi-e1000.rom"), "-o", s(&parts)]);
    let driver = parts.join("01-efi-x64-8086-100e.efi");
    let efirom = dir.join("e1000.efirom");
    ok(&["efirom", s(&driver), "--vendor", "8086", "--device", "100e", "--level", "best", "-o", s(&efirom)]);
    let rom = dir.join("efi-e1000.rom");
    ok(&["combine", &format!("{QEMU_DIR}/pxe-e1000.rom"), s(&efirom), "-o", s(&rom)]);
    rom
}

/// Debian stores its EFI drivers uncompressed; `check` says what compression
/// would free, and its number is what `optrom compress --level fast` makes of
/// the same driver.
#[test]
fn check_notes_uncompressed_efi_driver() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let debian = format!("{QEMU_DIR}/efi-e1000.rom");
    let report = ok(&["check", &debian]);
    let note = report.lines().find(|l| l.ends_with("[efi-uncompressed]")).unwrap_or_else(|| panic!("{report}"));
    assert!(report.contains("ok (0 errors, 0 warnings)"), "notes do not fail the check: {report}");
    assert!(note.contains("image 1, offset 0x1260c, field CompressionType"), "{note}");
    assert!(note.contains("the 174400 B EFI driver is stored uncompressed"), "{note}");
    let parts = dir.path().join("parts");
    ok(&["split", &debian, "-o", s(&parts)]);
    let stream = dir.path().join("driver.efic");
    ok(&["compress", "--level", "fast", s(&parts.join("01-efi-x64-8086-100e.efi")), s(&stream)]);
    let size = std::fs::metadata(&stream).unwrap().len();
    assert!(note.contains(&format!("it takes {size} B,")), "{note} vs {size}");
    // The promised image size is the one a real build gives: the EFI image
    // `efirom` writes from the same driver, whose payload EDK2's own decoder
    // turns back into that driver. 174592 B is the image in Debian's file.
    let built = dir.path().join("built.efirom");
    let driver = parts.join("01-efi-x64-8086-100e.efi");
    ok(&["efirom", s(&driver), "--vendor", "8086", "--device", "100e", "--level", "fast", "-o", s(&built)]);
    assert_eq!(edk2_decompress_all(&built), vec![std::fs::read(&driver).unwrap()], "EDK2 decodes the built image");
    let shrunk = std::fs::metadata(&built).unwrap().len();
    assert!(note.contains(&format!("from 174592 to {shrunk} B (-{} B)", 174592 - shrunk)), "{note}");
}

#[test]
fn rebuilt_e1000_checks_and_decodes_with_edk2() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rom = rebuild_e1000(dir.path());
    let report = ok(&["check", "--nic", "e1000", "--bucket", "256K", s(&rom)]);
    assert!(report.contains("ok (0 errors"), "{report}");
    assert!(!report.contains("efi-uncompressed"), "{report}");
    let info = info_json(&rom);
    assert_eq!(info["images"].as_array().unwrap().len(), 2);
    let efi = &info["images"][1];
    assert_eq!(efi["efi"]["compression"]["name"], "efi");
    assert_eq!(efi["efi"]["pe"]["machine"]["name"], "X64");
    assert_eq!(efi["checksum"]["valid"], true);
    assert_eq!(efi["checksum"]["convention"], "efi-header-byte");
    assert_eq!(info["images"][0]["checksum"]["valid"], true);
    assert!(info["file_size"].as_u64().unwrap() < 249856, "compression must shrink the ROM");
    // EDK2's decoder accepts our stream and yields exactly the driver we built from.
    let driver = std::fs::read(dir.path().join("parts/01-efi-x64-8086-100e.efi")).unwrap();
    assert_eq!(edk2_decompress_all(&rom), vec![driver]);
}

#[test]
fn efirom_ids_classes_and_device_lists() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    ok(&["split", &format!("{QEMU_DIR}/efi-virtio.rom"), "-o", s(&parts)]);
    let driver = parts.join("01-efi-x64-1af4-1041.efi");
    let a = dir.path().join("a.efirom");
    let b = dir.path().join("b.efirom");
    ok(&["efirom", s(&driver), "--vendor", "1af4", "--device", "1000", "--level", "fast", "-o", s(&a)]);
    ok(&["efirom", s(&driver), "--vendor", "0x1AF4", "--device", "0x1000", "--level", "fast", "-o", s(&b)]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "8086 and 0x8086 spell the same ID");
    let info = info_json(&a);
    assert_eq!(info["images"][0]["pcir"]["vendor"], "1af4");
    assert_eq!(info["images"][0]["pcir"]["class_code"], "020000");

    let multi = dir.path().join("multi.efirom");
    ok(&[
        "efirom",
        s(&driver),
        "--vendor",
        "1af4",
        "--device",
        "1000",
        "--device",
        "1041",
        "--class",
        "020000",
        "--revision",
        "7",
        "-o",
        s(&multi),
    ]);
    let info = info_json(&multi);
    let p = &info["images"][0]["pcir"];
    assert_eq!(
        (p["revision"].as_u64(), p["device"].as_str(), p["code_revision"].as_u64()),
        (Some(3), Some("1000"), Some(7))
    );
    assert_eq!(p["device_list"], serde_json::json!(["1000", "1041"]));
    assert_eq!(info["images"][0]["checksum"]["valid"], true);
    assert_eq!(edk2_decompress_all(&multi), vec![std::fs::read(&driver).unwrap()]);

    // Uncompressed on request.
    let raw = dir.path().join("raw.efirom");
    ok(&["efirom", s(&driver), "--vendor", "1af4", "--device", "1000", "--no-compress", "-o", s(&raw)]);
    let info = info_json(&raw);
    assert_eq!(info["images"][0]["efi"]["compression"]["name"], "none");
    assert_eq!(info["images"][0]["efi"]["pe_size"], std::fs::metadata(&driver).unwrap().len());

    // Bad IDs are refused by the argument parser.
    let out = optrom(&["efirom", s(&driver), "--vendor", "18086", "--device", "1000", "-o", s(&raw)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a 16-bit hex ID"));
}

#[test]
fn efirom_refuses_applications_and_unknown_machines() {
    let app = Path::new("/usr/lib/ipxe/snponly.efi");
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("app.efirom");
    let err = refused(&["efirom", s(app), "--vendor", "8086", "--device", "100e", "-o", s(&out)]);
    assert!(
        err.contains("snponly.efi: offset 0x") && err.contains("field Subsystem") && err.contains("EFI application"),
        "{err}"
    );
    // PE/COFF spec: Subsystem is 68 bytes into the optional header, which
    // follows the 4-byte signature and the 20-byte COFF header at e_lfanew (0x3C).
    let pe = std::fs::read(app).unwrap();
    let subsystem_at = u32::from_le_bytes(pe[0x3C..0x40].try_into().unwrap()) as usize + 4 + 20 + 68;
    assert!(err.contains(&format!("offset {subsystem_at:#x}, field Subsystem")), "{err}");
    assert!(!out.exists());
    ok(&["efirom", s(app), "--vendor", "8086", "--device", "100e", "--allow-application", "-o", s(&out)]);
    let check = optrom(&["check", s(&out)]);
    assert_eq!(check.status.code(), Some(1), "firmware skips applications: check must flag it");

    // The same PE with its COFF machine patched to an unknown value.
    let mut pe = std::fs::read(app).unwrap();
    let nt = u32::from_le_bytes(pe[0x3C..0x40].try_into().unwrap()) as usize;
    pe[nt + 4..nt + 6].copy_from_slice(&0x1234u16.to_le_bytes());
    let odd = dir.path().join("odd.efi");
    std::fs::write(&odd, &pe).unwrap();
    let err =
        refused(&["efirom", s(&odd), "--vendor", "8086", "--device", "100e", "--allow-application", "-o", s(&out)]);
    assert!(err.contains(&format!("offset {:#x}, field Machine: PE machine 0x1234", nt + 4)), "{err}");

    let not_pe = dir.path().join("not.efi");
    std::fs::write(&not_pe, b"hello").unwrap();
    let err = refused(&["efirom", s(&not_pe), "--vendor", "8086", "--device", "100e", "-o", s(&out)]);
    assert!(err.contains("not.efi: offset 0x0, field PE header"), "{err}");
}

#[test]
fn combine_handles_padding_and_odd_lengths() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A two-image input padded to 256 KiB with zeros (what Fedora ships) followed by
    // one more image: catrom.pl would strand the third image behind the padding.
    let padded = dir.path().join("padded.rom");
    ok(&["pad", &format!("{QEMU_DIR}/efi-e1000.rom"), "--to", "256K", "--fill", "0x00", "-o", s(&padded)]);
    assert_eq!(std::fs::metadata(&padded).unwrap().len(), 262144);
    let parts = dir.path().join("parts");
    ok(&["split", &format!("{QEMU_DIR}/efi-e1000.rom"), "-o", s(&parts)]);
    let extra = parts.join("01-efi-x64-8086-100e.efirom");
    let out = dir.path().join("three.rom");
    ok(&["combine", s(&padded), s(&extra), "-o", s(&out)]);
    let info = info_json(&out);
    let images = info["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    assert_eq!(info["trailing"]["bytes"], 0);
    assert_eq!(images.iter().map(|i| i["last"].as_bool().unwrap()).collect::<Vec<_>>(), [false, false, true]);
    assert!(images.iter().all(|i| i["checksum"]["valid"] == true), "{images:?}");
    assert_eq!(info["problems"], serde_json::json!([]));

    // A legacy image of 1500 bytes (not a multiple of 512) whose last byte holds its
    // checksum, as EfiRom -b leaves it, combined ahead of an EFI image.
    let mut legacy = vec![0u8; 1500];
    legacy[..6].copy_from_slice(&[0x55, 0xAA, 3, 0xCB, 0x00, 0x00]);
    legacy[0x18] = 0x20;
    legacy[0x20..0x24].copy_from_slice(b"PCIR");
    legacy[0x24..0x28].copy_from_slice(&[0x86, 0x80, 0x0E, 0x10]);
    legacy[0x2A] = 0x18;
    legacy[0x30] = 3;
    legacy[0x35] = 0x80;
    for (i, b) in legacy.iter_mut().enumerate().skip(0x40).take(1000) {
        *b = (i * 7) as u8;
    }
    let sum = legacy.iter().fold(0u8, |a, x| a.wrapping_add(*x));
    legacy[1499] = 0u8.wrapping_sub(sum);
    let raw = dir.path().join("raw-legacy.bin");
    std::fs::write(&raw, &legacy).unwrap();
    let out = dir.path().join("odd.rom");
    ok(&["combine", s(&raw), s(&extra), "-o", s(&out)]);
    let info = info_json(&out);
    assert_eq!(info["images"][0]["length"], 1536);
    assert_eq!(info["images"][0]["checksum"]["valid"], true, "{}", info["images"][0]);
    assert_eq!(info["images"][1]["offset"], 1536);
    assert_eq!(info["images"][1]["last"], true);
    let check = optrom(&["check", s(&out)]);
    assert!(!String::from_utf8_lossy(&check.stdout).contains("seabios-checksum"));
}

#[test]
fn set_ids_patches_pcir_and_keeps_checksums() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = format!("{QEMU_DIR}/efi-e1000.rom");
    let original = std::fs::read(&src).unwrap();
    let out = dir.path().join("82545em.rom");
    ok(&["set-ids", &src, "--vendor", "8086", "--device", "100f", "-o", s(&out)]);
    let patched = std::fs::read(&out).unwrap();
    // Byte 6 of the EFI image (inside EfiSignature) is never touched.
    assert_eq!(patched[0x12600 + 6], original[0x12600 + 6]);
    assert_eq!(&patched[0x12600 + 4..0x12600 + 8], &0x0EF1u32.to_le_bytes());
    let report = ok(&["check", "--nic", "e1000-82545em", s(&out)]);
    assert!(report.contains("ok (0 errors, 0 warnings)"), "{report}");
    let info = info_json(&out);
    for image in info["images"].as_array().unwrap() {
        assert_eq!(image["pcir"]["device"], "100f");
        assert_eq!(image["checksum"]["valid"], true);
    }
    assert_eq!(info["images"][0]["pcir"]["device_list"], serde_json::json!(["100f"]));
    // Only the legacy image.
    let one = dir.path().join("one.rom");
    ok(&["set-ids", &src, "--vendor", "8086", "--device", "100f", "--image", "0", "-o", s(&one)]);
    let info = info_json(&one);
    assert_eq!(
        (info["images"][0]["pcir"]["device"].as_str(), info["images"][1]["pcir"]["device"].as_str()),
        (Some("100f"), Some("100e"))
    );
    // The legacy device list has room for one ID only.
    let err = refused(&[
        "set-ids",
        &src,
        "--vendor",
        "8086",
        "--device",
        "100e",
        "--device",
        "100f",
        "--image",
        "0",
        "-o",
        s(&one),
    ]);
    assert!(err.contains("field PCIR device list: image 0 has room for 1 device IDs, 2 requested"), "{err}");
    let err = refused(&["set-ids", &src, "--vendor", "8086", "--device", "100e", "--image", "5", "-o", s(&one)]);
    assert!(err.contains("there is no image 5; the ROM has 2"), "{err}");
}

#[test]
fn pad_to_sizes_and_report_overflow() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = format!("{QEMU_DIR}/efi-virtio.rom");
    let out = dir.path().join("p.rom");
    ok(&["pad", &src, "--to", "256K", "-o", s(&out)]);
    let info = info_json(&out);
    assert_eq!((info["file_size"].as_u64(), info["trailing"]["fill"].as_str()), (Some(262144), Some("0xff")));
    ok(&["pad", s(&out), "--to", "pow2", "--fill", "0x00", "-o", s(&out)]);
    let info = info_json(&out);
    assert_eq!((info["file_size"].as_u64(), info["trailing"]["fill"].as_str()), (Some(262144), Some("0x00")));
    ok(&["pad", &src, "--to", "0x80000", "-o", s(&out)]);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 524288);
    let before = std::fs::read(&out).unwrap();
    // Content over the target is a budget miss: exit 1.
    let err = failed_with(1, &["pad", &src, "--to", "128K", "-o", s(&out)]);
    assert!(err.contains("content is 249344 bytes, 118272 bytes over the 128 KiB target"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before, "a failed pad must leave the output untouched");
}

/// `fix-checksum` on Debian's e1000 ROM with one byte flipped in each image:
/// byte 6 of the iPXE legacy image and the free EFI header byte (0x34 into the
/// EFI image) absorb the difference, and nothing else changes. A VGA BIOS that
/// is not iPXE's needs the convention named; an intact ROM stays as it is.
#[test]
fn fix_checksum_in_each_images_convention() {
    if !have_debian() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let original = std::fs::read(format!("{QEMU_DIR}/efi-e1000.rom")).unwrap();
    let mut broken = original.clone();
    broken[0x1000] ^= 0x01; // legacy image (0..0x12600)
    broken[0x20000] ^= 0x10; // EFI image (from 0x12600)
    let bad = tmp.path().join("bad.rom");
    std::fs::write(&bad, &broken).unwrap();
    let check = optrom(&["check", s(&bad)]);
    assert_eq!(check.status.code(), Some(1));

    let fixed = tmp.path().join("fixed.rom");
    let out = ok(&["fix-checksum", s(&bad), "-o", s(&fixed)]);
    assert!(out.contains("image 0: summed to 0xff; byte 0x6 (ipxe-byte6)"), "{out}");
    assert!(out.contains("image 1: summed to 0x10; byte 0x12634 (efi-header-byte)"), "{out}");
    let bytes = std::fs::read(&fixed).unwrap();
    let changed: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] != original[i]).collect();
    assert_eq!(changed, [0x6, 0x1000, 0x12634, 0x20000]);
    let check = ok(&["check", "--json", s(&fixed)]);
    let v: serde_json::Value = serde_json::from_str(&check).unwrap();
    assert_eq!(v["files"][0]["errors"], 0, "{check}");
    let info = info_json(&fixed);
    for image in info["images"].as_array().unwrap() {
        assert_eq!(image["checksum"]["image_sum"], 0, "{image}");
    }

    // Already valid: byte for byte the same.
    let again = tmp.path().join("again.rom");
    let out = ok(&["fix-checksum", s(&fixed), "-o", s(&again)]);
    assert!(out.contains("image 0: already sums to 0 (ipxe-byte6), unchanged"), "{out}");
    assert_eq!(std::fs::read(&again).unwrap(), bytes);

    // A convention the image does not have is refused; so is a guess.
    let err = refused(&["fix-checksum", s(&bad), "--image", "1", "--convention", "ipxe-byte6", "-o", s(&again)]);
    assert!(err.contains("field checksum: image 1 (efi) has no ipxe-byte6 byte"), "{err}");
    let vga = "/usr/share/seabios/vgabios-stdvga.bin";
    let mut data = std::fs::read(vga).unwrap();
    data[0x100] ^= 0x01;
    let bad_vga = tmp.path().join("vga.bin");
    std::fs::write(&bad_vga, &data).unwrap();
    let err = refused(&["fix-checksum", s(&bad_vga), "-o", s(&again)]);
    assert!(err.contains("is not iPXE's and sums to 0xff") && err.contains("--convention last-byte"), "{err}");
    let fixed_vga = tmp.path().join("vga-fixed.bin");
    ok(&["fix-checksum", s(&bad_vga), "--convention", "last-byte", "-o", s(&fixed_vga)]);
    let bytes = std::fs::read(&fixed_vga).unwrap();
    let span = usize::from(bytes[2]) * 512;
    assert_eq!(bytes[..span].iter().fold(0u8, |a, b| a.wrapping_add(*b)), 0);
    assert_eq!((0..bytes.len()).filter(|&i| bytes[i] != data[i]).collect::<Vec<_>>(), [span - 1]);
}
