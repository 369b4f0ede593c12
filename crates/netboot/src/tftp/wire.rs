//! TFTP packets on the wire (RFC 1350 with the option extension of RFC 2347), in the
//! style of smoltcp's `wire` module: [`Packet`] is a zero-copy view whose
//! [`Packet::new_checked`] proves the fixed header is present, so its accessors
//! never panic; [`Repr`] is the parsed, typed form with [`Repr::parse`] and
//! [`Repr::emit`], which round-trip. Malformed input is a [`WireError`] that names
//! the packet type and the field.

use core::fmt;

/// The 2-byte opcode that starts every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// Read request (RRQ).
    Read = 1,
    /// Write request (WRQ).
    Write = 2,
    /// A block of file data.
    Data = 3,
    /// Acknowledgement of a block (or of an OACK, as block 0).
    Ack = 4,
    /// An error; ends the transfer.
    Error = 5,
    /// Option acknowledgement (RFC 2347).
    OptionAck = 6,
}

impl Opcode {
    /// The opcode for a wire value, if it is one.
    pub fn from_u16(value: u16) -> Option<Opcode> {
        Some(match value {
            1 => Opcode::Read,
            2 => Opcode::Write,
            3 => Opcode::Data,
            4 => Opcode::Ack,
            5 => Opcode::Error,
            6 => Opcode::OptionAck,
            _ => return None,
        })
    }

    /// The packet's name as the RFCs spell it, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Read => "RRQ",
            Opcode::Write => "WRQ",
            Opcode::Data => "DATA",
            Opcode::Ack => "ACK",
            Opcode::Error => "ERROR",
            Opcode::OptionAck => "OACK",
        }
    }
}

/// The error codes of RFC 1350 §5 plus RFC 2347's option refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: not defined, see the message.
    NotDefined,
    /// 1: file not found.
    FileNotFound,
    /// 2: access violation.
    AccessViolation,
    /// 3: disk full or allocation exceeded.
    DiskFull,
    /// 4: illegal TFTP operation.
    IllegalOperation,
    /// 5: unknown transfer ID.
    UnknownTransferId,
    /// 6: file already exists.
    FileExists,
    /// 7: no such user.
    NoSuchUser,
    /// 8: option negotiation refused (RFC 2347); clients send it to abort after an OACK.
    OptionRefused,
    /// Any other value, kept so a packet round-trips.
    Other(u16),
}

impl ErrorCode {
    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTransferId => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionRefused => 8,
            ErrorCode::Other(v) => v,
        }
    }

    /// The code for a wire value.
    pub fn from_u16(value: u16) -> ErrorCode {
        match value {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTransferId,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionRefused,
            v => ErrorCode::Other(v),
        }
    }
}

/// A malformed packet: which packet type (as far as it was recognised), which field,
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// `RRQ`, `DATA`, …, or `packet` when even the opcode is unusable.
    pub packet: &'static str,
    /// The field, as RFC 1350/2347 name it: `opcode`, `filename`, `mode`, `option name`, …
    pub field: &'static str,
    /// What is wrong.
    pub kind: WireErrorKind,
}

/// The ways a TFTP packet can be malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireErrorKind {
    /// The packet ends before the field does.
    Truncated {
        /// Bytes the packet needs up to the end of the field.
        needed: usize,
        /// Bytes the packet has.
        available: usize,
    },
    /// The opcode is none of 1–6.
    UnknownOpcode(u16),
    /// A string field has no terminating NUL byte.
    Unterminated,
    /// A string field is not UTF-8 (RFC 1350 strings are netascii).
    NotUtf8,
    /// An option name with no value after it.
    MissingValue,
    /// A string field that must not be empty is.
    Empty,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TFTP {} packet, field {}: ", self.packet, self.field)?;
        match &self.kind {
            WireErrorKind::Truncated { needed, available } => {
                write!(f, "truncated (needs {needed} bytes, packet has {available})")
            }
            WireErrorKind::UnknownOpcode(v) => write!(f, "unknown opcode {v}"),
            WireErrorKind::Unterminated => write!(f, "no terminating NUL byte"),
            WireErrorKind::NotUtf8 => write!(f, "not UTF-8 text"),
            WireErrorKind::MissingValue => write!(f, "option has a name but no value"),
            WireErrorKind::Empty => write!(f, "empty"),
        }
    }
}

impl std::error::Error for WireError {}

/// Offsets of the fixed header fields.
mod field {
    use core::ops::Range;
    pub const OPCODE: Range<usize> = 0..2;
    /// DATA/ACK block number, ERROR code.
    pub const NUMBER: Range<usize> = 2..4;
    /// Start of DATA payload, ERROR message.
    pub const AFTER_NUMBER: usize = 4;
    /// Start of RRQ/WRQ filename and OACK options.
    pub const AFTER_OPCODE: usize = 2;
}

/// Bytes before a DATA packet's payload.
pub const DATA_HEADER_LEN: usize = field::AFTER_NUMBER;

/// A zero-copy view of a TFTP packet whose opcode is known and whose fixed fields
/// (opcode, and the block number or error code where the type has one) are present.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    opcode: Opcode,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap, checking the opcode is a TFTP opcode and the fixed fields are present.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let bytes = buffer.as_ref();
        if bytes.len() < field::OPCODE.end {
            return Err(WireError {
                packet: "packet",
                field: "opcode",
                kind: WireErrorKind::Truncated { needed: field::OPCODE.end, available: bytes.len() },
            });
        }
        let raw = u16::from_be_bytes([bytes[0], bytes[1]]);
        let opcode = Opcode::from_u16(raw).ok_or(WireError {
            packet: "packet",
            field: "opcode",
            kind: WireErrorKind::UnknownOpcode(raw),
        })?;
        let fixed = match opcode {
            Opcode::Data | Opcode::Ack | Opcode::Error => field::NUMBER.end,
            Opcode::Read | Opcode::Write | Opcode::OptionAck => field::OPCODE.end,
        };
        if bytes.len() < fixed {
            let field_name = if opcode == Opcode::Error { "error code" } else { "block" };
            return Err(WireError {
                packet: opcode.name(),
                field: field_name,
                kind: WireErrorKind::Truncated { needed: fixed, available: bytes.len() },
            });
        }
        Ok(Packet { buffer, opcode })
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        self.opcode
    }

    /// DATA/ACK: the block number; ERROR: the error code; otherwise 0.
    pub fn number(&self) -> u16 {
        match self.opcode {
            Opcode::Data | Opcode::Ack | Opcode::Error => {
                let b = self.buffer.as_ref();
                u16::from_be_bytes([b[field::NUMBER.start], b[field::NUMBER.start + 1]])
            }
            _ => 0,
        }
    }

    /// The bytes after the fixed fields: DATA payload, ERROR message, request or
    /// OACK strings.
    pub fn rest(&self) -> &[u8] {
        let start = match self.opcode {
            Opcode::Data | Opcode::Ack | Opcode::Error => field::AFTER_NUMBER,
            _ => field::AFTER_OPCODE,
        };
        &self.buffer.as_ref()[start..]
    }
}

/// A name/value pair from an RRQ/WRQ or an OACK (RFC 2347). Names are compared
/// case-insensitively by the negotiation; here they are kept as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TftpOption<'a> {
    /// Option name (`blksize`, `tsize`, …).
    pub name: &'a str,
    /// Option value, as text.
    pub value: &'a str,
}

/// An RRQ or WRQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The requested file name, exactly as sent.
    pub filename: &'a str,
    /// Transfer mode (`octet`, `netascii`, `mail`), as sent.
    pub mode: &'a str,
    /// RFC 2347 options, in order.
    pub options: Vec<TftpOption<'a>>,
}

/// A parsed TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr<'a> {
    /// RRQ.
    Read(Request<'a>),
    /// WRQ.
    Write(Request<'a>),
    /// DATA.
    Data {
        /// Block number (wraps 65535 → 0).
        block: u16,
        /// 0 to blksize bytes; shorter than blksize ends the transfer.
        data: &'a [u8],
    },
    /// ACK.
    Ack {
        /// Block number acknowledged.
        block: u16,
    },
    /// ERROR.
    Error {
        /// Error code.
        code: ErrorCode,
        /// Human-readable message.
        message: &'a str,
    },
    /// OACK.
    OptionAck {
        /// The options the server accepted, with their final values.
        options: Vec<TftpOption<'a>>,
    },
}

/// Split one NUL-terminated string off the front of `bytes`.
fn take_string<'a>(
    bytes: &'a [u8],
    packet: &'static str,
    field: &'static str,
) -> Result<(&'a str, &'a [u8]), WireError> {
    let nul =
        bytes.iter().position(|&b| b == 0).ok_or(WireError { packet, field, kind: WireErrorKind::Unterminated })?;
    let text =
        core::str::from_utf8(&bytes[..nul]).map_err(|_| WireError { packet, field, kind: WireErrorKind::NotUtf8 })?;
    Ok((text, &bytes[nul + 1..]))
}

fn parse_options<'a>(mut bytes: &'a [u8], packet: &'static str) -> Result<Vec<TftpOption<'a>>, WireError> {
    let mut options = Vec::new();
    // Some clients pad requests with trailing NUL bytes; they carry no option.
    while !bytes.is_empty() && !bytes.iter().all(|&b| b == 0) {
        let (name, after_name) = take_string(bytes, packet, "option name")?;
        if name.is_empty() {
            return Err(WireError { packet, field: "option name", kind: WireErrorKind::Empty });
        }
        if after_name.is_empty() {
            return Err(WireError { packet, field: "option value", kind: WireErrorKind::MissingValue });
        }
        let (value, after_value) = take_string(after_name, packet, "option value")?;
        options.push(TftpOption { name, value });
        bytes = after_value;
    }
    Ok(options)
}

impl<'a> Repr<'a> {
    /// Parse a checked packet; the result borrows the packet's buffer.
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Repr<'a>, WireError> {
        let opcode = packet.opcode();
        let name = opcode.name();
        let buffer: &'a [u8] = packet.buffer;
        let rest = match opcode {
            Opcode::Data | Opcode::Ack | Opcode::Error => &buffer[field::AFTER_NUMBER..],
            _ => &buffer[field::AFTER_OPCODE..],
        };
        Ok(match opcode {
            Opcode::Read | Opcode::Write => {
                let (filename, after) = take_string(rest, name, "filename")?;
                if filename.is_empty() {
                    return Err(WireError { packet: name, field: "filename", kind: WireErrorKind::Empty });
                }
                let (mode, after) = take_string(after, name, "mode")?;
                if mode.is_empty() {
                    return Err(WireError { packet: name, field: "mode", kind: WireErrorKind::Empty });
                }
                let request = Request { filename, mode, options: parse_options(after, name)? };
                if opcode == Opcode::Read { Repr::Read(request) } else { Repr::Write(request) }
            }
            Opcode::Data => Repr::Data { block: packet.number(), data: rest },
            Opcode::Ack => Repr::Ack { block: packet.number() },
            Opcode::Error => {
                // A missing terminator is tolerated: the message is informational, some
                // clients omit the NUL, and the datagram boundary ends it anyway.
                let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                let message = core::str::from_utf8(&rest[..end]).map_err(|_| WireError {
                    packet: name,
                    field: "message",
                    kind: WireErrorKind::NotUtf8,
                })?;
                Repr::Error { code: ErrorCode::from_u16(packet.number()), message }
            }
            Opcode::OptionAck => Repr::OptionAck { options: parse_options(rest, name)? },
        })
    }

    /// Parse raw bytes: [`Packet::new_checked`] then [`Repr::parse`].
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Repr<'a>, WireError> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    /// The packet's opcode.
    pub fn opcode(&self) -> Opcode {
        match self {
            Repr::Read(_) => Opcode::Read,
            Repr::Write(_) => Opcode::Write,
            Repr::Data { .. } => Opcode::Data,
            Repr::Ack { .. } => Opcode::Ack,
            Repr::Error { .. } => Opcode::Error,
            Repr::OptionAck { .. } => Opcode::OptionAck,
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let options_len =
            |options: &[TftpOption]| -> usize { options.iter().map(|o| o.name.len() + 1 + o.value.len() + 1).sum() };
        match self {
            Repr::Read(r) | Repr::Write(r) => 2 + r.filename.len() + 1 + r.mode.len() + 1 + options_len(&r.options),
            Repr::Data { data, .. } => DATA_HEADER_LEN + data.len(),
            Repr::Ack { .. } => 4,
            Repr::Error { message, .. } => 4 + message.len() + 1,
            Repr::OptionAck { options } => 2 + options_len(options),
        }
    }

    /// Append the packet's bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.opcode() as u16).to_be_bytes());
        let put = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        };
        let put_options = |out: &mut Vec<u8>, options: &[TftpOption]| {
            for o in options {
                put(out, o.name);
                put(out, o.value);
            }
        };
        match self {
            Repr::Read(r) | Repr::Write(r) => {
                put(out, r.filename);
                put(out, r.mode);
                put_options(out, &r.options);
            }
            Repr::Data { block, data } => {
                out.extend_from_slice(&block.to_be_bytes());
                out.extend_from_slice(data);
            }
            Repr::Ack { block } => out.extend_from_slice(&block.to_be_bytes()),
            Repr::Error { code, message } => {
                out.extend_from_slice(&code.to_u16().to_be_bytes());
                put(out, message);
            }
            Repr::OptionAck { options } => put_options(out, options),
        }
    }

    /// The packet as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit(&mut out);
        out
    }
}

/// Write a DATA header for `block` into the first [`DATA_HEADER_LEN`] bytes of `buf`
/// (the hot path builds packets in place instead of through [`Repr`]).
pub fn write_data_header(buf: &mut [u8], block: u16) {
    buf[..2].copy_from_slice(&(Opcode::Data as u16).to_be_bytes());
    buf[2..4].copy_from_slice(&block.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_curl_rrq_as_captured() {
        // curl 7.88's default request (netboot.md Appendix A, run D).
        let bytes = b"\x00\x01big.bin\x00octet\x00tsize\x000\x00blksize\x00512\x00timeout\x006\x00";
        let repr = Repr::parse_bytes(bytes).unwrap();
        let Repr::Read(r) = &repr else { panic!("not an RRQ: {repr:?}") };
        assert_eq!(r.filename, "big.bin");
        assert_eq!(r.mode, "octet");
        assert_eq!(
            r.options,
            vec![
                TftpOption { name: "tsize", value: "0" },
                TftpOption { name: "blksize", value: "512" },
                TftpOption { name: "timeout", value: "6" }
            ]
        );
        assert_eq!(repr.to_vec(), bytes);
        assert_eq!(repr.buffer_len(), bytes.len());
    }

    #[test]
    fn data_ack_error_round_trip() {
        for repr in [
            Repr::Data { block: 65535, data: b"abc" },
            Repr::Data { block: 0, data: b"" },
            Repr::Ack { block: 7 },
            Repr::Error { code: ErrorCode::OptionRefused, message: "TFTP Aborted" },
            Repr::OptionAck { options: vec![TftpOption { name: "blksize", value: "1468" }] },
        ] {
            let bytes = repr.to_vec();
            assert_eq!(Repr::parse_bytes(&bytes).unwrap(), repr);
        }
    }

    #[test]
    fn errors_name_packet_and_field() {
        let e = Repr::parse_bytes(b"\x00\x01file").unwrap_err();
        assert_eq!((e.packet, e.field, e.kind.clone()), ("RRQ", "filename", WireErrorKind::Unterminated));
        assert_eq!(e.to_string(), "TFTP RRQ packet, field filename: no terminating NUL byte");
        let e = Repr::parse_bytes(b"\x00\x01f\x00octet\x00blksize\x00").unwrap_err();
        assert_eq!((e.packet, e.field), ("RRQ", "option value"));
        let e = Repr::parse_bytes(b"\x00\x09").unwrap_err();
        assert_eq!(e.kind, WireErrorKind::UnknownOpcode(9));
        let e = Repr::parse_bytes(b"\x00\x03\x00").unwrap_err();
        assert_eq!((e.packet, e.field), ("DATA", "block"));
        let e = Repr::parse_bytes(b"\x00").unwrap_err();
        assert_eq!(e.field, "opcode");
        let e = Repr::parse_bytes(b"\x00\x02\xff\x00octet\x00").unwrap_err();
        assert_eq!((e.packet, e.field, e.kind), ("WRQ", "filename", WireErrorKind::NotUtf8));
    }
}
