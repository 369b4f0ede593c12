//! How long the boot policy takes per decision, beside the budget each decision has:
//! the DHCP-stage boot file must be ready well inside the ~2 s iPXE waits for ProxyDHCP offers
//! (`DHCP_DISC_PROXY_TIMEOUT_SEC`), a script well inside one HTTP round trip, and unpacking
//! Debian's Xen must not hold up the kernel download it precedes.
//!
//!   cargo run --release -p optrom-netboot --example policy_bench [-- ROUNDS]
//!
//! Uses `examples/netboot/*.toml` and, when present, `target/boot-packages` from
//! `scripts/fetch-boot-packages.sh` for the gunzip row.

use std::path::Path;
use std::time::{Duration, Instant};

use optrom_netboot::policy::{BootConfig, ClientArch, ClientFacts, FirmwareClass, Policy, ServerUrls};

fn per_call(rounds: u32, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    start.elapsed() / rounds
}

fn main() {
    let rounds: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let urls = ServerUrls::new("http://10.0.0.1:8080");
    println!("{:<44} {:>12} {:>14}", "operation", "per call", "budget");
    for name in ["xen-nfs.toml", "debian-installer.toml", "multiarch.toml"] {
        let path = repo.join("examples/netboot").join(name);
        let text = std::fs::read_to_string(&path).expect("example config");
        let parse = per_call(rounds / 10 + 1, || {
            BootConfig::parse(name, &text).expect("valid");
        });
        println!("{:<44} {:>10.1} µs {:>14}", format!("parse {name}"), parse.as_secs_f64() * 1e6, "(startup)");
        let policy = Policy::new(BootConfig::parse(name, &text).expect("valid"));
        let pxe = ClientFacts::anonymous(ClientArch::X64, FirmwareClass::Pxe);
        let t = per_call(rounds, || {
            let _ = policy.boot_file(&pxe, &urls);
        });
        println!(
            "{:<44} {:>10.2} µs {:>14}",
            format!("  DHCP boot file ({name})"),
            t.as_secs_f64() * 1e6,
            "2 s (iPXE)"
        );
        let mut facts = ClientFacts::anonymous(ClientArch::Bios, FirmwareClass::Ipxe);
        facts.mac = Some("52:54:00:12:34:56".parse().expect("mac"));
        let t = per_call(rounds, || {
            let _ = policy.explain(&facts, &urls);
        });
        println!("{:<44} {:>10.1} µs {:>14}", format!("  iPXE script ({name})"), t.as_secs_f64() * 1e6, "120 s (iPXE)");
        let t = per_call(rounds / 100 + 1, || {
            let _ = policy.check(&urls);
        });
        println!("{:<44} {:>10.1} µs {:>14}", format!("  --check matrix ({name})"), t.as_secs_f64() * 1e6, "(startup)");
    }
    let xen = repo.join("target/boot-packages/root/boot/xen-4.17-amd64.gz");
    if xen.is_file() {
        let start = Instant::now();
        let cache = optrom_netboot::policy::xen::GunzipCache::default();
        let bytes = cache.get(&xen).expect("gunzip");
        let cold = start.elapsed();
        let warm = per_call(100, || {
            let _ = cache.get(&xen);
        });
        println!(
            "{:<44} {:>10.1} ms {:>14}",
            format!("gunzip Debian xen-4.17 ({} KiB), first", bytes.len() / 1024),
            cold.as_secs_f64() * 1e3,
            "(once)"
        );
        println!("{:<44} {:>10.1} µs {:>14}", "  cached (stat + lookup)", warm.as_secs_f64() * 1e6, "per request");
    } else {
        println!("(no target/boot-packages: run scripts/fetch-boot-packages.sh for the gunzip rows)");
    }
}
