//! The edge of the DHCP server: one received datagram becomes a [`Request`] (header decoded by
//! dhcproto, options walked by our own TLV reader so that list-valued and vendor options keep
//! every byte), or a [`PacketError`] naming the offset and field that made it unusable.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dhcproto::Decodable;
use dhcproto::v4::{Message, MessageType, Opcode};

use super::classify::{Classification, classify};

/// RFC 2131 §3: the four bytes after the fixed BOOTP header that mark DHCP options.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Offset of the magic cookie: op .. file (RFC 2131 figure 1).
const COOKIE_OFFSET: usize = 236;
/// Offset of the first option.
const OPTIONS_OFFSET: usize = 240;
/// `sname` and `file` fields, used for options when option 52 (overload) says so.
const SNAME_FIELD: std::ops::Range<usize> = 44..108;
const FILE_FIELD: std::ops::Range<usize> = 108..236;

/// DHCP option codes this server reads or writes (RFC 2132, 4578, 3004, iPXE's dhcp.h).
pub mod code {
    /// Host name (RFC 2132).
    pub const HOSTNAME: u8 = 12;
    /// Vendor-specific information; PXE sub-options (PXE 2.1).
    pub const VENDOR_SPECIFIC: u8 = 43;
    /// Requested IP address.
    pub const REQUESTED_IP: u8 = 50;
    /// Option overload: `file`/`sname` carry options.
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_ID: u8 = 54;
    /// Maximum DHCP message size.
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Vendor class identifier (`PXEClient…`, `HTTPClient…`).
    pub const VENDOR_CLASS: u8 = 60;
    /// Client identifier.
    pub const CLIENT_ID: u8 = 61;
    /// User class (RFC 3004; iPXE sends it raw).
    pub const USER_CLASS: u8 = 77;
    /// Client system architecture (RFC 4578, IANA codes).
    pub const CLIENT_ARCH: u8 = 93;
    /// Client network interface identifier (RFC 4578).
    pub const CLIENT_NDI: u8 = 94;
    /// Client machine identifier, UUID (RFC 4578).
    pub const MACHINE_ID: u8 = 97;
    /// iPXE encapsulated options (iPXE `dhcp.h`).
    pub const IPXE_ENCAP: u8 = 175;
}

/// Why a datagram was dropped. The message names the offset or option and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet is {0} bytes, shorter than the 240-byte BOOTP header and magic cookie")]
    /// Shorter than the fixed header.
    TooShort(usize),
    #[error("offset 0: op is {0}, not BOOTREQUEST (1)")]
    /// A reply, not a request.
    NotRequest(u8),
    #[error("offset 1: htype {htype} hlen {hlen}: only Ethernet (1, 6) is served")]
    /// Not Ethernet.
    NotEthernet {
        /// Hardware type.
        htype: u8,
        /// Hardware address length.
        hlen: u8,
    },
    #[error("offset 236: magic cookie {0:02x?} is not 63 82 53 63")]
    /// Not DHCP.
    BadCookie([u8; 4]),
    #[error("offset {offset}: option {code} length {len} runs past the end of its field")]
    /// An option's length runs past the end of the options area.
    OptionOverrun {
        /// Offset of the option's code byte in the packet.
        offset: usize,
        /// The option code.
        code: u8,
        /// Its claimed length.
        len: usize,
    },
    #[error("option 53 (message type) is missing")]
    /// No message type.
    NoMessageType,
    #[error("option {code}: {why}")]
    /// An option has an impossible value.
    BadOption {
        /// The option code.
        code: u8,
        /// What is wrong with it.
        why: &'static str,
    },
    #[error("BOOTP header: {0}")]
    /// dhcproto rejected the fixed header.
    Header(String),
}

pub use crate::server::MacAddr;

/// All options of a packet by code; repeated codes are concatenated (RFC 3396), and the `file`
/// and `sname` fields are read too when option 52 says they carry options.
#[derive(Debug, Clone, Default)]
pub struct RawOptions(BTreeMap<u8, Vec<u8>>);

impl RawOptions {
    /// Walks the option area of a whole BOOTP packet (which must be at least 240 bytes).
    pub fn parse(packet: &[u8]) -> Result<RawOptions, PacketError> {
        let mut opts = RawOptions::default();
        opts.walk(packet, OPTIONS_OFFSET, packet.len())?;
        if let Some(overload) = opts.get(code::OVERLOAD).map(<[u8]>::to_vec) {
            match overload.as_slice() {
                [1] => opts.walk(packet, FILE_FIELD.start, FILE_FIELD.end)?,
                [2] => opts.walk(packet, SNAME_FIELD.start, SNAME_FIELD.end)?,
                [3] => {
                    opts.walk(packet, FILE_FIELD.start, FILE_FIELD.end)?;
                    opts.walk(packet, SNAME_FIELD.start, SNAME_FIELD.end)?;
                }
                _ => {
                    return Err(PacketError::BadOption {
                        code: code::OVERLOAD,
                        why: "value is not one byte 1, 2 or 3",
                    });
                }
            }
        }
        Ok(opts)
    }

    fn walk(&mut self, packet: &[u8], start: usize, end: usize) -> Result<(), PacketError> {
        let mut at = start;
        while at < end {
            match packet[at] {
                0 => at += 1,
                255 => break,
                c => {
                    let len = *packet.get(at + 1).filter(|_| at + 1 < end).ok_or(PacketError::OptionOverrun {
                        offset: at,
                        code: c,
                        len: 0,
                    })? as usize;
                    let body = at + 2..at + 2 + len;
                    if body.end > end {
                        return Err(PacketError::OptionOverrun { offset: at, code: c, len });
                    }
                    self.0.entry(c).or_default().extend_from_slice(&packet[body.clone()]);
                    at = body.end;
                }
            }
        }
        Ok(())
    }

    /// The (concatenated) value of option `code`.
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        self.0.get(&code).map(Vec::as_slice)
    }

    fn ipv4(&self, code: u8) -> Result<Option<Ipv4Addr>, PacketError> {
        match self.get(code) {
            None => Ok(None),
            Some(&[a, b, c, d]) => Ok(Some(Ipv4Addr::new(a, b, c, d))),
            Some(_) => Err(PacketError::BadOption { code, why: "an IPv4 address must be 4 bytes" }),
        }
    }
}

/// A received DHCP request, parsed once: header, the options the server acts on, and the
/// client's [`Classification`].
#[derive(Debug, Clone)]
pub struct Request {
    /// The BOOTP header as dhcproto decoded it (xid, flags, ciaddr, giaddr, chaddr …).
    pub header: Message,
    /// Option 53.
    pub kind: MessageType,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 61, raw.
    pub client_id: Option<Vec<u8>>,
    /// Option 12, lossy UTF-8.
    pub hostname: Option<String>,
    /// Who the client is: firmware, architecture, MAC, UUID, iPXE features.
    pub class: Classification,
}

impl Request {
    /// Parses one datagram. Never panics; every way a packet can be unusable is a [`PacketError`].
    pub fn parse(packet: &[u8]) -> Result<Request, PacketError> {
        if packet.len() < OPTIONS_OFFSET {
            return Err(PacketError::TooShort(packet.len()));
        }
        if packet[0] != 1 {
            return Err(PacketError::NotRequest(packet[0]));
        }
        if packet[1] != 1 || packet[2] != 6 {
            return Err(PacketError::NotEthernet { htype: packet[1], hlen: packet[2] });
        }
        let cookie: [u8; 4] = [packet[236], packet[237], packet[238], packet[239]];
        if cookie != MAGIC_COOKIE {
            return Err(PacketError::BadCookie(cookie));
        }
        debug_assert_eq!(COOKIE_OFFSET + 4, OPTIONS_OFFSET);
        let options = RawOptions::parse(packet)?;
        let header = Message::from_bytes(packet).map_err(|e| PacketError::Header(e.to_string()))?;
        if header.opcode() != Opcode::BootRequest {
            return Err(PacketError::NotRequest(packet[0]));
        }
        let kind = match options.get(code::MESSAGE_TYPE) {
            None => return Err(PacketError::NoMessageType),
            Some(&[t @ 1..=8]) => MessageType::from(t),
            Some(_) => {
                return Err(PacketError::BadOption { code: code::MESSAGE_TYPE, why: "not one byte 1..=8" });
            }
        };
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&packet[28..34]);
        let class = classify(crate::dhcp::MacAddr(mac), &options);
        Ok(Request {
            kind,
            requested_ip: options.ipv4(code::REQUESTED_IP)?,
            server_id: options.ipv4(code::SERVER_ID)?,
            client_id: options.get(code::CLIENT_ID).map(<[u8]>::to_vec),
            hostname: options.get(code::HOSTNAME).map(|h| String::from_utf8_lossy(h).into_owned()),
            header,
            class,
        })
    }

    /// The client's MAC address (chaddr).
    pub fn mac(&self) -> MacAddr {
        self.class.mac
    }
}
