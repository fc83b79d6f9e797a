//! The values the ledger stores: record states, the step of an open request, and the rows of
//! the `records`, `runs` and `audit` tables as Rust types.
//!
//! Enums are stored as lower-case text (readable with the `sqlite3` shell); an unknown text is
//! reported as [`LedgerError::Corrupt`], never a panic.

use std::path::Path;

use jiff::Timestamp;

use super::LedgerError;

/// Where a record is in its sync: `pending → in_flight → synced`, or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Seen in an export, nothing sent yet.
    Pending,
    /// A request was (possibly) sent and its answer is not recorded: the next run must look
    /// the referral up (by `externalReferenceId`) before sending anything.
    InFlight,
    /// Partner Center holds the payload whose hash is stored.
    Synced,
    /// The last attempt failed; see [`FailureKind`] and the last error.
    Failed,
}

/// Whether a failed record is sent again by `retry` without `--all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Throttling, timeouts, 5xx: worth another attempt.
    Retryable,
    /// The API rejected the payload (4xx other than 408/429): resending the same data fails.
    Permanent,
}

/// Which request an in-flight record is waiting for (kept after a failure: it is the step to
/// resume).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `POST` of the referral.
    Create,
    /// Step two of a shared referral: the Shared referral exists (its id and engagementId are
    /// recorded), the connected referral for Microsoft is being created.
    Connected,
    /// `PATCH` of an existing referral.
    Update,
}

macro_rules! text_enum {
    ($ty:ty, $($variant:path => $text:literal),+ $(,)?) => {
        impl $ty {
            /// The text stored in the ledger.
            pub fn as_str(self) -> &'static str {
                match self { $($variant => $text),+ }
            }
            /// The value for a stored text, if it is one this version knows.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(State, State::Pending => "pending", State::InFlight => "in_flight",
    State::Synced => "synced", State::Failed => "failed");
text_enum!(FailureKind, FailureKind::Retryable => "retryable", FailureKind::Permanent => "permanent");
text_enum!(Step, Step::Create => "create", Step::Connected => "connected", Step::Update => "update");

/// The id of a row of the `runs` table (one `upload` or `retry` invocation). Record writes
/// name the run that made them; a run id the ledger does not have fails the write (foreign
/// key), so take it from [`Ledger::start_run`](super::Ledger::start_run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The file and 1-based data row where a record last appeared (shown in reports).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceLocation {
    /// The input file as given on the command line.
    pub file: String,
    /// The row (for Excel and CSV, the row number a spreadsheet user sees).
    pub row: u64,
}

/// One row of the `records` table: everything known about one CRM record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerRecord {
    /// The sync key: the record's `externalReferenceId`.
    pub external_id: String,
    /// The referral this record became (for a shared referral: the Shared one).
    pub referral_id: Option<String>,
    /// The referral's engagementId.
    pub engagement_id: Option<String>,
    /// For a shared referral: the connected referral created for Microsoft.
    pub connected_referral_id: Option<String>,
    /// The referral's last known eTag.
    pub etag: Option<String>,
    /// The connected referral's last known eTag.
    pub connected_etag: Option<String>,
    /// SHA-256 (hex) of the last payload sent; `None` after `relink` or `adopt`.
    pub payload_hash: Option<String>,
    /// The last payload sent (JSON).
    pub payload: Option<String>,
    /// Where the record is in its sync.
    pub state: State,
    /// For `State::Failed`: whether `retry` resends it by default.
    pub failure_kind: Option<FailureKind>,
    /// The step of the open (or last failed) request.
    pub step: Option<Step>,
    /// Requests started for this record, over its whole life.
    pub attempts: u32,
    /// The `MS-RequestId` of the open (or last failed) request: reuse it when resending.
    pub request_id: Option<String>,
    /// The HTTP status of the last failure, if there was a response.
    pub last_http_status: Option<u16>,
    /// The API's error code of the last failure.
    pub last_error_code: Option<String>,
    /// The message of the last failure.
    pub last_error_message: Option<String>,
    /// Where the record last appeared in an export.
    pub source: Option<SourceLocation>,
    /// When the ledger first saw the record.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// When the record was last marked synced.
    pub synced_at: Option<Timestamp>,
    /// The run that last touched the record.
    pub last_run: Option<RunId>,
}

/// One row of the `audit` table: a `forget`, `relink` or `adopt`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// When it happened.
    pub at: Timestamp,
    /// `forget`, `relink` or `adopt`.
    pub action: String,
    /// The record's externalReferenceId.
    pub external_id: String,
    /// The referral id before.
    pub old_referral_id: Option<String>,
    /// The referral id after.
    pub new_referral_id: Option<String>,
    /// Why (given by the admin or the command).
    pub reason: String,
}

/// The current time as stored: RFC 3339 UTC with microseconds, so text order is time order.
pub(crate) fn now_text() -> String {
    format!("{:.6}", Timestamp::now())
}

/// Parse a stored timestamp, reporting a bad one as corruption of `column`.
pub(crate) fn parse_time(
    path: &Path,
    external_id: &str,
    column: &'static str,
    text: &str,
) -> Result<Timestamp, LedgerError> {
    text.parse()
        .map_err(|_| corrupt(path, external_id, column, text))
}

/// The error for a stored value this version does not understand.
pub(crate) fn corrupt(
    path: &Path,
    external_id: &str,
    column: &'static str,
    value: &str,
) -> LedgerError {
    LedgerError::Corrupt {
        path: path.to_path_buf(),
        external_id: external_id.to_owned(),
        column,
        value: value.to_owned(),
    }
}
