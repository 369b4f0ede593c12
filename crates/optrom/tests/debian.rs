//! The library against the real ROMs of Debian's ipxe-qemu and ipxe packages.

use std::path::Path;

use optrom::checksum::Convention;
use optrom::{CheckOptions, inspect, nic};
use optrom_format::{CodeType, Compression, Machine, Subsystem};

mod common;

use common::read_debian as read;

#[test]
fn efi_e1000_exact() {
    let Some(data) = read("/usr/lib/ipxe/qemu/efi-e1000.rom") else { return };
    let info = inspect(&data).unwrap();
    assert_eq!((info.file_size, info.content_size, info.bar_size, info.headroom), (249856, 249856, 262144, 12288));
    assert_eq!((info.trailing.bytes, info.trailing.fill), (0, "none"));
    assert!(info.problems.is_empty(), "{:?}", info.problems);
    assert_eq!(info.images.len(), 2);

    let legacy = &info.images[0];
    assert_eq!((legacy.offset, legacy.length, legacy.code_type, legacy.last), (0, 75264, CodeType::PcAt, false));
    let p = legacy.pcir.as_ref().unwrap();
    assert_eq!((p.offset, p.vendor, p.device, p.revision, p.length), (0x1C, 0x8086, 0x100E, 3, 0x1C));
    assert_eq!((p.class_code, p.image_length, p.code_revision, p.indicator), (0x020000, 147, 1, 0));
    assert_eq!(p.device_list.as_deref(), Some(&[0x100E][..]));
    assert_eq!((p.max_runtime_length, p.config_utility, p.clp), (Some(7), Some(0), Some(0)));
    let l = legacy.legacy.as_ref().unwrap();
    assert_eq!((l.size512, l.init_size, l.entry.as_str()), (147, 75264, "e9a200"));
    assert_eq!(l.pnp.len(), 1);
    assert_eq!((l.pnp[0].offset, l.pnp[0].bev, l.pnp[0].checksum_valid), (0x40, 0x385, true));
    assert_eq!(l.pnp[0].manufacturer.as_deref(), Some("http://ipxe.org"));
    let undi = l.undi.as_ref().unwrap();
    assert_eq!((undi.offset, undi.version.as_str(), undi.checksum_valid), (0x84, "2.1.0", true));
    let ipxe = l.ipxe.as_ref().unwrap();
    assert_eq!((ipxe.offset, ipxe.shrunk_rom_size, ipxe.checksum_valid), (0x9C, 3584, true));
    assert_eq!((legacy.checksum.span, legacy.checksum.sum, legacy.checksum.valid), (75264, 0, true));
    assert_eq!(legacy.checksum.convention, Convention::IpxeByte6);
    assert!(legacy.efi.is_none());

    let efi_image = &info.images[1];
    assert_eq!(
        (efi_image.offset, efi_image.length, efi_image.code_type, efi_image.last),
        (0x12600, 174592, CodeType::Efi, true)
    );
    let p = efi_image.pcir.as_ref().unwrap();
    assert_eq!((p.vendor, p.device, p.revision, p.length, p.class_code), (0x8086, 0x100E, 0, 0x18, 0x020000));
    assert_eq!((p.image_length, p.indicator, p.device_list.as_ref(), p.max_runtime_length), (341, 0x80, None, None));
    let e = efi_image.efi.as_ref().unwrap();
    assert_eq!(
        (e.init_size, e.subsystem, e.machine, e.compression),
        (341, Subsystem::BootServiceDriver, Machine::X64, Compression::None)
    );
    assert_eq!((e.image_offset, e.stored_size, e.pe_size), (0x38, Some(174400), Some(174400)));
    let pe = e.pe.as_ref().unwrap();
    assert_eq!((pe.machine, pe.subsystem, pe.format), (Machine::X64, Subsystem::BootServiceDriver, "PE32+"));
    assert_eq!((pe.size_of_image, pe.entry_point, pe.sections.len()), (0xABCC0, 0x6260, 7));
    assert_eq!(efi_image.checksum.convention, Convention::EfiHeaderByte);
    assert!(efi_image.checksum.valid);
}

#[test]
fn efi_virtio_exact() {
    let Some(data) = read("/usr/lib/ipxe/qemu/efi-virtio.rom") else { return };
    let info = inspect(&data).unwrap();
    assert_eq!((info.file_size, info.bar_size, info.headroom), (249344, 262144, 12800));
    let [legacy, efi] = &info.images[..] else { panic!("two images expected") };
    assert_eq!(
        (legacy.length, legacy.pcir.as_ref().unwrap().vendor, legacy.pcir.as_ref().unwrap().device),
        (75776, 0x1AF4, 0x1041)
    );
    assert_eq!(legacy.pcir.as_ref().unwrap().device_list.as_deref(), Some(&[0x1041][..]));
    assert_eq!((legacy.legacy.as_ref().unwrap().size512, legacy.checksum.valid), (148, true));
    assert_eq!((efi.offset, efi.length, efi.pcir.as_ref().unwrap().image_length), (0x12800, 173568, 339));
    let e = efi.efi.as_ref().unwrap();
    assert_eq!(
        (e.machine, e.compression, e.image_offset, e.pe_size),
        (Machine::X64, Compression::None, 0x38, Some(173408))
    );
    assert_eq!(e.pe.as_ref().unwrap().size_of_image, 702688);
}

#[test]
fn pxe_virtio_exact() {
    let Some(data) = read("/usr/lib/ipxe/qemu/pxe-virtio.rom") else { return };
    let info = inspect(&data).unwrap();
    assert_eq!((info.file_size, info.content_size, info.bar_size, info.headroom), (75776, 75776, 131072, 55296));
    assert_eq!(info.images.len(), 1);
    let image = &info.images[0];
    assert_eq!(
        (image.code_type, image.last, image.pcir.as_ref().unwrap().vendor, image.pcir.as_ref().unwrap().device),
        (CodeType::PcAt, true, 0x1AF4, 0x1041)
    );
    assert_eq!(
        (image.pcir.as_ref().unwrap().image_length, image.pcir.as_ref().unwrap().indicator, image.checksum.valid),
        (148, 0x80, true)
    );
    assert_eq!(image.legacy.as_ref().unwrap().ipxe.as_ref().unwrap().build_id, "0x782e13de");
}

#[test]
fn every_debian_rom_parses_and_passes() {
    if !common::have_debian() {
        return;
    }
    let mut seen = 0;
    for dir in [common::IPXE_QEMU_DIR, common::IPXE_DIR] {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rom") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let info = inspect(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(info.problems.is_empty(), "{}: {:?}", path.display(), info.problems);
            assert!(info.images.iter().all(|i| i.checksum.valid), "{}", path.display());
            assert_eq!(info.images.last().map(|i| i.last), Some(true));
            let name = path.file_name().unwrap().to_str().unwrap();
            let report = optrom::check(&info, &CheckOptions { file_name: Some(name), ..Default::default() });
            assert!(report.passed(), "{}: {:?}", path.display(), report.findings);
            seen += 1;
        }
    }
    assert!(seen >= 16 + 7, "only {seen} ROMs found");
}

#[test]
fn nic_checks_on_real_roms() {
    let Some(data) = read("/usr/lib/ipxe/qemu/efi-e1000.rom") else { return };
    let info = inspect(&data).unwrap();
    let e1000 = nic::find("e1000").unwrap();
    let ok = optrom::check(
        &info,
        &CheckOptions { nic: Some(e1000), file_name: Some("efi-e1000.rom"), bucket: Some(256 << 10), rom: None },
    );
    assert!(ok.passed(), "{:?}", ok.findings);
    assert_eq!(ok.warnings, 0, "{:?}", ok.findings);
    // The e1000 ROM loaded for an rtl8139: SeaBIOS would skip it.
    let rtl = nic::find("rtl8139").unwrap();
    let wrong =
        optrom::check(&info, &CheckOptions { nic: Some(rtl), file_name: Some("custom.rom"), bucket: None, rom: None });
    assert!(!wrong.passed());
    assert!(wrong.findings.iter().any(|f| f.rule == "nic-ids" && f.message.contains("10ec:8139")));
    // Over budget.
    let small = optrom::check(&info, &CheckOptions { bucket: Some(128 << 10), ..Default::default() });
    let f = small.findings.iter().find(|f| f.rule == "bucket").unwrap();
    assert!(f.message.contains("118784 over"), "{}", f.message);
    assert!(Path::new("/usr/lib/ipxe/qemu/efi-e1000.rom").exists());
}

/// Found by fuzzing: an image whose checksum is already broken must come out of
/// split + combine unchanged (operations keep an image's sum, they do not
/// silently "repair" images they did not modify).
#[test]
fn split_combine_keeps_a_broken_checksum_as_it_is() {
    let Some(mut data) = read("/usr/lib/ipxe/qemu/efi-e1000.rom") else { return };
    data[0x1000] ^= 0x10;
    let (manifest, files) = optrom::edit::split(&data).unwrap();
    let rebuilt = optrom::edit::combine_manifest(&manifest, |name| {
        files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.bytes.clone())
            .ok_or_else(|| optrom::fsio::IoError { path: name.into(), message: "not written by split".into() })
    })
    .unwrap();
    assert_eq!(rebuilt, data);
    // Re-chaining still keeps the (broken) sum: flipping the last-image bit moves byte 6.
    let legacy = &data[..0x12600];
    let alone = optrom::edit::combine(&[legacy]).unwrap();
    let sum = |b: &[u8]| b.iter().fold(0u8, |a, x| a.wrapping_add(*x));
    assert_eq!(sum(&alone), sum(legacy));
    assert_ne!(alone[6], legacy[6]);
}
