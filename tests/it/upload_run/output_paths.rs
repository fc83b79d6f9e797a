//! Every output file is checked before the first request: a `--summary-json` (or
//! `reconcile --output`, or a report file) in a missing directory, naming a directory, or in a
//! directory this user cannot write, exits 2 naming the path, and the API saw nothing.

use std::path::PathBuf;

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Workspace, bare_command, mapping, rows};

/// Upload with `--summary-json` at `summary`; the run must exit 2 naming it, before any
/// request and before the ledger is created.
fn upload_refused_for(summary: PathBuf) -> TestResult {
    let peer = Peer::healthy()?;
    let mut ws = Workspace::with_rows(&rows(3))?;
    ws.summary = summary;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("--summary-json"), "{}", ran.stderr);
    let shown = ws.summary.display().to_string();
    assert!(ran.stderr.contains(&shown), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    assert!(!ws.ledger.exists(), "the ledger was created");
    Ok(())
}

#[test]
fn a_summary_in_a_missing_directory_fails_before_any_request() -> TestResult {
    let dir = tempfile::tempdir()?;
    upload_refused_for(dir.path().join("no-such-dir").join("summary.json"))
}

#[test]
fn a_summary_path_that_is_a_directory_fails_before_any_request() -> TestResult {
    let dir = tempfile::tempdir()?;
    upload_refused_for(dir.path().to_path_buf())
}

#[cfg(unix)]
#[test]
fn a_summary_in_a_write_protected_directory_fails_before_any_request() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked)?;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555))?;
    if std::fs::write(locked.join("probe"), "x").is_ok() {
        println!("skipped: permissions do not apply to this user (root)");
        return Ok(());
    }
    let result = upload_refused_for(locked.join("summary.json"));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755))?;
    result
}

#[test]
fn retry_checks_its_summary_before_anything() -> TestResult {
    let peer = Peer::healthy()?;
    let mut ws = Workspace::with_rows(&rows(1))?;
    std::fs::write(&ws.ledger, b"")?;
    ws.summary = ws.path("missing").join("summary.json");
    let ran = ws.run(&mut ws.retry(peer.url(), &[]))?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("does not exist"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

#[test]
fn reconcile_checks_its_output_before_listing_the_api() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(2))?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let before = peer.stat("requests")?;
    let output = ws.path("missing").join("findings.csv");
    let mut cmd = bare_command();
    cmd.args(["reconcile", "--mapping"])
        .arg(mapping())
        .arg(&ws.csv);
    cmd.args(["--api-url", peer.url(), "--ledger"])
        .arg(&ws.ledger);
    cmd.arg("--output").arg(&output);
    cmd.env("PARTNER_API_TOKEN", "reconcile-test-token");
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("--output"), "{}", ran.stderr);
    assert!(ran.stderr.contains("findings.csv"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, before);
    Ok(())
}

#[test]
fn a_report_into_a_directory_fails_naming_it() -> TestResult {
    let peer = Peer::healthy()?;
    let ws = Workspace::with_rows(&rows(1))?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let mut cmd = bare_command();
    cmd.args(["report", "--mappings"]).arg(ws.path(""));
    cmd.arg("--ledger").arg(&ws.ledger);
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("is a directory"), "{}", ran.stderr);
    Ok(())
}
