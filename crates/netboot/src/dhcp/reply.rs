//! Building replies: the common BOOTP reply header, the PXE options (43, 60, 97), proxy offers in
//! both styles, the port-4011 (BINL) acknowledgement, and where a reply is sent.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::Encodable;
use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode, UnknownOption};

use super::classify::{Classification, Firmware, Platform, VendorClass};
use super::packet::{Request, code};
use super::policy::BootFile;

/// Option 43 sub-option 6, PXE_DISCOVERY_CONTROL, and its bit 3: "use the boot file in this
/// offer directly" (no boot server discovery). PXE spec 2.1 / iPXE `dhcp.h`.
const PXE_DISCOVERY_CONTROL: u8 = 6;
const PXE_DISCOVERY_USE_BOOTFILE: u8 = 8;
/// RFC 1542 §3.5: some clients drop BOOTP replies shorter than 300 bytes.
const MIN_REPLY_LEN: usize = 300;
/// The BOOTP `file` field is 128 bytes, NUL-terminated.
const FILE_FIELD_MAX: usize = 127;

/// How a proxy offer tells a PXE client its boot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyStyle {
    /// Pxe10-style for BIOS PXE and iPXE (43.6 = 8, siaddr, sname, file); BINL-style for UEFI
    /// firmware PXE, which then asks on port 4011 (what Pixiecore and dnsmasq do: some UEFI
    /// firmwares ignore proxy offers that bypass boot server discovery).
    #[default]
    Auto,
    /// Pxe10-style for every client.
    Pxe10,
    /// BINL-style for every PXE client: no option 43 and no file; the client asks on 4011.
    Binl,
}

impl std::str::FromStr for ProxyStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ProxyStyle::Auto),
            "pxe10" => Ok(ProxyStyle::Pxe10),
            "binl" => Ok(ProxyStyle::Binl),
            _ => Err(format!("proxy style {s:?}: expected auto, pxe10 or binl")),
        }
    }
}

/// A reply with the request's xid, chaddr, flags and giaddr, and options 53 and 54.
pub(crate) fn base_reply(req: &Request, kind: MessageType, server: Ipv4Addr) -> Message {
    let h = &req.header;
    let mut m = Message::new_with_id(
        h.xid(),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        h.giaddr(),
        &h.chaddr()[..6],
    );
    // The reply is broadcast when the client has no address yet; say so in the flags too.
    let flags = if h.ciaddr().is_unspecified() { h.flags().set_broadcast() } else { h.flags() };
    m.set_opcode(Opcode::BootReply).set_flags(flags);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    m.opts_mut().insert(DhcpOption::ServerIdentifier(server));
    m
}

/// Option 60 `PXEClient`/`HTTPClient` (firmware requires it to count the offer as a PXE or HTTP
/// offer) and option 97 echoed.
pub(crate) fn add_pxe_identity(m: &mut Message, class: &Classification) {
    let vc: &[u8] = match class.vendor_class {
        Some(VendorClass::HttpClient(_)) => b"HTTPClient",
        _ => b"PXEClient",
    };
    m.opts_mut().insert(DhcpOption::ClassIdentifier(vc.to_vec()));
    if let Some(id) = &class.machine_id {
        m.opts_mut().insert(DhcpOption::ClientMachineIdentifier(id.clone()));
    }
}

/// Puts the boot file where the client looks: `file` (and option 67 when it does not fit, or
/// for HTTP boot, whose EDK2 code reads option 67 first), `siaddr` and `sname` = the server.
pub(crate) fn add_boot_file(m: &mut Message, class: &Classification, file: &BootFile, server: Ipv4Addr) {
    m.set_siaddr(server);
    m.set_sname_str(server.to_string());
    let name = file.as_str();
    if name.len() <= FILE_FIELD_MAX {
        m.set_fname_str(name);
    }
    if name.len() > FILE_FIELD_MAX || class.firmware == Firmware::HttpBoot {
        m.opts_mut().insert(DhcpOption::BootfileName(name.as_bytes().to_vec()));
    }
}

/// Option 43 with sub-option 6 = 8 ("boot the file in this offer").
pub(crate) fn add_pxe_discovery_control(m: &mut Message) {
    m.opts_mut().insert(DhcpOption::VendorExtensions(vec![PXE_DISCOVERY_CONTROL, 1, PXE_DISCOVERY_USE_BOOTFILE, 255]));
}

/// Option 175 sub 0xb0 for iPXE: the DHCP server is also the boot server, do not wait 2 s for
/// ProxyDHCP offers.
pub(crate) fn add_ipxe_no_proxydhcp(m: &mut Message) {
    let opt = UnknownOption::new(OptionCode::from(code::IPXE_ENCAP), vec![super::classify::IPXE_NO_PXEDHCP, 1, 1]);
    m.opts_mut().insert(DhcpOption::Unknown(opt));
}

/// True if this client should get a BINL-style (no 43, no file) proxy offer under `style`.
pub(crate) fn wants_binl(class: &Classification, style: ProxyStyle) -> bool {
    match style {
        ProxyStyle::Pxe10 => false,
        ProxyStyle::Binl => class.firmware == Firmware::Pxe,
        ProxyStyle::Auto => class.firmware == Firmware::Pxe && class.arch.is_some_and(|a| a.platform == Platform::Uefi),
    }
}

/// The ProxyDHCP offer (yiaddr 0) for a DISCOVER.
pub fn proxy_offer(req: &Request, file: &BootFile, server: Ipv4Addr, style: ProxyStyle) -> Message {
    let class = &req.class;
    let mut m = base_reply(req, MessageType::Offer, server);
    add_pxe_identity(&mut m, class);
    if class.firmware == Firmware::HttpBoot {
        add_boot_file(&mut m, class, file, server);
    } else if wants_binl(class, style) {
        // EDK2 classifies a proxy offer without 43 as ProxyBinl and asks the boot server at
        // siaddr on port 4011 (netboot.md §2.4).
        m.set_siaddr(server);
    } else {
        add_boot_file(&mut m, class, file, server);
        add_pxe_discovery_control(&mut m);
    }
    m
}

/// The DHCPACK on port 4011 for a boot server (BINL) REQUEST or INFORM: the boot file, siaddr,
/// sname, 54, 60, 97 (what EDK2 takes from it, netboot.md Appendix A run C).
pub fn binl_ack(req: &Request, file: &BootFile, server: Ipv4Addr) -> Message {
    let mut m = base_reply(req, MessageType::Ack, server);
    add_pxe_identity(&mut m, &req.class);
    add_boot_file(&mut m, &req.class, file, server);
    m
}

/// Encodes a reply, padded to the 300-byte BOOTP minimum.
pub fn encode(m: &Message) -> Vec<u8> {
    // Encoding an owned, well-formed Message cannot fail short of a dhcproto bug; an empty
    // vector is then dropped by the sender (and counted) instead of panicking.
    let mut out = m.to_vec().unwrap_or_default();
    if !out.is_empty() && out.len() < MIN_REPLY_LEN {
        out.resize(MIN_REPLY_LEN, 0);
    }
    out
}

/// Where a reply to `req` goes (RFC 2131 §4.1): the relay (giaddr) on the server port; the
/// client's address if it has one; otherwise broadcast on the client port.
pub fn destination(req: &Request, server_port: u16, client_port: u16) -> SocketAddrV4 {
    let h = &req.header;
    if !h.giaddr().is_unspecified() {
        SocketAddrV4::new(h.giaddr(), server_port)
    } else if !h.ciaddr().is_unspecified() {
        SocketAddrV4::new(h.ciaddr(), client_port)
    } else {
        SocketAddrV4::new(Ipv4Addr::BROADCAST, client_port)
    }
}
