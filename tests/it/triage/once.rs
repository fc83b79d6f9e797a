//! Decisions carried out once: accepted and declined, nothing sent again on a re-run, an
//! expired referral reported and never retried, bad rows named while the good rows go.

use referral_sync::ledger::{Decision, TriageState};

use super::{Desk, expect_exit};
use crate::common::sandbox::TestResult;

#[test]
fn issue_12_triage_accepts_and_declines_once_and_a_rerun_sends_nothing() -> TestResult {
    let desk = Desk::new(&[])?;
    let accept = desk.shared_by_microsoft("Contoso wants Azure")?;
    let decline = desk.shared_by_microsoft("Fabrikam wants Dynamics")?;
    desk.decisions(&format!(
        "referralId,decision,reason\n{accept},Accept,\n{decline},DECLINE,Not our region\n"
    ))?;

    let output = desk.triage()?;
    expect_exit(&output, 0)?;
    assert_eq!(desk.counts()?, [1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(desk.status_of(&accept)?, "Active/Accepted");
    let declined = desk.referral(&decline)?;
    assert_eq!(declined["substatus"], "Declined");
    assert_eq!(declined["statusReason"], "Not our region");
    assert_eq!(desk.stat("updated")?, 2);
    for (id, decision) in [(&accept, Decision::Accept), (&decline, Decision::Decline)] {
        let entry = desk.entry(id)?;
        assert_eq!(
            (entry.state, entry.decision, entry.attempts),
            (TriageState::Done, decision, 1)
        );
        let api = desk.referral(id)?;
        assert_eq!(entry.answer_etag.as_deref(), api["eTag"].as_str());
    }

    // The same file again: both are done in the ledger, so not one request is made.
    let requests = desk.stat("requests")?;
    let output = desk.triage()?;
    expect_exit(&output, 0)?;
    assert_eq!(desk.counts()?, [0, 0, 2, 0, 0, 0, 0]);
    assert_eq!(desk.stat("requests")?, requests);
    assert_eq!(desk.stat("updated")?, 2);
    Ok(())
}

#[test]
fn issue_12_triage_reports_an_expired_referral_and_never_retries_it() -> TestResult {
    let desk = Desk::new(&[])?;
    let late = desk.shared_by_microsoft("Shared two weeks ago")?;
    desk.advance_days(15)?;
    let fresh = desk.shared_by_microsoft("Shared today")?;
    desk.decisions(&format!(
        "referralId,decision,reason\n{late},accept,\n{fresh},accept,\n"
    ))?;

    let output = desk.triage()?;
    expect_exit(&output, 1)?;
    assert_eq!(desk.counts()?, [1, 0, 0, 1, 0, 0, 0]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("expired before the decision reached it"),
        "{stderr}"
    );
    assert_eq!(desk.status_of(&late)?, "Closed/Expired");
    assert_eq!(desk.status_of(&fresh)?, "Active/Accepted");
    assert_eq!(
        desk.stat("updated")?,
        1,
        "nothing was sent for the expired one"
    );
    let entry = desk.entry(&late)?;
    assert_eq!((entry.state, entry.attempts), (TriageState::Expired, 0));
    assert_eq!(entry.api_substatus.as_deref(), Some("Expired"));

    // Re-run: still reported (exit 1), still not sent, and no request at all.
    let requests = desk.stat("requests")?;
    let output = desk.triage()?;
    expect_exit(&output, 1)?;
    assert_eq!(desk.counts()?, [0, 0, 1, 1, 0, 0, 0]);
    assert_eq!(desk.stat("requests")?, requests);
    Ok(())
}

#[test]
fn issue_12_triage_names_bad_rows_and_still_sends_the_good_ones() -> TestResult {
    let desk = Desk::new(&[])?;
    let good = desk.shared_by_microsoft("Good row")?;
    let twice = desk.shared_by_microsoft("Listed twice")?;
    let ours = desk.outgoing()?;
    desk.decisions(&format!(
        "Referral ID,Decision,Reason,Customer\n\
         {good},accept,,Contoso\n\
         CRM-0042,accept,,Northwind\n\
         {twice},accept,,Fabrikam\n\
         {twice},decline,Too small,Fabrikam\n\
         {good},maybe,,Contoso\n\
         {ours},decline,,Us\n\
         {ours},accept,,Us\n"
    ))?;

    let output = desk.triage()?;
    expect_exit(&output, 1)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "decisions.csv:row 3: referralId: \"CRM-0042\" is not a referral id",
        "decisions.csv:row 4: decision: referral",
        "decisions.csv:row 5: decision: referral",
        "decisions.csv:row 6: decision: \"maybe\": expected accept or decline",
        "decisions.csv:row 7: reason: is empty: a decline needs a reason",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }
    // The good row went; the referral listed with two decisions was left alone; the
    // partner's own referral is not inbound and fails without a request changing it.
    assert_eq!(desk.counts()?, [1, 0, 0, 0, 0, 1, 5]);
    assert_eq!(desk.status_of(&good)?, "Active/Accepted");
    assert_eq!(desk.status_of(&twice)?, "New/Pending");
    assert_eq!(desk.stat("updated")?, 1);
    assert!(stderr.contains("not an inbound referral"), "{stderr}");
    Ok(())
}

#[test]
fn issue_12_triage_refuses_a_file_without_a_decision_column_before_any_request() -> TestResult {
    let desk = Desk::new(&[])?;
    let id = desk.shared_by_microsoft("Waiting")?;
    desk.decisions(&format!("referralId,choice\n{id},accept\n"))?;
    let requests = desk.stat("requests")?;
    let output = desk.triage()?;
    expect_exit(&output, 2)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("decisions.csv:row 1: no column decision"),
        "{stderr}"
    );
    assert_eq!(desk.stat("requests")?, requests);
    Ok(())
}
