//! `forget` and `relink`: the ledger change, its audit row, the API checks of `relink`, and
//! the run lock.

use referral_sync::ledger::{State, lock_with_command};

use super::{Workspace, expect_code, stderr, stdout};
use crate::common::sandbox::TestResult;

/// A workspace whose ledger has synced by one upload.
fn synced_pair() -> TestResult<Workspace> {
    let ws = Workspace::new(&[])?;
    ws.write_export(&[
        ("A-1", "Deal one", "Contoso", "Open", "100"),
        ("A-2", "Deal two", "Fabrikam", "Open", "200"),
    ])?;
    expect_code(&ws.upload()?, 0)?;
    Ok(ws)
}

#[test]
fn forget_removes_the_record_with_an_audit_row_and_the_next_upload_creates_it_again() -> TestResult
{
    let ws = synced_pair()?;
    let old = ws.referral_id("A-1")?;
    let output = ws.admin(&["forget", "A-1", "--reason", "deleted by hand"])?;
    expect_code(&output, 0)?;
    assert!(stdout(&output).contains(&old), "{}", stdout(&output));
    let ledger = ws.ledger()?;
    assert!(ledger.get("A-1")?.is_none());
    assert!(ledger.get("A-2")?.is_some(), "only the named record goes");
    let audit = ledger.audit_log()?;
    assert_eq!(audit.len(), 1);
    let row = audit.first().ok_or("no audit row")?;
    assert_eq!(
        (
            row.action.as_str(),
            row.external_id.as_str(),
            row.reason.as_str()
        ),
        ("forget", "A-1", "deleted by hand")
    );
    assert_eq!(row.old_referral_id.as_deref(), Some(old.as_str()));
    assert_eq!(row.new_referral_id, None);
    // The referral in Partner Center is left alone.
    assert_eq!(ws.get_referral(&old)?.0, 200);
    // The next upload sees A-1 as new.
    expect_code(&ws.upload()?, 0)?;
    let new = ws.referral_id("A-1")?;
    assert_ne!(new, old);
    Ok(())
}

#[test]
fn forget_of_an_unknown_record_exits_2_and_changes_nothing() -> TestResult {
    let ws = synced_pair()?;
    let output = ws.admin(&["forget", "NOPE"])?;
    expect_code(&output, 2)?;
    assert!(stderr(&output).contains("\"NOPE\""), "{}", stderr(&output));
    assert!(ws.ledger()?.audit_log()?.is_empty());
    Ok(())
}

#[test]
fn relink_checks_the_referral_on_the_api_and_audits_the_change() -> TestResult {
    let ws = synced_pair()?;
    let old = ws.referral_id("A-1")?;
    // A copy of A-1 made by another tool: the one to keep.
    let keep = ws.create_referral("A-1", "Deal one (kept)")?;
    let url = ws.sandbox.base_url.clone();
    let output = ws.admin(&[
        "relink",
        "A-1",
        &keep,
        "--api-url",
        &url,
        "--reason",
        "dedupe",
    ])?;
    expect_code(&output, 0)?;
    let text = stdout(&output);
    assert!(text.contains(&format!("{old} -> {keep}")), "{text}");
    assert!(text.contains("engagementId"), "{text}");
    let record = ws.record("A-1")?;
    assert_eq!(record.referral_id.as_deref(), Some(keep.as_str()));
    assert_eq!(record.state, State::Synced);
    assert_eq!(
        record.payload_hash, None,
        "the next upload sends the full payload"
    );
    let audit = ws.ledger()?.audit_log()?;
    let row = audit.first().ok_or("no audit row")?;
    assert_eq!(
        (row.action.as_str(), row.reason.as_str()),
        ("relink", "dedupe")
    );
    assert_eq!(row.old_referral_id.as_deref(), Some(old.as_str()));
    assert_eq!(row.new_referral_id.as_deref(), Some(keep.as_str()));
    Ok(())
}

#[test]
fn relink_refuses_a_missing_referral_or_one_of_another_record() -> TestResult {
    let ws = synced_pair()?;
    let before = ws.referral_id("A-1")?;
    let url = ws.sandbox.base_url.clone();
    let missing = ws.admin(&["relink", "A-1", "no-such-referral", "--api-url", &url])?;
    expect_code(&missing, 2)?;
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );
    let other = ws.referral_id("A-2")?;
    let taken = ws.admin(&["relink", "A-1", &other, "--api-url", &url])?;
    expect_code(&taken, 2)?;
    assert!(stderr(&taken).contains("\"A-2\""), "{}", stderr(&taken));
    assert_eq!(ws.referral_id("A-1")?, before, "nothing changed");
    assert!(ws.ledger()?.audit_log()?.is_empty());
    // --offline trusts the admin.
    expect_code(
        &ws.admin(&["relink", "A-1", "no-such-referral", "--offline"])?,
        0,
    )?;
    assert_eq!(ws.referral_id("A-1")?, "no-such-referral");
    Ok(())
}

#[test]
fn relink_of_an_unknown_record_exits_2_before_any_request() -> TestResult {
    let ws = synced_pair()?;
    // An unreachable API: the ledger check must come first.
    let output = ws.admin(&["relink", "NOPE", "x", "--api-url", "http://127.0.0.1:9"])?;
    expect_code(&output, 2)?;
    assert!(stderr(&output).contains("\"NOPE\""), "{}", stderr(&output));
    Ok(())
}

#[test]
fn repairs_wait_for_no_one_a_held_lock_exits_4() -> TestResult {
    let ws = synced_pair()?;
    let _held = lock_with_command(&ws.path("ledger.db"), "referral-sync upload (test)")?;
    for args in [
        vec!["forget", "A-1"],
        vec!["relink", "A-1", "x", "--offline"],
    ] {
        let output = ws.admin(&args)?;
        expect_code(&output, 4)?;
        assert!(
            stderr(&output).contains("upload (test)"),
            "{}",
            stderr(&output)
        );
    }
    assert!(ws.ledger()?.get("A-1")?.is_some());
    Ok(())
}

#[test]
fn a_repair_on_a_mistyped_ledger_names_it_and_leaves_no_lock_file() -> TestResult {
    let ws = Workspace::new(&[])?;
    let output = ws.run(&["forget", "A-1", "--ledger", "typo.db"])?;
    expect_code(&output, 2)?;
    assert!(stderr(&output).contains("typo.db"), "{}", stderr(&output));
    assert!(!ws.path("typo.db").exists());
    assert!(!ws.path("typo.db.lock").exists());
    Ok(())
}
