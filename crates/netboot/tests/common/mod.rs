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

// ---------------------------------------------------------------------------------------------
// Guests booted by `optrom serve`: the Debian boot packages, the server, dnsmasq and QEMU.

pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// True if `program arg` runs and exits 0.
pub fn runs(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// The repository root (crates/cli and crates/netboot are both two levels down).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Debian's kernel, Xen and busybox (scripts/fetch-boot-packages.sh) and the token initrd
/// (scripts/make-token-initrd.sh), built once per target dir: `target/boot-packages`.
pub fn boot_packages() -> PathBuf {
    let repo = repo_root();
    let cache = repo.join("target/boot-packages");
    let out = Command::new("bash").arg(repo.join("scripts/fetch-boot-packages.sh")).arg(&cache).output().unwrap();
    assert!(out.status.success(), "fetch-boot-packages.sh: {}", String::from_utf8_lossy(&out.stderr));
    let initrd = cache.join("token-initrd.gz");
    if !initrd.exists() {
        let out = Command::new("bash")
            .arg(repo.join("scripts/make-token-initrd.sh"))
            .arg(cache.join("root/bin/busybox"))
            .arg(&initrd)
            .output()
            .unwrap();
        assert!(out.status.success(), "make-token-initrd.sh: {}", String::from_utf8_lossy(&out.stderr));
    }
    cache
}

/// A token unique to this run and `tag`; the token initrd prints `BOOT-TOKEN-<token>`, a string
/// no script or menu text contains (they only carry `token=<token>`).
pub fn run_token(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{tag}{:x}{nanos:x}", std::process::id())
}

/// `optrom serve …` as a child process in a namespace, its stderr (the log) in a file.
pub struct Serve {
    pub child: Child,
    pub log: PathBuf,
    /// The `SERVICE ADDRESS` lines it printed: service name → port.
    pub ports: Vec<(String, u16)>,
}

impl Serve {
    /// Starts `exe serve ARGS` in `ns` and waits until it has printed a line for each of
    /// `services` (e.g. `["tftp", "http", "dhcp"]`).
    pub fn start(ns: &Netns, exe: &Path, args: &[&str], services: &[&str], log: &Path) -> Serve {
        use std::io::BufRead as _;
        let mut child = ns
            .command(exe)
            .arg("serve")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut ports = Vec::new();
        while !services.iter().all(|s| ports.iter().any(|(n, _): &(String, u16)| n == s)) {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!(
                    "optrom serve {args:?} printed {ports:?}, then ended:\n{}",
                    std::fs::read_to_string(log).unwrap()
                );
            };
            let (name, addr) = line.split_once(' ').unwrap();
            ports.push((name.to_string(), addr.rsplit(':').next().unwrap().parse().unwrap()));
        }
        Serve { child, log: log.to_path_buf(), ports }
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} in {:?}", self.ports)).1
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        sh(&["kill", "-TERM", &self.child.id().to_string()]);
        self.child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// dnsmasq as a network's own DHCP server (no TFTP, no boot options): `NET.100`–`NET.150` on
/// `iface` in `ns`, with IPv6 router advertisements for `v6prefix` (iPXE waits ~12 s for IPv6
/// autoconfiguration without them). `iface` needs an IPv6 address in that prefix.
pub struct Dnsmasq {
    child: Child,
}

impl Dnsmasq {
    pub fn start(ns: &Netns, iface: &str, net: &str, v6prefix: &str, dir: &Path) -> Dnsmasq {
        let err = dir.join("dnsmasq.err");
        let mut child = ns
            .command("dnsmasq")
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0"])
            // Stay root: the unprivileged user dnsmasq drops to cannot enter a 0700 checkout.
            .arg("--user=root")
            .args([&format!("--interface={iface}"), "--bind-interfaces", "--log-facility=-"])
            .arg(format!("--dhcp-range={net}.100,{net}.150,255.255.255.0,1h"))
            .args(["--enable-ra", &format!("--dhcp-range={v6prefix},ra-only,64")])
            .arg(format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()))
            // Not the shared /var/run/dnsmasq.pid: other dnsmasq instances may run on this host.
            .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        if let Some(status) = child.try_wait().unwrap() {
            panic!("dnsmasq exited ({status}): {}", std::fs::read_to_string(&err).unwrap_or_default());
        }
        Dnsmasq { child }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// QEMU's OVMF arguments (q35, OVMF's code and a private copy of its variable store in `dir`).
pub fn ovmf_args(dir: &Path, name: &str) -> Vec<String> {
    let vars = dir.join(format!("{name}-vars.fd"));
    std::fs::copy(OVMF_VARS, &vars).unwrap();
    vec![
        "-machine".into(),
        "q35".into(),
        "-drive".into(),
        format!("if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"),
        "-drive".into(),
        format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
    ]
}

/// An x86_64 TCG guest in a namespace (`-accel tcg`: iPXE dies under KVM) with its serial
/// console in `DIR/NAME.serial`; killed on drop.
pub struct Guest {
    pub name: String,
    child: Child,
    serial: PathBuf,
    started: Instant,
}

impl Guest {
    /// Starts `qemu-system-x86_64` with `args` after the common ones (TCG, no display, no
    /// reboot, serial to the file).
    pub fn start(ns: &Netns, dir: &Path, name: &str, args: &[String]) -> Guest {
        let serial = dir.join(format!("{name}.serial"));
        let child = ns
            .command("qemu-system-x86_64")
            .args(["-accel", "tcg", "-cpu", "max", "-display", "none", "-vga", "none", "-monitor", "none"])
            .args(["-no-reboot", "-serial"])
            .arg(format!("file:{}", serial.display()))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.qemu-stderr"))).unwrap())
            .spawn()
            .unwrap();
        Guest { name: name.to_string(), child, serial, started: Instant::now() }
    }

    /// The serial console so far, `\r` removed.
    pub fn serial_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).replace('\r', "")
    }

    /// Waits until `marker` is on the serial console; returns the console text and the time
    /// since the guest started. Panics (with the console and `context()`, e.g. the server log)
    /// after `timeout` or when QEMU exits first.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration, context: impl Fn() -> String) -> (String, Duration) {
        loop {
            let text = self.serial_text();
            if text.contains(marker) {
                let took = self.started.elapsed();
                eprintln!("{}: {marker:?} after {:.1} s", self.name, took.as_secs_f64());
                return (text, took);
            }
            let exited = self.child.try_wait().unwrap();
            if exited.is_some() || self.started.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "{}: {marker:?} not seen after {:?} (QEMU exit: {exited:?})\n--- serial\n{text}\n--- context\n{}",
                    self.name,
                    self.started.elapsed(),
                    context()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Waits (each up to `timeout`), at the same time, until each guest shows `BOOT-TOKEN-<its token>` (each one is
/// stopped as soon as it does, so it frees its CPU for the others); the consoles, in order.
pub fn wait_all<const N: usize>(
    guests: [(Guest, &String); N],
    timeout: Duration,
    context: impl Fn() -> String + Sync,
) -> [String; N] {
    std::thread::scope(|s| {
        let context = &context;
        let waits = guests.map(|(mut guest, token)| {
            s.spawn(move || guest.wait_for(&format!("BOOT-TOKEN-{token}"), timeout, context).0)
        });
        waits.map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An NFSv3 server in `ns`: Debian's nfs-ganesha (userspace, VFS backend) exporting `export`
/// read-write without root squashing, with its own rpcbind. Both run in a private mount
/// namespace with an empty /run, so they never touch the host's rpcbind socket; both are
/// stopped on drop.
pub struct NfsServer {
    child: Child,
    pub log: PathBuf,
}

impl NfsServer {
    pub fn start(ns: &Netns, export: &Path, dir: &Path) -> NfsServer {
        let config = dir.join("ganesha.conf");
        let log = dir.join("ganesha.log");
        std::fs::write(
            &config,
            format!(
                "NFS_CORE_PARAM {{ Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; }}\n\
                 NFSV4 {{ Graceless = true; }}\n\
                 EXPORT {{ Export_Id = 1; Path = {export}; Pseudo = /export; Access_Type = RW; \
                 Squash = No_Root_Squash; Protocols = 3; Transports = TCP, UDP; SecType = sys; \
                 FSAL {{ Name = VFS; }} }}\n",
                export = export.display()
            ),
        )
        .unwrap();
        let script = format!(
            "mount -t tmpfs -o mode=0755 optrom-nfs-run /run || exit 1; rpcbind -f -w & r=$!; \
             trap 'kill $r $g; wait' TERM; while [ ! -S /run/rpcbind.sock ]; do sleep 0.1; done; \
             ganesha.nfsd -F -L {} -f {} -p {} & g=$!; wait $g",
            log.display(),
            config.display(),
            dir.join("ganesha.pid").display()
        );
        let child = ns
            .command("unshare")
            .args(["--mount", "sh", "-c", &script])
            .stdout(std::fs::File::create(dir.join("ganesha.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("ganesha.err")).unwrap())
            .spawn()
            .unwrap();
        let server = NfsServer { child, log };
        let t = Instant::now();
        while !std::fs::read_to_string(&server.log).unwrap_or_default().contains("NFS SERVER INITIALIZED") {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "nfs-ganesha did not start:\n{}\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default(),
                std::fs::read_to_string(dir.join("ganesha.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }
}

impl Drop for NfsServer {
    fn drop(&mut self) {
        // `ip netns exec` and unshare exec the shell, which stops and reaps both daemons (each
        // in the foreground: a daemonising rpcbind would escape it).
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).output();
        let _ = self.child.wait();
    }
}
