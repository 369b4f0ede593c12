//! DHCP counters, rendered in the Prometheus text format for `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one DHCP service. Cheap to bump from any task.
#[derive(Debug, Default)]
pub struct DhcpMetrics {
    /// Datagrams received on the DHCP and boot server ports.
    pub received: AtomicU64,
    /// Packets that failed to parse (malformed): dropped.
    pub malformed: AtomicU64,
    /// Well-formed requests not answered (not a netboot client, not for us, policy said ignore).
    pub ignored: AtomicU64,
    /// DHCPOFFERs sent (proxy or full).
    pub offers: AtomicU64,
    /// DHCPACKs sent on port 67 (full mode).
    pub acks: AtomicU64,
    /// DHCPNAKs sent.
    pub naks: AtomicU64,
    /// Port-4011 (BINL) acknowledgements.
    pub binl_acks: AtomicU64,
    /// DHCPDECLINEs received.
    pub declines: AtomicU64,
    /// DHCPRELEASEs received.
    pub releases: AtomicU64,
    /// DHCPINFORMs answered.
    pub informs: AtomicU64,
    /// Send or lease-store failures.
    pub errors: AtomicU64,
}

impl DhcpMetrics {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the counters in the Prometheus text exposition format.
    pub fn render_prometheus(&self, out: &mut String) {
        let rows: [(&str, &str, &AtomicU64); 11] = [
            ("received", "DHCP packets received", &self.received),
            ("malformed", "DHCP packets dropped as malformed", &self.malformed),
            ("ignored", "DHCP requests not answered", &self.ignored),
            ("offers", "DHCPOFFERs sent", &self.offers),
            ("acks", "DHCPACKs sent", &self.acks),
            ("naks", "DHCPNAKs sent", &self.naks),
            ("binl_acks", "port-4011 boot server DHCPACKs sent", &self.binl_acks),
            ("declines", "DHCPDECLINEs received", &self.declines),
            ("releases", "DHCPRELEASEs received", &self.releases),
            ("informs", "DHCPINFORMs answered", &self.informs),
            ("errors", "DHCP send or lease store errors", &self.errors),
        ];
        for (name, help, c) in rows {
            let _ = writeln!(out, "# HELP optrom_dhcp_{name}_total {help}");
            let _ = writeln!(out, "# TYPE optrom_dhcp_{name}_total counter");
            let _ = writeln!(out, "optrom_dhcp_{name}_total {}", c.load(Ordering::Relaxed));
        }
    }

    /// Reads one counter (tests, benchmarks).
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
