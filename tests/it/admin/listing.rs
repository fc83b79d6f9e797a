//! The partitioned listing (`api::listing`) against the sandbox over HTTP: it finds exactly
//! the referrals a plain page-after-page listing finds, in ranges rather than sequentially,
//! and it still does while referrals are changed and created under it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use referral_sync::api::auth::TokenSource;
use referral_sync::api::client::{ApiClient, ApiReferral, ClientConfig};
use referral_sync::api::listing::list_partitioned_counted;
use referral_sync::api::rate_limit::RateLimiter;
use referral_sync::api::retry::RetryPolicy;
use referral_sync::api::secret::Secret;
use referral_sync::sandbox::SandboxConfig;
use serde_json::json;
use tokio::task::JoinSet;

use crate::common::sandbox::{TestResult, TestSandbox, referral_with_external_id};

/// A client of `sandbox` paced at `rate` requests per second.
fn client(sandbox: &TestSandbox, rate: f64) -> TestResult<ApiClient> {
    let config = ClientConfig {
        api_url: sandbox.running.base_url.clone(),
        timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
    };
    let limiter = Arc::new(RateLimiter::new(rate, 8)?);
    let token = TokenSource::fixed(Secret::new(sandbox.token.clone()));
    Ok(ApiClient::new(config, token, Some(limiter))?)
}

/// A sandbox answering every request after `latency`, holding `count` referrals (created
/// 16 at a time, so their `updatedDateTime`s are spread over the time that took).
async fn tenant(count: usize, latency: Duration) -> TestResult<TestSandbox> {
    let sandbox = Arc::new(
        TestSandbox::with(SandboxConfig {
            latency,
            ..SandboxConfig::default()
        })
        .await?,
    );
    let mut creates = JoinSet::new();
    for worker in 0..16 {
        let sandbox = Arc::clone(&sandbox);
        creates.spawn(async move {
            for n in (worker..count).step_by(16) {
                sandbox
                    .create_ok(&referral_with_external_id(&format!("L-{n}"))?)
                    .await?;
            }
            TestResult::Ok(())
        });
    }
    while let Some(done) = creates.join_next().await {
        done??;
    }
    Arc::into_inner(sandbox).ok_or_else(|| "the sandbox is still shared".into())
}

fn ids(referrals: &[ApiReferral]) -> BTreeSet<String> {
    referrals.iter().map(|r| r.id().to_owned()).collect()
}

/// Every id the sandbox lists now, page after page.
async fn sequential_ids(client: &ApiClient) -> TestResult<BTreeSet<String>> {
    Ok(ids(&client.list_all(None, None).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partitioned_listing_finds_exactly_what_the_sequential_one_finds() -> TestResult {
    let sandbox = tenant(450, Duration::from_millis(5)).await?;
    let client = client(&sandbox, 400.0)?;
    let listed = list_partitioned_counted(&client, None).await?;
    let expected = sequential_ids(&client).await?;
    assert!(expected.len() >= 450, "{} referrals", expected.len());
    assert_eq!(listed.referrals.len(), expected.len(), "no referral twice");
    assert_eq!(ids(&listed.referrals), expected);
    assert!(!listed.sequential, "the sandbox takes ranged filters");
    assert!(listed.ranges > 2, "{listed:?}");
    // A filter of the caller's own narrows every range.
    let filter = "externalReferenceId eq 'L-7'";
    let one = list_partitioned_counted(&client, Some(filter)).await?;
    let want = ids(&client.list_all(Some(filter), None).await?);
    assert_eq!(ids(&one.referrals), want);
    assert!(!want.is_empty() && !one.sequential);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn referrals_changed_during_the_listing_are_neither_lost_nor_listed_twice() -> TestResult {
    let sandbox = Arc::new(tenant(1_000, Duration::from_millis(20)).await?);
    // Slow enough for the listing to take a while, so that changes land in it.
    let client = client(&sandbox, 40.0)?;
    let before = sequential_ids(&client).await?;
    // Another actor changes referrals (each change moves it past the snapshot, out of the
    // range it was in) and creates new ones for as long as the listing runs.
    let listing_done = Arc::new(AtomicBool::new(false));
    let mut changers = JoinSet::new();
    let every: Arc<Vec<String>> = Arc::new(before.iter().cloned().collect());
    for first in 0..4 {
        let (sandbox, done, every) = (
            Arc::clone(&sandbox),
            Arc::clone(&listing_done),
            Arc::clone(&every),
        );
        changers.spawn(async move { change_until(&sandbox, &every, first * 250, &done).await });
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let listed = list_partitioned_counted(&client, None).await;
    listing_done.store(true, Ordering::Relaxed);
    let mut changes = 0;
    while let Some(made) = changers.join_next().await {
        changes += made??;
    }
    let listed = listed?;
    let after = sequential_ids(&client).await?;
    let found = ids(&listed.referrals);
    assert!(
        changes >= 10,
        "only {changes} changes were made during the listing"
    );
    assert_eq!(listed.referrals.len(), found.len(), "no referral twice");
    let lost: Vec<_> = before.difference(&found).collect();
    assert!(lost.is_empty(), "lost {} referrals: {lost:?}", lost.len());
    assert!(found.is_subset(&after), "only referrals that exist");
    assert!(!listed.sequential);
    Ok(())
}

/// PATCH referrals one after another (and create one every tenth change) until `done`; the
/// number of changes made.
async fn change_until(
    sandbox: &TestSandbox,
    ids: &[String],
    mut at: usize,
    done: &AtomicBool,
) -> TestResult<u64> {
    let mut changes = 0u64;
    while !done.load(Ordering::Relaxed) {
        // Spread over the whole tenant: every range loses some of its referrals.
        at = (at + 97) % ids.len();
        let url = sandbox.referrals(Some(&ids[at]));
        let ops = json!([{"op": "replace", "path": "/details/notes", "value": format!("change {changes}")}]);
        let response = sandbox
            .request(reqwest::Method::PATCH, &url)
            .json(&ops)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("PATCH answered {}", response.status()).into());
        }
        if changes.is_multiple_of(10) {
            sandbox
                .create_ok(&referral_with_external_id(&format!("NEW-{at}-{changes}"))?)
                .await?;
        }
        changes += 1;
    }
    Ok(changes)
}
