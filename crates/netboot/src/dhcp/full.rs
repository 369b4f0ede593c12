//! Full DHCP (RFC 2131): an address pool, static reservations by MAC, lease times, and the
//! DISCOVER/OFFER/REQUEST/ACK/NAK, DECLINE, RELEASE and INFORM exchanges, over a [`LeaseStore`].
//! Netboot clients also get their boot file in the same offer (Pxe10-style for PXE, with
//! `HTTPClient` and a URL for UEFI HTTP boot).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Message, MessageType};

use super::classify::Firmware;
use super::lease::{AllocationRequest, LeaseState, LeaseStore, StoreError};
use super::packet::{MacAddr, Request};
use super::policy::{BootPolicy, Decision};
use super::reply::{add_boot_file, add_ipxe_no_proxydhcp, add_pxe_discovery_control, add_pxe_identity, base_reply};

/// The network a full-mode server hands out.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Dynamic range, inclusive.
    pub start: Ipv4Addr,
    /// Last address of the dynamic range.
    pub end: Ipv4Addr,
    /// Option 1.
    pub netmask: Ipv4Addr,
    /// Option 3; `None` gives no default route.
    pub router: Option<Ipv4Addr>,
    /// Option 6.
    pub dns: Vec<Ipv4Addr>,
    /// Option 51; T1 (option 58) is half of it, T2 (59) seven eighths.
    pub lease_time: Duration,
    /// Static reservations: these MACs always get these addresses (also outside the range), and
    /// no one else gets them.
    pub reservations: HashMap<MacAddr, Ipv4Addr>,
    /// How long an OFFER holds its address for the client.
    pub offer_hold: Duration,
    /// How long a DECLINEd address stays out of use.
    pub decline_quarantine: Duration,
}

impl PoolConfig {
    /// A pool `start..=end` on the network of `netmask`: no router or DNS, 1 h leases, offers
    /// held 60 s, declined addresses quarantined 10 min, no reservations.
    pub fn new(start: Ipv4Addr, end: Ipv4Addr, netmask: Ipv4Addr) -> PoolConfig {
        PoolConfig {
            start,
            end,
            netmask,
            router: None,
            dns: Vec::new(),
            lease_time: Duration::from_secs(3600),
            reservations: HashMap::new(),
            offer_hold: Duration::from_secs(60),
            decline_quarantine: Duration::from_secs(600),
        }
    }

    fn in_subnet(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.netmask);
        u32::from(ip) & m == u32::from(self.start) & m
    }
}

/// What the full-mode handler did, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullOutcome {
    /// An address was offered.
    Offer(Ipv4Addr),
    /// An address was acknowledged (bound).
    Ack(Ipv4Addr),
    /// The request was refused, and why.
    Nak(&'static str),
    /// INFORM answered (configuration only).
    InformAck,
    /// The client gave its address back.
    Released(Ipv4Addr),
    /// The client reported the address in use; it is quarantined.
    Declined(Ipv4Addr),
    /// Nothing to send (not for us, pool exhausted, …) and why.
    Silent(&'static str),
}

/// The full-mode DHCP server logic, I/O free: a request in, a reply out.
pub struct FullServer {
    /// The network handed out.
    pub pool: PoolConfig,
    /// Where leases live.
    pub store: Arc<dyn LeaseStore>,
    /// Which boot file netboot clients get with their address.
    pub policy: Arc<dyn BootPolicy>,
    /// This server's address (option 54, siaddr).
    pub server: Ipv4Addr,
}

impl FullServer {
    /// Handles one request at unix time `now`.
    pub fn handle(&self, req: &Request, now: u64) -> Result<(Option<Message>, FullOutcome), StoreError> {
        let mac = req.mac();
        match req.kind {
            MessageType::Discover => self.discover(req, mac, now),
            MessageType::Request => self.request(req, mac, now),
            MessageType::Decline => {
                let Some(ip) = req.requested_ip else {
                    return Ok((None, FullOutcome::Silent("DECLINE without option 50")));
                };
                if req.server_id.is_some_and(|s| s != self.server) {
                    return Ok((None, FullOutcome::Silent("DECLINE for another server")));
                }
                self.store.decline(mac, ip, now + self.pool.decline_quarantine.as_secs())?;
                Ok((None, FullOutcome::Declined(ip)))
            }
            MessageType::Release => {
                let ip = req.header.ciaddr();
                if self.store.release(mac, ip, now)? {
                    Ok((None, FullOutcome::Released(ip)))
                } else {
                    Ok((None, FullOutcome::Silent("RELEASE of an address the client does not hold")))
                }
            }
            MessageType::Inform => {
                let mut m = base_reply(req, MessageType::Ack, self.server);
                self.add_config(&mut m, false);
                self.add_boot(&mut m, req);
                Ok((Some(m), FullOutcome::InformAck))
            }
            _ => Ok((None, FullOutcome::Silent("message type not handled by a server"))),
        }
    }

    fn reserved_for_others(&self, mac: MacAddr) -> Vec<Ipv4Addr> {
        self.pool.reservations.iter().filter(|(m, _)| **m != mac).map(|(_, ip)| *ip).collect()
    }

    fn discover(&self, req: &Request, mac: MacAddr, now: u64) -> Result<(Option<Message>, FullOutcome), StoreError> {
        let mut preferred = Vec::new();
        let reservation = self.pool.reservations.get(&mac).copied();
        preferred.extend(reservation);
        if reservation.is_none() {
            if let Some(l) = self.store.by_mac(mac)? {
                preferred.push(l.ip);
            }
            preferred.extend(req.requested_ip);
        }
        let others = self.reserved_for_others(mac);
        let alloc = AllocationRequest {
            mac,
            preferred: &preferred,
            pool: (self.pool.start, self.pool.end),
            reserved_for_others: &others,
            hold: self.pool.offer_hold,
        };
        // A reservation, when present, is the only address this client may get.
        let lease = match self.store.allocate(&alloc, now)? {
            Some(l) if reservation.is_none_or(|r| r == l.ip) => l,
            Some(_) | None => return Ok((None, FullOutcome::Silent("no free address in the pool"))),
        };
        let mut m = base_reply(req, MessageType::Offer, self.server);
        m.set_yiaddr(lease.ip);
        self.add_config(&mut m, true);
        self.add_boot(&mut m, req);
        Ok((Some(m), FullOutcome::Offer(lease.ip)))
    }

    fn request(&self, req: &Request, mac: MacAddr, now: u64) -> Result<(Option<Message>, FullOutcome), StoreError> {
        let ciaddr = req.header.ciaddr();
        let (ip, selecting) = match (req.server_id, req.requested_ip) {
            // SELECTING: the client chose among offers.
            (Some(sid), Some(ip)) => {
                if sid != self.server {
                    self.store.withdraw_offer(mac, ip)?;
                    return Ok((None, FullOutcome::Silent("client selected another server")));
                }
                (ip, true)
            }
            // INIT-REBOOT: verifying a remembered address.
            (None, Some(ip)) => (ip, false),
            // RENEWING / REBINDING.
            (_, None) if !ciaddr.is_unspecified() => (ciaddr, false),
            _ => return Ok((None, FullOutcome::Silent("REQUEST without option 50 or ciaddr"))),
        };
        let nak = |why: &'static str| -> Result<(Option<Message>, FullOutcome), StoreError> {
            let mut m = base_reply(req, MessageType::Nak, self.server);
            m.opts_mut().insert(DhcpOption::Message(why.to_string()));
            Ok((Some(m), FullOutcome::Nak(why)))
        };
        if !self.pool.in_subnet(ip) {
            return nak("address is not on this network");
        }
        let reservation = self.pool.reservations.get(&mac).copied();
        if reservation.is_some_and(|r| r != ip) {
            return nak("this client has a different reserved address");
        }
        let in_range = (u32::from(self.pool.start)..=u32::from(self.pool.end)).contains(&u32::from(ip));
        if reservation.is_none() && (!in_range || self.reserved_for_others(mac).contains(&ip)) {
            return nak("address is not in the pool");
        }
        let held = self.store.by_ip(ip)?;
        if !selecting && held.as_ref().is_none_or(|l| l.mac != mac || l.state == LeaseState::Declined) {
            // INIT-REBOOT / RENEW of an address we have no record of for this client: RFC 2131
            // §4.3.2 lets an authoritative server NAK; we take it if it is free (a lost offer),
            // and refuse it if another client has it.
            if held.as_ref().is_some_and(|l| l.mac != mac && l.blocks_others(now)) {
                return nak("address is leased to another client");
            }
        }
        let expires = now + self.pool.lease_time.as_secs();
        if !self.store.bind(mac, ip, expires, now)? {
            return nak("address is leased to another client");
        }
        let mut m = base_reply(req, MessageType::Ack, self.server);
        m.set_yiaddr(ip);
        m.set_ciaddr(ciaddr);
        self.add_config(&mut m, true);
        self.add_boot(&mut m, req);
        Ok((Some(m), FullOutcome::Ack(ip)))
    }

    fn add_config(&self, m: &mut Message, with_lease: bool) {
        let o = m.opts_mut();
        o.insert(DhcpOption::SubnetMask(self.pool.netmask));
        if let Some(r) = self.pool.router {
            o.insert(DhcpOption::Router(vec![r]));
        }
        if !self.pool.dns.is_empty() {
            o.insert(DhcpOption::DomainNameServer(self.pool.dns.clone()));
        }
        if with_lease {
            let t = self.pool.lease_time.as_secs().min(u64::from(u32::MAX)) as u32;
            o.insert(DhcpOption::AddressLeaseTime(t));
            o.insert(DhcpOption::Renewal(t / 2));
            o.insert(DhcpOption::Rebinding(t / 8 * 7));
        }
    }

    /// Netboot clients get the boot file in the same reply (DhcpPxe10 ranks first in EDK2).
    fn add_boot(&self, m: &mut Message, req: &Request) {
        let class = &req.class;
        if !class.is_netboot() && class.firmware != Firmware::Ipxe {
            return;
        }
        let Decision::Boot(file) = self.policy.decide(class) else { return };
        add_pxe_identity(m, class);
        add_boot_file(m, class, &file, self.server);
        match class.firmware {
            Firmware::Pxe => add_pxe_discovery_control(m),
            Firmware::Ipxe => add_ipxe_no_proxydhcp(m),
            _ => {}
        }
    }
}
