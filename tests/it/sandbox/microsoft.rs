//! The sandbox plays Microsoft (issue 12, item 6): referrals Microsoft shares with the
//! partner, the partner's accept and decline, the sandbox clock and expiry, and Microsoft's
//! seller acting on a co-sell engagement (`microsoft_seller`), all over real HTTP.

use referral_sync::sandbox::{PARTNER_ORG_ID, SandboxConfig};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::sandbox::{
    TestResult, TestSandbox, referral_with_external_id, seed_request, status_and_json,
};

const TOKEN: &str = "microsoft-test-token";

/// A sandbox whose admin routes need `TOKEN`.
pub(super) async fn sandbox() -> TestResult<TestSandbox> {
    sandbox_with(SandboxConfig::default()).await
}

async fn sandbox_with(config: SandboxConfig) -> TestResult<TestSandbox> {
    TestSandbox::with(SandboxConfig {
        token: Some(TOKEN.into()),
        ..config
    })
    .await
}

/// One request: the status and the JSON body (`Null` when empty).
pub(super) struct Call<'a> {
    sandbox: &'a TestSandbox,
    method: Method,
    url: String,
    actor: Option<&'a str>,
    if_match: Option<String>,
}

impl<'a> Call<'a> {
    pub(super) fn new(sandbox: &'a TestSandbox, method: Method, url: String) -> Self {
        Call {
            sandbox,
            method,
            url,
            actor: None,
            if_match: None,
        }
    }

    pub(super) fn actor(mut self, actor: &'a str) -> Self {
        self.actor = Some(actor);
        self
    }

    pub(super) fn if_match(mut self, etag: &Value) -> Self {
        self.if_match = etag.as_str().map(str::to_owned);
        self
    }

    pub(super) async fn send(self, body: Option<&Value>) -> TestResult<(u16, Value)> {
        let mut request = self
            .sandbox
            .request(self.method, &self.url)
            .header("Prefer", "return=representation");
        if let Some(actor) = self.actor {
            request = request.header("X-Sandbox-Actor", actor);
        }
        if let Some(etag) = self.if_match {
            request = request.header("If-Match", etag);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        status_and_json(request.send().await?).await
    }
}

/// A referral Microsoft shares with the partner; its body.
pub(super) async fn shared_by_microsoft(
    sandbox: &TestSandbox,
    external_id: &str,
) -> TestResult<Value> {
    let body = referral_with_external_id(external_id)?;
    let (status, created) = Call::new(sandbox, Method::POST, sandbox.referrals(None))
        .actor("microsoft")
        .send(Some(&body))
        .await?;
    if status != 201 {
        return Err(format!("Microsoft's create answered {status}: {created}").into());
    }
    Ok(created)
}

/// `POST /sandbox/advance` with `body`, with the admin token.
async fn advance(sandbox: &TestSandbox, body: Value) -> TestResult<(u16, Value)> {
    let response = sandbox
        .client
        .post(sandbox.url("/sandbox/advance"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

pub(super) async fn get(sandbox: &TestSandbox, id: &Value) -> TestResult<Value> {
    let (status, body) = sandbox
        .get_json(&sandbox.referrals(Some(id.as_str().unwrap_or_default())))
        .await?;
    assert_eq!(status, 200, "{body}");
    Ok(body)
}

/// A JSON Patch setting status and substatus (and the reason when given).
pub(super) fn status_patch(status: &str, substatus: &str, reason: Option<&str>) -> Value {
    let mut ops = vec![
        json!({"op": "replace", "path": "/status", "value": status}),
        json!({"op": "replace", "path": "/substatus", "value": substatus}),
    ];
    if let Some(reason) = reason {
        ops.push(json!({"op": "replace", "path": "/statusReason", "value": reason}));
    }
    Value::Array(ops)
}

pub(super) fn patch_url(sandbox: &TestSandbox, referral: &Value) -> String {
    sandbox.referrals(Some(referral["id"].as_str().unwrap_or_default()))
}

fn parse_time(value: &Value) -> TestResult<jiff::Timestamp> {
    Ok(value.as_str().ok_or("not a time")?.parse()?)
}

#[tokio::test]
async fn issue_12_microsoft_shares_an_incoming_referral_that_the_partner_lists() -> TestResult {
    let sandbox = sandbox().await?;
    let ours = sandbox
        .create_ok(&referral_with_external_id("CRM-1")?)
        .await?;
    let shared = shared_by_microsoft(&sandbox, "CRM-1").await?;
    assert_eq!(shared["direction"], "Incoming");
    assert_eq!(shared["status"], "New");
    assert_eq!(shared["substatus"], "Pending");
    assert_eq!(shared["organizationId"], PARTNER_ORG_ID);
    assert_eq!(
        shared["inviteContext"]["invitedBy"]["organizationId"],
        "msft"
    );
    assert_ne!(shared["engagementId"], ours["engagementId"]);
    let created = parse_time(&shared["createdDateTime"])?;
    let expires = parse_time(&shared["expirationDateTime"])?;
    assert_eq!(expires.duration_since(created).as_hours(), 14 * 24);

    let (status, page) = sandbox
        .get_json(&sandbox.url(
            "/v1.0/engagements/referrals?$filter=direction eq 'Incoming' and substatus eq 'Pending'",
        ))
        .await?;
    assert_eq!(status, 200);
    assert_eq!(page["value"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["value"][0]["id"], shared["id"]);
    let stats = sandbox.stats().await?;
    assert_eq!(stats["referrals"], 2);
    assert_eq!(
        stats["duplicate_external_ids"], 0,
        "an inbound referral is not ours"
    );
    Ok(())
}

#[tokio::test]
async fn issue_12_microsoft_creates_are_validated_and_other_actors_refused() -> TestResult {
    let sandbox = sandbox().await?;
    let mut invalid = seed_request()?;
    invalid.as_object_mut().map(|m| m.remove("customerProfile"));
    let url = sandbox.referrals(None);
    let (status, body) = Call::new(&sandbox, Method::POST, url.clone())
        .actor("microsoft")
        .send(Some(&invalid))
        .await?;
    assert_eq!(status, 400);
    assert!(
        body["error"]["target"]
            .as_str()
            .unwrap_or_default()
            .contains("customerProfile")
    );
    let mut connected = seed_request()?;
    connected["engagementId"] = json!("8d4c7a5e-0000-0000-0000-000000000000");
    let (status, body) = Call::new(&sandbox, Method::POST, url.clone())
        .actor("Microsoft")
        .send(Some(&connected))
        .await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["target"], "engagementId");
    for actor in ["partner", "msft", ""] {
        let (status, body) = Call::new(&sandbox, Method::POST, url.clone())
            .actor(actor)
            .send(Some(&seed_request()?))
            .await?;
        assert_eq!(status, 400, "{actor}: {body}");
        assert_eq!(body["error"]["target"], "X-Sandbox-Actor");
    }
    let (status, _) = Call::new(&sandbox, Method::GET, url)
        .actor("microsoft")
        .send(None)
        .await?;
    assert_eq!(
        status, 400,
        "Microsoft does not list the partner's referrals"
    );
    assert_eq!(sandbox.stats().await?["referrals"], 0);
    Ok(())
}

#[tokio::test]
async fn issue_12_the_partner_accepts_and_declines_with_if_match_and_only_once() -> TestResult {
    let sandbox = sandbox().await?;
    let accept = shared_by_microsoft(&sandbox, "IN-1").await?;
    let decline = shared_by_microsoft(&sandbox, "IN-2").await?;
    let accepting = status_patch("Active", "Accepted", None);
    let (status, _) = Call::new(&sandbox, Method::PATCH, patch_url(&sandbox, &accept))
        .if_match(&json!("\"stale\""))
        .send(Some(&accepting))
        .await?;
    assert_eq!(status, 412);
    let (status, accepted) = Call::new(&sandbox, Method::PATCH, patch_url(&sandbox, &accept))
        .if_match(&accept["eTag"])
        .send(Some(&accepting))
        .await?;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        (&accepted["status"], &accepted["substatus"]),
        (&json!("Active"), &json!("Accepted"))
    );
    assert_eq!(accepted["acceptedDateTime"], accepted["updatedDateTime"]);
    assert_ne!(accepted["eTag"], accept["eTag"]);
    assert!(accepted["updatedDateTime"].as_str() > accept["updatedDateTime"].as_str());

    let declining = status_patch("Closed", "Declined", Some("Not our region"));
    let (status, declined) = Call::new(&sandbox, Method::PATCH, patch_url(&sandbox, &decline))
        .if_match(&decline["eTag"])
        .send(Some(&declining))
        .await?;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["substatus"], "Declined");
    assert_eq!(declined["statusReason"], "Not our region");
    assert_eq!(declined["closedDateTime"], declined["updatedDateTime"]);
    // Once closed, no answer changes it, whatever the eTag: a clear 409, not a 412.
    for etag in [&decline["eTag"], &declined["eTag"]] {
        let (status, body) = Call::new(&sandbox, Method::PATCH, patch_url(&sandbox, &decline))
            .if_match(etag)
            .send(Some(&accepting))
            .await?;
        assert_eq!(status, 409, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("Closed/Declined"), "{message}");
    }
    assert_eq!(
        get(&sandbox, &decline["id"]).await?["eTag"],
        declined["eTag"]
    );
    Ok(())
}

#[tokio::test]
async fn issue_12_advancing_the_clock_expires_unanswered_referrals_after_14_days() -> TestResult {
    let sandbox = sandbox().await?;
    let waiting = shared_by_microsoft(&sandbox, "IN-3").await?;
    let unauthorized = sandbox
        .client
        .post(sandbox.url("/sandbox/advance"))
        .bearer_auth("wrong")
        .json(&json!({"days": 20}))
        .send()
        .await?;
    assert_eq!(unauthorized.status().as_u16(), 401);
    for bad in [
        json!({"days": -1}),
        json!({"weeks": 2}),
        json!({"days": 1, "hours": 1}),
    ] {
        assert_eq!(advance(&sandbox, bad.clone()).await?.0, 400, "{bad}");
    }
    let (status, moved) = advance(&sandbox, json!({"days": 13})).await?;
    assert_eq!((status, &moved["expired"]), (200, &json!(0)), "{moved}");
    let later = sandbox.create_ok(&seed_request()?).await?;
    let gap = parse_time(&later["createdDateTime"])?
        .duration_since(parse_time(&waiting["createdDateTime"])?);
    assert_eq!(
        gap.as_hours() / 24,
        13,
        "new stamps follow the sandbox clock"
    );
    assert_eq!(get(&sandbox, &waiting["id"]).await?["status"], "New");

    let (_, moved) = advance(&sandbox, json!({"hours": 25})).await?;
    assert_eq!(moved["expired"], 1, "{moved}");
    let expired = get(&sandbox, &waiting["id"]).await?;
    assert_eq!(
        (&expired["status"], &expired["substatus"]),
        (&json!("Closed"), &json!("Expired"))
    );
    assert_ne!(expired["eTag"], waiting["eTag"]);
    assert_eq!(expired["closedDateTime"], waiting["expirationDateTime"]);
    // Changed after everything served before: a "changed since" listing finds it.
    assert!(expired["updatedDateTime"].as_str() > later["updatedDateTime"].as_str());
    let since = later["updatedDateTime"].as_str().unwrap_or_default();
    let (_, page) = sandbox
        .get_json(&sandbox.url(&format!(
            "/v1.0/engagements/referrals?$filter=updatedDateTime gt '{since}'&$orderby=updatedDateTime asc"
        )))
        .await?;
    assert_eq!(page["value"][0]["id"], waiting["id"], "{page}");
    let (status, body) = Call::new(&sandbox, Method::PATCH, patch_url(&sandbox, &waiting))
        .if_match(&waiting["eTag"])
        .send(Some(&status_patch("Active", "Accepted", None)))
        .await?;
    assert_eq!(status, 409, "accepting an expired referral: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Expired")
    );
    Ok(())
}

#[tokio::test]
async fn issue_12_the_sandbox_clock_survives_a_restart_with_a_state_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = SandboxConfig {
        state: Some(dir.path().join("sandbox.db")),
        ..SandboxConfig::default()
    };
    let first = sandbox_with(config.clone()).await?;
    let before = first.create_ok(&seed_request()?).await?;
    assert_eq!(advance(&first, json!({"days": 30})).await?.0, 200);
    first.running.shutdown().await;
    let second = sandbox_with(config).await?;
    let after = second.create_ok(&seed_request()?).await?;
    let gap = parse_time(&after["createdDateTime"])?
        .duration_since(parse_time(&before["createdDateTime"])?);
    assert_eq!(gap.as_hours() / 24, 30);
    Ok(())
}
