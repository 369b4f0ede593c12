//! The network half of optrom: the services a netboot client talks to. Today it holds the DHCP
//! service ([`dhcp`]): request classification (PXE / UEFI HTTP boot / iPXE, IANA architecture
//! codes), proxyDHCP with the port-4011 boot server, and full DHCP with leases in SQLite.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dhcp;
