//! Writes: the state transitions of a record, the runs table, and the audited admin changes.
//!
//! The transitions are [`WriteOp`] values so that the same code runs for a direct write on a
//! [`Ledger`] (one transaction each) and for a batch of the [`LedgerWriter`](super::LedgerWriter)
//! (many ops, one transaction). Every transition is an upsert keyed by the external id.

use rusqlite::{Connection, params};

use super::record::now_text;
use super::{FailureKind, Ledger, LedgerError, RunId, SourceLocation, Step};

/// Mark a record seen in an export and not sent yet (`pending`). A record the ledger already
/// has keeps its state; only its source location and run are updated.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The record's externalReferenceId.
    pub external_id: String,
    /// Where it appeared in the export (`None` keeps what the ledger has).
    pub source: Option<SourceLocation>,
    /// The run that saw it.
    pub run: RunId,
}

/// Mark a record `in_flight` before its request is sent; attempts + 1.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// The record's externalReferenceId.
    pub external_id: String,
    /// Which request is about to be sent.
    pub step: Step,
    /// The request's `MS-RequestId`.
    pub request_id: String,
    /// The JSON body about to be sent.
    pub payload: String,
    /// The hash the uploader compares on the next run (SHA-256 hex of the payload).
    pub payload_hash: String,
    /// Where the record appeared in the export (`None` keeps what the ledger has).
    pub source: Option<SourceLocation>,
    /// For `Step::Connected`: the Shared referral created by step one (id, engagementId,
    /// eTag). `None` keeps what the ledger has.
    pub referral_id: Option<String>,
    pub engagement_id: Option<String>,
    pub etag: Option<String>,
    /// The run sending it.
    pub run: RunId,
}

/// Mark a record `synced`: the API accepted `payload`. Clears the open request and the last
/// error. `None` ids and eTags keep what the ledger has.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The record's externalReferenceId.
    pub external_id: String,
    /// The referral (for a shared referral: the Shared one, not Microsoft's).
    pub referral_id: String,
    pub engagement_id: Option<String>,
    pub connected_referral_id: Option<String>,
    pub etag: Option<String>,
    pub connected_etag: Option<String>,
    pub payload_hash: String,
    pub payload: String,
    pub run: RunId,
}

/// Mark a record `failed`. The step and `MS-RequestId` of the failed request are kept, so a
/// retry after a timeout can reuse the id.
#[derive(Debug, Clone)]
pub struct Failed {
    /// The record's externalReferenceId.
    pub external_id: String,
    /// Whether `retry` resends it by default.
    pub kind: FailureKind,
    /// The response's status, if there was a response.
    pub http_status: Option<u16>,
    /// The API's error code, if the body had one.
    pub error_code: Option<String>,
    /// What went wrong (never a token or header value).
    pub message: String,
    /// The run that failed it.
    pub run: RunId,
}

/// One write the [`LedgerWriter`](super::LedgerWriter) can batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Pending(Pending),
    InFlight(InFlight),
    Synced(Synced),
    Failed(Failed),
    /// An export row failed mapping or validation.
    InvalidRow(super::InvalidRow),
    /// The export row at this place (file, row) mapped: it no longer fails.
    RowMapped {
        file: String,
        row: u64,
    },
    /// An export file was read to its end at this row.
    FileRead {
        file: String,
        last_row: u64,
    },
    /// Writes nothing; its ack means every earlier op is committed.
    Flush,
}

impl WriteOp {
    /// Apply the op on a connection (inside the caller's transaction).
    pub(crate) fn apply(&self, conn: &Connection) -> Result<(), rusqlite::Error> {
        match self {
            WriteOp::Pending(op) => pending(conn, op),
            WriteOp::InFlight(op) => in_flight(conn, op),
            WriteOp::Synced(op) => synced(conn, op),
            WriteOp::Failed(op) => failed(conn, op),
            WriteOp::InvalidRow(op) => super::row_errors::invalid(conn, op),
            WriteOp::RowMapped { file, row } => super::row_errors::mapped(conn, file, *row),
            WriteOp::FileRead { file, last_row } => {
                super::row_errors::file_read(conn, file, *last_row)
            }
            WriteOp::Flush => Ok(()),
        }
    }

    /// What the op does, for error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            WriteOp::Pending(_) => "mark a record pending",
            WriteOp::InFlight(_) => "mark a record in flight",
            WriteOp::Synced(_) => "mark a record synced",
            WriteOp::Failed(_) => "mark a record failed",
            WriteOp::InvalidRow(_) => "record an invalid row",
            WriteOp::RowMapped { .. } => "clear a row error",
            WriteOp::FileRead { .. } => "clear row errors past the end of a file",
            WriteOp::Flush => "flush",
        }
    }
}

fn source_parts(source: &Option<SourceLocation>) -> (Option<&str>, Option<i64>) {
    match source {
        Some(loc) => (Some(loc.file.as_str()), i64::try_from(loc.row).ok()),
        None => (None, None),
    }
}

fn pending(conn: &Connection, op: &Pending) -> Result<(), rusqlite::Error> {
    let (file, row) = source_parts(&op.source);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO records (external_id, state, source_file, source_row, created_at,
             updated_at, last_run)
         VALUES (?1, 'pending', ?2, ?3, ?4, ?4, ?5)
         ON CONFLICT (external_id) DO UPDATE SET
             source_file = coalesce(excluded.source_file, source_file),
             source_row = coalesce(excluded.source_row, source_row),
             updated_at = excluded.updated_at, last_run = excluded.last_run",
    )?;
    stmt.execute(params![op.external_id, file, row, now_text(), op.run.0])?;
    Ok(())
}

fn in_flight(conn: &Connection, op: &InFlight) -> Result<(), rusqlite::Error> {
    let (file, row) = source_parts(&op.source);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO records (external_id, state, step, request_id, payload, payload_hash,
             source_file, source_row, referral_id, engagement_id, etag, attempts,
             created_at, updated_at, last_run)
         VALUES (?1, 'in_flight', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?11, ?12)
         ON CONFLICT (external_id) DO UPDATE SET
             state = 'in_flight', step = excluded.step, request_id = excluded.request_id,
             payload = excluded.payload, payload_hash = excluded.payload_hash,
             source_file = coalesce(excluded.source_file, source_file),
             source_row = coalesce(excluded.source_row, source_row),
             referral_id = coalesce(excluded.referral_id, referral_id),
             engagement_id = coalesce(excluded.engagement_id, engagement_id),
             etag = coalesce(excluded.etag, etag),
             failure_kind = NULL, attempts = attempts + 1,
             updated_at = excluded.updated_at, last_run = excluded.last_run",
    )?;
    stmt.execute(params![
        op.external_id,
        op.step.as_str(),
        op.request_id,
        op.payload,
        op.payload_hash,
        file,
        row,
        op.referral_id,
        op.engagement_id,
        op.etag,
        now_text(),
        op.run.0,
    ])?;
    Ok(())
}

fn synced(conn: &Connection, op: &Synced) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO records (external_id, state, referral_id, engagement_id,
             connected_referral_id, etag, connected_etag, payload_hash, payload,
             created_at, updated_at, synced_at, last_run)
         VALUES (?1, 'synced', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10)
         ON CONFLICT (external_id) DO UPDATE SET
             state = 'synced', referral_id = excluded.referral_id,
             engagement_id = coalesce(excluded.engagement_id, engagement_id),
             connected_referral_id = coalesce(excluded.connected_referral_id,
                 connected_referral_id),
             etag = coalesce(excluded.etag, etag),
             connected_etag = coalesce(excluded.connected_etag, connected_etag),
             payload_hash = excluded.payload_hash, payload = excluded.payload,
             failure_kind = NULL, step = NULL, request_id = NULL, last_http_status = NULL,
             last_error_code = NULL, last_error_message = NULL,
             updated_at = excluded.updated_at, synced_at = excluded.synced_at,
             last_run = excluded.last_run",
    )?;
    stmt.execute(params![
        op.external_id,
        op.referral_id,
        op.engagement_id,
        op.connected_referral_id,
        op.etag,
        op.connected_etag,
        op.payload_hash,
        op.payload,
        now_text(),
        op.run.0,
    ])?;
    Ok(())
}

fn failed(conn: &Connection, op: &Failed) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO records (external_id, state, failure_kind, last_http_status,
             last_error_code, last_error_message, created_at, updated_at, last_run)
         VALUES (?1, 'failed', ?2, ?3, ?4, ?5, ?6, ?6, ?7)
         ON CONFLICT (external_id) DO UPDATE SET
             state = 'failed', failure_kind = excluded.failure_kind,
             last_http_status = excluded.last_http_status,
             last_error_code = excluded.last_error_code,
             last_error_message = excluded.last_error_message,
             updated_at = excluded.updated_at, last_run = excluded.last_run",
    )?;
    stmt.execute(params![
        op.external_id,
        op.kind.as_str(),
        op.http_status,
        op.error_code,
        op.message,
        now_text(),
        op.run.0,
    ])?;
    Ok(())
}

impl Ledger {
    /// Apply one op in its own transaction.
    pub fn apply(&mut self, op: &WriteOp) -> Result<(), LedgerError> {
        self.apply_batch(std::slice::from_ref(op))
    }

    /// Apply ops in one transaction: all are committed, or none.
    pub fn apply_batch(&mut self, ops: &[WriteOp]) -> Result<(), LedgerError> {
        let what = ops.first().map_or("write", WriteOp::describe);
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_error(&self.path, what, e))?;
        for op in ops {
            op.apply(&tx)
                .map_err(|e| sql_error(&self.path, op.describe(), e))?;
        }
        tx.commit().map_err(|e| sql_error(&self.path, what, e))
    }

    /// Mark a record pending (see [`Pending`]).
    pub fn mark_pending(&mut self, op: Pending) -> Result<(), LedgerError> {
        self.apply(&WriteOp::Pending(op))
    }

    /// Mark a record in flight (see [`InFlight`]); committed when this returns.
    pub fn mark_in_flight(&mut self, op: InFlight) -> Result<(), LedgerError> {
        self.apply(&WriteOp::InFlight(op))
    }

    /// Mark a record synced (see [`Synced`]).
    pub fn mark_synced(&mut self, op: Synced) -> Result<(), LedgerError> {
        self.apply(&WriteOp::Synced(op))
    }

    /// Mark a record failed (see [`Failed`]).
    pub fn mark_failed(&mut self, op: Failed) -> Result<(), LedgerError> {
        self.apply(&WriteOp::Failed(op))
    }

    /// Record the start of a run; `args` must already be redacted (see
    /// [`redact_args`](super::redact_args)); it is stored as given.
    pub fn start_run(&mut self, args: &str) -> Result<RunId, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO runs (started_at, args) VALUES (?1, ?2)",
                params![now_text(), args],
            )
            .map_err(|e| self.sql_error("start a run", e))?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Record the end of a run: its summary counts (JSON) and exit code.
    pub fn finish_run(
        &mut self,
        run: RunId,
        counts_json: &str,
        exit_code: i32,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?1, counts = ?2, exit_code = ?3 WHERE id = ?4",
                params![now_text(), counts_json, exit_code, run.0],
            )
            .map_err(|e| self.sql_error("finish a run", e))?;
        Ok(())
    }
}

pub(crate) fn sql_error(
    path: &std::path::Path,
    op: &'static str,
    source: rusqlite::Error,
) -> LedgerError {
    LedgerError::Sql {
        path: path.to_path_buf(),
        op,
        source,
    }
}
