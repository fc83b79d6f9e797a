//! `status` and `report` on a ledger with synced records, a retryable failure (an injected
//! 503) and a permanent one (a Closed referral re-opened in the CRM), over two runs.

use std::collections::BTreeSet;

use referral_sync::admin::report::COLUMNS;
use referral_sync::ledger::{LedgerRecord, State};
use serde_json::Value;

use super::{Workspace, expect_code, stdout};
use crate::common::sandbox::TestResult;

/// Run 1: A-1 fails with a 503 (retryable), A-2..A-4 are created (A-4 Closed/Won).
/// Run 2: A-1 is no longer exported (so it stays failed), A-4 is re-opened in the CRM, which
/// the API's status table forbids (permanent failure).
fn two_runs() -> TestResult<Workspace> {
    let ws = Workspace::new(&["--fail-first", "1"])?;
    ws.write_export(&[
        ("A-1", "Deal one", "Contoso", "Open", "100"),
        ("A-2", "Deal two", "Fabrikam", "Open", "200"),
        ("A-3", "Deal three", "Litware", "Lost", "300"),
        ("A-4", "Deal four", "Northwind", "Won", "400"),
    ])?;
    expect_code(&ws.upload()?, 1)?;
    ws.write_export(&[
        ("A-2", "Deal two", "Fabrikam", "Open", "200"),
        ("A-3", "Deal three", "Litware", "Lost", "300"),
        ("A-4", "Deal four", "Northwind", "Open", "400"),
    ])?;
    expect_code(&ws.upload()?, 1)?;
    let a1 = ws.record("A-1")?;
    let a4 = ws.record("A-4")?;
    if a1.state != State::Failed || a4.state != State::Failed {
        return Err(format!("setup: A-1 {:?}, A-4 {:?}", a1.state, a4.state).into());
    }
    Ok(ws)
}

#[test]
fn status_counts_states_lists_runs_and_oldest_failures() -> TestResult {
    let ws = two_runs()?;
    let output = ws.admin(&["status", "--json"])?;
    expect_code(&output, 0)?;
    let json: Value = serde_json::from_str(&stdout(&output))?;
    assert_eq!(json["total"], 4);
    assert_eq!(json["counts"]["synced"], 2);
    assert_eq!(json["counts"]["failed_retryable"], 1);
    assert_eq!(json["counts"]["failed_permanent"], 1);
    assert_eq!(json["counts"]["pending"], 0);
    let runs = json["runs"].as_array().ok_or("runs is not an array")?;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], 2, "newest run first");
    assert_eq!(runs[0]["exit_code"], 1);
    assert_eq!(runs[1]["counts"]["created"], 3);
    assert_eq!(runs[1]["counts"]["failed"], 1);
    assert!(runs[0]["finished_at"].is_string());
    let failed: Vec<&str> = json["oldest_failed"]
        .as_array()
        .ok_or("oldest_failed is not an array")?
        .iter()
        .filter_map(|r| r["external_id"].as_str())
        .collect();
    assert_eq!(failed, ["A-1", "A-4"], "oldest first");
    assert_eq!(
        json["oldest_failed"][0]["last_error_code"],
        "serviceNotAvailable"
    );
    assert_eq!(json["oldest_failed"][0]["source"], "export.csv:2");

    let text = ws.admin(&["status"])?;
    expect_code(&text, 0)?;
    let text = stdout(&text);
    let count_of = |state: &str| {
        text.lines()
            .find(|l| l.starts_with(state))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
    };
    assert_eq!(count_of("synced").as_deref(), Some("2"), "{text}");
    assert_eq!(
        count_of("failed (permanent)").as_deref(),
        Some("1"),
        "{text}"
    );
    assert_eq!(count_of("total").as_deref(), Some("4"), "{text}");
    assert!(text.contains("run    2"), "{text}");
    assert!(
        text.contains("A-4") && text.contains("invalidTransition"),
        "{text}"
    );
    Ok(())
}

#[test]
fn status_of_a_missing_ledger_names_it_and_exits_2() -> TestResult {
    let ws = Workspace::new(&[])?;
    let output = ws.run(&["status", "--ledger", "nope.db"])?;
    expect_code(&output, 2)?;
    assert!(super::stderr(&output).contains("nope.db"));
    assert!(
        !ws.path("nope.db").exists(),
        "status must not create a ledger"
    );
    Ok(())
}

/// Read a report CSV: its header and rows.
fn read_report(ws: &Workspace, name: &str) -> TestResult<(Vec<String>, Vec<Vec<String>>)> {
    let mut reader = csv::Reader::from_path(ws.path(name))?;
    let header = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for row in reader.records() {
        rows.push(row?.iter().map(str::to_owned).collect());
    }
    Ok((header, rows))
}

/// Check one report row cell by cell against the ledger's record.
fn check_row(row: &[String], record: &LedgerRecord) {
    let cell = |name: &str| -> &str {
        let i = COLUMNS
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX);
        row.get(i).map_or("<missing>", String::as_str)
    };
    let id = &record.external_id;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    assert_eq!(cell("externalReferenceId"), id);
    assert_eq!(cell("referralId"), opt(&record.referral_id), "{id}");
    assert_eq!(cell("engagementId"), opt(&record.engagement_id), "{id}");
    assert_eq!(cell("state"), record.state.as_str(), "{id}");
    assert_eq!(cell("attempts"), record.attempts.to_string(), "{id}");
    assert_eq!(cell("lastErrorCode"), opt(&record.last_error_code), "{id}");
    assert_eq!(
        cell("lastErrorMessage"),
        opt(&record.last_error_message),
        "{id}"
    );
    let failure = record.failure_kind.map(|k| k.as_str()).unwrap_or("");
    assert_eq!(cell("failureKind"), failure, "{id}");
    let (file, line) = match &record.source {
        Some(s) => (s.file.clone(), s.row.to_string()),
        None => (String::new(), String::new()),
    };
    assert_eq!(cell("sourceFile"), file, "{id}");
    assert_eq!(cell("sourceRow"), line, "{id}");
    let run = record.last_run.map(|r| r.to_string()).unwrap_or_default();
    assert_eq!(cell("lastRun"), run, "{id}");
}

/// Write a report and check every row against the ledger; the ids it holds.
fn report(ws: &Workspace, flags: &[&str], want: &[&str]) -> TestResult<BTreeSet<String>> {
    let name = format!("report{}.csv", flags.join("").replace('-', ""));
    let mut args = vec!["report"];
    args.extend(flags);
    args.push(&name);
    expect_code(&ws.admin(&args)?, 0)?;
    let (header, rows) = read_report(ws, &name)?;
    assert_eq!(header, COLUMNS, "stable columns");
    let ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.first().map(String::as_str))
        .collect();
    assert_eq!(ids, want, "rows of report {flags:?}");
    for row in &rows {
        let id = row.first().ok_or("empty row")?;
        check_row(row, &ws.record(id)?);
    }
    Ok(ids.into_iter().map(str::to_owned).collect())
}

#[test]
fn reports_hold_exactly_the_records_of_their_state() -> TestResult {
    let ws = two_runs()?;
    let failures = report(&ws, &["--failures"], &["A-1", "A-4"])?;
    let successes = report(&ws, &["--successes"], &["A-2", "A-3"])?;
    assert!(
        failures.is_disjoint(&successes),
        "a record in both reports: {failures:?} / {successes:?}"
    );
    let all = report(&ws, &["--mappings"], &["A-1", "A-2", "A-3", "A-4"])?;
    let ledger = ws.ledger()?;
    for id in &all {
        let record = ledger.get(id)?.ok_or("record vanished")?;
        match record.state {
            State::Failed => assert!(failures.contains(id), "{id} failed but not reported"),
            State::Synced => assert!(successes.contains(id), "{id} synced but not reported"),
            other => return Err(format!("{id} unexpectedly {other}").into()),
        }
    }
    // A run filter keeps the records that run touched last.
    report(&ws, &["--failures", "--run", "1"], &["A-1"])?;
    report(&ws, &["--failures", "--run", "2"], &["A-4"])?;
    // Unchanged records are not touched by a run that finds nothing to send.
    report(&ws, &["--successes", "--run", "1"], &["A-2", "A-3"])?;
    report(&ws, &["--successes", "--run", "2"], &[])?;
    let unknown = ws.admin(&["report", "--failures", "--run", "9", "out.csv"])?;
    expect_code(&unknown, 2)?;
    assert!(super::stderr(&unknown).contains("--run 9"));
    assert!(!ws.path("out.csv").exists());
    Ok(())
}

#[test]
fn report_to_stdout_with_dash() -> TestResult {
    let ws = two_runs()?;
    let output = ws.admin(&["report", "--failures", "-"])?;
    expect_code(&output, 0)?;
    let text = stdout(&output);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
    let ids: Vec<&str> = lines.filter_map(|l| l.split(',').next()).collect();
    assert_eq!(ids, ["A-1", "A-4"]);
    Ok(())
}

#[test]
fn report_needs_exactly_one_kind() -> TestResult {
    let ws = Workspace::new(&[])?;
    expect_code(&ws.admin(&["report", "out.csv"])?, 2)?;
    expect_code(
        &ws.admin(&["report", "--failures", "--successes", "out.csv"])?,
        2,
    )?;
    Ok(())
}

#[test]
fn a_reader_closing_the_pipe_early_is_not_an_error() -> TestResult {
    let ws = two_runs()?;
    for args in [vec!["status"], vec!["status", "--json"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_referral-sync"))
            .current_dir(ws.dir.path())
            .args(&args)
            .args(["--ledger", "ledger.db"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        drop(child.stdout.take());
        let output = child.wait_with_output()?;
        expect_code(&output, 0)?;
        assert!(!super::stderr(&output).contains("panicked"));
    }
    Ok(())
}
