//! Tests of the upload module: the API client against the real sandbox over HTTP, and (in
//! `upload/fake.rs`) against small in-test servers for what the sandbox cannot be told to do
//! (`upload/endless_pages.rs`: a listing whose links never end).

mod echo;
mod endless_pages;
mod fake;
mod user_agent;

use std::sync::Arc;
use std::time::{Duration, Instant};

use referral_sync::api::auth::{OAuthSettings, TokenSource};
use referral_sync::api::client::{ApiClient, ApiError, ClientConfig, PatchOp};
use referral_sync::api::rate_limit::RateLimiter;
use referral_sync::api::retry::RetryPolicy;
use referral_sync::api::secret::Secret;
use referral_sync::sandbox::{self, RateLimit, RunningSandbox, SandboxConfig};
use serde_json::{Value, json};
use uuid::Uuid;

/// A referral body the sandbox accepts, with this external id.
fn referral(external_id: &str) -> Value {
    json!({
        "name": format!("Opportunity {external_id}"),
        "externalReferenceId": external_id,
        "type": "Independent",
        "qualification": "SalesQualified",
        "customerProfile": {
            "name": "Contoso Customer Inc",
            "address": {"addressLine1": "One Microsoft Way", "city": "Redmond", "state": "WA",
                        "postalCode": "98052", "country": "US"},
            "team": [{"firstName": "Sue", "lastName": "Smith", "email": "sue.smith@contoso.com",
                      "phoneNumber": "1234567890"}]
        },
        "consent": {"consentToToShareInfoWithOthers": true, "consentToContact": true,
                    "consentToShareReferralWithMicrosoftSellers": false},
        "details": {"dealValue": 10000, "currency": "USD", "notes": "first notes",
                    "closingDateTime": "2030-01-01T00:00:00Z"},
        "team": [{"firstName": "Ann", "lastName": "Lee", "email": "ann@partner.example",
                  "phoneNumber": "5550100"}]
    })
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 5,
        base: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_total: Duration::from_secs(20),
    }
}

fn config(base_url: &str) -> ClientConfig {
    ClientConfig {
        api_url: base_url.to_owned(),
        timeout: Duration::from_secs(10),
        retry: fast_retries(),
    }
}

async fn sandbox_with(config: SandboxConfig) -> RunningSandbox {
    sandbox::start(config).await.expect("sandbox starts")
}

fn client_for(sandbox: &RunningSandbox, limiter: Option<Arc<RateLimiter>>) -> ApiClient {
    let auth = TokenSource::fixed(Secret::new(sandbox.token()));
    ApiClient::new(config(&sandbox.base_url), auth, limiter).expect("client")
}

fn stat(sandbox: &RunningSandbox, key: &str) -> u64 {
    sandbox
        .stats()
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
}

#[tokio::test]
async fn create_get_find_patch_and_put_round_trip() {
    let sandbox = sandbox_with(SandboxConfig::default()).await;
    let client = client_for(&sandbox, None);
    let created = client
        .create(&referral("CRM-1"), Uuid::new_v4())
        .await
        .expect("created");
    assert_eq!(created.external_reference_id(), Some("CRM-1"));
    assert!(created.engagement_id().is_some());
    let etag = created.etag().expect("an eTag").to_owned();

    let fetched = client.get(created.id()).await.expect("fetched");
    assert_eq!(fetched.id(), created.id());

    let found = client.find_by_external_id("CRM-1").await.expect("found");
    assert_eq!(
        found.iter().map(|r| r.id()).collect::<Vec<_>>(),
        [created.id()]
    );
    assert!(
        client
            .find_by_external_id("CRM-2")
            .await
            .expect("listed")
            .is_empty()
    );

    let ops = [PatchOp::replace("/details/notes", json!("patched notes"))];
    let patched = client
        .patch(created.id(), &ops, Some(&etag))
        .await
        .expect("patched");
    let body = patched.referral.expect("Prefer: return=representation");
    assert_eq!(body.json()["details"]["notes"], "patched notes");
    let new_etag = patched.etag.expect("a new eTag");
    assert_ne!(new_etag, etag);

    let stale = client
        .patch(created.id(), &ops, Some(&etag))
        .await
        .expect_err("stale eTag");
    assert_eq!(stale.status(), Some(412), "{stale}");

    let mut whole = body.into_json();
    whole["details"]["notes"] = json!("put notes");
    let put = client
        .put(created.id(), &whole, Some(&new_etag))
        .await
        .expect("put");
    let after = client.get(created.id()).await.expect("fetched");
    assert_eq!(after.json()["details"]["notes"], "put notes");
    assert_eq!(put.etag.as_deref(), after.etag());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn create_accepts_200_as_well_as_201() {
    let sandbox = sandbox_with(SandboxConfig {
        create_status_200: true,
        ..SandboxConfig::default()
    })
    .await;
    let client = client_for(&sandbox, None);
    let created = client
        .create(&referral("CRM-200"), Uuid::new_v4())
        .await
        .expect("created");
    assert_eq!(created.external_reference_id(), Some("CRM-200"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn api_errors_carry_status_code_and_message_and_are_not_retried() {
    let sandbox = sandbox_with(SandboxConfig::default()).await;
    let client = client_for(&sandbox, None);
    let missing = client
        .get("00000000-0000-0000-0000-000000000000")
        .await
        .expect_err("404");
    match &missing {
        ApiError::Http {
            status: 404,
            code,
            message,
            ..
        } => {
            assert!(code.is_some(), "{missing:?}");
            assert!(!message.is_empty());
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    let bad = json!(["not", "a", "referral"]);
    let before = stat(&sandbox, "requests");
    let invalid = client.create(&bad, Uuid::new_v4()).await.expect_err("400");
    assert_eq!(invalid.status(), Some(400), "{invalid}");
    assert_eq!(
        stat(&sandbox, "requests") - before,
        1,
        "a 400 is not retried"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn listing_follows_next_links_across_pages() {
    let sandbox = sandbox_with(SandboxConfig::default()).await;
    let client = client_for(&sandbox, None);
    for n in 0..230 {
        client
            .create(&referral(&format!("PAGE-{n:03}")), Uuid::new_v4())
            .await
            .expect("created");
    }
    let mut pages = client.list(None, Some("createdDateTime asc"));
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    while let Some(page) = pages.next_page().await.expect("a page") {
        sizes.push(page.len());
        ids.extend(
            page.iter()
                .filter_map(|r| r.external_reference_id().map(str::to_owned)),
        );
    }
    assert_eq!(sizes, [100, 100, 30]);
    let expected: Vec<String> = (0..230).map(|n| format!("PAGE-{n:03}")).collect();
    assert_eq!(ids, expected, "every referral once, oldest first");
    let filtered = client
        .list_all(Some("externalReferenceId eq 'PAGE-007'"), None)
        .await
        .expect("filtered");
    assert_eq!(filtered.len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn quotes_in_external_ids_are_escaped_in_the_filter() {
    let sandbox = sandbox_with(SandboxConfig::default()).await;
    let client = client_for(&sandbox, None);
    client
        .create(&referral("O'Brien & Sons #1"), Uuid::new_v4())
        .await
        .expect("created");
    let found = client
        .find_by_external_id("O'Brien & Sons #1")
        .await
        .expect("found");
    assert_eq!(found.len(), 1);
    assert!(!client.filter_unsupported());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn throttled_requests_wait_for_retry_after_and_then_succeed() {
    let sandbox = sandbox_with(SandboxConfig {
        rate_limit: Some(RateLimit {
            capacity: 2,
            period: Duration::from_secs(1),
        }),
        ..SandboxConfig::default()
    })
    .await;
    // Our limiter allows far more than the sandbox, so the sandbox throttles.
    let limiter = Arc::new(RateLimiter::new(1000.0, 1).expect("rate"));
    let client = client_for(&sandbox, Some(Arc::clone(&limiter)));
    let created = client
        .create(&referral("CRM-T"), Uuid::new_v4())
        .await
        .expect("created");
    let started = Instant::now();
    for _ in 0..4 {
        client.get(created.id()).await.expect("eventually served");
    }
    assert!(stat(&sandbox, "throttled") >= 1, "{}", sandbox.stats());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn pacing_at_the_sandbox_rate_is_not_throttled() {
    let sandbox = sandbox_with(SandboxConfig {
        rate_limit: Some(RateLimit {
            capacity: 20,
            period: Duration::from_secs(1),
        }),
        ..SandboxConfig::default()
    })
    .await;
    let limiter = Arc::new(RateLimiter::new(20.0, 1).expect("rate"));
    let client = client_for(&sandbox, Some(limiter));
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..8 {
                let body = referral(&format!("PACE-{worker}-{n}"));
                client.create(&body, Uuid::new_v4()).await.expect("created");
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }
    assert_eq!(stat(&sandbox, "created"), 32);
    assert_eq!(stat(&sandbox, "throttled"), 0, "{}", sandbox.stats());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn injected_failures_are_retried_with_the_same_request_id() {
    let sandbox = sandbox_with(SandboxConfig {
        fail_first: 3,
        ..SandboxConfig::default()
    })
    .await;
    let client = client_for(&sandbox, None);
    let created = client
        .create(&referral("CRM-503"), Uuid::new_v4())
        .await
        .expect("created");
    assert_eq!(created.external_reference_id(), Some("CRM-503"));
    assert_eq!(stat(&sandbox, "faulted"), 3);
    assert_eq!(stat(&sandbox, "created"), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn lost_create_responses_never_make_duplicates() {
    let sandbox = sandbox_with(SandboxConfig {
        lose_response_rate: 0.3,
        idempotency: false,
        seed: 7,
        hold_lost_for: Duration::from_secs(5),
        ..SandboxConfig::default()
    })
    .await;
    let auth = TokenSource::fixed(Secret::new(sandbox.token()));
    let mut config = config(&sandbox.base_url);
    config.timeout = Duration::from_millis(500);
    config.retry.max_retries = 12;
    let client = ApiClient::new(config, auth, None).expect("client");
    for n in 0..12 {
        let created = client
            .create(&referral(&format!("LOST-{n}")), Uuid::new_v4())
            .await;
        assert!(created.is_ok(), "LOST-{n}: {created:?}");
    }
    assert!(stat(&sandbox, "lost_responses") >= 1, "{}", sandbox.stats());
    assert_eq!(stat(&sandbox, "referrals"), 12);
    assert_eq!(
        stat(&sandbox, "duplicate_external_ids"),
        0,
        "{}",
        sandbox.stats()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn oauth_tokens_from_the_sandbox_are_renewed_when_they_expire() {
    let sandbox = sandbox_with(SandboxConfig {
        token_lifetime: Duration::from_secs(1),
        ..SandboxConfig::default()
    })
    .await;
    let settings = OAuthSettings {
        token_url: format!("{}/oauth2/token", sandbox.base_url),
        client_id: "client".into(),
        client_secret: Some(Secret::new("client-secret")),
        refresh_token: None,
        username: None,
        password: None,
        resource: "https://api.partner.microsoft.com".into(),
        refresh_margin: Duration::ZERO,
    };
    let auth = TokenSource::oauth(settings, Duration::from_secs(5)).expect("oauth");
    let client = ApiClient::new(config(&sandbox.base_url), auth.clone(), None).expect("client");
    let created = client
        .create(&referral("CRM-OAUTH"), Uuid::new_v4())
        .await
        .expect("created");
    let first = auth.token().await.expect("token");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client
        .get(created.id())
        .await
        .expect("served with a renewed token");
    let second = auth.token().await.expect("token");
    assert_ne!(first, second, "the token was renewed");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_rejected_static_token_fails_without_leaking() {
    let sandbox = sandbox_with(SandboxConfig {
        token: Some("the-only-good-token".into()),
        ..SandboxConfig::default()
    })
    .await;
    let auth = TokenSource::fixed(Secret::new("sekret-bad-token-0042"));
    let client = ApiClient::new(config(&sandbox.base_url), auth, None).expect("client");
    let err = client.get("any").await.expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert!(err.is_auth_failure());
    for text in [format!("{err:?}"), err.to_string()] {
        assert!(!text.contains("sekret-bad-token-0042"), "{text}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_token_the_sandbox_calls_expired_is_refreshed_on_401() {
    let sandbox = sandbox_with(SandboxConfig {
        token_lifetime: Duration::from_secs(1),
        ..SandboxConfig::default()
    })
    .await;
    let settings = OAuthSettings {
        token_url: format!("{}/oauth2/token", sandbox.base_url),
        client_id: "client".into(),
        client_secret: None,
        refresh_token: None,
        username: Some("admin@partner.example".into()),
        password: Some(Secret::new("pa55word")),
        resource: "https://api.partner.microsoft.com".into(),
        refresh_margin: Duration::ZERO,
    };
    let auth = TokenSource::oauth(settings, Duration::from_secs(5)).expect("oauth");
    let client = ApiClient::new(config(&sandbox.base_url), auth.clone(), None).expect("client");
    // The sandbox's tokens expire on a whole second (`expires_on`); ours counts 1 s from the
    // request. Take the token at mid-second, so that at +0.6 s the sandbox already refuses it
    // while our cache still holds it as fresh.
    let fraction = i64::from(jiff::Timestamp::now().subsec_nanosecond());
    let to_mid_second = (1_500_000_000 - fraction).rem_euclid(1_000_000_000);
    tokio::time::sleep(Duration::from_nanos(to_mid_second.unsigned_abs())).await;
    let first = auth.token().await.expect("token");
    let created = client
        .create(&referral("CRM-401"), Uuid::new_v4())
        .await
        .expect("created");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        auth.token().await.expect("cached"),
        first,
        "still fresh by our clock"
    );
    client
        .get(created.id())
        .await
        .expect("served after one refresh");
    assert_ne!(
        auth.token().await.expect("token"),
        first,
        "replaced after the 401"
    );
    sandbox.shutdown().await;
}
