//! `reconcile` that costs what changed: after one full reconcile of a tenant of 1,000+
//! referrals, the next one refreshes the ledger's mirror from what changed since and finds a
//! change made in Partner Center with at most three requests (the sandbox counts them).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::reconcile::reconcile;
use super::{Row, Workspace, expect_code, stderr};
use crate::common::sandbox::TestResult;

const OURS: [Row<'static>; 3] = [
    ("M-1", "Deal one", "Contoso", "Open", "100"),
    ("M-2", "Deal two", "Fabrikam", "Open", "200"),
    ("M-3", "Deal three", "Litware", "Open", "300"),
];

/// The API requests the sandbox has answered so far.
fn requests(ws: &Workspace) -> TestResult<u64> {
    let (_, stats) = ws.send(reqwest::Method::GET, "/sandbox/stats", None)?;
    stats["requests"]
        .as_u64()
        .ok_or_else(|| format!("no request count in {stats}").into())
}

/// (category, externalReferenceId) of every finding of `--json` output.
fn findings(output: &std::process::Output) -> TestResult<BTreeSet<(String, String)>> {
    let json: Value = serde_json::from_slice(&output.stdout)?;
    let list = json["findings"].as_array().ok_or("no findings array")?;
    Ok(list
        .iter()
        .map(|f| {
            let text = |key: &str| f[key].as_str().unwrap_or_default().to_owned();
            (text("category"), text("external_id"))
        })
        .collect())
}

/// Another tool's referrals, `batches` × `each`, the sandbox's clock moved an hour after each
/// batch (so that they span a day of `updatedDateTime`, as a real tenant's do).
fn other_referrals(ws: &Workspace, batches: usize, each: usize) -> TestResult {
    for batch in 0..batches {
        for n in 0..each {
            ws.create_referral(&format!("OTHER-{batch}-{n}"), "Another tool's deal")?;
        }
        let (status, body) = ws.send(
            reqwest::Method::POST,
            "/sandbox/advance",
            Some(json!({"hours": 1})),
        )?;
        assert_eq!(status, 200, "advance: {body}");
    }
    Ok(())
}

#[test]
fn after_a_full_reconcile_a_change_in_partner_center_is_found_with_at_most_three_requests()
-> TestResult {
    let ws = Workspace::new(&[])?;
    ws.write_export(&OURS)?;
    expect_code(&ws.upload()?, 0)?;
    other_referrals(&ws, 20, 50)?;
    let full = reconcile(&ws, &["--full", "--json"])?;
    expect_code(&full, 0)?;
    let listed: Value = serde_json::from_slice(&full.stdout)?;
    assert_eq!(listed["compared"]["api_referrals"], 1_003, "{listed}");

    ws.set_status(&ws.referral_id("M-2")?, "Closed", "Declined")?;
    let before = requests(&ws)?;
    let next = reconcile(&ws, &["--json"])?;
    let spent = requests(&ws)? - before;
    expect_code(&next, 1)?;
    let found = findings(&next)?;
    assert_eq!(
        found,
        BTreeSet::from([("status_drift".to_owned(), "M-2".to_owned())]),
        "{}",
        stderr(&next)
    );
    assert!(
        spent <= 3,
        "the incremental reconcile sent {spent} requests"
    );
    let compared: Value = serde_json::from_slice(&next.stdout)?;
    assert_eq!(compared["compared"]["api_referrals"], 1_003);

    // Nothing changed since: the same finding, at the same cost.
    let before = requests(&ws)?;
    expect_code(&reconcile(&ws, &["--json"])?, 1)?;
    assert!(requests(&ws)? - before <= 3);
    Ok(())
}

#[test]
fn a_referral_gone_from_the_api_is_found_although_the_mirror_holds_it() -> TestResult {
    let ws = Workspace::new(&[])?;
    ws.write_export(&OURS)?;
    expect_code(&ws.upload()?, 0)?;
    expect_code(&reconcile(&ws, &[])?, 0)?;
    // Partner Center deletes nothing, but a sandbox (or a support case) may: the API's count
    // no longer matches the mirror, so reconcile lists everything.
    ws.delete_referral(&ws.referral_id("M-3")?)?;
    let output = reconcile(&ws, &["--json"])?;
    expect_code(&output, 1)?;
    assert_eq!(
        findings(&output)?,
        BTreeSet::from([("missing_from_api".to_owned(), "M-3".to_owned())])
    );
    // The full listing dropped it from the mirror: the next run is incremental again and
    // still finds it missing.
    let before = requests(&ws)?;
    let again = reconcile(&ws, &["--json"])?;
    expect_code(&again, 1)?;
    assert!(requests(&ws)? - before <= 3);
    assert_eq!(findings(&again)?, findings(&output)?);
    Ok(())
}
