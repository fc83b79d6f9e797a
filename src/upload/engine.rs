//! Carrying out one record's plan against the API, with the ledger written around every
//! request so that a crash at any point leaves nothing lost and nothing duplicated.
//!
//! The rule for creates: the record is marked `in_flight` with its `MS-RequestId`, and the
//! mark is committed, before the request leaves. Whatever happens next, the next run finds the
//! mark and looks the record up on the API before sending again. Updates are JSON Patches of
//! `replace`/`add` operations, which can be sent twice without harm; an unsure update is
//! re-diffed against the API's copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use serde_json::Value;
use uuid::Uuid;

mod cosell;

use super::diff::patch_ops;
use super::plan::Plan;
use super::summary::{Counters, bump};
use super::unpatchable;
use crate::api::client::{ApiClient, ApiError, ApiReferral, PatchOp, Recovery, Updated};
use crate::api::stop::Stop;
use crate::ledger::{
    Failed, FailureKind, InFlight, LedgerError, RunId, SourceLocation, Step, Synced, WriteOp,
    WriterHandle,
};
use crate::mapping::MappedRecord;

/// One record to work on.
#[derive(Debug)]
pub struct Job {
    pub record: MappedRecord,
    pub hash: String,
    pub plan: Plan,
}

/// Why a run is stopping early, shared by the reader, the workers and the signal handler.
#[derive(Debug, Default)]
pub struct Control {
    interrupted: AtomicBool,
    abort: std::sync::Mutex<Option<String>>,
    consecutive_failures: AtomicU32,
    /// Fired on an interrupt: every wait of the client's calls ends. (An abort lets the
    /// records in hand finish, so that each ends recorded as failed or done.)
    stop: Stop,
}

impl Control {
    /// A control whose interrupt ends the waits of `stop` (the client's signal).
    pub fn with_stop(stop: Stop) -> Self {
        Control {
            stop,
            ..Control::default()
        }
    }

    /// Ctrl-C or SIGTERM: stop reading, start no new request, cut every wait short; a
    /// request already sent finishes.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.stop.stop();
    }
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
    /// Stop the run for `reason` (the first reason wins).
    pub fn abort(&self, reason: String) {
        if let Ok(mut slot) = self.abort.lock()
            && slot.is_none()
        {
            tracing::error!("stopping the run: {reason}");
            *slot = Some(reason);
        }
    }
    pub fn abort_reason(&self) -> Option<String> {
        self.abort.lock().ok().and_then(|slot| slot.clone())
    }
    /// Whether new work should still start.
    pub fn running(&self) -> bool {
        !self.interrupted() && self.abort_reason().is_none()
    }
}

/// What the workers share.
pub struct Engine {
    pub client: ApiClient,
    pub writer: WriterHandle,
    pub run: RunId,
    pub counters: Arc<Counters>,
    pub control: Arc<Control>,
    /// Abort after this many records in a row failed for a retryable reason.
    pub breaker: u32,
}

/// A record's failure: what the ledger and the summary get.
struct Failure {
    kind: FailureKind,
    status: Option<u16>,
    code: Option<String>,
    message: String,
}

impl Failure {
    fn of(err: &ApiError) -> Failure {
        let (status, code) = match err {
            ApiError::Http { status, code, .. } => {
                (Some(*status), code.as_deref().map(str::to_owned))
            }
            _ => (None, None),
        };
        let kind = if crate::api::retry::is_retryable(err) {
            FailureKind::Retryable
        } else {
            FailureKind::Permanent
        };
        Failure {
            kind,
            status,
            code,
            message: err.to_string(),
        }
    }

    fn row(code: &str, message: String) -> Failure {
        Failure {
            kind: FailureKind::Permanent,
            status: None,
            code: Some(code.to_owned()),
            message,
        }
    }
}

impl Engine {
    /// Carry out `job`. Only a ledger failure is an error: it stops the run.
    pub async fn process(&self, job: Job) -> Result<(), LedgerError> {
        // Once the ledger cannot be written, the record stops where it stands (its in-flight
        // mark, if any, was committed; the next run looks it up): no request whose outcome
        // cannot be recorded leaves, not even one already waiting for a rate-limit token.
        let result = tokio::select! {
            result = self.carry_out(&job) => result,
            err = self.writer.failed() => Err(Outcome::Ledger(err)),
        };
        match result {
            Ok(()) => {
                self.control
                    .consecutive_failures
                    .store(0, Ordering::Relaxed);
                Ok(())
            }
            Err(Outcome::Ledger(err)) => Err(err),
            // The run is stopping: the record stays as the ledger has it (an in-flight mark
            // is looked up by the next run), and it counts as neither done nor failed.
            Err(Outcome::Stopped) => Ok(()),
            Err(Outcome::Failed(failure)) => self.fail(&job, failure).await,
        }
    }

    /// The requests and ledger writes of `job`'s plan.
    async fn carry_out(&self, job: &Job) -> Result<(), Outcome> {
        match &job.plan {
            Plan::Unchanged => {
                bump(&self.counters.unchanged);
                Ok(())
            }
            Plan::Create {
                lookup_first,
                request_id,
            } => self.create(job, *lookup_first, request_id.as_deref()).await,
            Plan::Connected {
                referral_id,
                engagement_id,
                lookup_first,
            } => {
                self.resume_connected(job, referral_id, engagement_id.as_deref(), *lookup_first)
                    .await
            }
            Plan::Update {
                referral_id,
                etag,
                base,
                connected_id,
                stored_hash,
            } => {
                let connected = connected_id
                    .as_deref()
                    .filter(|_| cosell::changed(job, base.as_ref(), stored_hash.as_deref()));
                self.update(job, referral_id, etag.as_deref(), base.clone(), connected)
                    .await
            }
        }
    }

    async fn create(
        &self,
        job: &Job,
        lookup_first: bool,
        request_id: Option<&str>,
    ) -> Result<(), Outcome> {
        let record = &job.record;
        let request_id = request_id
            .and_then(|id| Uuid::parse_str(id).ok())
            .unwrap_or_else(Uuid::new_v4);
        self.mark_in_flight(job, Step::Create, request_id, &record.referral, None)
            .await?;
        let found = if lookup_first {
            self.client
                .find_partner_referral(&record.external_id)
                .await
                .map_err(|e| self.api_failure(&e))?
        } else {
            None
        };
        let adopted = found.is_some();
        let referral = match found {
            Some(referral) => referral,
            None => self
                .client
                .create_with(
                    &record.referral,
                    request_id,
                    Recovery::ExternalId(&record.external_id),
                )
                .await
                .map_err(|e| self.api_failure(&e))?,
        };
        let connected = match &record.connected {
            Some(connected) => {
                let engagement = referral.engagement_id().map(str::to_owned);
                let made = self
                    .connected_step(job, &referral, connected, engagement.as_deref(), adopted)
                    .await?;
                Some(made)
            }
            None => None,
        };
        let mut synced = synced_of(job, self.run, &referral);
        if let Some(made) = &connected {
            synced.connected_referral_id = Some(made.id.clone());
            synced.connected_etag = made.etag.clone();
        }
        if adopted {
            tracing::info!(external_id = %record.external_id, id = referral.id(), "found the referral an earlier attempt created");
            bump(&self.counters.adopted);
            // An earlier attempt sent an earlier export: bring the referral up to this one.
            let base = Some(referral.json().clone());
            let partner = self
                .converge_partner(job, referral.id(), referral.etag(), base)
                .await?;
            match partner {
                Some(partner) => synced.etag = partner.etag,
                // Closed in Partner Center meanwhile: recorded as it is.
                None => return Ok(()),
            }
        }
        self.write_synced(synced).await?;
        bump(&self.counters.created);
        Ok(())
    }

    /// Bring the referral (and, when `connected` is given, the connected referral) up to date.
    /// The two are separate targets: each is compared with its own copy on the API and
    /// patched on its own, so the connected referral catches up even when the partner's
    /// referral already holds the new values (an earlier PATCH whose answer was lost, or the
    /// same edit made in Partner Center). The record is marked synced only once both hold
    /// the export's values.
    async fn update(
        &self,
        job: &Job,
        referral_id: &str,
        etag: Option<&str>,
        base: Option<Value>,
        connected: Option<&str>,
    ) -> Result<(), Outcome> {
        let Some(partner) = self.converge_partner(job, referral_id, etag, base).await? else {
            // Closed in Partner Center: recorded as it is, nothing sent to either referral.
            return Ok(());
        };
        let mut sent = partner.sent;
        let mut synced = synced_ids(job, self.run, referral_id, partner.etag);
        if let Some(id) = connected {
            let side = self.converge_connected(job, id, None).await?;
            sent |= side.sent;
            synced.connected_etag = side.etag;
        }
        self.write_synced(synced).await?;
        bump(if sent {
            &self.counters.updated
        } else {
            &self.counters.unchanged
        });
        Ok(())
    }

    /// Bring the partner's referral up to the export's payload. `base` is what the referral
    /// is believed to hold (the payload last synced, or the API's copy); `None`: read it.
    async fn converge_partner(
        &self,
        job: &Job,
        referral_id: &str,
        etag: Option<&str>,
        base: Option<Value>,
    ) -> Result<Option<Converged>, Outcome> {
        let record = &job.record;
        let (current, mut etag) = match base {
            Some(base) => (base, etag.map(str::to_owned)),
            None => {
                let api = self.read(referral_id).await?;
                let etag = api.etag().map(str::to_owned);
                (api.into_json(), etag)
            }
        };
        // A re-opening the status table forbids stays a failure; any other change of a
        // closed referral is left alone.
        let ops = partner_ops(&current, &record.referral)?;
        if unpatchable::is_closed(&current) && !ops.is_empty() {
            self.leave_closed(job, referral_id, etag.as_deref(), &current)
                .await?;
            return Ok(None);
        }
        let (mut ops, refused) = unpatchable::split(ops);
        unpatchable::report_not_updatable(&self.counters, &record.external_id, &refused, false);
        if ops.is_empty() {
            return Ok(Some(Converged { etag, sent: false }));
        }
        self.mark_in_flight(job, Step::Update, Uuid::new_v4(), &record.referral, None)
            .await?;
        let mut refreshed = false;
        loop {
            match self.client.patch(referral_id, &ops, etag.as_deref()).await {
                Ok(updated) => {
                    let etag = etag_of(&updated);
                    return Ok(Some(Converged { etag, sent: true }));
                }
                Err(err @ ApiError::Http { status: 409, .. }) => {
                    // Refused as closed: the API's copy says whether it is.
                    let api = self
                        .client
                        .get(referral_id)
                        .await
                        .map_err(|e| self.api_failure(&e))?;
                    if unpatchable::is_closed(api.json()) {
                        self.leave_closed(job, referral_id, api.etag(), api.json())
                            .await?;
                        return Ok(None);
                    }
                    return Err(Outcome::Failed(self.api_failure_of(&err)));
                }
                Err(ApiError::Http { status: 412, .. }) if !refreshed => {
                    // Someone else changed it (or an earlier answer was lost): take the
                    // API's copy and diff again, once.
                    refreshed = true;
                    let api = self.read(referral_id).await?;
                    etag = api.etag().map(str::to_owned);
                    let all = partner_ops(api.json(), &record.referral)?;
                    if unpatchable::is_closed(api.json()) && !all.is_empty() {
                        self.leave_closed(job, referral_id, etag.as_deref(), api.json())
                            .await?;
                        return Ok(None);
                    }
                    // What cannot be patched was reported when it changed; the API's copy
                    // still differing there is no news.
                    ops = unpatchable::split(all).0;
                    if ops.is_empty() {
                        return Ok(Some(Converged { etag, sent: false }));
                    }
                }
                Err(err) => return Err(self.api_failure(&err)),
            }
        }
    }

    /// One referral as the API holds it.
    async fn read(&self, id: &str) -> Result<ApiReferral, Outcome> {
        self.client.get(id).await.map_err(|e| self.api_failure(&e))
    }

    /// The referral is closed in Partner Center: nothing is sent. It is recorded as holding
    /// the export's payload with the API's status, so later runs see it closed without asking.
    async fn leave_closed(
        &self,
        job: &Job,
        referral_id: &str,
        etag: Option<&str>,
        api: &Value,
    ) -> Result<(), Outcome> {
        let record = &job.record;
        unpatchable::report_closed(
            &self.counters,
            &record.external_id,
            &unpatchable::status_of(api),
        );
        let mut payload = record.referral.clone();
        if let Some(object) = payload.as_object_mut() {
            for key in ["status", "substatus"] {
                object.insert(key.into(), api.get(key).cloned().unwrap_or(Value::Null));
            }
        }
        let mut synced = synced_ids(job, self.run, referral_id, etag.map(str::to_owned));
        synced.payload = payload.to_string();
        self.write_synced(synced).await
    }

    fn api_failure(&self, err: &ApiError) -> Outcome {
        match err {
            ApiError::Stopped => Outcome::Stopped,
            _ => Outcome::Failed(self.api_failure_of(err)),
        }
    }

    fn api_failure_of(&self, err: &ApiError) -> Failure {
        if err.is_auth_failure() {
            self.control.abort(format!("authentication failed: {err}"));
        }
        Failure::of(err)
    }

    async fn fail(&self, job: &Job, failure: Failure) -> Result<(), LedgerError> {
        let record = &job.record;
        tracing::warn!(external_id = %record.external_id, file = %record.file.display(), row = record.row, "failed: {}", failure.message);
        bump(&self.counters.failed);
        if failure.kind == FailureKind::Retryable {
            let n = self
                .control
                .consecutive_failures
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            if n >= self.breaker {
                self.control.abort(format!(
                    "{n} records in a row failed; last: {}",
                    failure.message
                ));
            }
        }
        let op = WriteOp::Failed(Failed {
            external_id: record.external_id.clone(),
            kind: failure.kind,
            http_status: failure.status,
            error_code: failure.code,
            message: failure.message,
            run: self.run,
        });
        self.writer.send(op).wait().await
    }

    async fn mark_in_flight(
        &self,
        job: &Job,
        step: Step,
        request_id: Uuid,
        body: &Value,
        referral: Option<&ApiReferral>,
    ) -> Result<(), Outcome> {
        let op = WriteOp::InFlight(InFlight {
            external_id: job.record.external_id.clone(),
            step,
            request_id: request_id.to_string(),
            payload: body.to_string(),
            payload_hash: job.hash.clone(),
            source: Some(source_of(&job.record)),
            referral_id: referral.map(|r| r.id().to_owned()),
            engagement_id: referral.and_then(|r| r.engagement_id().map(str::to_owned)),
            etag: referral.and_then(|r| r.etag().map(str::to_owned)),
            run: self.run,
        });
        self.writer.send(op).wait().await.map_err(Outcome::Ledger)
    }

    /// The one place a `synced` mark is written (ids left `None` keep what the ledger has).
    async fn write_synced(&self, op: Synced) -> Result<(), Outcome> {
        self.writer
            .send(WriteOp::Synced(op))
            .wait()
            .await
            .map_err(Outcome::Ledger)
    }
}

/// Where one of a record's referrals stands after it was brought up to date.
struct Converged {
    /// Its eTag after the last request (`None`: unknown, the ledger keeps what it has).
    etag: Option<String>,
    /// Whether a PATCH was sent.
    sent: bool,
}

/// The `synced` mark of `job` on the referral `referral_id`; other ids are left to the
/// ledger (`None` keeps what it has).
fn synced_ids(job: &Job, run: RunId, referral_id: &str, etag: Option<String>) -> Synced {
    Synced {
        external_id: job.record.external_id.clone(),
        referral_id: referral_id.to_owned(),
        engagement_id: None,
        connected_referral_id: None,
        etag,
        connected_etag: None,
        payload_hash: job.hash.clone(),
        payload: job.record.referral.to_string(),
        run,
    }
}

/// The `synced` mark of `job` on `referral` as the API returned it.
fn synced_of(job: &Job, run: RunId, referral: &ApiReferral) -> Synced {
    Synced {
        engagement_id: referral.engagement_id().map(str::to_owned),
        ..synced_ids(job, run, referral.id(), referral.etag().map(str::to_owned))
    }
}

/// The eTag an update answered with (header, or the returned referral's).
fn etag_of(updated: &Updated) -> Option<String> {
    updated.etag.clone().or_else(|| {
        updated
            .referral
            .as_ref()
            .and_then(|r| r.etag().map(str::to_owned))
    })
}

/// The patch for the partner's referral; a status move the API forbids fails the row.
fn partner_ops(current: &Value, new: &Value) -> Result<Vec<PatchOp>, Outcome> {
    patch_ops(current, new)
        .map_err(|e| Outcome::Failed(Failure::row("invalidTransition", format!("{e}"))))
}

/// How a step ended when it did not succeed.
enum Outcome {
    /// The record failed; the run goes on.
    Failed(Failure),
    /// The ledger could not record it; the run stops.
    Ledger(LedgerError),
    /// The run is stopping and cut the record's work short.
    Stopped,
}

fn source_of(record: &MappedRecord) -> SourceLocation {
    SourceLocation {
        file: record.file.display().to_string(),
        row: record.row,
    }
}
