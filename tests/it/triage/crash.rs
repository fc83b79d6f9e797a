//! Decisions that meet a moving referral or a crash: a 412 because it changed between our
//! read and our PATCH, a run killed after `sent`, an answer of ours that was lost.
//!
//! The window between `sent` and the PATCH's effect is made wide without timing: the sandbox
//! allows the partner's tenant one request a second, so the PATCH that follows the read is
//! answered 429 and waits out `Retry-After`. The test sees `sent` in the ledger and acts in
//! that wait (another actor has a rate-limit bucket of its own).

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use referral_sync::ledger::{Decision, Ledger, TriagePending, TriageState};
use reqwest::Method;
use serde_json::json;

use super::{Desk, PARTNER_TOKEN, expect_exit};
use crate::common::sandbox::TestResult;

/// The longest a triage run or a wait for its ledger may take before the test fails.
const LIMIT: Duration = Duration::from_secs(90);

/// Wait until the ledger holds the decision on `id` as `sent`.
fn wait_for_sent(desk: &Desk, id: &str, child: &mut Child) -> TestResult {
    let started = Instant::now();
    while started.elapsed() < LIMIT {
        if let Some(status) = child.try_wait()? {
            return Err(format!("triage ended ({status}) before its decision was sent").into());
        }
        let sent = Ledger::open_existing(desk.path("ledger.db"))
            .ok()
            .and_then(|ledger| ledger.triage_entry(id).ok().flatten())
            .is_some_and(|entry| entry.state == TriageState::Sent);
        if sent {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err("the decision was never marked sent".into())
}

/// Wait for a spawned run to end (killing it after [`LIMIT`]).
fn finish(mut child: Child) -> TestResult<Output> {
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > LIMIT {
            child.kill()?;
            return Err("triage did not end in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child.wait_with_output()?)
}

fn spawn(desk: &Desk) -> TestResult<Child> {
    Ok(desk
        .triage_command(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?)
}

#[test]
fn issue_12_a_412_rereads_the_referral_and_sends_again_with_the_new_etag() -> TestResult {
    let desk = Desk::new(&["--rate-limit", "1/s"])?;
    let id = desk.shared_by_microsoft("Changed meanwhile")?;
    let first_etag = desk.referral(&id)?["eTag"].clone();
    desk.decisions(&format!("referralId,decision,reason\n{id},accept,\n"))?;
    let mut child = spawn(&desk)?;
    wait_for_sent(&desk, &id, &mut child)?;
    // A colleague edits the referral in Partner Center meanwhile: its eTag changes.
    let notes = json!([{"op": "replace", "path": "/details/notes", "value": "Called them"}]);
    let path = format!("/v1.0/engagements/referrals/{id}");
    let (status, body) = desk.send(Method::PATCH, &path, "colleague", None, Some(notes))?;
    assert!((200..300).contains(&status), "{status}: {body}");

    let output = finish(child)?;
    expect_exit(&output, 0)?;
    assert_eq!(desk.counts()?, [1, 0, 0, 0, 0, 0, 0]);
    let now = desk.referral(&id)?;
    assert_eq!(
        (&now["status"], &now["substatus"]),
        (&json!("Active"), &json!("Accepted"))
    );
    assert_eq!(
        now["details"]["notes"], "Called them",
        "the colleague's edit stays"
    );
    let entry = desk.entry(&id)?;
    assert_eq!((entry.state, entry.attempts), (TriageState::Done, 2));
    assert_ne!(
        entry.sent_etag.as_deref(),
        first_etag.as_str(),
        "sent with the new eTag"
    );
    assert_eq!(
        desk.stat("updated")?,
        2,
        "the colleague's edit and one accept"
    );
    Ok(())
}

#[test]
fn issue_12_a_run_killed_after_sent_is_resolved_by_a_read_on_the_next_run() -> TestResult {
    let desk = Desk::new(&["--rate-limit", "1/s"])?;
    let id = desk.shared_by_microsoft("Killed mid-decision")?;
    desk.decisions(&format!(
        "referralId,decision,reason\n{id},decline,No capacity\n"
    ))?;
    let mut child = spawn(&desk)?;
    wait_for_sent(&desk, &id, &mut child)?;
    child.kill()?;
    child.wait()?;
    assert_eq!(desk.entry(&id)?.state, TriageState::Sent);
    assert_eq!(
        desk.status_of(&id)?,
        "New/Pending",
        "the throttled PATCH never applied"
    );

    // The next run's file does not list it: the ledger's open decision is finished anyway,
    // after a read shows it was not applied.
    desk.decisions("referralId,decision,reason\n")?;
    let output = finish(spawn(&desk)?)?;
    expect_exit(&output, 0)?;
    assert_eq!(desk.counts()?, [0, 1, 0, 0, 0, 0, 0]);
    let now = desk.referral(&id)?;
    assert_eq!(
        (&now["substatus"], &now["statusReason"]),
        (&json!("Declined"), &json!("No capacity"))
    );
    let entry = desk.entry(&id)?;
    assert_eq!((entry.state, entry.attempts), (TriageState::Done, 2));
    assert_eq!(desk.stat("updated")?, 1);
    Ok(())
}

#[test]
fn issue_12_an_answer_of_ours_that_was_lost_is_recorded_done_without_sending_again() -> TestResult {
    let desk = Desk::new(&[])?;
    let id = desk.shared_by_microsoft("Answer lost")?;
    let etag = desk.referral(&id)?["eTag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // An earlier run recorded the decision and sent it...
    let mut ledger = Ledger::open(desk.path("ledger.db"))?;
    let run = ledger.start_run("triage (killed)")?;
    ledger.triage_pending(&TriagePending {
        referral_id: id.clone(),
        decision: Decision::Accept,
        reason: None,
        source: None,
        run,
    })?;
    ledger.triage_sent(&id, &etag, run)?;
    drop(ledger);
    // ...Partner Center applied it, and the answer never came back.
    let accept = json!([
        {"op": "replace", "path": "/status", "value": "Active"},
        {"op": "replace", "path": "/substatus", "value": "Accepted"},
    ]);
    let path = format!("/v1.0/engagements/referrals/{id}");
    let (status, body) = desk.send(Method::PATCH, &path, PARTNER_TOKEN, None, Some(accept))?;
    assert!((200..300).contains(&status), "{status}: {body}");
    let (requests, updated) = (desk.stat("requests")?, desk.stat("updated")?);

    desk.decisions(&format!("referralId,decision,reason\n{id},accept,\n"))?;
    let output = desk.triage()?;
    expect_exit(&output, 0)?;
    assert_eq!(
        desk.counts()?,
        [1, 0, 0, 0, 0, 0, 0],
        "ours, finished by a read"
    );
    assert_eq!(desk.stat("updated")?, updated, "nothing sent again");
    assert_eq!(desk.stat("requests")?, requests + 1, "one GET");
    let entry = desk.entry(&id)?;
    assert_eq!(entry.state, TriageState::Done);
    assert_eq!(
        entry.answer_etag.as_deref(),
        desk.referral(&id)?["eTag"].as_str()
    );
    Ok(())
}

#[test]
fn issue_12_sigterm_while_a_decision_waits_ends_the_run_at_once_with_130() -> TestResult {
    let desk = Desk::new(&["--rate-limit", "1/s"])?;
    let id = desk.shared_by_microsoft("Interrupted")?;
    desk.decisions(&format!("referralId,decision,reason\n{id},accept,\n"))?;
    let mut child = spawn(&desk)?;
    wait_for_sent(&desk, &id, &mut child)?;
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()?;
    let output = finish(child)?;
    expect_exit(&output, 130)?;
    // Stopped in the wait for the rate limit: never applied, left `sent` for a read.
    assert_eq!(desk.entry(&id)?.state, TriageState::Sent);
    assert_eq!(desk.status_of(&id)?, "New/Pending");
    let output = finish(spawn(&desk)?)?;
    expect_exit(&output, 0)?;
    assert_eq!(desk.status_of(&id)?, "Active/Accepted");
    Ok(())
}
