//! `optrom info` tells which iPXE build a Debian ROM or boot file holds.
//!
//! Expected values come from outside optrom:
//! * the version is the Debian package version (`dpkg-query`), which Debian passes
//!   to iPXE's build as `VERSION=` (meta-debian's mirror of debian/rules:
//!   `make V=1 NO_WERROR=1 VERSION=${PV} …`);
//! * the features are what these very binaries print at start-up, recorded in
//!   shared/reference/qemu-testing.md §1b (SeaBIOS: `Features: DNS HTTP iSCSI NFS
//!   TFTP AoE ELF MBOOT PXE bzImage Menu PXEXT`) and §2 (OVMF: `Features: DNS HTTP
//!   iSCSI NFS TFTP AoE EFI Menu`); NFS is on because Debian enabled it
//!   (/usr/share/doc/ipxe/changelog.Debian.gz, 1.0.0+git-20150424.a25a16d-1:
//!   "Enable support for IPv6 and NFS");
//! * full stack, not driver-only: Debian builds without `CONFIG=qemu` (the same
//!   build rule), and under OVMF Debian's efi-e1000.rom registers iPXE's own
//!   LoadFile boot entry `UEFI PXEv4 (MAC:…)` (qemu-testing.md §2);
//! * the build names are the targets Debian's package links name
//!   (/usr/lib/ipxe/82540em.rom -> qemu/pxe-e1000.rom, ns8390.rom ->
//!   qemu/pxe-ne2k_pci.rom, …), and the e1000 driver's name is what iPXE prints
//!   on that NIC ("using 82540em on 0000:00:02.0", qemu-testing.md §1b).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn optrom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optrom")).args(args).output().expect("run optrom")
}

fn present(path: &str) -> bool {
    optrom_testsupport::needs("EXTERNAL", Path::new(path).exists(), &format!("{path} (Debian's ipxe or ipxe-qemu)"))
}

fn package_version(package: &str) -> String {
    let o = Command::new("dpkg-query").args(["-W", "-f=${Version}", package]).output().unwrap();
    String::from_utf8(o.stdout).unwrap()
}

fn info(path: &str) -> serde_json::Value {
    let out = optrom(&["info", "--json", path]);
    assert!(out.status.success(), "{path}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["files"][0].clone()
}

fn set(words: &str) -> BTreeSet<String> {
    words.split_whitespace().map(str::to_string).collect()
}

fn features(id: &serde_json::Value) -> BTreeSet<String> {
    id["ipxe"]["features"]["value"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
}

fn pci_ids(id: &serde_json::Value) -> BTreeSet<String> {
    id["ipxe"]["pci_drivers"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}:{}", d["vendor"].as_str().unwrap(), d["device"].as_str().unwrap()))
        .collect()
}

const BIOS_FEATURES: &str = "DNS HTTP iSCSI NFS TFTP AoE ELF MBOOT PXE bzImage Menu PXEXT";
const EFI_FEATURES: &str = "DNS HTTP iSCSI NFS TFTP AoE EFI Menu";

#[test]
fn every_debian_qemu_rom_names_its_ipxe_build() {
    let dir = "/usr/lib/ipxe/qemu";
    if !present(dir) {
        return;
    }
    let version = package_version("ipxe-qemu");
    // Debian's links name the iPXE target each ROM was built as.
    let targets = [
        ("e1000", "82540em"),
        ("e1000e", "808610d3"),
        ("eepro100", "eepro100"),
        ("ne2k_pci", "ns8390"),
        ("pcnet", "pcnet32"),
        ("rtl8139", "rtl8139"),
        ("virtio", "virtio-net"),
        ("vmxnet3", "vmxnet3"),
    ];
    for (nic, target) in targets {
        for kind in ["efi", "pxe"] {
            let path = format!("{dir}/{kind}-{nic}.rom");
            let file = info(&path);
            let ids = file["identification"].as_array().unwrap();
            assert_eq!(ids.len(), if kind == "efi" { 2 } else { 1 }, "{path}");
            for id in ids {
                assert_eq!(id["code"], "ipxe", "{path}: {id}");
                let x = &id["ipxe"];
                assert_eq!(x["version"]["value"], version.as_str(), "{path}");
                assert!(x["version"]["evidence"].as_str().unwrap().contains("at 0x"), "{path}");
                if id["platform"] == "pcbios" {
                    assert_eq!(x["build_name"]["value"], format!("{target}.rom"), "{path}");
                    assert_eq!(features(id), set(BIOS_FEATURES), "{path}");
                    assert!(x["efi_boot"]["value"].is_null(), "{path}: not applicable to BIOS builds");
                    // The packed payload: where it is and both sizes.
                    let p = &id["packed"];
                    let (packed, unpacked) = (p["packed_size"].as_u64().unwrap(), p["unpacked_size"].as_u64().unwrap());
                    assert!(
                        packed > 40_000 && unpacked > packed && p["stream_offset"].as_u64().unwrap() < 0x2000,
                        "{path}: {p}"
                    );
                    assert!(
                        p["stream_offset"].as_u64().unwrap() + packed <= file["images"][0]["length"].as_u64().unwrap()
                    );
                } else {
                    assert_eq!(x["build_name"]["value"], format!("{target}.efidrv"), "{path}");
                    assert_eq!(features(id), set(EFI_FEATURES), "{path}");
                    assert_eq!(x["efi_boot"]["value"], "full-stack", "{path}");
                    assert!(x["efi_boot"]["evidence"].as_str().unwrap().contains("56EC3091"), "{path}");
                    assert_eq!(id["pe"]["machine"]["name"], "X64");
                }
            }
        }
    }
    // The e1000 driver: iPXE prints "using 82540em" on QEMU's 8086:100e.
    for id in info(&format!("{dir}/efi-e1000.rom"))["identification"].as_array().unwrap() {
        let drivers = id["ipxe"]["pci_drivers"]["value"].as_array().unwrap();
        assert!(
            drivers.iter().any(|d| d["vendor"] == "8086" && d["device"] == "100e" && d["name"] == "82540em"),
            "{id}"
        );
    }
    // Both virtio-net IDs (option-roms.md §4.6: transitional 1000, modern 1041),
    // from the BIOS image's unpacked payload and from the EFI driver alike.
    for id in info(&format!("{dir}/efi-virtio.rom"))["identification"].as_array().unwrap() {
        assert_eq!(pci_ids(id), set("1af4:1000 1af4:1041"), "{id}");
    }
    // Each ROM's drivers claim the ID of the NIC QEMU uses it for (§4.6), for
    // the legacy and the EFI image: the IDs come from the binary's own tables.
    for (rom, id) in [
        ("efi-e1000.rom", "8086:100e"),
        ("efi-e1000e.rom", "8086:10d3"),
        ("efi-rtl8139.rom", "10ec:8139"),
        ("efi-ne2k_pci.rom", "10ec:8029"),
        ("efi-pcnet.rom", "1022:2000"),
        ("efi-vmxnet3.rom", "15ad:07b0"),
        ("efi-eepro100.rom", "8086:1209"),
    ] {
        for image in info(&format!("{dir}/{rom}"))["identification"].as_array().unwrap() {
            assert!(pci_ids(image).contains(id), "{rom} image {}: {:?}", image["image"], pci_ids(image));
        }
    }
}

#[test]
fn debian_ipxe_boot_files_are_identified() {
    if !present("/usr/lib/ipxe/ipxe.efi") {
        return;
    }
    let version = package_version("ipxe");
    for (file, platform, build) in [
        ("/usr/lib/ipxe/ipxe.efi", "efi", "ipxe.efi"),
        ("/usr/lib/ipxe/snponly.efi", "efi", "snponly.efi"),
        ("/usr/lib/ipxe/undionly.kpxe", "pcbios", "undionly.kpxe"),
        ("/usr/lib/ipxe/undionly.kkpxe", "pcbios", "undionly.kkpxe"),
        ("/usr/lib/ipxe/ipxe.pxe", "pcbios", "ipxe.pxe"),
        ("/usr/lib/ipxe/ipxe.lkrn", "pcbios", "ipxe.lkrn"),
    ] {
        let v = info(file);
        assert_eq!(v["kind"], "boot-file");
        let id = &v["identification"][0];
        assert_eq!(id["code"], "ipxe", "{file}");
        assert_eq!(id["platform"], platform, "{file}");
        assert_eq!(id["ipxe"]["version"]["value"], version.as_str(), "{file}");
        assert_eq!(id["ipxe"]["build_name"]["value"], build, "{file}");
        let f = features(id);
        let base = if platform == "efi" { set(EFI_FEATURES) } else { set(BIOS_FEATURES) };
        assert!(f.is_superset(&base), "{file}: {f:?}");
        if platform == "efi" {
            assert_eq!(id["ipxe"]["efi_boot"]["value"], "full-stack", "{file}");
        }
    }
    // snponly.efi carries no NIC driver of its own; ipxe.efi carries them all.
    for file in ["/usr/lib/ipxe/snponly.efi", "/usr/lib/ipxe/undionly.kpxe"] {
        let id = &info(file)["identification"][0];
        assert_eq!(id["ipxe"]["pci_drivers"]["value"].as_array().unwrap().len(), 0, "{file}");
    }
    let full = &info("/usr/lib/ipxe/ipxe.efi")["identification"][0];
    let all = full["ipxe"]["pci_drivers"]["value"].as_array().unwrap();
    assert!(all.iter().any(|d| d["vendor"] == "8086" && d["device"] == "100e"), "e1000");
    assert!(all.iter().any(|d| d["vendor"] == "1af4" && d["device"] == "1000"), "virtio-net");
    assert!(all.iter().any(|d| d["vendor"] == "10ec" && d["device"] == "8029"), "ne2k_pci");
    // The text form prints the evidence.
    let out = optrom(&["info", "/usr/lib/ipxe/undionly.kpxe"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("packed payload:") && text.contains("evidence: raw LZMA1 stream"), "{text}");
}

/// A driver-only (`CONFIG=qemu`) build carries the EFI_DOWNGRADE_UX dummy GUIDs
/// in place of the LoadFile / PXE base code GUIDs (iPXE's efi_snp.c, efi_pxe.c).
/// No Debian package ships such a build, so this copy of Debian's driver has its
/// LoadFile GUID replaced by the dummy, as the build's #define does.
#[test]
fn downgraded_efi_driver_is_reported_driver_only() {
    if !present("/usr/lib/ipxe/snponly.efi") {
        return;
    }
    let mut pe = std::fs::read("/usr/lib/ipxe/snponly.efi").unwrap();
    let load_file = [0x91, 0x30, 0xec, 0x56, 0x4c, 0x95, 0xd2, 0x11, 0x8e, 0x3f, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b];
    let at = pe.windows(16).position(|w| w == load_file).expect("LoadFile GUID in snponly.efi");
    pe[at..at + 16].copy_from_slice(b"#slow #unhelpful");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snponly-qemu.efi");
    std::fs::write(&path, &pe).unwrap();
    let id = &info(path.to_str().unwrap())["identification"][0];
    assert_eq!(id["ipxe"]["efi_boot"]["value"], "driver-only", "{id}");
    assert!(id["ipxe"]["efi_boot"]["evidence"].as_str().unwrap().contains(&format!("{at:#x}")));
}

#[test]
fn ne2k_pci_rom_names_its_zero_ids_and_the_consequence() {
    let rom = "/usr/lib/ipxe/qemu/efi-ne2k_pci.rom";
    if !present(rom) {
        return;
    }
    let v = info(rom);
    assert_eq!(v["images"][0]["pcir"]["vendor"], "0000");
    assert_eq!(v["images"][0]["pcir"]["device"], "0000");
    let out = optrom(&["check", "--nic", "ne2k_pci", rom]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("legacy image is 0000:0000, the ne2k_pci is 10ec:8029"), "{text}");
    assert!(text.contains("QEMU rewrites the first image's IDs when it loads its default romfile"), "{text}");
    assert!(text.contains("as a custom romfile= SeaBIOS skips it"), "{text}");
}

#[test]
fn stripped_edk2_driver_gets_pe_facts_and_an_unknown_module() {
    let fd = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    if !present(fd) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let driver = dir.path().join("VirtioNetDxe.efi");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/extract-efi-driver.py");
    let o = Command::new("python3").arg(script).arg(fd).arg("VirtioNetDxe").arg(&driver).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rom = dir.path().join("vn.rom");
    let out = optrom(&[
        "efirom",
        "--vendor",
        "1af4",
        "--device",
        "1000",
        "-o",
        rom.to_str().unwrap(),
        driver.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let id = &info(rom.to_str().unwrap())["identification"][0];
    assert_eq!(id["code"], "unknown");
    assert_eq!(id["pe"]["machine"]["name"], "X64");
    assert_eq!(id["pe"]["subsystem"]["raw"], 11);
    assert_eq!(id["pe"]["sections"], serde_json::json!([".text", ".data", ".reloc"]));
    // Debian's OVMF is a release build without a debug directory: no module name, said so.
    assert!(id["pe"]["module"].is_null());
    assert!(id["code_evidence"].as_str().unwrap().contains("no CodeView debug entry"));
}

#[test]
fn identification_json_matches_the_schema() {
    let files = ["/usr/lib/ipxe/qemu/efi-e1000.rom", "/usr/lib/ipxe/ipxe.efi", "/usr/lib/ipxe/undionly.kpxe"];
    if !files.iter().all(|f| present(f)) {
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/info.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let args: Vec<&str> = ["info", "--json"].into_iter().chain(files).collect();
    let v: serde_json::Value = serde_json::from_slice(&optrom(&args).stdout).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(v["schema_version"], 2);
    // A value the schema forbids is caught: the check can fail.
    let mut broken = v.clone();
    broken["files"][1]["identification"][0]["ipxe"]["efi_boot"]["value"] = "maybe".into();
    assert!(!validator.is_valid(&broken));
}

/// `optrom info … | head`: the reader goes away; optrom stops without a panic.
#[test]
fn closed_stdout_is_no_panic() {
    use std::io::Read;
    if !present("/usr/lib/ipxe/qemu/efi-e1000.rom") {
        return;
    }
    let files = vec!["/usr/lib/ipxe/qemu/efi-e1000.rom"; 200];
    let mut child = Command::new(env!("CARGO_BIN_EXE_optrom"))
        .arg("info")
        .args(&files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// The same facts come out of an EFI-compressed image: optrom decompresses the
/// driver first (here Debian's e1000 driver rebuilt compressed by `optrom efirom`).
#[test]
fn compressed_efi_image_is_identified_after_decompression() {
    let rom = "/usr/lib/ipxe/qemu/efi-e1000.rom";
    if !present(rom) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    assert!(optrom(&["split", rom, "-o", parts.to_str().unwrap()]).status.success());
    let driver = parts.join("01-efi-x64-8086-100e.efi");
    let out = dir.path().join("compressed.rom");
    let built = optrom(&[
        "efirom",
        "--vendor",
        "8086",
        "--device",
        "100e",
        "-o",
        out.to_str().unwrap(),
        driver.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let v = info(out.to_str().unwrap());
    assert_eq!(v["images"][0]["efi"]["compression"]["raw"], 1, "the rebuilt image is compressed");
    let id = &v["identification"][0];
    assert_eq!(id["ipxe"]["build_name"]["value"], "82540em.efidrv");
    assert_eq!(id["ipxe"]["version"]["value"], package_version("ipxe-qemu").as_str());
    assert_eq!(features(id), set(EFI_FEATURES));
    assert_eq!(id["ipxe"]["efi_boot"]["value"], "full-stack");
}
