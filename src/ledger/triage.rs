//! The `triage` table: one row per inbound referral an admin decided to accept or decline.
//!
//! A decision is recorded before its request and after its answer, as a create is: `pending`
//! when it is first read from a decisions file, `sent` (committed) before each PATCH leaves,
//! and `done`, `expired`, `closed` or `failed` once the answer (or a fresh read of the
//! referral) says how it ended. A row left `sent` by a crash is never sent again blindly: the
//! next run reads the referral first. Each write is its own transaction.

use rusqlite::{OptionalExtension, Row, params};

use super::record::{corrupt, now_text};
use super::{Ledger, LedgerError, RunId, SourceLocation};

/// What an admin decided for an inbound referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Active/Accepted.
    Accept,
    /// Closed/Declined, with the reason as `statusReason`.
    Decline,
}

impl Decision {
    /// The text stored in the ledger (and written in decisions files).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Decline => "decline",
        }
    }

    /// The decision a text names, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "accept" => Some(Decision::Accept),
            "decline" => Some(Decision::Decline),
            _ => None,
        }
    }
}

/// Where a decision stands (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageState {
    Pending,
    Sent,
    Done,
    Expired,
    Closed,
    Failed,
}

impl TriageState {
    /// The text stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            TriageState::Pending => "pending",
            TriageState::Sent => "sent",
            TriageState::Done => "done",
            TriageState::Expired => "expired",
            TriageState::Closed => "closed",
            TriageState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            TriageState::Pending,
            TriageState::Sent,
            TriageState::Done,
            TriageState::Expired,
            TriageState::Closed,
            TriageState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// Whether the decision has reached its end (nothing is sent for it again).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TriageState::Done | TriageState::Expired | TriageState::Closed
        )
    }
}

/// One row of the `triage` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TriageEntry {
    pub referral_id: String,
    pub decision: Decision,
    /// The decline's statusReason (kept for an accept too, not sent).
    pub reason: Option<String>,
    pub state: TriageState,
    /// The eTag the last PATCH carried as If-Match.
    pub sent_etag: Option<String>,
    /// The referral's eTag once the decision was settled.
    pub answer_etag: Option<String>,
    /// Status and substatus Partner Center gave when the decision was settled.
    pub api_status: Option<String>,
    pub api_substatus: Option<String>,
    /// PATCHes started for this decision.
    pub attempts: u32,
    pub last_http_status: Option<u16>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    /// The decisions file and row it came from.
    pub source: Option<SourceLocation>,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    pub run: Option<RunId>,
}

/// Record a decision read from a file (`pending`), replacing an earlier one that did not
/// reach its end.
#[derive(Debug, Clone)]
pub struct TriagePending {
    pub referral_id: String,
    pub decision: Decision,
    pub reason: Option<String>,
    pub source: Option<SourceLocation>,
    pub run: RunId,
}

/// Record how a decision ended: `done`, `expired` or `closed`.
#[derive(Debug, Clone)]
pub struct TriageSettled {
    pub referral_id: String,
    pub state: TriageState,
    pub etag: Option<String>,
    pub status: Option<String>,
    pub substatus: Option<String>,
    pub run: RunId,
}

/// Record a failed attempt. `unsure`: the request may have been applied (no answer), so the
/// row stays `sent` and the next run reads the referral first.
#[derive(Debug, Clone)]
pub struct TriageFailed {
    pub referral_id: String,
    pub unsure: bool,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub message: String,
    pub run: RunId,
}

const COLUMNS: &str = "referral_id, decision, reason, state, sent_etag, answer_etag, api_status,
    api_substatus, attempts, last_http_status, last_error_code, last_error_message,
    source_file, source_row, updated_at, run";

impl Ledger {
    /// The decision recorded for a referral.
    pub fn triage_entry(&self, referral_id: &str) -> Result<Option<TriageEntry>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM triage WHERE referral_id = ?1");
        let entry = self
            .conn
            .query_row(&sql, [referral_id], raw_entry)
            .optional()
            .map_err(|e| self.sql_error("read a triage decision", e))?;
        entry.map(|raw| raw.check(self)).transpose()
    }

    /// Every recorded decision in `states`, oldest change first.
    pub fn triage_in(&self, states: &[TriageState]) -> Result<Vec<TriageEntry>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM triage ORDER BY updated_at, referral_id");
        let raws = self
            .conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map([], raw_entry)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.sql_error("read triage decisions", e))?;
        let mut entries = Vec::new();
        for raw in raws {
            let entry = raw.check(self)?;
            if states.contains(&entry.state) {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// Record a decision as `pending` (see [`TriagePending`]).
    pub fn triage_pending(&mut self, op: &TriagePending) -> Result<(), LedgerError> {
        let (file, row) = match &op.source {
            Some(loc) => (Some(loc.file.as_str()), i64::try_from(loc.row).ok()),
            None => (None, None),
        };
        self.conn
            .execute(
                "INSERT INTO triage (referral_id, decision, reason, state, source_file,
                     source_row, created_at, updated_at, run)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6, ?7)
                 ON CONFLICT (referral_id) DO UPDATE SET
                     decision = excluded.decision, reason = excluded.reason, state = 'pending',
                     source_file = coalesce(excluded.source_file, source_file),
                     source_row = coalesce(excluded.source_row, source_row),
                     last_http_status = NULL, last_error_code = NULL,
                     last_error_message = NULL, updated_at = excluded.updated_at,
                     run = excluded.run",
                params![
                    op.referral_id,
                    op.decision.as_str(),
                    op.reason,
                    file,
                    row,
                    now_text(),
                    op.run.0
                ],
            )
            .map_err(|e| self.sql_error("record a triage decision", e))?;
        Ok(())
    }

    /// Mark a decision `sent` with the eTag its PATCH carries; committed when this returns,
    /// before the request leaves.
    pub fn triage_sent(
        &mut self,
        referral_id: &str,
        etag: &str,
        run: RunId,
    ) -> Result<(), LedgerError> {
        self.triage_update(
            "mark a triage decision sent",
            "state = 'sent', sent_etag = ?2, attempts = attempts + 1, sent_at = ?3,
             updated_at = ?3, run = ?4",
            params![referral_id, etag, now_text(), run.0],
        )
    }

    /// Record how a decision ended (see [`TriageSettled`]).
    pub fn triage_settled(&mut self, op: &TriageSettled) -> Result<(), LedgerError> {
        self.triage_update(
            "settle a triage decision",
            "state = ?2, answer_etag = coalesce(?3, answer_etag), api_status = ?4,
             api_substatus = ?5, last_http_status = NULL, last_error_code = NULL,
             last_error_message = NULL, settled_at = ?6, updated_at = ?6, run = ?7",
            params![
                op.referral_id,
                op.state.as_str(),
                op.etag,
                op.status,
                op.substatus,
                now_text(),
                op.run.0
            ],
        )
    }

    /// Record a failed attempt (see [`TriageFailed`]).
    pub fn triage_failed(&mut self, op: &TriageFailed) -> Result<(), LedgerError> {
        self.triage_update(
            "mark a triage decision failed",
            "state = CASE WHEN ?2 AND state = 'sent' THEN 'sent' ELSE 'failed' END,
             last_http_status = ?3, last_error_code = ?4, last_error_message = ?5,
             updated_at = ?6, run = ?7",
            params![
                op.referral_id,
                op.unsure,
                op.http_status,
                op.error_code,
                op.message,
                now_text(),
                op.run.0
            ],
        )
    }

    fn triage_update(
        &mut self,
        what: &'static str,
        set: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), LedgerError> {
        let sql = format!("UPDATE triage SET {set} WHERE referral_id = ?1");
        self.conn
            .execute(&sql, params)
            .map_err(|e| self.sql_error(what, e))?;
        Ok(())
    }
}

/// A row as stored, before its enums are checked.
struct RawEntry {
    entry: TriageEntry,
    decision: String,
    state: String,
}

fn raw_entry(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
    let file: Option<String> = row.get(12)?;
    let line: Option<i64> = row.get(13)?;
    let source = match (file, line) {
        (Some(file), Some(line)) => Some(SourceLocation {
            file,
            row: u64::try_from(line).unwrap_or(0),
        }),
        _ => None,
    };
    Ok(RawEntry {
        decision: row.get(1)?,
        state: row.get(3)?,
        entry: TriageEntry {
            referral_id: row.get(0)?,
            decision: Decision::Accept,
            reason: row.get(2)?,
            state: TriageState::Pending,
            sent_etag: row.get(4)?,
            answer_etag: row.get(5)?,
            api_status: row.get(6)?,
            api_substatus: row.get(7)?,
            attempts: row.get(8)?,
            last_http_status: row.get(9)?,
            last_error_code: row.get(10)?,
            last_error_message: row.get(11)?,
            source,
            updated_at: row.get(14)?,
            run: row.get::<_, Option<i64>>(15)?.map(RunId),
        },
    })
}

impl RawEntry {
    fn check(self, ledger: &Ledger) -> Result<TriageEntry, LedgerError> {
        let id = &self.entry.referral_id;
        let decision = Decision::parse(&self.decision)
            .ok_or_else(|| corrupt(&ledger.path, id, "triage.decision", &self.decision))?;
        let state = TriageState::parse(&self.state)
            .ok_or_else(|| corrupt(&ledger.path, id, "triage.state", &self.state))?;
        Ok(TriageEntry {
            decision,
            state,
            ..self.entry
        })
    }
}
