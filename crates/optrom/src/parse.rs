//! The value syntaxes users type, in one place: PCI IDs, class codes, fill
//! bytes and ROM BAR budgets. The CLI's argument parsers and the `pack`
//! manifest both parse through these, so `8086`, `0x8086`, `020000`, `0xff`
//! and `256K` mean the same everywhere. Each error is one line saying what was
//! expected.

use crate::size::parse_size;

/// A 16-bit PCI ID in hex, with or without `0x` (`8086`, `0x8086`).
pub fn hex_id(text: &str) -> Result<u16, String> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    u16::from_str_radix(digits, 16)
        .ok()
        .filter(|_| !digits.is_empty() && digits.len() <= 4)
        .ok_or_else(|| format!("{text:?} is not a 16-bit hex ID (e.g. 8086 or 0x8086)"))
}

/// A 24-bit PCI class code in hex (`020000` = Ethernet controller).
pub fn class_code(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    u32::from_str_radix(digits, 16)
        .ok()
        .filter(|v| *v <= 0xFF_FFFF && !digits.is_empty())
        .ok_or_else(|| format!("{text:?} is not a 24-bit hex class code (e.g. 020000)"))
}

/// A fill byte: `0xff`, `0x00` or decimal `255`.
pub fn fill_byte(text: &str) -> Result<u8, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| format!("{text:?} is not a byte (0xff, 0x00)"))
}

/// A ROM BAR budget: a size (`256K`, `512KiB`, `0x40000`, `262144`) that is a
/// power of two, as ROM BARs are.
pub fn bucket(text: &str) -> Result<u64, String> {
    let size = parse_size(text)?;
    if !size.is_power_of_two() {
        return Err(format!("{size} is not a power of two; QEMU ROM BARs are powers of two"));
    }
    Ok(size)
}

/// A budget that may be switched off: `none`, or a [`bucket`].
pub fn optional_bucket(text: &str) -> Result<Option<u64>, String> {
    if text.eq_ignore_ascii_case("none") { Ok(None) } else { bucket(text).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_and_without_prefix() {
        assert_eq!(hex_id("8086"), Ok(0x8086));
        assert_eq!(hex_id("0x100E"), Ok(0x100E));
        for bad in ["", "0x", "12345", "xyz", "-1"] {
            assert!(hex_id(bad).unwrap_err().contains("16-bit hex ID"), "{bad:?}");
        }
    }

    #[test]
    fn class_codes_are_24_bit() {
        assert_eq!(class_code("020000"), Ok(0x020000));
        assert_eq!(class_code("0x030000"), Ok(0x030000));
        assert!(class_code("1000000").is_err());
        assert!(class_code("").is_err());
    }

    #[test]
    fn fill_bytes_hex_or_decimal() {
        assert_eq!(fill_byte("0xff"), Ok(0xFF));
        assert_eq!(fill_byte("0"), Ok(0));
        assert_eq!(fill_byte("255"), Ok(255));
        assert!(fill_byte("256").is_err());
        assert!(fill_byte("0x100").is_err());
    }

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(bucket("256K"), Ok(262144));
        assert_eq!(bucket("0x80000"), Ok(524288));
        assert!(bucket("300K").unwrap_err().contains("not a power of two"));
        assert_eq!(optional_bucket("none"), Ok(None));
        assert_eq!(optional_bucket("1M"), Ok(Some(1 << 20)));
    }
}
