//! Every documented exit code of `upload`, each from the situation that should cause it:
//! 0 success; 1 an invalid row or a permanent API error; 2 a bad mapping, a missing column or
//! a bad flag (before any request); 3 a refused token or an API that keeps failing; 4 a
//! locked ledger; 130 SIGINT or SIGTERM mid-run, with the run recorded and nothing lost.

use std::time::{Duration, Instant};

use referral_sync::ledger::{FailureKind, State};
use referral_sync::sandbox::SandboxConfig;

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Row, Running, Workspace, bare_command, ids, rows};

#[test]
fn exit_0_when_every_row_is_synced() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(3))?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(0)?;
    assert_eq!(ws.summary_count("created")?, 3);
    Ok(())
}

#[test]
fn exit_1_for_an_invalid_row_while_the_others_are_sent() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(4);
    rows[1].customer = String::new();
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(1)?;
    assert!(ran.stderr.contains("row 3"), "{}", ran.stderr);
    assert_eq!(ws.summary_count("failed")?, 1);
    assert_eq!(ws.summary_count("created")?, 3);
    let valid: Vec<Row> = rows
        .into_iter()
        .filter(|r| !r.customer.is_empty())
        .collect();
    peer.assert_exactly_once(&ws, &ids(&valid))?;
    Ok(())
}

#[test]
fn exit_1_for_a_permanent_api_error() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(3);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    // The referral disappears from Partner Center; the CRM then changes the row.
    let gone = ws.record(&rows[0].id)?;
    peer.delete(gone.referral_id.as_deref().unwrap_or_default())?;
    rows[0].notes = "changed after the referral was deleted".into();
    ws.write_rows(&rows)?;

    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(1)?;
    assert_eq!(ws.summary_count("failed")?, 1);
    let record = ws.record(&rows[0].id)?;
    assert_eq!(record.state, State::Failed);
    assert_eq!(record.failure_kind, Some(FailureKind::Permanent));
    assert_eq!(record.last_http_status, Some(404));
    // Never re-created behind the admin's back.
    assert_eq!(peer.stat("created")?, 3);
    Ok(())
}

#[test]
fn exit_1_for_a_create_the_api_refuses_and_the_rest_are_created() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(3);
    // Larger than the API takes in one body (1 MiB): a 413, which no retry can fix.
    rows[0].notes = "x".repeat(1_100_000);
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(1)?;
    assert_eq!(ws.summary_count("failed")?, 1);
    assert_eq!(
        ws.summary_count("retries")?,
        0,
        "a permanent error was retried"
    );
    let record = ws.record(&rows[0].id)?;
    assert_eq!(record.state, State::Failed);
    assert_eq!(record.failure_kind, Some(FailureKind::Permanent));
    assert_eq!(record.last_http_status, Some(413));
    assert_eq!(record.referral_id, None);
    assert_eq!(peer.stat("created")?, 2);
    Ok(())
}

#[test]
fn exit_2_for_a_mapping_with_a_typo_before_any_request() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(2))?;
    let bad = ws.path("bad.toml");
    std::fs::write(&bad, "external_id = \"Id\"\n[fields]\nnmae = \"Name\"\n")?;
    // `Workspace::upload` names the good mapping (a second --mapping is refused by clap).
    let mut cmd_bad = bare_command();
    cmd_bad
        .args(["--quiet", "upload", "--mapping"])
        .arg(&bad)
        .arg(&ws.csv)
        .args(["--api-url", peer.url(), "--ledger"])
        .arg(&ws.ledger)
        .env("PARTNER_API_TOKEN", "t");
    let ran = ws.run(&mut cmd_bad)?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("nmae"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    // The good mapping still works on the same workspace.
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    Ok(())
}

#[test]
fn exit_2_for_an_input_without_a_mapped_column() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::new()?;
    std::fs::write(&ws.csv, "Id,Name\nOPP-1,Only two columns\n")?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("Customer"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

#[test]
fn exit_2_for_a_bad_rate() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(1))?;
    for rate in ["0", "NaN", "inf", "abc"] {
        let ran = ws.run(&mut ws.upload(peer.url(), &["--rate", rate]))?;
        ran.expect_code(2)?;
        assert!(ran.stderr.contains("--rate"), "{rate}: {}", ran.stderr);
    }
    assert_eq!(peer.stat("requests")?, 0);
    assert!(!ws.ledger.exists(), "a refused run created the ledger");
    Ok(())
}

#[test]
fn exit_2_for_a_bad_timeout() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(1))?;
    let ran = ws.run(&mut ws.upload(peer.url(), &["--timeout", "0"]))?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("--timeout"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

/// The upload with OAuth against a token endpoint where nothing listens.
fn unreachable_token_endpoint(ws: &Workspace, peer: &Peer) -> std::process::Command {
    let mut cmd = ws.upload(
        peer.url(),
        &["--token-url", "http://127.0.0.1:9/oauth2/token"],
    );
    cmd.env_remove("PARTNER_API_TOKEN")
        .env("PARTNER_CLIENT_ID", "client")
        .env("PARTNER_REFRESH_TOKEN", "a-refresh-token");
    cmd
}

#[test]
fn exit_3_when_the_token_endpoint_cannot_be_reached() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(2))?;
    let ran = ws.run(&mut unreachable_token_endpoint(&ws, &peer))?;
    ran.expect_code(3)?;
    assert!(
        ran.stderr.contains("authentication failed"),
        "{}",
        ran.stderr
    );
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

#[test]
fn a_run_refused_at_start_leaves_no_unfinished_run() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(2))?;
    ws.run(&mut ws.upload(peer.url(), &["--timeout", "0"]))?
        .expect_code(2)?;
    ws.run(&mut unreachable_token_endpoint(&ws, &peer))?
        .expect_code(3)?;
    if ws.ledger.exists() {
        for run in ws.open_ledger()?.runs(10)? {
            assert!(run.finished_at.is_some(), "an unfinished run: {run:?}");
        }
    }
    Ok(())
}

#[test]
fn exit_3_for_a_token_the_api_refuses() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        token: Some("the-only-good-token".into()),
        ..SandboxConfig::default()
    })?;
    let ws = Workspace::with_rows(&rows(5))?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(3)?;
    assert_eq!(peer.stat("created")?, 0);
    // Not five records failed one by one: the run stopped at the first refusal.
    assert!(peer.stat("requests")? <= 5, "{}", peer.stats()?);
    let counts = ws.open_ledger()?.counts_by_state()?;
    assert_eq!(counts.in_flight, 0, "{counts:?}");
    Ok(())
}

#[test]
fn exit_3_when_the_api_keeps_failing_and_the_breaker_opens() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        fail_rate: 1.0,
        ..SandboxConfig::default()
    })?;
    let ws = Workspace::with_rows(&rows(30))?;
    let flags = [
        "--max-retries",
        "0",
        "--circuit-breaker",
        "3",
        "--concurrency",
        "1",
    ];
    let ran = ws.run(&mut ws.upload(peer.url(), &flags))?;
    ran.expect_code(3)?;
    assert!(ran.stderr.contains("in a row failed"), "{}", ran.stderr);
    // Stopped early: far fewer requests than rows.
    assert!(peer.stat("requests")? < 30, "{}", peer.stats()?);
    let counts = ws.open_ledger()?.counts_by_state()?;
    assert_eq!(counts.in_flight, 0, "{counts:?}");
    Ok(())
}

#[test]
fn exit_4_while_another_run_holds_the_ledger() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(2))?;
    let lock = referral_sync::ledger::lock(&ws.ledger)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(4)?;
    assert!(ran.stderr.contains("locked"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    drop(lock);
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    Ok(())
}

#[test]
fn exit_4_for_a_second_upload_while_the_first_runs_and_it_names_the_holder() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        latency: Duration::from_millis(100),
        ..SandboxConfig::default()
    })?;
    let rows = rows(20);
    let ws = Workspace::with_rows(&rows)?;
    let first = ws.spawn(&mut ws.upload(peer.url(), &["--concurrency", "2"]))?;
    wait_for_creates(&peer, 1)?;
    let second = ws.run(&mut ws.upload(peer.url(), &[]))?;
    second.expect_code(4)?;
    let holder = format!("pid {}", first.pid());
    assert!(second.stderr.contains(&holder), "{}", second.stderr);

    first.wait()?.expect_code(0)?;
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

/// Wait (at most 30 s) until the sandbox has created `n` referrals.
fn wait_for_creates(peer: &Peer, n: u64) -> TestResult {
    let started = Instant::now();
    while peer.stat("created")? < n {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the upload made no progress".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Start a slow upload, wait until the sandbox has answered a few of its requests, and send
/// `signal`.
fn interrupt(peer: &Peer, ws: &Workspace, signal: &str) -> TestResult<Running> {
    let run = ws.spawn(&mut ws.upload(peer.url(), &["--concurrency", "2"]))?;
    wait_for_creates(peer, 3)?;
    run.signal(signal)?;
    Ok(run)
}

fn interrupted_run_is_recorded_and_resumable(signal: &str, config: SandboxConfig) -> TestResult {
    let peer = Peer::start(SandboxConfig {
        latency: Duration::from_millis(150),
        ..config
    })?;
    let rows = rows(40);
    let ws = Workspace::with_rows(&rows)?;
    let ran = interrupt(&peer, &ws, signal)?.wait()?;
    ran.expect_code(130)?;
    let created = peer.stat("created")?;
    assert!(
        created < 40,
        "the run was not interrupted: {created} created"
    );
    let runs = ws.open_ledger()?.runs(1)?;
    let [last] = runs.as_slice() else {
        return Err("no run recorded".into());
    };
    assert_eq!(last.exit_code, Some(130), "{last:?}");
    assert!(last.finished_at.is_some(), "{last:?}");
    // The summary says what was done before the stop. A create whose answer was lost and
    // whose retry was still waiting when the stop came is not counted: it stays in flight,
    // and the next run looks it up.
    let counted = ws.summary_count("created")?;
    let unsure = ws.open_ledger()?.counts_by_state()?.in_flight;
    assert!(
        counted <= created && created <= counted + unsure,
        "{counted} counted, {unsure} in flight, {created} created"
    );

    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    assert_eq!(peer.stat("created")?, 40);
    Ok(())
}

#[test]
fn exit_130_on_sigint_with_the_run_recorded_and_nothing_lost() -> TestResult {
    interrupted_run_is_recorded_and_resumable("-INT", SandboxConfig::default())
}

#[test]
fn exit_130_on_sigterm_with_the_run_recorded_and_nothing_lost() -> TestResult {
    interrupted_run_is_recorded_and_resumable("-TERM", SandboxConfig::default())
}

#[test]
fn exit_130_on_sigint_while_responses_are_lost_leaves_nothing_to_duplicate() -> TestResult {
    interrupted_run_is_recorded_and_resumable(
        "-INT",
        SandboxConfig {
            idempotency: false,
            lose_response_rate: 0.3,
            seed: 130,
            hold_lost_for: Duration::from_millis(300),
            ..SandboxConfig::default()
        },
    )
}
