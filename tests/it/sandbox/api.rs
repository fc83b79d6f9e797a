//! The Referrals API of the sandbox over real HTTP: create, get, list and paging, the shared
//! two-step flow, PATCH and PUT.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::sandbox::{TestResult, TestSandbox, referral_with_external_id, seed_request};

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[tokio::test]
async fn create_fills_server_fields_like_the_docs_example() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let response = sandbox
        .request(Method::POST, &sandbox.referrals(None))
        .header("MS-CorrelationId", "corr-1")
        .header("client-request-id", "client-1")
        .json(&seed_request()?)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 201);
    let headers = response.headers().clone();
    assert_eq!(headers["ms-correlationid"], "corr-1");
    assert_eq!(headers["client-request-id"], "client-1");
    assert!(headers.contains_key("request-id"));
    let body: Value = response.json().await?;
    assert_eq!(body["status"], "Active");
    assert_eq!(body["substatus"], "Accepted");
    assert_eq!(body["direction"], "Outgoing");
    assert_eq!(body["name"], "Test Cosell Invite_20");
    for field in ["id", "engagementId", "organizationId", "organizationName"] {
        assert!(!text(&body[field]).is_empty(), "{field} missing");
    }
    let etag = text(&body["eTag"]);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(headers["etag"], etag);
    assert_eq!(body["createdDateTime"], body["updatedDateTime"]);
    let id = text(&body["id"]);
    assert_eq!(
        text(&body["links"]["self"]["uri"]),
        sandbox.referrals(Some(id))
    );
    let related = text(&body["links"]["relatedReferrals"]["uri"]);
    assert!(related.contains(text(&body["engagementId"])), "{related}");

    let (status, fetched) = sandbox.get_json(&sandbox.referrals(Some(id))).await?;
    assert_eq!(status, 200);
    assert_eq!(fetched["eTag"], body["eTag"]);
    assert_eq!(fetched["details"], body["details"]);
    assert!(text(&fetched["@odata.context"]).ends_with("$entity"));
    Ok(())
}

#[tokio::test]
async fn unknown_referrals_and_routes_answer_with_the_envelope() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let (status, body) = sandbox.get_json(&sandbox.referrals(Some("nope"))).await?;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "itemNotFound");
    let (status, body) = sandbox.get_json(&sandbox.url("/v2/elsewhere")).await?;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "itemNotFound");
    let response = sandbox
        .request(Method::DELETE, &sandbox.referrals(Some("x")))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "invalidRequest");
    Ok(())
}

#[tokio::test]
async fn a_connected_microsoft_referral_joins_the_engagement() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let mut shared = referral_with_external_id("OPP-1")?;
    shared["target"] = json!([{"type": "SolutionProfile", "id": "SOL-ABC-DEF"}]);
    let first = sandbox.create_ok(&shared).await?;
    let engagement = text(&first["engagementId"]).to_string();

    let mut connected = referral_with_external_id("OPP-1")?;
    connected["engagementId"] = json!(engagement);
    connected["target"] = json!([{"type": "BusinessProfileLocation", "id": "msft"}]);
    let second = sandbox.create_ok(&connected).await?;
    assert_eq!(second["engagementId"], first["engagementId"]);
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["target"][0]["id"], "msft");
    assert_eq!(second["organizationId"], "msft");
    assert_eq!(second["direction"], "Incoming");
    assert_eq!(second["status"], "New");
    assert!(text(&second["expirationDateTime"]) > text(&second["createdDateTime"]));
    assert_eq!(first["direction"], "Outgoing");
    assert_eq!(first["status"], "Active");

    for referral in [&first, &second] {
        let related = text(&referral["links"]["relatedReferrals"]["uri"]);
        let (status, page) = sandbox.get_json(related).await?;
        assert_eq!(status, 200, "{page}");
        let mut ids: Vec<&str> = page["value"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| text(&r["id"]))
            .collect();
        ids.sort_unstable();
        let mut expected = vec![text(&first["id"]), text(&second["id"])];
        expected.sort_unstable();
        assert_eq!(ids, expected);
    }
    assert_eq!(sandbox.stats().await?["duplicate_external_ids"], 0);

    connected["engagementId"] = json!("00000000-0000-0000-0000-000000000000");
    let response = sandbox.create(&connected).await?;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["target"], "engagementId");
    Ok(())
}

/// Follow `@odata.nextLink` from `url`; every referral id, and the page sizes.
async fn walk(sandbox: &TestSandbox, url: &str) -> TestResult<(Vec<String>, Vec<usize>)> {
    let mut next = Some(url.to_string());
    let (mut ids, mut sizes) = (Vec::new(), Vec::new());
    while let Some(url) = next.take() {
        let (status, page) = sandbox.get_json(&url).await?;
        assert_eq!(status, 200, "{page}");
        let value = page["value"].as_array().cloned().unwrap_or_default();
        sizes.push(value.len());
        ids.extend(value.iter().map(|r| text(&r["id"]).to_string()));
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    Ok((ids, sizes))
}

#[tokio::test]
async fn lists_page_by_100_with_next_links() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    for n in 0..250 {
        sandbox
            .create_ok(&referral_with_external_id(&format!("EXT-{n}"))?)
            .await?;
    }
    let root = sandbox.referrals(None);
    let (status, first) = sandbox.get_json(&format!("{root}?$count=true")).await?;
    assert_eq!(status, 200);
    assert_eq!(first["@odata.count"], 250);
    let (ids, sizes) = walk(&sandbox, &root).await?;
    assert_eq!(sizes, [100, 100, 50]);
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 250, "pages overlap");

    let (_, sizes) = walk(&sandbox, &format!("{root}?$top=150")).await?;
    assert_eq!(sizes, [100, 50]);
    let desc = format!("{root}?$orderby=createdDateTime desc&$top=1");
    let (_, page) = sandbox.get_json(&desc).await?;
    assert_eq!(page["value"][0]["id"], json!(ids.last()));
    let (_, page) = sandbox
        .get_json(&format!("{root}?$filter=externalReferenceId eq 'EXT-7'"))
        .await?;
    assert_eq!(page["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["value"][0]["externalReferenceId"], "EXT-7");
    let select = format!("{root}?$select=id,status&$skip=240");
    let (_, page) = sandbox.get_json(&select).await?;
    assert_eq!(page["value"].as_array().map(Vec::len), Some(10));
    let keys: Vec<&String> = page["value"][0]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["id", "status"]);
    assert_eq!(page["value"][9]["id"], json!(ids.last()));
    let filter = "(status eq 'Active' and direction eq 'Incoming')";
    let (_, page) = sandbox
        .get_json(&format!("{root}?$filter={filter}"))
        .await?;
    assert_eq!(page["value"], json!([]));
    for bad in [
        "$filter=status ne 'Active'",
        "$filter=team/any(t:t/email eq 'a@b.c')",
        "$filter=status eq 'Active' or type eq 'Shared'",
        "$orderby=name",
        "$expand=team",
        "$skiptoken=junk",
    ] {
        let (status, body) = sandbox.get_json(&format!("{root}?{bad}")).await?;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalidRequest");
    }
    Ok(())
}

#[tokio::test]
async fn patch_applies_add_and_replace_with_etags() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let url = sandbox.referrals(Some(text(&created["id"])));
    let patch = json!([
        {"op": "replace", "path": "/details/dealValue", "value": "10000"},
        {"op": "replace", "path": "/details/notes", "value": "Lorem ipsum dolor sit amet."},
        {"op": "add", "path": "/team/-", "value": {"email": "jane.doe@contoso.com",
            "firstName": "Jane", "lastName": "Doe", "phoneNumber": "0000000001"}},
    ]);
    let response = sandbox
        .request(Method::PATCH, &url)
        .header("If-Match", text(&created["eTag"]))
        .json(&patch)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 204);
    let (_, after) = sandbox.get_json(&url).await?;
    assert_eq!(after["details"]["dealValue"], 10000);
    assert_eq!(after["team"].as_array().map(Vec::len), Some(2));
    assert_ne!(after["eTag"], created["eTag"]);
    assert!(text(&after["updatedDateTime"]) > text(&created["updatedDateTime"]));

    let stale = sandbox
        .request(Method::PATCH, &url)
        .header("If-Match", text(&created["eTag"]))
        .json(&json!([{"op": "replace", "path": "/details/notes", "value": "x"}]))
        .send()
        .await?;
    assert_eq!(stale.status().as_u16(), 412);
    let body: Value = stale.json().await?;
    assert_eq!(body["error"]["code"], "preconditionFailed");

    let represented = sandbox
        .request(Method::PATCH, &url)
        .header("Prefer", "return=representation")
        .json(&json!([{"op": "replace", "path": "/statusReason", "value": "Renamed"}]))
        .send()
        .await?;
    assert_eq!(represented.status().as_u16(), 200);
    let body: Value = represented.json().await?;
    assert_eq!(body["statusReason"], "Renamed");
    assert_ne!(body["eTag"], after["eTag"]);

    for bad in [
        json!([{"op": "remove", "path": "/name"}]),
        json!([{"op": "replace", "path": "/id", "value": "x"}]),
        json!([{"op": "replace", "path": "/nothing/here", "value": 1}]),
        json!({"op": "replace"}),
    ] {
        let response = sandbox
            .request(Method::PATCH, &url)
            .json(&bad)
            .send()
            .await?;
        assert_eq!(response.status().as_u16(), 400, "{bad}");
    }
    assert_eq!(sandbox.stats().await?["updated"], 2);
    Ok(())
}

#[tokio::test]
async fn status_transitions_follow_the_table() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let url = sandbox.referrals(Some(text(&created["id"])));
    let close = json!([
        {"op": "replace", "path": "/status", "value": "Closed"},
        {"op": "replace", "path": "/substatus", "value": "Won"},
    ]);
    let response = sandbox
        .request(Method::PATCH, &url)
        .json(&close)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 204);
    let (_, closed) = sandbox.get_json(&url).await?;
    assert_eq!(closed["status"], "Closed");
    assert!(closed["closedDateTime"].is_string());
    let reopen = json!([
        {"op": "replace", "path": "/status", "value": "Active"},
        {"op": "replace", "path": "/substatus", "value": "Accepted"},
    ]);
    let response = sandbox
        .request(Method::PATCH, &url)
        .json(&reopen)
        .send()
        .await?;
    // A Closed referral takes no change at all (see contract.rs): 409, naming the status.
    assert_eq!(response.status().as_u16(), 409);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "invalidRequest");
    assert_eq!(body["error"]["target"], "status");
    Ok(())
}

#[tokio::test]
async fn put_replaces_the_whole_referral_under_if_match() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let url = sandbox.referrals(Some(text(&created["id"])));
    let mut body = created.clone();
    body["externalReferenceId"] = json!("lead-42");

    let response = sandbox
        .request(Method::PUT, &url)
        .json(&body)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 428);
    let stale = sandbox
        .request(Method::PUT, &url)
        .header("If-Match", "\"stale\"")
        .json(&body)
        .send()
        .await?;
    assert_eq!(stale.status().as_u16(), 412);

    let response = sandbox
        .request(Method::PUT, &url)
        .header("If-Match", text(&created["eTag"]))
        .json(&body)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    let updated: Value = response.json().await?;
    assert_eq!(updated["externalReferenceId"], "lead-42");
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(updated["createdDateTime"], created["createdDateTime"]);
    assert_ne!(updated["eTag"], created["eTag"]);
    Ok(())
}

#[tokio::test]
async fn admin_routes_delete_and_reset_without_auth() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let id = text(&created["id"]);
    let delete = sandbox.url(&format!("/sandbox/referrals/{id}"));
    let response = sandbox.client.delete(&delete).send().await?;
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(sandbox.get_json(&sandbox.referrals(Some(id))).await?.0, 404);
    assert_eq!(
        sandbox
            .client
            .delete(&delete)
            .send()
            .await?
            .status()
            .as_u16(),
        404
    );

    sandbox.create_ok(&seed_request()?).await?;
    let reset = sandbox
        .client
        .post(sandbox.url("/sandbox/reset"))
        .send()
        .await?;
    assert_eq!(reset.status().as_u16(), 204);
    let stats = sandbox.stats().await?;
    assert_eq!(stats["referrals"], 0);
    assert_eq!(stats["created"], 0);
    Ok(())
}

#[tokio::test]
async fn an_invalid_create_names_every_bad_field() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let mut body = seed_request()?;
    body["type"] = json!("Bogus");
    body["customerProfile"]["address"]["country"] = json!("Atlantis");
    if let Some(map) = body.as_object_mut() {
        map.remove("consent");
    }
    let response = sandbox.create(&body).await?;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "invalidRequest");
    let target = text(&body["error"]["target"]);
    for path in ["type", "customerProfile.address.country", "consent"] {
        assert!(
            target.split(", ").any(|t| t == path),
            "{path} not in {target}"
        );
    }
    assert_eq!(sandbox.stats().await?["referrals"], 0);
    Ok(())
}
