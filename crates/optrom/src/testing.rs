//! Images laid out by hand for the library's unit tests, from the PCI Firmware
//! Specification 3.0 tables (legacy header: `55 AA`, Size512 at 2, entry at 3,
//! PCIR pointer at 0x18; PCIR: signature, vendor +4, device +6, length +0x0A,
//! revision +0x0C, class +0x0D, image length +0x10, code type +0x14, indicator
//! +0x15), so the tests need no Debian package and no code under test.

/// A legacy x86 image of `blocks` × 512 bytes for `vendor:device`, with its PCIR
/// at 0x20 and its last byte keeping the sum at zero (the `last-byte`
/// convention); `last` sets the last-image bit.
pub(crate) fn legacy_image(blocks: u8, last: bool, vendor: u16, device: u16) -> Vec<u8> {
    let mut b = vec![0u8; usize::from(blocks) * 512];
    b[..3].copy_from_slice(&[0x55, 0xAA, blocks]);
    b[3..6].copy_from_slice(&[0xE9, 0x00, 0x00]); // jmp near
    b[0x18] = 0x20;
    b[0x20..0x24].copy_from_slice(b"PCIR");
    b[0x24..0x26].copy_from_slice(&vendor.to_le_bytes());
    b[0x26..0x28].copy_from_slice(&device.to_le_bytes());
    b[0x2A] = 0x18; // PCI 2.2 length
    b[0x2F] = 0x02; // class 020000
    b[0x30] = blocks;
    b[0x35] = if last { 0x80 } else { 0 };
    let sum = b.iter().fold(0u8, |a, x| a.wrapping_add(*x));
    let end = b.len() - 1;
    b[end] = 0u8.wrapping_sub(sum);
    b
}

/// The 8-bit sum of `bytes`.
pub(crate) fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, x| a.wrapping_add(*x))
}
