//! The tap path the netboot server's end-to-end tests use: a guest on a caller's tap
//! device inside a private network namespace, served by a DHCP/TFTP server the
//! caller runs there (dnsmasq stands in for the server here). Debian's e1000 ROM
//! under SeaBIOS gets a lease, fetches the script over TFTP and prints its token;
//! dnsmasq's log shows the lease and the transfer. Nothing leaves the namespace.
//!
//! Needs root (network namespaces), qemu-system-x86_64, ipxe-qemu and dnsmasq
//! (dnsmasq-base). FAILS without them unless OPTROM_SKIP_NETNS=1 (never under CI=true).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use optrom_qemu::{Firmware, Guest, GuestSpec, Network, NicSpec, Outcome, RomChoice, Watch, work_dir};
use optrom_testsupport::{E1000, Netns, dnsmasq, expect_running, is_root, needs, runs};

fn prerequisites() -> bool {
    let have = |p: &str| Path::new(p).exists();
    let missing: Vec<&str> = [
        (!is_root()).then_some("root"),
        (!have("/usr/sbin/dnsmasq")).then_some("dnsmasq (dnsmasq-base)"),
        (!have(E1000)).then_some("ipxe-qemu"),
        (!runs("qemu-system-x86_64")).then_some("qemu-system-x86_64"),
    ]
    .into_iter()
    .flatten()
    .collect();
    needs("NETNS", missing.is_empty(), &missing.join(", "))
}

/// A network namespace with a tap device and the caller's server; deleted (with everything in
/// it) on drop, after the server is stopped.
struct Namespace {
    dnsmasq: Option<Child>,
    ns: Netns,
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Some(mut d) = self.dnsmasq.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

#[test]
fn guest_on_a_callers_tap_in_a_namespace_boots_from_the_callers_server() {
    if !prerequisites() {
        return;
    }
    let name = format!("optrom-tap-{}", std::process::id());
    let mut ns = Namespace { dnsmasq: None, ns: Netns::new(&name) };
    ns.ns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
    ns.ns.ip(&["addr", "add", "192.168.77.1/24", "dev", "tap0"]);
    // Router advertisements end iPXE's IPv6 wait at once (otherwise ~12 s more).
    ns.ns.ip(&["-6", "addr", "add", "fd77::1/64", "dev", "tap0", "nodad"]);
    ns.ns.ip(&["link", "set", "tap0", "up"]);

    // The caller's server files go in the guest's private directory.
    let work = work_dir().unwrap();
    let tftp = work.path().join("tftp");
    std::fs::create_dir(&tftp).unwrap();
    std::fs::write(tftp.join("tap.ipxe"), "#!ipxe\nset p tap-proof\necho ${p}-ok ip=${ip} server=${next-server}\n")
        .unwrap();
    let log = work.path().join("dnsmasq.log");
    // dnsmasq stays root (`dnsmasq`): the files live in the guest's private (0700) directory.
    let dnsmasq = dnsmasq(&ns.ns, &work.path().join("dnsmasq.pid"))
        .args(["--interface=tap0", "--bind-interfaces", "--log-dhcp"])
        .args(["--dhcp-range=192.168.77.100,192.168.77.150,255.255.255.0,1h", "--enable-ra"])
        .args(["--dhcp-range=fd77::,ra-only,64", "--enable-tftp", "--dhcp-boot=tap.ipxe"])
        .arg(format!("--tftp-root={}", tftp.display()))
        .arg(format!("--log-facility={}", log.display()))
        .arg(format!("--dhcp-leasefile={}", work.path().join("leases").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ns.dnsmasq = Some(dnsmasq);
    std::thread::sleep(Duration::from_millis(500));
    expect_running(ns.dnsmasq.as_mut().unwrap(), "dnsmasq", &log);

    let mut spec = GuestSpec::new(Firmware::SeaBios);
    spec.nic = Some(NicSpec {
        model: "e1000".into(),
        properties: vec![],
        rom: RomChoice::File(E1000.into()),
        mac: Some("52:54:00:77:00:01".into()),
        boot_first: true,
        network: Network::Tap { ifname: "tap0".into(), netns: Some(name.clone()) },
    });
    let mut guest = Guest::start_in(&spec, work).unwrap();
    assert!(guest.command().starts_with(&["ip".to_string(), "netns".into(), "exec".into(), name.clone()]));
    let outcome = guest
        .wait_for(&Watch {
            // The whole line: markers match as text arrives, mid-line included.
            all: vec!["tap-proof-ok ip=192.168.77.100 server=192.168.77.1".into()],
            fail_on: vec!["No bootable device".into()],
            more_than: None,
            timeout: Duration::from_secs(180),
        })
        .unwrap();
    let console = guest.console().transcript(None).join("\n");
    assert!(matches!(outcome, Outcome::Seen(_)), "{outcome:?}\n{console}");
    let log = std::fs::read_to_string(guest.work_path().join("dnsmasq.log")).unwrap();
    assert!(log.contains("DHCPACK(tap0) 192.168.77.1") && log.contains("52:54:00:77:00:01"), "{log}");
    assert!(log.contains("sent ") && log.contains("tap.ipxe to 192.168.77.1"), "{log}");
    drop(guest);
    drop(ns);
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&left.stdout).contains(&name), "namespace {name} left behind");
}
