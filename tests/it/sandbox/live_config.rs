//! `/sandbox/config`: the rate limit changed while the sandbox runs, behind the token.

use referral_sync::sandbox::{RateLimit, SandboxConfig};
use serde_json::{Value, json};

use crate::common::sandbox::{TestResult, TestSandbox, seed_request};

async fn post_config(
    sb: &TestSandbox,
    body: &Value,
    token: Option<&str>,
) -> TestResult<(u16, Value)> {
    let mut request = sb.client.post(sb.url("/sandbox/config")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test]
async fn a_lowered_limit_throttles_at_once_and_a_lifted_one_stops() -> TestResult {
    let sb = TestSandbox::with(SandboxConfig {
        token: Some("config-token".into()),
        rate_limit: Some(RateLimit::parse("100/s")?),
        ..SandboxConfig::default()
    })
    .await?;
    let (status, _) = post_config(&sb, &json!({ "rateLimit": "2/s" }), None).await?;
    assert_eq!(status, 401, "the token is required");
    let (status, _) = post_config(&sb, &json!({ "rateLimit": "2/s" }), Some("wrong")).await?;
    assert_eq!(status, 401);
    let (_, shown) = sb.get_json(&sb.url("/sandbox/config")).await?;
    assert_eq!(shown, json!({ "rateLimit": "100/s" }));

    let (status, now) =
        post_config(&sb, &json!({ "rateLimit": "2/s" }), Some("config-token")).await?;
    assert_eq!((status, now), (200, json!({ "rateLimit": "2/s" })));
    let body = seed_request()?;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(sb.create(&body).await?.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429], "the bucket holds two now");

    let (status, now) =
        post_config(&sb, &json!({ "rateLimit": null }), Some("config-token")).await?;
    assert_eq!((status, now), (200, json!({ "rateLimit": null })));
    for _ in 0..5 {
        assert_eq!(
            sb.create(&body).await?.status().as_u16(),
            201,
            "no limit any more"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_bad_setting_is_refused_and_changes_nothing() -> TestResult {
    let sb = TestSandbox::start().await?;
    let token = sb.token.clone();
    for body in [
        json!({ "rateLimit": "fast" }),
        json!({ "rateLimit": 5 }),
        json!({ "latency": 10 }),
        json!(["rateLimit"]),
    ] {
        let (status, error) = post_config(&sb, &body, Some(&token)).await?;
        assert_eq!(status, 400, "{body}: {error}");
    }
    let (_, shown) = sb.get_json(&sb.url("/sandbox/config")).await?;
    assert_eq!(shown, json!({ "rateLimit": null }));
    let (status, _) = sb.get_json(&sb.referrals(None)).await?;
    assert_eq!(status, 200);
    Ok(())
}
