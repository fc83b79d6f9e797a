//! A co-sell engagement pulled: one row per CRM record, the partner's referral carrying the
//! connected Microsoft referral's status, changes and Microsoft's CRM id; when Microsoft's seller accepts, sets the CRM id
//! and closes the engagement Won, the next pulls deliver exactly those changes, and the
//! connected referral (Incoming, but the partner's own) never counts as inbound.

use reqwest::Method;
use serde_json::{Value, json};

use super::inbound::Microsoft;
use super::pulls::{csv_rows, pull, uploaded};
use crate::admin::{expect_code, stderr};
use crate::common::sandbox::{TestResult, referral_with_external_id};

const REFERRALS: &str = "/v1.0/engagements/referrals";

/// The partner's referral `CO-1` and its connected referral for Microsoft, made as the
/// uploader makes them; their ids.
fn co_sell(microsoft: &Microsoft) -> TestResult<(String, String)> {
    let ours = microsoft.send(
        Method::POST,
        REFERRALS,
        &referral_with_external_id("CO-1")?,
        false,
    )?;
    let mut connected = referral_with_external_id("CO-1")?;
    if let Some(object) = connected.as_object_mut() {
        object.remove("externalReferenceId");
    }
    connected["engagementId"] = ours["engagementId"].clone();
    connected["target"] = json!([{"type": "BusinessProfileLocation", "id": "msft"}]);
    let theirs = microsoft.send(Method::POST, REFERRALS, &connected, false)?;
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    Ok((id(&ours), id(&theirs)))
}

/// Microsoft's seller patches the engagement of `id`.
fn seller(microsoft: &Microsoft, id: &str, ops: Value) -> TestResult {
    microsoft.send(Method::PATCH, &format!("{REFERRALS}/{id}"), &ops, true)?;
    Ok(())
}

fn status(status: &str, substatus: &str) -> Value {
    json!([
        {"op": "replace", "path": "/status", "value": status},
        {"op": "replace", "path": "/substatus", "value": substatus},
    ])
}

#[test]
fn microsofts_side_of_a_co_sell_comes_back_on_the_partners_row() -> TestResult {
    let ws = uploaded()?;
    let microsoft = Microsoft::new(&ws)?;
    let (ours, theirs) = co_sell(&microsoft)?;
    let split = ["--inbound", "inbound.csv"];
    let output = pull(&ws, "out.csv", &split)?;
    expect_code(&output, 0)?;
    assert!(
        csv_rows(&ws, "inbound.csv")?.is_empty(),
        "{}",
        stderr(&output)
    );
    let rows = csv_rows(&ws, "out.csv")?;
    assert_eq!(rows[&ours]["connectedStatus"], "New");
    assert_eq!(rows[&ours]["connectedSubstatus"], "Pending");
    assert_eq!(rows[&ours]["externalReferenceId"], "CO-1");
    assert!(
        !rows.contains_key(&theirs),
        "one row per CRM record: the connected referral rides on the partner's row: {rows:?}"
    );

    // Microsoft accepts: only its referral changes, and the partner's row says so.
    seller(&microsoft, &ours, status("Active", "Accepted"))?;
    let output = pull(&ws, "out.csv", &split)?;
    expect_code(&output, 0)?;
    assert!(
        stderr(&output).contains("1 changed: 1 ours, 0 inbound"),
        "the summary counts the file's rows: {}",
        stderr(&output)
    );
    let rows = csv_rows(&ws, "out.csv")?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[&ours]["connectedStatus"], "Active");
    assert_eq!(rows[&ours]["connectedSubstatus"], "Accepted");
    assert_eq!(
        rows[&ours]["changed"],
        "connected.acceptedDateTime;connected.status;connected.substatus"
    );

    let msx = json!([{"op": "add", "path": "/trackingInfo/microsoftMsxId", "value": "7-XYZ123"}]);
    seller(&microsoft, &theirs, msx)?;
    expect_code(&pull(&ws, "out.csv", &split)?, 0)?;
    let rows = csv_rows(&ws, "out.csv")?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[&ours]["microsoftCrmId"], "7-XYZ123");
    assert_eq!(
        rows[&ours]["changed"],
        "trackingInfo.microsoftMsxId;connected.trackingInfo.microsoftMsxId"
    );

    seller(&microsoft, &theirs, status("Closed", "Won"))?;
    expect_code(&pull(&ws, "out.csv", &split)?, 0)?;
    let rows = csv_rows(&ws, "out.csv")?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            rows[&ours]["status"].as_str(),
            rows[&ours]["substatus"].as_str()
        ),
        ("Closed", "Won")
    );
    assert_eq!(rows[&ours]["connectedSubstatus"], "Won");
    assert!(csv_rows(&ws, "inbound.csv")?.is_empty());
    // Nothing changed since: a header-only file.
    expect_code(&pull(&ws, "out.csv", &split)?, 0)?;
    assert!(csv_rows(&ws, "out.csv")?.is_empty());
    Ok(())
}
