//! How a ledger is told from any other file: a ledger carries its own marker in the SQLite
//! header (`pragma application_id`), set by a migration, so that `--ledger` pointed at another
//! program's database is refused and that file is left byte for byte as it was, instead of
//! getting our tables (and WAL mode) written into it.
//!
//! A file is accepted as a ledger when it is empty (a new ledger), carries the marker, is an
//! SQLite database with no schema yet (a ledger another process is creating), or holds the
//! ledger schema of an earlier version without the marker (the next writable open adds it).
//! The header is read before SQLite opens the file; only a file without the marker is opened,
//! read-only, to look at its tables.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::LedgerError;

/// The `application_id` of a ledger: "RSyn".
pub(crate) const APPLICATION_ID: i32 = i32::from_be_bytes(*b"RSyn");

/// The tables every ledger since schema version 1 has.
const LEDGER_TABLES: [&str; 3] = ["audit", "records", "runs"];

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Fail with [`LedgerError::NotALedger`] unless `path` is a ledger (or empty).
pub(crate) fn check(path: &Path) -> Result<(), LedgerError> {
    let mut header = Vec::with_capacity(100);
    std::fs::File::open(path)
        .and_then(|file| file.take(100).read_to_end(&mut header))
        .map_err(|source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if header.is_empty() {
        return Ok(());
    }
    if header.len() < 100 || !header.starts_with(SQLITE_MAGIC) {
        return Err(not_a_ledger(path, "not an SQLite database"));
    }
    match i32::from_be_bytes([header[68], header[69], header[70], header[71]]) {
        APPLICATION_ID => Ok(()),
        0 => check_tables(path),
        other => Err(not_a_ledger(
            path,
            &format!("an SQLite database with application_id {other:#x}"),
        )),
    }
}

/// An SQLite file without any marker: a ledger of an earlier version, one being created, or
/// another program's database.
fn check_tables(path: &Path) -> Result<(), LedgerError> {
    let open_err = |source| LedgerError::Open {
        path: path.to_path_buf(),
        source,
    };
    let tables = match read_tables(path, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(tables) => tables,
        // A WAL file in a write-protected directory: read it as an immutable snapshot.
        Err(_) => read_tables(path, super::schema::IMMUTABLE_FLAGS).map_err(open_err)?,
    };
    if tables.is_empty() || LEDGER_TABLES.iter().all(|t| tables.iter().any(|n| n == t)) {
        return Ok(());
    }
    let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    let more = if tables.len() > 5 { ", ..." } else { "" };
    Err(not_a_ledger(
        path,
        &format!(
            "an SQLite database of another program, tables: {}{more}",
            shown.join(", ")
        ),
    ))
}

/// The names of the file's tables, indexes and views, sorted.
fn read_tables(path: &Path, flags: OpenFlags) -> Result<Vec<String>, rusqlite::Error> {
    let conn = if flags.contains(OpenFlags::SQLITE_OPEN_URI) {
        Connection::open_with_flags(super::schema::immutable_uri(path), flags)?
    } else {
        Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?
    };
    conn.busy_timeout(super::schema::BUSY_TIMEOUT)?;
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master ORDER BY name")?;
    let names = stmt.query_map([], |row| row.get::<_, String>(0))?;
    names.collect()
}

fn not_a_ledger(path: &Path, found: &str) -> LedgerError {
    LedgerError::NotALedger {
        path: path.to_path_buf(),
        found: found.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_migration_sets_the_marker_this_module_checks() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&conn, std::path::Path::new(":memory:")).unwrap();
        let id: i32 = conn
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .unwrap();
        assert_eq!(id, super::APPLICATION_ID);
    }
}
