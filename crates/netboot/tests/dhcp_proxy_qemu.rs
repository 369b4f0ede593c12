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

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::*;

/// One TCG guest at a time (2 vCPUs).
static QEMU_LOCK: Mutex<()> = Mutex::new(());

#[test]
#[ignore = "the DHCP server child process of the other tests"]
fn dhcp_server_child() {
    let spec = std::env::var("OPTROM_DHCP_CHILD").expect("only started by the proxy tests (OPTROM_DHCP_CHILD)");
    run_child_server(&spec);
}

/// The LAN: `lan` holds br0 (the proxy's address .1), tap0 for the guest, and the TFTP-only
/// dnsmasq; `router` holds the network's DHCP server (dnsmasq, .2, pool .100–.150, IPv6 RAs so
/// iPXE does not wait for IPv6 autoconfiguration).
struct Lan {
    lan: Netns,
    router: DhcpRouter,
    tftpd: Child,
    dir: PathBuf,
    net: String,
}

impl Lan {
    fn new(tag: &str, net: &str) -> Lan {
        let dir = scratch(&format!("dhcp-proxy-{tag}"));
        let (lan, router) = proxy_lan(&format!("obpx-{tag}"), net, "02:00:00:00:99:02", "fd79::", &dir);
        let tftp = dir.join("tftp");
        ipxe_boot_root(&tftp, "proxy.ipxe", "hello-from-proxy-${platform}");
        let log = |n: &str| std::fs::File::create(dir.join(n)).unwrap();
        let mut tftpd = dnsmasq(&lan, &dir.join("dnsmasq-tftp.pid"))
            .args(["--interface=br0", "--bind-interfaces", "--enable-tftp", "--log-facility=-"])
            .arg(format!("--tftp-root={}", tftp.display()))
            .stdout(log("dnsmasq-tftp.log"))
            .stderr(log("dnsmasq-tftp.err"))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        expect_running(&mut tftpd, "dnsmasq-tftp", &dir.join("dnsmasq-tftp.err"));
        Lan { lan, router, tftpd, dir, net: net.to_string() }
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
        let mut qemu = qemu_on_tap(&self.lan, "tap0", &serial)
            .args(["-smbios", "type=1,uuid=11111111-2222-3333-4444-555555555555"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("qemu.err")).unwrap())
            .spawn()
            .unwrap();
        wait_for_console(&serial, markers, timeout, &mut qemu).unwrap_or_else(|miss| {
            panic!(
                "markers {markers:?} not all seen in {:?}\n--- serial:\n{}\n--- proxy:\n{}\n--- tftp:\n{}",
                miss.elapsed,
                miss.text,
                proxy.log_text(),
                self.tftp_log()
            )
        })
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        let _ = self.tftpd.kill();
        let _ = self.tftpd.wait();
    }
}

#[test]
fn ovmf_without_nic_rom_takes_the_4011_path_and_downloads_snponly() {
    if !have_proxy_guest_tools() {
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
    let leases = lan.router.lease_text();
    assert!(leases.contains("52:54:00:79:01:07"), "dnsmasq leases: {leases}");
    assert!(lan.tftp_log().contains("snponly.efi"), "{}", lan.tftp_log());
    proxy.stop("-TERM");
}

#[test]
fn seabios_ipxe_rom_boots_the_file_from_the_proxy_offer() {
    if !have_proxy_guest_tools() {
        return;
    }
    let _guard = QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let lan = Lan::new("bios", "10.79.2");
    let proxy = lan.proxy();
    let sercon = seabios_sercon(&lan.dir);
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
