//! The running DHCP service: sockets bound to a named interface (SO_BINDTODEVICE through
//! socket2's safe `bind_device`), the port-67 loop (proxy or full mode) and the port-4011 boot
//! server loop, one log line per protocol step keyed by MAC, and clean shutdown.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dhcproto::v4::{Message, MessageType};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tracing::{info, warn};

use super::classify::Firmware;
use super::full::{FullOutcome, FullServer, PoolConfig};
use super::lease::{LeaseStore, SqliteLeaseStore, StoreError};
use super::metrics::{DhcpMetricSource, DhcpMetrics};
use super::packet::Request;
use super::policy::{BootPolicy, Decision, DefaultBootTable};
use super::reply::{self, ProxyStyle};
use crate::config::{DhcpMode as ServeDhcpMode, ServeConfig};
use crate::server::{ClientTable, Context, Service, ServiceFuture};

/// Which DHCP service runs.
#[derive(Debug, Clone)]
pub enum DhcpMode {
    /// No DHCP (another server hands out boot files).
    Off,
    /// ProxyDHCP next to the network's DHCP server: boot information only, no addresses.
    Proxy,
    /// A full DHCP server with this pool.
    Full(PoolConfig),
}

/// Everything the DHCP service needs. Build it with [`DhcpConfig::new`] and adjust the fields.
#[derive(Clone)]
pub struct DhcpConfig {
    /// Off, proxy or full (with its pool).
    pub mode: DhcpMode,
    /// Interface to bind to (SO_BINDTODEVICE); `None` listens on all interfaces.
    pub interface: Option<String>,
    /// The server's address (siaddr, option 54, URLs); `None` takes the interface's first IPv4.
    pub address: Option<Ipv4Addr>,
    /// DHCP server port (67); the service listens here.
    pub server_port: u16,
    /// DHCP client port (68); broadcast replies go here.
    pub client_port: u16,
    /// PXE boot server (BINL) port (4011); `None` disables it.
    pub binl_port: Option<u16>,
    /// How proxy offers tell PXE clients their boot file.
    pub proxy_style: ProxyStyle,
    /// Where the lease database lives (full mode): `<state_dir>/leases.sqlite3`.
    pub state_dir: PathBuf,
    /// The HTTP port the default boot table puts into URLs.
    pub http_port: u16,
    /// The boot policy; `None` uses [`DefaultBootTable`] for the server address and HTTP port.
    pub policy: Option<Arc<dyn BootPolicy>>,
}

impl std::fmt::Debug for DhcpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpConfig")
            .field("mode", &self.mode)
            .field("interface", &self.interface)
            .field("address", &self.address)
            .field("ports", &(self.server_port, self.client_port, self.binl_port))
            .field("proxy_style", &self.proxy_style)
            .field("state_dir", &self.state_dir)
            .field("http_port", &self.http_port)
            .field("policy", &self.policy.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl DhcpConfig {
    /// Standard ports (67/68/4011, HTTP 80), auto proxy style, state under `/var/lib/optrom`.
    pub fn new(mode: DhcpMode) -> DhcpConfig {
        DhcpConfig {
            mode,
            interface: None,
            address: None,
            server_port: 67,
            client_port: 68,
            binl_port: Some(4011),
            proxy_style: ProxyStyle::Auto,
            state_dir: PathBuf::from("/var/lib/optrom"),
            http_port: 80,
            policy: None,
        }
    }
}

/// Errors that stop the service from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum DhcpError {
    #[error("DHCP socket on {what}: {source}")]
    /// A socket could not be created or bound.
    Socket {
        /// `interface:port`.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    #[error("interface {0}: no IPv4 address; give the server address (--address)")]
    /// The interface has no IPv4 address.
    NoAddress(String),
    #[error("no server address: give --address or --interface")]
    /// Neither an address nor an interface was given.
    NoInterface,
    #[error("state directory {path}: {source}")]
    /// The state directory could not be created.
    StateDir {
        /// The directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    #[error(transparent)]
    /// The lease store failed.
    Store(#[from] StoreError),
}

/// A bound, ready DHCP service; [`DhcpService::run`] serves until shutdown.
pub struct DhcpService {
    dhcp: UdpSocket,
    binl: Option<UdpSocket>,
    server: Ipv4Addr,
    config: DhcpConfig,
    policy: Arc<dyn BootPolicy>,
    full: Option<Arc<FullServer>>,
    metrics: Arc<DhcpMetrics>,
    /// IP → MAC for the other services' log lines (set when run as a [`Service`]).
    clients: Option<Arc<ClientTable>>,
    tracker: Option<Arc<crate::status::BootTracker>>,
}

/// The first IPv4 address of `interface`.
pub fn interface_ipv4(interface: &str) -> Option<Ipv4Addr> {
    interface_ipv4_net(interface).map(|(ip, _)| ip)
}

/// The first IPv4 address of `interface` and its netmask.
pub fn interface_ipv4_net(interface: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    nix::ifaddrs::getifaddrs().ok()?.filter(|a| a.interface_name == interface).find_map(|a| {
        let ip = a.address.and_then(|s| s.as_sockaddr_in().map(|sin| sin.ip()))?;
        let mask =
            a.netmask.and_then(|s| s.as_sockaddr_in().map(|sin| sin.ip())).unwrap_or(Ipv4Addr::new(255, 255, 255, 0));
        Some((ip, mask))
    })
}

/// DHCP settings of `optrom serve` beyond `--dhcp`/`--pool` (TOML table `[dhcp_server]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DhcpSettings {
    /// DHCP server port.
    pub port: u16,
    /// DHCP client port (where broadcast replies go).
    pub client_port: u16,
    /// PXE boot server port; 0 disables it.
    pub binl_port: u16,
    /// `auto`, `pxe10` or `binl`.
    pub proxy_style: String,
    /// Full mode: lease time in seconds.
    pub lease_secs: u64,
    /// Full mode: netmask (default: the interface's, else 255.255.255.0).
    pub netmask: Option<Ipv4Addr>,
    /// Full mode: default router (option 3).
    pub router: Option<Ipv4Addr>,
    /// Full mode: DNS servers (option 6).
    pub dns: Vec<Ipv4Addr>,
    /// Full mode: static reservations, MAC (`52:54:00:12:34:56`) → address.
    pub reservations: std::collections::BTreeMap<String, Ipv4Addr>,
}

impl Default for DhcpSettings {
    fn default() -> Self {
        DhcpSettings {
            port: 67,
            client_port: 68,
            binl_port: 4011,
            proxy_style: "auto".into(),
            lease_secs: 3600,
            netmask: None,
            router: None,
            dns: Vec::new(),
            reservations: Default::default(),
        }
    }
}

impl DhcpConfig {
    /// The DHCP configuration `optrom serve` runs with: mode, pool, interface, address and
    /// state directory from `serve`, the rest from its `[dhcp_server]` table; boot URLs point at
    /// the HTTP service on `http_port`. The error names the setting that is wrong.
    pub fn from_serve(serve: &ServeConfig, http_port: u16) -> Result<DhcpConfig, String> {
        let s = &serve.dhcp_server;
        let address = match (serve.address, &serve.interface) {
            (Some(std::net::IpAddr::V4(a)), _) if !a.is_unspecified() => Some(a),
            (_, Some(i)) => Some(interface_ipv4(i).ok_or_else(|| {
                format!("--interface {i}: it has no IPv4 address for the DHCP server; give --address")
            })?),
            _ => return Err("--dhcp proxy/full needs --interface (or --address): the address clients boot from".into()),
        };
        let mode = match serve.dhcp {
            ServeDhcpMode::Off => DhcpMode::Off,
            ServeDhcpMode::Proxy => DhcpMode::Proxy,
            ServeDhcpMode::Full => {
                let pool = serve.pool.ok_or("--dhcp full needs --pool START-END")?;
                let netmask = s
                    .netmask
                    .or_else(|| serve.interface.as_deref().and_then(interface_ipv4_net).map(|(_, m)| m))
                    .unwrap_or(Ipv4Addr::new(255, 255, 255, 0));
                let mut p = PoolConfig::new(pool.start, pool.end, netmask);
                let m = u32::from(netmask);
                if u32::from(pool.start) & m != u32::from(pool.end) & m {
                    return Err(format!("--pool {}-{}: not within one subnet of mask {netmask}", pool.start, pool.end));
                }
                p.router = s.router;
                p.dns = s.dns.clone();
                p.lease_time = std::time::Duration::from_secs(s.lease_secs.max(60));
                for (mac, ip) in &s.reservations {
                    let mac = mac.parse().map_err(|e| format!("[dhcp_server] reservations: {e}"))?;
                    p.reservations.insert(mac, *ip);
                }
                DhcpMode::Full(p)
            }
        };
        let mut c = DhcpConfig::new(mode);
        c.interface = serve.interface.clone();
        c.address = address;
        c.server_port = s.port;
        c.client_port = s.client_port;
        c.binl_port = (s.binl_port != 0).then_some(s.binl_port);
        c.proxy_style = s.proxy_style.parse().map_err(|e| format!("[dhcp_server] proxy_style: {e}"))?;
        c.state_dir = serve.state_dir.clone();
        c.http_port = http_port;
        Ok(c)
    }
}

fn udp_socket(interface: Option<&str>, port: u16) -> Result<UdpSocket, DhcpError> {
    let what = format!("{}:{port}", interface.unwrap_or("*"));
    let err = |source| DhcpError::Socket { what: what.clone(), source };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    // Shared with the network's own DHCP server on the same host (proxy mode): both receive the
    // broadcasts.
    s.set_reuse_address(true).map_err(err)?;
    s.set_broadcast(true).map_err(err)?;
    if let Some(ifname) = interface {
        s.bind_device(Some(ifname.as_bytes())).map_err(err)?;
    }
    s.set_nonblocking(true).map_err(err)?;
    s.bind(&SocketAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into()).map_err(err)?;
    UdpSocket::from_std(s.into()).map_err(err)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl DhcpService {
    /// Binds the sockets and opens the lease store. Must run inside a tokio runtime.
    pub fn bind(config: DhcpConfig, metrics: Arc<DhcpMetrics>) -> Result<DhcpService, DhcpError> {
        let server = match (config.address, &config.interface) {
            (Some(a), _) => a,
            (None, Some(i)) => interface_ipv4(i).ok_or_else(|| DhcpError::NoAddress(i.clone()))?,
            (None, None) => return Err(DhcpError::NoInterface),
        };
        let policy: Arc<dyn BootPolicy> = match &config.policy {
            Some(p) => p.clone(),
            None => Arc::new(DefaultBootTable::new(server, config.http_port)),
        };
        let full = match &config.mode {
            DhcpMode::Full(pool) => {
                std::fs::create_dir_all(&config.state_dir)
                    .map_err(|source| DhcpError::StateDir { path: config.state_dir.display().to_string(), source })?;
                let store: Arc<dyn LeaseStore> =
                    Arc::new(SqliteLeaseStore::open(&config.state_dir.join("leases.sqlite3"))?);
                Some(Arc::new(FullServer { pool: pool.clone(), store, policy: policy.clone(), server }))
            }
            _ => None,
        };
        let ifname = config.interface.as_deref();
        let dhcp = udp_socket(ifname, config.server_port)?;
        let binl = config.binl_port.map(|p| udp_socket(ifname, p)).transpose()?;
        Ok(DhcpService { dhcp, binl, server, config, policy, full, metrics, clients: None, tracker: None })
    }

    /// The server address used in replies.
    pub fn server_address(&self) -> Ipv4Addr {
        self.server
    }

    /// The bound DHCP and BINL ports (useful when configured as 0).
    pub fn local_ports(&self) -> (u16, Option<u16>) {
        let port = |s: &UdpSocket| s.local_addr().map_or(0, |a| a.port());
        (port(&self.dhcp), self.binl.as_ref().map(port))
    }

    /// The counters and lease gauge, for the server's `/metrics`.
    pub fn metric_source(&self) -> Arc<DhcpMetricSource> {
        Arc::new(DhcpMetricSource { metrics: self.metrics.clone(), store: self.full.as_ref().map(|f| f.store.clone()) })
    }

    /// Serves until `shutdown` completes. Committed leases are already on disk; nothing is lost
    /// when the future is dropped instead.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), DhcpError> {
        if matches!(self.config.mode, DhcpMode::Off) {
            shutdown.await;
            return Ok(());
        }
        info!(server = %self.server, port = self.config.server_port, binl = ?self.config.binl_port,
              interface = ?self.config.interface, mode = ?mode_name(&self.config.mode), "dhcp service up");
        tokio::pin!(shutdown);
        let mut buf = vec![0u8; 4096];
        let mut binl_buf = vec![0u8; 4096];
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                r = self.dhcp.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.on_dhcp(&buf[..n], from).await,
                    Err(e) => warn!(error = %e, "dhcp recv failed"),
                },
                r = recv_opt(self.binl.as_ref(), &mut binl_buf) => match r {
                    Ok((n, from)) => self.on_binl(&binl_buf[..n], from).await,
                    Err(e) => warn!(error = %e, "boot server recv failed"),
                },
            }
        }
        info!("dhcp service stopped");
        Ok(())
    }

    fn parse(&self, packet: &[u8], from: SocketAddr, port: &str) -> Option<Request> {
        DhcpMetrics::bump(&self.metrics.received);
        match Request::parse(packet) {
            Ok(r) => Some(r),
            Err(e) => {
                DhcpMetrics::bump(&self.metrics.malformed);
                warn!(peer = %from, port, error = %e, "dhcp packet dropped");
                None
            }
        }
    }

    async fn send(&self, sock: &UdpSocket, m: &Message, to: SocketAddr) -> bool {
        let bytes = reply::encode(m);
        match sock.send_to(&bytes, to).await {
            Ok(_) if !bytes.is_empty() => true,
            r => {
                DhcpMetrics::bump(&self.metrics.errors);
                warn!(to = %to, error = ?r.err(), "dhcp reply not sent");
                false
            }
        }
    }

    async fn on_dhcp(&self, packet: &[u8], from: SocketAddr) {
        let Some(req) = self.parse(packet, from, "dhcp") else { return };
        let c = &req.class;
        let (mac, xid) = (c.mac, format!("{:08x}", req.header.xid()));
        let to = SocketAddr::V4(reply::destination(&req, self.config.server_port, self.config.client_port));
        if let Some(full) = &self.full {
            match req.kind {
                MessageType::Decline => DhcpMetrics::bump(&self.metrics.declines),
                MessageType::Release => DhcpMetrics::bump(&self.metrics.releases),
                _ => {}
            }
            let full = full.clone();
            let r = req.clone();
            let now = unix_now();
            let outcome = tokio::task::spawn_blocking(move || full.handle(&r, now)).await;
            match outcome {
                Ok(Ok((reply, outcome))) => {
                    let counter = match &outcome {
                        FullOutcome::Offer(_) => Some(&self.metrics.offers),
                        FullOutcome::Ack(_) => Some(&self.metrics.acks),
                        FullOutcome::InformAck => Some(&self.metrics.informs),
                        FullOutcome::Nak(_) => Some(&self.metrics.naks),
                        FullOutcome::Silent(_) => Some(&self.metrics.ignored),
                        // Counted on arrival above.
                        FullOutcome::Released(_) | FullOutcome::Declined(_) => None,
                    };
                    if let Some(c) = counter {
                        DhcpMetrics::bump(c);
                    }
                    info!(%mac, xid, request = ?req.kind, firmware = ?c.firmware, arch = ?c.arch.map(|a| a.code),
                          outcome = ?outcome, to = %to, "dhcp");
                    if let (FullOutcome::Ack(ip), Some(t)) = (&outcome, &self.clients) {
                        t.record(std::net::IpAddr::V4(*ip), mac);
                    }
                    if let (FullOutcome::Ack(ip), Some(t)) = (&outcome, &self.tracker) {
                        t.record(
                            crate::policy::Mac(mac.0),
                            Some(std::net::IpAddr::V4(*ip)),
                            status_event(c, Some(*ip)),
                        );
                    }
                    if let Some(m) = reply {
                        self.send(&self.dhcp, &m, to).await;
                    }
                }
                Ok(Err(e)) => {
                    DhcpMetrics::bump(&self.metrics.errors);
                    warn!(%mac, xid, error = %e, "lease store failed; no reply");
                }
                Err(e) => {
                    DhcpMetrics::bump(&self.metrics.errors);
                    warn!(%mac, xid, error = %e, "dhcp handler failed; no reply");
                }
            }
            return;
        }
        // Proxy mode: boot information for netboot DISCOVERs only; the network's DHCP server
        // handles everything else. A client's broadcast REQUEST to that server still tells
        // which address it takes: remembered so TFTP and HTTP log lines carry its MAC.
        if req.kind == MessageType::Request
            && let (Some(t), Some(ip)) = (&self.clients, req.requested_ip.or(Some(req.header.ciaddr())))
            && !ip.is_unspecified()
        {
            t.record(std::net::IpAddr::V4(ip), mac);
        }
        if req.kind != MessageType::Discover || !(c.is_netboot() || c.firmware == Firmware::Ipxe) {
            DhcpMetrics::bump(&self.metrics.ignored);
            tracing::debug!(%mac, xid, request = ?req.kind, "proxy: not a netboot DISCOVER");
            return;
        }
        match self.policy.decide(c) {
            Decision::Boot(file) => {
                let m = reply::proxy_offer(&req, &file, self.server, self.config.proxy_style);
                let style = if c.firmware == Firmware::HttpBoot {
                    "http"
                } else if reply::wants_binl(c, self.config.proxy_style) {
                    "binl"
                } else {
                    "pxe10"
                };
                info!(%mac, xid, firmware = ?c.firmware, arch = ?c.arch.map(|a| a.code), uuid = ?c.uuid_string(),
                      file = file.as_str(), style, to = %to, "proxy offer");
                if self.send(&self.dhcp, &m, to).await {
                    DhcpMetrics::bump(&self.metrics.offers);
                }
            }
            Decision::Ignore(why) => {
                DhcpMetrics::bump(&self.metrics.ignored);
                info!(%mac, xid, firmware = ?c.firmware, arch = ?c.arch.map(|a| a.code), why, "proxy: no offer");
            }
            Decision::NotReady => {
                DhcpMetrics::bump(&self.metrics.ignored);
                info!(%mac, xid, "proxy: decision not ready; client will retry");
            }
        }
    }

    async fn on_binl(&self, packet: &[u8], from: SocketAddr) {
        let Some(req) = self.parse(packet, from, "binl") else { return };
        let Some(sock) = self.binl.as_ref() else { return };
        let c = &req.class;
        let (mac, xid) = (c.mac, format!("{:08x}", req.header.xid()));
        if !matches!(req.kind, MessageType::Request | MessageType::Inform) || !c.is_netboot() {
            DhcpMetrics::bump(&self.metrics.ignored);
            info!(%mac, xid, request = ?req.kind, "boot server: not a PXE REQUEST/INFORM");
            return;
        }
        if let Some(t) = &self.clients {
            t.record(from.ip(), mac);
        }
        if let Some(t) = &self.tracker {
            t.record(crate::policy::Mac(mac.0), Some(from.ip()), crate::status::Event::ProxyDhcp);
        }
        match self.policy.decide(c) {
            Decision::Boot(file) => {
                let m = reply::binl_ack(&req, &file, self.server);
                info!(%mac, xid, arch = ?c.arch.map(|a| a.code), file = file.as_str(), to = %from, "boot server ack");
                if self.send(sock, &m, from).await {
                    DhcpMetrics::bump(&self.metrics.binl_acks);
                }
            }
            Decision::Ignore(why) => {
                DhcpMetrics::bump(&self.metrics.ignored);
                info!(%mac, xid, why, "boot server: no answer");
            }
            Decision::NotReady => DhcpMetrics::bump(&self.metrics.ignored),
        }
    }
}

impl Service for DhcpService {
    fn name(&self) -> &'static str {
        "dhcp"
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.dhcp.local_addr().ok()
    }

    /// Registers the DHCP metrics, fills the client table, and serves until stage 1 of the
    /// shutdown (DHCP has no transfers to finish; leases are on disk at every ACK).
    fn run(mut self: Box<Self>, ctx: Context) -> ServiceFuture {
        Box::pin(async move {
            ctx.metrics.register(self.metric_source());
            self.clients = Some(ctx.clients.clone());
            self.tracker = Some(ctx.tracker.clone());
            let shutdown = ctx.shutdown.clone();
            DhcpService::run(*self, async move { shutdown.stopping().await }).await.map_err(Into::into)
        })
    }
}

async fn recv_opt(sock: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

fn mode_name(m: &DhcpMode) -> &'static str {
    match m {
        DhcpMode::Off => "off",
        DhcpMode::Proxy => "proxy",
        DhcpMode::Full(_) => "full",
    }
}

/// The status page's record of a DHCP exchange.
fn status_event(c: &super::classify::Classification, lease: Option<Ipv4Addr>) -> crate::status::Event {
    use crate::policy::{ClientArch, FirmwareClass};
    crate::status::Event::Dhcp {
        uuid: c.uuid_string(),
        arch: c.arch.and_then(|a| ClientArch::from_dhcp_code(a.code)).map(|(a, _)| a),
        firmware: match c.firmware {
            Firmware::Pxe => Some(FirmwareClass::Pxe),
            Firmware::HttpBoot => Some(FirmwareClass::HttpBoot),
            Firmware::Ipxe => Some(FirmwareClass::Ipxe),
            Firmware::Other => None,
        },
        lease: lease.map(std::net::IpAddr::V4),
    }
}
