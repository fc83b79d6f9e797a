//! Tests of the ledger module, on real SQLite files in temporary directories.
//!
//! `files`: opening, migrations, permissions, read-only places. `states`: every transition,
//! the reads and reports. `admin`: runs, audit, redaction. `writer`: batching, acks, failure.
//! `lock`: the run lock, across processes. `marker`: telling a ledger from any other file.

mod admin;
mod files;
mod lock;
mod marker;
mod states;
mod writer;

use referral_sync::ledger::{
    Failed, FailureKind, InFlight, Ledger, RunId, SourceLocation, Step, Synced,
};

/// A fresh ledger in its own temporary directory (kept alive by the returned guard).
pub(crate) fn fresh() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("ledger.db")).unwrap();
    (dir, ledger)
}

/// An in-flight mark for `id` with a payload derived from `id`.
pub(crate) fn in_flight(id: &str, step: Step, run: RunId) -> InFlight {
    InFlight {
        external_id: id.to_owned(),
        step,
        request_id: format!("req-{id}-{step}"),
        payload: format!("{{\"externalReferenceId\":\"{id}\"}}"),
        payload_hash: format!("hash-{id}"),
        source: Some(SourceLocation {
            file: "export.csv".to_owned(),
            row: 7,
        }),
        referral_id: None,
        engagement_id: None,
        etag: None,
        run,
    }
}

/// A synced mark for `id` as referral `ref-<id>`.
pub(crate) fn synced(id: &str, run: RunId) -> Synced {
    Synced {
        external_id: id.to_owned(),
        referral_id: format!("ref-{id}"),
        engagement_id: Some(format!("eng-{id}")),
        connected_referral_id: None,
        etag: Some(format!("\"etag-{id}\"")),
        connected_etag: None,
        payload_hash: format!("hash-{id}"),
        payload: format!("{{\"externalReferenceId\":\"{id}\"}}"),
        run,
    }
}

/// A failed mark for `id`.
pub(crate) fn failed(id: &str, kind: FailureKind, run: RunId) -> Failed {
    Failed {
        external_id: id.to_owned(),
        kind,
        http_status: Some(match kind {
            FailureKind::Retryable => 503,
            FailureKind::Permanent => 400,
        }),
        error_code: Some("ValidationError".to_owned()),
        message: format!("rejected {id}"),
        run,
    }
}
