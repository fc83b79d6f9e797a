//! The uploader: rate-limited, retrying, exactly-once submission of mapped records, with
//! every outcome recorded in the ledger.
//!
//! `upload` reads an export through a mapping; `retry` resends failed records from the
//! payloads the ledger stored. Both run the same engine (`engine.rs`) under the same run
//! frame (`run.rs`), set up here from validated arguments.

pub mod diff;
pub mod engine;
pub mod plan;
pub mod progress;
mod retry_command;
mod row_log;
pub mod run;
pub mod settle;
pub mod summary;
pub mod unpatchable;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use self::run::{Feed, RunEnd, RunSetup, upload_records};
use crate::api::{ADAPTIVE_START, Api, SendSettings, runtime};
use crate::cli::UploadArgs;
use crate::ledger::{self, Ledger, LedgerLock};
use crate::output_file::check_summary_path;
use crate::source::SourceOptions;
use crate::{Error, Exit};

pub use self::retry_command::retry_command;

/// `upload`: see the command's `--help`.
pub fn upload_command(args: UploadArgs, quiet: bool) -> Result<Exit, Error> {
    let settings = SendSettings {
        rate: args.rate.unwrap_or(ADAPTIVE_START),
        burst: args.burst,
        adaptive: args.adaptive || args.rate.is_none(),
        concurrency: args.concurrency,
        max_retries: args.max_retries,
        breaker: args.circuit_breaker,
    };
    settings.check()?;
    check_summary_path(args.summary_json.as_deref())?;
    let mapping = crate::preview::load_mapping(&args.mapping, &args.lookup)?;
    let mut source_options = SourceOptions::from_args(&args.input_args)?;
    let meter = crate::source::Meter::for_inputs(&args.inputs);
    source_options.meter = Some(Arc::clone(&meter));
    let records = crate::mapping::records(&mapping, &args.inputs, &source_options)?;
    if args.dry_run {
        return dry_run(&args.ledger, records);
    }
    let session = Session::open(&args.ledger)?;
    let runtime = runtime()?;
    runtime.block_on(async move {
        let api = Api::connect(&args.api, &args.ledger, &settings).await?;
        let setup = RunSetup {
            client: api.client.clone(),
            concurrency: settings.concurrency,
            breaker: settings.breaker,
            limit: args.limit,
            quiet,
            meter: Some(meter),
        };
        let result = session.run(setup, Feed::Export(Box::new(records))).await;
        api.close().await;
        finish(result?, args.summary_json.as_deref())
    })
}

/// The ledger of a run: its lock, its writing and reading connections, and the run's record.
///
/// The lock is the last field: it is dropped after both connections (see [`LedgerLock`]).
pub(crate) struct Session {
    ledger: Ledger,
    reads: Ledger,
    command: String,
    _lock: LedgerLock,
}

impl Session {
    /// Lock the ledger at `path` (creating it when missing) and open it.
    pub(crate) fn open(path: &Path) -> Result<Session, Error> {
        Session::open_with(path, ledger::lock_with_command)
    }

    /// Lock and open the ledger at `path`, which must exist (`retry`).
    pub(crate) fn open_existing(path: &Path) -> Result<Session, Error> {
        Session::open_with(path, ledger::lock_existing_with_command)
    }

    fn open_with(
        path: &Path,
        lock: fn(&Path, &str) -> Result<LedgerLock, ledger::LedgerError>,
    ) -> Result<Session, Error> {
        let args: Vec<String> = std::env::args().collect();
        let command = ledger::redact_args(&args);
        let lock = lock(path, &command)?;
        let ledger = Ledger::open(path)?;
        let reads = Ledger::open(path)?;
        Ok(Session {
            ledger,
            reads,
            command,
            _lock: lock,
        })
    }

    /// Record the run, carry it out, and record how it ended.
    pub(crate) async fn run(mut self, setup: RunSetup, feed: Feed) -> Result<RunEnd, Error> {
        let run = self.ledger.start_run(&self.command)?;
        let (end, mut ledger) = upload_records(setup, self.ledger, self.reads, run, feed).await?;
        let counts = serde_json::to_string(&end.summary).unwrap_or_default();
        ledger.finish_run(run, &counts, end.exit as i32)?;
        Ok(end)
    }
}

/// Print the summary (and write it as JSON), and turn the run's end into its exit code.
pub(crate) fn finish(end: RunEnd, summary_json: Option<&Path>) -> Result<Exit, Error> {
    // A log that cannot be written (a full disk under it) must not turn a finished run into a
    // panic: the ledger and the summary file hold the outcome.
    let _ = writeln!(std::io::stderr(), "{}", end.summary);
    if let Some(path) = summary_json {
        let text = serde_json::to_string_pretty(&end.summary).unwrap_or_default();
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    if let Some(reason) = end.abort {
        return Err(Error::Aborted { reason });
    }
    Ok(end.exit)
}

/// `--dry-run`: map and plan every record against the ledger; no request, no write.
fn dry_run<I>(ledger_path: &Path, records: I) -> Result<Exit, Error>
where
    I: Iterator<Item = crate::mapping::RowOutcome>,
{
    use crate::mapping::RowOutcome;
    let ledger = match Ledger::open_existing(ledger_path) {
        Ok(ledger) => Some(ledger),
        Err(ledger::LedgerError::Missing { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let (mut create, mut update, mut unchanged, mut skipped, mut invalid) = (0, 0, 0, 0, 0);
    for outcome in records {
        let record = match outcome {
            RowOutcome::Mapped(record) => record,
            RowOutcome::Skipped { .. } => {
                skipped += 1;
                continue;
            }
            RowOutcome::Invalid(failure) => {
                invalid += 1;
                crate::console::note(&failure);
                continue;
            }
        };
        let entry = match &ledger {
            Some(ledger) => ledger.get(&record.external_id)?,
            None => None,
        };
        let hash = record.payload_hash();
        let action = match plan::plan(entry.as_ref(), &record, &hash) {
            plan::Plan::Unchanged => {
                unchanged += 1;
                "unchanged"
            }
            plan::Plan::Create { .. } => {
                create += 1;
                "create"
            }
            plan::Plan::Connected { .. } | plan::Plan::Update { .. } => {
                update += 1;
                "update"
            }
        };
        let line = format_args!(
            "{action}\t{}\t{}:{}",
            record.external_id,
            record.file.display(),
            record.row
        );
        if !crate::console::say(line)? {
            break;
        }
    }
    crate::console::note(format_args!(
        "dry run: would create: {create}, would update: {update}, unchanged: {unchanged}, \
         skipped: {skipped}, invalid: {invalid}"
    ));
    Ok(if invalid > 0 {
        Exit::Partial
    } else {
        Exit::Success
    })
}
