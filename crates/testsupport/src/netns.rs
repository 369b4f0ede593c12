//! Network namespaces, bridges, veth pairs and taps that a test creates and removes.

use std::process::Command;

/// Runs `args[0]` with the rest as arguments; panics with its stderr unless it succeeds.
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A network namespace, deleted (with its devices) on drop.
pub struct Netns(pub String);

impl Netns {
    /// A fresh namespace `name` (a leftover of a killed run is deleted first), loopback up.
    pub fn new(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        sh(&["ip", "netns", "add", name]);
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
        Netns(name.to_string())
    }

    /// `ip -n <ns> <args…>`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let mut a = vec!["ip", "-n", &self.0];
        a.extend_from_slice(args);
        sh(&a);
    }

    /// A command run inside the namespace (`ip netns exec` execs it: the child's pid is the
    /// program's).
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

/// A tap device `tap` on `ns`'s br0, for a QEMU guest ([`crate::qemu_on_tap`]).
pub fn add_tap(ns: &Netns, tap: &str) {
    ns.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
    ns.ip(&["link", "set", tap, "master", "br0", "up"]);
}
