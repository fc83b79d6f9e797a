//! `report`: CSV files an admin can open in a spreadsheet or hand back to the CRM team: what
//! failed and why (with the export file and row to fix), what was synced, or the whole
//! externalReferenceId → referral id mapping.
//!
//! The columns are stable (scripts read them) and listed in [`COLUMNS`]; the rows are exactly
//! the ledger records in the report's state, one per externalReferenceId, in id order.

use std::io::Write;

use crate::cli::ReportArgs;
use crate::ledger::{LedgerRecord, ReportKind, RunId};
use crate::output_file::{Writes, check_writable};
use crate::{Error, Exit};

use super::spreadsheet::SpreadsheetCsv;
use super::{open_ledger, write_output};

/// The header of every report, in order. Empty cells mean "not known" (no referral yet, no
/// error, no source row).
pub const COLUMNS: [&str; 15] = [
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
    let count = records.len();
    write_output(&args.output, |out| write_csv(out, &records))?;
    if args.output.as_os_str() != "-" {
        tracing::info!("{}: {count} record(s) written", args.output.display());
    }
    Ok(Exit::Success)
}

/// Write `records` as a report CSV (header [`COLUMNS`], one row per record).
pub fn write_csv(out: impl Write, records: &[LedgerRecord]) -> std::io::Result<()> {
    let mut writer = SpreadsheetCsv::new(out, &COLUMNS)?;
    for record in records {
        writer.row(row(record))?;
    }
    writer.flush()
}

/// One record's cells, in [`COLUMNS`] order.
pub fn row(r: &LedgerRecord) -> [String; 15] {
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
    ]
}
