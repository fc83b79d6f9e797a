//! The run lock holds for the ledger file, whatever it is called: a run reaching a held ledger
//! through a symlink, a hard link or another spelling of its path exits 4 naming the holder
//! and sends nothing, and the lock goes with the process that held it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use referral_sync::ledger::lock_with_command;

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Ran, Workspace, bare_command, rows};

/// The holder's command line the tests write into the lock.
const HOLDER: &str = "referral-sync upload (first run, test)";

/// Upload through `ledger` (a name of the workspace's ledger) while this process holds the
/// lock through the workspace's own name; the run must exit 4, name this process, send no
/// request and leave no write-ahead log of its own.
fn second_run_is_refused(ws: &Workspace, peer: &Peer, ledger: &Path) -> TestResult<Ran> {
    let held = lock_with_command(&ws.ledger, HOLDER)?;
    let ran = ws.run(&mut ws.upload_on(ledger, &["--quiet"], peer.url(), &[]))?;
    ran.expect_code(4)?;
    assert!(ran.stderr.contains(HOLDER), "{}", ran.stderr);
    let pid = format!("pid {}", std::process::id());
    assert!(ran.stderr.contains(&pid), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    drop(held);
    Ok(ran)
}

#[test]
fn a_run_through_a_symlink_meets_the_lock_of_the_real_path() -> TestResult {
    let (peer, ws) = (Peer::healthy()?, Workspace::with_rows(&rows(2))?);
    let link = ws.path("link.db");
    std::os::unix::fs::symlink(&ws.ledger, &link)?;
    second_run_is_refused(&ws, &peer, &link)?;
    Ok(())
}

#[test]
fn a_run_through_a_hard_link_meets_the_lock_and_opens_nothing() -> TestResult {
    let (peer, ws) = (Peer::healthy()?, Workspace::with_rows(&rows(2))?);
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let before = std::fs::read(&ws.ledger)?;
    let requests = peer.stat("requests")?;
    let link = ws.path("hard-link.db");
    std::fs::hard_link(&ws.ledger, &link)?;

    let held = lock_with_command(&ws.ledger, HOLDER)?;
    let ran = ws.run(&mut ws.upload_on(&link, &["--quiet"], peer.url(), &[]))?;
    ran.expect_code(4)?;
    assert!(ran.stderr.contains(HOLDER), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, requests);
    // SQLite never opened the file under the second name.
    assert!(!ws.path("hard-link.db-wal").exists());
    assert_eq!(std::fs::read(&ws.ledger)?, before);
    drop(held);
    Ok(())
}

#[test]
fn a_run_through_another_spelling_of_the_path_meets_the_lock() -> TestResult {
    let (peer, ws) = (Peer::healthy()?, Workspace::with_rows(&rows(2))?);
    std::fs::create_dir(ws.path("sub"))?;
    let dotted = ws.path("sub").join("..").join("ledger.db");
    second_run_is_refused(&ws, &peer, &dotted)?;

    let held = lock_with_command(&ws.ledger, HOLDER)?;
    let mut cmd = ws.upload_on(Path::new("./ledger.db"), &["--quiet"], peer.url(), &[]);
    let ran = ws.run(cmd.current_dir(ws.path("")))?;
    ran.expect_code(4)?;
    assert!(ran.stderr.contains(HOLDER), "{}", ran.stderr);
    drop(held);
    Ok(())
}

#[test]
fn status_reads_a_ledger_whose_lock_is_held() -> TestResult {
    let (peer, ws) = (Peer::healthy()?, Workspace::with_rows(&rows(2))?);
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let _held = lock_with_command(&ws.ledger, HOLDER)?;
    let mut status = bare_command();
    status.arg("status").arg("--ledger").arg(&ws.ledger);
    ws.run(&mut status)?.expect_code(0)?;
    Ok(())
}

/// A second process holding the lock on `ledger` (the lock test's child), until killed.
fn hold_in_child(ledger: &Path) -> TestResult<Child> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "ledger::lock::lock_child_holder",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("REFERRAL_SYNC_LOCK_CHILD", ledger)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let locked = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("LOCKED"));
    if !locked {
        child.kill()?;
        return Err("the child did not take the lock".into());
    }
    Ok(child)
}

#[test]
fn the_lock_of_a_killed_holder_is_free_under_every_name() -> TestResult {
    let (peer, ws) = (Peer::healthy()?, Workspace::with_rows(&rows(2))?);
    let link: PathBuf = ws.path("hard-link.db");
    let mut child = hold_in_child(&ws.ledger)?;
    std::fs::hard_link(&ws.ledger, &link)?;
    let ran = ws.run(&mut ws.upload_on(&link, &["--quiet"], peer.url(), &[]))?;
    ran.expect_code(4)?;
    let pid = format!("pid {}", child.id());
    assert!(ran.stderr.contains(&pid), "{}", ran.stderr);

    child.kill()?;
    child.wait()?;
    ws.run(&mut ws.upload_on(&link, &["--quiet"], peer.url(), &[]))?
        .expect_code(0)?;
    assert_eq!(peer.stat("created")?, 2);
    Ok(())
}
