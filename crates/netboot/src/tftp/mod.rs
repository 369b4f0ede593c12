//! The TFTP service: read-only, our own implementation on tokio of RFC 1350 with
//! options (RFC 2347), `blksize` (2348), `tsize`/`timeout` (2349) and `windowsize`
//! (7440). [`wire`] parses and emits packets; [`options`] negotiates; the
//! listener here dispatches requests; each transfer runs as its own task on its
//! own socket (a new transfer ID, connected to the client).
//!
//! Behaviour worth knowing:
//! - block numbers wrap from 65535 to 0, as iPXE, dnsmasq and curl expect;
//! - a retransmitted RRQ (same client address and port) while its transfer runs is
//!   ignored — the transfer's own retransmission answers it — instead of starting a
//!   second transfer the client would then have to reject;
//! - a client that aborts right after an OACK answering `tsize` (EDK2 probes the
//!   size this way before the real download) is logged and counted as a probe;
//! - write requests are refused with ERROR 2;
//! - at most `max_transfers` run at once; more get ERROR 0 "busy".

pub mod options;
mod transfer;
pub mod wire;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::config::ServeConfig;
use crate::confine::Root;
use crate::server::{BindError, Context, Service, ServiceFuture, bind_udp, interface_mtu};
use options::Limits;
use wire::{ErrorCode, Repr};

/// What every transfer of one service shares.
pub(crate) struct Shared {
    pub root: Root,
    pub limits: Limits,
    pub retries: u32,
    pub bind_ip: IpAddr,
    pub interface: Option<String>,
}

/// The bound TFTP listener.
pub struct TftpService {
    socket: UdpSocket,
    local: SocketAddr,
    shared: Arc<Shared>,
    max_transfers: usize,
}

impl TftpService {
    /// Bind the listener on `config`'s address, TFTP port and interface.
    pub async fn bind(config: &ServeConfig, root: Root) -> Result<TftpService, BindError> {
        let address = SocketAddr::new(config.bind_address(), config.tftp.port);
        let interface = config.interface.clone();
        let socket = bind_udp(address, interface.as_deref()).map_err(|source| BindError::Socket {
            service: "tftp",
            address,
            interface: interface.clone(),
            source,
        })?;
        let local = socket.local_addr().map_err(|source| BindError::Socket {
            service: "tftp",
            address,
            interface: interface.clone(),
            source,
        })?;
        let mtu = interface.as_deref().and_then(interface_mtu);
        let limits = config.tftp.limits(mtu);
        tracing::info!(
            service = "tftp",
            listen = %local,
            root = %root.dir().display(),
            max_blksize = limits.max_blksize,
            max_windowsize = limits.max_windowsize,
            mtu = mtu.map(|m| m as i64).unwrap_or(-1),
            "listening"
        );
        Ok(TftpService {
            socket,
            local,
            shared: Arc::new(Shared {
                root,
                limits,
                retries: config.tftp.retries,
                bind_ip: config.bind_address(),
                interface,
            }),
            max_transfers: config.tftp.max_transfers.max(1),
        })
    }
}

/// Removes a client's address from the running set when its transfer ends.
struct ActiveGuard {
    active: Arc<Mutex<HashSet<SocketAddr>>>,
    peer: SocketAddr,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.peer);
    }
}

async fn reply_error(socket: &UdpSocket, peer: SocketAddr, code: ErrorCode, message: &str) {
    let packet = Repr::Error { code, message }.to_vec();
    if let Err(e) = socket.send_to(&packet, peer).await {
        tracing::debug!(client = %peer, error = %e, "tftp: could not send ERROR");
    }
}

impl Service for TftpService {
    fn name(&self) -> &'static str {
        "tftp"
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.local)
    }

    fn run(self: Box<Self>, ctx: Context) -> ServiceFuture {
        Box::pin(async move {
            let TftpService { socket, shared, max_transfers, .. } = *self;
            let slots = Arc::new(Semaphore::new(max_transfers));
            let active: Arc<Mutex<HashSet<SocketAddr>>> = Arc::default();
            let tracker = TaskTracker::new();
            let metrics = ctx.metrics.clone();
            // RFC 1350 requests fit in 512 bytes; accept anything a datagram can hold.
            let mut buf = vec![0u8; 65536];
            loop {
                let (len, peer) = tokio::select! {
                    () = ctx.shutdown.stopping() => break,
                    received = socket.recv_from(&mut buf) => match received {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::debug!(error = %e, "tftp: receive error on the listener");
                            continue;
                        }
                    },
                };
                let packet = &buf[..len];
                let mac = ctx.clients.label(peer.ip());
                match Repr::parse_bytes(packet) {
                    Err(e) => {
                        metrics.tftp.malformed_packets.inc();
                        tracing::info!(client = %peer, mac, error = %e, "tftp malformed request");
                        reply_error(&socket, peer, ErrorCode::IllegalOperation, &e.to_string()).await;
                    }
                    Ok(Repr::Write(request)) => {
                        metrics.tftp.write_requests.inc();
                        tracing::info!(client = %peer, mac, file = request.filename, "tftp write request refused");
                        reply_error(
                            &socket,
                            peer,
                            ErrorCode::AccessViolation,
                            "write requests are refused: read-only server",
                        )
                        .await;
                    }
                    Ok(Repr::Read(request)) => {
                        metrics.tftp.read_requests.inc();
                        if active.lock().unwrap_or_else(|e| e.into_inner()).contains(&peer) {
                            metrics.tftp.duplicate_requests.inc();
                            tracing::info!(client = %peer, mac, file = request.filename, "tftp duplicate read request ignored; transfer running");
                            continue;
                        }
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            metrics.tftp.busy_rejections.inc();
                            tracing::warn!(client = %peer, mac, file = request.filename, max_transfers, "tftp busy; request refused");
                            reply_error(&socket, peer, ErrorCode::NotDefined, "server busy, retry later").await;
                            continue;
                        };
                        active.lock().unwrap_or_else(|e| e.into_inner()).insert(peer);
                        let guard = ActiveGuard { active: active.clone(), peer };
                        let owned = packet.to_vec();
                        let shared = shared.clone();
                        let ctx = ctx.clone();
                        tracker.spawn(async move {
                            transfer::serve_read(&shared, &ctx, peer, &owned).await;
                            drop(guard);
                            drop(permit);
                        });
                    }
                    Ok(other) => {
                        // DATA/ACK/ERROR/OACK belong to a transfer's own port, not here.
                        tracing::debug!(client = %peer, opcode = other.opcode().name(), "tftp: stray packet on the listener ignored");
                    }
                }
            }
            tracker.close();
            if !tracker.is_empty() {
                tracing::info!(service = "tftp", running = tracker.len(), "waiting for running transfers");
            }
            tracker.wait().await;
            Ok(())
        })
    }
}
