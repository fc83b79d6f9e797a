//! The SQLite ledger: which referral every CRM record became.
//!
//! The ledger is what makes a bulk migration exactly-once. Before a create is sent, the record
//! is marked `in_flight` with the request's `MS-RequestId` and that mark is committed to disk
//! (WAL, `synchronous=FULL`), so a crash between the request and the answer is found on the
//! next run instead of producing a duplicate referral. Admin commands read the same file.
//!
//! - [`Ledger`] owns one connection: opening, migrations, reads, and direct writes.
//! - [`LedgerWriter`] owns a `Ledger` on its own thread and commits queued ops in batches.
//! - [`lock`] takes the advisory lock on the ledger file that keeps two runs apart; every
//!   command that writes the ledger takes it before it opens the file.
//! - [`MirrorRow`]: the API mirror (Partner Center's side of every listed referral) and its
//!   [`Watermark`], which `pull` delivers.
//! - [`triage`](Ledger::triage_entry) records the accept/decline decisions on inbound
//!   referrals, before and after their requests.
//! - [`redact_args`] turns a command line into the text stored with a run, without secrets.

mod audit;
mod error;
mod lock;
mod marker;
mod mirror;
mod read;
mod record;
mod redact;
mod row_errors;
mod schema;
mod triage;
mod write;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use audit::Adopt;
pub use error::LedgerError;
pub use lock::{LedgerLock, lock, lock_existing, lock_existing_with_command, lock_with_command};
pub use mirror::{Delivered, MirrorRow, Stored, Watermark};
pub use read::{ReportKind, RunRecord, StateCounts, SyncEntry};
pub use record::{AuditRecord, FailureKind, LedgerRecord, RunId, SourceLocation, State, Step};
pub use redact::{redact_args, redact_url};
pub use row_errors::{InvalidRow, RowErrorRecord, RowProblem};
pub use triage::{Decision, TriageEntry, TriageFailed, TriagePending, TriageSettled, TriageState};
pub use write::{Failed, InFlight, Pending, Synced, WriteOp};
pub use writer::{Ack, LedgerWriter, WriterHandle, WriterOptions};

/// An open ledger file: one SQLite connection plus the path it was opened from.
///
/// Reads take `&self`; writes take `&mut self` and each runs in its own transaction. For the
/// upload hot path, hand the `Ledger` to a [`LedgerWriter`], which batches writes.
#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

impl Ledger {
    /// Open the ledger at `path`, creating it (mode 0600 on Unix) if it does not exist, and
    /// bring its schema up to date.
    ///
    /// Fails with [`LedgerError::ReadOnly`] if the file cannot be written: every caller of
    /// `open` writes.
    pub fn open(path: impl AsRef<Path>) -> Result<Ledger, LedgerError> {
        let path = path.as_ref();
        // Two processes opening a fresh file at once can meet SQLite's "database is locked"
        // while one of them switches it to WAL, a moment in which SQLite does not wait on
        // its own; the open is tried again until the busy timeout.
        let deadline = std::time::Instant::now() + schema::BUSY_TIMEOUT;
        loop {
            match Ledger::open_once(path) {
                Err(e) if e.is_busy() && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Ledger, LedgerError> {
        check_not_directory(path)?;
        schema::create_private(path)?;
        marker::check(path)?;
        let read_only = || LedgerError::ReadOnly {
            path: path.to_path_buf(),
        };
        let conn = match schema::connect(path) {
            // A writable file in a write-protected directory: no `-wal` file can be made.
            Err(LedgerError::Open { source, .. })
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) =>
            {
                return Err(read_only());
            }
            other => other?,
        };
        let ledger = Ledger {
            conn,
            path: path.to_path_buf(),
        };
        if ledger.is_read_only()? {
            return Err(read_only());
        }
        schema::migrate(&ledger.conn, path)?;
        Ok(ledger)
    }

    /// Open a ledger that must already exist (admin commands: `status`, `report`, `forget`,
    /// `relink`, `reconcile`), so that a mistyped path is an error naming that path rather
    /// than a fresh empty ledger.
    ///
    /// A write-protected file opens read-only; writes on it then fail with an error naming the
    /// file. An older schema is migrated when the file is writable.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Ledger, LedgerError> {
        let path = path.as_ref();
        check_not_directory(path)?;
        if !path.is_file() {
            return Err(LedgerError::Missing {
                path: path.to_path_buf(),
            });
        }
        marker::check(path)?;
        let ledger = Ledger {
            conn: schema::connect(path)?,
            path: path.to_path_buf(),
        };
        if ledger.is_read_only()? {
            schema::check_current(&ledger.conn, path)?;
        } else {
            schema::migrate(&ledger.conn, path)?;
        }
        Ok(ledger)
    }

    /// The file this ledger was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file (`pragma user_version`).
    pub fn schema_version(&self) -> Result<u32, LedgerError> {
        schema::user_version(&self.conn, &self.path)
    }

    /// Whether SQLite opened the file read-only (it was write-protected).
    pub fn is_read_only(&self) -> Result<bool, LedgerError> {
        self.conn
            .is_readonly("main")
            .map_err(|source| self.sql_error("check whether the file is writable", source))
    }

    /// Wrap a SQLite error with this ledger's path and what was being done.
    fn sql_error(&self, op: &'static str, source: rusqlite::Error) -> LedgerError {
        LedgerError::Sql {
            path: self.path.clone(),
            op,
            source,
        }
    }
}

/// The schema version this build writes (the number of its migrations).
pub fn current_schema_version() -> u32 {
    schema::current_version()
}

/// Fail with [`LedgerError::IsDirectory`] when `path` names a directory.
fn check_not_directory(path: &Path) -> Result<(), LedgerError> {
    if path.is_dir() {
        return Err(LedgerError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
