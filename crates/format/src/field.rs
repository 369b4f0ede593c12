//! Little-endian field access. Callers have already proven the buffer long enough
//! (`new_checked`), so these index directly.

pub(crate) fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([buf[at], buf[at + 1]])
}

pub(crate) fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

pub(crate) fn set_u16(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn set_u32(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Read a u16 from an unchecked slice, `None` when it does not fit.
pub(crate) fn try_u16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*buf.get(at)?, *buf.get(at.checked_add(1)?)?]))
}
