//! The API's side of `reconcile`: every referral Partner Center holds, indexed for the join,
//! at the cost of what changed.
//!
//! With a current mirror in the ledger (see `ledger::mirror`), reconcile refreshes it
//! incrementally (the referrals updated since its watermark: one page when little changed)
//! and compares with the mirror. The first reconcile, and `--full`, list every referral in
//! concurrent ranges of `updatedDateTime` at the rate limit ([`crate::api::listing`]) and
//! store the listing in the mirror. A ledger whose lock another run holds, or that is read
//! only, is compared with a full listing and left alone. `--full --sequential` lists one page
//! after another as reconcile used to, so that the two can be timed side by side.

use std::collections::HashSet;

use serde_json::Value;

use super::join::{ApiEntry, ApiIndex};
use crate::Error;
use crate::admin::{api_error, with_api};
use crate::api::client::{ApiClient, ApiReferral};
use crate::api::listing::list_partitioned_counted;
use crate::cli::ReconcileArgs;
use crate::ledger::Ledger;
use crate::pull::mirror::{api_key, refresh_incremental};

/// Every referral of the API, indexed. `mirror`: the ledger's mirror may be refreshed
/// (this run holds the ledger's lock and may write).
pub fn list_api(
    args: &ReconcileArgs,
    ledger: &mut Ledger,
    mirror: bool,
) -> Result<ApiIndex, Error> {
    let api = api_key(&args.api);
    let current = ledger.mirror_watermark(&api)?.updated_through.is_some();
    let incremental = mirror && current && !args.full;
    let referrals = with_api(&args.api, &args.ledger, |client| async move {
        if args.sequential {
            tracing::info!("listing every referral of the API, one page after another");
            return client.list_all(None, None).await.map_err(api_error);
        }
        match incremental {
            true => refreshed_mirror(&client, ledger, &api).await,
            false => list_full(&client, ledger, &api, mirror).await,
        }
    })?;
    Ok(ApiIndex::new(referrals.iter().map(api_entry)))
}

/// Refresh the mirror of `api` from what changed since its watermark; every referral it
/// holds then. The API's own count of its referrals (one request) guards the mirror: a count
/// other than the mirror's (a referral gone, or one created between the two requests) means a
/// full listing instead.
async fn refreshed_mirror(
    client: &ApiClient,
    ledger: &mut Ledger,
    api: &str,
) -> Result<Vec<ApiReferral>, Error> {
    let mut counted = client.list_query(&[("$top", "1"), ("$count", "true")]);
    counted.next_page().await.map_err(api_error)?;
    let refreshed = refresh_incremental(client, ledger, api).await?;
    tracing::info!(
        listed = refreshed.listed,
        changed = refreshed.stored.changed,
        "mirror refreshed since its watermark"
    );
    let rows = ledger.mirror_all(api)?;
    if let Some(total) = counted.count().filter(|t| *t != rows.len() as u64) {
        tracing::info!(
            api_count = total,
            mirror = rows.len(),
            "the API counts other referrals than the mirror holds; listing every referral"
        );
        return list_full(client, ledger, api, true).await;
    }
    Ok(rows
        .into_iter()
        .filter_map(|row| ApiReferral::from_json(row.json).ok())
        .collect())
}

/// Every referral, listed in ranges; stored in the mirror when `mirror`.
async fn list_full(
    client: &ApiClient,
    ledger: &mut Ledger,
    api: &str,
    mirror: bool,
) -> Result<Vec<ApiReferral>, Error> {
    tracing::info!("listing every referral of the API in ranges of updatedDateTime");
    let listed = list_partitioned_counted(client, None)
        .await
        .map_err(api_error)?;
    if mirror {
        store_full(ledger, api, &listed.referrals)?;
    }
    Ok(listed.referrals)
}

/// Store a listing of every referral in the mirror (its watermark the newest
/// `updatedDateTime` listed), and drop the rows it no longer has.
fn store_full(ledger: &mut Ledger, api: &str, referrals: &[ApiReferral]) -> Result<(), Error> {
    let through = referrals
        .iter()
        .filter_map(|r| r.json().get("updatedDateTime").and_then(Value::as_str))
        .filter_map(|text| text.parse::<jiff::Timestamp>().ok())
        .max();
    let json: Vec<Value> = referrals.iter().map(|r| r.json().clone()).collect();
    let stored = ledger.mirror_store(api, &json, through, true)?;
    let listed: HashSet<&str> = referrals.iter().map(ApiReferral::id).collect();
    let dropped = ledger.mirror_forget_unlisted(api, &listed)?;
    tracing::info!(
        changed = stored.changed,
        dropped,
        "mirror stored from the full listing"
    );
    Ok(())
}

/// What reconcile keeps of a listed referral.
pub fn api_entry(referral: &ApiReferral) -> ApiEntry {
    let json = referral.json();
    let incoming = json.get("direction").and_then(Value::as_str) == Some("Incoming");
    let connected = targets_microsoft(json);
    ApiEntry {
        id: referral.id().to_owned(),
        external_id: referral.external_reference_id().map(str::to_owned),
        engagement_id: referral.engagement_id().map(str::to_owned),
        etag: referral.etag().map(str::to_owned),
        status: referral.status().map(str::to_owned),
        substatus: referral.substatus().map(str::to_owned),
        partner: !incoming && !connected,
        connected_json: connected.then(|| json.clone()),
    }
}

/// Whether a referral is the connected one made for Microsoft (target
/// BusinessProfileLocation `msft`).
fn targets_microsoft(json: &Value) -> bool {
    let Some(targets) = json.get("target").and_then(Value::as_array) else {
        return false;
    };
    targets.iter().any(|t| {
        t.get("type").and_then(Value::as_str) == Some("BusinessProfileLocation")
            && t.get("id").and_then(Value::as_str) == Some("msft")
    })
}
