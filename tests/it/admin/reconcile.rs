//! `reconcile`: every category produced on purpose against the sandbox (a referral deleted or
//! closed behind the client's back, a row edited, dropped or added in the CRM, a referral made
//! by another tool), `--adopt`, the output files, and paging through the whole API.

use std::collections::BTreeSet;

use referral_sync::admin::reconcile::output::CSV_COLUMNS;
use referral_sync::ledger::{Ledger, State, lock_with_command};
use serde_json::Value;

use super::{Row, Workspace, expect_code, stderr, stdout};
use crate::common::sandbox::TestResult;

/// `reconcile` of `export.csv` against the workspace's sandbox, with `extra` arguments.
pub(super) fn reconcile(ws: &Workspace, extra: &[&str]) -> TestResult<std::process::Output> {
    let url = ws.sandbox.base_url.clone();
    let mut args = vec![
        "--quiet",
        "reconcile",
        "--mapping",
        "mapping.toml",
        "export.csv",
        "--api-url",
        &url,
    ];
    args.extend(extra);
    ws.admin(&args)
}

/// (category, externalReferenceId) of every row of a findings CSV.
fn findings_csv(ws: &Workspace, name: &str) -> TestResult<BTreeSet<(String, String)>> {
    let mut reader = csv::Reader::from_path(ws.path(name))?;
    assert_eq!(reader.headers()?.iter().collect::<Vec<_>>(), CSV_COLUMNS);
    let mut out = BTreeSet::new();
    for row in reader.records() {
        let row = row?;
        let cell = |i| row.get(i).unwrap_or_default().to_owned();
        out.insert((cell(0), cell(1)));
    }
    Ok(out)
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(c, id)| ((*c).to_owned(), (*id).to_owned()))
        .collect()
}

const FIRST: [Row<'static>; 5] = [
    ("A-1", "Deal one", "Contoso", "Open", "100"),
    ("A-2", "Deal two", "Fabrikam", "Open", "200"),
    ("A-3", "Deal three", "Litware", "Open", "300"),
    ("A-4", "Deal four", "Northwind", "Won", "400"),
    ("A-5", "Deal five", "Tailspin", "Open", "500"),
];

#[test]
fn an_untouched_sync_is_in_sync_and_exits_0() -> TestResult {
    let ws = Workspace::new(&[])?;
    ws.write_export(&FIRST)?;
    expect_code(&ws.upload()?, 0)?;
    let output = reconcile(&ws, &["--json"])?;
    expect_code(&output, 0)?;
    let json: Value = serde_json::from_str(&stdout(&output))?;
    assert_eq!(json["in_sync"], true);
    assert_eq!(json["findings"], Value::Array(Vec::new()));
    assert_eq!(json["compared"]["ledger_records"], 5);
    assert_eq!(json["compared"]["api_referrals"], 5);
    let table = reconcile(&ws, &[])?;
    expect_code(&table, 0)?;
    assert!(stdout(&table).contains("in sync"), "{}", stdout(&table));
    Ok(())
}

/// Upload [`FIRST`], then make one of every difference behind the tool's back.
fn drifted() -> TestResult<(Workspace, String)> {
    let ws = Workspace::new(&[])?;
    ws.write_export(&FIRST)?;
    expect_code(&ws.upload()?, 0)?;
    ws.set_status(&ws.referral_id("A-2")?, "Closed", "Declined")?;
    ws.delete_referral(&ws.referral_id("A-3")?)?;
    let orphan = ws.create_referral("A-7", "Deal seven")?;
    ws.write_export(&[
        ("A-1", "Deal one", "Contoso", "Open", "150"),
        ("A-2", "Deal two", "Fabrikam", "Open", "200"),
        ("A-3", "Deal three", "Litware", "Open", "300"),
        ("A-5", "Deal five", "Tailspin", "Won", "500"),
        ("A-6", "Deal six", "Wingtip", "Open", "600"),
        ("A-7", "Deal seven", "Contoso", "Open", "700"),
    ])?;
    Ok((ws, orphan))
}

#[test]
fn every_category_is_found_and_written() -> TestResult {
    let (ws, orphan) = drifted()?;
    let output = reconcile(&ws, &["--output", "findings.csv"])?;
    expect_code(&output, 1)?;
    let want = pairs(&[
        ("never_synced", "A-6"),
        ("changed", "A-1"),
        ("changed", "A-5"),
        ("missing_from_api", "A-3"),
        ("orphan", "A-7"),
        ("status_drift", "A-2"),
        ("status_drift", "A-5"),
        ("gone_from_export", "A-4"),
    ]);
    assert_eq!(findings_csv(&ws, "findings.csv")?, want);
    let table = stdout(&output);
    let count_of = |label: &str| {
        table
            .lines()
            .find(|l| l.starts_with(label))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
    };
    assert_eq!(count_of("status drift").as_deref(), Some("2"), "{table}");
    assert_eq!(
        count_of("changed in the CRM").as_deref(),
        Some("2"),
        "{table}"
    );
    assert_eq!(count_of("total").as_deref(), Some("8"), "{table}");
    assert!(
        table.contains(&orphan),
        "the orphan's referral id is shown: {table}"
    );

    let json_out = reconcile(&ws, &["--output", "findings.json"])?;
    expect_code(&json_out, 1)?;
    let json: Value = serde_json::from_str(&std::fs::read_to_string(ws.path("findings.json"))?)?;
    assert_eq!(json["in_sync"], false);
    for (key, n) in [
        ("never_synced", 1),
        ("changed", 2),
        ("missing_from_api", 1),
        ("orphan", 1),
        ("status_drift", 2),
        ("gone_from_export", 1),
    ] {
        assert_eq!(json["counts"][key], n, "{key}");
    }
    let drift_a2 = json["findings"]
        .as_array()
        .ok_or("findings is not an array")?
        .iter()
        .find(|f| f["category"] == "status_drift" && f["external_id"] == "A-2")
        .ok_or("no drift finding for A-2")?;
    assert_eq!(drift_a2["api_status"], "Closed/Declined");
    assert_eq!(drift_a2["crm_status"], "New/Pending");
    // Reconcile without --adopt writes nothing.
    assert!(ws.ledger()?.get("A-7")?.is_none());
    Ok(())
}

#[test]
fn adopt_records_the_orphan_and_the_next_upload_updates_it_instead_of_creating() -> TestResult {
    let (ws, orphan) = drifted()?;
    let output = reconcile(&ws, &["--adopt", "--json"])?;
    expect_code(&output, 1)?;
    let json: Value = serde_json::from_str(&stdout(&output))?;
    assert_eq!(json["adopted"], 1);
    let record = ws.record("A-7")?;
    assert_eq!(record.referral_id.as_deref(), Some(orphan.as_str()));
    assert_eq!(record.state, State::Synced);
    let audit = ws.ledger()?.audit_log()?;
    let row = audit.first().ok_or("no audit row")?;
    assert_eq!(
        (row.action.as_str(), row.external_id.as_str()),
        ("adopt", "A-7")
    );
    // Now it is tracked: no longer an orphan, but its payload is still to be sent.
    let again = reconcile(&ws, &["--output", "again.csv"])?;
    expect_code(&again, 1)?;
    let found = findings_csv(&ws, "again.csv")?;
    assert!(
        !found.contains(&("orphan".into(), "A-7".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("changed".into(), "A-7".into())),
        "{found:?}"
    );
    expect_code(&ws.upload()?, 0)?;
    assert_eq!(ws.referral_id("A-7")?, orphan, "updated in place");
    let path = "/v1.0/engagements/referrals?$filter=externalReferenceId eq 'A-7'";
    let (status, list) = ws.send(reqwest::Method::GET, path, None)?;
    assert_eq!(status, 200);
    let values: Vec<&Value> = list["value"]
        .as_array()
        .ok_or("no value array")?
        .iter()
        .map(|r| &r["details"]["dealValue"])
        .collect();
    assert_eq!(
        values,
        [&Value::from(700)],
        "one referral, with the export's payload"
    );
    Ok(())
}

#[test]
fn adopt_leaves_an_id_carried_by_two_referrals_alone() -> TestResult {
    let ws = Workspace::new(&[])?;
    ws.write_export(&[("A-1", "Deal one", "Contoso", "Open", "100")])?;
    expect_code(&ws.upload()?, 0)?;
    let first = ws.create_referral("D-1", "Twin")?;
    let second = ws.create_referral("D-1", "Twin")?;
    ws.write_export(&[
        ("A-1", "Deal one", "Contoso", "Open", "100"),
        ("D-1", "Twin", "Contoso", "Open", "1"),
    ])?;
    let output = reconcile(&ws, &["--adopt"])?;
    expect_code(&output, 1)?;
    let text = stdout(&output);
    assert!(text.contains(&first) && text.contains(&second), "{text}");
    assert!(ws.ledger()?.get("D-1")?.is_none(), "not adopted");
    Ok(())
}

#[test]
fn adopt_takes_the_lock_and_exits_4_while_a_run_holds_it() -> TestResult {
    let (ws, _) = drifted()?;
    let _held = lock_with_command(&ws.path("ledger.db"), "referral-sync upload (test)")?;
    let output = reconcile(&ws, &["--adopt"])?;
    expect_code(&output, 4)?;
    assert!(ws.ledger()?.get("A-7")?.is_none());
    // Without --adopt reconcile only reads, and runs beside an upload.
    expect_code(&reconcile(&ws, &[])?, 1)?;
    Ok(())
}

#[test]
fn every_page_of_the_api_is_read() -> TestResult {
    let ws = Workspace::new(&[])?;
    Ledger::open(ws.path("ledger.db"))?;
    let ids: Vec<String> = (0..230).map(|i| format!("P-{i:03}")).collect();
    let rows: Vec<Row<'_>> = ids
        .iter()
        .map(|id| (id.as_str(), "Paged", "Contoso", "Open", "1"))
        .collect();
    for id in &ids {
        ws.create_referral(id, "Paged")?;
    }
    ws.write_export(&rows)?;
    let output = reconcile(&ws, &["--json", "--adopt"])?;
    expect_code(&output, 1)?;
    let json: Value = serde_json::from_str(&stdout(&output))?;
    assert_eq!(json["compared"]["api_referrals"], 230, "three pages of 100");
    assert_eq!(json["counts"]["orphan"], 230);
    assert_eq!(json["adopted"], 230);
    assert_eq!(ws.ledger()?.counts_by_state()?.synced, 230);
    Ok(())
}

#[test]
fn output_must_be_csv_or_json_and_is_checked_first() -> TestResult {
    let ws = Workspace::new(&[])?;
    ws.write_export(&FIRST)?;
    expect_code(&ws.upload()?, 0)?;
    let output = reconcile(&ws, &["--output", "findings.txt"])?;
    expect_code(&output, 2)?;
    assert!(
        stderr(&output).contains("findings.txt"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

/// The shared reference folder: `<crate root>/../shared`, else `/work/shared`.
fn shared_dir() -> Option<std::path::PathBuf> {
    let sibling = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.is_dir() {
        return Some(sibling);
    }
    let fixed = std::path::PathBuf::from("/work/shared");
    fixed.is_dir().then_some(fixed)
}

#[test]
fn a_real_salesforce_export_uploaded_with_the_embedded_sandbox_reconciles_in_sync() -> TestResult {
    let Some(shared) = shared_dir() else {
        println!("skipped: ../shared not present");
        return Ok(());
    };
    let exports = shared.join("data/real-exports");
    let opportunities = exports.join("sfdc-data-cloud-workshop_Opportunity.csv");
    let lookup = format!(
        "account={}",
        exports
            .join("sfdc-data-cloud-workshop_Account.csv")
            .display()
    );
    let mapping = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mappings/salesforce-opportunity.toml");
    let ws = Workspace::new(&[])?;
    let common = |command: &str| -> Vec<String> {
        [
            "--quiet",
            command,
            "--mapping",
            &mapping.display().to_string(),
            &opportunities.display().to_string(),
            "--lookup",
            &lookup,
            "--sandbox",
            "--ledger",
            "ledger.db",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    };
    let mut upload = common("upload");
    upload.extend(["--rate", "500", "--burst", "50"].map(str::to_owned));
    expect_code(
        &ws.run(&upload.iter().map(String::as_str).collect::<Vec<_>>())?,
        0,
    )?;
    let mut reconcile = common("reconcile");
    reconcile.push("--json".to_owned());
    let output = ws.run(&reconcile.iter().map(String::as_str).collect::<Vec<_>>())?;
    expect_code(&output, 0)?;
    let json: Value = serde_json::from_str(&stdout(&output))?;
    let records = json["compared"]["export_records"].as_u64().unwrap_or(0);
    assert!(records > 0, "{json}");
    assert_eq!(json["compared"]["ledger_records"], records);
    assert_eq!(json["compared"]["api_referrals"], records);
    assert_eq!(ws.ledger()?.counts_by_state()?.synced, records);
    Ok(())
}

/// Two co-sell rows (each a Shared referral and a connected one for Microsoft) uploaded and
/// in sync; the workspace and A-2's connected referral.
fn co_sell_in_sync() -> TestResult<(Workspace, String)> {
    let ws = Workspace::new(&[])?;
    let mapping = std::fs::read_to_string(ws.path("mapping.toml"))?.replace(
        r#"type = { value = "Independent" }"#,
        r#"type = { value = "Shared" }"#,
    );
    std::fs::write(ws.path("mapping.toml"), mapping)?;
    ws.write_export(&FIRST[..2])?;
    expect_code(&ws.upload()?, 0)?;
    expect_code(&reconcile(&ws, &[])?, 0)?;
    let connected = ws
        .record("A-2")?
        .connected_referral_id
        .ok_or("A-2 has no connected referral")?;
    Ok((ws, connected))
}

#[test]
fn a_connected_referral_deleted_in_partner_center_is_missing_from_the_api() -> TestResult {
    let (ws, connected) = co_sell_in_sync()?;
    ws.delete_referral(&connected)?;
    let output = reconcile(&ws, &["--output", "findings.csv"])?;
    expect_code(&output, 1)?;
    assert_eq!(
        findings_csv(&ws, "findings.csv")?,
        pairs(&[("missing_from_api", "A-2")])
    );
    let table = stdout(&output);
    assert!(table.contains(&connected), "{table}");
    assert!(table.contains("co-sell request"), "{table}");
    Ok(())
}

#[test]
fn a_connected_referral_holding_other_values_is_reported_as_connected_drift() -> TestResult {
    let (ws, connected) = co_sell_in_sync()?;
    // Microsoft's copy of A-2 is changed behind the uploader's back; the partner's is not.
    let api = crate::common::api::Api::new(&ws.sandbox.base_url)?;
    let held = api.get(&connected)?;
    let ops = serde_json::json!([{"op": "replace", "path": "/details/dealValue", "value": 1}]);
    api.patch(&connected, &ops, held["eTag"].as_str().unwrap_or_default())?;

    let output = reconcile(&ws, &["--output", "findings.json"])?;
    expect_code(&output, 1)?;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(ws.path("findings.json"))?)?;
    let findings = written["findings"].as_array().ok_or("no findings")?;
    let [finding] = findings.as_slice() else {
        return Err(format!("expected one finding: {written}").into());
    };
    assert_eq!(finding["category"], "connected_drift", "{finding}");
    assert_eq!(finding["external_id"], "A-2", "{finding}");
    assert_eq!(finding["referral_id"], connected.as_str(), "{finding}");
    let detail = finding["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("/details/dealValue"), "{detail}");
    assert_eq!(written["counts"]["connected_drift"], 1, "{written}");
    Ok(())
}
