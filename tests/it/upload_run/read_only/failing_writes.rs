//! Ledger writes that really fail mid-run (chmod cannot do it: open descriptors keep
//! writing). The running uploader's file size limit is lowered to one byte, which fails every
//! later write of the ledger as a full disk would; in process, a worker waiting for its
//! rate-limit token when the ledger writer fails; and a log (stderr) that cannot be written.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use referral_sync::api::auth::TokenSource;
use referral_sync::api::client::{ApiClient, ClientConfig};
use referral_sync::api::rate_limit::RateLimiter;
use referral_sync::api::retry::RetryPolicy;
use referral_sync::api::secret::Secret;
use referral_sync::ledger::{Ledger, LedgerError, LedgerWriter, Pending, WriteOp, WriterOptions};
use referral_sync::mapping::MappedRecord;
use referral_sync::upload::engine::{Engine, Job};
use referral_sync::upload::plan::Plan;

use super::{MID_RUN, ROWS, Uploader, sandbox, wait_for_referrals, workspace};
use crate::common::api::Peer;
use crate::common::sandbox::{TestResult, referral_with_external_id};
use crate::common::upload::{RUN_LIMIT, Ran, TOKEN, Workspace, ids, rows};

/// A running child whose stderr is a pipe (a file would fall under its file size limit).
struct Piped {
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Piped {
    fn spawn(cmd: &mut Command) -> TestResult<Piped> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut pipe = child.stderr.take().ok_or("no stderr")?;
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Ok(Piped {
            child,
            stderr: Some(stderr),
        })
    }

    /// Wait for the end (killing it after [`RUN_LIMIT`]).
    fn wait(mut self) -> TestResult<Ran> {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("the run did not end within {RUN_LIMIT:?}").into());
            }
            sleep(Duration::from_millis(20));
        };
        let reader = self.stderr.take().ok_or("stderr already read")?;
        let stderr = reader.join().map_err(|_| "the stderr reader panicked")?;
        Ok(Ran {
            code: status.code(),
            stderr,
        })
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Lower the file size limit of the running `pid` to one byte: every later write of the
/// ledger fails, as on a full disk. `false` when `prlimit` is missing or not allowed.
fn limit_file_size(pid: u32) -> bool {
    Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--fsize=1"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn ledger_writes_failing_mid_run_stop_the_run_and_the_next_run_adopts_what_it_sent() -> TestResult {
    let peer = sandbox()?;
    let ws = workspace()?;
    let uploader = Uploader::as_self();
    // `trap '' XFSZ`: the uploader sees failed writes instead of being killed by SIGXFSZ.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(&uploader.bin)
        .args(uploader.args(&ws, peer.url(), &ws.ledger))
        .env_clear()
        .env("PARTNER_API_TOKEN", TOKEN);
    let Ok(mut run) = Piped::spawn(&mut cmd) else {
        eprintln!("skipped: no `sh` to start the uploader with SIGXFSZ ignored");
        return Ok(());
    };
    wait_for_referrals(&peer, MID_RUN, || Ok(run.child.try_wait()?.is_none()))?;
    if !limit_file_size(run.child.id()) {
        eprintln!("skipped: `prlimit` is missing or may not lower the uploader's limits");
        return Ok(());
    }
    let ran = run.wait()?;
    // Exit 3 (aborted), with the ledger named.
    ran.expect_code(3)?;
    let named = format!("ledger {}", ws.ledger.display());
    assert!(ran.stderr.contains(&named), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("could not be written"),
        "{}",
        ran.stderr
    );

    // Every referral the API holds is one the ledger knows: synced, or in flight.
    let ledger = ws.open_ledger()?;
    let counts = ledger.counts_by_state()?;
    assert!(
        counts.synced < ROWS as u64,
        "the run was not stopped: {counts:?}"
    );
    for referral in peer.outgoing()? {
        let external_id = referral["externalReferenceId"].as_str().unwrap_or_default();
        let record = ledger.get(external_id)?;
        assert!(record.is_some(), "the ledger does not know {external_id}");
    }
    let unrecorded = peer.stat("created")? - counts.synced;
    drop(ledger);

    let ran = ws.run(&mut Uploader::as_self().upload(&ws, peer.url(), &ws.ledger))?;
    ran.expect_code(0)?;
    assert_eq!(
        ws.summary_count("adopted")?,
        unrecorded,
        "{}",
        ws.summary()?
    );
    assert_eq!(peer.stat("referrals")?, ROWS as u64);
    peer.assert_exactly_once(&ws, &ids(&rows(ROWS)))
}

/// An engine whose client has one token every ten seconds, all spent.
fn engine(
    api_url: &str,
    writer: &LedgerWriter,
    run: referral_sync::ledger::RunId,
) -> TestResult<(Engine, Arc<RateLimiter>)> {
    let limiter = Arc::new(RateLimiter::new(0.1, 1)?);
    let config = ClientConfig {
        api_url: api_url.to_owned(),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy::with_max_retries(0),
    };
    let tokens = TokenSource::fixed(Secret::new(TOKEN));
    let engine = Engine {
        client: ApiClient::new(config, tokens, Some(Arc::clone(&limiter)))?,
        writer: writer.handle(),
        run,
        counters: Arc::default(),
        control: Arc::default(),
        breaker: 10,
    };
    Ok((engine, limiter))
}

/// A create of `external_id`, as the mapping would hand it over.
fn create_job(external_id: &str) -> TestResult<Job> {
    Ok(Job {
        record: MappedRecord {
            external_id: external_id.to_owned(),
            referral: referral_with_external_id(external_id)?,
            connected: None,
            file: Arc::new(PathBuf::from("opportunities.csv")),
            row: 2,
        },
        hash: "0".repeat(64),
        plan: Plan::Create {
            lookup_first: false,
            request_id: None,
        },
    })
}

#[test]
fn a_worker_waiting_for_its_token_sends_nothing_once_the_ledger_fails() -> TestResult {
    let peer = sandbox()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path)?;
    let run = ledger.start_run("test")?;
    let writer = LedgerWriter::spawn(ledger, WriterOptions::default())?;
    let (engine, limiter) = engine(peer.url(), &writer, run)?;
    let job = create_job("RO-WAIT-1")?;
    let reads = Ledger::open_existing(&path)?;

    let outcome = peer.block_on(async {
        limiter.acquire().await;
        let worker = tokio::spawn(async move { engine.process(job).await });
        // Its mark is committed; its request waits about ten seconds for a token.
        while reads.get("RO-WAIT-1")?.is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Another connection takes the table away: the writer's next transaction fails.
        rusqlite::Connection::open(&path)?.execute_batch("DROP TABLE records")?;
        let pending = WriteOp::Pending(Pending {
            external_id: "RO-WAIT-2".into(),
            source: None,
            run,
        });
        assert!(writer.send(pending).wait().await.is_err());
        TestResult::Ok(worker.await?)
    })?;

    let err = outcome
        .err()
        .ok_or("the worker succeeded with a failed ledger")?;
    assert!(matches!(err, LedgerError::WriterFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("ledger.db"), "{err}");
    assert_eq!(
        peer.stat("requests")?,
        0,
        "a request left after the ledger failed"
    );
    Ok(())
}

#[test]
fn a_log_that_cannot_be_written_does_not_turn_a_finished_run_into_a_panic() -> TestResult {
    // /dev/full refuses every write, as a full disk under a cron job's log does.
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full");
        return Ok(());
    };
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(5))?;
    let status = ws
        .upload(peer.url(), &[])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(full)
        .status()?;
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(ws.summary_count("created")?, 5, "{}", ws.summary()?);
    Ok(())
}
