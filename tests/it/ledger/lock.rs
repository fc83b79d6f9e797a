//! The run lock: exclusive, naming its holder, released on drop and when the holder dies.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use referral_sync::ledger::{LedgerError, lock, lock_with_command};

#[test]
fn a_second_lock_fails_at_once_naming_the_holder_and_drop_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let held = lock_with_command(&ledger, "referral-sync upload a.csv").unwrap();
    let name = held.path().file_name().unwrap().to_string_lossy();
    assert!(name.starts_with("referral-sync-"), "{name}");

    let err = lock(&ledger).unwrap_err();
    let LedgerError::Locked { path, holder } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, &ledger);
    assert!(
        holder.contains(&format!("pid {}", std::process::id())),
        "{holder}"
    );
    assert!(holder.contains("referral-sync upload a.csv"), "{holder}");

    drop(held);
    let again = lock(&ledger).unwrap();
    drop(again);
}

#[test]
fn a_stale_lock_file_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let holder = lock_with_command(&ledger, "upload")
        .unwrap()
        .path()
        .to_owned();
    std::fs::write(&holder, "pid 1 since long ago: crashed\n").unwrap();
    let held = lock_with_command(&ledger, "upload").unwrap();
    let text = std::fs::read_to_string(held.path()).unwrap();
    assert!(
        text.starts_with(&format!("pid {}", std::process::id())),
        "{text}"
    );
}

/// The child half of the cross-process test: holds the lock named by the environment until
/// killed. Without that variable (a normal test run) it does nothing.
#[test]
fn lock_child_holder() {
    let Some(path) = std::env::var_os("REFERRAL_SYNC_LOCK_CHILD") else {
        return;
    };
    let held = lock_with_command(std::path::Path::new(&path), "child upload").unwrap();
    println!("LOCKED");
    std::thread::sleep(std::time::Duration::from_secs(60));
    drop(held);
}

#[test]
fn a_lock_held_by_another_process_is_released_when_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "ledger::lock::lock_child_holder",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("REFERRAL_SYNC_LOCK_CHILD", &ledger)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let locked = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("LOCKED"));
    assert!(locked, "the child did not take the lock");

    let err = lock(&ledger).unwrap_err();
    let LedgerError::Locked { holder, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(holder.contains(&format!("pid {}", child.id())), "{holder}");
    assert!(holder.contains("child upload"), "{holder}");

    child.kill().unwrap();
    child.wait().unwrap();
    drop(lock(&ledger).unwrap());
}
