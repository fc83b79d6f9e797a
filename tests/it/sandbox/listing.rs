//! "Changed since" listings over real HTTP (issue 12, item 6): `$filter` on `updatedDateTime`
//! with `$orderby=updatedDateTime asc`, paged by next links while referrals change, neither
//! loses a referral nor lists one out of order.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::sandbox::{TestResult, TestSandbox, referral_with_external_id};

/// One page: its referrals and its next link.
async fn page(sandbox: &TestSandbox, url: &str) -> TestResult<(Vec<Value>, Option<String>)> {
    let (status, body) = sandbox.get_json(url).await?;
    assert_eq!(status, 200, "{body}");
    let value = body["value"].as_array().cloned().unwrap_or_default();
    let next = body["@odata.nextLink"].as_str().map(str::to_owned);
    Ok((value, next))
}

async fn touch(sandbox: &TestSandbox, referral: &Value) -> TestResult {
    let id = referral["id"].as_str().unwrap_or_default();
    let ops = json!([{"op": "replace", "path": "/details/notes", "value": "changed"}]);
    let response = sandbox
        .request(Method::PATCH, &sandbox.referrals(Some(id)))
        .json(&ops)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 204);
    Ok(())
}

#[tokio::test]
async fn issue_12_a_changed_since_listing_loses_nothing_when_referrals_change_mid_listing()
-> TestResult {
    let sandbox = TestSandbox::start().await?;
    let mut created = Vec::new();
    for n in 0..250 {
        created.push(
            sandbox
                .create_ok(&referral_with_external_id(&format!("L-{n}"))?)
                .await?,
        );
    }
    let since = created[0]["updatedDateTime"].as_str().unwrap_or_default();
    let mut url = Some(sandbox.url(&format!(
        "/v1.0/engagements/referrals?$filter=updatedDateTime ge '{since}'&$orderby=updatedDateTime asc"
    )));
    let mut served: Vec<Value> = Vec::new();
    let mut pages = 0;
    while let Some(next) = url {
        let (value, next) = page(&sandbox, &next).await?;
        served.extend(value);
        pages += 1;
        if pages == 1 {
            // One already listed, one not yet: both move to the end of the order.
            touch(&sandbox, &created[10]).await?;
            touch(&sandbox, &created[150]).await?;
        }
        url = next;
    }
    let ids: HashSet<&str> = served.iter().filter_map(|r| r["id"].as_str()).collect();
    for referral in &created {
        let id = referral["id"].as_str().unwrap_or_default();
        assert!(
            ids.contains(id),
            "{} never listed",
            referral["externalReferenceId"]
        );
    }
    let times: Vec<&str> = served
        .iter()
        .filter_map(|r| r["updatedDateTime"].as_str())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "out of order");
    let last: Vec<&Value> = served.iter().rev().take(2).collect();
    assert_eq!(
        last[1]["id"], created[10]["id"],
        "the changed one comes again"
    );
    assert_eq!(last[0]["id"], created[150]["id"]);
    assert_eq!(last[0]["details"]["notes"], "changed");
    assert_eq!(
        served.len(),
        251,
        "listed once, and again after its change: {pages} pages"
    );
    Ok(())
}

#[tokio::test]
async fn issue_12_time_ranges_page_by_key_in_both_directions_and_honour_top() -> TestResult {
    let sandbox = TestSandbox::start().await?;
    let mut created = Vec::new();
    for n in 0..230 {
        created.push(
            sandbox
                .create_ok(&referral_with_external_id(&format!("R-{n}"))?)
                .await?,
        );
    }
    let time = |n: usize| {
        created[n]["updatedDateTime"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let ids_of = |list: &[Value]| -> Vec<String> {
        list.iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect()
    };
    let expected = |range: std::ops::Range<usize>| ids_of(&created[range]);
    for (query, want, reversed) in [
        (
            format!(
                "$filter=updatedDateTime gt '{}' and updatedDateTime le '{}'&$orderby=updatedDateTime asc",
                time(9),
                time(219)
            ),
            expected(10..220),
            false,
        ),
        (
            format!(
                "$filter=updatedDateTime ge '{}'&$orderby=updatedDateTime desc",
                time(20)
            ),
            expected(20..230),
            true,
        ),
        (
            format!(
                "$filter=updatedDateTime lt '{}'&$orderby=updatedDateTime asc&$top=150&$skip=5",
                time(200)
            ),
            expected(5..155),
            false,
        ),
        (
            "$orderby=createdDateTime desc&$top=120".to_string(),
            expected(110..230),
            true,
        ),
        ("$top=101".to_string(), expected(0..101), false),
    ] {
        let mut url = Some(sandbox.url(&format!("/v1.0/engagements/referrals?{query}")));
        let mut listed = Vec::new();
        while let Some(next) = url {
            let (value, next) = page(&sandbox, &next).await?;
            listed.extend(value);
            url = next;
        }
        let mut want = want;
        if reversed {
            want.reverse();
        }
        assert_eq!(ids_of(&listed), want, "{query}");
    }
    Ok(())
}
