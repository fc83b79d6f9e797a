//! The ledger's schema and how a file is opened.
//!
//! Migrations are append-only: each entry of [`MIGRATIONS`] is applied once, in order, in its
//! own transaction together with the `pragma user_version` bump, so a file is always at a
//! version that exists. Never edit a shipped entry; add a new one.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::LedgerError;

/// How long a connection waits for another connection's write lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, one migration per entry; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    -- One row per `upload` or `retry` invocation. `args` is the command line with secrets
    -- already redacted; `counts` is the run's summary as JSON.
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        args        TEXT NOT NULL,
        counts      TEXT,
        exit_code   INTEGER
    );

    -- One row per CRM record, keyed by its externalReferenceId: which referral it became and
    -- where its sync stands. `request_id` and `step` describe the open (or last failed)
    -- request; `payload_hash` is the SHA-256 of the last payload sent.
    CREATE TABLE records (
        external_id           TEXT PRIMARY KEY NOT NULL,
        referral_id           TEXT,
        engagement_id         TEXT,
        connected_referral_id TEXT,
        etag                  TEXT,
        connected_etag        TEXT,
        payload_hash          TEXT,
        payload               TEXT,
        state                 TEXT NOT NULL
            CHECK (state IN ('pending', 'in_flight', 'synced', 'failed')),
        failure_kind          TEXT CHECK (failure_kind IN ('retryable', 'permanent')),
        step                  TEXT CHECK (step IN ('create', 'connected', 'update')),
        attempts              INTEGER NOT NULL DEFAULT 0,
        request_id            TEXT,
        last_http_status      INTEGER,
        last_error_code       TEXT,
        last_error_message    TEXT,
        source_file           TEXT,
        source_row            INTEGER,
        created_at            TEXT NOT NULL,
        updated_at            TEXT NOT NULL,
        synced_at             TEXT,
        last_run              INTEGER REFERENCES runs (id)
    );
    CREATE INDEX records_by_state ON records (state, updated_at);
    CREATE INDEX records_by_run ON records (last_run);
    CREATE INDEX records_by_referral ON records (referral_id);

    -- Every manual change of the mapping: `forget` (record removed), `relink` (pointed at
    -- another referral) and `adopt` (an orphan found in the API recorded as synced).
    CREATE TABLE audit (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        at              TEXT NOT NULL,
        action          TEXT NOT NULL CHECK (action IN ('forget', 'relink', 'adopt')),
        external_id     TEXT NOT NULL,
        old_referral_id TEXT,
        new_referral_id TEXT,
        reason          TEXT NOT NULL
    );
    "#,
    // 2: the ledger's marker, so that another program's database is never taken for one.
    "PRAGMA application_id = 1381202286;",
    // 3: rows of an export that failed mapping or validation.
    r#"
    -- One row per problem of an invalid export row: where (the export file as given, its
    -- row), which Referral field (`row` for the whole row), the input column if known, and
    -- why. The latest run that read a place decides: mapping the row removes its entries.
    CREATE TABLE row_errors (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        source_file TEXT NOT NULL,
        source_row  INTEGER NOT NULL,
        field       TEXT NOT NULL,
        column_name TEXT,
        message     TEXT NOT NULL,
        at          TEXT NOT NULL,
        run         INTEGER REFERENCES runs (id)
    );
    CREATE INDEX row_errors_by_place ON row_errors (source_file, source_row);
    "#,
    // 4: the API mirror and its listing watermark.
    r#"
    -- Partner Center's side of every referral listed from an API (`api`: its base URL, or
    -- `sandbox` for the embedded one): ours, the connected Microsoft ones and inbound ones.
    -- The columns are read from `json`, the referral as last listed. `delivered_etag` and
    -- `delivered_json` are what the last durable `pull` file carried (NULL: never delivered).
    CREATE TABLE mirror (
        api               TEXT NOT NULL,
        referral_id       TEXT NOT NULL,
        engagement_id     TEXT,
        external_id       TEXT,
        direction         TEXT,
        status            TEXT,
        substatus         TEXT,
        status_reason     TEXT,
        etag              TEXT,
        updated_date_time TEXT,
        microsoft_msx_id  TEXT,
        json              TEXT NOT NULL,
        delivered_etag    TEXT,
        delivered_json    TEXT,
        seen_at           TEXT NOT NULL,
        PRIMARY KEY (api, referral_id)
    );
    CREATE INDEX mirror_by_engagement ON mirror (api, engagement_id);

    -- How far the mirror of one API is current: the greatest `updatedDateTime` a listing
    -- stored, and when the last listing of every referral ended.
    CREATE TABLE mirror_watermark (
        api             TEXT PRIMARY KEY NOT NULL,
        updated_through TEXT,
        full_listing_at TEXT
    );
    "#,
    // 5: triage decisions on inbound referrals.
    r#"
    -- One row per inbound referral the `triage` command was asked to accept or decline,
    -- written around its request as a create is: `pending` (recorded, nothing sent), `sent`
    -- (a PATCH with If-Match `sent_etag` may have left: the next run reads the referral
    -- before sending anything), then `done` (Partner Center holds the decision; `answer_etag`
    -- is the eTag after it), `expired` or `closed` (it stopped awaiting a response first;
    -- never retried; `api_status`/`api_substatus` say what it became), or `failed` (the
    -- `last_*` columns say why). `reason` is the decline's statusReason.
    CREATE TABLE triage (
        referral_id        TEXT PRIMARY KEY NOT NULL,
        decision           TEXT NOT NULL CHECK (decision IN ('accept', 'decline')),
        reason             TEXT,
        state              TEXT NOT NULL
            CHECK (state IN ('pending', 'sent', 'done', 'expired', 'closed', 'failed')),
        sent_etag          TEXT,
        answer_etag        TEXT,
        api_status         TEXT,
        api_substatus      TEXT,
        attempts           INTEGER NOT NULL DEFAULT 0,
        last_http_status   INTEGER,
        last_error_code    TEXT,
        last_error_message TEXT,
        source_file        TEXT,
        source_row         INTEGER,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL,
        sent_at            TEXT,
        settled_at         TEXT,
        run                INTEGER REFERENCES runs (id)
    );
    CREATE INDEX triage_by_state ON triage (state, updated_at);
    "#,
];

/// The schema version this build writes.
pub(crate) fn current_version() -> u32 {
    u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX)
}

/// Create `path` with mode 0600 if it does not exist, so the ledger (which holds payloads
/// with customer data) is never readable by other users, not even for a moment.
pub(crate) fn create_private(path: &Path) -> Result<(), LedgerError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(LedgerError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Open an existing file (never create it) with WAL, full sync, a busy timeout and foreign
/// keys. SQLite creates the `-wal` and `-shm` files with the main file's permissions.
pub(crate) fn connect(path: &Path) -> Result<Connection, LedgerError> {
    let open_err = |source| LedgerError::Open {
        path: path.to_path_buf(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    if conn.is_readonly("main").map_err(open_err)? {
        // A write-protected WAL file in a write-protected directory cannot get its `-shm`
        // file, so SQLite cannot read it normally; read it as an immutable snapshot instead.
        if conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .is_err()
        {
            conn = open_immutable(path).map_err(open_err)?;
        }
    } else {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(rusqlite::Error::InvalidQuery));
        }
    }
    // FULL: a committed `in_flight` mark survives a power loss, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(open_err)?;
    Ok(conn)
}

/// The flags of an immutable read (no locking, no `-shm`), given [`immutable_uri`].
pub(crate) const IMMUTABLE_FLAGS: OpenFlags = OpenFlags::SQLITE_OPEN_READ_ONLY
    .union(OpenFlags::SQLITE_OPEN_URI)
    .union(OpenFlags::SQLITE_OPEN_NO_MUTEX);

/// Open `path` read-only as `immutable` (no locking, no `-shm`), for reading a ledger that
/// nobody can write.
fn open_immutable(path: &Path) -> Result<Connection, rusqlite::Error> {
    Connection::open_with_flags(immutable_uri(path), IMMUTABLE_FLAGS)
}

/// The `file:` URI of `path` with `immutable=1`.
pub(crate) fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'?' | b'#' | b'%' => uri.push_str(&format!("%{byte:02X}")),
            _ if !byte.is_ascii() => uri.push_str(&format!("%{byte:02X}")),
            _ => uri.push(char::from(byte)),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// The file's `pragma user_version`.
pub(crate) fn user_version(conn: &Connection, path: &Path) -> Result<u32, LedgerError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|source| LedgerError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(u32::try_from(version).unwrap_or(u32::MAX))
}

/// Fail unless a read-only file is exactly at the current version.
pub(crate) fn check_current(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let found = user_version(conn, path)?;
    let known = current_version();
    match found.cmp(&known) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(too_new(path, found)),
        std::cmp::Ordering::Less => Err(LedgerError::Outdated {
            path: path.to_path_buf(),
            found,
            known,
        }),
    }
}

/// Apply every migration the file does not have yet.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let found = user_version(conn, path)?;
    if found > current_version() {
        return Err(too_new(path, found));
    }
    let pending = MIGRATIONS.iter().zip(1u32..).skip(found as usize);
    for (sql, version) in pending {
        apply(conn, sql, version).map_err(|source| LedgerError::Migrate {
            path: path.to_path_buf(),
            version,
            source,
        })?;
    }
    Ok(())
}

/// One migration and its version bump, in one immediate transaction (two processes opening
/// a fresh file at once: the second waits, then finds the work done).
fn apply(conn: &Connection, sql: &str, version: u32) -> Result<(), rusqlite::Error> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let now: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if now >= i64::from(version) {
        return tx.commit();
    }
    tx.execute_batch(sql)?;
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()
}

fn too_new(path: &Path, found: u32) -> LedgerError {
    LedgerError::TooNew {
        path: path.to_path_buf(),
        found,
        known: current_version(),
    }
}
