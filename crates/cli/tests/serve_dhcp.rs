//! `optrom serve` with its DHCP service, end to end in network namespaces the test creates:
//! - `--dhcp full`: busybox udhcpc gets a lease, `/metrics` counts it, SIGTERM exits 0, and a
//!   restarted server gives the client the same address from the lease database.
//! - `--dhcp proxy` next to dnsmasq as the network's DHCP server: OVMF with no NIC ROM takes the
//!   port-4011 path, downloads `snponly.efi` from optrom's own TFTP, and the iPXE in it fetches
//!   the generated `/_/boot.ipxe` over optrom's HTTP, which chains the marker script; OVMF with
//!   PXE switched off does UEFI HTTP boot from the proxy's `HTTPClient` offer; SeaBIOS with
//!   `pxe-virtio.rom` (BIOS iPXE) boots the script URL straight from the Pxe10-style offer.
//!
//! Needs root, iproute2, busybox, curl, dnsmasq, qemu-system-x86_64, OVMF and ipxe; without them
//! these tests FAIL unless OPTROM_SKIP_NETNS=1 (and OPTROM_SKIP_QEMU=1 for the guest), never
//! under CI=true.

#[path = "../../netboot/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `optrom serve …` in `ns`; returns the child and the (service → port) lines it printed.
fn serve(ns: &Netns, args: &[&str], log: &Path) -> (Child, Vec<(String, u16)>) {
    start_serve(ns, Path::new(env!("CARGO_BIN_EXE_optrom")), args, log)
}

const UDHCPC_SCRIPT: &str = "#!/bin/sh\ncase \"$1\" in bound|renew) ip addr flush dev \"$interface\"; ip addr add \"$ip/$mask\" dev \"$interface\" ;; esac\necho \"$1 ${ip:-}\" >> \"$UDHCPC_LOG\"\n";

fn udhcpc(ns: &Netns, script: &Path, log: &Path) -> String {
    let _ = std::fs::remove_file(log);
    ns.command("busybox")
        .args(["udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "8", "-T", "2", "-s"])
        .arg(script)
        .env("UDHCPC_LOG", log)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("bound "))
        .next_back()
        .unwrap_or_else(|| panic!("no lease: {text}"))
        .to_string()
}

#[test]
fn serve_dhcp_full_leases_metrics_and_restart() {
    let busybox = Command::new("busybox").arg("udhcpc").arg("--help").output().is_ok();
    let curl = Command::new("curl").arg("--version").output().is_ok();
    if !netns_available() || !require(busybox && curl, "OPTROM_SKIP_NETNS", "busybox and curl are needed") {
        return;
    }
    let dir = scratch("serve-dhcp-full");
    let srv = Netns::new("observe-f-srv");
    let cli = Netns::new("observe-f-c1");
    bridge(&srv, "10.80.0.1");
    attach(&srv, &cli, "eth0", "vc1", "02:00:00:80:00:01");
    let state = dir.join("state");
    let args = [
        "--dhcp",
        "full",
        "--interface",
        "br0",
        "--pool",
        "10.80.0.50-10.80.0.60",
        "--state-dir",
        state.to_str().unwrap(),
        "--root",
        dir.to_str().unwrap(),
        "--tftp-port",
        "0",
        "--http-port",
        "0",
    ];
    let (child, ports) = serve(&srv, &args, &dir.join("serve.log"));
    assert_eq!(port(&ports, "dhcp"), 67);
    let script = dir.join("udhcpc.sh");
    write_exec(&script, UDHCPC_SCRIPT);
    let ip = udhcpc(&cli, &script, &dir.join("c1.events"));
    assert_eq!(ip, "10.80.0.50");
    let metrics = srv
        .command("curl")
        .args(["-s", &format!("http://10.80.0.1:{}/metrics", port(&ports, "http"))])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.contains("optrom_dhcp_acks_total 1"), "{metrics}");
    assert!(metrics.contains("optrom_dhcp_leases 1"), "{metrics}");
    assert!(sigterm(child).success(), "SIGTERM: exit 0");
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(log.contains("mac=02:00:00:80:00:01") && log.contains("Ack(10.80.0.50)"), "{log}");

    // A second client takes .51; after a restart the second client, asking first, gets .51 again.
    let cli2 = Netns::new("observe-f-c2");
    attach(&srv, &cli2, "eth0", "vc2", "02:00:00:80:00:02");
    let (child, _) = serve(&srv, &args, &dir.join("serve2.log"));
    assert_eq!(udhcpc(&cli2, &script, &dir.join("c2.events")), "10.80.0.51");
    assert!(sigterm(child).success());
    let (child, _) = serve(&srv, &args, &dir.join("serve3.log"));
    assert_eq!(udhcpc(&cli2, &script, &dir.join("c2.events")), "10.80.0.51");
    assert_eq!(udhcpc(&cli, &script, &dir.join("c1.events")), "10.80.0.50");
    assert!(sigterm(child).success());
}

/// One TCG guest at a time (2 vCPUs).
static QEMU_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
const SNPONLY: &str = "/usr/lib/ipxe/snponly.efi";
const PXE_VIRTIO_ROM: &str = "/usr/lib/ipxe/qemu/pxe-virtio.rom";

fn guest_prerequisites() -> bool {
    if !netns_available() {
        return false;
    }
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output().is_ok_and(|o| o.status.success());
    let dnsmasq = Command::new("dnsmasq").arg("--version").output().is_ok_and(|o| o.status.success());
    let files = [OVMF_CODE, OVMF_VARS, SNPONLY, PXE_VIRTIO_ROM].iter().all(|f| Path::new(f).is_file());
    require(
        qemu && dnsmasq && files,
        "OPTROM_SKIP_QEMU",
        "qemu-system-x86_64, dnsmasq, OVMF, ipxe-qemu and ipxe are needed",
    )
}

/// A LAN (`<net>.1` = `optrom serve --dhcp proxy` with its own TFTP and HTTP on br0, a tap for
/// the guest) and a router namespace with dnsmasq as the network's DHCP server (`<net>.2`,
/// pool .100–.150, IPv6 RAs). Boots the guest until `marker` is on its serial console and
/// returns (serial text, serve log).
fn boot_via_serve(tag: &str, net: &str, guest: &[&str], marker: &str) -> (String, String) {
    let _guard = QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = scratch(&format!("serve-dhcp-{tag}"));
    let lan = Netns::new(&format!("observe-{tag}-lan"));
    let rtr = Netns::new(&format!("observe-{tag}-rtr"));
    bridge(&lan, &format!("{net}.1"));
    lan.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
    lan.ip(&["link", "set", "tap0", "master", "br0", "up"]);
    attach(&lan, &rtr, "eth0", "vrtr", "02:00:00:81:00:02");
    rtr.ip(&["addr", "add", &format!("{net}.2/24"), "dev", "eth0"]);
    rtr.ip(&["-6", "addr", "add", "fd81::2/64", "dev", "eth0", "nodad"]);
    let mut router_dhcp = rtr
        .command("dnsmasq")
        .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0"])
        // Stay root: the unprivileged user dnsmasq drops to cannot enter a 0700
        // checkout (a mktemp clone, /root) to reach the TFTP directory.
        .arg("--user=root")
        .args(["--interface=eth0", "--bind-interfaces", "--log-facility=-"])
        .arg(format!("--dhcp-range={net}.100,{net}.150,255.255.255.0,1h"))
        .args(["--enable-ra", "--dhcp-range=fd81::,ra-only,64"])
        .arg(format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()))
        // Not the shared /var/run/dnsmasq.pid: other dnsmasq instances may run on this host.
        .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("dnsmasq.err")).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    if let Some(status) = router_dhcp.try_wait().unwrap() {
        panic!("dnsmasq exited ({status}): {}", std::fs::read_to_string(dir.join("dnsmasq.err")).unwrap_or_default());
    }
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(SNPONLY, root.join("snponly.efi")).unwrap();
    std::fs::write(root.join("marker.ipxe"), "#!ipxe\necho hello-from-optrom-serve-${platform}\nsleep 1\nreboot\n")
        .unwrap();
    let state = dir.join("state");
    let args = [
        "--dhcp",
        "proxy",
        "--interface",
        "br0",
        "--root",
        root.to_str().unwrap(),
        "--boot-file",
        "marker.ipxe",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let log = dir.join("serve.log");
    let (server, ports) = serve(&lan, &args, &log);
    assert_eq!((port(&ports, "tftp"), port(&ports, "http"), port(&ports, "dhcp")), (69, 80, 67));
    let vars = dir.join("vars.fd");
    std::fs::copy(OVMF_VARS, &vars).unwrap();
    let sercon = dir.join("sercon-port.bin");
    std::fs::write(&sercon, [0xf8, 0x03]).unwrap(); // SeaBIOS: mirror text output to COM1
    let serial = dir.join("serial.log");
    let guest: Vec<String> = guest
        .iter()
        .map(|a| a.replace("@VARS@", vars.to_str().unwrap()).replace("@SERCON@", sercon.to_str().unwrap()))
        .collect();
    let mut qemu = lan
        .command("qemu-system-x86_64")
        .args(["-accel", "tcg", "-display", "none", "-vga", "none", "-monitor", "none", "-no-reboot", "-serial"])
        .arg(format!("file:{}", serial.display()))
        .args(["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"])
        .args(&guest)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let text = loop {
        let text = String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).replace('\r', "");
        if text.contains(marker) {
            break text;
        }
        if t.elapsed() > Duration::from_secs(300) || qemu.try_wait().unwrap().is_some() {
            let _ = qemu.kill();
            panic!(
                "{marker:?} not seen after {:?}\n--- serial\n{text}\n--- serve\n{}",
                t.elapsed(),
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let _ = qemu.kill();
    let _ = qemu.wait();
    let _ = router_dhcp.kill();
    let _ = router_dhcp.wait();
    assert!(sigterm(server).success(), "SIGTERM: exit 0");
    (text, std::fs::read_to_string(&log).unwrap())
}

const OVMF: [&str; 8] = [
    "-machine",
    "q35",
    "-m",
    "512",
    "-drive",
    "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
    "-drive",
    "if=pflash,format=raw,unit=1,file=@VARS@",
];

#[test]
fn serve_dhcp_proxy_boots_ovmf_pxe_over_our_tftp_and_http() {
    if !guest_prerequisites() {
        return;
    }
    let mut guest = OVMF.to_vec();
    guest.extend(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:81:00:07,romfile="]);
    let (text, log) = boot_via_serve("pxe", "10.81.1", &guest, "hello-from-optrom-serve-efi");
    assert!(
        text.contains("NBP filename is snponly.efi") && text.contains("NBP file downloaded successfully"),
        "{text}"
    );
    assert!(log.contains("boot server ack"), "the 4011 path: {log}");
    assert!(log.contains("tftp transfer complete") && log.contains("file=snponly.efi"), "{log}");
    assert!(log.contains("path=\"/_/boot.ipxe\""), "iPXE fetched the generated script: {log}");
}

#[test]
fn serve_dhcp_proxy_drives_uefi_http_boot() {
    if !guest_prerequisites() {
        return;
    }
    // PXE off in OVMF, so its first network boot option is "UEFI HTTPv4".
    let mut guest = OVMF.to_vec();
    guest.extend([
        "-fw_cfg",
        "name=opt/org.tianocore/IPv4PXESupport,string=n",
        "-fw_cfg",
        "name=opt/org.tianocore/IPv6PXESupport,string=n",
        "-device",
        "virtio-net-pci,netdev=n0,mac=52:54:00:81:02:07,romfile=",
    ]);
    let (_, log) = boot_via_serve("http", "10.81.2", &guest, "hello-from-optrom-serve-efi");
    assert!(log.contains("firmware=HttpBoot") && log.contains("file=\"http://10.81.2.1/snponly.efi\""), "{log}");
    assert!(log.contains("style=\"http\""), "{log}");
    assert!(log.contains("path=\"/snponly.efi\"") && !log.contains("tftp read request"), "{log}");
    // The proxy saw the client's REQUEST to the network's DHCP server: HTTP logs carry its MAC.
    assert!(log.contains("mac=\"52:54:00:81:02:07\" method=HEAD path=\"/snponly.efi\""), "{log}");
}

#[test]
fn serve_dhcp_proxy_boots_seabios_ipxe_from_the_offer() {
    if !guest_prerequisites() {
        return;
    }
    let rom = format!("virtio-net-pci,netdev=n0,mac=52:54:00:81:03:00,disable-legacy=on,romfile={PXE_VIRTIO_ROM}");
    let guest = [
        "-machine",
        "pc",
        "-m",
        "256",
        "-boot",
        "order=n",
        "-fw_cfg",
        "name=etc/sercon-port,file=@SERCON@",
        "-device",
        &rom,
    ];
    let (text, log) = boot_via_serve("bios", "10.81.3", &guest, "hello-from-optrom-serve-pcbios");
    assert!(text.contains("http://10.81.3.1/_/boot.ipxe"), "{text}");
    assert!(log.contains("style=\"pxe10\"") && !log.contains("boot server ack"), "{log}");
}
