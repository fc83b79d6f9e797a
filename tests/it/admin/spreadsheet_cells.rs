//! Cells a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, carriage return first) are
//! neutralised with a leading single quote in every CSV written for people: the reports and
//! `reconcile --output`. Plain numbers stay numbers.

use referral_sync::admin::reconcile::join::{Category, Finding};
use referral_sync::admin::reconcile::output::write_csv;
use referral_sync::ledger::{FailureKind, Ledger, Step};

use crate::common::sandbox::TestResult;
use crate::common::upload::bare_command;
use crate::ledger::{failed, in_flight};

#[test]
fn a_failures_report_neutralises_formula_cells_from_the_crm_and_the_api() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path)?;
    let run = ledger.start_run("upload")?;
    ledger.mark_in_flight(in_flight("@SUM(1+1)", Step::Create, run))?;
    ledger.mark_failed(referral_sync::ledger::Failed {
        message: "=HYPERLINK(\"http://evil.example\",\"details\")".into(),
        ..failed("@SUM(1+1)", FailureKind::Permanent, run)
    })?;
    drop(ledger);

    let out = dir.path().join("failures.csv");
    let status = bare_command()
        .args(["report", "--failures"])
        .arg(&out)
        .arg("--ledger")
        .arg(&path)
        .status()?;
    assert_eq!(status.code(), Some(0));
    let mut reader = csv::Reader::from_path(&out)?;
    let header = reader.headers()?.clone();
    let row = reader.records().next().ok_or("no row")??;
    let cell = |name: &str| {
        let at = header.iter().position(|h| h == name).unwrap_or(usize::MAX);
        row.get(at).unwrap_or_default().to_owned()
    };
    assert_eq!(cell("externalReferenceId"), "'@SUM(1+1)");
    assert_eq!(
        cell("lastErrorMessage"),
        "'=HYPERLINK(\"http://evil.example\",\"details\")"
    );
    assert_eq!(cell("lastHttpStatus"), "400");
    Ok(())
}

#[test]
fn reconcile_output_neutralises_formula_cells() -> TestResult {
    let finding = Finding {
        category: Category::GoneFromExport,
        external_id: "-2+3".into(),
        referral_id: Some("+referral".into()),
        ledger_state: None,
        crm_status: Some("\t=1".into()),
        api_status: Some("-5".into()),
        source: Some("\r=cmd".into()),
        adopted: false,
        detail: "Contoso = big".into(),
    };
    let mut out = Vec::new();
    write_csv(&mut out, &[finding])?;
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let row = reader.records().next().ok_or("no row")??;
    let cells: Vec<&str> = row.iter().collect();
    assert_eq!(
        cells[1..7],
        ["'-2+3", "'+referral", "", "'\t=1", "-5", "'\r=cmd"]
    );
    assert_eq!(cells[8], "Contoso = big");
    Ok(())
}
