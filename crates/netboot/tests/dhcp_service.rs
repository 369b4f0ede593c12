//! The DHCP service over real UDP sockets on loopback (unprivileged ports): proxy offers for
//! captured DISCOVERs, the port-4011 ACK, malformed packets dropped and counted while the
//! service keeps answering, non-netboot clients ignored, clean shutdown.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dhcproto::Decodable;
use dhcproto::v4::{Message, MessageType};
use optrom_netboot::dhcp::{DhcpConfig, DhcpMetrics, DhcpMode, DhcpService};
use tokio::net::UdpSocket;

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Sets ciaddr so the reply comes back by unicast to 127.0.0.1 (loopback has no broadcast).
fn with_ciaddr(mut p: Vec<u8>) -> Vec<u8> {
    p[12..16].copy_from_slice(&[127, 0, 0, 1]);
    p
}

async fn reply(sock: &UdpSocket) -> Option<Message> {
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await.ok()?.ok()?;
    Some(Message::from_bytes(&buf[..n]).unwrap())
}

#[tokio::test]
async fn proxy_service_on_loopback() {
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut config = DhcpConfig::new(DhcpMode::Proxy);
    config.address = Some(Ipv4Addr::LOCALHOST);
    config.server_port = 0;
    config.binl_port = Some(0);
    config.client_port = client.local_addr().unwrap().port();
    let metrics = Arc::new(DhcpMetrics::default());
    let service = DhcpService::bind(config, metrics.clone()).unwrap();
    let (port, binl) = service.local_ports();
    let server: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service.run(async {
        let _ = stopped.await;
    }));

    // Malformed: too short, bad cookie, an option running past the end.
    client.send_to(&[1, 1, 6, 0], server).await.unwrap();
    let mut bad = capture("ovmf-x64-pxe-discover.bin");
    bad[237] ^= 0xff;
    client.send_to(&bad, server).await.unwrap();
    let mut bad = capture("seabios-ipxe-bios-discover.bin");
    let end = bad.iter().rposition(|&b| b == 255).unwrap(); // the End option; padding follows
    bad.truncate(end);
    bad.extend_from_slice(&[60, 250, b'P']);
    client.send_to(&bad, server).await.unwrap();

    // A real DISCOVER still gets its offer.
    let p = with_ciaddr(capture("seabios-ipxe-bios-discover.bin"));
    client.send_to(&p, server).await.unwrap();
    let m = reply(&client).await.expect("proxy offer");
    assert_eq!(m.opts().msg_type(), Some(MessageType::Offer));
    assert!(m.fname().unwrap().starts_with(b"http://127.0.0.1/_/boot.ipxe"));
    assert_eq!(metrics.malformed.load(Ordering::Relaxed), 3);

    // UEFI PXE: the 4011 request gets the file.
    let mut p = capture("ovmf-x64-pxe-discover.bin");
    p[242] = 3; // option 53 is the first option in EDK2's packet: DISCOVER -> REQUEST
    assert_eq!(&p[240..242], &[53, 1]);
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    b.send_to(&p, (Ipv4Addr::LOCALHOST, binl.unwrap())).await.unwrap();
    let m = reply(&b).await.expect("4011 ack");
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert!(m.fname().unwrap().starts_with(b"snponly.efi"));

    // A plain DHCP client (no option 60) is not answered by a proxy.
    let mut plain = Message::new(
        Ipv4Addr::LOCALHOST,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &[2, 0, 0, 0, 0, 1],
    );
    plain.opts_mut().insert(dhcproto::v4::DhcpOption::MessageType(MessageType::Discover));
    client.send_to(&dhcproto::Encodable::to_vec(&plain).unwrap(), server).await.unwrap();
    let mut buf = [0u8; 1500];
    assert!(tokio::time::timeout(Duration::from_millis(500), client.recv_from(&mut buf)).await.is_err());

    let text = metrics.render_prometheus();
    assert!(text.contains("optrom_dhcp_malformed_total 3"), "{text}");
    assert!(text.contains("optrom_dhcp_offers_total 1"), "{text}");
    assert!(text.contains("optrom_dhcp_binl_acks_total 1"), "{text}");
    assert!(text.contains("optrom_dhcp_ignored_total 1"), "{text}");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
}
