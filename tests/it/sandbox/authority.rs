//! The sandbox as an Entra ID authority over HTTP: the device authorization grant with its
//! pending, slow-down, approved and declined answers; refresh tokens that work once under
//! `--rotate-refresh-tokens`; the password grant refused under `--require-mfa`; app-only
//! tokens that the API refuses; and access tokens the API accepts until they expire.

use std::time::Duration;

use referral_sync::sandbox::{SandboxConfig, SignInOptions};
use reqwest::Method;
use serde_json::Value;

use crate::common::sandbox::{TestResult, TestSandbox};

async fn post(
    sandbox: &TestSandbox,
    path: &str,
    form: &[(&str, &str)],
) -> TestResult<(u16, Value)> {
    let response = sandbox
        .client
        .post(sandbox.url(path))
        .form(form)
        .send()
        .await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn device_code(sandbox: &TestSandbox) -> TestResult<Value> {
    let form = [
        ("client_id", "app"),
        (
            "scope",
            "https://api.partner.microsoft.com/user_impersonation offline_access",
        ),
    ];
    let (status, body) = post(sandbox, "/organizations/oauth2/v2.0/devicecode", &form).await?;
    assert_eq!(status, 200, "{body}");
    Ok(body)
}

async fn poll(sandbox: &TestSandbox, code: &Value) -> TestResult<(u16, Value)> {
    let device_code = code["device_code"].as_str().unwrap_or_default();
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "app"),
        ("device_code", device_code),
    ];
    post(sandbox, "/organizations/oauth2/v2.0/token", &form).await
}

async fn api_status(sandbox: &TestSandbox, token: &str) -> TestResult<u16> {
    let url = sandbox.referrals(None);
    let response = sandbox
        .client
        .request(Method::GET, &url)
        .bearer_auth(token)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn refresh(sandbox: &TestSandbox, token: &str) -> TestResult<(u16, Value)> {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "app"),
        ("refresh_token", token),
    ];
    post(sandbox, "/organizations/oauth2/v2.0/token", &form).await
}

fn options(options: SignInOptions) -> SandboxConfig {
    SandboxConfig {
        sign_in: options,
        ..SandboxConfig::default()
    }
}

#[tokio::test]
async fn a_device_code_is_pending_then_slowed_down_then_approved_by_its_user() -> TestResult {
    let sandbox = TestSandbox::with(SandboxConfig::default()).await?;
    let code = device_code(&sandbox).await?;
    assert!(
        code["verification_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/sandbox/device"))
    );
    assert_eq!(code["interval"], 1);
    let (status, pending) = poll(&sandbox, &code).await?;
    assert_eq!(
        (status, pending["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (_, slow) = poll(&sandbox, &code).await?;
    assert_eq!(slow["error"], "slow_down", "a poll within the interval");
    let user_code = code["user_code"].as_str().unwrap_or_default();
    let (status, _) = post(&sandbox, "/sandbox/device", &[("user_code", user_code)]).await?;
    assert_eq!(status, 204);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, tokens) = poll(&sandbox, &code).await?;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap_or_default();
    assert_eq!(api_status(&sandbox, access).await?, 200);
    let (_, again) = poll(&sandbox, &code).await?;
    assert_eq!(
        again["error"], "invalid_grant",
        "a device code is spent once"
    );
    Ok(())
}

#[tokio::test]
async fn a_declined_device_code_is_access_denied() -> TestResult {
    let sandbox = TestSandbox::with(SandboxConfig::default()).await?;
    let code = device_code(&sandbox).await?;
    let user_code = code["user_code"].as_str().unwrap_or_default();
    let form = [("user_code", user_code), ("action", "deny")];
    assert_eq!(post(&sandbox, "/sandbox/device", &form).await?.0, 204);
    let (status, denied) = poll(&sandbox, &code).await?;
    assert_eq!(
        (status, denied["error"].as_str()),
        (400, Some("access_denied"))
    );
    Ok(())
}

#[tokio::test]
async fn rotated_refresh_tokens_work_once_and_access_tokens_expire() -> TestResult {
    let sandbox = TestSandbox::with(SandboxConfig {
        token_lifetime: Duration::from_secs(1),
        ..options(SignInOptions {
            approve_device_codes: true,
            rotate_refresh_tokens: true,
            ..SignInOptions::default()
        })
    })
    .await?;
    let code = device_code(&sandbox).await?;
    let (status, tokens) = poll(&sandbox, &code).await?;
    assert_eq!(status, 200, "approved at the first poll: {tokens}");
    let first = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, renewed) = refresh(&sandbox, &first).await?;
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["refresh_token"].as_str(), Some(first.as_str()));
    let (status, spent) = refresh(&sandbox, &first).await?;
    assert_eq!(
        (status, spent["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let access = renewed["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(api_status(&sandbox, &access).await?, 401, "an expired JWT");
    Ok(())
}

#[tokio::test]
async fn the_password_grant_is_refused_under_mfa_enforcement() -> TestResult {
    let form = [
        ("grant_type", "password"),
        ("client_id", "app"),
        ("username", "admin@partner.example"),
        ("password", "pw"),
    ];
    let strict = TestSandbox::with(options(SignInOptions {
        require_mfa: true,
        ..SignInOptions::default()
    }))
    .await?;
    let (status, refused) = post(&strict, "/organizations/oauth2/v2.0/token", &form).await?;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("interaction_required"))
    );
    assert!(
        refused["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("AADSTS50076"))
    );
    let lax = TestSandbox::with(SandboxConfig::default()).await?;
    let (status, issued) = post(&lax, "/organizations/oauth2/v2.0/token", &form).await?;
    assert_eq!(status, 200, "{issued}");
    Ok(())
}

#[tokio::test]
async fn app_only_tokens_need_a_default_scope_and_the_api_refuses_them() -> TestResult {
    let sandbox = TestSandbox::with(SandboxConfig::default()).await?;
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", "app"),
        ("client_secret", "s"),
    ];
    let (status, refused) = post(&sandbox, "/organizations/oauth2/v2.0/token", &form).await?;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    form.push(("scope", "https://api.partner.microsoft.com/.default"));
    let (status, issued) = post(&sandbox, "/organizations/oauth2/v2.0/token", &form).await?;
    assert_eq!(status, 200, "{issued}");
    assert!(issued.get("refresh_token").is_none());
    let access = issued["access_token"].as_str().unwrap_or_default();
    let url = sandbox.referrals(None);
    let answer = sandbox.client.get(&url).bearer_auth(access).send().await?;
    assert_eq!(answer.status().as_u16(), 401);
    let body: Value = answer.json().await?;
    assert!(body.to_string().contains("App+User"), "{body}");
    Ok(())
}
