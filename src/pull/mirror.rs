//! Mirror refresh: list what changed on the API since the mirror's watermark and store it in
//! the ledger's mirror.
//!
//! An incremental refresh lists `$filter=updatedDateTime ge '<watermark − 5 min>'` ordered by
//! `updatedDateTime asc`, every page, through the project's client (its pacing and retries).
//! The overlap takes in writes whose clocks lag and ties at the watermark; whatever it lists
//! again carries the eTag the mirror has and is left alone. A mirror with no watermark yet is
//! filled by a full listing, and so is one whose server refuses the filter (HTTP 400). The
//! referrals of one listing and the new watermark are stored in one transaction, so a kill
//! mid-listing leaves the mirror as it was. A full refresh lists in concurrent ranges at the
//! rate limit (`api::listing`).

use std::collections::{HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::Error;
use crate::admin::api_error;
use crate::api::listing::list_partitioned;
use crate::api::{ApiClient, ApiError, ApiReferral};
use crate::cli::ApiArgs;
use crate::ledger::{Ledger, Stored};

/// How far before the watermark an incremental listing starts.
pub const OVERLAP: SignedDuration = SignedDuration::from_mins(5);

/// The order every refresh lists in.
const ORDER: &str = "updatedDateTime asc";

/// What one refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Referrals listed.
    pub listed: u64,
    /// What the mirror made of them.
    pub stored: Stored,
    /// Whether it was a listing of every referral.
    pub full: bool,
}

/// The name the mirror keeps an API's rows under: `sandbox` for the embedded sandbox (a new
/// port every run, the same referrals), else the base URL without a trailing slash.
pub fn api_key(args: &ApiArgs) -> String {
    match args.sandbox {
        true => "sandbox".to_owned(),
        false => args.api_url.trim_end_matches('/').to_owned(),
    }
}

/// List what changed since the watermark of `api` and store it; a full listing when there is
/// no watermark yet.
pub async fn refresh_incremental(
    client: &ApiClient,
    ledger: &mut Ledger,
    api: &str,
) -> Result<Refreshed, Error> {
    let Some(through) = ledger.mirror_watermark(api)?.updated_through else {
        return refresh_full(client, ledger, api).await;
    };
    let since = through.saturating_sub(OVERLAP).unwrap_or(through);
    let filter = format!("updatedDateTime ge '{since:.0}'");
    tracing::info!(%since, "listing the referrals changed since the mirror's watermark");
    match list_changed(client, &filter).await {
        Ok(listed) => store(ledger, api, &listed, false),
        Err(ApiError::Http { status: 400, .. }) => {
            tracing::warn!(
                "the API rejects $filter on updatedDateTime; listing every referral instead"
            );
            refresh_full(client, ledger, api).await
        }
        Err(err) => Err(api_error(err)),
    }
}

/// A changed-since listing longer than this many pages after the first goes on in ranges.
const SEQUENTIAL_PAGES: usize = 3;

/// The referrals `filter` selects: page after page when they are few (one request when
/// nothing changed), in concurrent ranges under the same filter when the first page's
/// `@odata.count` shows many (a night of bulk edits, or a watermark whose overlap holds a
/// whole migration), so that a long listing runs at the rate limit, not at the latency.
async fn list_changed(client: &ApiClient, filter: &str) -> Result<Vec<ApiReferral>, ApiError> {
    let options = [("$filter", filter), ("$orderby", ORDER), ("$count", "true")];
    let mut pages = client.list_query(&options);
    let Some(first) = pages.next_page().await? else {
        return Ok(Vec::new());
    };
    let page_size = first.len().max(1) as u64;
    if let Some(count) = pages
        .count()
        .filter(|&count| pages.has_more() && count > page_size * (1 + SEQUENTIAL_PAGES as u64))
    {
        tracing::info!(
            count,
            "many referrals changed since the watermark; listing them in ranges"
        );
        return list_partitioned(client, Some(filter)).await;
    }
    let mut all = first;
    while let Some(page) = pages.next_page().await? {
        all.extend(page);
    }
    Ok(all)
}

/// List every referral (in concurrent ranges of `updatedDateTime`, see
/// [`list_partitioned`]), store it, and drop the rows of referrals the API no longer holds.
pub async fn refresh_full(
    client: &ApiClient,
    ledger: &mut Ledger,
    api: &str,
) -> Result<Refreshed, Error> {
    tracing::info!("listing every referral into the mirror");
    let listed = list_partitioned(client, None).await.map_err(api_error)?;
    let refreshed = store(ledger, api, &listed, true)?;
    let ids: HashSet<&str> = listed.iter().map(ApiReferral::id).collect();
    let dropped = ledger.mirror_forget_unlisted(api, &ids)?;
    if dropped > 0 {
        tracing::info!(dropped, "mirror rows of referrals no longer listed dropped");
    }
    Ok(refreshed)
}

/// Store one listing and advance the watermark to its greatest `updatedDateTime`.
fn store(
    ledger: &mut Ledger,
    api: &str,
    listed: &[ApiReferral],
    full: bool,
) -> Result<Refreshed, Error> {
    let through = listed.iter().filter_map(updated_of).max();
    let json = newest_by_id(listed);
    let stored = ledger.mirror_store(api, &json, through, full)?;
    tracing::info!(
        listed = listed.len(),
        changed = stored.changed,
        "mirror refreshed"
    );
    Ok(Refreshed {
        listed: listed.len() as u64,
        stored,
        full,
    })
}

/// The listing with each id once, its newest version kept (a referral that changed while
/// the listing was paged can be served twice), in listing order.
fn newest_by_id(listed: &[ApiReferral]) -> Vec<Value> {
    let mut newest: HashMap<&str, usize> = HashMap::new();
    for (index, referral) in listed.iter().enumerate() {
        let kept = newest.entry(referral.id()).or_insert(index);
        if updated_of(referral) >= updated_of(&listed[*kept]) {
            *kept = index;
        }
    }
    let mut keep: Vec<usize> = newest.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| listed[i].json().clone()).collect()
}

/// A referral's `updatedDateTime`, when it has a readable one.
fn updated_of(referral: &ApiReferral) -> Option<Timestamp> {
    referral
        .json()
        .get("updatedDateTime")
        .and_then(Value::as_str)
        .and_then(|text| text.parse().ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn listed(id: &str, etag: &str, updated: &str) -> ApiReferral {
        let json = json!({"id": id, "eTag": etag, "updatedDateTime": updated});
        ApiReferral::from_json(json).expect("referral")
    }

    #[test]
    fn a_referral_served_twice_is_stored_in_its_newest_version() {
        let listing = [
            listed("a", "1", "2026-01-01T00:00:00Z"),
            listed("b", "1", "2026-01-01T00:00:01Z"),
            listed("a", "2", "2026-01-01T00:00:02Z"),
            listed("b", "0", "2025-12-31T00:00:00Z"),
        ];
        let kept: Vec<(Value, Value)> = newest_by_id(&listing)
            .into_iter()
            .map(|j| (j["id"].clone(), j["eTag"].clone()))
            .collect();
        assert_eq!(kept, [(json!("b"), json!("1")), (json!("a"), json!("2"))]);
    }
}
