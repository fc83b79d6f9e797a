//! `--dry-run` plans without touching the API or the ledger; `retry` resends the records a
//! failing API left failed, from the payloads the ledger stored.

use referral_sync::ledger::{FailureKind, State};
use referral_sync::sandbox::SandboxConfig;

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Workspace, ids, rows};

#[test]
fn a_dry_run_sends_nothing_and_writes_no_ledger() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(5))?;
    let ran = ws.run(&mut ws.upload(peer.url(), &["--dry-run"]))?;
    ran.expect_code(0)?;
    assert_eq!(peer.stat("requests")?, 0);
    assert!(!ws.ledger.exists(), "a dry run created the ledger");
    assert!(!ws.summary.exists(), "a dry run wrote a summary");
    Ok(())
}

#[test]
fn a_dry_run_after_a_sync_plans_the_change_and_leaves_the_ledger_alone() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(4);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let requests = peer.stat("requests")?;
    let before = ws.records()?;
    let ledger_bytes = std::fs::read(&ws.ledger)?;

    rows[2].notes = "changed".into();
    ws.write_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &["--dry-run"]))?;
    ran.expect_code(0)?;
    assert!(
        ran.stderr
            .contains("would create: 0, would update: 1, unchanged: 3"),
        "{}",
        ran.stderr
    );
    assert_eq!(peer.stat("requests")?, requests);
    assert_eq!(ws.records()?, before);
    assert_eq!(std::fs::read(&ws.ledger)?, ledger_bytes);
    Ok(())
}

#[test]
fn retry_resends_failed_records_to_a_healthy_api() -> TestResult {
    let broken = Peer::start(SandboxConfig {
        fail_rate: 1.0,
        ..SandboxConfig::default()
    })?;
    let rows = rows(6);
    let ws = Workspace::with_rows(&rows)?;
    let flags = ["--max-retries", "0", "--circuit-breaker", "1000"];
    let ran = ws.run(&mut ws.upload(broken.url(), &flags))?;
    ran.expect_code(1)?;
    assert_eq!(ws.summary_count("failed")?, 6);
    for record in ws.records()? {
        assert_eq!(record.state, State::Failed, "{record:?}");
        assert_eq!(record.failure_kind, Some(FailureKind::Retryable));
        assert_eq!(record.referral_id, None);
    }
    assert_eq!(broken.stat("referrals")?, 0);

    let healthy = Peer::healthy()?;
    let ran = ws.run(&mut ws.retry(healthy.url(), &[]))?;
    ran.expect_code(0)?;
    assert_eq!(ws.summary_count("created")?, 6);
    healthy.assert_exactly_once(&ws, &ids(&rows))?;

    // The export agrees with what retry sent: the next upload changes nothing on the API.
    ws.run(&mut ws.upload(healthy.url(), &[]))?.expect_code(0)?;
    assert_eq!(healthy.stat("updated")?, 0);
    assert_eq!(healthy.stat("created")?, 6);
    healthy.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn retry_with_nothing_failed_sends_nothing() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(3))?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let requests = peer.stat("requests")?;
    let ran = ws.run(&mut ws.retry(peer.url(), &[]))?;
    ran.expect_code(0)?;
    assert!(ran.stderr.contains("nothing to retry"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, requests);
    Ok(())
}

#[test]
fn retry_resends_failed_updates_and_the_next_upload_patches_nothing() -> TestResult {
    let mut rows = rows(5);
    let ws = Workspace::with_rows(&rows)?;
    let state = ws.path("sandbox-state.db");
    let with_state = |fail_rate: f64| SandboxConfig {
        state: Some(state.clone()),
        fail_rate,
        ..SandboxConfig::default()
    };
    let first = Peer::start(with_state(0.0))?;
    ws.run(&mut ws.upload(first.url(), &[]))?.expect_code(0)?;
    first.stop();

    for row in &mut rows[..3] {
        row.notes = format!("{} (changed)", row.notes);
    }
    ws.write_rows(&rows)?;
    let broken = Peer::start(with_state(1.0))?;
    let flags = ["--max-retries", "0", "--circuit-breaker", "1000"];
    ws.run(&mut ws.upload(broken.url(), &flags))?
        .expect_code(1)?;
    assert_eq!(ws.summary_count("failed")?, 3);
    assert_eq!(ws.open_ledger()?.failed(false)?.len(), 3);
    broken.stop();

    let healthy = Peer::start(with_state(0.0))?;
    let ran = ws.run(&mut ws.retry(healthy.url(), &[]))?;
    ran.expect_code(0)?;
    assert_eq!(ws.summary_count("updated")?, 3, "{}", ws.summary()?);
    assert_eq!(healthy.stat("updated")?, 3);
    healthy.assert_exactly_once(&ws, &ids(&rows))?;
    for row in &rows {
        let record = ws.record(&row.id)?;
        let referral = healthy.get(record.referral_id.as_deref().unwrap_or_default())?;
        assert_eq!(referral["details"]["notes"], row.notes.as_str());
    }

    ws.run(&mut ws.upload(healthy.url(), &[]))?.expect_code(0)?;
    assert_eq!(healthy.stat("updated")?, 3, "the next upload patched again");
    assert_eq!(ws.summary_count("unchanged")?, 5);
    Ok(())
}

#[test]
fn retry_all_also_resends_permanent_failures() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(2);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let gone = ws.record(&rows[0].id)?;
    peer.delete(gone.referral_id.as_deref().unwrap_or_default())?;
    rows[0].notes = "changed".into();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(1)?;
    let requests = peer.stat("requests")?;

    // Without --all, a permanent failure is left alone.
    let ran = ws.run(&mut ws.retry(peer.url(), &[]))?;
    ran.expect_code(0)?;
    assert!(ran.stderr.contains("nothing to retry"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, requests);
    // With --all it is sent again, and fails the same way.
    ws.run(&mut ws.retry(peer.url(), &["--all"]))?
        .expect_code(1)?;
    assert!(peer.stat("requests")? > requests);
    assert_eq!(ws.record(&rows[0].id)?.state, State::Failed);
    assert_eq!(
        peer.stat("created")?,
        2,
        "retry re-created a deleted referral"
    );
    Ok(())
}

#[test]
fn a_dry_run_piped_into_a_reader_that_stops_early_ends_quietly() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let peer = Peer::healthy()?;
    // Enough plan lines to overflow a pipe's buffer, so the writer meets the closed pipe.
    let ws = Workspace::with_rows(&rows(3000))?;
    let mut child = ws
        .upload(peer.url(), &["--dry-run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    // The reader (think `| head -1`) is gone now.
    let out = child.wait_with_output()?;
    assert!(first.starts_with("create\t"), "{first}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    Ok(())
}

#[test]
fn an_error_with_nowhere_to_be_printed_still_exits_with_its_code() -> TestResult {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full");
        return Ok(());
    };
    let status = crate::common::upload::bare_command()
        .args(["check", "--mapping", "no-such-mapping.toml"])
        .stderr(full)
        .status()?;
    assert_eq!(status.code(), Some(2), "{status}");
    Ok(())
}
