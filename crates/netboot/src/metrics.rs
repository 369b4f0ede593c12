//! Counters shared by every service, rendered in the Prometheus text exposition
//! format (version 0.0.4) for `GET /metrics`. Plain atomics: the hot TFTP path adds
//! to them per block, so they must cost no more than an uncontended add.
//!
//! Services that live outside this crate's TFTP and HTTP (DHCP) register a
//! [`MetricSource`] with [`Metrics::register`] and are rendered after the built-in
//! families.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Add one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Add `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Add one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Subtract one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How a TFTP read request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TftpOutcome {
    /// The last block was acknowledged.
    Complete,
    /// The client aborted right after an OACK answering its `tsize`: EDK2's size probe.
    Probe,
    /// The client sent an ERROR during the transfer.
    ClientAbort,
    /// The client stopped answering.
    Timeout,
    /// The file was refused (not found, outside the root) or the request was bad.
    Refused,
    /// The server shut down mid-transfer.
    Shutdown,
    /// A socket error.
    NetworkError,
}

impl TftpOutcome {
    const ALL: [TftpOutcome; 7] = [
        TftpOutcome::Complete,
        TftpOutcome::Probe,
        TftpOutcome::ClientAbort,
        TftpOutcome::Timeout,
        TftpOutcome::Refused,
        TftpOutcome::Shutdown,
        TftpOutcome::NetworkError,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            TftpOutcome::Complete => "complete",
            TftpOutcome::Probe => "probe",
            TftpOutcome::ClientAbort => "client_abort",
            TftpOutcome::Timeout => "timeout",
            TftpOutcome::Refused => "refused",
            TftpOutcome::Shutdown => "shutdown",
            TftpOutcome::NetworkError => "network_error",
        }
    }
}

/// TFTP counters.
#[derive(Debug, Default)]
pub struct TftpMetrics {
    /// Read requests received (duplicates included).
    pub read_requests: Counter,
    /// Retransmitted RRQs for a transfer already running, ignored.
    pub duplicate_requests: Counter,
    /// Write requests, all refused.
    pub write_requests: Counter,
    /// Datagrams that did not parse.
    pub malformed_packets: Counter,
    /// Requests turned away because `max_transfers` were running.
    pub busy_rejections: Counter,
    /// Transfers by outcome, indexed like [`TftpOutcome::ALL`].
    outcomes: [Counter; 7],
    /// File bytes sent in DATA payloads, first transmissions only.
    pub bytes_sent: Counter,
    /// DATA packets (and OACKs) sent again after a timeout or a partial window ACK.
    pub retransmissions: Counter,
    /// Transfers running now.
    pub active_transfers: Gauge,
}

impl TftpMetrics {
    /// Count a finished transfer.
    pub fn finished(&self, outcome: TftpOutcome) {
        let index = TftpOutcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.outcomes[index].inc();
    }

    /// Transfers that ended with `outcome`.
    pub fn outcome_count(&self, outcome: TftpOutcome) -> u64 {
        TftpOutcome::ALL.iter().position(|o| *o == outcome).map_or(0, |i| self.outcomes[i].get())
    }
}

/// HTTP counters.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    /// Responses by status class: index 0 = 1xx … 4 = 5xx.
    responses: [Counter; 5],
    /// Response body bytes announced by Content-Length (partial for 206).
    pub bytes_sent: Counter,
    /// iPXE scripts answered 503 because the decision was not ready.
    pub scripts_not_ready: Counter,
}

impl HttpMetrics {
    /// Count a response with this status code.
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].inc();
    }

    /// Responses counted in status class `class` (2 for 2xx …).
    pub fn responses_in_class(&self, class: u16) -> u64 {
        self.responses.get(usize::from(class).wrapping_sub(1)).map_or(0, Counter::get)
    }
}

/// More metric families, from a service outside this crate's built-ins.
pub trait MetricSource: Send + Sync {
    /// Append families in Prometheus text format (use [`PrometheusText`]).
    fn render(&self, out: &mut PrometheusText);
}

/// A Prometheus text-format writer that emits `# HELP`/`# TYPE` once per family.
#[derive(Debug, Default)]
pub struct PrometheusText {
    text: String,
}

impl PrometheusText {
    /// Start a family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        self
    }

    /// One sample; `labels` are (name, value) pairs, values escaped as the format requires.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let escaped = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                let _ = write!(self.text, "{k}=\"{escaped}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
        self
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// The text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// Every counter of a running server.
#[derive(Default)]
pub struct Metrics {
    /// TFTP.
    pub tftp: TftpMetrics,
    /// HTTP.
    pub http: HttpMetrics,
    sources: RwLock<Vec<Arc<dyn MetricSource>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("tftp", &self.tftp).field("http", &self.http).finish_non_exhaustive()
    }
}

impl Metrics {
    /// Add a service's own families to the output.
    pub fn register(&self, source: Arc<dyn MetricSource>) {
        self.sources.write().unwrap_or_else(|e| e.into_inner()).push(source);
    }

    /// All families, Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = PrometheusText::default();
        let t = &self.tftp;
        out.single("optrom_tftp_read_requests_total", "counter", "TFTP read requests received.", t.read_requests.get());
        out.single(
            "optrom_tftp_duplicate_requests_total",
            "counter",
            "Retransmitted TFTP read requests for a transfer already running (ignored).",
            t.duplicate_requests.get(),
        );
        out.single(
            "optrom_tftp_write_requests_total",
            "counter",
            "TFTP write requests (all refused).",
            t.write_requests.get(),
        );
        out.single(
            "optrom_tftp_malformed_packets_total",
            "counter",
            "TFTP datagrams that did not parse.",
            t.malformed_packets.get(),
        );
        out.single(
            "optrom_tftp_busy_rejections_total",
            "counter",
            "TFTP requests refused because the transfer limit was reached.",
            t.busy_rejections.get(),
        );
        out.family("optrom_tftp_transfers_total", "counter", "TFTP transfers by outcome.");
        for outcome in TftpOutcome::ALL {
            out.sample("optrom_tftp_transfers_total", &[("outcome", outcome.label())], t.outcome_count(outcome));
        }
        out.single("optrom_tftp_bytes_sent_total", "counter", "File bytes sent over TFTP.", t.bytes_sent.get());
        out.single(
            "optrom_tftp_retransmissions_total",
            "counter",
            "TFTP packets sent again after a timeout or a partial window acknowledgement.",
            t.retransmissions.get(),
        );
        out.single("optrom_tftp_active_transfers", "gauge", "TFTP transfers running now.", t.active_transfers.get());
        out.family("optrom_http_responses_total", "counter", "HTTP responses by status class.");
        for class in 1..=5u16 {
            let label = format!("{class}xx");
            out.sample("optrom_http_responses_total", &[("class", &label)], self.http.responses_in_class(class));
        }
        out.single(
            "optrom_http_bytes_sent_total",
            "counter",
            "HTTP response body bytes (Content-Length).",
            self.http.bytes_sent.get(),
        );
        out.single(
            "optrom_http_scripts_not_ready_total",
            "counter",
            "iPXE script requests answered 503 + Retry-After.",
            self.http.scripts_not_ready.get(),
        );
        for source in self.sources.read().unwrap_or_else(|e| e.into_inner()).iter() {
            source.render(&mut out);
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_once_with_labels() {
        let m = Metrics::default();
        m.tftp.finished(TftpOutcome::Probe);
        m.tftp.bytes_sent.add(1468);
        m.http.response(206);
        let text = m.render();
        assert!(text.contains("optrom_tftp_transfers_total{outcome=\"probe\"} 1\n"), "{text}");
        assert!(text.contains("optrom_tftp_bytes_sent_total 1468\n"));
        assert!(text.contains("optrom_http_responses_total{class=\"2xx\"} 1\n"));
        assert_eq!(text.matches("# TYPE optrom_tftp_transfers_total counter").count(), 1);
    }
}
