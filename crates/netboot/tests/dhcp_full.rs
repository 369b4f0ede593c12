//! Full-mode DHCP logic against a real SQLite lease store: the RFC 2131 exchanges, DECLINE,
//! RELEASE, INFORM, NAKs, reservations, exhaustion, and no address ever held by two clients —
//! also with several threads and two store handles (two "replicas") on one database file.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use dhcproto::Encodable;
use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use optrom_netboot::dhcp::{
    DefaultBootTable, FullOutcome, FullServer, LeaseState, LeaseStore, MacAddr, PoolConfig, Request, SqliteLeaseStore,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const NOW: u64 = 1_800_000_000;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 88, 0, last)
}

fn mac(n: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0x88, n])
}

fn server(name: &str, pool_end: u8) -> FullServer {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dhcp-full-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteLeaseStore::open(&dir.join("leases.sqlite3")).unwrap());
    let mut pool = PoolConfig::new(ip(100), ip(pool_end), Ipv4Addr::new(255, 255, 255, 0));
    pool.router = Some(SERVER);
    pool.lease_time = Duration::from_secs(600);
    FullServer { pool, store, policy: Arc::new(DefaultBootTable::new(SERVER, 80)), server: SERVER }
}

/// A client message as a udhcpc-like client would send it, parsed like a received packet.
fn msg(kind: MessageType, m: MacAddr, opts: &[DhcpOption], ciaddr: Ipv4Addr) -> Request {
    let mut msg = Message::new(ciaddr, Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, &m.0);
    msg.opts_mut().insert(DhcpOption::MessageType(kind));
    for o in opts {
        msg.opts_mut().insert(o.clone());
    }
    Request::parse(&msg.to_vec().unwrap()).unwrap()
}

fn discover(s: &FullServer, m: MacAddr) -> FullOutcome {
    s.handle(&msg(MessageType::Discover, m, &[], Ipv4Addr::UNSPECIFIED), NOW).unwrap().1
}

fn select(s: &FullServer, m: MacAddr, addr: Ipv4Addr) -> (Option<Message>, FullOutcome) {
    let opts = [DhcpOption::RequestedIpAddress(addr), DhcpOption::ServerIdentifier(SERVER)];
    s.handle(&msg(MessageType::Request, m, &opts, Ipv4Addr::UNSPECIFIED), NOW).unwrap()
}

fn lease(s: &FullServer, m: MacAddr) -> Ipv4Addr {
    let FullOutcome::Offer(a) = discover(s, m) else { panic!("no offer for {m}") };
    let (reply, out) = select(s, m, a);
    assert_eq!(out, FullOutcome::Ack(a));
    let reply = reply.unwrap();
    assert_eq!(reply.yiaddr(), a);
    assert_eq!(reply.opts().get(OptionCode::AddressLeaseTime), Some(&DhcpOption::AddressLeaseTime(600)));
    assert_eq!(reply.opts().get(OptionCode::ServerIdentifier), Some(&DhcpOption::ServerIdentifier(SERVER)));
    a
}

#[test]
fn discover_offer_request_ack_and_renew() {
    let s = server("basic", 110);
    let a = lease(&s, mac(1));
    assert_eq!(a, ip(100));
    // RENEWING: ciaddr set, no 50/54.
    let (r, out) = s.handle(&msg(MessageType::Request, mac(1), &[], a), NOW + 300).unwrap();
    assert_eq!(out, FullOutcome::Ack(a));
    assert_eq!(r.unwrap().ciaddr(), a);
    let l = s.store.by_ip(a).unwrap().unwrap();
    assert_eq!((l.mac, l.state, l.expires), (mac(1), LeaseState::Bound, NOW + 300 + 600));
    // Another client renewing that address is refused.
    let (_, out) = s.handle(&msg(MessageType::Request, mac(2), &[], a), NOW).unwrap();
    assert!(matches!(out, FullOutcome::Nak(_)), "{out:?}");
    // INIT-REBOOT of another client's address: NAK; of an address off the network: NAK.
    let (_, out) =
        s.handle(&msg(MessageType::Request, mac(2), &[DhcpOption::RequestedIpAddress(a)], 0.into()), NOW).unwrap();
    assert!(matches!(out, FullOutcome::Nak(_)), "{out:?}");
    let off = Ipv4Addr::new(192, 168, 5, 5);
    let (r, out) =
        s.handle(&msg(MessageType::Request, mac(1), &[DhcpOption::RequestedIpAddress(off)], 0.into()), NOW).unwrap();
    assert!(matches!(out, FullOutcome::Nak(_)), "{out:?}");
    assert_eq!(r.unwrap().opts().msg_type(), Some(MessageType::Nak));
}

#[test]
fn selecting_another_server_frees_the_offer() {
    let s = server("other", 100); // a one-address pool
    let FullOutcome::Offer(a) = discover(&s, mac(1)) else { panic!() };
    // While offered, a second client gets nothing.
    assert!(matches!(discover(&s, mac(2)), FullOutcome::Silent(_)));
    let opts = [DhcpOption::RequestedIpAddress(a), DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 88, 0, 2))];
    let (r, out) = s.handle(&msg(MessageType::Request, mac(1), &opts, 0.into()), NOW).unwrap();
    assert!(r.is_none() && matches!(out, FullOutcome::Silent(_)));
    assert_eq!(discover(&s, mac(2)), FullOutcome::Offer(a));
}

#[test]
fn release_and_decline() {
    let s = server("release", 110);
    let a = lease(&s, mac(1));
    let out = s.handle(&msg(MessageType::Release, mac(1), &[DhcpOption::ServerIdentifier(SERVER)], a), NOW).unwrap().1;
    assert_eq!(out, FullOutcome::Released(a));
    // A released address is remembered for its client.
    assert_eq!(lease(&s, mac(1)), a);
    // DECLINE: the address is quarantined; the client's next DISCOVER gets another one.
    let opts = [DhcpOption::RequestedIpAddress(a), DhcpOption::ServerIdentifier(SERVER)];
    let out = s.handle(&msg(MessageType::Decline, mac(1), &opts, 0.into()), NOW).unwrap().1;
    assert_eq!(out, FullOutcome::Declined(a));
    let b = lease(&s, mac(1));
    assert_ne!(a, b);
    assert_ne!(discover(&s, mac(2)), FullOutcome::Offer(a));
    assert_eq!(s.store.by_ip(a).unwrap().unwrap().state, LeaseState::Declined);
}

#[test]
fn inform_gets_configuration_only() {
    let s = server("inform", 110);
    let c = Ipv4Addr::new(10, 88, 0, 50);
    let (r, out) = s.handle(&msg(MessageType::Inform, mac(9), &[], c), NOW).unwrap();
    assert_eq!(out, FullOutcome::InformAck);
    let r = r.unwrap();
    assert_eq!(r.opts().msg_type(), Some(MessageType::Ack));
    assert!(r.yiaddr().is_unspecified());
    assert!(r.opts().get(OptionCode::AddressLeaseTime).is_none());
    assert_eq!(r.opts().get(OptionCode::SubnetMask), Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0))));
    assert!(s.store.all().unwrap().is_empty());
}

#[test]
fn reservations_win_and_are_never_given_to_others() {
    let mut s = server("reserve", 101);
    s.pool.reservations.insert(mac(7), ip(100)); // inside the pool
    s.pool.reservations.insert(mac(8), ip(200)); // outside it
    assert_eq!(lease(&s, mac(1)), ip(101));
    assert!(matches!(discover(&s, mac(2)), FullOutcome::Silent(_)), "only .100 is left, and it is reserved");
    assert_eq!(lease(&s, mac(7)), ip(100));
    assert_eq!(lease(&s, mac(8)), ip(200));
    // The reserved client asking for another address is refused.
    let (_, out) = s
        .handle(&msg(MessageType::Request, mac(7), &[DhcpOption::RequestedIpAddress(ip(101))], 0.into()), NOW)
        .unwrap();
    assert!(matches!(out, FullOutcome::Nak(_)));
}

#[test]
fn pxe_clients_get_their_boot_file_in_the_offer() {
    let s = server("pxe", 110);
    let p = format!("{}/tests/data/ovmf-x64-pxe-discover.bin", env!("CARGO_MANIFEST_DIR"));
    let req = Request::parse(&std::fs::read(p).unwrap()).unwrap();
    let (r, out) = s.handle(&req, NOW).unwrap();
    assert_eq!(out, FullOutcome::Offer(ip(100)));
    let r = r.unwrap();
    assert_eq!(r.opts().get(OptionCode::ClassIdentifier), Some(&DhcpOption::ClassIdentifier(b"PXEClient".to_vec())));
    assert_eq!(r.opts().get(OptionCode::VendorExtensions), Some(&DhcpOption::VendorExtensions(vec![6, 1, 8, 255])));
    assert_eq!(r.siaddr(), SERVER);
    assert!(r.fname().unwrap().starts_with(b"snponly.efi"));
}

#[test]
fn concurrent_replicas_never_share_an_address() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dhcp-full-replicas");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("leases.sqlite3");
    // Two servers, each with its own connection to one database file; 30 clients, 20 addresses.
    let replicas: Vec<Arc<FullServer>> = (0..2)
        .map(|_| {
            let mut pool = PoolConfig::new(ip(100), ip(119), Ipv4Addr::new(255, 255, 255, 0));
            pool.lease_time = Duration::from_secs(600);
            Arc::new(FullServer {
                pool,
                store: Arc::new(SqliteLeaseStore::open(&db).unwrap()),
                policy: Arc::new(DefaultBootTable::new(SERVER, 80)),
                server: SERVER,
            })
        })
        .collect();
    let got: Vec<Option<Ipv4Addr>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..30u8)
            .map(|n| {
                let s = replicas[n as usize % 2].clone();
                sc.spawn(move || match discover(&s, mac(n)) {
                    FullOutcome::Offer(a) => match select(&s, mac(n), a).1 {
                        FullOutcome::Ack(b) => Some(b),
                        _ => None,
                    },
                    _ => None,
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut addrs: Vec<Ipv4Addr> = got.iter().flatten().copied().collect();
    assert_eq!(addrs.len(), 20, "every address leased once: {got:?}");
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 20, "no address twice");
    let rows = SqliteLeaseStore::open(&db).unwrap().all().unwrap();
    assert_eq!(rows.iter().filter(|l| l.state == LeaseState::Bound).count(), 20);
}

#[test]
fn ipxe_and_http_boot_clients_in_full_mode() {
    let s = server("ipxe", 110);
    let data = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    // iPXE: the script URL, and 175.0xb0 (no-pxedhcp) so it does not wait 2 s for a proxy.
    let req = Request::parse(&std::fs::read(format!("{data}/seabios-ipxe-bios-discover.bin")).unwrap()).unwrap();
    let r = s.handle(&req, NOW).unwrap().0.unwrap();
    assert!(r.fname().unwrap().starts_with(b"http://10.88.0.1/_/boot.ipxe"));
    let ipxe = r.opts().get(OptionCode::Unknown(175)).expect("option 175");
    let mut bytes = Vec::new();
    dhcproto::Encodable::encode(ipxe, &mut dhcproto::Encoder::new(&mut bytes)).unwrap();
    assert_eq!(bytes, [175, 3, 0xb0, 1, 1]);
    // UEFI HTTP boot: HTTPClient and the URL in option 67.
    let req = Request::parse(&std::fs::read(format!("{data}/ovmf-x64-http-discover.bin")).unwrap()).unwrap();
    let r = s.handle(&req, NOW).unwrap().0.unwrap();
    assert_eq!(r.opts().get(OptionCode::ClassIdentifier), Some(&DhcpOption::ClassIdentifier(b"HTTPClient".to_vec())));
    assert_eq!(
        r.opts().get(OptionCode::BootfileName),
        Some(&DhcpOption::BootfileName(b"http://10.88.0.1/snponly.efi".to_vec()))
    );
    assert!(!r.yiaddr().is_unspecified());
}

#[test]
fn replies_go_to_the_relay_the_client_or_broadcast() {
    use optrom_netboot::dhcp::reply::destination;
    let mut m = Message::new(Ipv4Addr::UNSPECIFIED, 0.into(), 0.into(), Ipv4Addr::new(10, 1, 2, 3), &mac(1).0);
    m.opts_mut().insert(DhcpOption::MessageType(MessageType::Discover));
    let relayed = Request::parse(&m.to_vec().unwrap()).unwrap();
    assert_eq!(destination(&relayed, 67, 68).to_string(), "10.1.2.3:67");
    let renewing = msg(MessageType::Request, mac(1), &[], ip(120));
    assert_eq!(destination(&renewing, 67, 68).to_string(), "10.88.0.120:68");
    let fresh = msg(MessageType::Discover, mac(1), &[], 0.into());
    assert_eq!(destination(&fresh, 67, 68).to_string(), "255.255.255.255:68");
}

#[test]
fn the_config_example_in_docs_maps_onto_the_service() {
    use optrom_netboot::dhcp::{DhcpConfig, DhcpMode, ProxyStyle};
    let doc = std::fs::read_to_string(format!("{}/../../docs/dhcp.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let toml = doc.split("```toml\n").nth(1).unwrap().split("```").next().unwrap();
    let serve = optrom_netboot::ServeConfig::from_toml(toml).unwrap();
    let c = DhcpConfig::from_serve(&serve, 8080).unwrap();
    assert_eq!(c.address, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!((c.server_port, c.client_port, c.binl_port, c.http_port), (67, 68, Some(4011), 8080));
    assert_eq!(c.proxy_style, ProxyStyle::Auto);
    let DhcpMode::Full(pool) = c.mode else { panic!("full mode") };
    assert_eq!((pool.start, pool.end), (Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 200)));
    assert_eq!(pool.router, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(pool.lease_time, Duration::from_secs(3600));
    assert_eq!(pool.reservations.get(&"52:54:00:12:34:56".parse().unwrap()), Some(&Ipv4Addr::new(10, 0, 0, 10)));
    // Errors name the setting.
    let bad = optrom_netboot::ServeConfig::from_toml(&toml.replace("\"auto\"", "\"fast\"")).unwrap();
    assert!(DhcpConfig::from_serve(&bad, 80).unwrap_err().contains("proxy_style"));
    let bad = optrom_netboot::ServeConfig::from_toml(&toml.replace("52:54:00:12:34:56", "52:54:00:12:34")).unwrap();
    assert!(DhcpConfig::from_serve(&bad, 80).unwrap_err().contains("reservations"));
    let nopool = optrom_netboot::ServeConfig::from_toml(&toml.replace("pool = ", "# pool = ")).unwrap();
    assert!(DhcpConfig::from_serve(&nopool, 80).unwrap_err().contains("--pool"));
}
