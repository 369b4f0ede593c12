//! Durable leases: the [`LeaseStore`] trait (so a shared database can later serve several
//! replicas, as Kea does with PostgreSQL) and [`SqliteLeaseStore`], SQLite in WAL mode with
//! `synchronous=FULL`, one row per address. Every allocation runs in one `BEGIN IMMEDIATE`
//! transaction and the address is the primary key, so two clients can never hold one address,
//! also not across processes sharing the file, and a committed lease survives `kill -9`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::packet::MacAddr;

/// The state of one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Offered to a client, held for a short time so no one else gets it meanwhile.
    Offered,
    /// Acknowledged: the client owns it until `expires`.
    Bound,
    /// Given back (RELEASE) or expired; remembered so the same client gets it again.
    Released,
    /// A client said the address is in use by someone else (DECLINE): quarantined until `expires`.
    Declined,
}

impl LeaseState {
    fn to_db(self) -> i64 {
        match self {
            LeaseState::Offered => 0,
            LeaseState::Bound => 1,
            LeaseState::Released => 2,
            LeaseState::Declined => 3,
        }
    }
    fn from_db(v: i64) -> LeaseState {
        match v {
            0 => LeaseState::Offered,
            1 => LeaseState::Bound,
            3 => LeaseState::Declined,
            _ => LeaseState::Released,
        }
    }
}

/// One address and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The address.
    pub ip: Ipv4Addr,
    /// The client's MAC (for `Declined`, the client that declined).
    pub mac: MacAddr,
    /// Offered, bound, released or declined.
    pub state: LeaseState,
    /// Unix time (seconds) the state ends.
    pub expires: u64,
}

impl Lease {
    /// True if this row keeps the address from other clients at time `now`.
    pub fn blocks_others(&self, now: u64) -> bool {
        match self.state {
            LeaseState::Offered | LeaseState::Bound | LeaseState::Declined => self.expires > now,
            LeaseState::Released => false,
        }
    }
}

/// What an allocation may pick from.
#[derive(Debug, Clone)]
pub struct AllocationRequest<'a> {
    /// The client asking.
    pub mac: MacAddr,
    /// Addresses to try first, in order (the client's reservation, its old lease, option 50);
    /// each is taken only if it is in the pool (or reserved for this MAC) and not held by another.
    pub preferred: &'a [Ipv4Addr],
    /// The dynamic range, inclusive.
    pub pool: (Ipv4Addr, Ipv4Addr),
    /// Addresses reserved for other MACs: never handed out dynamically.
    pub reserved_for_others: &'a [Ipv4Addr],
    /// How long the offer holds the address.
    pub hold: Duration,
}

/// Errors of a lease store (I/O, database).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed on the database at `path`.
    #[error("lease database {path}: {source}")]
    Db {
        /// The database file.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// Where leases live. Every method is one atomic step; implementations must guarantee that an
/// address is held by at most one MAC at any time, also with several servers on one store.
pub trait LeaseStore: Send + Sync + 'static {
    /// The lease row for `ip`, if any.
    fn by_ip(&self, ip: Ipv4Addr) -> Result<Option<Lease>, StoreError>;
    /// The newest non-declined row of `mac`, if any.
    fn by_mac(&self, mac: MacAddr) -> Result<Option<Lease>, StoreError>;
    /// Picks an address for `req.mac` and records it as `Offered` until `now + hold`, in one
    /// step. `None` if the pool is exhausted.
    fn allocate(&self, req: &AllocationRequest<'_>, now: u64) -> Result<Option<Lease>, StoreError>;
    /// Binds `ip` to `mac` until `expires` unless another MAC holds it; returns whether it did.
    fn bind(&self, mac: MacAddr, ip: Ipv4Addr, expires: u64, now: u64) -> Result<bool, StoreError>;
    /// Marks `ip` released if `mac` holds it.
    fn release(&self, mac: MacAddr, ip: Ipv4Addr, now: u64) -> Result<bool, StoreError>;
    /// Quarantines `ip` until `until` (a client found it in use).
    fn decline(&self, mac: MacAddr, ip: Ipv4Addr, until: u64) -> Result<(), StoreError>;
    /// Drops `mac`'s offer of `ip` (it chose another server).
    fn withdraw_offer(&self, mac: MacAddr, ip: Ipv4Addr) -> Result<(), StoreError>;
    /// All rows (for metrics and tests).
    fn all(&self) -> Result<Vec<Lease>, StoreError>;
}

/// [`LeaseStore`] in an SQLite file (`leases.sqlite3` under the state directory).
pub struct SqliteLeaseStore {
    conn: Mutex<Connection>,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leases (
    ip      INTEGER PRIMARY KEY,       -- IPv4 address as u32: one row per address
    mac     BLOB    NOT NULL,
    state   INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_by_mac ON leases (mac);
";

impl SqliteLeaseStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteLeaseStore, StoreError> {
        let p = path.display().to_string();
        let err = |source| StoreError::Db { path: p.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        // FULL: a committed lease is on disk before the ACK leaves, even across power loss.
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteLeaseStore { conn: Mutex::new(conn), path: p })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn).map_err(|source| StoreError::Db { path: self.path.clone(), source })
    }
}

fn ip_key(ip: Ipv4Addr) -> i64 {
    i64::from(u32::from(ip))
}

fn row_to_lease(row: &rusqlite::Row<'_>) -> rusqlite::Result<Lease> {
    let ip: i64 = row.get(0)?;
    let mac: Vec<u8> = row.get(1)?;
    let mut m = [0u8; 6];
    if mac.len() == 6 {
        m.copy_from_slice(&mac);
    }
    Ok(Lease {
        ip: Ipv4Addr::from(ip as u32),
        mac: MacAddr(m),
        state: LeaseState::from_db(row.get(2)?),
        expires: row.get::<_, i64>(3)? as u64,
    })
}

const SELECT: &str = "SELECT ip, mac, state, expires FROM leases";

fn get_by_ip(conn: &Connection, ip: Ipv4Addr) -> rusqlite::Result<Option<Lease>> {
    conn.query_row(&format!("{SELECT} WHERE ip = ?1"), params![ip_key(ip)], row_to_lease).optional()
}

fn put(conn: &Connection, ip: Ipv4Addr, mac: MacAddr, state: LeaseState, expires: u64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO leases (ip, mac, state, expires) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, state = excluded.state, expires = excluded.expires",
        params![ip_key(ip), &mac.0[..], state.to_db(), expires as i64],
    )?;
    Ok(())
}

/// True if `mac` may take `ip` now: free, expired, released, or already `mac`'s.
fn available(conn: &Connection, ip: Ipv4Addr, mac: MacAddr, now: u64) -> rusqlite::Result<bool> {
    Ok(match get_by_ip(conn, ip)? {
        None => true,
        Some(l) if l.state == LeaseState::Declined => l.expires <= now,
        Some(l) => l.mac == mac || !l.blocks_others(now),
    })
}

impl LeaseStore for SqliteLeaseStore {
    fn by_ip(&self, ip: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        self.with(|c| get_by_ip(c, ip))
    }

    fn by_mac(&self, mac: MacAddr) -> Result<Option<Lease>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("{SELECT} WHERE mac = ?1 AND state != 3 ORDER BY expires DESC LIMIT 1"),
                params![&mac.0[..]],
                row_to_lease,
            )
            .optional()
        })
    }

    fn allocate(&self, req: &AllocationRequest<'_>, now: u64) -> Result<Option<Lease>, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (lo, hi) = (u32::from(req.pool.0), u32::from(req.pool.1));
            let in_pool = |ip: Ipv4Addr| (lo..=hi).contains(&u32::from(ip)) && !req.reserved_for_others.contains(&ip);
            let mut chosen = None;
            for (i, &ip) in req.preferred.iter().enumerate() {
                // The first preferred address is the caller's reservation for this MAC when it
                // has one; it is valid even outside the pool.
                let allowed = in_pool(ip) || (i == 0 && !req.reserved_for_others.contains(&ip));
                if allowed && available(&tx, ip, req.mac, now)? {
                    chosen = Some(ip);
                    break;
                }
            }
            if chosen.is_none() {
                // Never-used addresses first (lowest), then the longest-expired ones, so a
                // returning client usually finds its old address still free.
                let mut used = tx.prepare(&format!("{SELECT} WHERE ip BETWEEN ?1 AND ?2"))?;
                let rows: Vec<Lease> =
                    used.query_map(params![lo as i64, hi as i64], row_to_lease)?.collect::<Result<_, _>>()?;
                drop(used);
                let taken: std::collections::HashMap<u32, &Lease> = rows.iter().map(|l| (u32::from(l.ip), l)).collect();
                chosen = (lo..=hi)
                    .map(Ipv4Addr::from)
                    .find(|ip| in_pool(*ip) && !taken.contains_key(&u32::from(*ip)))
                    .or_else(|| {
                        let mut free: Vec<&Lease> = rows
                            .iter()
                            .filter(|l| in_pool(l.ip) && (l.mac == req.mac || !l.blocks_others(now)))
                            .collect();
                        free.sort_by_key(|l| l.expires);
                        free.first().map(|l| l.ip)
                    });
            }
            let Some(ip) = chosen else { return Ok(None) };
            // One address per client: drop the client's other offers and released rows.
            tx.execute(
                "DELETE FROM leases WHERE mac = ?1 AND ip != ?2 AND state IN (0, 2)",
                params![&req.mac.0[..], ip_key(ip)],
            )?;
            let existing = get_by_ip(&tx, ip)?;
            let lease = match existing {
                // Already bound to this client: keep it bound, the offer does not shorten it.
                Some(l) if l.mac == req.mac && l.state == LeaseState::Bound && l.expires > now => l,
                _ => {
                    let expires = now + req.hold.as_secs();
                    put(&tx, ip, req.mac, LeaseState::Offered, expires)?;
                    Lease { ip, mac: req.mac, state: LeaseState::Offered, expires }
                }
            };
            tx.commit()?;
            Ok(Some(lease))
        })
    }

    fn bind(&self, mac: MacAddr, ip: Ipv4Addr, expires: u64, now: u64) -> Result<bool, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !available(&tx, ip, mac, now)? {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM leases WHERE mac = ?1 AND ip != ?2 AND state IN (0, 1, 2)",
                params![&mac.0[..], ip_key(ip)],
            )?;
            put(&tx, ip, mac, LeaseState::Bound, expires)?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn release(&self, mac: MacAddr, ip: Ipv4Addr, now: u64) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE leases SET state = 2, expires = ?3 WHERE ip = ?1 AND mac = ?2 AND state IN (0, 1)",
                params![ip_key(ip), &mac.0[..], now as i64],
            )?;
            Ok(n > 0)
        })
    }

    fn decline(&self, mac: MacAddr, ip: Ipv4Addr, until: u64) -> Result<(), StoreError> {
        self.with(|c| put(c, ip, mac, LeaseState::Declined, until))
    }

    fn withdraw_offer(&self, mac: MacAddr, ip: Ipv4Addr) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("DELETE FROM leases WHERE ip = ?1 AND mac = ?2 AND state = 0", params![ip_key(ip), &mac.0[..]])?;
            Ok(())
        })
    }

    fn all(&self) -> Result<Vec<Lease>, StoreError> {
        self.with(|c| {
            let mut s = c.prepare(&format!("{SELECT} ORDER BY ip"))?;
            let rows = s.query_map([], row_to_lease)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}
