//! Servers as child processes, so a test can SIGTERM or `kill -9` them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::netns::{Netns, sh};

/// The DHCP server as a child process in a namespace: the ignored test `dhcp_server_child` of
/// the test binary `exe`, configured by `OPTROM_DHCP_CHILD`, logging to `log`. Killed on drop.
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
}

impl Server {
    /// Starts it and waits (30 s at most) for `dhcp service up` in its log.
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

    /// The log so far.
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

/// `<optrom> serve <args…>` in `ns` (stderr to `log`); returns the child and the
/// `(service, port)` lines it printed on stdout once every service is bound: read until `http`
/// and, unless there is no `--dhcp` or it is `--dhcp off`, `dhcp` have been announced. Panics
/// with the log if the server ends first.
pub fn optrom_serve(ns: &Netns, optrom: &str, args: &[&str], log: &Path) -> (Child, Vec<(String, u16)>) {
    let mut child = ns
        .command(optrom)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let dhcp = args.windows(2).any(|w| w[0] == "--dhcp" && w[1] != "off");
    let mut ports: Vec<(String, u16)> = Vec::new();
    let announced = |ports: &[(String, u16)], name: &str| ports.iter().any(|(n, _)| n == name);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        let Some((name, addr)) = line.split_once(' ') else { continue };
        ports.push((name.to_string(), addr.rsplit(':').next().unwrap().parse().unwrap()));
        if announced(&ports, "http") && (!dhcp || announced(&ports, "dhcp")) {
            break;
        }
    }
    assert!(
        announced(&ports, "http") && (!dhcp || announced(&ports, "dhcp")),
        "optrom serve {args:?} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    (child, ports)
}

/// The port of `name` in [`optrom_serve`]'s list.
pub fn port(ports: &[(String, u16)], name: &str) -> u16 {
    ports.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} in {ports:?}")).1
}

/// SIGTERM to `child`, then its exit status.
pub fn sigterm(mut child: Child) -> ExitStatus {
    sh(&["kill", "-TERM", &child.id().to_string()]);
    child.wait().unwrap()
}
