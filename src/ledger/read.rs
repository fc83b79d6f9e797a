//! Reads: single records, the lists the admin commands show, and the one-query sync index the
//! uploader loads at start so that an unchanged re-run makes no point query per row.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Row, params};

use super::record::{corrupt, parse_time};
use super::{
    AuditRecord, FailureKind, Ledger, LedgerError, LedgerRecord, RunId, SourceLocation, State, Step,
};

/// The columns of `records` that [`RawRecord::from_row`] reads.
const COLUMNS: &str = "external_id, referral_id, engagement_id, connected_referral_id, etag,
    connected_etag, payload_hash, payload, state, failure_kind, step, attempts, request_id,
    last_http_status, last_error_code, last_error_message, source_file, source_row,
    created_at, updated_at, synced_at, last_run";

/// Which records a report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// Records whose last attempt failed (state `failed`).
    Failures,
    /// Records synced to Partner Center (state `synced`).
    Successes,
    /// Every record (external id to referral id, whatever the state).
    Mappings,
}

/// What the uploader needs per record to decide create / update / unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEntry {
    pub state: State,
    pub failure_kind: Option<FailureKind>,
    pub payload_hash: Option<String>,
    pub referral_id: Option<String>,
    pub etag: Option<String>,
}

/// How many records are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StateCounts {
    pub pending: u64,
    pub in_flight: u64,
    pub synced: u64,
    pub failed_retryable: u64,
    pub failed_permanent: u64,
}

/// One row of the `runs` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub started_at: String,
    /// `None` while running, or if the run died.
    pub finished_at: Option<String>,
    /// The command line, redacted.
    pub args: String,
    /// The summary counts (JSON).
    pub counts: Option<String>,
    pub exit_code: Option<i32>,
}

/// A `records` row as SQLite returns it, before the enums and times are checked.
struct RawRecord {
    external_id: String,
    referral_id: Option<String>,
    engagement_id: Option<String>,
    connected_referral_id: Option<String>,
    etag: Option<String>,
    connected_etag: Option<String>,
    payload_hash: Option<String>,
    payload: Option<String>,
    state: String,
    failure_kind: Option<String>,
    step: Option<String>,
    attempts: i64,
    request_id: Option<String>,
    last_http_status: Option<i64>,
    last_error_code: Option<String>,
    last_error_message: Option<String>,
    source_file: Option<String>,
    source_row: Option<i64>,
    created_at: String,
    updated_at: String,
    synced_at: Option<String>,
    last_run: Option<i64>,
}

impl RawRecord {
    /// Read the columns of [`COLUMNS`] by name.
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
        Ok(RawRecord {
            external_id: row.get("external_id")?,
            referral_id: row.get("referral_id")?,
            engagement_id: row.get("engagement_id")?,
            connected_referral_id: row.get("connected_referral_id")?,
            etag: row.get("etag")?,
            connected_etag: row.get("connected_etag")?,
            payload_hash: row.get("payload_hash")?,
            payload: row.get("payload")?,
            state: row.get("state")?,
            failure_kind: row.get("failure_kind")?,
            step: row.get("step")?,
            attempts: row.get("attempts")?,
            request_id: row.get("request_id")?,
            last_http_status: row.get("last_http_status")?,
            last_error_code: row.get("last_error_code")?,
            last_error_message: row.get("last_error_message")?,
            source_file: row.get("source_file")?,
            source_row: row.get("source_row")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            synced_at: row.get("synced_at")?,
            last_run: row.get("last_run")?,
        })
    }

    /// Check the enums, numbers and times; a value this version does not know is
    /// [`LedgerError::Corrupt`] naming the record and column.
    fn check(self, path: &std::path::Path) -> Result<LedgerRecord, LedgerError> {
        let id = self.external_id;
        let bad = |column, value: &str| corrupt(path, &id, column, value);
        let state = State::parse(&self.state).ok_or_else(|| bad("state", &self.state))?;
        let failure_kind = match self.failure_kind.as_deref() {
            Some(t) => Some(FailureKind::parse(t).ok_or_else(|| bad("failure_kind", t))?),
            None => None,
        };
        let step = match self.step.as_deref() {
            Some(t) => Some(Step::parse(t).ok_or_else(|| bad("step", t))?),
            None => None,
        };
        let attempts = u32::try_from(self.attempts)
            .map_err(|_| bad("attempts", &self.attempts.to_string()))?;
        let synced_at = match self.synced_at.as_deref() {
            Some(t) => Some(parse_time(path, &id, "synced_at", t)?),
            None => None,
        };
        Ok(LedgerRecord {
            created_at: parse_time(path, &id, "created_at", &self.created_at)?,
            updated_at: parse_time(path, &id, "updated_at", &self.updated_at)?,
            synced_at,
            last_http_status: self.last_http_status.and_then(|s| u16::try_from(s).ok()),
            source: self.source_file.map(|file| SourceLocation {
                file,
                row: self
                    .source_row
                    .and_then(|r| u64::try_from(r).ok())
                    .unwrap_or(0),
            }),
            last_run: self.last_run.map(RunId),
            external_id: id,
            referral_id: self.referral_id,
            engagement_id: self.engagement_id,
            connected_referral_id: self.connected_referral_id,
            etag: self.etag,
            connected_etag: self.connected_etag,
            payload_hash: self.payload_hash,
            payload: self.payload,
            state,
            failure_kind,
            step,
            attempts,
            request_id: self.request_id,
            last_error_code: self.last_error_code,
            last_error_message: self.last_error_message,
        })
    }
}

impl Ledger {
    /// The record for an externalReferenceId, if the ledger has it.
    pub fn get(&self, external_id: &str) -> Result<Option<LedgerRecord>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM records WHERE external_id = ?1");
        let raw = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.query_row([external_id], RawRecord::from_row)
                    .optional()
            })
            .map_err(|e| self.sql_error("read a record", e))?;
        raw.map(|r| r.check(&self.path)).transpose()
    }

    /// Records matching `filter` (an SQL condition on `records`, with `params`), in order.
    fn select(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<LedgerRecord>, LedgerError> {
        let mut out = Vec::new();
        self.each(filter, params, |r| {
            out.push(r);
            Ok::<(), LedgerError>(())
        })?;
        Ok(out)
    }

    /// Stream the records matching `filter` to `f`, one at a time, stopping at its first error.
    fn each<E: From<LedgerError>>(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
        mut f: impl FnMut(LedgerRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = format!("SELECT {COLUMNS} FROM records WHERE {filter}");
        let err = |e| self.sql_error("list records", e);
        let mut stmt = self.conn.prepare(&sql).map_err(err)?;
        let mut rows = stmt.query(params).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let record = RawRecord::from_row(row).map_err(err)?.check(&self.path)?;
            f(record)?;
        }
        Ok(())
    }

    /// Every record, ordered by external id, streamed to `f` without loading all of them
    /// (reconcile). Stops at `f`'s first error and returns it.
    pub fn for_each_record<E: From<LedgerError>>(
        &self,
        f: impl FnMut(LedgerRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        self.each("1 ORDER BY external_id", [], f)
    }

    /// Every external id, sorted.
    pub fn all_external_ids(&self) -> Result<Vec<String>, LedgerError> {
        let err = |e| self.sql_error("list external ids", e);
        let mut stmt = self
            .conn
            .prepare("SELECT external_id FROM records ORDER BY external_id")
            .map_err(err)?;
        let ids = stmt.query_map([], |row| row.get(0)).map_err(err)?;
        ids.collect::<Result<Vec<String>, _>>().map_err(err)
    }

    /// Records whose request was sent (or about to be) with no recorded answer, oldest first.
    pub fn in_flight(&self) -> Result<Vec<LedgerRecord>, LedgerError> {
        self.select("state = 'in_flight' ORDER BY updated_at, external_id", [])
    }

    /// Failed records, oldest first: retryable ones, and permanent ones too if asked.
    pub fn failed(&self, include_permanent: bool) -> Result<Vec<LedgerRecord>, LedgerError> {
        self.select(
            "state = 'failed' AND (?1 OR failure_kind IS NOT 'permanent') ORDER BY updated_at, external_id",
            [include_permanent],
        )
    }

    /// The `n` records in `state` that changed longest ago.
    pub fn oldest(&self, state: State, n: u32) -> Result<Vec<LedgerRecord>, LedgerError> {
        self.select(
            "state = ?1 ORDER BY updated_at, external_id LIMIT ?2",
            params![state.as_str(), n],
        )
    }

    /// The records a report lists, by external id; with `run`, only those it last touched.
    pub fn records_for_report(
        &self,
        kind: ReportKind,
        run: Option<RunId>,
    ) -> Result<Vec<LedgerRecord>, LedgerError> {
        let state = match kind {
            ReportKind::Failures => "state = 'failed'",
            ReportKind::Successes => "state = 'synced'",
            ReportKind::Mappings => "1",
        };
        let filter = format!("{state} AND (?1 IS NULL OR last_run = ?1) ORDER BY external_id");
        self.select(&filter, [run.map(|r| r.0)])
    }

    /// How many records are in each state.
    pub fn counts_by_state(&self) -> Result<StateCounts, LedgerError> {
        let err = |e| self.sql_error("count records", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT state, failure_kind, count(*) FROM records GROUP BY state, failure_kind",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .map_err(err)?;
        let mut counts = StateCounts::default();
        for row in rows {
            let (state, kind, n) = row.map_err(err)?;
            let n = u64::try_from(n).unwrap_or(0);
            let slot = match (state.as_str(), kind.as_deref()) {
                ("pending", _) => &mut counts.pending,
                ("in_flight", _) => &mut counts.in_flight,
                ("synced", _) => &mut counts.synced,
                ("failed", Some("permanent")) => &mut counts.failed_permanent,
                ("failed", _) => &mut counts.failed_retryable,
                (other, _) => return Err(corrupt(&self.path, "", "state", other)),
            };
            *slot += n;
        }
        Ok(counts)
    }

    /// The newest `limit` runs, newest first.
    pub fn runs(&self, limit: u32) -> Result<Vec<RunRecord>, LedgerError> {
        let err = |e| self.sql_error("list runs", e);
        let mut stmt = self
            .conn
            .prepare("SELECT id, started_at, finished_at, args, counts, exit_code FROM runs ORDER BY id DESC LIMIT ?1")
            .map_err(err)?;
        let rows = stmt
            .query_map([limit], |row| {
                Ok(RunRecord {
                    id: RunId(row.get(0)?),
                    started_at: row.get(1)?,
                    finished_at: row.get(2)?,
                    args: row.get(3)?,
                    counts: row.get(4)?,
                    exit_code: row.get(5)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// The audit trail, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditRecord>, LedgerError> {
        let err = |e| self.sql_error("read the audit log", e);
        let mut stmt = self
            .conn
            .prepare("SELECT at, action, external_id, old_referral_id, new_referral_id, reason FROM audit ORDER BY id")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get(1)?,
                    row.get::<_, String>(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (at, action, external_id, old_referral_id, new_referral_id, reason) =
                row.map_err(err)?;
            let at = parse_time(&self.path, &external_id, "audit.at", &at)?;
            out.push(AuditRecord {
                at,
                action,
                external_id,
                old_referral_id,
                new_referral_id,
                reason,
            });
        }
        Ok(out)
    }

    /// Every record's sync decision inputs, in one query (an unchanged re-run of 100,000
    /// records compares hashes in memory instead of making 100,000 point queries).
    pub fn load_sync_index(&self) -> Result<HashMap<String, SyncEntry>, LedgerError> {
        let err = |e| self.sql_error("load the sync index", e);
        let mut stmt = self
            .conn
            .prepare("SELECT external_id, state, failure_kind, payload_hash, referral_id, etag FROM records")
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut index = HashMap::new();
        while let Some(row) = rows.next().map_err(err)? {
            let id: String = row.get(0).map_err(err)?;
            let state: String = row.get(1).map_err(err)?;
            let kind: Option<String> = row.get(2).map_err(err)?;
            let entry = SyncEntry {
                state: State::parse(&state)
                    .ok_or_else(|| corrupt(&self.path, &id, "state", &state))?,
                failure_kind: kind.as_deref().and_then(FailureKind::parse),
                payload_hash: row.get(3).map_err(err)?,
                referral_id: row.get(4).map_err(err)?,
                etag: row.get(5).map_err(err)?,
            };
            index.insert(id, entry);
        }
        Ok(index)
    }
}
