//! The second referral of a Shared (co-sell) record: the connected referral for Microsoft,
//! made with the partner referral's engagementId and kept up to date on its own.
//!
//! A co-sell record has two targets on the API. Each is compared with its own copy and
//! patched on its own: the partner's referral holding the export's values says nothing about
//! the connected one, which may still hold an earlier export's (a PATCH whose answer was
//! lost, an edit made in Partner Center, a connected referral found after a crash).

use serde_json::Value;
use uuid::Uuid;

use super::{Converged, Engine, Failure, Job, Outcome, synced_of};
use crate::api::client::{ApiError, ApiReferral, Recovery};
use crate::ledger::Step;
use crate::mapping::payload_hash;
use crate::referral::connected_patchable;
use crate::upload::diff::diff;
use crate::upload::unpatchable;

/// The connected referral as it stands after [`Engine::connected_step`].
pub(super) struct Made {
    pub id: String,
    pub etag: Option<String>,
}

impl Engine {
    /// Step two of a shared referral: the connected referral for Microsoft, with the Shared
    /// referral's engagementId. One found on the API (an earlier attempt made it) is brought
    /// up to the export's values.
    pub(super) async fn connected_step(
        &self,
        job: &Job,
        referral: &ApiReferral,
        connected: &Value,
        engagement_id: Option<&str>,
        lookup_first: bool,
    ) -> Result<Made, Outcome> {
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
        let found = if lookup_first {
            self.client
                .find_connected(engagement_id, referral.id())
                .await
                .map_err(|e| self.api_failure(&e))?
        } else {
            None
        };
        if let Some(found) = found {
            let id = found.id().to_owned();
            let side = self.converge_connected(job, &id, Some(found)).await?;
            return Ok(Made {
                id,
                etag: side.etag,
            });
        }
        let recovery = Recovery::Connected {
            engagement_id,
            partner_referral_id: referral.id(),
        };
        let made = self
            .client
            .create_with(&body, request_id, recovery)
            .await
            .map_err(|e| self.api_failure(&e))?;
        Ok(Made {
            id: made.id().to_owned(),
            etag: made.etag().map(str::to_owned),
        })
    }

    /// The Shared referral exists but its connected referral does not (an earlier run stopped
    /// between the two steps): make it, then bring the referral up to date.
    pub(super) async fn resume_connected(
        &self,
        job: &Job,
        referral_id: &str,
        engagement_id: Option<&str>,
        lookup_first: bool,
    ) -> Result<(), Outcome> {
        let Some(connected) = &job.record.connected else {
            return Ok(());
        };
        let referral = self.read(referral_id).await?;
        let engagement = engagement_id
            .or(referral.engagement_id())
            .map(str::to_owned);
        let made = self
            .connected_step(
                job,
                &referral,
                connected,
                engagement.as_deref(),
                lookup_first,
            )
            .await?;
        let mut synced = synced_of(job, self.run, &referral);
        synced.connected_referral_id = Some(made.id);
        synced.connected_etag = made.etag;
        if job.record.referral.is_null() {
            // A `retry` from the ledger: only the connected referral was stored.
            return self.write_synced(synced).await;
        }
        // Both referrals are recorded before the partner's is patched, with no payload hash
        // yet: if the run stops now, the next one compares both with the API.
        synced.payload_hash.clear();
        synced.payload.clear();
        self.write_synced(synced).await?;
        // The referral itself may be behind the export: diff it against the API's copy.
        let base = Some(referral.json().clone());
        self.update(job, referral_id, referral.etag(), base, None)
            .await
    }

    /// Patch the connected referral's fields (its notes for Microsoft, its requirements…) to
    /// what the export now says, compared with the API's copy (`known`, or read now). Status
    /// is left to Microsoft, who owns that referral's side. A 412 (changed meanwhile, or an
    /// earlier answer lost) reads it again and compares once more.
    pub(super) async fn converge_connected(
        &self,
        job: &Job,
        connected_id: &str,
        known: Option<ApiReferral>,
    ) -> Result<Converged, Outcome> {
        let Some(wanted) = job.record.connected.as_ref().map(connected_patchable) else {
            let etag = known.and_then(|k| k.etag().map(str::to_owned));
            return Ok(Converged { etag, sent: false });
        };
        let mut api = match known {
            Some(api) => api,
            None => self.read(connected_id).await?,
        };
        let mut refreshed = false;
        loop {
            if unpatchable::is_closed(api.json()) {
                let etag = api.etag().map(str::to_owned);
                return Ok(Converged { etag, sent: false });
            }
            // What Partner Center would refuse is reported (once, on the first comparison)
            // and not sent.
            let (ops, refused) = unpatchable::split(diff(api.json(), &wanted));
            if !refreshed {
                unpatchable::report_not_updatable(
                    &self.counters,
                    &job.record.external_id,
                    &refused,
                    true,
                );
            }
            if ops.is_empty() {
                let etag = api.etag().map(str::to_owned);
                return Ok(Converged { etag, sent: false });
            }
            match self.client.patch(connected_id, &ops, api.etag()).await {
                Ok(updated) => {
                    let etag = super::etag_of(&updated);
                    return Ok(Converged { etag, sent: true });
                }
                Err(ApiError::Http { status: 412, .. }) if !refreshed => {
                    refreshed = true;
                    api = self.read(connected_id).await?;
                }
                Err(err) => return Err(self.api_failure(&err)),
            }
        }
    }
}

/// Whether a shared record's connected referral may have to change: the stored hash no
/// longer matches the referral last synced with the export's connected part (or nothing
/// certain is known: no stored payload, an unsure update).
pub(super) fn changed(job: &Job, base: Option<&Value>, stored_hash: Option<&str>) -> bool {
    let Some(connected) = &job.record.connected else {
        return false;
    };
    match (base, stored_hash) {
        (Some(base), Some(stored)) => payload_hash(base, Some(connected)) != stored,
        _ => true,
    }
}
