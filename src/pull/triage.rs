//! `triage --decisions FILE`: accept or decline the referrals Microsoft (or another partner)
//! shared with us, each exactly once.
//!
//! The decisions file is read whole first ([`decisions`]): its bad rows are named and left
//! out, the good ones go. Under the ledger's lock, decisions an earlier run left open (`sent`
//! or `pending`, say after a crash) are finished first, each by reading the referral before
//! anything is sent; then the file's rows, in order, one at a time ([`apply`]). Decisions the
//! ledger holds as ended cost no request. The run is recorded in the ledger's `runs` table,
//! and its [`summary`] printed on stderr (and written with `--summary-json`).

pub mod apply;
pub mod decisions;
pub mod standing;
pub mod summary;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use self::apply::{Halt, Item, Triage};
use self::decisions::Decisions;
use self::summary::Summary;
use crate::api::stop::interrupt_signal;
use crate::api::{ADAPTIVE_START, Api, ApiClient, SendSettings, runtime};
use crate::cli::TriageArgs;
use crate::ledger::{self, Ledger, RunId, TriageState};
use crate::output_file::check_summary_path;
use crate::{Error, Exit};

/// Stop after this many decisions in a row found the API unreachable or failing.
const BREAKER: u32 = 5;

/// `triage`: see the command's `--help`.
pub fn triage_command(args: TriageArgs) -> Result<Exit, Error> {
    let settings = SendSettings {
        rate: args.rate.unwrap_or(ADAPTIVE_START),
        burst: 1,
        adaptive: args.rate.is_none(),
        concurrency: 1,
        max_retries: args.max_retries,
        breaker: BREAKER,
    };
    settings.check()?;
    check_summary_path(args.summary_json.as_deref())?;
    let decisions = decisions::read(&args.decisions)?;
    for problem in &decisions.problems {
        crate::console::note(problem);
    }
    let command = ledger::redact_args(&std::env::args().collect::<Vec<_>>());
    let _lock = ledger::lock_with_command(&args.ledger, &command)?;
    let mut ledger = Ledger::open(&args.ledger)?;
    let started = Instant::now();
    let items = work(&ledger, &decisions)?;
    if items.is_empty() {
        crate::console::note("no decision to carry out");
        let summary = Summary {
            invalid_rows: decisions.problems.len() as u64,
            ..Summary::default()
        };
        return finish(&summary, None, args.summary_json.as_deref());
    }
    let (mut summary, halt) = runtime()?.block_on(async {
        let api = Api::connect(&args.api, &args.ledger, &settings).await?;
        let run = ledger.start_run(&command)?;
        let ended = carry_out(&api.client, &mut ledger, run, &items).await;
        api.close().await;
        let (mut summary, halt) = ended?;
        summary.invalid_rows = decisions.problems.len() as u64;
        summary.elapsed_seconds = started.elapsed().as_secs_f64();
        let exit = exit_of(&summary, halt.as_ref());
        let counts = serde_json::to_string(&summary).unwrap_or_default();
        ledger.finish_run(run, &counts, exit as i32)?;
        Ok::<_, Error>((summary, halt))
    })?;
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    finish(&summary, halt, args.summary_json.as_deref())
}

/// Every decision of the run: the ledger's open ones first, then the file's rows. A ledger
/// failure ends the run at once; an interrupt or an abort is returned beside the summary.
async fn carry_out(
    client: &ApiClient,
    ledger: &mut Ledger,
    run: RunId,
    items: &[Item],
) -> Result<(Summary, Option<Halt>), Error> {
    let stop = client.stop_signal().clone();
    let signals = tokio::spawn(async move {
        interrupt_signal().await;
        tracing::warn!("interrupted: no new request is sent; the decision at hand is recorded");
        stop.stop();
    });
    let mut summary = Summary::default();
    let mut halt = None;
    let mut unanswered = 0;
    let mut triage = Triage {
        client,
        ledger,
        run,
    };
    for item in items {
        if client.stop_signal().is_stopped() {
            halt = Some(Halt::Interrupted);
            break;
        }
        match triage.decide(item).await {
            Ok(reported) => {
                unanswered = if reported.unanswered {
                    unanswered + 1
                } else {
                    0
                };
                let last = reported.detail.clone().unwrap_or_default();
                summary.record(reported);
                if unanswered >= BREAKER {
                    let reason = format!("{unanswered} decisions in a row failed; last: {last}");
                    halt = Some(Halt::Aborted(reason));
                    break;
                }
            }
            Err(err) => {
                halt = Some(err);
                break;
            }
        }
    }
    signals.abort();
    summary.requests = client
        .stats()
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    match halt {
        Some(Halt::Ledger(err)) => Err(err.into()),
        other => Ok((summary, other)),
    }
}

/// The decisions to carry out: those an earlier run left `sent` or `pending` and the file
/// does not list again (with what the ledger recorded), then the file's rows.
fn work(ledger: &Ledger, decisions: &Decisions) -> Result<Vec<Item>, Error> {
    let listed: HashSet<&str> = decisions
        .rows
        .iter()
        .map(|row| row.referral_id.as_str())
        .collect();
    let open = ledger.triage_in(&[TriageState::Sent, TriageState::Pending])?;
    let mut items: Vec<Item> = open
        .into_iter()
        .filter(|entry| !listed.contains(entry.referral_id.as_str()))
        .map(|entry| Item {
            referral_id: entry.referral_id,
            decision: entry.decision,
            reason: entry.reason,
            source: entry.source,
        })
        .collect();
    if !items.is_empty() {
        tracing::info!(
            count = items.len(),
            "finishing decisions an earlier run left unanswered (each is read first)"
        );
    }
    items.extend(decisions.rows.iter().map(|row| Item {
        referral_id: row.referral_id.clone(),
        decision: row.decision,
        reason: row.reason.clone(),
        source: Some(row.location()),
    }));
    Ok(items)
}

fn exit_of(summary: &Summary, halt: Option<&Halt>) -> Exit {
    match halt {
        Some(Halt::Interrupted) => Exit::Interrupted,
        Some(Halt::Aborted(_)) => Exit::Aborted,
        Some(Halt::Ledger(_)) => Exit::Usage,
        None => summary.exit(),
    }
}

/// Print the summary (and write it as JSON), and turn the run's end into its exit code.
fn finish(summary: &Summary, halt: Option<Halt>, json: Option<&Path>) -> Result<Exit, Error> {
    let _ = writeln!(std::io::stderr(), "{summary}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(summary).unwrap_or_default();
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    match halt {
        Some(Halt::Aborted(reason)) => Err(Error::Aborted { reason }),
        Some(Halt::Ledger(err)) => Err(err.into()),
        other => Ok(exit_of(summary, other.as_ref())),
    }
}
