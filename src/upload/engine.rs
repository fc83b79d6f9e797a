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

use super::client::{ApiClient, ApiError, ApiReferral, Recovery};
use super::diff::{diff, patch_ops, payload_hash};
use super::plan::Plan;
use super::summary::{Counters, bump};
use super::unpatchable;
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
}

impl Control {
    /// Ctrl-C or SIGTERM: stop reading, let what is in flight finish.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
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
        let kind = if super::retry::is_retryable(err) {
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
                    .filter(|_| connected_changed(job, base.as_ref(), stored_hash.as_deref()));
                self.update(job, referral_id, etag.as_deref(), base.as_ref(), connected)
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
        if adopted {
            tracing::info!(external_id = %record.external_id, id = referral.id(), "found the referral an earlier attempt created");
            bump(&self.counters.adopted);
        }
        match &record.connected {
            Some(connected) => {
                let engagement = referral.engagement_id().map(str::to_owned);
                self.connected_step(job, &referral, connected, engagement.as_deref(), adopted)
                    .await?;
            }
            None => self.mark_synced(job, &referral, None).await?,
        }
        bump(&self.counters.created);
        Ok(())
    }

    /// Step two of a shared referral: the connected referral for Microsoft, with the Shared
    /// referral's engagementId.
    async fn connected_step(
        &self,
        job: &Job,
        referral: &ApiReferral,
        connected: &Value,
        engagement_id: Option<&str>,
        lookup_first: bool,
    ) -> Result<(), Outcome> {
        let Some(engagement_id) = engagement_id else {
            return Err(Outcome::Failed(Failure::row(
                "noEngagementId",
                format!(
                    "referral {} has no engagementId to connect to",
                    referral.id()
                ),
            )));
        };
        let mut body = connected.clone();
        if let Some(object) = body.as_object_mut() {
            object.insert(
                "engagementId".into(),
                Value::String(engagement_id.to_owned()),
            );
        }
        let request_id = Uuid::new_v4();
        self.mark_in_flight(job, Step::Connected, request_id, &body, Some(referral))
            .await?;
        let recovery = Recovery::Connected {
            engagement_id,
            partner_referral_id: referral.id(),
        };
        let found = if lookup_first {
            self.client
                .find_connected(engagement_id, referral.id())
                .await
                .map_err(|e| self.api_failure(&e))?
        } else {
            None
        };
        let made = match found {
            Some(found) => found,
            None => self
                .client
                .create_with(&body, request_id, recovery)
                .await
                .map_err(|e| self.api_failure(&e))?,
        };
        self.mark_synced(job, referral, Some(&made)).await
    }

    /// The Shared referral exists but its connected referral does not (an earlier run stopped
    /// between the two steps): make it, then bring the referral up to date.
    async fn resume_connected(
        &self,
        job: &Job,
        referral_id: &str,
        engagement_id: Option<&str>,
        lookup_first: bool,
    ) -> Result<(), Outcome> {
        let Some(connected) = &job.record.connected else {
            return Ok(());
        };
        let referral = self
            .client
            .get(referral_id)
            .await
            .map_err(|e| self.api_failure(&e))?;
        let engagement = engagement_id
            .or(referral.engagement_id())
            .map(str::to_owned);
        self.connected_step(
            job,
            &referral,
            connected,
            engagement.as_deref(),
            lookup_first,
        )
        .await?;
        if job.record.referral.is_null() {
            // A `retry` from the ledger: only the connected referral was stored.
            return Ok(());
        }
        // The referral itself may be behind the export: diff it against the API's copy.
        self.update(job, referral_id, referral.etag(), None, None)
            .await
    }

    /// Bring the referral (and, when `connected` is given, the connected referral) up to date.
    async fn update(
        &self,
        job: &Job,
        referral_id: &str,
        etag: Option<&str>,
        base: Option<&Value>,
        connected: Option<&str>,
    ) -> Result<(), Outcome> {
        let record = &job.record;
        let (current, mut etag) = match base {
            Some(base) => (base.clone(), etag.map(str::to_owned)),
            None => {
                let api = self
                    .client
                    .get(referral_id)
                    .await
                    .map_err(|e| self.api_failure(&e))?;
                let etag = api.etag().map(str::to_owned);
                (api.into_json(), etag)
            }
        };
        // A re-opening the status table forbids stays a failure; any other change of a
        // closed referral is left alone.
        let ops = patch_ops(&current, &record.referral)
            .map_err(|e| Outcome::Failed(Failure::row("invalidTransition", format!("{e}"))))?;
        if unpatchable::is_closed(&current) && !ops.is_empty() {
            return self
                .leave_closed(job, referral_id, etag.as_deref(), &current)
                .await;
        }
        let (mut ops, refused) = unpatchable::split(ops);
        unpatchable::report_not_updatable(&self.counters, &record.external_id, &refused, false);
        if ops.is_empty() {
            let touched = match connected {
                Some(id) => self.sync_connected(job, id).await?,
                None => false,
            };
            self.mark_synced_ids(job, referral_id, etag.as_deref())
                .await?;
            bump(if touched {
                &self.counters.updated
            } else {
                &self.counters.unchanged
            });
            return Ok(());
        }
        self.mark_in_flight(job, Step::Update, Uuid::new_v4(), &record.referral, None)
            .await?;
        let mut refreshed = false;
        loop {
            match self.client.patch(referral_id, &ops, etag.as_deref()).await {
                Ok(updated) => {
                    if let Some(id) = connected {
                        self.sync_connected(job, id).await?;
                    }
                    let new_etag = updated.etag.clone().or_else(|| {
                        updated
                            .referral
                            .as_ref()
                            .and_then(|r| r.etag().map(str::to_owned))
                    });
                    self.mark_synced_ids(job, referral_id, new_etag.as_deref())
                        .await?;
                    bump(&self.counters.updated);
                    return Ok(());
                }
                Err(err @ ApiError::Http { status: 409, .. }) => {
                    // Refused as closed: the API's copy says whether it is.
                    let api = self
                        .client
                        .get(referral_id)
                        .await
                        .map_err(|e| self.api_failure(&e))?;
                    if unpatchable::is_closed(api.json()) {
                        return self
                            .leave_closed(job, referral_id, api.etag(), api.json())
                            .await;
                    }
                    return Err(Outcome::Failed(self.api_failure_of(&err)));
                }
                Err(ApiError::Http { status: 412, .. }) if !refreshed => {
                    // Someone else changed it: take the API's copy and diff again, once.
                    refreshed = true;
                    let api = self
                        .client
                        .get(referral_id)
                        .await
                        .map_err(|e| self.api_failure(&e))?;
                    etag = api.etag().map(str::to_owned);
                    let all = patch_ops(api.json(), &record.referral).map_err(|e| {
                        Outcome::Failed(Failure::row("invalidTransition", format!("{e}")))
                    })?;
                    if unpatchable::is_closed(api.json()) && !all.is_empty() {
                        return self
                            .leave_closed(job, referral_id, etag.as_deref(), api.json())
                            .await;
                    }
                    // What cannot be patched was reported when it changed; the API's copy
                    // still differing there is no news.
                    ops = unpatchable::split(all).0;
                    if ops.is_empty() {
                        self.mark_synced_ids(job, referral_id, etag.as_deref())
                            .await?;
                        bump(&self.counters.unchanged);
                        return Ok(());
                    }
                }
                Err(err) => return Err(Outcome::Failed(self.api_failure_of(&err))),
            }
        }
    }

    /// Patch the connected referral's fields (its notes for Microsoft, its requirements…) to
    /// what the export now says. Status is left to Microsoft, who owns that referral's side.
    /// Returns whether anything was sent.
    async fn sync_connected(&self, job: &Job, connected_id: &str) -> Result<bool, Outcome> {
        let Some(wanted) = &job.record.connected else {
            return Ok(false);
        };
        let api = self
            .client
            .get(connected_id)
            .await
            .map_err(|e| self.api_failure(&e))?;
        let mut wanted = wanted.clone();
        if let Some(object) = wanted.as_object_mut() {
            for key in ["status", "substatus", "engagementId", "externalReferenceId"] {
                object.remove(key);
            }
        }
        if unpatchable::is_closed(api.json()) {
            return Ok(false);
        }
        let (ops, refused) = unpatchable::split(diff(api.json(), &wanted));
        unpatchable::report_not_updatable(&self.counters, &job.record.external_id, &refused, true);
        if ops.is_empty() {
            return Ok(false);
        }
        self.client
            .patch(connected_id, &ops, api.etag())
            .await
            .map_err(|e| self.api_failure(&e))?;
        Ok(true)
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
        self.write_synced_payload(job, referral_id, etag, None, None, payload.to_string())
            .await
    }

    fn api_failure(&self, err: &ApiError) -> Outcome {
        Outcome::Failed(self.api_failure_of(err))
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

    /// Record `referral` (and the connected one) as holding the job's payload.
    async fn mark_synced(
        &self,
        job: &Job,
        referral: &ApiReferral,
        connected: Option<&ApiReferral>,
    ) -> Result<(), Outcome> {
        self.write_synced(
            job,
            referral.id(),
            referral.etag(),
            referral.engagement_id(),
            connected,
        )
        .await
    }

    /// Record an existing referral, known by id and eTag, as holding the job's payload.
    async fn mark_synced_ids(
        &self,
        job: &Job,
        referral_id: &str,
        etag: Option<&str>,
    ) -> Result<(), Outcome> {
        self.write_synced(job, referral_id, etag, None, None).await
    }

    /// The one place a `synced` mark is written (ids left `None` keep what the ledger has).
    async fn write_synced(
        &self,
        job: &Job,
        referral_id: &str,
        etag: Option<&str>,
        engagement_id: Option<&str>,
        connected: Option<&ApiReferral>,
    ) -> Result<(), Outcome> {
        let payload = job.record.referral.to_string();
        self.write_synced_payload(job, referral_id, etag, engagement_id, connected, payload)
            .await
    }

    /// [`Self::write_synced`] with the payload to record.
    async fn write_synced_payload(
        &self,
        job: &Job,
        referral_id: &str,
        etag: Option<&str>,
        engagement_id: Option<&str>,
        connected: Option<&ApiReferral>,
        payload: String,
    ) -> Result<(), Outcome> {
        let op = WriteOp::Synced(Synced {
            external_id: job.record.external_id.clone(),
            referral_id: referral_id.to_owned(),
            engagement_id: engagement_id.map(str::to_owned),
            connected_referral_id: connected.map(|c| c.id().to_owned()),
            etag: etag.map(str::to_owned),
            connected_etag: connected.and_then(|c| c.etag().map(str::to_owned)),
            payload_hash: job.hash.clone(),
            payload,
            run: self.run,
        });
        self.writer.send(op).wait().await.map_err(Outcome::Ledger)
    }
}

/// How a step ended when it did not succeed.
enum Outcome {
    /// The record failed; the run goes on.
    Failed(Failure),
    /// The ledger could not record it; the run stops.
    Ledger(LedgerError),
}

fn source_of(record: &MappedRecord) -> SourceLocation {
    SourceLocation {
        file: record.file.display().to_string(),
        row: record.row,
    }
}

/// Whether a shared record's connected referral may have changed since its last sync: the
/// stored hash no longer matches the referral last synced with the export's connected part
/// (or nothing certain is known).
fn connected_changed(job: &Job, base: Option<&Value>, stored_hash: Option<&str>) -> bool {
    let Some(connected) = &job.record.connected else {
        return false;
    };
    match (base, stored_hash) {
        (Some(base), Some(stored)) => payload_hash(base, Some(connected)) != stored,
        _ => true,
    }
}

/// The hash of a record as it will be stored.
pub fn hash_of(record: &MappedRecord) -> String {
    payload_hash(&record.referral, record.connected.as_ref())
}
