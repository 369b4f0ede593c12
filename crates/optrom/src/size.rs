//! Sizes as users write them (`256K`, `512KiB`, `0x40000`, `262144`) and the ROM
//! BAR arithmetic QEMU does.

/// The ROM BAR QEMU creates for a file of `size` bytes: the next power of two at or
/// above it (QEMU's `pow2ceil`). A zero-byte file gets no BAR; this returns 1 for it.
pub fn bar_size(size: u64) -> u64 {
    size.max(1).next_power_of_two()
}

/// Parse a size: decimal or `0x` hex bytes, optionally followed by `K`/`KiB`/`KB`,
/// `M`/`MiB`/`MB` or `G`/`GiB`/`GB` (all binary multiples, as QEMU's sizes are).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let invalid = || format!("invalid size {t:?}: expected bytes (262144, 0x40000) or a size like 256K or 512KiB");
    let lower = t.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).map_err(|_| invalid());
    }
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (digits, suffix) = lower.split_at(split);
    let multiplier: u64 = match suffix.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(invalid()),
    };
    let value: u64 = digits.parse().map_err(|_| invalid())?;
    value.checked_mul(multiplier).ok_or_else(|| format!("size {t:?} is too large"))
}

/// A size in the most readable binary unit (`256 KiB`, `243712 B`).
pub fn human(size: u64) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 && size.is_multiple_of(1 << 10) {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (text, value) in [
            ("256K", 262144),
            ("256k", 262144),
            ("512KiB", 524288),
            ("0x40000", 262144),
            ("262144", 262144),
            ("1M", 1 << 20),
            ("1 MiB", 1 << 20),
            ("0x1b", 27),
            ("100b", 100),
        ] {
            assert_eq!(parse_size(text), Ok(value), "{text}");
        }
        for bad in ["", "K", "12Q", "0x", "-1", "0xfg"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bar() {
        assert_eq!(bar_size(249856), 262144);
        assert_eq!(bar_size(262144), 262144);
        assert_eq!(bar_size(262145), 524288);
        assert_eq!(bar_size(75264), 131072);
    }
}
