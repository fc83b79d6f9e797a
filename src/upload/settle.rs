//! Settling what an earlier run left unsure. A record still `in_flight` at start-up belongs to
//! a run that stopped (crash, kill, power loss) between sending a request and recording its
//! answer. Before anything is sent, each one is looked up on the API: a referral that exists
//! is adopted, one that does not is marked for sending again. This is what keeps a crash from
//! ever creating a duplicate, even against a server that does not deduplicate.

use crate::ledger::{
    Failed, FailureKind, LedgerRecord, RunId, Step, Synced, WriteOp, WriterHandle,
};

use crate::api::client::{ApiClient, ApiError};

/// How the unsure records were settled.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Found on the API and adopted.
    pub adopted: u64,
    /// Not found: the request never took effect; they will be sent again.
    pub not_applied: u64,
    /// The API could not be asked; they stay `in_flight` for the next run.
    pub unknown: u64,
}

/// Look up every record in `in_flight` and record what the API says.
pub async fn settle(
    client: &ApiClient,
    writer: &WriterHandle,
    run: RunId,
    in_flight: Vec<LedgerRecord>,
) -> Result<Settled, crate::Error> {
    let mut settled = Settled::default();
    for record in in_flight {
        match settle_one(client, &record).await {
            Ok(Some(op)) => {
                let adopted = matches!(op, Resolution::Adopt(_));
                writer.send(op.into_write(run)).wait().await?;
                if adopted {
                    settled.adopted += 1;
                } else {
                    settled.not_applied += 1;
                }
            }
            Ok(None) => settled.unknown += 1,
            // The run is stopping: what is left stays in flight for the next run.
            Err(ApiError::Stopped) => break,
            Err(err) if err.is_auth_failure() => {
                return Err(crate::Error::Aborted {
                    reason: format!("authentication failed: {err}"),
                });
            }
            Err(err) => {
                tracing::warn!(external_id = %record.external_id, "could not settle: {err}");
                settled.unknown += 1;
            }
        }
    }
    if settled != Settled::default() {
        tracing::info!(
            adopted = settled.adopted,
            not_applied = settled.not_applied,
            unknown = settled.unknown,
            "settled records an earlier run left in flight"
        );
    }
    Ok(settled)
}

enum Resolution {
    Adopt(Synced),
    Resend(Failed),
}

impl Resolution {
    fn into_write(self, run: RunId) -> WriteOp {
        match self {
            Resolution::Adopt(mut op) => {
                op.run = run;
                WriteOp::Synced(op)
            }
            Resolution::Resend(mut op) => {
                op.run = run;
                WriteOp::Failed(op)
            }
        }
    }
}

async fn settle_one(
    client: &ApiClient,
    record: &LedgerRecord,
) -> Result<Option<Resolution>, ApiError> {
    match record.step {
        Some(Step::Create) | None => {
            let found = client.find_partner_referral(&record.external_id).await?;
            Ok(Some(match found {
                // Adopted with no payload hash: the next upload diffs against the API's copy,
                // and a shared referral's missing second step is made then.
                Some(referral) => Resolution::Adopt(Synced {
                    external_id: record.external_id.clone(),
                    referral_id: referral.id().to_owned(),
                    engagement_id: referral.engagement_id().map(str::to_owned),
                    connected_referral_id: None,
                    etag: referral.etag().map(str::to_owned),
                    connected_etag: None,
                    payload_hash: String::new(),
                    payload: String::new(),
                    run: RunId(0),
                }),
                None => not_applied(record),
            }))
        }
        Some(Step::Connected) => {
            let (Some(referral_id), Some(engagement_id)) = (
                record.referral_id.as_deref(),
                record.engagement_id.as_deref(),
            ) else {
                return Ok(Some(not_applied(record)));
            };
            let found = client.find_connected(engagement_id, referral_id).await?;
            Ok(Some(match found {
                Some(connected) => Resolution::Adopt(Synced {
                    external_id: record.external_id.clone(),
                    referral_id: referral_id.to_owned(),
                    engagement_id: Some(engagement_id.to_owned()),
                    connected_referral_id: Some(connected.id().to_owned()),
                    etag: None,
                    connected_etag: connected.etag().map(str::to_owned),
                    payload_hash: String::new(),
                    payload: String::new(),
                    run: RunId(0),
                }),
                None => not_applied(record),
            }))
        }
        // An unsure update is re-diffed against the API's copy when the record comes again.
        Some(Step::Update) => Ok(Some(Resolution::Resend(Failed {
            message: "an earlier run stopped during this update; it will be compared with \
                      Partner Center and sent again where needed"
                .into(),
            ..interrupted(record)
        }))),
    }
}

fn not_applied(record: &LedgerRecord) -> Resolution {
    Resolution::Resend(interrupted(record))
}

fn interrupted(record: &LedgerRecord) -> Failed {
    Failed {
        external_id: record.external_id.clone(),
        kind: FailureKind::Retryable,
        http_status: None,
        error_code: Some("interrupted".into()),
        message: "an earlier run stopped before this request was answered; it was not applied \
                  and will be sent again"
            .into(),
        run: RunId(0),
    }
}
