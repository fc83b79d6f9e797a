//! What a run did, counted as it goes: shown live by the progress display, printed at the end
//! on stderr, and written as JSON with `--summary-json`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters shared by the reader, the workers and the progress display.
#[derive(Debug, Default)]
pub struct Counters {
    pub rows: AtomicU64,
    pub created: AtomicU64,
    pub updated: AtomicU64,
    pub unchanged: AtomicU64,
    pub skipped: AtomicU64,
    pub failed: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub adopted: AtomicU64,
    /// Changed fields Partner Center does not let change (one per field and change).
    pub not_updatable: AtomicU64,
    /// Records left alone because their referral is closed in Partner Center.
    pub closed_in_partner_center: AtomicU64,
    /// The notices behind the two counts above, in the order they came.
    pub notices: std::sync::Mutex<Vec<Notice>>,
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    NotUpdatable,
    ClosedInPartnerCenter,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::NotUpdatable => "not_updatable",
            NoticeKind::ClosedInPartnerCenter => "closed_in_partner_center",
        }
    }
}

/// A change that was not sent, and why: not a failure, the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub external_id: String,
    /// The JSON Pointer of the field (`/name`); `connected:/…` for the connected referral's.
    pub field: String,
    pub reason: String,
}

/// Add one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The end-of-run summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub failed: u64,
    pub adopted: u64,
    pub not_updatable: u64,
    pub closed_in_partner_center: u64,
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub elapsed_seconds: f64,
    pub requests_per_second: f64,
    /// Every `not_updatable` and `closed_in_partner_center` notice of the run.
    pub notices: Vec<Notice>,
}

impl Counters {
    /// A snapshot of the counters after `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let requests = get(&self.requests);
        Summary {
            rows: get(&self.rows),
            created: get(&self.created),
            updated: get(&self.updated),
            unchanged: get(&self.unchanged),
            skipped: get(&self.skipped),
            failed: get(&self.failed),
            adopted: get(&self.adopted),
            not_updatable: get(&self.not_updatable),
            closed_in_partner_center: get(&self.closed_in_partner_center),
            requests,
            retries: get(&self.retries),
            throttled: get(&self.throttled),
            elapsed_seconds: (secs * 1000.0).round() / 1000.0,
            requests_per_second: if secs > 0.0 {
                ((requests as f64 / secs) * 100.0).round() / 100.0
            } else {
                0.0
            },
            notices: self.notices.lock().map(|n| n.clone()).unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rows: {}, created: {}, updated: {}, unchanged: {}, skipped: {}, failed: {}, \
             adopted: {}, not_updatable: {}, closed_in_partner_center: {}, requests: {}, \
             retries: {}, throttled: {}, elapsed: {:.1}s, rate: {:.2} req/s",
            self.rows,
            self.created,
            self.updated,
            self.unchanged,
            self.skipped,
            self.failed,
            self.adopted,
            self.not_updatable,
            self.closed_in_partner_center,
            self.requests,
            self.retries,
            self.throttled,
            self.elapsed_seconds,
            self.requests_per_second
        )
    }
}
