//! `report`: CSV files an admin can open in a spreadsheet or hand back to the CRM team: what
//! failed and why (with the export file and row to fix), what was synced, or the whole
//! externalReferenceId → referral id mapping.
//!
//! The columns are stable (scripts read them) and listed in [`COLUMNS`]; the rows are exactly
//! the ledger records in the report's state, one per externalReferenceId, in id order.

use std::io::Write;

use crate::cli::ReportArgs;
use crate::ledger::{LedgerRecord, ReportKind, RunId};
use crate::{Error, Exit};

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
    // Changes not sent because Partner Center would refuse them sit beside the failures.
    let notices = match kind {
        ReportKind::Failures => super::notices::notice_rows(&ledger, args.run.map(RunId))?,
        _ => Vec::new(),
    };
    let count = records.len() + notices.len();
    write_output(&args.output, |out| write_csv_with(out, &records, &notices))?;
    if args.output.as_os_str() != "-" {
        tracing::info!("{}: {count} record(s) written", args.output.display());
    }
    Ok(Exit::Success)
}

/// Write `records` as a report CSV (header [`COLUMNS`], one row per record).
pub fn write_csv(out: impl Write, records: &[LedgerRecord]) -> std::io::Result<()> {
    write_csv_with(out, records, &[])
}

/// [`write_csv`], then the ready-made rows `extra` (the notices of the failures report).
fn write_csv_with(
    out: impl Write,
    records: &[LedgerRecord],
    extra: &[[String; COLUMNS.len()]],
) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for record in records {
        writer.write_record(row(record))?;
    }
    for cells in extra {
        writer.write_record(cells)?;
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
