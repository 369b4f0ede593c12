//! Shared by the network tests: everything of `optrom-testsupport` (the skip rule, network
//! namespaces, veth pairs, bridges and taps the test creates and removes, the DHCP server as a
//! child process so it can be SIGTERMed and `kill -9`ed, dnsmasq, QEMU on a tap), plus what is
//! this crate's own: scratch directories under this test target's tmp dir and the DHCP server
//! the child process runs.
#![allow(dead_code)]

pub use optrom_testsupport::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A scratch directory under the target dir, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    scratch_in(Path::new(env!("CARGO_TARGET_TMPDIR")), name)
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
