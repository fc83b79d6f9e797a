//! Shared (co-sell) referrals: the partner's referral, then the connected referral for
//! Microsoft with its engagementId. A run that stopped between the two steps (the ledger left
//! `in_flight` at step two, as a crash leaves it) resumes at step two, whether or not the
//! lost second request had been applied.

use referral_sync::ledger::{InFlight, Ledger, Step};
use referral_sync::mapping::payload_hash;
use serde_json::Value;

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Row, Workspace, bare_command, ids, mapping};

/// What the mapping makes of the CSV (`preview`): per row, the referral and, for a Shared
/// one, the connected referral after it.
fn preview(ws: &Workspace) -> TestResult<Vec<Value>> {
    let out = bare_command()
        .args(["--quiet", "preview", "--mapping"])
        .arg(mapping())
        .arg(&ws.csv)
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    text.lines()
        .map(|line| Ok(serde_json::from_str(line)?))
        .collect()
}

/// Do step one by hand and leave the ledger as a crash during step two leaves it. With
/// `applied`, the lost step-two request had been applied: the connected referral exists.
/// Returns the partner referral's id.
fn crash_between_steps(peer: &Peer, ws: &Workspace, applied: bool) -> TestResult<String> {
    let [referral, connected] = preview(ws)?.try_into().map_err(|_| "expected two lines")?;
    let made = peer.create(&referral)?;
    let text = |key: &str| made[key].as_str().map(str::to_owned);
    let engagement = text("engagementId").ok_or("no engagementId")?;
    let mut second = connected.clone();
    second["engagementId"] = Value::String(engagement.clone());
    if applied {
        peer.create(&second)?;
    }
    let mut ledger = Ledger::open(&ws.ledger)?;
    let run = ledger.start_run("test: a run that died between the two steps")?;
    ledger.mark_in_flight(InFlight {
        external_id: "OPP-0001".into(),
        step: Step::Connected,
        request_id: uuid::Uuid::new_v4().to_string(),
        payload: second.to_string(),
        payload_hash: payload_hash(&referral, Some(&connected)),
        source: None,
        referral_id: text("id"),
        engagement_id: Some(engagement),
        etag: text("eTag"),
        run,
    })?;
    text("id").ok_or_else(|| "no id".into())
}

#[test]
fn shared_rows_make_a_referral_and_its_connected_referral() -> TestResult {
    let peer = Peer::healthy()?;
    let rows = vec![Row::new(1), Row::shared(2), Row::new(3), Row::shared(4)];
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("created")?, 6, "2 independent + 2 × 2 shared");
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    for shared in ["OPP-0002", "OPP-0004"] {
        peer.assert_engagement(&ws, shared)?;
    }
    assert_eq!(ws.record("OPP-0001")?.connected_referral_id, None);

    // A re-run sends nothing for them either.
    let requests = peer.stat("requests")?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("requests")?, requests);
    Ok(())
}

#[test]
fn a_crash_before_step_two_resumes_at_step_two() -> TestResult {
    let peer = Peer::healthy()?;
    let rows = [Row::shared(1)];
    let ws = Workspace::with_rows(&rows)?;
    let partner = crash_between_steps(&peer, &ws, false)?;

    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(
        peer.stat("created")?,
        2,
        "the test's step one + the connected referral"
    );
    let record = ws.record("OPP-0001")?;
    assert_eq!(record.referral_id.as_deref(), Some(partner.as_str()));
    assert!(record.connected_referral_id.is_some(), "{record:?}");
    peer.assert_engagement(&ws, "OPP-0001")?;
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_crash_after_an_applied_step_two_adopts_the_connected_referral() -> TestResult {
    let peer = Peer::healthy()?;
    let rows = [Row::shared(1)];
    let ws = Workspace::with_rows(&rows)?;
    crash_between_steps(&peer, &ws, true)?;

    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("created")?, 2, "step two was made again");
    peer.assert_engagement(&ws, "OPP-0001")?;
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    // The adopted referrals already match the export.
    assert_eq!(peer.stat("updated")?, 0);
    Ok(())
}

#[test]
fn a_row_that_starts_asking_for_help_becomes_shared_with_a_connected_referral() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = vec![Row::new(1), Row::new(2)];
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;

    rows[1] = Row::shared(2);
    ws.write_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(0)?;
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    let record = ws.record("OPP-0002")?;
    // The referral stays Independent (see below), so it is listed by its engagement.
    let engagement = record.engagement_id.clone().unwrap_or_default();
    let mut listed: Vec<String> = peer
        .list(&format!("engagementId eq '{engagement}'"))?
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    listed.sort_unstable();
    let mut expected = [
        record.referral_id.clone().unwrap_or_default(),
        record.connected_referral_id.clone().unwrap_or_default(),
    ];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    let referral = peer.get(record.referral_id.as_deref().unwrap_or_default())?;
    // Partner Center does not let `type` change after creation: the change is reported, the
    // consent (patchable) is sent.
    assert_eq!(referral["type"], "Independent", "{referral}");
    assert_eq!(
        referral["consent"]["consentToShareReferralWithMicrosoftSellers"],
        true
    );
    let summary = ws.summary()?;
    assert_eq!(summary["not_updatable"], 1, "{summary}");
    assert_eq!(summary["notices"][0]["field"], "/type", "{summary}");
    // Settled: the next run sends nothing.
    let requests = peer.stat("requests")?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("requests")?, requests);
    Ok(())
}

#[test]
fn a_change_to_the_connected_fields_that_cannot_be_patched_is_reported_not_sent() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = vec![Row::shared(1)];
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;

    // Only `inviteContext.notes` of the connected referral depends on this column's text.
    rows[0].help = "Need licensing help".into();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let record = ws.record("OPP-0001")?;
    let connected = peer.get(record.connected_referral_id.as_deref().unwrap_or_default())?;
    // `/inviteContext/notes` is not among the contract's patchable paths.
    assert_eq!(
        connected["inviteContext"]["notes"],
        "Opportunity 1: Need a demo"
    );
    let summary = ws.summary()?;
    assert_eq!(summary["not_updatable"], 1, "{summary}");
    assert_eq!(
        summary["notices"][0]["field"],
        "connected:/inviteContext/notes"
    );
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(ws.summary()?["not_updatable"], 0);
    Ok(())
}

#[test]
fn retry_after_a_crash_between_the_steps_makes_step_two() -> TestResult {
    let peer = Peer::healthy()?;
    let rows = [Row::shared(1)];
    let ws = Workspace::with_rows(&rows)?;
    crash_between_steps(&peer, &ws, false)?;
    ws.run(&mut ws.retry(peer.url(), &[]))?.expect_code(0)?;
    peer.assert_engagement(&ws, "OPP-0001")?;
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}
