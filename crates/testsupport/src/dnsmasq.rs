//! dnsmasq as a test's stand-in for other servers on the LAN.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::netns::{Netns, add_tap, attach, bridge};
use crate::skip::SNPONLY;

/// dnsmasq in `ns` with what every test's instance shares: in the foreground, no config file,
/// resolv.conf or hosts, no DNS (`--port=0`), and its own pid file (not the shared
/// /var/run/dnsmasq.pid: other dnsmasq instances may run on this host). It stays root
/// (`--user=root`): the unprivileged user dnsmasq drops to cannot enter a 0700 checkout (a
/// mktemp clone, /root) to reach a TFTP directory or lease file inside it.
pub fn dnsmasq(ns: &Netns, pid_file: &Path) -> Command {
    let mut c = ns.command("dnsmasq");
    c.args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0"])
        .arg("--user=root")
        .arg(format!("--pid-file={}", pid_file.display()));
    c
}

/// Panics with `err_log` if `child` (`name`) has exited already: a port or file conflict ends
/// dnsmasq at once. Call it a moment after the start.
pub fn expect_running(child: &mut Child, name: &str, err_log: &Path) {
    if let Some(status) = child.try_wait().unwrap() {
        panic!("{name} exited ({status}): {}", std::fs::read_to_string(err_log).unwrap_or_default());
    }
}

/// The network's own DHCP server: a namespace on the LAN's br0 (veth `eth0`, `<net>.2/24`,
/// `<v6_prefix>2/64`) running dnsmasq with the pool `<net>.100`–`<net>.150` and IPv6 router
/// advertisements (so iPXE does not wait for IPv6 autoconfiguration). Logs go to
/// `dir/dnsmasq-dhcp.{log,err}`, leases to `dir/dnsmasq.leases`. Stopped on drop.
pub struct DhcpRouter {
    child: Child,
    /// dnsmasq's lease file.
    pub leases: PathBuf,
    /// The router's namespace.
    pub ns: Netns,
}

impl DhcpRouter {
    /// Starts it in a new namespace `name`, attached to `lan` as `outer` with `mac`; panics if
    /// dnsmasq does not stay up.
    pub fn start(
        lan: &Netns,
        name: &str,
        outer: &str,
        mac: &str,
        net: &str,
        v6_prefix: &str,
        dir: &Path,
    ) -> DhcpRouter {
        let ns = Netns::new(name);
        attach(lan, &ns, "eth0", outer, mac);
        ns.ip(&["addr", "add", &format!("{net}.2/24"), "dev", "eth0"]);
        ns.ip(&["-6", "addr", "add", &format!("{v6_prefix}2/64"), "dev", "eth0", "nodad"]);
        let leases = dir.join("dnsmasq.leases");
        let err_log = dir.join("dnsmasq-dhcp.err");
        let mut child = dnsmasq(&ns, &dir.join("dnsmasq-dhcp.pid"))
            .args(["--interface=eth0", "--bind-interfaces", "--log-dhcp", "--log-facility=-"])
            .arg(format!("--dhcp-range={net}.100,{net}.150,255.255.255.0,1h"))
            .args(["--enable-ra", &format!("--dhcp-range={v6_prefix},ra-only,64")])
            .arg(format!("--dhcp-leasefile={}", leases.display()))
            .stdout(std::fs::File::create(dir.join("dnsmasq-dhcp.log")).unwrap())
            .stderr(std::fs::File::create(&err_log).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        expect_running(&mut child, "dnsmasq-dhcp", &err_log);
        DhcpRouter { child, leases, ns }
    }

    /// The lease file's text (empty before the first lease).
    pub fn lease_text(&self) -> String {
        std::fs::read_to_string(&self.leases).unwrap_or_default()
    }
}

impl Drop for DhcpRouter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The LAN of the proxyDHCP tests: namespace `<prefix>-lan` with br0 at `<net>.1` (where the
/// server under test goes) and `tap0` for the guest, and the network's own DHCP server
/// ([`DhcpRouter`]) in `<prefix>-rtr`, attached as `vrtr` with `router_mac`.
pub fn proxy_lan(prefix: &str, net: &str, router_mac: &str, v6_prefix: &str, dir: &Path) -> (Netns, DhcpRouter) {
    let lan = Netns::new(&format!("{prefix}-lan"));
    bridge(&lan, &format!("{net}.1"));
    add_tap(&lan, "tap0");
    let router = DhcpRouter::start(&lan, &format!("{prefix}-rtr"), "vrtr", router_mac, net, v6_prefix, dir);
    (lan, router)
}

/// A boot directory `root` holding Debian's `snponly.efi` and the iPXE script `script` that
/// echoes `marker` (iPXE expands `${platform}` in it), then reboots.
pub fn ipxe_boot_root(root: &Path, script: &str, marker: &str) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::copy(SNPONLY, root.join("snponly.efi")).unwrap();
    std::fs::write(root.join(script), format!("#!ipxe\necho {marker}\nsleep 1\nreboot\n")).unwrap();
}
