//! The sandbox throttles per partner tenant, as Partner Center does: two tokens of one tenant
//! share one budget, another tenant has its own (issue 10, item 18).

use referral_sync::sandbox::{RateLimit, SandboxConfig};
use serde_json::Value;

use crate::common::sandbox::{TestResult, TestSandbox};

/// A token from the sandbox's token endpoint of `tenant`.
async fn token_of(sandbox: &TestSandbox, tenant: &str) -> TestResult<String> {
    let form = [("grant_type", "client_credentials"), ("client_id", "app")];
    let answer: Value = sandbox
        .client
        .post(sandbox.url(&format!("/{tenant}/oauth2/token")))
        .form(&form)
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["access_token"]
        .as_str()
        .ok_or("no token")?
        .to_owned())
}

async fn list_status(sandbox: &TestSandbox, token: &str) -> TestResult<u16> {
    let response = sandbox
        .client
        .get(sandbox.referrals(None))
        .bearer_auth(token)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn issue_10_two_tokens_of_one_tenant_share_its_rate_limit() -> TestResult {
    let sandbox = TestSandbox::with(SandboxConfig {
        rate_limit: Some(RateLimit::parse("2/min")?),
        ..SandboxConfig::default()
    })
    .await?;
    let first = token_of(&sandbox, "contoso.onmicrosoft.com").await?;
    let second = token_of(&sandbox, "contoso.onmicrosoft.com").await?;
    let other_tenant = token_of(&sandbox, "fabrikam.onmicrosoft.com").await?;
    assert_ne!(first, second);
    assert_eq!(list_status(&sandbox, &first).await?, 200);
    assert_eq!(list_status(&sandbox, &second).await?, 200);
    assert_eq!(
        list_status(&sandbox, &first).await?,
        429,
        "the budget is spent"
    );
    assert_eq!(
        list_status(&sandbox, &second).await?,
        429,
        "for both tokens"
    );
    assert_eq!(list_status(&sandbox, &other_tenant).await?, 200);
    Ok(())
}

#[tokio::test]
async fn issue_10_a_tenant_that_is_no_name_gets_no_token() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let response = sandbox
        .client
        .post(sandbox.url("/con%20toso/oauth2/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "app")])
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["error"], "invalid_tenant");
    Ok(())
}
