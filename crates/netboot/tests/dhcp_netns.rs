//! Full-mode DHCP with a real client, busybox `udhcpc`, in network namespaces the test creates:
//! a lease, its renewal, the same address after a clean restart and after `kill -9` of the
//! server, two clients never sharing an address, and a static reservation winning.
//!
//! dhclient (isc-dhcp-client) gets a lease and re-acquires it by INIT-REBOOT after a restart.
//!
//! Needs root, iproute2, busybox (busybox-static) and isc-dhcp-client; without them these tests FAIL unless
//! OPTROM_SKIP_NETNS=1 (never under CI=true).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// The server process these tests start (`ip netns exec … <this test binary> --ignored --exact
/// dhcp_server_child`). Running it by hand without OPTROM_DHCP_CHILD fails.
#[test]
#[ignore = "the DHCP server child process of the other tests"]
fn dhcp_server_child() {
    let spec = std::env::var("OPTROM_DHCP_CHILD").expect("only started by the netns tests (OPTROM_DHCP_CHILD)");
    run_child_server(&spec);
}

fn busybox_available() -> bool {
    let ok = Command::new("busybox").arg("udhcpc").arg("--help").output().is_ok();
    needs("NETNS", ok, "busybox with udhcpc (busybox-static)")
}

/// The udhcpc hook: configure the address (renewals are unicast from it) and log each event.
const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
echo "$1 ${ip:-} ${lease:-}" >> "$UDHCPC_LOG"
"#;

struct Client<'a> {
    ns: &'a Netns,
    log: std::path::PathBuf,
    script: std::path::PathBuf,
}

impl Client<'_> {
    fn events(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_string(), w.next().unwrap_or("").to_string()))
            })
            .collect()
    }

    /// One udhcpc run that quits once it has a lease (or fails after its retries).
    fn lease_once(&self, iface: &str) -> String {
        let _ = std::fs::remove_file(&self.log);
        let out = self
            .ns
            .command("busybox")
            .args(["udhcpc", "-i", iface, "-f", "-q", "-n", "-t", "8", "-T", "2", "-s"])
            .arg(&self.script)
            .env("UDHCPC_LOG", &self.log)
            .output()
            .unwrap();
        let ev = self.events();
        ev.iter()
            .rev()
            .find(|(e, _)| e == "bound")
            .map(|(_, ip)| ip.clone())
            .unwrap_or_else(|| panic!("udhcpc got no lease: {ev:?}\n{}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap()
}

#[test]
fn udhcpc_lease_renew_restart_and_kill9() {
    if !netns_available() || !busybox_available() {
        return;
    }
    let dir = scratch("dhcp-netns-lease");
    let srv = Netns::new("obdhcp-l-srv");
    let cli = Netns::new("obdhcp-l-c1");
    let cli2 = Netns::new("obdhcp-l-c2");
    let cli3 = Netns::new("obdhcp-l-c3");
    bridge(&srv, "10.77.1.1");
    attach(&srv, &cli, "eth0", "vc1", "02:00:00:77:01:01");
    attach(&srv, &cli2, "eth0", "vc2", "02:00:00:77:01:02");
    attach(&srv, &cli3, "eth0", "vc3", "02:00:00:77:01:03");
    let state = dir.join("state");
    let config =
        format!("mode=full;iface=br0;addr=10.77.1.1;pool=10.77.1.100-10.77.1.120;lease=8;state={}", state.display());
    let log = dir.join("server.log");
    let server = Server::start(&srv, &exe(), &config, &log);

    let script = dir.join("udhcpc.sh");
    write_exec(&script, UDHCPC_SCRIPT);
    let client = Client { ns: &cli, log: dir.join("c1.events"), script: script.clone() };

    // A long-running udhcpc: bound, then renew at T1 = 4 s (lease 8 s) with the same address.
    let _ = std::fs::remove_file(&client.log);
    let mut running = cli
        .command("busybox")
        .args(["udhcpc", "-i", "eth0", "-f", "-t", "8", "-T", "2", "-s"])
        .arg(&script)
        .env("UDHCPC_LOG", &client.log)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let (bound, renewed) = loop {
        let ev = client.events();
        let bound = ev.iter().find(|(e, _)| e == "bound").map(|(_, ip)| ip.clone());
        let renew = ev.iter().find(|(e, _)| e == "renew").map(|(_, ip)| ip.clone());
        if let (Some(b), Some(r)) = (&bound, &renew) {
            break (b.clone(), r.clone());
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no bound+renew within 60 s: {ev:?}\n{}", server.log_text());
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = running.kill();
    let _ = running.wait();
    assert!(bound.starts_with("10.77.1.1"), "{bound}");
    assert_eq!(renewed, bound, "the renewal keeps the address");
    // The renewal went through the server (a unicast REQUEST from the bound address).
    server.wait_log("Ack(", 2, Duration::from_secs(5));

    // A second client takes the next address.
    let c2 = Client { ns: &cli2, log: dir.join("c2.events"), script: script.clone() };
    let second = c2.lease_once("eth0");
    assert_ne!(second, bound);

    // Clean restart: each client, asking with no memory of its lease and the second one first
    // (a server that forgot would give it the lowest address), gets its own address back.
    server.stop("-TERM");
    let server = Server::start(&srv, &exe(), &config, &log);
    assert_eq!(c2.lease_once("eth0"), second, "same address after restart");
    assert_eq!(client.lease_once("eth0"), bound, "same address after restart");

    // A third client's lease, then kill -9 right after its ACK: the lease was on disk before
    // the ACK left, so after the restart it and the others get their addresses again.
    let c3 = Client { ns: &cli3, log: dir.join("c3.events"), script: script.clone() };
    let third = c3.lease_once("eth0");
    assert!(third != bound && third != second, "{third}");
    server.stop("-KILL");
    let server = Server::start(&srv, &exe(), &config, &log);
    assert_eq!(c3.lease_once("eth0"), third, "same address after kill -9");
    assert_eq!(c2.lease_once("eth0"), second, "same address after kill -9");
    assert!(state.join("leases.sqlite3").is_file());
    server.stop("-TERM");
}

#[test]
fn two_clients_never_share_and_a_reservation_wins() {
    if !netns_available() || !busybox_available() {
        return;
    }
    let dir = scratch("dhcp-netns-two");
    let srv = Netns::new("obdhcp-t-srv");
    bridge(&srv, "10.77.2.1");
    let macs = ["02:00:00:77:02:01", "02:00:00:77:02:02", "02:00:00:77:02:03"];
    let clients: Vec<Netns> = (1..=3).map(|i| Netns::new(&format!("obdhcp-t-c{i}"))).collect();
    for (i, (ns, mac)) in clients.iter().zip(macs).enumerate() {
        attach(&srv, ns, "eth0", &format!("vc{}", i + 1), mac);
    }
    // Pool of three; the first address of it is reserved for the third client.
    let config = format!(
        "mode=full;iface=br0;addr=10.77.2.1;pool=10.77.2.100-10.77.2.102;reserve={}=10.77.2.100;state={}",
        macs[2],
        dir.join("state").display()
    );
    let server = Server::start(&srv, &exe(), &config, &dir.join("server.log"));
    let script = dir.join("udhcpc.sh");
    write_exec(&script, UDHCPC_SCRIPT);
    // The first two clients ask in parallel.
    let ips: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = clients[..2]
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let c = Client { ns, log: dir.join(format!("c{i}.events")), script: script.clone() };
                s.spawn(move || c.lease_once("eth0"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_ne!(ips[0], ips[1], "two clients, one address");
    for ip in &ips {
        assert!(ip == "10.77.2.101" || ip == "10.77.2.102", "{ip}: the reserved .100 went to a dynamic client");
    }
    let c3 = Client { ns: &clients[2], log: dir.join("c3.events"), script: script.clone() };
    assert_eq!(c3.lease_once("eth0"), "10.77.2.100", "the reservation wins");
    // The lease database agrees: three rows, three MACs, three addresses.
    let store = optrom_netboot::dhcp::SqliteLeaseStore::open(&dir.join("state/leases.sqlite3")).unwrap();
    use optrom_netboot::dhcp::LeaseStore as _;
    let leases = store.all().unwrap();
    let bound: Vec<_> = leases.iter().filter(|l| l.state == optrom_netboot::dhcp::LeaseState::Bound).collect();
    assert_eq!(bound.len(), 3, "{leases:?}");
    server.stop("-TERM");
}

/// The dhclient hook: configure the address and log `reason ip` to LOG (dhclient runs its
/// script with a cleared environment, so the path is written into the script).
const DHCLIENT_SCRIPT: &str = r#"#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface"; ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
esac
echo "$reason ${new_ip_address:-}" >> "LOG"
"#;

/// Runs dhclient in the foreground until it logs a BOUND or REBOOT, then stops it.
fn dhclient_lease(ns: &Netns, dir: &Path, events: &Path) -> (String, String) {
    let _ = std::fs::remove_file(events);
    let script = dir.join("dhclient.sh");
    write_exec(&script, &DHCLIENT_SCRIPT.replace("LOG", events.to_str().unwrap()));
    let mut child = ns
        .command("dhclient")
        .args(["-4", "-d", "-1", "-sf"])
        .arg(&script)
        .arg("-lf")
        .arg(dir.join("dhclient.leases"))
        .arg("-pf")
        .arg(dir.join("dhclient.pid"))
        .arg("eth0")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("dhclient.err")).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let got = loop {
        let text = std::fs::read_to_string(events).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.starts_with("BOUND ") || l.starts_with("REBOOT ")) {
            let (reason, ip) = l.split_once(' ').unwrap();
            break (reason.to_string(), ip.to_string());
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "dhclient: no lease: {text}\n{}",
            std::fs::read_to_string(dir.join("dhclient.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    got
}

fn dhclient_available() -> bool {
    let ok = Command::new("dhclient").arg("--version").output().is_ok();
    needs("NETNS", ok, "dhclient (isc-dhcp-client)")
}

#[test]
fn dhclient_lease_and_init_reboot_after_restart() {
    if !netns_available() || !dhclient_available() {
        return;
    }
    let dir = scratch("dhcp-netns-dhclient");
    let srv = Netns::new("obdhcp-d-srv");
    let cli = Netns::new("obdhcp-d-c1");
    bridge(&srv, "10.77.3.1");
    attach(&srv, &cli, "eth0", "vc1", "02:00:00:77:03:01");
    let config = format!(
        "mode=full;iface=br0;addr=10.77.3.1;pool=10.77.3.100-10.77.3.120;state={}",
        dir.join("state").display()
    );
    let log = dir.join("server.log");
    let server = Server::start(&srv, &exe(), &config, &log);
    let (reason, ip) = dhclient_lease(&cli, &dir, &dir.join("events1"));
    assert_eq!((reason.as_str(), ip.as_str()), ("BOUND", "10.77.3.100"));
    // Restart; dhclient remembers its lease and asks for it again (INIT-REBOOT: option 50,
    // no server identifier); the server acknowledges it (REBOOT, not a new BOUND).
    server.stop("-TERM");
    cli.ip(&["addr", "flush", "dev", "eth0"]);
    let server = Server::start(&srv, &exe(), &config, &log);
    let (reason, again) = dhclient_lease(&cli, &dir, &dir.join("events2"));
    assert_eq!((reason.as_str(), again.as_str()), ("REBOOT", ip.as_str()));
    let text = server.log_text();
    assert!(text.lines().filter(|l| l.contains("Ack(10.77.3.100)")).count() >= 2, "{text}");
    server.stop("-TERM");
}
