//! `--state FILE`: the sandbox's referrals, idempotency keys and clock in SQLite, across
//! restarts.
//!
//! The in-memory store stays the source of truth while the sandbox runs; every change is
//! written through to this file inside the same lock, so a restart finds exactly what the last
//! answered request left. The schema is append-only: migrations are checked against
//! `pragma user_version` and never edited once shipped.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::Error;

/// Schema migrations, applied in order; index + 1 is the `user_version` they lead to.
const MIGRATIONS: &[&str] = &[
    // v1: one row per referral, its whole body as JSON; `seq` keeps creation order.
    // Idempotency keys map an `MS-RequestId` to the referral its create made.
    "CREATE TABLE referrals (
         id   TEXT PRIMARY KEY,
         seq  INTEGER NOT NULL,
         body TEXT NOT NULL
     );
     CREATE TABLE request_ids (
         request_id  TEXT PRIMARY KEY,
         referral_id TEXT NOT NULL
     );",
    // v2: the sandbox clock's offset from the real time (`POST /sandbox/advance`).
    "CREATE TABLE clock (
         id             INTEGER PRIMARY KEY CHECK (id = 1),
         offset_seconds INTEGER NOT NULL
     );",
];

/// What a state file holds when it is opened.
pub struct Loaded {
    pub referrals: Vec<(String, u64, Value)>,
    pub request_ids: Vec<(String, String)>,
    /// How far the sandbox clock ran ahead of the real one.
    pub clock_offset: i64,
}

/// An open state file.
pub struct StateFile {
    conn: Connection,
}

impl StateFile {
    /// Open (or create) the file, migrate it, and read everything it holds.
    pub fn open(path: &Path) -> Result<(Self, Loaded), Error> {
        // A state file that cannot be opened is a bad argument: exit 2 before any request.
        let fail = |e: rusqlite::Error| Error::usage(format!("--state {}: {e}", path.display()));
        let conn = Connection::open(path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        migrate(&conn).map_err(fail)?;
        let loaded = load(&conn).map_err(fail)?;
        Ok((StateFile { conn }, loaded))
    }

    pub fn upsert(&self, id: &str, seq: u64, body: &Value) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO referrals (id, seq, body) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET body = excluded.body",
            params![id, seq_to_sql(seq), body.to_string()],
        )?;
        Ok(())
    }

    /// Write many referrals in one transaction (`POST /sandbox/seed`).
    pub fn upsert_many(&self, referrals: &[(String, u64, Value)]) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO referrals (id, seq, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET body = excluded.body",
            )?;
            for (id, seq, body) in referrals {
                stmt.execute(params![id, seq_to_sql(*seq), body.to_string()])?;
            }
        }
        tx.commit()
    }

    pub fn save_clock(&self, offset_seconds: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO clock (id, offset_seconds) VALUES (1, ?1)",
            params![offset_seconds],
        )?;
        Ok(())
    }

    pub fn remove(&self, id: &str) -> rusqlite::Result<()> {
        self.conn
            .execute("DELETE FROM referrals WHERE id = ?1", params![id])?;
        self.conn.execute(
            "DELETE FROM request_ids WHERE referral_id = ?1",
            params![id],
        )?;
        Ok(())
    }

    pub fn remember(&self, request_id: &str, referral_id: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO request_ids (request_id, referral_id) VALUES (?1, ?2)",
            params![request_id, referral_id],
        )?;
        Ok(())
    }

    pub fn clear(&self) -> rusqlite::Result<()> {
        self.conn
            .execute_batch("DELETE FROM referrals; DELETE FROM request_ids;")
    }
}

fn seq_to_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let target = i64::try_from(index + 1).unwrap_or(i64::MAX);
        if version < target {
            conn.execute_batch(&format!(
                "BEGIN; {sql} PRAGMA user_version = {target}; COMMIT;"
            ))?;
        }
    }
    Ok(())
}

fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
    let mut referrals = Vec::new();
    let mut stmt = conn.prepare("SELECT id, seq, body FROM referrals ORDER BY seq")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (id, seq, body) = row?;
        // A row that is not JSON (edited by hand) is skipped rather than fatal.
        if let Ok(value) = serde_json::from_str::<Value>(&body) {
            referrals.push((id, u64::try_from(seq).unwrap_or(0), value));
        } else {
            tracing::warn!(id, "sandbox state: referral body is not JSON; skipped");
        }
    }
    let mut stmt = conn.prepare("SELECT request_id, referral_id FROM request_ids")?;
    let request_ids = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let clock_offset = conn
        .query_row("SELECT offset_seconds FROM clock WHERE id = 1", [], |row| {
            row.get(0)
        })
        .optional()?
        .unwrap_or(0);
    Ok(Loaded {
        referrals,
        request_ids,
        clock_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contains(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
        conn.query_row("SELECT 1 FROM referrals WHERE id = ?1", params![id], |_| {
            Ok(())
        })
        .optional()
        .map(|found| found.is_some())
    }

    #[test]
    fn referrals_survive_reopening() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.db");
        {
            let (file, loaded) = StateFile::open(&path)?;
            assert!(loaded.referrals.is_empty());
            file.upsert("a", 1, &json!({"id": "a", "name": "one"}))?;
            file.upsert("a", 1, &json!({"id": "a", "name": "two"}))?;
            file.upsert("b", 2, &json!({"id": "b"}))?;
            file.remember("req-1", "b")?;
            file.remove("b")?;
            assert!(contains(&file.conn, "a")?);
            file.save_clock(86_400)?;
            file.upsert_many(&[("c".into(), 3, json!({"id": "c"}))])?;
        }
        let (_file, loaded) = StateFile::open(&path)?;
        assert_eq!(loaded.clock_offset, 86_400);
        assert_eq!(loaded.referrals.len(), 2);
        assert_eq!(
            loaded.referrals.first().map(|r| r.2["name"].clone()),
            Some(json!("two"))
        );
        assert!(loaded.request_ids.is_empty());
        Ok(())
    }
}
