//! Every example manifest parses and names only files in the documented places.

use optrom::pack::{Layout, parse_manifest};

#[test]
fn example_manifests_parse() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let debian = parse_manifest(&std::fs::read_to_string(root.join("debian/debian-ipxe-qemu.toml")).unwrap()).unwrap();
    assert_eq!(debian.nics.len(), 8);
    assert_eq!(debian.set.layout, Layout::Combined);
    let drivers =
        parse_manifest(&std::fs::read_to_string(root.join("debian/debian-from-drivers.toml")).unwrap()).unwrap();
    assert_eq!(drivers.nics.len(), 8);
    assert!(drivers.nics.iter().all(|n| n.efi.len() == 1 && n.efirom.is_empty()));
    let multi = parse_manifest(&std::fs::read_to_string(root.join("multiarch.toml")).unwrap()).unwrap();
    assert_eq!(multi.set.layout, Layout::Both);
    assert_eq!(multi.nics[1].efi.len(), 4);
    assert_eq!(multi.nics[1].extra_devices, [0x1041]);
}

#[test]
fn manifest_errors_are_clear() {
    let err = parse_manifest("[set]\nlayout = \"sideways\"\n").unwrap_err().to_string();
    assert!(err.contains("sideways") && err.contains("line 2"), "{err}");
    let err = parse_manifest("[[nic]]\nmodel = \"e1000\"\nefi.mips = \"x.efi\"\n").unwrap_err().to_string();
    assert!(err.contains("mips"), "{err}");
    let err = parse_manifest("[[nic]]\nmodle = \"e1000\"\n").unwrap_err().to_string();
    assert!(err.contains("modle"), "{err}");
}

#[test]
fn unknown_models_need_both_ids() {
    let m = parse_manifest("[[nic]]\nmodel = \"e1001\"\nvendor = \"8086\"\nlegacy = \"x.rom\"\n").unwrap();
    let err = optrom::pack::pack(&m, std::path::Path::new("."), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("nic e1001: unknown QEMU model; give vendor and device"), "{err}");
}
