//! Exactly-once against a hostile or busy API: lost responses on a server that does not
//! deduplicate, 429 storms, and the incremental runs that follow (nothing changed, one row
//! changed, a row changed on both sides).

use std::time::Duration;

use referral_sync::sandbox::{RateLimit, SandboxConfig};
use serde_json::json;

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Row, Workspace, bare_command, ids, mapping, rows};

#[test]
fn lost_responses_without_idempotency_create_every_record_exactly_once() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        idempotency: false,
        lose_response_rate: 0.3,
        seed: 20_261_123,
        // A lost response drops its connection soon, so the test does not wait on timeouts.
        hold_lost_for: Duration::from_millis(300),
        ..SandboxConfig::default()
    })?;
    let rows = rows(25);
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &["--concurrency", "4"]))?;
    ran.expect_code(0)?;
    assert!(
        peer.stat("lost_responses")? > 0,
        "the seed loses no response"
    );
    assert_eq!(peer.stat("referrals")?, 25);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    assert_eq!(ws.summary_count("created")?, 25);
    Ok(())
}

#[test]
fn lost_responses_held_until_the_client_times_out_create_no_duplicate() -> TestResult {
    // The sandbox's own default: a lost response holds its connection; the client's 1 s
    // timeout is what ends the attempt.
    let peer = Peer::start(SandboxConfig {
        idempotency: false,
        lose_response_rate: 0.3,
        seed: 7,
        ..SandboxConfig::default()
    })?;
    let rows = rows(10);
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &["--timeout", "1"]))?;
    ran.expect_code(0)?;
    assert!(
        peer.stat("lost_responses")? > 0,
        "the seed loses no response"
    );
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_429_storm_slows_the_run_down_but_creates_everything_once() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        rate_limit: Some(RateLimit::parse("5/s")?),
        ..SandboxConfig::default()
    })?;
    let rows = rows(15);
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &["--rate", "50", "--burst", "10"]))?;
    ran.expect_code(0)?;
    assert!(ws.summary_count("throttled")? > 0, "{}", ws.summary()?);
    assert!(peer.stat("throttled")? > 0);
    assert_eq!(ws.summary_count("created")?, 15);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn an_adaptive_rate_under_a_429_storm_creates_everything_once() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        rate_limit: Some(RateLimit::parse("5/s")?),
        ..SandboxConfig::default()
    })?;
    let rows = rows(15);
    let ws = Workspace::with_rows(&rows)?;
    let flags = ["--adaptive", "--rate", "50", "--burst", "10"];
    ws.run(&mut ws.upload(peer.url(), &flags))?.expect_code(0)?;
    assert_eq!(ws.summary_count("created")?, 15);
    assert_eq!(ws.summary_count("failed")?, 0);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_rerun_of_the_same_export_makes_no_request() -> TestResult {
    let peer = Peer::healthy()?;
    let rows = rows(12);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let requests = peer.stat("requests")?;

    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("requests")?, requests, "the re-run sent requests");
    assert_eq!(ws.summary_count("requests")?, 0);
    assert_eq!(ws.summary_count("unchanged")?, 12);
    assert_eq!(ws.summary_count("created")?, 0);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn one_changed_cell_makes_exactly_one_patch() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(8);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    let requests = peer.stat("requests")?;

    rows[3].notes = "the customer asked for a second quote".into();
    ws.write_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(peer.stat("updated")?, 1);
    assert_eq!(
        peer.stat("requests")?,
        requests + 1,
        "more than the one PATCH"
    );
    assert_eq!(ws.summary_count("updated")?, 1);
    assert_eq!(ws.summary_count("unchanged")?, 7);

    let record = ws.record(&rows[3].id)?;
    let referral = peer.get(record.referral_id.as_deref().unwrap_or_default())?;
    assert_eq!(
        referral["details"]["notes"],
        "the customer asked for a second quote"
    );
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_referral_changed_in_partner_center_is_reread_after_412_and_updated() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(3);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;

    // Someone edits the referral in Partner Center: the ledger's eTag is now stale.
    let record = ws.record(&rows[1].id)?;
    let id = record.referral_id.clone().unwrap_or_default();
    let before = peer.get(&id)?;
    let ops =
        json!([{"op": "replace", "path": "/details/notes", "value": "edited in Partner Center"}]);
    peer.patch(&id, &ops, before["eTag"].as_str().unwrap_or_default())?;

    // And the CRM changes the same row.
    rows[1].amount = "98765".into();
    ws.write_rows(&rows)?;
    let requests = peer.stat("requests")?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(0)?;
    // PATCH (412), GET, PATCH: the stale eTag was refused and the copy re-read.
    assert_eq!(peer.stat("requests")? - requests, 3);
    assert_eq!(ws.summary_count("requests")?, 3);
    assert_eq!(ws.summary_count("updated")?, 1, "{}", ws.summary()?);
    assert_eq!(ws.summary_count("failed")?, 0);

    let after = peer.get(&id)?;
    assert_eq!(after["details"]["dealValue"], 98765);
    // The export is the source of truth: the notes are the CRM's again.
    assert_eq!(after["details"]["notes"], rows[1].notes.as_str());
    // The test's PATCH, and one successful PATCH of the uploader after its 412.
    assert_eq!(peer.stat("updated")?, 2);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_row_changed_back_and_forth_settles_on_the_last_export() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(2);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    for notes in ["second version", "third version", "notes of 1"] {
        rows[0].notes = notes.into();
        ws.write_rows(&rows)?;
        ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
        assert_eq!(ws.summary_count("updated")?, 1, "{notes}");
    }
    let record = ws.record(&rows[0].id)?;
    let referral = peer.get(record.referral_id.as_deref().unwrap_or_default())?;
    assert_eq!(referral["details"]["notes"], "notes of 1");
    assert_eq!(peer.stat("updated")?, 3);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_repeated_external_id_in_the_export_makes_one_referral_and_fails_the_repeat() -> TestResult {
    let peer = Peer::healthy()?;
    let mut rows = rows(4);
    rows[3].id = rows[1].id.clone();
    rows[3].notes = "a second row with the same id".into();
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut ws.upload(peer.url(), &[]))?;
    ran.expect_code(1)?;
    assert!(ran.stderr.contains("row 5"), "{}", ran.stderr);
    assert_eq!(ws.summary_count("failed")?, 1);
    assert_eq!(peer.stat("created")?, 3);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    // The first row with the id is the one sent.
    let record = ws.record(&rows[1].id)?;
    let referral = peer.get(record.referral_id.as_deref().unwrap_or_default())?;
    assert_eq!(referral["details"]["notes"], rows[1].notes.as_str());
    Ok(())
}

#[test]
fn a_limited_run_sends_the_first_rows_and_the_next_run_the_rest() -> TestResult {
    let peer = Peer::healthy()?;
    let rows = rows(10);
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &["--limit", "4"]))?
        .expect_code(0)?;
    assert_eq!(ws.summary_count("created")?, 4);
    peer.assert_exactly_once(&ws, &ids(&rows[..4]))?;

    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(ws.summary_count("created")?, 6);
    assert_eq!(ws.summary_count("unchanged")?, 4);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn the_embedded_sandbox_keeps_its_referrals_beside_the_ledger_between_runs() -> TestResult {
    let rows = rows(5);
    let ws = Workspace::with_rows(&rows)?;
    let embedded = || {
        let mut cmd = bare_command();
        cmd.args(["--quiet", "upload", "--sandbox", "--mapping"])
            .arg(mapping())
            .arg(&ws.csv)
            .arg("--ledger")
            .arg(&ws.ledger)
            .arg("--summary-json")
            .arg(&ws.summary)
            .args(["--rate", "1000"]);
        cmd
    };
    ws.run(&mut embedded())?.expect_code(0)?;
    assert_eq!(ws.summary_count("created")?, 5);
    assert!(ws.path("ledger.db.sandbox").exists());

    ws.run(&mut embedded())?.expect_code(0)?;
    assert_eq!(ws.summary_count("unchanged")?, 5);
    assert_eq!(ws.summary_count("requests")?, 0);
    Ok(())
}

#[test]
fn external_ids_with_quotes_and_url_characters_are_looked_up_after_lost_responses() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        idempotency: false,
        lose_response_rate: 0.5,
        seed: 11,
        hold_lost_for: Duration::from_millis(300),
        ..SandboxConfig::default()
    })?;
    let odd = [
        "O'Brien-1",
        "A&B #2",
        "C+D 3?x=y",
        "Ünïcødé 4",
        "50% off/5",
        "''6",
    ];
    let rows: Vec<_> = odd
        .iter()
        .enumerate()
        .map(|(i, id)| Row {
            id: (*id).to_owned(),
            ..Row::new(i + 1)
        })
        .collect();
    let ws = Workspace::with_rows(&rows)?;
    ws.run(&mut ws.upload(peer.url(), &["--timeout", "1"]))?
        .expect_code(0)?;
    assert!(
        peer.stat("lost_responses")? > 0,
        "the seed loses no response"
    );
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    // And a re-run finds every one of them unchanged.
    ws.run(&mut ws.upload(peer.url(), &[]))?.expect_code(0)?;
    assert_eq!(ws.summary_count("unchanged")?, 6);
    Ok(())
}
