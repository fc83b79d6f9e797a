//! The uploader: rate-limited, retrying, exactly-once submission of mapped records, with
//! every outcome recorded in the ledger.
//!
//! `upload` reads an export through a mapping; `retry` resends failed records from the
//! payloads the ledger stored. Both run the same engine (`engine.rs`) under the same run
//! frame (`run.rs`), set up here from validated arguments.

pub mod adaptive;
pub mod auth;
pub mod client;
pub mod diff;
pub mod engine;
pub mod plan;
pub mod progress;
pub mod rate_limit;
pub mod retry;
mod retry_command;
mod row_log;
pub mod run;
pub mod secret;
pub mod settle;
pub mod stop;
pub mod summary;
pub mod unpatchable;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::auth::{AuthError, TokenSource};
use self::client::{ApiClient, ClientConfig};
use self::rate_limit::{AdaptiveConfig, RateLimiter};
use self::run::{Feed, RunEnd, RunSetup, upload_records};
use self::secret::Secret;
use crate::cli::{ApiArgs, UploadArgs};
use crate::ledger::{self, Ledger, LedgerLock};
use crate::output_file::{Writes, check_writable};
use crate::sandbox::{RunningSandbox, SandboxConfig};
use crate::source::SourceOptions;
use crate::{Error, Exit};

pub use self::retry_command::retry_command;

/// Without `--rate` the pacing is adaptive and starts here: few tenants allow less, and slow
/// start doubles it every half second while nothing is throttled.
pub(crate) const ADAPTIVE_START: f64 = 5.0;

/// Adaptive pacing never climbs above this many requests per second.
const ADAPTIVE_CEILING: f64 = 1000.0;

/// The validated settings every sending command shares.
pub struct SendSettings {
    pub rate: f64,
    pub burst: u32,
    pub adaptive: bool,
    pub concurrency: usize,
    pub max_retries: u32,
    pub breaker: u32,
}

impl SendSettings {
    pub(crate) fn check(&self) -> Result<(), Error> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(Error::usage(format!(
                "--rate {}: expected a positive number",
                self.rate
            )));
        }
        if self.concurrency == 0 {
            return Err(Error::usage("--concurrency must be at least 1"));
        }
        if self.burst == 0 {
            return Err(Error::usage("--burst must be at least 1"));
        }
        Ok(())
    }
}

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

/// The API a run talks to: a remote one, or the embedded sandbox.
pub(crate) struct Api {
    pub(crate) client: ApiClient,
    sandbox: Option<RunningSandbox>,
}

impl Api {
    pub(crate) async fn connect(
        args: &ApiArgs,
        ledger: &Path,
        settings: &SendSettings,
    ) -> Result<Api, Error> {
        let (api_url, tokens, sandbox) = if args.sandbox {
            let config = SandboxConfig {
                state: Some(sandbox_state_path(ledger)),
                // The run holds one token for its whole length.
                token_lifetime: std::time::Duration::from_secs(30 * 24 * 3600),
                ..SandboxConfig::default()
            };
            let sandbox = crate::sandbox::start(config).await?;
            tracing::info!(
                "embedded sandbox at {} (its referrals are kept in {})",
                sandbox.base_url,
                sandbox_state_path(ledger).display()
            );
            let tokens = TokenSource::fixed(Secret::new(sandbox.token()));
            (sandbox.base_url.clone(), tokens, Some(sandbox))
        } else {
            let tokens = TokenSource::from_args(args).map_err(auth_error)?;
            (args.api_url.clone(), tokens, None)
        };
        let mut config = ClientConfig::from_args(args, settings.max_retries)?;
        config.api_url = api_url;
        let limiter = if settings.adaptive {
            RateLimiter::adaptive(
                settings.rate,
                settings.burst,
                AdaptiveConfig::new(settings.rate, ADAPTIVE_CEILING.max(settings.rate)),
            )
        } else {
            RateLimiter::new(settings.rate, settings.burst)
        }
        .map_err(|e| Error::usage(e.to_string()))?;
        let client = ApiClient::new(config, tokens.clone(), Some(Arc::new(limiter)))?;
        // Fail before reading anything when no token can be had.
        if let Err(err) = tokens.token().await {
            return Err(auth_error(err));
        }
        Ok(Api { client, sandbox })
    }

    pub(crate) async fn close(self) {
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// Where `--sandbox` keeps the embedded sandbox's referrals: beside the ledger, so that a
/// second run sees what the first created.
pub fn sandbox_state_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.file_name().unwrap_or_default().to_os_string();
    name.push(".sandbox");
    ledger.with_file_name(name)
}

/// Missing, unreadable or refused credentials are a usage error (exit 2); a refused sign-in
/// aborts (3).
pub(crate) fn auth_error(err: AuthError) -> Error {
    match err {
        AuthError::Transport { .. }
        | AuthError::Rejected { .. }
        | AuthError::Refused { .. }
        | AuthError::SignInAgain { .. }
        | AuthError::Decode { .. } => Error::Aborted {
            reason: format!("authentication failed: {err}"),
        },
        other => Error::usage(other.to_string()),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot start the async runtime: {e}")))
}

/// Fail before any work when `--summary-json` cannot be written.
pub(crate) fn check_summary_path(path: Option<&Path>) -> Result<(), Error> {
    match path {
        Some(path) => check_writable("--summary-json", path, Writes::InPlace),
        None => Ok(()),
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
        let hash = engine::hash_of(&record);
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
