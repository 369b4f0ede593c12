//! `optrom … | head -1`: when the reader of standard output goes away, every
//! command ends quietly with the status it would have had, never a panic (101).

mod common;

use std::process::{Command, Stdio};

use common::{E1000, IPXE_QEMU_DIR, have_debian, optrom, s, show};

/// Run `optrom args` with a standard output whose reader is already closed.
fn run_with_closed_stdout(args: &[String]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_optrom"))
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run optrom");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_command_survives_a_closed_stdout() {
    if !have_debian() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    let driver = d("e1000.efi");
    // The EFI driver of Debian's e1000 ROM, for efirom and compress.
    let split = optrom(&["split", E1000, "-o", &d("split")]);
    assert!(split.status.success(), "{}", show(&split));
    let efi = std::fs::read_dir(d("split"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "efi"))
        .expect("split writes the EFI driver");
    std::fs::copy(&efi, &driver).unwrap();
    let manifest = d("set.toml");
    std::fs::write(
        &manifest,
        format!(
            "[set]\nlevel = \"fast\"\n[[nic]]\nmodel = \"e1000\"\nlegacy = \"{IPXE_QEMU_DIR}/pxe-e1000.rom\"\nefi.x64 = \"e1000.efi\"\n"
        ),
    )
    .unwrap();
    let roms: Vec<String> = common::debian_roms().iter().map(|p| s(p).to_string()).collect();
    let cases: Vec<Vec<String>> = vec![
        [vec!["info".into()], roms.clone()].concat(),
        [vec!["info".into(), "--json".into()], roms.clone()].concat(),
        [vec!["check".into(), "--nic".into(), "auto".into()], roms.clone()].concat(),
        [vec!["check".into(), "--json".into()], roms.clone()].concat(),
        vec!["compress".into(), driver.clone(), d("e1000.efi.z"), "--level".into(), "fast".into()],
        vec![
            "efirom".into(),
            driver.clone(),
            "--vendor".into(),
            "8086".into(),
            "--device".into(),
            "100e".into(),
            "--level".into(),
            "fast".into(),
            "-o".into(),
            d("built.rom"),
        ],
        vec!["combine".into(), E1000.into(), "-o".into(), d("combined.rom")],
        vec!["split".into(), E1000.into(), "-o".into(), d("split2")],
        vec![
            "set-ids".into(),
            E1000.into(),
            "--vendor".into(),
            "8086".into(),
            "--device".into(),
            "10d3".into(),
            "-o".into(),
            d("ids.rom"),
        ],
        vec!["fix-checksum".into(), E1000.into(), "-o".into(), d("fixed.rom")],
        vec!["pad".into(), E1000.into(), "--to".into(), "512K".into(), "-o".into(), d("padded.rom")],
        vec!["migrate-check".into(), IPXE_QEMU_DIR.into(), IPXE_QEMU_DIR.into()],
        vec!["migrate-check".into(), "--json".into(), IPXE_QEMU_DIR.into(), IPXE_QEMU_DIR.into()],
        vec!["resolve".into(), "--target".into(), "x86_64".into(), "--nic".into(), "e1000".into()],
        vec!["pack".into(), manifest.clone(), "-o".into(), d("set")],
        vec!["info".into(), d("missing.rom")],
        vec!["--help".into()],
    ];
    for args in cases {
        let strs: Vec<&str> = args.iter().map(String::as_str).collect();
        let usual = optrom(&strs);
        let (code, stderr) = run_with_closed_stdout(&args);
        assert!(!stderr.contains("panicked") && code != Some(101), "optrom {args:?}: {code:?}\n{stderr}");
        assert_eq!(
            code,
            usual.status.code(),
            "optrom {args:?} with a closed stdout:\n{stderr}\nusually:\n{}",
            show(&usual)
        );
        assert!(!stderr.contains("Broken pipe"), "optrom {args:?}: {stderr}");
    }
}
