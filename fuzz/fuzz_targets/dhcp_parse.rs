//! DHCP parse/classify/answer path: any datagram either parses into a Request or is a
//! PacketError; a parsed request runs through the default policy, the proxy offer, the 4011 ACK
//! and the encoder, and what we encode decodes again. Never a panic.
#![no_main]

use std::net::Ipv4Addr;

use dhcproto::Decodable;
use libfuzzer_sys::fuzz_target;
use optrom_netboot::dhcp::reply::{binl_ack, encode, proxy_offer};
use optrom_netboot::dhcp::{BootPolicy, Decision, DefaultBootTable, ProxyStyle, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = Request::parse(data) else { return };
    let server = Ipv4Addr::new(10, 0, 0, 1);
    let _ = req.class.uuid_string();
    let _ = req.class.arch.map(|a| a.name());
    if let Decision::Boot(file) = DefaultBootTable::new(server, 80).decide(&req.class) {
        for style in [ProxyStyle::Auto, ProxyStyle::Pxe10, ProxyStyle::Binl] {
            let bytes = encode(&proxy_offer(&req, &file, server, style));
            assert!(dhcproto::v4::Message::from_bytes(&bytes).is_ok());
        }
        let bytes = encode(&binl_ack(&req, &file, server));
        assert!(dhcproto::v4::Message::from_bytes(&bytes).is_ok());
    }
});
