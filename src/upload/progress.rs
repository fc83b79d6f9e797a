//! Progress while a run goes: an indicatif bar on a terminal, a plain log line every few
//! seconds otherwise (cron jobs and CI logs), nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::summary::Counters;

/// How often the plain log line is written without a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// A running progress display; `finish` stops it.
pub struct Progress {
    task: Option<JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Start showing progress of `counters`; `total` is the row count when known.
    pub fn start(counters: Arc<Counters>, quiet: bool, total: Option<u64>) -> Progress {
        if quiet {
            return Progress {
                task: None,
                bar: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {pos} rows ({per_sec}) eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            let shown = bar.clone();
            let task = tokio::spawn(async move {
                loop {
                    shown.set_position(load(&counters.rows));
                    shown.set_message(line(&counters));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            Progress {
                task: Some(task),
                bar: Some(bar),
            }
        } else {
            let start = Instant::now();
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LOG_EVERY).await;
                    let rows = load(&counters.rows);
                    let rate = rows as f64 / start.elapsed().as_secs_f64().max(0.001);
                    tracing::info!(
                        "progress: {rows} rows ({rate:.0} rows/s), {}",
                        line(&counters)
                    );
                }
            });
            Progress {
                task: Some(task),
                bar: None,
            }
        }
    }

    /// Stop the display and clear the bar.
    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

fn line(c: &Counters) -> String {
    format!(
        "created {} updated {} unchanged {} failed {} throttled {}",
        load(&c.created),
        load(&c.updated),
        load(&c.unchanged),
        load(&c.failed),
        load(&c.throttled)
    )
}
