//! The errors of the ledger boundary: every one names the ledger file (or lock file) and what
//! was being done, so an admin reading a cron log knows which file to look at.

use std::path::PathBuf;
use std::sync::Arc;

/// The ledger could not be opened, migrated, locked or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// `open_existing` was given a path with no file.
    #[error("ledger {path} does not exist (check --ledger; `upload` creates it)")]
    Missing { path: PathBuf },
    /// The path names a directory, not a ledger file.
    #[error("ledger {path} is a directory, not a ledger file (give --ledger the file's path)")]
    IsDirectory { path: PathBuf },
    /// The file is not a referral-sync ledger (another program's database, or no database);
    /// it was left untouched.
    #[error(
        "{path} is not a referral-sync ledger ({found}); it was left untouched (check --ledger)"
    )]
    NotALedger { path: PathBuf, found: String },
    /// The ledger file (or its directory) could not be created or inspected.
    #[error("ledger {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite could not open the file.
    #[error("ledger {path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The file is write-protected but the command writes.
    #[error("ledger {path} is read-only (check the permissions of the file and its directory)")]
    ReadOnly { path: PathBuf },
    /// A schema migration failed; the file keeps its previous version.
    #[error("ledger {path}: migration to schema version {version} failed: {source}")]
    Migrate {
        path: PathBuf,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer referral-sync.
    #[error(
        "ledger {path} has schema version {found}, newer than this referral-sync knows ({known}); \
         upgrade referral-sync"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    /// A read-only ledger has an older schema that cannot be migrated in place.
    #[error(
        "ledger {path} has schema version {found} (current is {known}) and is read-only, so it \
         cannot be migrated"
    )]
    Outdated {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    /// A query or write failed.
    #[error("ledger {path}: cannot {op}: {source}")]
    Sql {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value is not one this version understands (the file was edited by hand).
    #[error("ledger {path}: record {external_id:?}: column {column} holds {value:?}")]
    Corrupt {
        path: PathBuf,
        external_id: String,
        column: &'static str,
        value: String,
    },
    /// `forget` or `relink` named a record the ledger does not have.
    #[error("ledger {path} has no record with externalReferenceId {external_id:?}")]
    UnknownRecord { path: PathBuf, external_id: String },
    /// `adopt` named a record the ledger already tracks.
    #[error(
        "ledger {path} already tracks externalReferenceId {external_id:?} (referral {referral_id:?})"
    )]
    AlreadyTracked {
        path: PathBuf,
        external_id: String,
        referral_id: Option<String>,
    },
    /// Another process holds the ledger's lock.
    #[error("ledger {path} is locked by another run ({holder})")]
    Locked { path: PathBuf, holder: String },
    /// The lock file could not be created, locked or written.
    #[error("ledger lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An earlier write of the [`LedgerWriter`](super::LedgerWriter) failed; that op and every
    /// later one fail with this same error, nothing is dropped silently.
    #[error("ledger writer stopped: {source}")]
    WriterFailed {
        #[source]
        source: Arc<LedgerError>,
    },
    /// The writer thread is gone (closed, or it died) so the op was not written.
    #[error("ledger writer is closed; the write was not recorded")]
    WriterClosed,
}

impl LedgerError {
    /// Whether SQLite said "database is locked" while opening or migrating the file: another
    /// connection is setting the file up, and trying again shortly succeeds.
    pub fn is_busy(&self) -> bool {
        match self {
            LedgerError::Open { source, .. } | LedgerError::Migrate { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
            }
            _ => false,
        }
    }
}
