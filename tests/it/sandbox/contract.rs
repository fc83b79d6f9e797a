//! The sandbox held to Microsoft's contract (the swagger of the Partner Center Referrals
//! connector): typed properties on create, PUT and PATCH, server-owned properties ignored,
//! JSON Patch limited to valid pointers and the patchable paths, and no change at all to a
//! referral in a terminal state. The property table itself is checked against the swagger
//! when `../shared` is present.

use reqwest::Method;
use serde_json::{Value, json};

use referral_sync::referral::contract::{Owner, PATCHABLE, Type, property};

use crate::common::sandbox::{TestResult, TestSandbox, seed_request};

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The paths a 400 names, from its `target`.
fn targets(body: &Value) -> Vec<String> {
    let mut paths: Vec<String> = text(&body["error"]["target"])
        .split(", ")
        .map(str::to_owned)
        .collect();
    paths.sort();
    paths
}

async fn patch(sandbox: &TestSandbox, id: &str, ops: Value) -> TestResult<(u16, Value)> {
    let response = sandbox
        .request(Method::PATCH, &sandbox.referrals(Some(id)))
        .json(&ops)
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

#[tokio::test]
async fn a_create_with_wrongly_typed_contract_properties_is_refused_naming_each() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let mut body = seed_request()?;
    body["favorite"] = json!("notbool");
    body["campaignId"] = json!(12345);
    body["salesStage"] = json!("Won");
    body["details"]["customerRequestedContact"] = json!("maybe");
    body["details"]["requirements"]["offers"] = json!("notarray");
    body["inviteContext"] = json!({"assistanceRequestCode": "PleaseHelp"});
    let response = sandbox.create(&body).await?;
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().await?;
    assert_eq!(answer["error"]["code"], "invalidRequest");
    assert_eq!(
        targets(&answer),
        [
            "campaignId",
            "details.customerRequestedContact",
            "details.requirements.offers",
            "favorite",
            "inviteContext.assistanceRequestCode",
            "salesStage",
        ]
    );
    assert!(text(&answer["error"]["message"]).contains("favorite: expected a boolean"));
    assert_eq!(sandbox.stats().await?["created"], 0);
    Ok(())
}

#[tokio::test]
async fn server_owned_properties_sent_on_create_are_ignored() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let mut body = seed_request()?;
    body["registrations"] = json!("notarray");
    body["isSpam"] = json!("yes");
    body["quality"] = json!(3);
    body["tags"] = json!(["vip"]);
    body["trackingInfo"] = json!({"microsoftMsxId": "7-ABC"});
    body["closedDateTime"] = json!("yesterday");
    body["favorite"] = json!("true");
    body["campaignId"] = json!("CAMP-1");
    let created = sandbox.create_ok(&body).await?;
    for field in ["registrations", "isSpam", "quality", "tags", "trackingInfo"] {
        assert!(created.get(field).is_none(), "{field} kept: {created}");
    }
    assert!(created["closedDateTime"].is_null());
    assert_eq!(created["favorite"], json!(true));
    assert_eq!(created["campaignId"], "CAMP-1");
    Ok(())
}

#[tokio::test]
async fn patch_refuses_bad_pointers_unpatchable_paths_and_missing_parents() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let id = text(&created["id"]);
    let refused = [
        ("/~2", "[0].path"),
        ("details/notes", "[0].path"),
        ("/name", "[0].path"),
        ("/customerProfile/address/city", "[0].path"),
        ("/inviteContext/notes", "[0].path"),
        ("/team/0", "[0].path"),
        ("/registrations/-", "[0].path"),
        ("/engagementId", "[0].path"),
    ];
    for (pointer, target) in refused {
        let ops = json!([{"op": "replace", "path": pointer, "value": "x"}]);
        let (status, body) = patch(&sandbox, id, ops).await?;
        assert_eq!(status, 400, "{pointer}: {body}");
        assert_eq!(body["error"]["target"], target, "{pointer}");
    }
    let (status, body) = patch(
        &sandbox,
        id,
        json!([{"op": "add", "path": "/name", "value": "x"}]),
    )
    .await?;
    assert_eq!(status, 400);
    assert!(text(&body["error"]["message"]).contains("/name"), "{body}");
    // The seed's deal has no requirements: appending to their solutions has no parent.
    let mut bare = seed_request()?;
    if let Some(details) = bare["details"].as_object_mut() {
        details.remove("requirements");
    }
    let bare = sandbox.create_ok(&bare).await?;
    let solution = json!({"id": "SOL-1", "type": "Name"});
    let ops =
        json!([{"op": "add", "path": "/details/requirements/solutions/-", "value": solution}]);
    let (status, body) = patch(&sandbox, text(&bare["id"]), ops).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["target"], "/details/requirements/solutions/-");
    assert_eq!(sandbox.stats().await?["updated"], 0);
    Ok(())
}

#[tokio::test]
async fn patched_values_are_held_to_the_contract_s_types() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let id = text(&created["id"]);
    for (pointer, value, target) in [
        ("/campaignId", json!(12345), "campaignId"),
        ("/salesStage", json!("Won"), "salesStage"),
        (
            "/consent/consentToShareReferralWithMicrosoftSellers",
            json!("no"),
            "consent.consentToShareReferralWithMicrosoftSellers",
        ),
        (
            "/details/closingDateTime",
            json!("soon"),
            "details.closingDateTime",
        ),
    ] {
        let ops = json!([{"op": "replace", "path": pointer, "value": value}]);
        let (status, body) = patch(&sandbox, id, ops).await?;
        assert_eq!(status, 400, "{pointer}: {body}");
        assert_eq!(body["error"]["target"], target, "{pointer}");
    }
    // Canonical spelling, coerced values, every patchable member of the contract.
    let ops = json!([
        {"op": "replace", "path": "/CampaignId", "value": "CAMP-2"},
        {"op": "add", "path": "/salesStage", "value": "Develop"},
        {"op": "add", "path": "/referralProgram", "value": "Azure IP co-sell"},
        {"op": "replace", "path": "/consent/consentToShareReferralWithMicrosoftSellers", "value": "false"},
    ]);
    let (status, body) = patch(&sandbox, id, ops).await?;
    assert_eq!(status, 204, "{body}");
    let (_, after) = sandbox.get_json(&sandbox.referrals(Some(id))).await?;
    assert_eq!(after["campaignId"], "CAMP-2");
    assert_eq!(after["salesStage"], "Develop");
    assert_eq!(
        after["consent"]["consentToShareReferralWithMicrosoftSellers"],
        false
    );
    assert!(after.get("CampaignId").is_none());
    Ok(())
}

#[tokio::test]
async fn a_referral_in_a_terminal_state_takes_no_patch_and_no_put() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let id = text(&created["id"]);
    let close = json!([
        {"op": "replace", "path": "/status", "value": "Closed"},
        {"op": "replace", "path": "/substatus", "value": "Won"},
    ]);
    assert_eq!(patch(&sandbox, id, close.clone()).await?.0, 204);
    let notes = json!([{"op": "replace", "path": "/details/notes", "value": "after"}]);
    let (status, body) = patch(&sandbox, id, notes).await?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["target"], "status");
    assert!(
        text(&body["error"]["message"]).contains("Closed/Won"),
        "{body}"
    );
    assert_eq!(patch(&sandbox, id, close).await?.0, 409);
    let url = sandbox.referrals(Some(id));
    let (_, closed) = sandbox.get_json(&url).await?;
    let mut body = closed.clone();
    body["details"]["notes"] = json!("put after close");
    let response = sandbox
        .request(Method::PUT, &url)
        .header("If-Match", text(&closed["eTag"]))
        .json(&body)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 409);
    let (_, after) = sandbox.get_json(&url).await?;
    assert_eq!(after["eTag"], closed["eTag"]);
    Ok(())
}

#[tokio::test]
async fn put_checks_types_and_keeps_the_server_s_own_fields() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let created = sandbox.create_ok(&seed_request()?).await?;
    let url = sandbox.referrals(Some(text(&created["id"])));
    let mut body = created.clone();
    body["favorite"] = json!("notbool");
    let put = |body: Value, etag: String| {
        sandbox
            .request(Method::PUT, &url)
            .header("If-Match", etag)
            .json(&body)
            .send()
    };
    let response = put(body.clone(), text(&created["eTag"]).to_owned()).await?;
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().await?;
    assert_eq!(answer["error"]["target"], "favorite");
    body["favorite"] = json!(false);
    body["isSpam"] = json!(true);
    body["createdDateTime"] = json!("2001-01-01T00:00:00Z");
    body["name"] = json!("Renamed by PUT");
    let response = put(body, text(&created["eTag"]).to_owned()).await?;
    assert_eq!(response.status().as_u16(), 200);
    let after: Value = response.json().await?;
    assert_eq!(after["name"], "Renamed by PUT");
    assert_eq!(after["createdDateTime"], created["createdDateTime"]);
    assert!(after.get("isSpam").is_none());
    Ok(())
}

/// The table in `referral::contract` says what the swagger says: the same properties with the
/// same types, `readOnly` ones server-owned, and the patchable paths of
/// `UpdateReferralDetails`.
#[test]
fn the_contract_table_matches_the_swagger() -> TestResult {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/spec/partner-center-referrals.swagger.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: ../shared not present");
        return Ok(());
    };
    let swagger: Value = serde_json::from_str(&text)?;
    let prefix = "Microsoft.Partner.Service.PartnerReferrals.Contracts.V3.";
    let referral = &swagger["definitions"][format!("{prefix}Referral")];
    let mut checked = 0;
    check_properties(referral, "", &mut checked)?;
    assert!(checked > 90, "only {checked} properties checked");
    let update = &swagger["definitions"][format!("{prefix}UpdateReferralDetails")];
    let mut paths: Vec<&str> = update["items"]["properties"]["path"]["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    paths.sort_unstable();
    let mut ours = PATCHABLE.to_vec();
    ours.sort_unstable();
    assert_eq!(ours, paths);
    Ok(())
}

fn check_properties(schema: &Value, base: &str, checked: &mut usize) -> TestResult {
    let Some(members) = schema["properties"].as_object() else {
        return Ok(());
    };
    for (name, member) in members {
        let path = if base.is_empty() {
            name.clone()
        } else {
            format!("{base}/{name}")
        };
        let ours = property(&path).ok_or_else(|| format!("{path} is not in the table"))?;
        *checked += 1;
        if ours.owner == Owner::Server {
            continue;
        }
        assert_ne!(
            member["readOnly"], true,
            "{path} is read-only in the swagger"
        );
        let expected = match member["type"].as_str() {
            Some("string") if name.ends_with("DateTime") => Type::DateTime,
            Some("string") => Type::Text,
            Some("boolean") => Type::Boolean,
            Some("number") => Type::Number,
            Some("array") => Type::Array,
            Some("object") => Type::Object,
            _ if member.get("properties").is_some() => Type::Object,
            _ => Type::Any,
        };
        assert_eq!(ours.kind, expected, "{path}");
        let values: Vec<&str> = member["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(ours.values, values.as_slice(), "{path}");
        check_properties(member, &path, checked)?;
        // `additionalRequirements` is an object with `items` in the swagger: only arrays have
        // elements.
        if expected == Type::Array && member.get("items").is_some() {
            let items = format!("{path}/[]");
            property(&items).ok_or_else(|| format!("{items} is not in the table"))?;
            *checked += 1;
            check_properties(&member["items"], &items, checked)?;
        }
    }
    Ok(())
}
