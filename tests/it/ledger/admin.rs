//! Runs, the audit trail of forget / relink / adopt, and redaction of stored command lines.

use referral_sync::ledger::{Adopt, LedgerError, State, Step, redact_args};

use super::{fresh, in_flight, synced};

#[test]
fn runs_store_args_unchanged_and_list_newest_first() {
    let (_dir, mut ledger) = fresh();
    let args = "referral-sync upload --token <redacted> --ledger l.db a.csv";
    let one = ledger.start_run(args).unwrap();
    let two = ledger.start_run("referral-sync retry").unwrap();
    ledger.finish_run(one, r#"{"created":3}"#, 1).unwrap();
    let runs = ledger.runs(10).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [two, one]);
    let first = &runs[1];
    assert_eq!(first.args, args);
    assert_eq!(first.counts.as_deref(), Some(r#"{"created":3}"#));
    assert_eq!(first.exit_code, Some(1));
    assert!(first.finished_at.is_some());
    assert_eq!(runs[0].finished_at, None);
    assert_eq!(ledger.runs(1).unwrap().len(), 1);
}

#[test]
fn redaction_drops_secret_values_and_keeps_the_rest() {
    let args: Vec<String> = [
        "referral-sync",
        "upload",
        "--token",
        "s3cr3t",
        "--client-secret=hunter2",
        "--api-key",
        "-dash-value",
        "--token-file",
        "/run/token",
        "--ledger",
        "l.db",
        "in.csv",
    ]
    .map(String::from)
    .to_vec();
    let text = redact_args(&args);
    assert_eq!(
        text,
        "referral-sync upload --token <redacted> --client-secret=<redacted> --api-key <redacted> \
         --token-file /run/token --ledger l.db in.csv"
    );
    for secret in ["s3cr3t", "hunter2", "dash-value"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn forget_removes_the_record_and_audits_it() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger.mark_synced(synced("A-1", run)).unwrap();
    let old = ledger.forget("A-1", "duplicate in CRM").unwrap();
    assert_eq!(old.as_deref(), Some("ref-A-1"));
    assert!(ledger.get("A-1").unwrap().is_none());
    let audit = ledger.audit_log().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].external_id.as_str(),
            audit[0].reason.as_str()
        ),
        ("forget", "A-1", "duplicate in CRM")
    );
    assert_eq!(
        (
            audit[0].old_referral_id.as_deref(),
            audit[0].new_referral_id.as_deref()
        ),
        (Some("ref-A-1"), None)
    );

    let err = ledger.forget("A-1", "again").unwrap_err();
    assert!(matches!(err, LedgerError::UnknownRecord { .. }), "{err:?}");
    assert_eq!(
        ledger.audit_log().unwrap().len(),
        1,
        "a refused forget is not audited"
    );
}

#[test]
fn relink_points_at_the_new_referral_and_clears_the_old_ones_details() {
    let (_dir, mut ledger) = fresh();
    let run = ledger.start_run("upload").unwrap();
    ledger.mark_synced(synced("A-1", run)).unwrap();
    ledger
        .mark_in_flight(in_flight("A-1", Step::Update, run))
        .unwrap();
    let old = ledger
        .relink(
            "A-1",
            "ref-new",
            Some((Some("eng-9"), Some("\"e9\""))),
            "merged by hand",
        )
        .unwrap();
    assert_eq!(old.as_deref(), Some("ref-A-1"));
    let record = ledger.get("A-1").unwrap().unwrap();
    assert_eq!(record.state, State::Synced);
    assert_eq!(record.referral_id.as_deref(), Some("ref-new"));
    assert_eq!(
        (record.payload_hash, record.etag, record.engagement_id),
        (None, Some("\"e9\"".to_owned()), Some("eng-9".to_owned()))
    );
    assert_eq!((record.request_id, record.step), (None, None));
    let audit = ledger.audit_log().unwrap();
    assert_eq!(audit[0].action, "relink");
    assert_eq!(audit[0].new_referral_id.as_deref(), Some("ref-new"));

    let err = ledger.relink("nobody", "ref-x", None, "typo").unwrap_err();
    assert!(err.to_string().contains("nobody"), "{err}");
}

#[test]
fn adopt_records_an_orphan_once() {
    let (_dir, mut ledger) = fresh();
    let orphan = Adopt {
        external_id: "O-1".into(),
        referral_id: "ref-o".into(),
        engagement_id: Some("eng-o".into()),
        etag: Some("\"e\"".into()),
        reason: "reconcile --adopt".into(),
    };
    ledger.adopt(&orphan).unwrap();
    let record = ledger.get("O-1").unwrap().unwrap();
    assert_eq!(
        (record.state, record.referral_id.as_deref()),
        (State::Synced, Some("ref-o"))
    );
    assert_eq!(
        record.payload_hash, None,
        "the next upload sends a full update"
    );
    let err = ledger.adopt(&orphan).unwrap_err();
    assert!(matches!(err, LedgerError::AlreadyTracked { .. }), "{err:?}");
    let audit = ledger.audit_log().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].old_referral_id.as_deref()
        ),
        ("adopt", None)
    );
}

#[test]
fn a_locked_ledger_error_becomes_exit_code_4() {
    let err = LedgerError::Locked {
        path: "l.db.lock".into(),
        holder: "pid 1".into(),
    };
    let err = referral_sync::Error::from(err);
    assert_eq!(err.exit(), referral_sync::Exit::Locked);
    let other = referral_sync::Error::from(LedgerError::WriterClosed);
    assert!(matches!(other, referral_sync::Error::Ledger(_)));
}
