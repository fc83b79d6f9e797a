//! What a `triage` run did: counts per outcome, one line per decision that did not end as
//! asked, printed on stderr at the end and written as JSON with `--summary-json`.

use std::fmt;

use serde::Serialize;

use crate::Exit;

/// How one decision of the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Accepted by this run (or by an earlier run whose answer was lost).
    Accepted,
    /// Declined by this run (or by an earlier run whose answer was lost).
    Declined,
    /// Already as decided: nothing was sent.
    AlreadyDone,
    /// It expired before the decision reached it; not retried.
    Expired,
    /// It was closed (or answered otherwise) before the decision reached it; not retried.
    Closed,
    /// The request failed, or the row could not be carried out.
    Failed,
}

/// One decision's line in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reported {
    pub referral_id: String,
    pub decision: &'static str,
    pub outcome: Outcome,
    /// Why, for anything but accepted, declined and already done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// It failed because the API did not answer, or answered with a server error.
    #[serde(skip)]
    pub unanswered: bool,
}

/// The end-of-run summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub accepted: u64,
    pub declined: u64,
    pub already_done: u64,
    pub expired: u64,
    pub closed: u64,
    pub failed: u64,
    /// Rows of the decisions file that could not be read (each named on stderr).
    pub invalid_rows: u64,
    pub requests: u64,
    pub elapsed_seconds: f64,
    /// Every decision the run handled, in order.
    pub decisions: Vec<Reported>,
}

impl Summary {
    /// Count one decision's outcome (and keep its line).
    pub fn record(&mut self, reported: Reported) {
        let counter = match reported.outcome {
            Outcome::Accepted => &mut self.accepted,
            Outcome::Declined => &mut self.declined,
            Outcome::AlreadyDone => &mut self.already_done,
            Outcome::Expired => &mut self.expired,
            Outcome::Closed => &mut self.closed,
            Outcome::Failed => &mut self.failed,
        };
        *counter += 1;
        if let Some(detail) = &reported.detail {
            tracing::warn!(referral_id = %reported.referral_id, decision = reported.decision, "{detail}");
        }
        self.decisions.push(reported);
    }

    /// 0 when every decision holds in Partner Center; 1 when any expired, was closed, failed,
    /// or a row could not be read.
    pub fn exit(&self) -> Exit {
        if self.expired + self.closed + self.failed + self.invalid_rows > 0 {
            Exit::Partial
        } else {
            Exit::Success
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted: {}, declined: {}, already done: {}, expired: {}, closed: {}, \
             failed: {}, invalid rows: {}, requests: {}, elapsed: {:.1}s",
            self.accepted,
            self.declined,
            self.already_done,
            self.expired,
            self.closed,
            self.failed,
            self.invalid_rows,
            self.requests,
            self.elapsed_seconds
        )
    }
}
