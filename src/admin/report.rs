//! `report`: CSV files an admin can open in a spreadsheet or hand back to the CRM team: what
//! failed and why (with the export file and row to fix), what was synced, or the whole
//! externalReferenceId → referral id mapping.
//!
//! The columns are stable (scripts read them; `field` was added last) and listed in
//! [`COLUMNS`]; the rows are exactly the ledger records in the report's state, one per
//! externalReferenceId, in id order. `--failures` then lists every problem of the export rows
//! that failed mapping or validation (state `invalid`, failure kind `row`, with the file, row
//! and field to fix), until a later upload maps that row.

use std::io::Write;

use crate::cli::ReportArgs;
use crate::ledger::{LedgerRecord, ReportKind, RowErrorRecord, RunId};
use crate::output_file::{Writes, check_writable};
use crate::{Error, Exit};

use super::spreadsheet::SpreadsheetCsv;
use super::{open_ledger, write_output};

/// The header of every report, in order. Empty cells mean "not known" (no referral yet, no
/// error, no source row).
pub const COLUMNS: [&str; 16] = [
    "externalReferenceId",
    "referralId",
    "engagementId",
    "connectedReferralId",
    "state",
    "failureKind",
    "attempts",
    "lastHttpStatus",
    "lastErrorCode",
    "lastErrorMessage",
    "sourceFile",
    "sourceRow",
    "updatedAt",
    "syncedAt",
    "lastRun",
    "field",
];

/// `report`: see the command's `--help`.
pub fn report_command(args: ReportArgs) -> Result<Exit, Error> {
    let kind = if args.failures {
        ReportKind::Failures
    } else if args.successes {
        ReportKind::Successes
    } else {
        ReportKind::Mappings
    };
    check_writable("report", &args.output, Writes::ByRename)?;
    let ledger = open_ledger(&args.ledger)?;
    if let Some(run) = args.run {
        let known = ledger.runs(u32::MAX)?.iter().any(|r| r.id == RunId(run));
        if !known {
            return Err(Error::usage(format!(
                "--run {run}: ledger {} has no such run (`status` lists the runs)",
                args.ledger.display()
            )));
        }
    }
    let records = ledger.records_for_report(kind, args.run.map(RunId))?;
    let row_errors = match kind {
        ReportKind::Failures => ledger.row_errors(args.run.map(RunId))?,
        _ => Vec::new(),
    };
    // Changes not sent because Partner Center would refuse them sit beside the failures.
    let notices = match kind {
        ReportKind::Failures => super::notices::notice_rows(&ledger, args.run.map(RunId))?,
        _ => Vec::new(),
    };
    let count = records.len() + row_errors.len() + notices.len();
    write_output(&args.output, |out| {
        write_csv_with(out, &records, &row_errors, &notices)
    })?;
    if args.output.as_os_str() != "-" {
        tracing::info!("{}: {count} record(s) written", args.output.display());
    }
    Ok(Exit::Success)
}

/// Write `records` as a report CSV (header [`COLUMNS`], one row per record), then one row
/// per problem of each invalid export row.
pub fn write_csv(
    out: impl Write,
    records: &[LedgerRecord],
    row_errors: &[RowErrorRecord],
) -> std::io::Result<()> {
    write_csv_with(out, records, row_errors, &[])
}

/// [`write_csv`], then the ready-made rows `extra` (the notices of the failures report).
fn write_csv_with(
    out: impl Write,
    records: &[LedgerRecord],
    row_errors: &[RowErrorRecord],
    extra: &[[String; COLUMNS.len()]],
) -> std::io::Result<()> {
    let mut writer = SpreadsheetCsv::new(out, &COLUMNS)?;
    for record in records {
        writer.row(row(record))?;
    }
    for error in row_errors {
        writer.row(row_error(error))?;
    }
    for cells in extra {
        writer.row(cells.clone())?;
    }
    writer.flush()
}

/// One problem of an invalid export row, in [`COLUMNS`] order: state `invalid`, failure
/// kind `row` (no request was made; fix the row in the CRM), the field in `field`.
pub fn row_error(e: &RowErrorRecord) -> [String; 16] {
    let message = match &e.problem.column {
        Some(column) => format!("{} (column {column:?})", e.problem.message),
        None => e.problem.message.clone(),
    };
    let mut cells: [String; 16] = Default::default();
    cells[4] = "invalid".to_owned();
    cells[5] = "row".to_owned();
    cells[9] = message;
    cells[10] = e.file.clone();
    cells[11] = e.row.to_string();
    cells[12] = e.at.clone();
    cells[14] = e.run.map(|run| run.to_string()).unwrap_or_default();
    cells[15] = e.problem.field.clone();
    cells
}

/// One record's cells, in [`COLUMNS`] order.
pub fn row(r: &LedgerRecord) -> [String; 16] {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let (file, line) = match &r.source {
        Some(s) => (s.file.clone(), s.row.to_string()),
        None => (String::new(), String::new()),
    };
    [
        r.external_id.clone(),
        text(&r.referral_id),
        text(&r.engagement_id),
        text(&r.connected_referral_id),
        r.state.to_string(),
        r.failure_kind.map(|k| k.to_string()).unwrap_or_default(),
        r.attempts.to_string(),
        r.last_http_status
            .map(|s| s.to_string())
            .unwrap_or_default(),
        text(&r.last_error_code),
        text(&r.last_error_message),
        file,
        line,
        format!("{:.0}", r.updated_at),
        r.synced_at.map(|t| format!("{t:.0}")).unwrap_or_default(),
        r.last_run.map(|run| run.to_string()).unwrap_or_default(),
        String::new(),
    ]
}
