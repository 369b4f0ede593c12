//! How the services run together: each [`Service`] is bound before it runs (so a
//! port in use is reported before anything starts), then [`Server::run`] spawns
//! every service as a tokio task sharing one [`Context`] — the [`Metrics`], the
//! [`ClientTable`] that maps client IPs to MACs for log lines, and the two-stage
//! [`Shutdown`] signal. DHCP plugs in as one more [`Service`] via [`Server::add`].
//!
//! Shutdown: on the signal (Ctrl-C/SIGTERM in the CLI) every service stops
//! accepting new work and lets running transfers finish; after the grace period
//! the abort stage tells the rest to end now (TFTP sends the client an ERROR).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;
use crate::confine::Root;
use crate::http::{HttpService, ScriptProvider};
use crate::metrics::Metrics;
use crate::tftp::TftpService;

/// The error a service ends with.
pub type ServiceError = Box<dyn std::error::Error + Send + Sync>;

/// What [`Service::run`] returns.
pub type ServiceFuture = Pin<Box<dyn Future<Output = Result<(), ServiceError>> + Send>>;

/// One network service (TFTP, HTTP, DHCP, …), already bound to its sockets.
pub trait Service: Send {
    /// Short name for logs: `tftp`, `http`, `dhcp`.
    fn name(&self) -> &'static str;
    /// The address it listens on, if it has exactly one.
    fn local_addr(&self) -> Option<SocketAddr>;
    /// Serve until `ctx.shutdown` says stop, then finish or abort in-flight work
    /// and return. An `Err` stops the whole server.
    fn run(self: Box<Self>, ctx: Context) -> ServiceFuture;
}

/// The two-stage shutdown signal shared by every service.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    stop: CancellationToken,
    abort: CancellationToken,
}

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }
    /// Stage 1: stop accepting new requests; running transfers go on.
    pub fn stop(&self) {
        self.stop.cancel();
    }
    /// Stage 2: end running transfers now (implies stage 1).
    pub fn abort(&self) {
        self.stop.cancel();
        self.abort.cancel();
    }
    /// Resolves at stage 1.
    pub async fn stopping(&self) {
        self.stop.cancelled().await
    }
    /// Resolves at stage 2.
    pub async fn aborting(&self) {
        self.abort.cancelled().await
    }
    /// Stage 1 has fired.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }
}

/// A MAC address, as learned by DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

impl std::str::FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(format!("MAC address {s:?}: expected six hex bytes separated by ':' or '-'"));
        }
        let mut mac = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            mac[i] = u8::from_str_radix(p, 16)
                .ok()
                .filter(|_| p.len() == 2)
                .ok_or_else(|| format!("MAC address {s:?}: byte {i} ({p:?}) is not two hex digits"))?;
        }
        Ok(MacAddr(mac))
    }
}

/// Which MAC is behind which IP, filled by DHCP (leases and port-4011 requests) and
/// read by TFTP and HTTP so their log lines carry the client's MAC.
#[derive(Debug, Default)]
pub struct ClientTable {
    by_ip: RwLock<HashMap<IpAddr, MacAddr>>,
}

impl ClientTable {
    /// Remember that `mac` uses `ip`.
    pub fn record(&self, ip: IpAddr, mac: MacAddr) {
        self.by_ip.write().unwrap_or_else(|e| e.into_inner()).insert(ip, mac);
    }
    /// The MAC last seen using `ip`.
    pub fn mac_of(&self, ip: IpAddr) -> Option<MacAddr> {
        self.by_ip.read().unwrap_or_else(|e| e.into_inner()).get(&ip).copied()
    }
    /// The MAC as a log field value: the address, or `-` when unknown.
    pub fn label(&self, ip: IpAddr) -> String {
        self.mac_of(ip).map_or_else(|| "-".to_string(), |m| m.to_string())
    }
}

/// What every service shares.
#[derive(Debug, Clone)]
pub struct Context {
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// IP → MAC, for logs.
    pub clients: Arc<ClientTable>,
    /// The shutdown signal.
    pub shutdown: Shutdown,
    /// Where each client is in its boot, for the status page.
    pub tracker: Arc<crate::status::BootTracker>,
}

impl Context {
    /// A fresh context: zeroed metrics, empty client table, unfired signal.
    pub fn new() -> Context {
        Context { metrics: Arc::default(), clients: Arc::default(), shutdown: Shutdown::new(), tracker: Arc::default() }
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

/// Binding a service failed.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The root directory is unusable.
    #[error("{0}")]
    Root(std::io::Error),
    /// A socket could not be bound.
    #[error("{service}: cannot listen on {address}{}: {source}", interface.as_ref().map(|i| format!(" (interface {i})")).unwrap_or_default())]
    Socket {
        /// Which service.
        service: &'static str,
        /// Where.
        address: SocketAddr,
        /// Bound to which interface.
        interface: Option<String>,
        /// Why.
        source: std::io::Error,
    },
}

/// A set of bound services and their shared context.
pub struct Server {
    services: Vec<Box<dyn Service>>,
    context: Context,
    grace: Duration,
}

impl Server {
    /// An empty server; `grace` is how long transfers may finish after the signal.
    pub fn new(context: Context, grace: Duration) -> Server {
        Server { services: Vec::new(), context, grace }
    }

    /// Bind the TFTP and HTTP services `config` enables, serving `config.root`; the
    /// HTTP service answers `/_/boot.ipxe` from `scripts`. DHCP is added by the caller.
    pub async fn bind(config: &ServeConfig, scripts: Arc<dyn ScriptProvider>) -> Result<Server, BindError> {
        let root = Root::new(&config.root).map_err(BindError::Root)?;
        let mut server = Server::new(Context::new(), config.shutdown_grace());
        if config.tftp.enabled {
            server.add(Box::new(TftpService::bind(config, root.clone()).await?));
        }
        if config.http.enabled {
            server.add(Box::new(HttpService::bind(config, root, scripts).await?));
        }
        Ok(server)
    }

    /// Add a bound service.
    pub fn add(&mut self, service: Box<dyn Service>) {
        self.services.push(service);
    }

    /// The shared context (register metric sources, fill the client table).
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Each service's name and listening address.
    pub fn local_addrs(&self) -> Vec<(&'static str, SocketAddr)> {
        self.services.iter().filter_map(|s| s.local_addr().map(|a| (s.name(), a))).collect()
    }

    /// Run every service until `signal` resolves (or one fails), then shut down in
    /// two stages. Returns the first service error, if any.
    pub async fn run(self, signal: impl Future<Output = ()> + Send) -> Result<(), ServiceError> {
        let shutdown = self.context.shutdown.clone();
        let mut tasks = tokio::task::JoinSet::new();
        for service in self.services {
            let name = service.name();
            let ctx = self.context.clone();
            tasks.spawn(async move { (name, service.run(ctx).await) });
        }
        let mut first_error: Option<ServiceError> = None;
        let mut record = |name: &str, result: Result<Result<(), ServiceError>, tokio::task::JoinError>| match result {
            Ok(Ok(())) => tracing::info!(service = name, "service stopped"),
            Ok(Err(e)) => {
                tracing::error!(service = name, error = %e, "service failed");
                first_error.get_or_insert(e);
            }
            Err(e) => {
                tracing::error!(service = name, error = %e, "service task panicked");
                first_error.get_or_insert_with(|| e.to_string().into());
            }
        };
        tokio::pin!(signal);
        // Phase 1: serve until the signal or a service ending on its own.
        tokio::select! {
            () = &mut signal => tracing::info!(grace_secs = self.grace.as_secs(), "shutdown requested; finishing running transfers"),
            Some(joined) = tasks.join_next() => {
                let (name, result) = match joined { Ok((n, r)) => (n, Ok(r)), Err(e) => ("?", Err(e)) };
                record(name, result);
            }
        }
        shutdown.stop();
        // Phase 2: let in-flight work finish within the grace period, then abort it.
        let deadline = tokio::time::sleep(self.grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(Ok((name, r))) => record(name, Ok(r)),
                    Some(Err(e)) => record("?", Err(e)),
                },
                () = &mut deadline, if !shutdown.abort.is_cancelled() => {
                    tracing::warn!("grace period over; aborting running transfers");
                    shutdown.abort();
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A UDP socket bound to `address`, optionally to `interface` (SO_BINDTODEVICE).
pub(crate) fn bind_udp(address: SocketAddr, interface: Option<&str>) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(name) = interface {
        socket.bind_device(Some(name.as_bytes()))?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// A TCP listener bound to `address`, optionally to `interface`.
pub(crate) fn bind_tcp(address: SocketAddr, interface: Option<&str>) -> std::io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(name) = interface {
        socket.bind_device(Some(name.as_bytes()))?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// The MTU of `interface`, from sysfs.
pub fn interface_mtu(interface: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/mtu")).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_mtu_is_read() {
        assert!(interface_mtu("lo").is_some_and(|m| m >= 1500));
        assert_eq!(interface_mtu("no-such-if0"), None);
    }

    #[test]
    fn client_table_labels() {
        let t = ClientTable::default();
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(t.label(ip), "-");
        t.record(ip, MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
        assert_eq!(t.label(ip), "52:54:00:12:34:56");
    }
}
