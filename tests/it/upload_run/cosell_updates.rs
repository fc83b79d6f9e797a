//! Edits of a Shared (co-sell) row reach both of its referrals: the partner's and the
//! connected one for Microsoft. The partner's referral may already hold the new values when
//! the run comes to it (the answer to an applied PATCH was lost, or the same edit was made in
//! Partner Center); the connected referral must still be brought up to date, and the record
//! is not settled until it is.

use std::time::Duration;

use referral_sync::sandbox::{SandboxConfig, first_losses};
use serde_json::{Value, json};

use crate::common::api::{Api, Peer};
use crate::common::sandbox::TestResult;
use crate::common::upload::{Row, Workspace};

/// The edited notes of every test here.
const EDITED: &str = "notes of 1 (edited in the CRM)";

/// One Shared row uploaded to a healthy sandbox keeping its state in the workspace; the
/// row is then edited (its notes, which both referrals carry) and the sandbox stopped.
fn uploaded_then_edited() -> TestResult<(Workspace, Vec<Row>)> {
    let mut rows = vec![Row::shared(1)];
    let ws = Workspace::with_rows(&rows)?;
    let healthy = Peer::start(SandboxConfig {
        state: Some(ws.path("sandbox-state.db")),
        ..SandboxConfig::default()
    })?;
    ws.run(&mut ws.upload(healthy.url(), &[]))?.expect_code(0)?;
    healthy.stop();
    rows[0].notes = EDITED.into();
    ws.write_rows(&rows)?;
    Ok((ws, rows))
}

/// Both referrals of `OPP-0001` hold the edited notes (asked of the API, not the ledger).
fn assert_both_edited(api: &Api, ws: &Workspace) -> TestResult {
    let record = ws.record("OPP-0001")?;
    let partner = api.get(record.referral_id.as_deref().unwrap_or_default())?;
    let connected = api.get(record.connected_referral_id.as_deref().unwrap_or_default())?;
    assert_eq!(partner["details"]["notes"], EDITED, "{partner}");
    assert_eq!(connected["details"]["notes"], EDITED, "{connected}");
    Ok(())
}

#[test]
fn a_lost_answer_to_the_partner_patch_still_updates_the_connected_referral() -> TestResult {
    let (ws, _) = uploaded_then_edited()?;
    // A seed that loses the answer to the first request of the run (the partner's PATCH,
    // applied) and none of the next: the retried PATCH meets 412, the re-read finds the new
    // values already there.
    let lossy = |seed| SandboxConfig {
        state: Some(ws.path("sandbox-state.db")),
        lose_response_rate: 0.3,
        hold_lost_for: Duration::from_millis(200),
        seed,
        ..SandboxConfig::default()
    };
    let seed = (0..10_000u64)
        .find(|&seed| {
            let losses = first_losses(&lossy(seed), 10);
            losses[0] && !losses[1..].contains(&true)
        })
        .ok_or("no seed loses exactly the first answer")?;
    let peer = Peer::start(lossy(seed))?;
    ws.run(&mut ws.upload(peer.url(), &["--concurrency", "1"]))?
        .expect_code(0)?;
    assert_eq!(peer.stat("lost_responses")?, 1, "the fault did not hit");
    assert_both_edited(&peer, &ws)?;
    // Settled: the next run sends nothing.
    let requests = peer.stat("requests")?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("requests")?, requests);
    Ok(())
}

#[test]
fn the_same_edit_made_in_partner_center_still_updates_the_connected_referral() -> TestResult {
    let (ws, _) = uploaded_then_edited()?;
    let peer = Peer::start(SandboxConfig {
        state: Some(ws.path("sandbox-state.db")),
        ..SandboxConfig::default()
    })?;
    let record = ws.record("OPP-0001")?;
    let id = record.referral_id.as_deref().unwrap_or_default();
    let partner: Value = peer.get(id)?;
    let ops = json!([{"op": "replace", "path": "/details/notes", "value": EDITED}]);
    peer.patch(id, &ops, partner["eTag"].as_str().unwrap_or_default())?;

    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_both_edited(&peer, &ws)?;
    assert_eq!(ws.summary_count("updated")?, 1, "{}", ws.summary()?);
    Ok(())
}
