//! Option negotiation for read requests: RFC 2347 (framework), 2348 (`blksize`),
//! 2349 (`timeout`, `tsize`), 7440 (`windowsize`). Unknown options are ignored, as
//! RFC 2347 requires; values out of range are clamped where the RFC lets the server
//! choose a smaller value, and refused with ERROR 8 where no sensible value exists.

use std::time::Duration;

use super::wire::Request;

/// The transfer modes of RFC 1350 a read request may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bytes as stored.
    Octet,
    /// Text: LF becomes CR LF and CR becomes CR NUL on the wire.
    Netascii,
}

impl Mode {
    /// The mode for a request's mode string (case-insensitive); `mail` and anything
    /// else is `None`.
    pub fn parse(text: &str) -> Option<Mode> {
        if text.eq_ignore_ascii_case("octet") {
            Some(Mode::Octet)
        } else if text.eq_ignore_ascii_case("netascii") {
            Some(Mode::Netascii)
        } else {
            None
        }
    }
}

/// RFC 2348's largest block size.
pub const MAX_BLKSIZE: u16 = 65464;
/// RFC 2348's smallest block size.
pub const MIN_BLKSIZE: u16 = 8;
/// RFC 1350's block size, used when the client asks for none.
pub const DEFAULT_BLKSIZE: u16 = 512;
/// IPv4 + UDP + TFTP DATA header bytes: a block of `MTU - 32` fills one frame.
pub const IPV4_TFTP_OVERHEAD: u32 = 20 + 8 + 4;

/// What the server allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest block size granted (already clamped to the interface MTU − 32 where known).
    pub max_blksize: u16,
    /// Largest window granted.
    pub max_windowsize: u16,
    /// Largest `windowsize × blksize` granted: bounds the memory a transfer holds.
    pub max_window_bytes: u32,
    /// Retransmission timeout when the client asks for none.
    pub default_timeout: Duration,
}

/// Why a request's options cannot be honoured: sent back as ERROR 8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("option {name} = {value:?}: {reason}")]
pub struct OptionError {
    /// The option as the client spelled it.
    pub name: String,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// The parameters a transfer runs with, and the OACK that announces them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Bytes per DATA block.
    pub blksize: u16,
    /// Blocks sent before waiting for an ACK.
    pub windowsize: u16,
    /// First retransmission timeout.
    pub timeout: Duration,
    /// The client sent `tsize` (EDK2's size probe does, and then aborts).
    pub tsize_requested: bool,
    /// Options for the OACK, in the client's order; empty means no OACK is sent and
    /// the transfer starts with DATA 1.
    pub oack: Vec<(String, String)>,
}

fn number(name: &str, value: &str) -> Result<u64, OptionError> {
    value.trim().parse::<u64>().map_err(|_| OptionError {
        name: name.to_string(),
        value: value.to_string(),
        reason: "not a decimal number",
    })
}

/// Negotiate a read request's options. `file_size` is the size the OACK reports for
/// `tsize` (None when unknown, e.g. netascii, in which case `tsize` is not acknowledged).
pub fn negotiate(request: &Request<'_>, file_size: Option<u64>, limits: &Limits) -> Result<Negotiated, OptionError> {
    let mut blksize = DEFAULT_BLKSIZE;
    let mut windowsize = 1u16;
    let mut timeout = limits.default_timeout;
    let mut tsize_requested = false;
    let mut oack: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut windowsize_at: Option<usize> = None;
    for option in &request.options {
        let key = option.name.to_ascii_lowercase();
        if seen.contains(&key) {
            continue; // RFC 2347 is silent on repeats; the first one counts.
        }
        seen.push(key.clone());
        let refuse = |reason| OptionError { name: option.name.to_string(), value: option.value.to_string(), reason };
        match key.as_str() {
            "blksize" => {
                let requested = number(option.name, option.value)?;
                if requested < u64::from(MIN_BLKSIZE) {
                    return Err(refuse("below RFC 2348's minimum of 8"));
                }
                blksize = requested.min(u64::from(limits.max_blksize.min(MAX_BLKSIZE))) as u16;
                oack.push((option.name.to_string(), blksize.to_string()));
            }
            "tsize" => {
                number(option.name, option.value)?;
                tsize_requested = true;
                if let Some(size) = file_size {
                    oack.push((option.name.to_string(), size.to_string()));
                }
            }
            "timeout" => {
                let seconds = number(option.name, option.value)?;
                // RFC 2349: 1–255 s. Outside that the option is simply not acknowledged.
                if (1..=255).contains(&seconds) {
                    timeout = Duration::from_secs(seconds);
                    oack.push((option.name.to_string(), seconds.to_string()));
                }
            }
            "windowsize" => {
                let requested = number(option.name, option.value)?;
                if requested == 0 {
                    return Err(refuse("below RFC 7440's minimum of 1"));
                }
                windowsize = requested.min(u64::from(limits.max_windowsize.max(1))) as u16;
                windowsize_at = Some(oack.len());
                oack.push((option.name.to_string(), windowsize.to_string()));
            }
            _ => {}
        }
    }
    // The window's memory bound depends on the block size, which may come later in
    // the request: apply it once both are known.
    if let Some(at) = windowsize_at {
        let fit = (limits.max_window_bytes / u32::from(blksize)).max(1);
        if u32::from(windowsize) > fit {
            windowsize = fit as u16;
            oack[at].1 = windowsize.to_string();
        }
    }
    Ok(Negotiated { blksize, windowsize, timeout, tsize_requested, oack })
}

#[cfg(test)]
mod tests {
    use super::super::wire::{Repr, TftpOption};
    use super::*;

    const LIMITS: Limits = Limits {
        max_blksize: 1468,
        max_windowsize: 64,
        max_window_bytes: 256 * 1024,
        default_timeout: Duration::from_secs(1),
    };

    fn request(options: &[(&'static str, &'static str)]) -> Request<'static> {
        Request {
            filename: "f",
            mode: "octet",
            options: options.iter().map(|&(name, value)| TftpOption { name, value }).collect(),
        }
    }

    #[test]
    fn edk2_probe_is_answered_with_size_clamped_blksize_and_window() {
        // EDK2's probe as captured: tsize 0 blksize 1468 windowsize 4.
        let n = negotiate(&request(&[("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")]), Some(850528), &LIMITS)
            .unwrap();
        assert_eq!((n.blksize, n.windowsize, n.tsize_requested), (1468, 4, true));
        let expected: Vec<(String, String)> =
            [("tsize", "850528"), ("blksize", "1468"), ("windowsize", "4")].map(|(a, b)| (a.into(), b.into())).into();
        assert_eq!(n.oack, expected);
    }

    #[test]
    fn large_values_are_clamped_small_refused() {
        let n = negotiate(&request(&[("BLKSIZE", "65464"), ("windowsize", "1000")]), None, &LIMITS).unwrap();
        assert_eq!((n.blksize, n.windowsize), (1468, 64));
        assert_eq!(n.oack[0], ("BLKSIZE".to_string(), "1468".to_string()));
        let e = negotiate(&request(&[("blksize", "7")]), None, &LIMITS).unwrap_err();
        assert_eq!(e.name, "blksize");
        assert!(negotiate(&request(&[("windowsize", "0")]), None, &LIMITS).is_err());
        assert!(negotiate(&request(&[("tsize", "x")]), None, &LIMITS).is_err());
    }

    #[test]
    fn window_memory_bound_applies_after_blksize() {
        let limits = Limits { max_blksize: MAX_BLKSIZE, ..LIMITS };
        let n = negotiate(&request(&[("windowsize", "64"), ("blksize", "65464")]), None, &limits).unwrap();
        assert_eq!(n.windowsize, 4); // 256 KiB / 65464
        assert_eq!(n.oack[0].1, "4");
    }

    #[test]
    fn timeout_out_of_range_is_not_acknowledged_and_unknown_options_ignored() {
        let n = negotiate(&request(&[("timeout", "0"), ("multicast", ""), ("tsize", "0")]), Some(5), &LIMITS).unwrap();
        assert_eq!(n.oack, vec![("tsize".to_string(), "5".to_string())]);
        assert_eq!(n.timeout, Duration::from_secs(1));
        let n = negotiate(&request(&[("timeout", "6")]), None, &LIMITS).unwrap();
        assert_eq!(n.timeout, Duration::from_secs(6));
    }

    #[test]
    fn no_options_no_oack() {
        let bytes = b"\x00\x01f\x00octet\x00";
        let Repr::Read(r) = Repr::parse_bytes(bytes).unwrap() else { unreachable!() };
        let n = negotiate(&r, Some(1), &LIMITS).unwrap();
        assert!(n.oack.is_empty());
        assert_eq!((n.blksize, n.windowsize), (512, 1));
    }
}
