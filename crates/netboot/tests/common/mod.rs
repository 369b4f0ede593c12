//! Shared by the network tests: network namespaces, veth pairs, bridges and tap devices the
//! test creates and removes, the DHCP server as a child process (so it can be SIGTERMed and
//! `kill -9`ed), and prerequisite checks that fail unless the matching OPTROM_SKIP_* is set.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// True if tests needing `what` may run; false (after printing SKIPPED) only when the skip
/// variable is "1" and CI is not "true"; otherwise panics with how to install it.
pub fn require(ok: bool, skip_var: &str, what: &str) -> bool {
    if ok {
        return true;
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !ci && std::env::var(skip_var).as_deref() == Ok("1") {
        eprintln!("SKIPPED: {what} ({skip_var}=1)");
        return false;
    }
    panic!("{what}; install it (scripts/test.sh) or set {skip_var}=1 to skip");
}

/// Root, `ip` and network namespaces are needed by the netns tests.
pub fn netns_available() -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    let ip = Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success());
    require(root && ip, "OPTROM_SKIP_NETNS", "root and iproute2 are needed for network-namespace tests")
}

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A network namespace, deleted (with its devices) on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        sh(&["ip", "netns", "add", name]);
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
        Netns(name.to_string())
    }

    pub fn ip(&self, args: &[&str]) {
        let mut a = vec!["ip", "-n", &self.0];
        a.extend_from_slice(args);
        sh(&a);
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).arg(program);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// A bridge `br0` with `addr/24` in `ns`.
pub fn bridge(ns: &Netns, addr: &str) {
    ns.ip(&["link", "add", "br0", "type", "bridge"]);
    ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "br0"]);
    ns.ip(&["link", "set", "br0", "up"]);
}

/// A veth pair: `inner` in `client` (with `mac`), its peer `outer` on `hub`'s br0.
pub fn attach(hub: &Netns, client: &Netns, inner: &str, outer: &str, mac: &str) {
    hub.ip(&["link", "add", outer, "type", "veth", "peer", "name", inner, "netns", &client.0]);
    hub.ip(&["link", "set", outer, "master", "br0", "up"]);
    client.ip(&["link", "set", inner, "address", mac]);
    client.ip(&["link", "set", inner, "up"]);
}

/// The DHCP server as a child process in `ns`: the ignored test `dhcp_server_child` of the
/// `dhcp_netns` test binary, configured by OPTROM_DHCP_CHILD.
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
}

impl Server {
    pub fn start(ns: &Netns, exe: &Path, config: &str, log: &Path) -> Server {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = ns
            .command(exe)
            .args(["--ignored", "--exact", "dhcp_server_child", "--nocapture", "--test-threads=1"])
            .env("OPTROM_DHCP_CHILD", config)
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let s = Server { child, log: log.to_path_buf() };
        s.wait_log("dhcp service up", 1, Duration::from_secs(30));
        s
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `n` lines containing `needle`.
    pub fn wait_log(&self, needle: &str, n: usize, timeout: Duration) {
        let t = Instant::now();
        while self.log_text().matches(needle).count() < n {
            assert!(t.elapsed() < timeout, "no {needle:?} ×{n} in server log within {timeout:?}:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM (clean) or SIGKILL, then wait.
    pub fn stop(mut self, signal: &str) {
        // `ip netns exec` execs the program, so the child's pid is the server's.
        sh(&["kill", signal, &self.child.id().to_string()]);
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory under the target dir, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn write_exec(path: &Path, text: &str) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    sh(&["chmod", "+x", path.to_str().unwrap()]);
}

/// Runs the DHCP server described by OPTROM_DHCP_CHILD (`key=value;…`) until SIGTERM.
pub fn run_child_server(spec: &str) {
    use optrom_netboot::dhcp::*;
    use std::sync::Arc;
    let kv: std::collections::HashMap<&str, &str> = spec.split(';').filter_map(|p| p.split_once('=')).collect();
    let addr: std::net::Ipv4Addr = kv["addr"].parse().unwrap();
    let mode = match kv["mode"] {
        "proxy" => DhcpMode::Proxy,
        "full" => {
            let (a, b) = kv["pool"].split_once('-').unwrap();
            let mut pool = PoolConfig::new(a.parse().unwrap(), b.parse().unwrap(), "255.255.255.0".parse().unwrap());
            pool.router = Some(addr);
            if let Some(l) = kv.get("lease") {
                pool.lease_time = Duration::from_secs(l.parse().unwrap());
            }
            if let Some(r) = kv.get("reserve") {
                for one in r.split(',') {
                    let (m, ip) = one.split_once('=').unwrap();
                    pool.reservations.insert(m.parse().unwrap(), ip.parse().unwrap());
                }
            }
            DhcpMode::Full(pool)
        }
        m => panic!("mode {m}"),
    };
    let mut config = DhcpConfig::new(mode);
    config.interface = Some(kv["iface"].to_string());
    config.address = Some(addr);
    if let Some(s) = kv.get("state") {
        config.state_dir = s.into();
    }
    if let Some(url) = kv.get("ipxe_url") {
        let mut table = DefaultBootTable::new(addr, 80);
        table.ipxe_script_url = url.to_string();
        config.policy = Some(Arc::new(table));
    }
    tracing_subscriber::fmt().with_ansi(false).with_writer(std::io::stderr).init();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let service = DhcpService::bind(config, Arc::new(DhcpMetrics::default())).unwrap();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        service
            .run(async move {
                term.recv().await;
            })
            .await
            .unwrap();
    });
}

/// `optrom serve ARGS` (the binary `exe`) started in `ns`, its log (stderr) in `log`; returns
/// the child and the `NAME PORT` lines it prints on stdout once every service is bound (read
/// until `http` and, unless `--dhcp off` or no `--dhcp`, `dhcp` have been announced).
pub fn start_serve(ns: &Netns, exe: &Path, args: &[&str], log: &Path) -> (Child, Vec<(String, u16)>) {
    use std::io::BufRead as _;
    let mut child = ns
        .command(exe)
        .arg("serve")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let dhcp = args.windows(2).any(|w| w[0] == "--dhcp" && w[1] != "off");
    let mut ports: Vec<(String, u16)> = Vec::new();
    let announced = |ports: &[(String, u16)], name: &str| ports.iter().any(|(n, _)| n == name);
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        let Some((name, addr)) = line.split_once(' ') else { continue };
        ports.push((name.to_string(), addr.rsplit(':').next().unwrap().parse().unwrap()));
        if announced(&ports, "http") && (!dhcp || announced(&ports, "dhcp")) {
            break;
        }
    }
    assert!(
        announced(&ports, "http"),
        "optrom serve did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    (child, ports)
}

/// SIGTERM to a server started by [`start_serve`] (`ip netns exec` execs it, so the child's
/// pid is the server's), then its exit status.
pub fn sigterm(mut child: Child) -> std::process::ExitStatus {
    sh(&["kill", "-TERM", &child.id().to_string()]);
    child.wait().unwrap()
}

/// The port [`start_serve`] announced for service `name`.
pub fn port(ports: &[(String, u16)], name: &str) -> u16 {
    ports.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} in {ports:?}")).1
}
