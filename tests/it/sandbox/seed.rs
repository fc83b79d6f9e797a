//! `POST /sandbox/seed` over real HTTP (issue 12, item 6): a benchmark-size tenant in one
//! request, deterministic with `--seed`, kept by `--state`, and listed page by page by
//! `updatedDateTime` without the sandbox sorting the whole store for every page.

use std::collections::HashSet;
use std::time::Instant;

use referral_sync::sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::common::sandbox::{TestResult, TestSandbox, status_and_json};

const TOKEN: &str = "seed-test-token";

async fn sandbox_with(config: SandboxConfig) -> TestResult<TestSandbox> {
    TestSandbox::with(SandboxConfig {
        token: Some(TOKEN.into()),
        ..config
    })
    .await
}

async fn seed(sandbox: &TestSandbox, body: Value, token: &str) -> TestResult<(u16, Value)> {
    let response = sandbox
        .client
        .post(sandbox.url("/sandbox/seed"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    status_and_json(response).await
}

/// Every referral of a listing, following next links; and how many pages it took.
async fn list_all(sandbox: &TestSandbox, query: &str) -> TestResult<(Vec<Value>, usize)> {
    let mut url = Some(sandbox.url(&format!("/v1.0/engagements/referrals?{query}")));
    let (mut all, mut pages) = (Vec::new(), 0);
    while let Some(next) = url {
        let (status, body) = sandbox.get_json(&next).await?;
        assert_eq!(status, 200, "{body}");
        all.extend(body["value"].as_array().cloned().unwrap_or_default());
        url = body["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
    }
    Ok((all, pages))
}

fn summary(referrals: &[Value]) -> Vec<(String, String, String)> {
    let field = |r: &Value, f: &str| r[f].as_str().unwrap_or_default().to_owned();
    referrals
        .iter()
        .map(|r| {
            (
                field(r, "id"),
                field(r, "externalReferenceId"),
                field(r, "status"),
            )
        })
        .collect()
}

#[tokio::test]
async fn issue_12_seeding_20000_referrals_lists_them_all_in_order_page_by_page() -> TestResult {
    let sandbox = sandbox_with(SandboxConfig::default()).await?;
    for (body, token, status) in [
        (json!({"count": 10}), "wrong", 401),
        (json!({"count": 0}), TOKEN, 400),
        (json!({"count": 100_001}), TOKEN, 400),
        (json!({"count": "5"}), TOKEN, 400),
        (json!({"count": 5, "extra": 1}), TOKEN, 400),
    ] {
        assert_eq!(
            seed(&sandbox, body.clone(), token).await?.0,
            status,
            "{body}"
        );
    }
    let started = Instant::now();
    let (status, answer) = seed(&sandbox, json!({"count": 20_000}), TOKEN).await?;
    assert_eq!((status, &answer), (200, &json!({"created": 20_000})));
    let seeded = started.elapsed();
    let stats = sandbox.stats().await?;
    assert_eq!(
        (&stats["referrals"], &stats["duplicate_external_ids"]),
        (&json!(20_000), &json!(0))
    );

    let started = Instant::now();
    let since = "2000-01-01T00:00:00Z";
    let query = format!("$filter=updatedDateTime ge '{since}'&$orderby=updatedDateTime asc");
    let (all, pages) = list_all(&sandbox, &query).await?;
    let indexed = started.elapsed();
    assert_eq!((all.len(), pages), (20_000, 200));
    let ids: HashSet<&str> = all.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 20_000);
    let times: Vec<&str> = all
        .iter()
        .filter_map(|r| r["updatedDateTime"].as_str())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "out of order");
    let incoming = all.iter().filter(|r| r["direction"] == "Incoming").count();
    assert!(incoming > 2_000, "{incoming} incoming");

    println!("seed 20,000: {seeded:?}; listing them in 200 pages by updatedDateTime: {indexed:?}");
    Ok(())
}

#[tokio::test]
async fn issue_12_seeding_is_deterministic_with_the_seed_and_kept_by_the_state_file() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let config = SandboxConfig {
        seed: 42,
        ..SandboxConfig::default()
    };
    let persistent = SandboxConfig {
        state: Some(dir.path().join("sandbox.db")),
        ..config.clone()
    };
    let (one, two) = (
        sandbox_with(config).await?,
        sandbox_with(persistent.clone()).await?,
    );
    for sandbox in [&one, &two] {
        assert_eq!(seed(sandbox, json!({"count": 300}), TOKEN).await?.0, 200);
        assert_eq!(seed(sandbox, json!({"count": 50}), TOKEN).await?.0, 200);
    }
    let (first, _) = list_all(&one, "").await?;
    let (second, _) = list_all(&two, "").await?;
    assert_eq!(summary(&first), summary(&second));
    let external: HashSet<&str> = first
        .iter()
        .filter(|r| r["direction"] == "Outgoing")
        .filter_map(|r| r["externalReferenceId"].as_str())
        .collect();
    assert!(external.contains("seed-000001") || external.contains("seed-000002"));
    assert_eq!(one.stats().await?["duplicate_external_ids"], 0);
    two.running.shutdown().await;
    let reopened = sandbox_with(persistent).await?;
    let (kept, _) = list_all(&reopened, "").await?;
    assert_eq!(summary(&kept), summary(&first));
    Ok(())
}
