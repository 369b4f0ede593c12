//! Every header of every ROM in Debian's ipxe-qemu package parses and emits back
//! to the identical bytes; malformed chains fail with the right field.

use optrom_format::chain::walk;
use optrom_format::{
    CodeType, EfiHeader, EfiHeaderRepr, ErrorKind, IpxeHeader, IpxeHeaderRepr, LegacyHeader, LegacyHeaderRepr, Pcir,
    PcirRepr, PnpHeader, PnpHeaderRepr, UndiRomId, UndiRomIdRepr,
};

use optrom_testsupport::{IPXE_QEMU_DIR as ROM_DIR, needs};

fn debian_roms() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    match std::fs::read_dir(ROM_DIR) {
        Ok(entries) => {
            for entry in entries {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "rom") {
                    out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
                }
            }
        }
        Err(e) => {
            needs("EXTERNAL", false, &format!("{ROM_DIR} ({e}), Debian's ipxe-qemu"));
        }
    }
    out.sort();
    out
}

fn roundtrip(original: &[u8], len: usize, emit: impl Fn(&mut [u8]), what: &str) {
    let mut buf = vec![0xA5u8; len];
    emit(&mut buf);
    assert_eq!(&buf[..], &original[..len], "{what} did not round-trip");
}

#[test]
fn every_header_round_trips() {
    let roms = debian_roms();
    if roms.is_empty() {
        return;
    }
    assert!(roms.len() >= 16, "expected the 16 ipxe-qemu ROMs, found {}", roms.len());
    let mut counts = [0usize; 6];
    for (name, data) in &roms {
        let walked = walk(data);
        assert!(walked.error.is_none(), "{name}: {:?}", walked.error);
        for image in &walked.images {
            let b = image.bytes;
            let pcir_at = image.pcir_offset;
            let pcir = PcirRepr::parse(&Pcir::new_checked(&b[pcir_at..]).unwrap()).unwrap();
            roundtrip(&b[pcir_at..], pcir.buffer_len(), |buf| pcir.emit(&mut Pcir::new_unchecked(buf)), "PCIR");
            counts[0] += 1;
            if pcir.code_type == CodeType::Efi {
                let efi = EfiHeaderRepr::parse(&EfiHeader::new_checked(b).unwrap()).unwrap();
                roundtrip(b, efi.buffer_len(), |buf| efi.emit(&mut EfiHeader::new_unchecked(buf)), "EFI header");
                counts[1] += 1;
                continue;
            }
            let view = LegacyHeader::new_checked(b).unwrap();
            let legacy = LegacyHeaderRepr::parse(&view).unwrap();
            roundtrip(
                b,
                legacy.buffer_len(),
                |buf| legacy.emit(&mut LegacyHeader::new_unchecked(buf)),
                "legacy header",
            );
            counts[2] += 1;
            let pnp_at = usize::from(view.pnp_offset());
            let pnp = PnpHeaderRepr::parse(&PnpHeader::new_checked(&b[pnp_at..]).unwrap()).unwrap();
            roundtrip(&b[pnp_at..], pnp.buffer_len(), |buf| pnp.emit(&mut PnpHeader::new_unchecked(buf)), "$PnP");
            counts[3] += 1;
            let undi_at = usize::from(view.undi_offset());
            let undi = UndiRomIdRepr::parse(&UndiRomId::new_checked(&b[undi_at..]).unwrap()).unwrap();
            roundtrip(&b[undi_at..], undi.buffer_len(), |buf| undi.emit(&mut UndiRomId::new_unchecked(buf)), "UNDI");
            counts[4] += 1;
            let ipxe_at = usize::from(view.ipxe_offset());
            let ipxe = IpxeHeaderRepr::parse(&IpxeHeader::new_checked(&b[ipxe_at..]).unwrap()).unwrap();
            roundtrip(&b[ipxe_at..], ipxe.buffer_len(), |buf| ipxe.emit(&mut IpxeHeader::new_unchecked(buf)), "iPXE");
            counts[5] += 1;
        }
    }
    // 16 ROMs: 8 pxe (1 image) + 8 efi (2 images) = 24 images, 8 of them EFI.
    assert_eq!(counts, [24, 8, 16, 16, 16, 16]);
}

fn image(len_blocks: u16, last: bool) -> Vec<u8> {
    let mut b = vec![0u8; usize::from(len_blocks) * 512];
    b[0] = 0x55;
    b[1] = 0xAA;
    b[2] = len_blocks as u8;
    b[0x18] = 0x1C;
    b[0x1C..0x20].copy_from_slice(b"PCIR");
    b[0x1C + 0x0A] = 0x18;
    b[0x1C + 0x10..0x1C + 0x12].copy_from_slice(&len_blocks.to_le_bytes());
    b[0x1C + 0x15] = if last { 0x80 } else { 0 };
    b
}

#[test]
fn malformed_chains_name_the_field() {
    let cases: Vec<(&str, Vec<u8>, usize, &str)> = vec![
        ("truncated", image(2, true)[..700].to_vec(), 0x2C, "PCIR.ImageLength"),
        (
            "pcir out of bounds",
            {
                let mut b = image(1, true);
                b[0x18] = 0xF0;
                b[0x19] = 0x01;
                b
            },
            0x18,
            "PCIR pointer",
        ),
        (
            "zero length",
            {
                let mut b = image(1, true);
                b[0x2C] = 0;
                b
            },
            0x2C,
            "PCIR.ImageLength",
        ),
        ("no last bit", image(1, false), 0x31, "PCIR.Indicator"),
        (
            "bad pcir signature",
            {
                let mut b = image(1, true);
                b[0x1C] = b'X';
                b
            },
            0x1C,
            "PCIR.Signature",
        ),
        (
            "second image bad",
            {
                let mut b = image(1, false);
                b.extend(vec![0u8; 512]);
                b
            },
            0x200,
            "signature",
        ),
    ];
    for (what, data, offset, field) in cases {
        let walked = walk(&data);
        let e = walked.error.unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!((e.offset, e.field), (offset, field), "{what}: {e}");
    }
    let one = image(1, true);
    let ok = walk(&one);
    assert!(ok.error.is_none());
    assert_eq!(ok.end, 512);
    let open_ended = image(1, false);
    let no_last = walk(&open_ended);
    assert_eq!(no_last.images.len(), 1);
    assert_eq!(no_last.error.unwrap().kind, ErrorKind::NoLastImage);
}

#[test]
fn isa_style_rom_is_reported_apart_from_the_chain() {
    // SeaBIOS's vgabios-isavga.bin: 55 AA, Size512, a jmp, and a PCIR pointer of 0.
    let mut isa = vec![0u8; 3 * 512];
    isa[..6].copy_from_slice(&[0x55, 0xAA, 2, 0xE9, 0x10, 0x00]);
    let walked = walk(&isa);
    assert!(walked.images.is_empty());
    assert_eq!(walked.error.as_ref().map(|e| (e.offset, &e.kind)), Some((0x18, &ErrorKind::NoPcir)));
    assert_eq!(walked.isa.map(<[u8]>::len), Some(1024), "Size512 × 512 bytes, not the file");
    assert_eq!(walked.end, 1024);
    // Declared longer than the file: cut at the end of the file.
    isa[2] = 9;
    assert_eq!(walk(&isa).isa.map(<[u8]>::len), Some(1536));
    // A later image with pointer 0 breaks the chain; it is no ISA ROM.
    let mut chained = image(1, false);
    chained.extend(&isa[..512]);
    let walked = walk(&chained);
    assert!(walked.isa.is_none());
    let e = walked.error.unwrap();
    assert_eq!((e.offset, &e.kind), (0x218, &ErrorKind::InsideHeader { value: 0, header_end: 0x1A }));
    // A pointer into the header itself.
    let mut low = image(1, true);
    low[0x18] = 0x08;
    let e = walk(&low).error.unwrap();
    assert_eq!(e.to_string(), "offset 0x18, field PCIR pointer: 0x8 points into the header (must be at least 0x1a)");
}

#[test]
fn indicator_bit_not_equality() {
    let mut data = image(1, true);
    data[0x31] = 0x81; // reserved bit set alongside bit 7: still the last image
    data.extend(vec![0xFFu8; 512]);
    let walked = walk(&data);
    assert!(walked.error.is_none());
    assert_eq!(walked.images.len(), 1);
}
