//! proxyDHCP next to a real DHCP server (dnsmasq, in its own namespace on the same L2), with
//! real firmware in QEMU (TCG) on a tap device:
//! - OVMF with no NIC ROM (`romfile=`, EDK2's own virtio-net driver and PXE) takes the port-4011
//!   (BINL) path and downloads `snponly.efi` over TFTP; the iPXE it starts then gets its script
//!   from our proxy offer and prints the marker.
//! - SeaBIOS with `pxe-virtio.rom` (BIOS iPXE) takes the boot file straight from the Pxe10-style
//!   proxy offer and prints the marker.
//!
//! TFTP is served by a TFTP-only dnsmasq (`--port=0`, no DHCP) on the proxy's address.
//! Needs root, iproute2, qemu-system-x86, ovmf, ipxe-qemu, ipxe and dnsmasq-base; without
//! them these tests FAIL unless OPTROM_SKIP_QEMU=1 (never under CI=true).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;

/// One TCG guest at a time (2 vCPUs).
static QEMU_LOCK: Mutex<()> = Mutex::new(());

#[test]
#[ignore = "the DHCP server child process of the other tests"]
fn dhcp_server_child() {
    let spec = std::env::var("OPTROM_DHCP_CHILD").expect("only started by the proxy tests (OPTROM_DHCP_CHILD)");
    run_child_server(&spec);
}

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
const PXE_VIRTIO_ROM: &str = "/usr/lib/ipxe/qemu/pxe-virtio.rom";
const SNPONLY: &str = "/usr/lib/ipxe/snponly.efi";

fn prerequisites() -> bool {
    if !netns_available() {
        return false;
    }
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output().is_ok_and(|o| o.status.success());
    let dnsmasq = Command::new("dnsmasq").arg("--version").output().is_ok_and(|o| o.status.success());
    let files = [OVMF_CODE, OVMF_VARS, PXE_VIRTIO_ROM, SNPONLY].iter().all(|f| Path::new(f).is_file());
    require(
        qemu && dnsmasq && files,
        "OPTROM_SKIP_QEMU",
        "qemu-system-x86_64, dnsmasq, OVMF, ipxe-qemu and ipxe are needed for the proxyDHCP guest tests",
    )
}

/// The LAN: `lan` holds br0 (the proxy's address .1), tap0 for the guest, and the TFTP-only
/// dnsmasq; `router` holds the network's DHCP server (dnsmasq, .2, pool .100–.150, IPv6 RAs so
/// iPXE does not wait for IPv6 autoconfiguration).
struct Lan {
    lan: Netns,
    _router: Netns,
    children: Vec<Child>,
    dir: PathBuf,
    net: String,
}

impl Lan {
    fn new(tag: &str, net: &str) -> Lan {
        let dir = scratch(&format!("dhcp-proxy-{tag}"));
        let lan = Netns::new(&format!("obpx-{tag}-lan"));
        let router = Netns::new(&format!("obpx-{tag}-rtr"));
        bridge(&lan, &format!("{net}.1"));
        lan.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
        lan.ip(&["link", "set", "tap0", "master", "br0", "up"]);
        attach(&lan, &router, "eth0", "vrtr", "02:00:00:00:99:02");
        router.ip(&["addr", "add", &format!("{net}.2/24"), "dev", "eth0"]);
        router.ip(&["-6", "addr", "add", "fd79::2/64", "dev", "eth0", "nodad"]);
        let tftp = dir.join("tftp");
        std::fs::create_dir_all(&tftp).unwrap();
        std::fs::copy(SNPONLY, tftp.join("snponly.efi")).unwrap();
        std::fs::write(tftp.join("proxy.ipxe"), "#!ipxe\necho hello-from-proxy-${platform}\nsleep 1\nreboot\n")
            .unwrap();
        let log = |n: &str| std::fs::File::create(dir.join(n)).unwrap();
        let dhcp = router
            .command("dnsmasq")
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0"])
            // Stay root: the unprivileged user dnsmasq drops to cannot enter a 0700
            // checkout (a mktemp clone, /root) to reach the TFTP directory.
            .arg("--user=root")
            .args(["--interface=eth0", "--bind-interfaces", "--log-dhcp", "--log-facility=-"])
            .arg(format!("--dhcp-range={net}.100,{net}.150,255.255.255.0,1h"))
            .args(["--enable-ra", "--dhcp-range=fd79::,ra-only,64"])
            .arg(format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()))
            // Not the shared /var/run/dnsmasq.pid: other dnsmasq instances may run on this host.
            .arg(format!("--pid-file={}", dir.join("dnsmasq-dhcp.pid").display()))
            .stdout(log("dnsmasq-dhcp.log"))
            .stderr(log("dnsmasq-dhcp.err"))
            .spawn()
            .unwrap();
        let tftpd = lan
            .command("dnsmasq")
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0"])
            // Stay root: the unprivileged user dnsmasq drops to cannot enter a 0700
            // checkout (a mktemp clone, /root) to reach the TFTP directory.
            .arg("--user=root")
            .args(["--interface=br0", "--bind-interfaces", "--enable-tftp", "--log-facility=-"])
            .arg(format!("--tftp-root={}", tftp.display()))
            .arg(format!("--pid-file={}", dir.join("dnsmasq-tftp.pid").display()))
            .stdout(log("dnsmasq-tftp.log"))
            .stderr(log("dnsmasq-tftp.err"))
            .spawn()
            .unwrap();
        let mut lan = Lan { lan, _router: router, children: vec![dhcp, tftpd], dir, net: net.to_string() };
        // Both dnsmasq instances must still be running (a port or file conflict ends them at once).
        std::thread::sleep(Duration::from_millis(500));
        for (c, name) in lan.children.iter_mut().zip(["dnsmasq-dhcp", "dnsmasq-tftp"]) {
            if let Some(status) = c.try_wait().unwrap() {
                let err = std::fs::read_to_string(lan.dir.join(format!("{name}.err"))).unwrap_or_default();
                panic!("{name} exited ({status}): {err}");
            }
        }
        lan
    }

    fn proxy(&self) -> Server {
        let config = format!("mode=proxy;iface=br0;addr={n}.1;ipxe_url=tftp://{n}.1/proxy.ipxe", n = self.net);
        Server::start(&self.lan, &std::env::current_exe().unwrap(), &config, &self.dir.join("proxy.log"))
    }

    fn tftp_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dnsmasq-tftp.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("dnsmasq-tftp.err")).unwrap_or_default()
    }

    /// Runs QEMU in the LAN until every marker appeared on the serial console (in order);
    /// returns the console text, or panics with it on timeout.
    fn boot(&self, args: &[&str], markers: &[&str], timeout: Duration, proxy: &Server) -> String {
        let serial = self.dir.join("serial.log");
        let _ = std::fs::remove_file(&serial);
        let mut qemu = self
            .lan
            .command("qemu-system-x86_64")
            .args(["-accel", "tcg", "-display", "none", "-vga", "none", "-monitor", "none", "-no-reboot"])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .args(["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"])
            .args(["-smbios", "type=1,uuid=11111111-2222-3333-4444-555555555555"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("qemu.err")).unwrap())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let text = loop {
            let text = String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).replace('\r', "");
            let mut at = 0;
            let all = markers.iter().all(|m| match text[at..].find(m) {
                Some(i) => {
                    at += i + m.len();
                    true
                }
                None => false,
            });
            if all {
                break text;
            }
            if t.elapsed() > timeout || qemu.try_wait().unwrap().is_some() {
                let _ = qemu.kill();
                let _ = qemu.wait();
                panic!(
                    "markers {markers:?} not all seen in {:?}\n--- serial:\n{text}\n--- proxy:\n{}\n--- tftp:\n{}",
                    t.elapsed(),
                    proxy.log_text(),
                    self.tftp_log()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let _ = qemu.kill();
        let _ = qemu.wait();
        text
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn ovmf_without_nic_rom_takes_the_4011_path_and_downloads_snponly() {
    if !prerequisites() {
        return;
    }
    let _guard = QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let lan = Lan::new("ovmf", "10.79.1");
    let proxy = lan.proxy();
    let vars = lan.dir.join("vars.fd");
    std::fs::copy(OVMF_VARS, &vars).unwrap();
    let serial = lan.boot(
        &[
            "-machine",
            "q35",
            "-m",
            "512",
            "-drive",
            &format!("if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"),
            "-drive",
            &format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
            "-device",
            "virtio-net-pci,netdev=n0,mac=52:54:00:79:01:07,romfile=",
        ],
        &["NBP filename is snponly.efi", "NBP file downloaded successfully", "iPXE", "hello-from-proxy-efi"],
        Duration::from_secs(300),
        &proxy,
    );
    assert!(serial.contains("Server IP address is 10.79.1.1"), "{serial}");
    let log = proxy.log_text();
    // The firmware got a BINL-style offer, asked on 4011, and got the file there.
    assert!(log.contains("proxy offer") && log.contains("style=\"binl\""), "{log}");
    assert!(log.contains("boot server ack") && log.contains("file=\"snponly.efi\""), "{log}");
    // The address came from the network's DHCP server, not from us.
    let leases = std::fs::read_to_string(lan.dir.join("dnsmasq.leases")).unwrap_or_default();
    assert!(leases.contains("52:54:00:79:01:07"), "dnsmasq leases: {leases}");
    assert!(lan.tftp_log().contains("snponly.efi"), "{}", lan.tftp_log());
    proxy.stop("-TERM");
}

#[test]
fn seabios_ipxe_rom_boots_the_file_from_the_proxy_offer() {
    if !prerequisites() {
        return;
    }
    let _guard = QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let lan = Lan::new("bios", "10.79.2");
    let proxy = lan.proxy();
    let sercon = lan.dir.join("sercon-port.bin");
    std::fs::write(&sercon, [0xf8, 0x03]).unwrap(); // COM1: SeaBIOS mirrors text output to serial
    let serial = lan.boot(
        &[
            "-machine",
            "pc",
            "-m",
            "256",
            "-boot",
            "order=n",
            "-fw_cfg",
            &format!("name=etc/sercon-port,file={}", sercon.display()),
            // pxe-virtio.rom carries the modern virtio-net ID 1af4:1041.
            "-device",
            &format!("virtio-net-pci,netdev=n0,mac=52:54:00:79:02:00,disable-legacy=on,romfile={PXE_VIRTIO_ROM}"),
        ],
        &["iPXE", "proxy.ipxe", "hello-from-proxy-pcbios"],
        Duration::from_secs(180),
        &proxy,
    );
    assert!(serial.contains("tftp://10.79.2.1/proxy.ipxe"), "{serial}");
    let log = proxy.log_text();
    assert!(log.contains("proxy offer") && log.contains("style=\"pxe10\"") && log.contains("firmware=Ipxe"), "{log}");
    assert!(!log.contains("boot server ack"), "BIOS iPXE used the offer directly: {log}");
    proxy.stop("-TERM");
}
