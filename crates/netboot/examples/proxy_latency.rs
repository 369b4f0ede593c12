//! Benchmark: proxyDHCP answer latency. Starts the proxy service on loopback (unprivileged
//! ports), sends N DISCOVERs one at a time — the captured real ones from tests/data in turn
//! (BIOS iPXE, UEFI PXE, UEFI HTTP, arm64), with fresh xids — and measures send-to-reply time
//! per answer. Prints p50/p90/p99/max beside the goal (p99 < 10 ms).
//!
//! `cargo run --release -p optrom-netboot --example proxy_latency [-- N [log]]` (default 10000;
//! `log` formats the per-offer log line as the server does, into a sink)
//!
//! Replies come back by unicast because the DISCOVERs carry ciaddr 127.0.0.1 (loopback has no
//! broadcast); everything else — parse, classify, decide, build, encode, send — is the path a
//! real DISCOVER takes.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use optrom_netboot::dhcp::{DhcpConfig, DhcpMetrics, DhcpMode, DhcpService};
use tokio::net::UdpSocket;

const CAPTURES: &[&str] = &[
    "seabios-ipxe-bios-discover.bin",
    "ovmf-x64-pxe-discover.bin",
    "ovmf-ipxe-efi-discover.bin",
    "ovmf-x64-http-discover.bin",
    "aavmf-arm64-pxe-discover.bin",
    "aavmf-arm64-http-discover.bin",
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let logging = std::env::args().nth(2).as_deref() == Some("log");
    if logging {
        tracing_subscriber::fmt().with_writer(std::io::sink).with_ansi(false).init();
    }
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let packets: Vec<Vec<u8>> = CAPTURES
        .iter()
        .map(|c| {
            let mut p = std::fs::read(format!("{data}/{c}"))?;
            p[12..16].copy_from_slice(&[127, 0, 0, 1]); // ciaddr
            Ok(p)
        })
        .collect::<Result<_, std::io::Error>>()?;

    let client = UdpSocket::bind("127.0.0.1:0").await?;
    let mut config = DhcpConfig::new(DhcpMode::Proxy);
    config.address = Some(Ipv4Addr::LOCALHOST);
    config.server_port = 0;
    config.binl_port = None;
    config.client_port = client.local_addr()?.port();
    let metrics = Arc::new(DhcpMetrics::default());
    let service = DhcpService::bind(config, metrics.clone())?;
    let server = (Ipv4Addr::LOCALHOST, service.local_ports().0);
    tokio::spawn(service.run(std::future::pending()));

    let mut lat = Vec::with_capacity(n);
    let mut buf = [0u8; 1500];
    let mut lost = 0;
    let start = Instant::now();
    for i in 0..n {
        let mut p = packets[i % packets.len()].clone();
        p[4..8].copy_from_slice(&(i as u32).to_be_bytes()); // xid
        let t = Instant::now();
        client.send_to(&p, server).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(1), client.recv_from(&mut buf)).await {
                Ok(Ok((len, _))) if len >= 8 && buf[4..8] == (i as u32).to_be_bytes() => {
                    lat.push(t.elapsed());
                    break;
                }
                Ok(_) => continue, // a late reply to an earlier xid
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
    }
    let wall = start.elapsed();
    lat.sort();
    let pct = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1];
    let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
    println!(
        "proxyDHCP answer latency, {n} DISCOVERs on loopback ({} kinds of captured client), log lines {}",
        packets.len(),
        if logging { "formatted" } else { "off" }
    );
    println!("| metric | value (ms) | goal |");
    println!("|---|---:|---|");
    println!("| p50 | {} | |", ms(pct(0.50)));
    println!("| p90 | {} | |", ms(pct(0.90)));
    println!("| p99 | {} | < 10 ms |", ms(pct(0.99)));
    println!("| max | {} | |", ms(*lat.last().unwrap_or(&Duration::ZERO)));
    println!("answered {} of {n}, lost {lost}, {:.0} answers/s", lat.len(), lat.len() as f64 / wall.as_secs_f64());
    if lost > 0 {
        std::process::exit(1);
    }
    Ok(())
}
