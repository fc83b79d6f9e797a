//! The API's side of `reconcile`: every referral Partner Center holds, indexed for the join.
//!
//! A tenant is listed in concurrent ranges of `updatedDateTime` at the rate limit
//! ([`crate::api::listing`]); `--full --sequential` lists it one page after another as
//! reconcile used to, so that the two can be timed side by side.

use serde_json::Value;

use super::join::{ApiEntry, ApiIndex};
use crate::Error;
use crate::admin::{api_error, with_api};
use crate::api::client::ApiReferral;
use crate::api::listing::list_partitioned_counted;
use crate::cli::ReconcileArgs;

/// Every referral of the API, indexed.
pub fn list_api(args: &ReconcileArgs) -> Result<ApiIndex, Error> {
    let referrals = with_api(&args.api, &args.ledger, |client| async move {
        if args.sequential {
            tracing::info!("listing every referral of the API, one page after another");
            return client.list_all(None, None).await.map_err(api_error);
        }
        tracing::info!("listing every referral of the API in ranges of updatedDateTime");
        let listed = list_partitioned_counted(&client, None)
            .await
            .map_err(api_error)?;
        Ok(listed.referrals)
    })?;
    Ok(ApiIndex::new(referrals.iter().map(api_entry)))
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
