//! `status`: what the ledger holds, for an admin's first look in the morning (or a monitoring
//! check reading `--json`): records per state, the last runs, and the records that have been
//! waiting longest (pending, in flight, failed).

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use super::{open_ledger, stdout_done};
use crate::cli::StatusArgs;
use crate::ledger::{Ledger, LedgerRecord, RunRecord, State, StateCounts};
use crate::{Error, Exit};

/// How many runs `status` lists.
const RUNS_SHOWN: u32 = 10;
/// How many of the oldest records per waiting state `status` lists.
const OLDEST_SHOWN: u32 = 5;

/// What `status --json` prints (field names are part of the CLI's contract).
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub ledger: String,
    pub total: u64,
    pub counts: StateCounts,
    /// Newest first.
    pub runs: Vec<RunView>,
    pub oldest_pending: Vec<RecordView>,
    pub oldest_in_flight: Vec<RecordView>,
    pub oldest_failed: Vec<RecordView>,
}

/// One run, with its summary counts as JSON rather than text.
#[derive(Debug, Serialize)]
pub struct RunView {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub args: String,
    pub counts: Option<Value>,
}

/// One waiting record, as `status` shows it.
#[derive(Debug, Serialize)]
pub struct RecordView {
    pub external_id: String,
    pub state: State,
    pub referral_id: Option<String>,
    pub attempts: u32,
    pub updated_at: String,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub source: Option<String>,
}

impl From<RunRecord> for RunView {
    fn from(run: RunRecord) -> Self {
        RunView {
            id: run.id.0,
            started_at: run.started_at,
            finished_at: run.finished_at,
            exit_code: run.exit_code,
            args: run.args,
            counts: run.counts.and_then(|c| serde_json::from_str(&c).ok()),
        }
    }
}

impl From<LedgerRecord> for RecordView {
    fn from(r: LedgerRecord) -> Self {
        RecordView {
            source: r.source.map(|s| format!("{}:{}", s.file, s.row)),
            updated_at: format!("{:.0}", r.updated_at),
            external_id: r.external_id,
            state: r.state,
            referral_id: r.referral_id,
            attempts: r.attempts,
            last_error_code: r.last_error_code,
            last_error_message: r.last_error_message,
        }
    }
}

/// `status`: see the command's `--help`.
pub fn status_command(args: StatusArgs) -> Result<Exit, Error> {
    let ledger = open_ledger(&args.ledger)?;
    let report = collect(&ledger)?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(&mut out, &report)
    };
    stdout_done(written)?;
    Ok(Exit::Success)
}

/// Read everything `status` shows from the ledger.
pub fn collect(ledger: &Ledger) -> Result<StatusReport, Error> {
    let counts = ledger.counts_by_state()?;
    let oldest = |state| -> Result<Vec<RecordView>, Error> {
        let records = ledger.oldest(state, OLDEST_SHOWN)?;
        Ok(records.into_iter().map(RecordView::from).collect())
    };
    Ok(StatusReport {
        ledger: ledger.path().display().to_string(),
        total: counts.pending
            + counts.in_flight
            + counts.synced
            + counts.failed_retryable
            + counts.failed_permanent,
        counts,
        runs: ledger
            .runs(RUNS_SHOWN)?
            .into_iter()
            .map(RunView::from)
            .collect(),
        oldest_pending: oldest(State::Pending)?,
        oldest_in_flight: oldest(State::InFlight)?,
        oldest_failed: oldest(State::Failed)?,
    })
}

/// The human-readable form: a state table, the runs, the oldest waiting records.
fn write_text(out: &mut impl Write, report: &StatusReport) -> std::io::Result<()> {
    let c = &report.counts;
    writeln!(out, "ledger: {}", report.ledger)?;
    writeln!(out)?;
    writeln!(out, "{:<20} {:>10}", "state", "records")?;
    for (name, n) in [
        ("pending", c.pending),
        ("in flight", c.in_flight),
        ("synced", c.synced),
        ("failed (retryable)", c.failed_retryable),
        ("failed (permanent)", c.failed_permanent),
        ("total", report.total),
    ] {
        writeln!(out, "{name:<20} {n:>10}")?;
    }
    writeln!(out)?;
    write_runs(out, &report.runs)?;
    write_notices(out, &report.runs)?;
    for (title, records) in [
        ("oldest pending", &report.oldest_pending),
        ("oldest in flight", &report.oldest_in_flight),
        ("oldest failed", &report.oldest_failed),
    ] {
        if !records.is_empty() {
            writeln!(out)?;
            writeln!(out, "{title}:")?;
            for r in records {
                writeln!(out, "  {}", record_line(r))?;
            }
        }
    }
    Ok(())
}

fn write_runs(out: &mut impl Write, runs: &[RunView]) -> std::io::Result<()> {
    if runs.is_empty() {
        return writeln!(out, "no runs yet");
    }
    writeln!(out, "last runs (newest first):")?;
    for run in runs {
        let end = run.finished_at.as_deref().unwrap_or("not finished");
        let exit = run
            .exit_code
            .map_or_else(|| "-".to_owned(), |c| c.to_string());
        writeln!(
            out,
            "  run {:>4}  {} .. {}  exit {exit}  {}",
            run.id,
            run.started_at,
            end,
            counts_text(run.counts.as_ref())
        )?;
    }
    Ok(())
}

/// The `not_updatable` and `closed_in_partner_center` notices of the newest run that has any:
/// changes that were not sent, with the field and the reason (they are not failures).
fn write_notices(out: &mut impl Write, runs: &[RunView]) -> std::io::Result<()> {
    let newest = runs.iter().find_map(|run| {
        let notices = run.counts.as_ref()?.get("notices")?.as_array()?;
        (!notices.is_empty()).then_some((run.id, notices))
    });
    let Some((run, notices)) = newest else {
        return Ok(());
    };
    writeln!(out)?;
    writeln!(
        out,
        "not sent in run {run} (Partner Center would refuse them):"
    )?;
    for notice in notices {
        let text = |key: &str| notice.get(key).and_then(Value::as_str).unwrap_or_default();
        writeln!(
            out,
            "  {}  {}  {}: {}",
            text("kind"),
            text("external_id"),
            text("field"),
            text("reason")
        )?;
    }
    Ok(())
}

/// `created 3, failed 1, …` from a run's summary counts (the non-zero integers).
fn counts_text(counts: Option<&Value>) -> String {
    let Some(Value::Object(map)) = counts else {
        return String::new();
    };
    map.iter()
        .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| format!("{k} {n}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn record_line(r: &RecordView) -> String {
    let mut line = format!(
        "{}  since {}  attempts {}",
        r.external_id, r.updated_at, r.attempts
    );
    if let Some(source) = &r.source {
        line.push_str(&format!("  ({source})"));
    }
    match (&r.last_error_code, &r.last_error_message) {
        (Some(code), Some(message)) => line.push_str(&format!("  {code}: {message}")),
        (None, Some(message)) => line.push_str(&format!("  {message}")),
        (Some(code), None) => line.push_str(&format!("  {code}")),
        (None, None) => {}
    }
    line
}
