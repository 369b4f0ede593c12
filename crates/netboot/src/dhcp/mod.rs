//! DHCP for netboot: proxyDHCP (Pxe10-style offers plus the port-4011 boot server) and full DHCP
//! with durable leases, over a typed classification of every request.
//!
//! Layers, from the wire in: [`packet`] turns a datagram into a [`Request`] (or a
//! [`PacketError`]); [`classify`] says who the client is; [`policy`] decides the boot file;
//! [`reply`] builds proxy offers and boot server ACKs; [`full`] and [`lease`] hand out addresses;
//! [`service`] binds the sockets and runs it all.
//!
//! Starting it:
//! ```no_run
//! # async fn demo() -> Result<(), optrom_netboot::dhcp::DhcpError> {
//! use std::sync::Arc;
//! use optrom_netboot::dhcp::{DhcpConfig, DhcpMetrics, DhcpMode, DhcpService};
//! let mut config = DhcpConfig::new(DhcpMode::Proxy);
//! config.interface = Some("br0".into());
//! let service = DhcpService::bind(config, Arc::new(DhcpMetrics::default()))?;
//! service.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod classify;
pub mod full;
pub mod lease;
pub mod metrics;
pub mod packet;
pub mod policy;
pub mod reply;
pub mod service;

pub use classify::{Arch, Classification, Cpu, Firmware, IpxeFeature, IpxeInfo, Platform, UserClass, VendorClass};
pub use full::{FullOutcome, FullServer, PoolConfig};
pub use lease::{Lease, LeaseState, LeaseStore, SqliteLeaseStore, StoreError};
pub use metrics::DhcpMetrics;
pub use packet::{MacAddr, PacketError, Request};
pub use policy::{BootFile, BootPolicy, Decision, DefaultBootTable};
pub use reply::ProxyStyle;
pub use service::{DhcpConfig, DhcpError, DhcpMode, DhcpService, interface_ipv4};
