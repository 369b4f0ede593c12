//! Debian trixie's ROMs and boot files (fetched by `scripts/fetch-testdata.sh` into a
//! cache, never installed): what `info` says of its driver-only EFI images, and whether
//! guests on bookworm's ROMs live-migrate to a host with trixie's.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{IPXE_QEMU_DIR, have_debian, needs, optrom, s, show, text};

/// The root trixie's packages were unpacked under, fetching them first if needed
/// (the script is idempotent and only reaches Debian's package registry).
fn trixie_root() -> Option<PathBuf> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-testdata.sh");
    let out = Command::new("bash").arg(&script).output().expect("run fetch-testdata.sh");
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let ok = out.status.success() && root.join("usr/share/qemu/efi-e1000.rom").exists();
    if !ok {
        eprintln!("fetch-testdata.sh: {}", String::from_utf8_lossy(&out.stderr));
    }
    needs("EXTERNAL", ok, "Debian trixie's test data (scripts/fetch-testdata.sh)").then_some(root)
}

/// Trixie's NEWS.Debian says its efi-<nic>.rom "have now removed ipxe stack, and can only
/// be used as network drivers for the UEFI firmware" (ipxe-qemu 1.21.1+git20220113…-1):
/// `info` must call every such EFI image driver-only, with the EFI_DOWNGRADE_UX evidence,
/// while bookworm's (built without CONFIG=qemu) stay full-stack (tests/identify.rs).
#[test]
fn trixie_efi_roms_are_driver_only_as_news_debian_says() {
    let Some(root) = trixie_root() else { return };
    let news = Command::new("zcat").arg(root.join("usr/share/doc/ipxe-qemu/NEWS.Debian.gz")).output().unwrap();
    let news = String::from_utf8_lossy(&news.stdout);
    assert!(news.contains("have now removed ipxe stack"), "the package's own statement changed:\n{news}");

    let dir = root.join("usr/share/qemu");
    let mut roms: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("efi-"))
        .collect();
    roms.sort();
    assert_eq!(roms.len(), 8, "trixie ships 8 efi-<nic>.rom: {roms:?}");
    for rom in &roms {
        let o = optrom(&["info", "--json", s(rom)]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let ids = json["files"][0]["identification"].as_array().expect("identification");
        let efi: Vec<_> = ids.iter().filter(|id| id["platform"] == "efi").collect();
        assert_eq!(efi.len(), 1, "{}: one EFI image: {ids:?}", rom.display());
        let boot = &efi[0]["ipxe"]["efi_boot"];
        assert_eq!(boot["value"], "driver-only", "{}: {boot}", rom.display());
        let evidence = boot["evidence"].as_str().unwrap();
        assert!(evidence.contains("#slow #unhelpful") || evidence.contains("#udp #wtf #moron"), "{evidence}");
        // The text output says what that means for the user.
        let (out, _) = text(&optrom(&["info", s(rom)]));
        assert!(out.contains("driver only"), "{}:\n{out}", rom.display());
    }
}

/// QEMU sizes a NIC's ROM BAR from the file (next power of two); trixie pads every
/// efi-<nic>.rom to 256 KiB ("remain within 256k", closes #1095073), so a guest started
/// on bookworm's ROMs (all ≤ 256 KiB) migrates to a trixie host for every NIC model.
#[test]
fn bookworm_guests_migrate_to_trixie_roms() {
    if !have_debian() {
        return;
    }
    let Some(root) = trixie_root() else { return };
    let trixie = root.join("usr/share/qemu");
    for rom in std::fs::read_dir(&trixie).unwrap().map(|e| e.unwrap().path()) {
        let name = rom.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("efi-") {
            assert_eq!(std::fs::metadata(&rom).unwrap().len(), 256 << 10, "{name}");
        }
    }
    let o = optrom(&["migrate-check", IPXE_QEMU_DIR, s(&trixie)]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(out.contains("all NICs migrate"), "{out}");
    assert!(!out.contains("Size mismatch"), "{out}");
}

/// Trixie moved the ROMs out of /usr/lib/ipxe/qemu into /usr/share/qemu, QEMU's first
/// firmware-path entry on Debian (`qemu-system-x86_64 -L help`): `resolve` follows that
/// search order, so with trixie's directory in that place it names trixie's file, and
/// says its x64 image runs on x86_64 and nothing in it runs on aarch64.
#[test]
fn resolve_finds_trixies_roms_first_in_the_firmware_path() {
    let Some(root) = trixie_root() else { return };
    let share = root.join("usr/share/qemu");
    let path = format!("{}:/usr/share/seabios:{IPXE_QEMU_DIR}", share.display());
    let want = share.join("efi-e1000.rom");
    let o = optrom(&["resolve", "--target", "x86_64", "--nic", "e1000", "--firmware-path", &path, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (out, _) = text(&o);
    assert!(out.contains(s(&want)), "{out}");
    let o = optrom(&["resolve", "--target", "aarch64", "--nic", "e1000", "--firmware-path", &path]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "no AA64 driver in trixie's x86 ROM: {}", show(&o));
    assert!(out.contains(s(&want)) && out.contains("needs AA64"), "{out}");
}
