//! An interrupt ends every wait. SIGTERM (what systemd sends before it kills) or Ctrl-C while
//! the workers sit out a server's long `Retry-After` must not wait for it: the run records
//! what it has and exits 130 at once, well before a service manager would kill it.

use std::time::{Duration, Instant};

use referral_sync::sandbox::{RateLimit, SandboxConfig};

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Workspace, rows};

/// Far below the ten minutes the server asks to wait, and far above a prompt exit.
const PROMPT: Duration = Duration::from_secs(20);

/// Wait (at most 30 s) until the sandbox has throttled a request of the run.
fn wait_for_a_throttle(peer: &Peer) -> TestResult {
    let started = Instant::now();
    while peer.stat("throttled")? == 0 {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the upload was never throttled".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn interrupted_during_a_ten_minute_retry_after(signal: &str) -> TestResult {
    // One request per ten minutes: the second create meets a 429 with `Retry-After: 600`.
    let peer = Peer::start(SandboxConfig {
        rate_limit: Some(RateLimit {
            capacity: 1,
            period: Duration::from_secs(600),
        }),
        ..SandboxConfig::default()
    })?;
    let ws = Workspace::with_rows(&rows(3))?;
    let run = ws.spawn(&mut ws.upload(peer.url(), &["--concurrency", "1"]))?;
    wait_for_a_throttle(&peer)?;
    // Let the run settle into its wait.
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    run.signal(signal)?;
    let ran = run.wait()?;
    let took = signalled.elapsed();
    ran.expect_code(130)?;
    assert!(took < PROMPT, "the run took {took:?} to stop");

    let runs = ws.open_ledger()?.runs(1)?;
    let [last] = runs.as_slice() else {
        return Err("no run recorded".into());
    };
    assert_eq!(last.exit_code, Some(130), "{last:?}");
    assert!(last.finished_at.is_some(), "{last:?}");
    assert_eq!(peer.stat("created")?, 1);
    assert_eq!(ws.summary_count("created")?, 1);
    Ok(())
}

#[test]
fn sigterm_during_a_long_retry_after_exits_130_promptly_with_the_run_recorded() -> TestResult {
    interrupted_during_a_ten_minute_retry_after("-TERM")
}

#[test]
fn sigint_during_a_long_retry_after_exits_130_promptly_with_the_run_recorded() -> TestResult {
    interrupted_during_a_ten_minute_retry_after("-INT")
}
