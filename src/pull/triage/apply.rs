//! Carrying out one decision against the API, with the ledger written around every request
//! so that a crash at any point neither loses a decision nor sends it twice.
//!
//! A decision is recorded (`pending`) before anything else. The referral is then read: one
//! already as decided is recorded `done` without a request; one that expired or was closed
//! is recorded as such and never sent. Otherwise the decision is marked `sent` with the eTag
//! just read, committed, and only then PATCHed with that eTag as `If-Match` (accept:
//! Active/Accepted; decline: Closed/Declined with the reason as `statusReason`). A 412 (the
//! referral changed meanwhile, or an earlier answer of ours was lost) starts the round again
//! from a fresh read; so does any other refusal, so that a referral that expired in between
//! is reported as expired rather than as a failure.

use super::standing::{Standing, patch_of, standing, status_text, target};
use super::summary::{Outcome, Reported};
use crate::api::client::Updated;
use crate::api::{ApiClient, ApiError, ApiReferral};
use crate::ledger::{
    Decision, Ledger, LedgerError, RunId, SourceLocation, TriageEntry, TriageFailed, TriagePending,
    TriageSettled, TriageState,
};

/// PATCHes of one decision in one run: each 412 means the referral changed since it was read.
const MAX_SENDS: u32 = 5;

/// One decision to carry out: a row of the decisions file, or one an earlier run left open.
#[derive(Debug, Clone)]
pub struct Item {
    pub referral_id: String,
    pub decision: Decision,
    pub reason: Option<String>,
    pub source: Option<SourceLocation>,
}

/// Why the run must stop (the decision at hand stays as the ledger has it).
#[derive(Debug)]
pub enum Halt {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// Authentication failed.
    Aborted(String),
    /// The ledger could not record the decision.
    Ledger(LedgerError),
}

impl From<LedgerError> for Halt {
    fn from(err: LedgerError) -> Self {
        Halt::Ledger(err)
    }
}

/// What carries out decisions: the client, the ledger and the run.
pub struct Triage<'a> {
    pub client: &'a ApiClient,
    pub ledger: &'a mut Ledger,
    pub run: RunId,
}

impl Triage<'_> {
    /// Carry out one decision (see the module docs).
    pub async fn decide(&mut self, item: &Item) -> Result<Reported, Halt> {
        let entry = self.ledger.triage_entry(&item.referral_id)?;
        if let Some(entry) = entry.as_ref().filter(|e| e.state.is_final()) {
            return Ok(recorded(item, entry));
        }
        let open = entry.filter(|e| e.state == TriageState::Sent);
        if let Some(open) = open.as_ref().filter(|e| e.decision != item.decision) {
            let detail = format!(
                "an earlier {} of this referral is still unanswered; it is read again on the \
                 next run",
                open.decision.as_str()
            );
            return Ok(report(item, Outcome::Failed, Some(detail)));
        }
        if open.is_none() {
            self.ledger.triage_pending(&TriagePending {
                referral_id: item.referral_id.clone(),
                decision: item.decision,
                reason: item.reason.clone(),
                source: item.source.clone(),
                run: self.run,
            })?;
        }
        self.rounds(item, open.is_some()).await
    }

    /// Read, then send with the eTag read, until the referral holds the decision or cannot.
    /// `sent`: a request of ours for it may have been applied already.
    async fn rounds(&mut self, item: &Item, mut sent: bool) -> Result<Reported, Halt> {
        let mut refusal: Option<ApiError> = None;
        for _ in 0..MAX_SENDS {
            let current = match self.client.get(&item.referral_id).await {
                Ok(current) => current,
                Err(err) => return self.failed(item, err),
            };
            if let Some(ended) = self.ended(item, &current, sent)? {
                return Ok(ended);
            }
            if let Some(err) = refusal {
                return self.failed(item, err);
            }
            let Some(etag) = current.etag() else {
                let message = "Partner Center sent the referral without an eTag".to_owned();
                return self.failed_with(item, None, None, message, false);
            };
            self.ledger.triage_sent(&item.referral_id, etag, self.run)?;
            sent = true;
            match self
                .client
                .patch(&item.referral_id, &patch_of(item), Some(etag))
                .await
            {
                Ok(updated) => return self.answered(item, &current, &updated),
                Err(ApiError::Http { status: 412, .. }) => {}
                Err(err) if is_refusal(&err) => refusal = Some(err),
                Err(err) => return self.failed(item, err),
            }
        }
        let message = format!(
            "changed in Partner Center {MAX_SENDS} times while this run sent the decision; \
             it is read again on the next run"
        );
        self.failed_with(item, Some(412), None, message, false)
    }

    /// How the decision ended, recorded, when the referral no longer awaits it; `sent`: a
    /// request of ours may be what decided it.
    fn ended(
        &mut self,
        item: &Item,
        current: &ApiReferral,
        sent: bool,
    ) -> Result<Option<Reported>, Halt> {
        let (state, outcome, detail) = match standing(current, item.decision) {
            Standing::Awaiting => return Ok(None),
            Standing::Decided if sent => (TriageState::Done, done(item), None),
            Standing::Decided => (TriageState::Done, Outcome::AlreadyDone, None),
            Standing::Expired => (
                TriageState::Expired,
                Outcome::Expired,
                Some("expired before the decision reached it; not sent".to_owned()),
            ),
            Standing::Closed => (
                TriageState::Closed,
                Outcome::Closed,
                Some(format!(
                    "became {} before the decision reached it; not sent",
                    status_text(current)
                )),
            ),
            Standing::NotInbound(direction) => {
                let message = format!(
                    "not an inbound referral (direction {direction}): only referrals shared \
                     with you are accepted or declined"
                );
                return self.failed_with(item, None, None, message, false).map(Some);
            }
        };
        self.settled(item, state, current, outcome, detail)
            .map(Some)
    }

    /// The PATCH was answered: the referral holds the decision.
    fn answered(
        &mut self,
        item: &Item,
        before: &ApiReferral,
        updated: &Updated,
    ) -> Result<Reported, Halt> {
        let etag = updated.etag.clone().or_else(|| {
            updated
                .referral
                .as_ref()
                .and_then(|r| r.etag().map(str::to_owned))
        });
        let (status, substatus) = target(item.decision);
        self.ledger.triage_settled(&TriageSettled {
            referral_id: item.referral_id.clone(),
            state: TriageState::Done,
            etag: etag.or_else(|| before.etag().map(str::to_owned)),
            status: Some(status.to_owned()),
            substatus: Some(substatus.to_owned()),
            run: self.run,
        })?;
        Ok(report(item, done(item), None))
    }

    fn settled(
        &mut self,
        item: &Item,
        state: TriageState,
        current: &ApiReferral,
        outcome: Outcome,
        detail: Option<String>,
    ) -> Result<Reported, Halt> {
        self.ledger.triage_settled(&TriageSettled {
            referral_id: item.referral_id.clone(),
            state,
            etag: current.etag().map(str::to_owned),
            status: current.status().map(str::to_owned),
            substatus: current.substatus().map(str::to_owned),
            run: self.run,
        })?;
        Ok(report(item, outcome, detail))
    }

    /// A failed request: recorded, or the run stops (interrupt, authentication).
    fn failed(&mut self, item: &Item, err: ApiError) -> Result<Reported, Halt> {
        if matches!(err, ApiError::Stopped) {
            return Err(Halt::Interrupted);
        }
        let (status, code) = match &err {
            ApiError::Http { status, code, .. } => {
                (Some(*status), code.as_deref().map(str::to_owned))
            }
            _ => (None, None),
        };
        let message = match status {
            Some(404) => format!("no such referral in Partner Center ({err})"),
            _ => err.to_string(),
        };
        let mut reported = self.failed_with(item, status, code, message, err.is_ambiguous())?;
        if err.is_auth_failure() {
            return Err(Halt::Aborted(format!("authentication failed: {err}")));
        }
        reported.unanswered = crate::api::retry::is_retryable(&err);
        Ok(reported)
    }

    fn failed_with(
        &mut self,
        item: &Item,
        http_status: Option<u16>,
        error_code: Option<String>,
        message: String,
        unsure: bool,
    ) -> Result<Reported, Halt> {
        self.ledger.triage_failed(&TriageFailed {
            referral_id: item.referral_id.clone(),
            unsure,
            http_status,
            error_code,
            message: message.clone(),
            run: self.run,
        })?;
        Ok(report(item, Outcome::Failed, Some(message)))
    }
}

/// A client error answer other than 412 and those of authentication, throttling or a
/// missing referral: the API refused the change, perhaps because the referral moved on.
fn is_refusal(err: &ApiError) -> bool {
    matches!(err.status(), Some(400 | 409 | 410 | 422 | 423))
}

fn done(item: &Item) -> Outcome {
    match item.decision {
        Decision::Accept => Outcome::Accepted,
        Decision::Decline => Outcome::Declined,
    }
}

fn report(item: &Item, outcome: Outcome, detail: Option<String>) -> Reported {
    Reported {
        referral_id: item.referral_id.clone(),
        decision: item.decision.as_str(),
        outcome,
        detail,
        unanswered: false,
    }
}

/// A decision the ledger holds as ended: reported again, nothing sent.
fn recorded(item: &Item, entry: &TriageEntry) -> Reported {
    let was = || {
        format!(
            "{}/{}",
            entry.api_status.as_deref().unwrap_or("?"),
            entry.api_substatus.as_deref().unwrap_or("?")
        )
    };
    let (outcome, detail) = match entry.state {
        TriageState::Done if entry.decision == item.decision => (Outcome::AlreadyDone, None),
        TriageState::Done => (
            Outcome::Failed,
            Some(format!(
                "already {} ({}) at {}; a triage decision is final",
                match entry.decision {
                    Decision::Accept => "accepted",
                    Decision::Decline => "declined",
                },
                was(),
                entry.updated_at
            )),
        ),
        TriageState::Expired => (
            Outcome::Expired,
            Some(format!(
                "expired before the decision reached it (recorded at {}); not sent",
                entry.updated_at
            )),
        ),
        _ => (
            Outcome::Closed,
            Some(format!(
                "became {} before the decision reached it; not sent",
                was()
            )),
        ),
    };
    report(item, outcome, detail)
}
