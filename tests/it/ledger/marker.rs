//! A ledger is recognised by its own marker (`application_id`): another program's SQLite file
//! is refused and left byte for byte as it was; an empty file becomes a ledger; a ledger of an
//! earlier version (our tables, no marker) keeps working and gets the marker. A directory
//! given as the ledger is named as a directory.

use referral_sync::ledger::{Ledger, LedgerError, State, Step, current_schema_version};

use super::{fresh, in_flight};
use crate::common::upload::bare_command;

/// A small database of another program, in rollback-journal mode.
fn foreign_database(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);
         INSERT INTO moz_places (url) VALUES ('https://example.com/');
         PRAGMA user_version = 3;",
    )
    .unwrap();
}

fn application_id(path: &std::path::Path) -> i32 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, "application_id", |row| row.get(0))
        .unwrap()
}

#[test]
fn another_programs_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("places.sqlite");
    foreign_database(&path);
    let before = std::fs::read(&path).unwrap();

    for err in [
        Ledger::open(&path).unwrap_err(),
        Ledger::open_existing(&path).unwrap_err(),
    ] {
        assert!(matches!(err, LedgerError::NotALedger { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("places.sqlite"), "{text}");
        assert!(text.contains("not a referral-sync ledger"), "{text}");
        assert!(text.contains("moz_places"), "{text}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn retry_on_another_programs_database_exits_2_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("places.sqlite");
    foreign_database(&path);
    let before = std::fs::read(&path).unwrap();
    let output = bare_command()
        .args(["retry", "--sandbox", "--ledger"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a referral-sync ledger"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn an_empty_file_becomes_a_ledger_with_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    std::fs::write(&path, b"").unwrap();
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.schema_version().unwrap(), current_schema_version());
    drop(ledger);
    assert_eq!(application_id(&path), i32::from_be_bytes(*b"RSyn"));
}

#[test]
fn a_ledger_of_an_earlier_version_keeps_its_records_and_gets_the_marker() {
    let (dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger
        .mark_in_flight(in_flight("A-1", Step::Create, run))
        .unwrap();
    drop(ledger);
    // What schema version 1 wrote: the same tables (none of the later migrations'), no
    // marker.
    let path = dir.path().join("ledger.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE row_errors; DROP TABLE mirror; DROP TABLE mirror_watermark; DROP TABLE triage;
         PRAGMA application_id = 0; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let status = Ledger::open_existing(&path).unwrap();
    assert_eq!(status.get("A-1").unwrap().unwrap().state, State::InFlight);
    drop(status);
    assert_eq!(application_id(&path), i32::from_be_bytes(*b"RSyn"));
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.schema_version().unwrap(), current_schema_version());
}

#[test]
fn a_directory_given_as_the_ledger_is_named_as_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    for err in [
        Ledger::open(dir.path()).unwrap_err(),
        Ledger::open_existing(dir.path()).unwrap_err(),
        referral_sync::ledger::lock(dir.path()).unwrap_err(),
        referral_sync::ledger::lock_existing(dir.path()).unwrap_err(),
    ] {
        assert!(matches!(err, LedgerError::IsDirectory { .. }), "{err:?}");
    }
    for command in [
        &["status"][..],
        &["report", "--failures", "-"],
        &["forget", "X"],
    ] {
        let output = bare_command()
            .args(command)
            .arg("--ledger")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("is a directory, not a ledger file"),
            "{stderr}"
        );
        assert!(!stderr.contains("does not exist"), "{stderr}");
    }
}
