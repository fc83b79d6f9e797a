//! Progress while a run goes: on a terminal an indicatif bar by bytes read (rows for
//! workbooks, whose position in the file is unknown) with a percentage, an ETA and the
//! outcome counts; off a terminal a plain log line every few seconds (cron jobs and CI
//! logs); nothing with `--quiet`.
//!
//! The display runs on a thread of its own, so `upload` (async) and `preview` (plain loop)
//! share it. What it shows is computed by [`Position`] and [`log_line`], which are pure.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::summary::Counters;
use crate::source::Meter;

/// How often the plain log line is written without a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// How often the bar is brought up to date.
const DRAW_EVERY: Duration = Duration::from_millis(200);

/// Rows read, rows finished (sent, unchanged, skipped or failed) and the counts to show
/// beside them (`created 3 updated 1 …`).
pub struct Tally {
    pub rows: u64,
    pub finished: u64,
    pub counts: String,
}

/// Reads the run's counters for the display.
pub type Status = Box<dyn Fn() -> Tally + Send>;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quiet,
    Bar,
    Log,
}

impl Mode {
    /// A bar when stderr is a terminal, log lines otherwise, nothing when quiet.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Log
        }
    }
}

/// Where a run is: bytes (or rows) done of a total, rows, and the time taken so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub done: u64,
    pub total: Option<u64>,
    pub rows: u64,
    pub elapsed: Duration,
}

impl Position {
    /// Where a run is by the meter (bytes) or, with no byte total, by rows. The reader runs
    /// ahead of the uploads, so the bytes done are those of the finished rows: the bytes read
    /// times the share of the rows read that are finished.
    pub fn now(meter: Option<&Meter>, tally: &Tally, elapsed: Duration) -> Position {
        let rows = tally.rows;
        match meter.map(Meter::bytes) {
            Some((read, Some(total))) => {
                let finished = tally.finished.min(rows);
                let done = (u128::from(read) * u128::from(finished))
                    .checked_div(u128::from(rows))
                    .map_or(0, |d| u64::try_from(d).unwrap_or(u64::MAX));
                Position {
                    done,
                    total: Some(total),
                    rows,
                    elapsed,
                }
            }
            _ => Position {
                done: tally.finished,
                total: None,
                rows,
                elapsed,
            },
        }
    }

    /// The share done, 0 to 1, when the total is known (an empty input is done).
    pub fn fraction(&self) -> Option<f64> {
        let total = self.total?;
        if total == 0 {
            return Some(1.0);
        }
        Some((self.done as f64 / total as f64).clamp(0.0, 1.0))
    }

    /// The time left at the pace so far; `None` before anything is done or without a total.
    pub fn eta(&self) -> Option<Duration> {
        let total = self.total?;
        if self.done == 0 {
            return None;
        }
        let left = total.saturating_sub(self.done) as f64;
        Some(self.elapsed.mul_f64(left / self.done as f64))
    }

    /// Rows per second so far.
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// The log line of a position: `progress: 42% (11.2 MiB of 26.6 MiB), eta 1 minute;
/// 12000 rows (400 rows/s), created …`; without a total, rows and rate only.
pub fn log_line(position: &Position, counts: &str) -> String {
    let rows = format!("{} rows ({:.0} rows/s)", position.rows, position.rate());
    let (Some(fraction), Some(total)) = (position.fraction(), position.total) else {
        return format!("progress: {rows}, {counts}");
    };
    let eta = match position.eta() {
        Some(eta) => format!("eta {}", HumanDuration(eta)),
        None => "eta unknown".to_owned(),
    };
    format!(
        "progress: {:.0}% ({} of {}), {eta}; {rows}, {counts}",
        fraction * 100.0,
        HumanBytes(position.done),
        HumanBytes(total)
    )
}

/// The counts of an upload, as the display shows them.
pub fn upload_status(counters: Arc<Counters>) -> Status {
    Box::new(move || Tally {
        rows: load(&counters.rows),
        finished: [
            &counters.created,
            &counters.updated,
            &counters.unchanged,
            &counters.skipped,
            &counters.failed,
        ]
        .into_iter()
        .map(load)
        .sum(),
        counts: format!(
            "created {} updated {} unchanged {} failed {} throttled {}",
            load(&counters.created),
            load(&counters.updated),
            load(&counters.unchanged),
            load(&counters.failed),
            load(&counters.throttled)
        ),
    })
}

/// A running progress display; `finish` stops it.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start showing progress: `meter` says how far the reading is (none: rows only),
    /// `status` gives the rows and counts.
    pub fn start(meter: Option<Arc<Meter>>, status: Status, mode: Mode) -> Progress {
        if mode == Mode::Quiet {
            return Progress {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("progress".to_owned())
            .spawn(move || show(meter, status, mode, stopped));
        match spawned {
            Ok(thread) => Progress {
                stop: Some(stop),
                thread: Some(thread),
            },
            Err(e) => {
                tracing::debug!("no progress display: {e}");
                Progress {
                    stop: None,
                    thread: None,
                }
            }
        }
    }

    /// Stop the display and clear the bar.
    pub fn finish(mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The display thread: update until told to stop (or the sender is dropped).
fn show(meter: Option<Arc<Meter>>, status: Status, mode: Mode, stopped: mpsc::Receiver<()>) {
    let start = Instant::now();
    let position = || {
        let tally = status();
        (
            Position::now(meter.as_deref(), &tally, start.elapsed()),
            tally.counts,
        )
    };
    let bar = (mode == Mode::Bar).then(|| bar_for(position().0.total));
    let every = if bar.is_some() { DRAW_EVERY } else { LOG_EVERY };
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
        let (now, counts) = position();
        match &bar {
            Some(bar) => {
                bar.set_position(now.done);
                bar.set_message(format!("{} rows, {counts}", now.rows));
            }
            None => tracing::info!("{}", log_line(&now, &counts)),
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// A bar of bytes with a percentage and an ETA, or a spinner of rows without a total.
fn bar_for(total: Option<u64>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let template = match total {
        Some(_) => {
            "{bar:30} {percent:>3}% {binary_bytes}/{binary_total_bytes} eta {eta} [{elapsed_precise}] {msg}"
        }
        None => "{spinner} [{elapsed_precise}] {msg} ({per_sec})",
    };
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}
