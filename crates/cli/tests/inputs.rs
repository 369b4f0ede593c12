//! What every command does with inputs it cannot use: one line naming the file,
//! exit 2, nothing written — devices, oversized files, files that are not ROMs.

mod common;

use common::{optrom, s, show, text};

/// `optrom info /dev/zero` used to read until memory ran out.
#[test]
fn devices_and_oversized_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.rom");
    // Sparse: one byte over the limit costs no disk space.
    std::fs::File::create(&big).unwrap().set_len((64 << 20) + 1).unwrap();
    let out_rom = dir.path().join("out.rom");
    for (input, message) in [("/dev/zero", "not a regular file"), (s(&big), "larger than any option ROM")] {
        for args in [
            vec!["info", input],
            vec!["check", input],
            vec!["combine", input, "-o", s(&out_rom)],
            vec!["split", input, "-o", s(&out_rom)],
            vec!["pad", input, "--to", "256K", "-o", s(&out_rom)],
            vec!["compress", input, s(&out_rom)],
            vec!["decompress", input, s(&out_rom)],
            vec!["efirom", input, "--vendor", "8086", "--device", "100e", "-o", s(&out_rom)],
        ] {
            let out = optrom(&args);
            let (_, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(2), "optrom {args:?}: {}", show(&out));
            assert_eq!(stderr.lines().count(), 1, "optrom {args:?}: {stderr}");
            assert!(stderr.contains(input) && stderr.contains(message), "optrom {args:?}: {stderr}");
            if input != "/dev/zero" {
                assert!(stderr.contains("64 MiB"), "the limit is stated: {stderr}");
            }
            assert!(!out_rom.exists(), "optrom {args:?} wrote an output");
        }
    }
}

fn write_manifest(dir: &std::path::Path, nic_extra: &str) -> std::path::PathBuf {
    let path = dir.join("set.toml");
    std::fs::write(
        &path,
        format!("[[nic]]\nmodel = \"e1000\"\nlegacy = \"{}/pxe-e1000.rom\"\n{nic_extra}\n", common::IPXE_QEMU_DIR),
    )
    .unwrap();
    path
}

/// Everything under `dir`, for "nothing was written" checks.
fn tree(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            all.extend(tree(&p));
            all.push(p);
        }
    }
    all.sort();
    all
}

/// A manifest's `output = "../x"` or `"/x"` used to write outside `-o DIR`.
#[test]
fn pack_outputs_stay_inside_the_output_directory() {
    if !common::have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let escape_abs = dir.path().join("abs.rom");
    for (key, name) in [
        ("output", "../escaped.rom".to_string()),
        ("output", s(&escape_abs).to_string()),
        ("legacy_output", "sub/../../escaped.rom".to_string()),
        ("output", "".to_string()),
        ("output", "size-report.json".to_string()),
    ] {
        let manifest = write_manifest(&work, &format!("{key} = {name:?}"));
        let before = tree(dir.path());
        let out = optrom(&["pack", s(&manifest), "-o", s(&work.join("out"))]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{key} = {name:?}: {}", show(&out));
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("set.toml") && stderr.contains(key) && stderr.contains(&format!("{name:?}")),
            "{stderr}"
        );
        assert_eq!(tree(dir.path()), before, "{key} = {name:?} wrote something");
    }
    // A relative path inside the directory is fine.
    let manifest = write_manifest(&work, "output = \"nested/e1000.rom\"");
    let out = optrom(&["pack", s(&manifest), "-o", s(&work.join("out"))]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(work.join("out/nested/e1000.rom").is_file());
}

/// `pack --report-html missing-dir/x.html` used to write the ROM set, then fail.
#[test]
fn pack_writes_the_whole_set_or_nothing() {
    if !common::have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), "legacy_output = \"pxe-e1000.rom\"");
    let out_dir = dir.path().join("out");
    let html = dir.path().join("missing-dir/x.html");
    let before = tree(dir.path());
    let out = optrom(&["pack", s(&manifest), "-o", s(&out_dir), "--report-html", s(&html)]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr.contains("missing-dir") && stderr.contains("does not exist"), "{stderr}");
    assert_eq!(tree(dir.path()), before, "a failed pack wrote files");
    // The output directory is a file: also nothing written, exit 2.
    std::fs::write(&out_dir, b"not a directory").unwrap();
    let out = optrom(&["pack", s(&manifest), "-o", s(&out_dir)]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(std::fs::read(&out_dir).unwrap(), b"not a directory");
    std::fs::remove_file(&out_dir).unwrap();
    // With the directory there, everything is written.
    std::fs::create_dir(dir.path().join("missing-dir")).unwrap();
    let out = optrom(&["pack", s(&manifest), "-o", s(&out_dir), "--report-html", s(&html)]);
    assert!(out.status.success(), "{}", show(&out));
    for f in ["efi-e1000.rom", "pxe-e1000.rom", "size-report.json"] {
        assert!(out_dir.join(f).is_file(), "{f}");
    }
    assert!(html.is_file());
    // split: the same rule for its directory of images.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, b"x").unwrap();
    let out = optrom(&["split", common::E1000, "-o", s(&blocked.join("parts"))]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

/// One mapping for every command: 2 for an input that cannot be used (empty,
/// random, cut off, binary manifest), 1 for findings and budgets; messages
/// name the file and give its real length.
#[test]
fn unusable_inputs_exit_2_in_every_command() {
    if !common::have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let e1000 = std::fs::read(common::E1000).unwrap();
    let cut = dir.path().join("cut.rom");
    std::fs::write(&cut, &e1000[..20000]).unwrap();
    let empty = dir.path().join("empty.rom");
    std::fs::write(&empty, b"").unwrap();
    let random = dir.path().join("random.rom");
    std::fs::write(&random, (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    let binary = dir.path().join("binary.toml");
    std::fs::write(&binary, [0x55, 0xAA, 0xFF, 0xFE, 0x00, 0x80]).unwrap();
    let out_rom = dir.path().join("out.rom");
    for input in [&cut, &empty, &random] {
        for args in [
            vec!["combine", s(input), "-o", s(&out_rom)],
            vec!["split", s(input), "-o", s(&dir.path().join("parts"))],
            vec!["set-ids", s(input), "--vendor", "8086", "--device", "100e", "-o", s(&out_rom)],
            vec!["fix-checksum", s(input), "-o", s(&out_rom)],
            vec!["pad", s(input), "--to", "256K", "-o", s(&out_rom)],
            vec!["info", s(input)],
            vec!["check", s(input)],
        ] {
            let out = optrom(&args);
            let (stdout, stderr) = text(&out);
            // A cut-off ROM is a ROM with a finding for info/check, unusable for the rest.
            let expected = if input == &cut && (args[0] == "info" || args[0] == "check") { 1 } else { 2 };
            assert_eq!(out.status.code(), Some(expected), "optrom {args:?}: {}", show(&out));
            assert!(
                stderr.contains(s(input)) || stdout.contains(s(input)),
                "optrom {args:?} does not name the file: {stderr}"
            );
            assert!(!out_rom.exists() && !dir.path().join("parts").exists(), "optrom {args:?} wrote output");
        }
    }
    // The cut-off ROM's real length (0x4e20 = 20000), not a padded one.
    let out = optrom(&["combine", s(&cut), "-o", s(&out_rom)]);
    let (_, stderr) = text(&out);
    assert!(stderr.contains("image is cut off at 0x4e20"), "{stderr}");
    // info says where the image is cut off instead of calling the file padding.
    let out = optrom(&["info", s(&cut)]);
    let (stdout, stderr) = text(&out);
    assert!(
        stderr.contains("image 0, offset 0x2c, field PCIR.ImageLength: the image is cut off at 0x4e20"),
        "{stderr}"
    );
    assert!(stdout.contains("content 20000 bytes, trailing 0 bytes"), "{stdout}");
    let out = optrom(&["check", s(&cut)]);
    let (stdout, _) = text(&out);
    assert!(!stdout.contains("[trailing]"), "a cut-off image is not padding: {stdout}");
    // Binary manifests: one line with the file and the offset of the first non-text byte.
    for args in [
        vec!["pack", s(&binary), "-o", s(&dir.path().join("set"))],
        vec!["combine", "--manifest", s(&binary), "-o", s(&out_rom)],
    ] {
        let out = optrom(&args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "optrom {args:?}: {}", show(&out));
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(s(&binary)) && stderr.contains("offset 0x1: not UTF-8 text"), "{stderr}");
    }
    // Budgets stay 1: content that does not fit a padding target.
    let out = optrom(&["pad", common::E1000, "--to", "128K", "-o", s(&out_rom)]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
}
