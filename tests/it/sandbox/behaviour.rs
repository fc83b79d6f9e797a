//! The sandbox's behaviour around the API: bearer tokens and the token endpoint, idempotent
//! creates, the rate limit, injected failures, lost responses, concurrency.

use std::time::Duration;

use referral_sync::sandbox::{RateLimit, SandboxConfig};
use reqwest::Method;
use serde_json::Value;

use crate::common::sandbox::{TestResult, TestSandbox, http_client, seed_request};

async fn token(sandbox: &TestSandbox, form: &[(&str, &str)]) -> TestResult<(u16, Value)> {
    let response = sandbox
        .client
        .post(sandbox.url("/oauth2/token"))
        .form(form)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test]
async fn requests_without_a_bearer_token_are_refused() -> TestResult {
    let config = SandboxConfig {
        token: Some("the-token".into()),
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let url = sandbox.referrals(None);
    let none = sandbox.client.get(&url).send().await?;
    assert_eq!(none.status().as_u16(), 401);
    let body: Value = none.json().await?;
    assert_eq!(body["error"]["code"], "unauthenticated");
    let basic = sandbox
        .client
        .get(&url)
        .basic_auth("u", Some("p"))
        .send()
        .await?;
    assert_eq!(basic.status().as_u16(), 401);
    let wrong = sandbox.client.get(&url).bearer_auth("other").send().await?;
    assert_eq!(wrong.status().as_u16(), 401);
    let right = sandbox
        .client
        .get(&url)
        .bearer_auth("the-token")
        .send()
        .await?;
    assert_eq!(right.status().as_u16(), 200);
    let minted = sandbox
        .client
        .get(&url)
        .bearer_auth(&sandbox.token)
        .send()
        .await?;
    assert_eq!(minted.status().as_u16(), 200);
    Ok(())
}

#[tokio::test]
async fn token_endpoint_speaks_azure_ad_v1_and_tokens_expire() -> TestResult {
    let config = SandboxConfig {
        token_lifetime: Duration::from_secs(1),
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let (status, issued) = token(
        &sandbox,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "s"),
        ],
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], "1", "numbers are strings in AAD v1");
    assert!(
        issued["expires_on"]
            .as_str()
            .is_some_and(|s| s.parse::<i64>().is_ok())
    );
    let access = issued["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refresh = issued["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let url = sandbox.referrals(None);
    let fresh = sandbox.client.get(&url).bearer_auth(&access).send().await?;
    assert_eq!(fresh.status().as_u16(), 200);

    // Wait past the token's expiry (a second granularity), then it must be refused.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = sandbox.client.get(&url).bearer_auth(&access).send().await?;
    assert_eq!(expired.status().as_u16(), 401);

    let (status, renewed) = token(
        &sandbox,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await?;
    assert_eq!(status, 200);
    let again = renewed["access_token"].as_str().unwrap_or_default();
    let retried = sandbox.client.get(&url).bearer_auth(again).send().await?;
    assert_eq!(retried.status().as_u16(), 200);

    let password = [
        ("grant_type", "password"),
        ("client_id", "app"),
        ("username", "admin@contoso.com"),
        ("password", "pw"),
        ("resource", "https://api.partner.microsoft.com"),
    ];
    assert_eq!(token(&sandbox, &password).await?.0, 200);
    for bad in [
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ],
        vec![("grant_type", "password"), ("client_id", "app")],
        vec![("grant_type", "device_code")],
        vec![],
    ] {
        let (status, body) = token(&sandbox, &bad).await?;
        assert_eq!(status, 400, "{bad:?}");
        assert!(body["error"].is_string(), "{body}");
    }
    Ok(())
}

async fn create_with_request_id(sandbox: &TestSandbox, request_id: &str) -> TestResult<Value> {
    let response = sandbox
        .request(Method::POST, &sandbox.referrals(None))
        .header("MS-RequestId", request_id)
        .json(&seed_request()?)
        .send()
        .await?;
    Ok(response.json().await?)
}

#[tokio::test]
async fn a_repeated_request_id_returns_the_original_referral() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let first = create_with_request_id(&sandbox, "req-1").await?;
    let second = create_with_request_id(&sandbox, "req-1").await?;
    assert_eq!(first["id"], second["id"]);

    // Sixteen at once with one request id still make one referral.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let request = sandbox
            .request(Method::POST, &sandbox.referrals(None))
            .header("MS-RequestId", "req-2")
            .json(&seed_request()?);
        tasks.push(tokio::spawn(async move { request.send().await }));
    }
    for task in tasks {
        assert_eq!(task.await??.status().as_u16(), 201);
    }
    let stats = sandbox.stats().await?;
    assert_eq!(stats["referrals"], 2);
    assert_eq!(stats["created"], 2);
    Ok(())
}

#[tokio::test]
async fn without_idempotency_a_repeated_request_id_creates_again() -> TestResult {
    let config = SandboxConfig {
        idempotency: false,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let first = create_with_request_id(&sandbox, "req-1").await?;
    let second = create_with_request_id(&sandbox, "req-1").await?;
    assert_ne!(first["id"], second["id"]);
    assert_eq!(sandbox.stats().await?["referrals"], 2);
    Ok(())
}

#[tokio::test]
async fn over_the_rate_limit_answers_429_with_retry_after() -> TestResult {
    let config = SandboxConfig {
        rate_limit: Some(RateLimit::parse("2/min")?),
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let url = sandbox.referrals(None);
    let mut statuses = Vec::new();
    let mut throttled = None;
    for _ in 0..3 {
        let response = sandbox.request(Method::GET, &url).send().await?;
        statuses.push(response.status().as_u16());
        if response.status().as_u16() == 429 {
            let retry = response.headers()["retry-after"].to_str()?.parse::<u64>()?;
            throttled = Some((retry, response.json::<Value>().await?));
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    let (retry_after, body) = throttled.ok_or("no 429")?;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(body["statusCode"], 429);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Rate limit"))
    );
    let other = sandbox
        .client
        .get(&url)
        .bearer_auth("another")
        .send()
        .await?;
    assert_eq!(
        other.status().as_u16(),
        200,
        "a token the sandbox did not issue is a tenant of its own"
    );
    assert_eq!(sandbox.stats().await?["throttled"], 1);
    Ok(())
}

#[tokio::test]
async fn the_first_requests_fail_with_503_on_request() -> TestResult {
    let config = SandboxConfig {
        fail_first: 2,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    // A request refused for its token is not one of the N.
    let anonymous = sandbox.client.get(sandbox.referrals(None)).send().await?;
    assert_eq!(anonymous.status().as_u16(), 401);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = sandbox.create(&seed_request()?).await?;
        if response.status().as_u16() == 503 {
            assert!(response.headers().contains_key("retry-after"));
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 201]);
    let stats = sandbox.stats().await?;
    assert_eq!(
        (stats["faulted"].clone(), stats["referrals"].clone()),
        (2.into(), 1.into())
    );
    Ok(())
}

async fn statuses_with_seed(seed: u64) -> TestResult<Vec<u16>> {
    let config = SandboxConfig {
        fail_rate: 0.5,
        seed,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let response = sandbox
            .request(Method::GET, &sandbox.referrals(None))
            .send()
            .await?;
        statuses.push(response.status().as_u16());
    }
    Ok(statuses)
}

#[tokio::test]
async fn failures_are_reproducible_from_the_seed() -> TestResult {
    let first = statuses_with_seed(42).await?;
    assert_eq!(first, statuses_with_seed(42).await?);
    assert!(first.contains(&200));
    assert!(first.iter().any(|s| *s == 500 || *s == 503));
    assert!(first.iter().all(|s| [200, 500, 503].contains(s)));
    Ok(())
}

#[tokio::test]
async fn a_lost_response_still_applies_the_change() -> TestResult {
    let config = SandboxConfig {
        lose_response_rate: 1.0,
        // Seed 0 holds some responses and drops the connection of others.
        seed: 0,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let client = http_client(Duration::from_secs(1))?;
    let (mut held, mut dropped) = (0, 0);
    for _ in 0..6 {
        let result = client
            .post(sandbox.referrals(None))
            .bearer_auth(&sandbox.token)
            .json(&seed_request()?)
            .send()
            .await;
        match result {
            Err(e) if e.is_timeout() => held += 1,
            Err(_) => dropped += 1,
            Ok(response) => return Err(format!("a response arrived: {response:?}").into()),
        }
    }
    assert!(held > 0 && dropped > 0, "held {held}, dropped {dropped}");
    let stats = sandbox.stats().await?;
    assert_eq!(stats["referrals"], 6, "{stats}");
    assert_eq!(stats["lost_responses"], 6);
    sandbox.running.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn concurrent_creates_under_latency_are_each_kept_once() -> TestResult {
    let config = SandboxConfig {
        latency: Duration::from_millis(20),
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(config).await?;
    let mut tasks = Vec::new();
    for n in 0..32 {
        let body = crate::common::sandbox::referral_with_external_id(&format!("C-{n}"))?;
        let request = sandbox
            .request(Method::POST, &sandbox.referrals(None))
            .json(&body);
        tasks.push(tokio::spawn(async move { request.send().await }));
    }
    for task in tasks {
        assert_eq!(task.await??.status().as_u16(), 201);
    }
    let stats = sandbox.stats().await?;
    assert_eq!(stats["created"], 32);
    assert_eq!(stats["referrals"], 32);
    assert_eq!(stats["duplicate_external_ids"], 0);
    let again = crate::common::sandbox::referral_with_external_id("C-0")?;
    sandbox.create_ok(&again).await?;
    assert_eq!(sandbox.stats().await?["duplicate_external_ids"], 1);
    Ok(())
}

#[tokio::test]
async fn serve_runs_on_a_given_listener_until_its_shutdown_future() -> TestResult {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let server = tokio::spawn(referral_sync::sandbox::serve(
        SandboxConfig::default(),
        listener,
        shutdown,
    ));
    let client = http_client(Duration::from_secs(10))?;
    let stats: Value = client
        .get(format!("http://{addr}/sandbox/stats"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(stats["referrals"], 0);
    let _ = stop.send(());
    server.await??;
    let after = client
        .get(format!("http://{addr}/sandbox/stats"))
        .send()
        .await;
    assert!(after.is_err(), "still serving after shutdown");
    Ok(())
}
