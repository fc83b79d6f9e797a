//! One upload run from start to end: read the export on a blocking thread, plan each record
//! against the ledger, hand the work to a bounded pool of async workers, and write the run's
//! record and summary whatever happens (success, failures, abort, Ctrl-C).
//!
//! Memory stays flat in the number of rows: the reader blocks on a bounded channel, and at
//! most `concurrency` records are in flight at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::engine::{Control, Engine, Job};
use super::plan::{Plan, plan};
use super::progress::{self, Progress};
use super::row_log::RowLog;
use super::summary::{Counters, Summary, bump};
use crate::api::client::ApiClient;
use crate::api::stop::interrupt_signal;
use crate::ledger::{Ledger, LedgerError, LedgerWriter, RunId, State, SyncEntry, WriterOptions};
use crate::mapping::payload_hash;
use crate::mapping::{Evaluated, MappedRecord, RowOutcome, Rows};
use crate::source::Row;
use crate::{Error, Exit};

/// What a run needs beyond its records.
pub struct RunSetup {
    pub client: ApiClient,
    pub concurrency: usize,
    pub breaker: u32,
    pub limit: Option<u64>,
    pub quiet: bool,
    /// How far the reading of the export is, for the progress bar (none for `retry`).
    pub meter: Option<Arc<crate::source::Meter>>,
}

/// How a run ended.
pub struct RunEnd {
    pub summary: Summary,
    pub exit: Exit,
    pub abort: Option<String>,
}

/// Where a run's work comes from.
pub enum Feed {
    /// Rows of an export, planned against the ledger as they are read.
    Export(Box<Rows>),
    /// Jobs planned already (`retry`).
    Jobs(Vec<Job>),
}

/// Upload `feed`, recording everything in `ledger` under `run`. `reads` is a second
/// connection to the same ledger for the reader thread.
pub async fn upload_records(
    setup: RunSetup,
    ledger: Ledger,
    reads: Ledger,
    run: RunId,
    feed: Feed,
) -> Result<(RunEnd, Ledger), Error> {
    let started = Instant::now();
    let counters = Arc::new(Counters::default());
    let control = Arc::new(Control::with_stop(setup.client.stop_signal().clone()));
    let in_flight = ledger.in_flight()?;
    let writer = LedgerWriter::spawn(ledger, WriterOptions::default())?;
    let signals = tokio::spawn(watch_signals(Arc::clone(&control)));
    let progress = Progress::start(
        setup.meter.clone(),
        progress::upload_status(Arc::clone(&counters)),
        progress::Mode::detect(setup.quiet),
    );

    let mut failure: Option<Error> = None;
    match super::settle::settle(&setup.client, &writer.handle(), run, in_flight).await {
        Ok(settled) => {
            counters
                .adopted
                .fetch_add(settled.adopted, Ordering::Relaxed);
        }
        Err(Error::Aborted { reason }) => control.abort(reason),
        Err(err) => failure = Some(err),
    }

    if failure.is_none() && control.running() {
        let engine = Arc::new(Engine {
            client: setup.client.clone(),
            writer: writer.handle(),
            run,
            counters: Arc::clone(&counters),
            control: Arc::clone(&control),
            breaker: setup.breaker.max(1),
        });
        if let Err(err) = pump(&setup, engine, reads, feed).await {
            failure = Some(err);
        }
    }

    signals.abort();
    progress.finish();
    let ledger = tokio::task::spawn_blocking(move || writer.close())
        .await
        .map_err(|e| Error::Other(anyhow::anyhow!("the ledger writer stopped: {e}")))?;
    if let Some(err) = failure {
        return Err(err);
    }
    let ledger = ledger?;
    let stats = setup.client.stats();
    counters
        .requests
        .store(stats.requests.load(Ordering::Relaxed), Ordering::Relaxed);
    counters
        .retries
        .store(stats.retries.load(Ordering::Relaxed), Ordering::Relaxed);
    counters
        .throttled
        .store(stats.throttled.load(Ordering::Relaxed), Ordering::Relaxed);
    let summary = counters.summary(started.elapsed());
    let abort = control.abort_reason();
    let exit = if abort.is_some() {
        Exit::Aborted
    } else if control.interrupted() {
        Exit::Interrupted
    } else if summary.failed > 0 {
        Exit::Partial
    } else {
        Exit::Success
    };
    Ok((
        RunEnd {
            summary,
            exit,
            abort,
        },
        ledger,
    ))
}

/// Feed planned jobs from the reader thread to at most `concurrency` workers at once.
async fn pump(
    setup: &RunSetup,
    engine: Arc<Engine>,
    reads: Ledger,
    feed: Feed,
) -> Result<(), Error> {
    let concurrency = setup.concurrency.max(1);
    let (tx, mut rx) = mpsc::channel::<Job>(concurrency * 2);
    let reader = {
        let counters = Arc::clone(&engine.counters);
        let control = Arc::clone(&engine.control);
        let limit = setup.limit;
        let (writer, run) = (engine.writer.clone(), engine.run);
        std::thread::spawn(move || match feed {
            Feed::Export(records) => {
                let log = RowLog::new(&reads, writer, run)?;
                read_jobs(*records, reads, log, tx, &counters, &control, limit)
            }
            Feed::Jobs(jobs) => {
                for job in jobs {
                    bump(&counters.rows);
                    if !control.running() || tx.blocking_send(job).is_err() {
                        break;
                    }
                }
                Ok(())
            }
        })
    };
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut tasks: JoinSet<Result<(), LedgerError>> = JoinSet::new();
    let mut ledger_error: Option<LedgerError> = None;
    while let Some(job) = rx.recv().await {
        if !engine.control.running() {
            break;
        }
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        // The run may have stopped while this job waited for a worker: it is not started.
        if !engine.control.running() {
            break;
        }
        let worker = Arc::clone(&engine);
        tasks.spawn(async move {
            let result = worker.process(job).await;
            drop(slot);
            result
        });
        while let Some(done) = tasks.try_join_next() {
            note(done, &engine.control, &mut ledger_error);
        }
    }
    drop(rx);
    while let Some(done) = tasks.join_next().await {
        note(done, &engine.control, &mut ledger_error);
    }
    let read = tokio::task::spawn_blocking(move || reader.join())
        .await
        .map_err(|e| Error::Other(anyhow::anyhow!("the reader stopped: {e}")))?;
    if let Some(err) = ledger_error {
        return Err(Error::Aborted {
            reason: format!("the ledger could not be written, nothing more was sent: {err}"),
        });
    }
    match read {
        Ok(result) => result,
        Err(_) => Err(Error::Other(anyhow::anyhow!("the reader thread panicked"))),
    }
}

fn note(
    done: Result<Result<(), LedgerError>, tokio::task::JoinError>,
    control: &Control,
    ledger_error: &mut Option<LedgerError>,
) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            control.abort(format!("ledger: {err}"));
            ledger_error.get_or_insert(err);
        }
        Err(err) => control.abort(format!("a worker stopped: {err}")),
    }
}

/// The reader thread: map rows, skip what is unchanged, send the rest as jobs.
///
/// A row is hashed from the mapping's payload tree as it is evaluated; a row the ledger holds
/// as synced with that hash is counted unchanged without its payload ever becoming a
/// `serde_json::Value` (the common case of a nightly re-run).
fn read_jobs(
    mut rows: Rows,
    reads: Ledger,
    mut log: RowLog,
    tx: mpsc::Sender<Job>,
    counters: &Counters,
    control: &Control,
    limit: Option<u64>,
) -> Result<(), Error> {
    let index: HashMap<String, SyncEntry> = reads.load_sync_index()?;
    for seen in 0u64.. {
        if !control.running() || limit.is_some_and(|n| seen >= n) {
            break;
        }
        let next = rows.next_with(|evaluated, row| {
            log.seen(&row.file, row.row);
            read_step(evaluated, row, &index)
        });
        let Some(step) = next else {
            log.finish();
            break;
        };
        bump(&counters.rows);
        if !matches!(step, Step::Other(RowOutcome::Invalid(_))) {
            log.mapped();
        }
        let (record, hash) = match step {
            Step::Unchanged => {
                bump(&counters.unchanged);
                continue;
            }
            Step::Record(record, hash) => (record, hash),
            Step::Other(RowOutcome::Mapped(record)) => {
                let hash = record.payload_hash();
                (record, hash)
            }
            Step::Other(RowOutcome::Skipped { .. }) => {
                bump(&counters.skipped);
                continue;
            }
            Step::Other(RowOutcome::Invalid(failure)) => {
                bump(&counters.failed);
                log.invalid(&failure);
                for line in failure.to_string().lines() {
                    tracing::warn!("{line}");
                }
                continue;
            }
        };
        let full = match index.get(&record.external_id) {
            Some(_) => reads.get(&record.external_id)?,
            None => None,
        };
        let plan = plan(full.as_ref(), &record, &hash);
        if plan == Plan::Unchanged {
            bump(&counters.unchanged);
            continue;
        }
        if tx.blocking_send(Job { record, hash, plan }).is_err() {
            break;
        }
    }
    Ok(())
}

/// What the reader makes of one row.
enum Step {
    /// Synced already with this very payload.
    Unchanged,
    /// A mapped record to plan, with its payload hash.
    Record(MappedRecord, String),
    /// Anything else (skipped or invalid rows).
    Other(RowOutcome),
}

fn read_step(evaluated: Evaluated<'_>, row: &Row, index: &HashMap<String, SyncEntry>) -> Step {
    let Evaluated::Mapped {
        external_id,
        referral,
        connected,
    } = evaluated
    else {
        return Step::Other(evaluated.into_outcome(row));
    };
    let hash = payload_hash(&referral, connected.as_ref());
    let unchanged = index.get(external_id.as_ref()).is_some_and(|entry| {
        entry.state == State::Synced && entry.payload_hash.as_deref() == Some(hash.as_str())
    });
    if unchanged {
        return Step::Unchanged;
    }
    let mapped = Evaluated::Mapped {
        external_id,
        referral,
        connected,
    };
    match mapped.into_outcome(row) {
        RowOutcome::Mapped(record) => Step::Record(record, hash),
        other => Step::Other(other),
    }
}

/// Wait for Ctrl-C or SIGTERM, then ask the run to stop reading.
async fn watch_signals(control: Arc<Control>) {
    interrupt_signal().await;
    tracing::warn!(
        "interrupted: no new request is sent and every wait ends; requests in flight finish"
    );
    control.interrupt();
}
