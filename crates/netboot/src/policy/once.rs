//! "Boot item X once, then local": the record of which machine already used which one-shot rule.
//! In memory by default; in SQLite when the server is given a state file, so a restart does not
//! re-run an installer.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

/// Remembers one-shot boots by (rule name, machine key).
pub trait OnceStore: Send + Sync {
    /// True if `rule` already booted `machine`.
    fn used(&self, rule: &str, machine: &str) -> bool;
    /// Records that `rule` booted `machine`.
    fn mark(&self, rule: &str, machine: &str) -> Result<(), String>;
    /// Forgets one record (re-arm the one-shot boot); returns whether there was one.
    fn reset(&self, rule: &str, machine: &str) -> Result<bool, String>;
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryOnceStore(Mutex<BTreeSet<(String, String)>>);

impl OnceStore for MemoryOnceStore {
    fn used(&self, rule: &str, machine: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(&(rule.into(), machine.into()))
    }

    fn mark(&self, rule: &str, machine: &str) -> Result<(), String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert((rule.into(), machine.into()));
        Ok(())
    }

    fn reset(&self, rule: &str, machine: &str) -> Result<bool, String> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&(rule.to_string(), machine.to_string())))
    }
}

/// A store in an SQLite file (table `boot_once`).
pub struct SqliteOnceStore(Mutex<rusqlite::Connection>);

impl SqliteOnceStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteOnceStore, String> {
        let conn = rusqlite::Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS boot_once (rule TEXT NOT NULL, machine TEXT NOT NULL, \
             at INTEGER NOT NULL DEFAULT (strftime('%s','now')), PRIMARY KEY (rule, machine))",
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(SqliteOnceStore(Mutex::new(conn)))
    }
}

impl OnceStore for SqliteOnceStore {
    fn used(&self, rule: &str, machine: &str) -> bool {
        let conn = self.0.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("SELECT 1 FROM boot_once WHERE rule = ?1 AND machine = ?2", [rule, machine], |_| Ok(())).is_ok()
    }

    fn mark(&self, rule: &str, machine: &str) -> Result<(), String> {
        let conn = self.0.lock().unwrap_or_else(|p| p.into_inner());
        conn.execute("INSERT OR IGNORE INTO boot_once (rule, machine) VALUES (?1, ?2)", [rule, machine])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn reset(&self, rule: &str, machine: &str) -> Result<bool, String> {
        let conn = self.0.lock().unwrap_or_else(|p| p.into_inner());
        conn.execute("DELETE FROM boot_once WHERE rule = ?1 AND machine = ?2", [rule, machine])
            .map(|n| n > 0)
            .map_err(|e| e.to_string())
    }
}
