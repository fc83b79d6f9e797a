//! Opening ledger files: migrations, re-opening, permissions, missing and read-only files.

use referral_sync::ledger::{Ledger, LedgerError, State, Step, current_schema_version};

use super::{fresh, in_flight};

#[test]
fn a_fresh_file_is_migrated_and_reopens_at_the_same_version() {
    let (dir, mut ledger) = fresh();
    assert_eq!(ledger.schema_version().unwrap(), current_schema_version());
    let run = ledger.start_run("upload").unwrap();
    ledger
        .mark_in_flight(in_flight("A-1", Step::Create, run))
        .unwrap();
    drop(ledger);

    let path = dir.path().join("ledger.db");
    let reopened = Ledger::open(&path).unwrap();
    assert_eq!(reopened.schema_version().unwrap(), current_schema_version());
    let record = reopened.get("A-1").unwrap().unwrap();
    assert_eq!(record.state, State::InFlight);
    drop(reopened);

    let existing = Ledger::open_existing(&path).unwrap();
    assert_eq!(existing.schema_version().unwrap(), current_schema_version());
    assert_eq!(existing.path(), path);
}

#[test]
fn a_file_from_a_newer_version_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(Ledger::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);

    let err = Ledger::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::TooNew {
                found: 99,
                known,
                ..
            } if known == current_schema_version()
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("ledger.db"), "{err}");
}

#[test]
fn a_file_that_is_not_sqlite_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a database, just a long enough text file ".repeat(40),
    )
    .unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_ledger_and_its_wal_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger
        .mark_in_flight(in_flight("A-1", Step::Create, run))
        .unwrap();
    for name in ["ledger.db", "ledger.db-wal"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {mode:o}");
    }
}

#[test]
fn open_existing_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let err = Ledger::open_existing(&path).unwrap_err();
    assert!(matches!(err, LedgerError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("typo.db"), "{err}");
    assert!(!path.exists(), "open_existing must not create the file");
}

#[cfg(target_os = "linux")]
#[test]
fn a_ledger_in_an_unwritable_directory_fails_naming_the_path() {
    // /proc refuses new files even to root, so this holds whoever runs the tests.
    let err = Ledger::open("/proc/referral-sync-test/ledger.db").unwrap_err();
    assert!(matches!(err, LedgerError::Io { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("/proc/referral-sync-test/ledger.db"),
        "{err}"
    );
}

/// True if the permission bits stop this user (they do not stop root).
#[cfg(unix)]
fn permissions_apply(dir: &std::path::Path) -> bool {
    std::fs::write(dir.join("probe"), "x").is_err()
}

#[cfg(unix)]
#[test]
fn a_write_protected_ledger_is_refused_for_writing_and_readable_for_admin() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger
        .mark_in_flight(in_flight("A-1", Step::Create, run))
        .unwrap();
    drop(ledger);
    let path = dir.path().join("ledger.db");
    let set = |p: &std::path::Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(&path, 0o400);
    set(dir.path(), 0o500);
    if !permissions_apply(dir.path()) {
        set(dir.path(), 0o700);
        eprintln!("skipped: permission bits do not apply to this user (root)");
        return;
    }
    let open = Ledger::open(&path);
    let existing = Ledger::open_existing(&path).map(|mut l| {
        let read = l.get("A-1").map(|r| r.map(|r| r.state));
        (read, l.forget("A-1", "test"))
    });
    set(dir.path(), 0o700);
    set(&path, 0o600);

    let err = open.unwrap_err();
    assert!(matches!(err, LedgerError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("ledger.db"), "{err}");
    let (read, write) = existing.unwrap();
    assert_eq!(read.unwrap(), Some(State::InFlight));
    let err = write.unwrap_err();
    assert!(err.to_string().contains("ledger.db"), "{err}");
    assert!(err.to_string().contains("readonly"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_writable_ledger_in_a_write_protected_directory_is_refused_as_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, ledger) = fresh();
    drop(ledger);
    let set =
        |mode| std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    set(0o500);
    if !permissions_apply(dir.path()) {
        set(0o700);
        eprintln!("skipped: permission bits do not apply to this user (root)");
        return;
    }
    let open = Ledger::open(dir.path().join("ledger.db"));
    set(0o700);
    let err = open.unwrap_err();
    assert!(matches!(err, LedgerError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("ledger.db"), "{err}");
}

#[test]
fn two_processes_opening_a_fresh_file_at_once_both_get_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || Ledger::open(&path).and_then(|l| l.schema_version()))
        })
        .collect();
    for opener in openers {
        assert_eq!(opener.join().unwrap().unwrap(), current_schema_version());
    }
}
