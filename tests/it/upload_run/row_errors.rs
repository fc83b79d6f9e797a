//! Rows that fail mapping or validation are recorded in the ledger and listed by
//! `report --failures` with their file, row, field and message, next to the API failures; a
//! row fixed in the CRM is no longer listed after the next upload, and neither is a row the
//! export no longer has.

use referral_sync::sandbox::SandboxConfig;

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Workspace, bare_command, rows};

/// `report --failures` of the workspace's ledger: its header, then its rows.
fn failures(ws: &Workspace) -> TestResult<Vec<csv::StringRecord>> {
    let out = ws.path("failures.csv");
    let mut cmd = bare_command();
    cmd.args(["report", "--failures"]).arg(&out);
    cmd.arg("--ledger").arg(&ws.ledger);
    ws.run(&mut cmd)?.expect_code(0)?;
    let mut reader = csv::Reader::from_path(&out)?;
    let header = reader.headers()?.clone();
    let mut rows = vec![header];
    for row in reader.records() {
        rows.push(row?);
    }
    Ok(rows)
}

/// The cell `column` of `row`, given the header.
fn cell<'a>(header: &csv::StringRecord, row: &'a csv::StringRecord, column: &str) -> &'a str {
    let at = header
        .iter()
        .position(|h| h == column)
        .unwrap_or(usize::MAX);
    row.get(at).unwrap_or_default()
}

#[test]
fn an_invalid_row_is_listed_with_its_place_and_field_until_it_is_fixed() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(4);
    rows[1].customer = String::new();
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(1)?;

    let report = failures(&ws)?;
    let header = &report[0];
    assert_eq!(report.len(), 2, "{report:?}");
    let invalid = &report[1];
    assert_eq!(cell(header, invalid, "state"), "invalid");
    assert_eq!(cell(header, invalid, "failureKind"), "row");
    assert_eq!(
        cell(header, invalid, "sourceFile"),
        ws.csv.display().to_string()
    );
    assert_eq!(cell(header, invalid, "sourceRow"), "3");
    assert_eq!(cell(header, invalid, "field"), "customerProfile.name");
    assert!(!cell(header, invalid, "lastErrorMessage").is_empty());
    assert_eq!(cell(header, invalid, "lastRun"), "1");

    // Fixed in the CRM: the next upload creates it and the report no longer lists it.
    rows[1].customer = "Customer 2".into();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(failures(&ws)?.len(), 1);

    // Broken again, then gone from a shorter export: no longer listed either.
    rows[3].customer = String::new();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(1)?;
    assert_eq!(failures(&ws)?.len(), 2);
    rows.truncate(3);
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(failures(&ws)?.len(), 1);
    Ok(())
}

#[test]
fn row_errors_and_api_failures_are_listed_together() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        fail_rate: 1.0,
        ..SandboxConfig::default()
    })?;
    let mut rows = rows(2);
    rows[0].customer = String::new();
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &["--max-retries", "0"]))?;
    let report = failures(&ws)?;
    let header = &report[0];
    let states: Vec<&str> = report[1..]
        .iter()
        .map(|r| cell(header, r, "state"))
        .collect();
    assert_eq!(states, ["failed", "invalid"], "{report:?}");
    assert_eq!(cell(header, &report[1], "externalReferenceId"), "OPP-0002");
    assert_eq!(cell(header, &report[2], "sourceRow"), "2");
    Ok(())
}
