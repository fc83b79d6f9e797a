//! The uploader sends only what Partner Center accepts: a changed field outside the
//! contract's patchable paths is reported once per change as `not_updatable` and not sent,
//! and a referral closed in Partner Center is left alone (`closed_in_partner_center`) and
//! shown as drift by `reconcile`.

use serde_json::{Value, json};

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Row, TOKEN, Workspace, bare_command, mapping};

#[test]
fn an_unpatchable_change_is_reported_once_and_the_patchable_one_is_sent_alone() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = vec![Row::new(1)];
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let before = peer.stats()?;

    rows[0].name = "Renamed in the CRM".into();
    rows[0].amount = "777".into();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let after = peer.stats()?;
    assert_eq!(
        after["updated"].as_u64(),
        before["updated"].as_u64().map(|n| n + 1)
    );
    let summary = ws.summary()?;
    assert_eq!(summary["updated"], 1, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["not_updatable"], 1, "{summary}");
    let notice = &summary["notices"][0];
    assert_eq!(notice["kind"], "not_updatable");
    assert_eq!(notice["external_id"], "OPP-0001");
    assert_eq!(notice["field"], "/name");
    assert!(
        notice["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("after creation")
    );

    let record = ws.record("OPP-0001")?;
    let referral = peer.get(record.referral_id.as_deref().unwrap_or_default())?;
    assert_eq!(referral["details"]["dealValue"], json!(777));
    assert_eq!(referral["name"], "Opportunity 1");

    let status = bare_command()
        .args(["status", "--ledger"])
        .arg(&ws.ledger)
        .output()?;
    let text = String::from_utf8(status.stdout)?;
    assert!(text.contains("not_updatable 1"), "{text}");
    assert!(
        text.contains("not_updatable  OPP-0001  /name: Partner Center"),
        "{text}"
    );

    let report = ws.path("failures.csv");
    let ran = bare_command()
        .args(["--quiet", "report", "--failures"])
        .arg(&report)
        .arg("--ledger")
        .arg(&ws.ledger)
        .output()?;
    assert!(ran.status.success(), "{ran:?}");
    let csv = std::fs::read_to_string(&report)?;
    let line = csv.lines().nth(1).unwrap_or_default();
    assert!(line.starts_with("OPP-0001,"), "{csv}");
    assert!(line.contains(",not_updatable,"), "{csv}");
    assert!(line.contains("/name: Partner Center"), "{csv}");
    assert!(line.contains("opportunities.csv,2,"), "{csv}");

    // Nothing new: no request, nothing reported again.
    let requests = peer.stat("requests")?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("requests")?, requests);
    assert_eq!(ws.summary()?["not_updatable"], 0);

    // A new change of the same field is news again.
    rows[0].name = "Renamed twice".into();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let summary = ws.summary()?;
    assert_eq!(summary["not_updatable"], 1, "{summary}");
    assert_eq!(
        peer.stat("updated")?,
        after["updated"].as_u64().unwrap_or(0)
    );
    Ok(())
}

#[test]
fn a_referral_closed_in_partner_center_is_left_alone_and_reconcile_shows_drift() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = vec![Row::new(1), Row::new(2)];
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let record = ws.record("OPP-0001")?;
    let id = record.referral_id.clone().unwrap_or_default();
    let won = peer.get(&id)?;
    let close = json!([
        {"op": "replace", "path": "/status", "value": "Closed"},
        {"op": "replace", "path": "/substatus", "value": "Won"},
    ]);
    peer.patch(&id, &close, won["eTag"].as_str().unwrap_or_default())?;
    let updated = peer.stat("updated")?;

    rows[0].amount = "999".into();
    rows[1].amount = "555".into();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let summary = ws.summary()?;
    assert_eq!(summary["closed_in_partner_center"], 1, "{summary}");
    assert_eq!(summary["updated"], 1, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["notices"][0]["kind"], "closed_in_partner_center");
    assert_eq!(
        peer.stat("updated")?,
        updated + 1,
        "only OPP-0002 was patched"
    );
    let closed = peer.get(&id)?;
    assert_eq!(closed["details"]["dealValue"], won["details"]["dealValue"]);

    // The next edit of the closed row costs no request at all.
    rows[0].amount = "1001".into();
    ws.write_rows(&rows)?;
    let requests = peer.stat("requests")?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("requests")?, requests);
    assert_eq!(ws.summary()?["closed_in_partner_center"], 1);

    let output = bare_command()
        .args(["--quiet", "reconcile", "--json", "--mapping"])
        .arg(mapping())
        .arg(&ws.csv)
        .args(["--api-url", peer.url()])
        .arg("--ledger")
        .arg(&ws.ledger)
        .env("PARTNER_API_TOKEN", TOKEN)
        .output()?;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = String::from_utf8(output.stdout)?;
    let findings: Value = serde_json::from_str(&text)?;
    let drift = findings
        .as_array()
        .or_else(|| findings["findings"].as_array())
        .into_iter()
        .flatten()
        .any(|f| f["category"] == "status_drift" && f["external_id"] == "OPP-0001");
    assert!(drift, "{text}");
    Ok(())
}

/// Everything our own client sends is still accepted by the stricter sandbox: every shipped
/// mapping over its sample uploads with no failure, and a second run sends nothing.
#[test]
fn every_shipped_mapping_uploads_its_sample_to_the_contract_checked_sandbox() -> TestResult {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let samples: [(&str, Option<&str>, &str); 5] = [
        (
            "dynamics365-export",
            None,
            "samples/dynamics365-export.xlsx",
        ),
        (
            "dynamics365-csv",
            Some("account=samples/dynamics365/Account.csv"),
            "samples/dynamics365/Opportunity.csv",
        ),
        ("dataverse-json", None, "samples/dataverse"),
        (
            "salesforce-opportunity",
            Some("account=samples/salesforce/Account.csv"),
            "samples/salesforce/Opportunity.csv",
        ),
        (
            "template",
            Some("accounts=samples/template/accounts.csv"),
            "samples/template/opportunities.csv",
        ),
    ];
    let peer = Peer::healthy()?;
    for (mapping, lookup, input) in samples {
        let ws = Workspace::new()?;
        let mut cmd = bare_command();
        cmd.current_dir(root)
            .args(["--quiet", "upload", "--mapping"])
            .arg(format!("mappings/{mapping}.toml"))
            .args(lookup.map(|l| ["--lookup", l]).into_iter().flatten())
            .arg(input)
            .args(["--api-url", peer.url(), "--rate", "1000"])
            .arg("--ledger")
            .arg(&ws.ledger)
            .arg("--summary-json")
            .arg(&ws.summary)
            .env("PARTNER_API_TOKEN", TOKEN);
        ws.run(&mut cmd)?.expect_code(0)?;
        let summary = ws.summary()?;
        let count = |key: &str| summary[key].as_u64().unwrap_or(u64::MAX);
        assert_eq!(count("failed"), 0, "{mapping}: {summary}");
        assert!(count("created") > 0, "{mapping}: {summary}");
        assert_eq!(
            count("created") + count("skipped"),
            count("rows"),
            "{mapping}: {summary}"
        );
        ws.run(&mut cmd)?.expect_code(0)?;
        let again = ws.summary()?;
        assert_eq!(again["created"], 0, "{mapping}: {again}");
        assert_eq!(again["updated"], 0, "{mapping}: {again}");
        assert_eq!(again["not_updatable"], 0, "{mapping}: {again}");
    }
    Ok(())
}
