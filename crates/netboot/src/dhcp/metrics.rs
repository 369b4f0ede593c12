//! DHCP counters, rendered into the server's `GET /metrics` (Prometheus text format) through
//! [`crate::metrics::MetricSource`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::lease::{LeaseState, LeaseStore};
use crate::metrics::{MetricSource, PrometheusText};

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

    /// Reads one counter (tests, benchmarks).
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn render_counters(&self, out: &mut PrometheusText) {
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
            out.single(&format!("optrom_dhcp_{name}_total"), "counter", help, Self::get(c));
        }
    }

    /// The counters alone in Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        let mut out = PrometheusText::default();
        self.render_counters(&mut out);
        out.finish()
    }
}

/// What the DHCP service registers with the server's metrics: its counters and, in full mode,
/// the number of bound, unexpired leases (read from the store at scrape time).
pub struct DhcpMetricSource {
    /// The counters.
    pub metrics: Arc<DhcpMetrics>,
    /// The lease store (full mode).
    pub store: Option<Arc<dyn LeaseStore>>,
}

impl MetricSource for DhcpMetricSource {
    fn render(&self, out: &mut PrometheusText) {
        self.metrics.render_counters(out);
        if let Some(store) = &self.store {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let bound = store
                .all()
                .map(|all| all.iter().filter(|l| l.state == LeaseState::Bound && l.expires > now).count())
                .unwrap_or(0);
            out.single("optrom_dhcp_leases", "gauge", "bound, unexpired DHCP leases", bound as u64);
        }
    }
}
