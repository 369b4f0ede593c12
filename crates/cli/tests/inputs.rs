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
