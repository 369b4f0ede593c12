//! `optrom pack`, `migrate-check` and `resolve` as a distribution maintainer runs
//! them: Debian's set rebuilt from its parts, a multi-architecture set in both
//! layouts, budgets, the size picture in headless Chromium.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{IPXE_QEMU_DIR as QEMU_DIR, examples, have_debian, needs, optrom, optrom_in, s, show};

/// Copy the Debian example into `dir` and extract its parts there.
fn debian_example(dir: &Path) -> PathBuf {
    let ex = dir.join("debian");
    std::fs::create_dir_all(&ex).unwrap();
    for f in ["debian-ipxe-qemu.toml", "debian-from-drivers.toml", "extract-parts.sh"] {
        std::fs::copy(examples().join("debian").join(f), ex.join(f)).unwrap();
    }
    let out = Command::new("sh")
        .arg(ex.join("extract-parts.sh"))
        .env("OPTROM", env!("CARGO_BIN_EXE_optrom"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    ex.join("debian-ipxe-qemu.toml")
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in walk(dir) {
        v.push((e.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&e).unwrap()));
    }
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn debian_set_rebuilds_byte_for_byte_and_reproducibly() {
    if !have_debian() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let manifest = debian_example(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        let o = optrom(&["pack", s(&manifest), "-o", s(out)]);
        assert!(o.status.success(), "{}", show(&o));
    }
    assert_eq!(files_in(&a), files_in(&b), "two runs must give identical output");
    for entry in std::fs::read_dir(QEMU_DIR).unwrap().flatten() {
        let name = entry.file_name();
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(entry.path()).unwrap(),
            "{name:?} differs from Debian's"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("size-report.json")).unwrap()).unwrap();
    let roms = report["roms"].as_array().unwrap();
    assert_eq!(roms.len(), 16);
    let e1000 = roms.iter().find(|r| r["path"] == "efi-e1000.rom").unwrap();
    assert_eq!(
        (
            e1000["content_size"].as_u64(),
            e1000["bar_size"].as_u64(),
            e1000["bucket"].as_u64(),
            e1000["headroom"].as_i64()
        ),
        (Some(249856), Some(262144), Some(262144), Some(12288))
    );
    assert_eq!(
        e1000["images"],
        serde_json::json!([{"label": "legacy", "size": 75264}, {"label": "x64", "size": 174592}])
    );
}

/// Debian's x64 iPXE driver with its COFF machine relabelled: a stand-in for the
/// arm64/riscv64/loongarch64 iPXE drivers Debian does not ship (bookworm's ipxe is
/// x86 only), with the real driver's size and compressibility.
fn relabelled_driver(x64: &[u8], machine: u16) -> Vec<u8> {
    let mut pe = x64.to_vec();
    let nt = u32::from_le_bytes(pe[0x3C..0x40].try_into().unwrap()) as usize;
    pe[nt + 4..nt + 6].copy_from_slice(&machine.to_le_bytes());
    pe
}

/// A multi-arch manifest for e1000 and virtio; returns its path.
fn multiarch(dir: &Path, layout: &str, bucket: &str, pad: &str) -> PathBuf {
    let parts = dir.join("parts");
    if !parts.exists() {
        for nic in ["e1000", "virtio"] {
            let o = optrom(&["split", &format!("{QEMU_DIR}/efi-{nic}.rom"), "-o", s(&parts.join(nic))]);
            assert!(o.status.success(), "{}", show(&o));
            let driver =
                walk(&parts.join(nic)).into_iter().find(|p| p.extension().is_some_and(|e| e == "efi")).unwrap();
            let x64 = std::fs::read(&driver).unwrap();
            std::fs::write(parts.join(format!("{nic}-x64.efi")), &x64).unwrap();
            for (arch, machine) in [("aa64", 0xAA64u16), ("riscv64", 0x5064), ("loongarch64", 0x6264)] {
                std::fs::write(parts.join(format!("{nic}-{arch}.efi")), relabelled_driver(&x64, machine)).unwrap();
            }
        }
    }
    let mut text = format!(
        "[set]\nname = \"multiarch\"\nlayout = \"{layout}\"\nbucket = \"{bucket}\"\npad = \"{pad}\"\nlevel = \"fast\"\n"
    );
    for (nic, model) in [("e1000", "e1000"), ("virtio", "virtio-net-pci")] {
        text += &format!(
            "\n[[nic]]\nmodel = \"{model}\"\nlegacy = \"{QEMU_DIR}/pxe-{nic}.rom\"\n[nic.efi]\nx64 = \"parts/{nic}-x64.efi\"\naa64 = \"parts/{nic}-aa64.efi\"\nriscv64 = \"parts/{nic}-riscv64.efi\"\nloongarch64 = \"parts/{nic}-loongarch64.efi\"\n"
        );
    }
    let path = dir.join(format!("multiarch-{layout}-{bucket}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn multiarch_layouts_and_budgets() {
    if !have_debian() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Opt1: every architecture in one ROM does not fit 256 KiB.
    let m = multiarch(tmp.path(), "combined", "256K", "none");
    let out = tmp.path().join("opt1");
    let o = optrom(&["pack", s(&m), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err.lines().find(|l| l.contains("efi-e1000.rom:")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("bytes over the 256 KiB budget; largest images:"), "{line}");
    let largest = line.split("largest images: ").nth(1).unwrap();
    assert_eq!(largest.matches(" bytes").count(), 3, "{line}");
    assert!(largest.contains("aa64 "), "{line}");
    assert!(!out.join("efi-e1000.rom").exists(), "nothing is written when the set is over budget");

    // Opt1 at 512 KiB fits, padded to the bucket.
    let m = multiarch(tmp.path(), "combined", "512K", "bucket");
    let o = optrom(&["pack", s(&m), "-o", s(&out), "--json"]);
    assert!(o.status.success(), "{}", show(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rom = report["roms"].as_array().unwrap().iter().find(|r| r["path"] == "efi-e1000.rom").unwrap();
    let labels: Vec<&str> = rom["images"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["legacy", "x64", "aa64", "riscv64", "loongarch64"]);
    assert_eq!((rom["file_size"].as_u64(), rom["bar_size"].as_u64()), (Some(524288), Some(524288)));
    let info = optrom(&["info", "--json", s(&out.join("efi-e1000.rom"))]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let machines: Vec<&str> = info["files"][0]["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["efi"]["machine"]["name"].as_str())
        .collect();
    assert_eq!(machines, ["X64", "AA64", "RISCV64", "LOONGARCH64"]);

    // Opt2: per-arch directories, each ROM holding what its target runs, inside 256 KiB.
    let m = multiarch(tmp.path(), "per-arch", "256K", "none");
    let out2 = tmp.path().join("opt2");
    let o = optrom(&["pack", s(&m), "-o", s(&out2), "--report-html", s(&tmp.path().join("sizes.html"))]);
    assert!(o.status.success(), "{}", show(&o));
    for (target, want) in [
        ("x86_64", vec!["x86", "X64"]),
        ("aarch64", vec!["AA64"]),
        ("riscv64", vec!["RISCV64"]),
        ("loongarch64", vec!["LOONGARCH64"]),
    ] {
        let path = out2.join(target).join("efi-virtio.rom");
        let info = optrom(&["info", "--json", s(&path)]);
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        let kinds: Vec<String> = info["files"][0]["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["efi"]["machine"]["name"]
                    .as_str()
                    .map_or_else(|| i["code_type"]["name"].as_str().unwrap().to_string(), str::to_string)
            })
            .collect();
        assert_eq!(kinds, want, "{target}");
        assert!(info["files"][0]["file_size"].as_u64().unwrap() <= 262144);
        // resolve sees the per-arch directory through -L.
        let r = optrom(&["resolve", "--target", target, "--nic", "virtio-net-pci", "-L", s(&out2.join(target))]);
        assert!(r.status.success(), "{}", show(&r));
        assert!(String::from_utf8_lossy(&r.stdout).contains(&format!("runs on {target}")), "{}", show(&r));
    }
    // The combined x86 ROM does not help an aarch64 guest.
    let r = optrom(&[
        "resolve",
        "--target",
        "aarch64",
        "--nic",
        "virtio-net-pci",
        "--firmware-path",
        QEMU_DIR,
        "--data-dir",
        "/nonexistent",
    ]);
    assert_eq!(r.status.code(), Some(1), "{}", show(&r));
    assert!(String::from_utf8_lossy(&r.stdout).contains("holds nothing for aarch64"), "{}", show(&r));
}

#[test]
fn resolve_follows_qemu_search_order() {
    if !have_debian() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = optrom_in(tmp.path(), &["resolve", "--target", "x86_64", "--nic", "e1000", "--json"]);
    assert!(o.status.success(), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["resolution"];
    assert_eq!(r["found"], format!("{QEMU_DIR}/efi-e1000.rom"));
    let sources: Vec<&str> =
        r["candidates"].as_array().unwrap().iter().map(|c| c["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["name as given", "firmware path", "firmware path", "firmware path"]);
    // A file of that name in the working directory wins, as in QEMU.
    std::fs::copy(format!("{QEMU_DIR}/efi-virtio.rom"), tmp.path().join("efi-e1000.rom")).unwrap();
    let o = optrom_in(tmp.path(), &["resolve", "--target", "x86_64", "--nic", "e1000"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("name as given"), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(
        &optrom_in(tmp.path(), &["resolve", "--target", "x86_64", "--nic", "e1000", "--json"]).stdout,
    )
    .unwrap();
    assert_eq!(v["resolution"]["candidates"].as_array().unwrap().len(), 1);
    // Fedora's layout finds nothing on this Debian machine.
    let o = optrom(&["resolve", "--target", "x86_64", "--nic", "e1000", "--distro", "fedora"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("failed to find romfile \"efi-e1000.rom\""), "{}", show(&o));
}

#[test]
fn migrate_check_on_sets_and_files() {
    if !have_debian() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = optrom(&["migrate-check", "/nonexistent-old", QEMU_DIR]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim(), "optrom: /nonexistent-old: No such file or directory");
    let same = optrom(&["migrate-check", QEMU_DIR, QEMU_DIR]);
    assert!(same.status.success(), "{}", show(&same));
    assert!(String::from_utf8_lossy(&same.stdout).contains("all NICs migrate"));

    // The new package pads its virtio ROM to 512 KiB.
    let new = tmp.path().join("new");
    std::fs::create_dir_all(&new).unwrap();
    for e in std::fs::read_dir(QEMU_DIR).unwrap().flatten() {
        std::fs::copy(e.path(), new.join(e.file_name())).unwrap();
    }
    let o =
        optrom(&["pad", &format!("{QEMU_DIR}/efi-virtio.rom"), "--to", "512K", "-o", s(&new.join("efi-virtio.rom"))]);
    assert!(o.status.success());
    std::fs::remove_file(new.join("efi-rtl8139.rom")).unwrap();
    let o = optrom(&["migrate-check", "--json", QEMU_DIR, s(&new)]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let virtio = rows.iter().find(|r| r["nic"] == "virtio-net-pci").unwrap();
    assert_eq!(virtio["verdict"], "fails");
    assert_eq!(
        virtio["qemu_error"],
        "Size mismatch: 0000:00:03.0/virtio-net-pci.rom: 0x40000 != 0x80000: Invalid argument"
    );
    assert!(virtio["advice"].as_str().unwrap().contains("optrom pad"), "{virtio}");
    let rtl = rows.iter().find(|r| r["nic"] == "rtl8139").unwrap();
    assert_eq!(rtl["qemu_error"], "failed to find romfile \"efi-rtl8139.rom\"");
    let e1000 = rows.iter().filter(|r| r["romfile"] == "efi-e1000.rom").collect::<Vec<_>>();
    assert_eq!(e1000.len(), 3, "e1000, e1000-82544gc and e1000-82545em all load efi-e1000.rom");
    assert!(e1000.iter().all(|r| r["verdict"] == "migratable" && r["ram_block"] == "0000:00:03.0/e1000.rom"));
    let ne2k = rows.iter().find(|r| r["nic"] == "ne2k_pci").unwrap();
    assert_eq!(ne2k["ram_block"], "0000:00:03.0/ne2000.rom");

    // Pinning romsize=512K on both sides makes the file pair migrate.
    let old = format!("{QEMU_DIR}/efi-virtio.rom");
    let new_file = new.join("efi-virtio.rom");
    let o = optrom(&["migrate-check", &old, s(&new_file)]);
    assert_eq!(o.status.code(), Some(1));
    let o = optrom(&["migrate-check", "--romsize", "512K", &old, s(&new_file)]);
    assert!(o.status.success(), "{}", show(&o));
}

/// The size picture, rendered by headless Chromium: bars in the image colours and
/// the red bucket line must be on the screenshot.
#[test]
fn size_picture_renders_in_chromium() {
    if !have_debian() {
        return;
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists());
    if !needs("CHROMIUM", chromium.is_some(), "Debian's chromium") {
        return;
    }
    let chromium = chromium.expect("checked above");
    let tmp = tempfile::tempdir().unwrap();
    let manifest = debian_example(tmp.path());
    let html = tmp.path().join("sizes.html");
    let o = optrom(&["pack", s(&manifest), "-o", s(&tmp.path().join("out")), "--report-html", s(&html)]);
    assert!(o.status.success(), "{}", show(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("class=\"rom\"").count(), 16);
    assert_eq!(page.matches("class=\"bucket\"").count(), 8, "legacy-only ROMs have no bucket");

    let png = tmp.path().join("shot.png");
    let profile = tmp.path().join("profile");
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,760")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(png.exists(), "chromium made no screenshot: {}", show(&o));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let px = &buf[..frame.buffer_size()];
    let channels = frame.color_type.samples();
    let count =
        |rgb: [u8; 3]| px.chunks(channels).filter(|p| p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2]).count();
    let legacy = count([0x7f, 0x7f, 0x7f]);
    let x64 = count([0x1f, 0x77, 0xb4]);
    let bucket = count([0xd6, 0x27, 0x28]);
    assert!(legacy > 5000, "legacy bars: {legacy} pixels");
    assert!(x64 > 10000 && x64 > legacy, "x64 bars: {x64} pixels, legacy {legacy}");
    assert!(bucket > 100, "bucket lines: {bucket} pixels");
}

/// A real AArch64 EFI driver from Debian: VirtioNetDxe out of qemu-efi-aarch64's
/// AAVMF image (Debian ships no arm64 iPXE). It goes into the aarch64 ROM of a
/// per-arch set, and EDK2's own decoder gets the identical driver back out.
#[test]
fn real_aa64_driver_from_debian_aavmf() {
    let fd = Path::new("/usr/share/qemu-efi-aarch64/QEMU_EFI.fd");
    if !have_debian() {
        return;
    }
    if !needs("QEMU", fd.exists(), "qemu-efi-aarch64's AAVMF (scripts/install-qemu.sh)") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let driver = tmp.path().join("VirtioNetDxe-aa64.efi");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/extract-efi-driver.py");
    let o = Command::new("python3").arg(&script).arg(fd).arg("VirtioNetDxe").arg(&driver).output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let manifest = tmp.path().join("set.toml");
    std::fs::write(
        &manifest,
        format!(
            "[set]\nlayout = \"per-arch\"\nbucket = \"256K\"\n\n[[nic]]\nmodel = \"virtio-net-pci\"\nextra_devices = [\"1041\"]\nlegacy = \"{QEMU_DIR}/pxe-virtio.rom\"\nefirom.x64 = \"x64.efirom\"\nefi.aa64 = \"VirtioNetDxe-aa64.efi\"\n"
        ),
    )
    .unwrap();
    let parts = tmp.path().join("parts");
    assert!(optrom(&["split", &format!("{QEMU_DIR}/efi-virtio.rom"), "-o", s(&parts)]).status.success());
    std::fs::copy(parts.join("01-efi-x64-1af4-1041.efirom"), tmp.path().join("x64.efirom")).unwrap();
    let out = tmp.path().join("out");
    let o = optrom(&["pack", s(&manifest), "-o", s(&out)]);
    assert!(o.status.success(), "{}", show(&o));
    let rom = out.join("aarch64/efi-virtio.rom");
    let info: serde_json::Value = serde_json::from_slice(&optrom(&["info", "--json", s(&rom)]).stdout).unwrap();
    let image = &info["files"][0]["images"][0];
    assert_eq!(info["files"][0]["images"].as_array().unwrap().len(), 1, "aarch64 gets the AA64 driver only");
    assert_eq!(image["efi"]["machine"]["name"], "AA64");
    assert_eq!(image["efi"]["compression"]["name"], "efi");
    assert_eq!(image["pcir"]["device_list"], serde_json::json!(["1000", "1041"]));
    // EDK2's EfiDecompress on the stored stream gives back the driver byte for byte.
    let script = r#"
import struct, sys
from uefi_firmware import efi_compressor
d = open(sys.argv[1], 'rb').read()
off = struct.unpack_from('<H', d, 0x16)[0]
size = struct.unpack_from('<I', d, off)[0] + 8
sys.stdout.buffer.write(efi_compressor.EfiDecompress(d[off:off + size], size))
"#;
    let o = Command::new("python3").arg("-c").arg(script).arg(&rom).output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(o.stdout, std::fs::read(&driver).unwrap());
    let r = optrom(&["resolve", "--target", "aarch64", "--nic", "virtio-net-pci", "-L", s(&out.join("aarch64"))]);
    assert!(r.status.success(), "{}", show(&r));
}

/// A broken manifest: exit 2, one line naming the manifest and where, nothing written.
#[test]
fn bad_manifests_name_the_place_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text, expected) in [
        ("syntax.toml", "[set]\nlayout = \"combined\"\nbucket = \n", "syntax.toml: line 3, column 10: invalid string"),
        (
            "field.toml",
            "[set]\nlayout = \"combined\"\n\n[[nic]]\nmodel = \"e1000\"\nlegcy = \"x.rom\"\n",
            "field.toml: line 6, column 1: unknown field `legcy`",
        ),
        (
            "bucket.toml",
            "[set]\nlayout = \"combined\"\nbucket = \"300K\"\n\n[[nic]]\nmodel = \"e1000\"\nlegacy = \"x.rom\"\n",
            "bucket.toml: line 3, column 10: bucket: 307200 is not a power of two",
        ),
        (
            "missing.toml",
            "[set]\nlayout = \"combined\"\n\n[[nic]]\nmodel = \"e1000\"\nlegacy = \"no-such.rom\"\n",
            "missing.toml: ./no-such.rom: No such file",
        ),
    ] {
        let manifest = tmp.path().join(name);
        std::fs::write(&manifest, text).unwrap();
        let out = tmp.path().join(format!("out-{name}"));
        let o = optrom_in(tmp.path(), &["pack", name, "-o", s(&out)]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(!out.exists(), "{name}: output written");
    }
}

/// The release example: Debian's set rebuilt from the iPXE EFI drivers (PE) with
/// optrom's compressor. Every ROM is smaller than Debian's, still in its 256 KiB
/// BAR, EDK2-decodable as a whole, and migrate-check against Debian's set passes.
#[test]
fn debian_set_rebuilt_from_drivers_is_smaller_and_migrates() {
    if !have_debian() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let manifest = debian_example(tmp.path()).with_file_name("debian-from-drivers.toml");
    let out = tmp.path().join("out");
    // Level fast keeps the test quick; the example itself uses best.
    let o = optrom(&["pack", s(&manifest), "-o", s(&out), "--level", "fast", "--json"]);
    assert!(o.status.success(), "{}", show(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let roms = report["roms"].as_array().unwrap();
    assert_eq!(roms.len(), 16);
    for rom in roms.iter().filter(|r| r["target"] == "combined") {
        let name = rom["path"].as_str().unwrap();
        let debian = std::fs::metadata(Path::new(QEMU_DIR).join(name)).unwrap().len();
        let ours = std::fs::metadata(out.join(name)).unwrap().len();
        assert!(ours < debian, "{name}: {ours} B, Debian's {debian} B");
        assert_eq!(rom["bar_size"], 262144, "{name}");
        let info = optrom(&["info", "--json", s(&out.join(name))]);
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["files"][0]["images"][1]["efi"]["compression"]["name"], "efi", "{name}");
    }
    let o = optrom(&["migrate-check", QEMU_DIR, s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}
