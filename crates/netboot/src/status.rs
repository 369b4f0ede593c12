//! Where each machine is in its boot: every service reports what a client did (a DHCP
//! lease, a port-4011 request, a TFTP boot file, the iPXE script, the kernel and modules over
//! HTTP, a failure with its reason) to one [`BootTracker`], which the HTTP service renders as the
//! status page at `GET /` — plain HTML that refreshes itself, no JavaScript.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::policy::{ClientArch, FirmwareClass, Mac};

/// The boot steps, in the order a netboot client passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// A DHCP offer or lease (full DHCP) or a proxy offer.
    Dhcp,
    /// A boot-server request on UDP port 4011 (UEFI PXE's BINL path).
    ProxyDhcp,
    /// The iPXE boot file over TFTP (or HTTP for UEFI HTTP boot).
    BootFile,
    /// The iPXE script.
    Script,
    /// The kernel (or hypervisor), initrds and modules.
    Kernel,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 5] = [Step::Dhcp, Step::ProxyDhcp, Step::BootFile, Step::Script, Step::Kernel];

    /// What the status page calls the step.
    pub fn label(self) -> &'static str {
        match self {
            Step::Dhcp => "DHCP",
            Step::ProxyDhcp => "proxy/4011",
            Step::BootFile => "boot file",
            Step::Script => "iPXE script",
            Step::Kernel => "kernel fetched",
        }
    }
}

/// One thing a client did or that went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// DHCP saw the client (with what its request said) and perhaps gave it an address.
    Dhcp {
        /// SMBIOS UUID (option 97).
        uuid: Option<String>,
        /// Architecture (option 93).
        arch: Option<ClientArch>,
        /// Client class.
        firmware: Option<FirmwareClass>,
        /// The leased address (full DHCP) or none (proxy).
        lease: Option<IpAddr>,
    },
    /// A port-4011 boot-server request.
    ProxyDhcp,
    /// A boot file was sent.
    BootFile {
        /// Its path.
        path: String,
    },
    /// A script was served.
    Script {
        /// What it boots (`menu `main``, `item `xen``).
        decision: String,
    },
    /// A kernel, hypervisor, initrd or module was sent.
    Kernel {
        /// Its path.
        path: String,
    },
    /// Something failed.
    Failed {
        /// The step that failed.
        step: Step,
        /// Why.
        reason: String,
    },
}

/// Everything known about one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientStatus {
    /// The client.
    pub mac: Mac,
    /// SMBIOS UUID, when reported.
    pub uuid: Option<String>,
    /// Architecture, when reported.
    pub arch: Option<ClientArch>,
    /// Client class of the last DHCP request.
    pub firmware: Option<FirmwareClass>,
    /// The last address it used.
    pub address: Option<IpAddr>,
    /// When each step was last reached, and what it was (file, decision).
    pub steps: BTreeMap<Step, (SystemTime, String)>,
    /// Failures, newest last (at most [`MAX_FAILURES`]).
    pub failures: Vec<(SystemTime, Step, String)>,
    /// Last activity.
    pub last_seen: SystemTime,
}

impl ClientStatus {
    /// The furthest step reached.
    pub fn reached(&self) -> Option<Step> {
        self.steps.keys().next_back().copied()
    }
}

/// Failures kept per client.
pub const MAX_FAILURES: usize = 8;

/// The record of every client seen, shared by all services.
#[derive(Debug, Default)]
pub struct BootTracker {
    clients: Mutex<BTreeMap<Mac, ClientStatus>>,
    addresses: Mutex<BTreeMap<IpAddr, Mac>>,
}

impl BootTracker {
    /// An empty tracker.
    pub fn new() -> BootTracker {
        BootTracker::default()
    }

    /// Records an event for `mac`, seen from `address` (if known).
    pub fn record(&self, mac: Mac, address: Option<IpAddr>, event: Event) {
        self.record_at(mac, address, event, SystemTime::now());
    }

    /// [`BootTracker::record`] with an explicit time.
    pub fn record_at(&self, mac: Mac, address: Option<IpAddr>, event: Event, now: SystemTime) {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let client = clients.entry(mac).or_insert_with(|| ClientStatus {
            mac,
            uuid: None,
            arch: None,
            firmware: None,
            address: None,
            steps: BTreeMap::new(),
            failures: Vec::new(),
            last_seen: now,
        });
        client.last_seen = now;
        let mut address = address;
        match event {
            Event::Dhcp { uuid, arch, firmware, lease } => {
                client.uuid = uuid.or(client.uuid.take());
                client.arch = arch.or(client.arch);
                client.firmware = firmware.or(client.firmware);
                address = lease.or(address);
                client.steps.insert(Step::Dhcp, (now, String::new()));
            }
            Event::ProxyDhcp => {
                client.steps.insert(Step::ProxyDhcp, (now, String::new()));
            }
            Event::BootFile { path } => {
                client.steps.insert(Step::BootFile, (now, path));
            }
            Event::Script { decision } => {
                client.steps.insert(Step::Script, (now, decision));
            }
            Event::Kernel { path } => {
                client.steps.insert(Step::Kernel, (now, path));
            }
            Event::Failed { step, reason } => {
                client.failures.push((now, step, reason));
                if client.failures.len() > MAX_FAILURES {
                    client.failures.remove(0);
                }
            }
        }
        if let Some(a) = address {
            client.address = Some(a);
            self.addresses.lock().unwrap_or_else(|p| p.into_inner()).insert(a, mac);
        }
    }

    /// The MAC last seen at `address` (for TFTP and HTTP, which see only addresses).
    pub fn mac_of(&self, address: IpAddr) -> Option<Mac> {
        self.addresses.lock().unwrap_or_else(|p| p.into_inner()).get(&address).copied()
    }

    /// Every client, most recently active first.
    pub fn snapshot(&self) -> Vec<ClientStatus> {
        let mut all: Vec<ClientStatus> =
            self.clients.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.mac.cmp(&b.mac)));
        all
    }

    /// The status page.
    pub fn render_html(&self) -> String {
        render_html(&self.snapshot(), SystemTime::now())
    }
}

/// HTML-escapes text for element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `HH:MM:SS` UTC (the page is for watching a boot in progress; the date is in the header).
fn clock(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// Renders the page for these clients.
pub fn render_html(clients: &[ClientStatus], now: SystemTime) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\"><title>optrom serve: clients</title>\
         <style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}\
         td,th{border:1px solid #999;padding:.2em .5em;vertical-align:top}\
         .done{background:#cfc}.todo{color:#999}.failed{background:#fcc}</style></head><body>\n",
    );
    let _ = writeln!(
        html,
        "<h1>optrom serve</h1><p>{} client(s) seen; page made at {} UTC.</p>",
        clients.len(),
        clock(now)
    );
    html.push_str("<table id=\"clients\"><thead><tr><th>MAC</th><th>UUID</th><th>arch</th><th>firmware</th><th>address</th><th>step reached</th>");
    for step in Step::ALL {
        let _ = write!(html, "<th>{}</th>", escape(step.label()));
    }
    html.push_str("<th>failures</th></tr></thead><tbody>\n");
    for c in clients {
        let mac = c.mac.to_string();
        let _ = write!(html, "<tr id=\"client-{}\" data-mac=\"{}\">", mac.replace(':', "-"), escape(&mac));
        let _ = write!(html, "<td class=\"mac\">{}</td>", escape(&mac));
        let _ = write!(html, "<td>{}</td>", escape(c.uuid.as_deref().unwrap_or("")));
        let _ = write!(html, "<td>{}</td>", c.arch.map_or("", |a| a.name()));
        let _ = write!(html, "<td>{}</td>", c.firmware.map_or("", |f| f.name()));
        let _ = write!(html, "<td>{}</td>", c.address.map(|a| a.to_string()).unwrap_or_default());
        let reached = c.reached().map_or("", |s| s.label());
        let _ = write!(html, "<td class=\"reached\">{}</td>", escape(reached));
        for step in Step::ALL {
            match c.steps.get(&step) {
                Some((t, detail)) => {
                    let _ = write!(
                        html,
                        "<td class=\"done\" title=\"{}\">{} {}</td>",
                        escape(detail),
                        clock(*t),
                        escape(detail)
                    );
                }
                None => html.push_str("<td class=\"todo\">–</td>"),
            }
        }
        if c.failures.is_empty() {
            html.push_str("<td></td>");
        } else {
            html.push_str("<td class=\"failed\"><ul>");
            for (t, step, reason) in &c.failures {
                let _ = write!(html, "<li>{} {}: {}</li>", clock(*t), escape(step.label()), escape(reason));
            }
            html.push_str("</ul></td>");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}
