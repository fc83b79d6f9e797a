//! Every state transition of a record, and the reads and reports built on them.

use referral_sync::ledger::{
    FailureKind, Pending, ReportKind, SourceLocation, State, Step, SyncEntry,
};

use super::{failed, fresh, in_flight, synced};

#[test]
fn a_create_goes_pending_in_flight_synced() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    let source = Some(SourceLocation {
        file: "a.csv".to_owned(),
        row: 3,
    });
    ledger
        .mark_pending(Pending {
            external_id: "A-1".into(),
            source,
            run,
        })
        .unwrap();
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (State::Pending, 0));
    assert_eq!(record.source.unwrap().row, 3);

    ledger
        .mark_in_flight(in_flight("A-1", Step::Create, run))
        .unwrap();
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!(record.state, State::InFlight);
    assert_eq!(record.step, Some(Step::Create));
    assert_eq!(record.request_id.as_deref(), Some("req-A-1-create"));
    assert_eq!(record.attempts, 1);
    assert_eq!(
        record.source.as_ref().map(|s| s.file.as_str()),
        Some("export.csv")
    );
    assert_eq!(record.last_run, Some(run));

    ledger.mark_synced(synced("A-1", run)).unwrap();
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!(record.state, State::Synced);
    assert_eq!(record.referral_id.as_deref(), Some("ref-A-1"));
    assert_eq!(record.etag.as_deref(), Some("\"etag-A-1\""));
    assert_eq!((record.step, record.request_id), (None, None));
    assert_eq!(record.payload_hash.as_deref(), Some("hash-A-1"));
    assert!(record.synced_at.is_some());
    assert!(ledger.get("missing").unwrap().is_none());
}

#[test]
fn a_pending_mark_does_not_undo_a_sync() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger.mark_synced(synced("A-1", run)).unwrap();
    ledger
        .mark_pending(Pending {
            external_id: "A-1".into(),
            source: None,
            run,
        })
        .unwrap();
    assert_eq!(ledger.get("A-1").unwrap().unwrap().state, State::Synced);
}

#[test]
fn a_failure_keeps_the_request_id_and_the_retry_counts_attempts() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger
        .mark_in_flight(in_flight("A-1", Step::Create, run))
        .unwrap();
    ledger
        .mark_failed(failed("A-1", FailureKind::Retryable, run))
        .unwrap();
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!(record.state, State::Failed);
    assert_eq!(record.failure_kind, Some(FailureKind::Retryable));
    assert_eq!(record.last_http_status, Some(503));
    assert_eq!(record.last_error_code.as_deref(), Some("ValidationError"));
    assert_eq!(record.last_error_message.as_deref(), Some("rejected A-1"));
    assert_eq!(record.request_id.as_deref(), Some("req-A-1-create"));
    assert_eq!(record.step, Some(Step::Create));

    ledger
        .mark_in_flight(in_flight("A-1", Step::Create, run))
        .unwrap();
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!(
        (record.state, record.attempts, record.failure_kind),
        (State::InFlight, 2, None)
    );
    ledger.mark_synced(synced("A-1", run)).unwrap();
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!(record.last_error_message, None);
    assert_eq!(record.attempts, 2);
}

#[test]
fn a_shared_referral_records_both_steps() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger
        .mark_in_flight(in_flight("S-1", Step::Create, run))
        .unwrap();
    let mut step_two = in_flight("S-1", Step::Connected, run);
    step_two.referral_id = Some("shared-1".into());
    step_two.engagement_id = Some("eng-1".into());
    step_two.etag = Some("\"e1\"".into());
    ledger.mark_in_flight(step_two).unwrap();
    let record = ledger.get("S-1").unwrap().unwrap();
    assert_eq!(record.step, Some(Step::Connected));
    assert_eq!(record.referral_id.as_deref(), Some("shared-1"));
    assert_eq!(record.engagement_id.as_deref(), Some("eng-1"));

    let mut done = synced("S-1", run);
    done.referral_id = "shared-1".into();
    done.engagement_id = None;
    done.connected_referral_id = Some("ms-1".into());
    done.connected_etag = Some("\"c1\"".into());
    ledger.mark_synced(done).unwrap();
    let record = ledger.get("S-1").unwrap().unwrap();
    assert_eq!(
        record.engagement_id.as_deref(),
        Some("eng-1"),
        "kept from step one"
    );
    assert_eq!(record.connected_referral_id.as_deref(), Some("ms-1"));
    assert_eq!(record.connected_etag.as_deref(), Some("\"c1\""));
}

#[test]
fn an_update_of_a_synced_record_can_fail_permanently() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger.mark_synced(synced("A-1", run)).unwrap();
    let mut update = in_flight("A-1", Step::Update, run);
    update.payload_hash = "hash-2".into();
    ledger.mark_in_flight(update).unwrap();
    ledger
        .mark_failed(failed("A-1", FailureKind::Permanent, run))
        .unwrap();
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!(record.state, State::Failed);
    assert_eq!(
        record.referral_id.as_deref(),
        Some("ref-A-1"),
        "the referral stays known"
    );
    assert_eq!(record.step, Some(Step::Update));
}

/// A ledger with records in every state: P pending, I in flight, S1/S2 synced, R failed
/// retryable, X failed permanent; S2 and X in a second run.
fn populated() -> (
    tempfile::TempDir,
    referral_sync::ledger::Ledger,
    [referral_sync::ledger::RunId; 2],
) {
    let (dir, mut ledger) = fresh();
    let one = ledger.start_run("upload one").unwrap();
    let two = ledger.start_run("upload two").unwrap();
    ledger
        .mark_pending(Pending {
            external_id: "P".into(),
            source: None,
            run: one,
        })
        .unwrap();
    ledger
        .mark_in_flight(in_flight("I", Step::Create, one))
        .unwrap();
    ledger.mark_synced(synced("S1", one)).unwrap();
    ledger.mark_synced(synced("S2", two)).unwrap();
    ledger
        .mark_failed(failed("R", FailureKind::Retryable, one))
        .unwrap();
    ledger
        .mark_failed(failed("X", FailureKind::Permanent, two))
        .unwrap();
    (dir, ledger, [one, two])
}

fn ids(records: Vec<referral_sync::ledger::LedgerRecord>) -> Vec<String> {
    records.into_iter().map(|r| r.external_id).collect()
}

#[test]
fn lists_by_state_and_counts() {
    let (_dir, ledger, _) = populated();
    let counts = ledger.counts_by_state().unwrap();
    assert_eq!(
        (
            counts.pending,
            counts.in_flight,
            counts.synced,
            counts.failed_retryable,
            counts.failed_permanent
        ),
        (1, 1, 2, 1, 1)
    );
    assert_eq!(ids(ledger.in_flight().unwrap()), ["I"]);
    assert_eq!(ids(ledger.failed(false).unwrap()), ["R"]);
    assert_eq!(ids(ledger.failed(true).unwrap()), ["R", "X"]);
    assert_eq!(ids(ledger.oldest(State::Synced, 1).unwrap()), ["S1"]);
    assert_eq!(
        ledger.all_external_ids().unwrap(),
        ["I", "P", "R", "S1", "S2", "X"]
    );
    let mut streamed = Vec::new();
    ledger
        .for_each_record(|r| {
            streamed.push(r.external_id);
            Ok::<(), referral_sync::ledger::LedgerError>(())
        })
        .unwrap();
    assert_eq!(streamed, ["I", "P", "R", "S1", "S2", "X"]);
}

#[test]
fn reports_never_mix_failures_and_successes() {
    let (_dir, ledger, [one, two]) = populated();
    let report = |kind, run| ids(ledger.records_for_report(kind, run).unwrap());
    assert_eq!(report(ReportKind::Failures, None), ["R", "X"]);
    assert_eq!(report(ReportKind::Successes, None), ["S1", "S2"]);
    assert_eq!(
        report(ReportKind::Mappings, None),
        ["I", "P", "R", "S1", "S2", "X"]
    );
    assert_eq!(report(ReportKind::Failures, Some(two)), ["X"]);
    assert_eq!(report(ReportKind::Successes, Some(one)), ["S1"]);
    assert_eq!(report(ReportKind::Mappings, Some(two)), ["S2", "X"]);
}

#[test]
fn the_sync_index_holds_every_record_in_one_read() {
    let (_dir, ledger, _) = populated();
    let index = ledger.load_sync_index().unwrap();
    assert_eq!(index.len(), 6);
    let s1 = SyncEntry {
        state: State::Synced,
        failure_kind: None,
        payload_hash: Some("hash-S1".into()),
        referral_id: Some("ref-S1".into()),
        etag: Some("\"etag-S1\"".into()),
    };
    assert_eq!(index.get("S1"), Some(&s1));
    assert_eq!(
        index.get("X").map(|e| e.failure_kind),
        Some(Some(FailureKind::Permanent))
    );
}

#[test]
fn a_hand_edited_state_is_reported_not_panicked_on() {
    let (dir, ledger, _) = populated();
    drop(ledger);
    let path = dir.path().join("ledger.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE records SET step = 'teleport' WHERE external_id = 'I';").unwrap();
    drop(conn);
    let ledger = referral_sync::ledger::Ledger::open_existing(&path).unwrap();
    let err = ledger.get("I").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("teleport") && text.contains("step") && text.contains("\"I\""),
        "{text}"
    );
}
