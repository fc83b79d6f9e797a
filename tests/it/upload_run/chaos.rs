//! The short chaos suite: a 200-row export against a sandbox that fails, loses responses and
//! does not deduplicate, with the uploader SIGKILLed at seeded points (or the sandbox itself
//! killed and restarted on its `--state` file) and restarted until it finishes. Whatever the
//! interleaving, the end is one referral per record and a ledger that agrees with the API;
//! for edited co-sell rows, both of each record's referrals hold the edit.

use std::collections::HashMap;
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use referral_sync::sandbox::SandboxConfig;
use serde_json::Value;

use crate::common::api::{Api, Peer};
use crate::common::sandbox::{SandboxProcess, TestResult};
use crate::common::upload::{Ran, Row, Seeded, Workspace, ids, rows, spawn_sandbox};

/// The sandbox's faults in every chaos run.
const FAULTS: [&str; 5] = [
    "--no-idempotency",
    "--lose-response-rate",
    "0.05",
    "--fail-rate",
    "0.1",
];

/// The uploader's flags besides `--rate`: a short timeout, because a lost response holds
/// its connection.
const UPLOADER: [&str; 6] = ["--burst", "10", "--concurrency", "8", "--timeout", "1"];

/// The uploader's flags with `--rate rate`.
fn uploader(rate: &'static str) -> Vec<&'static str> {
    [&["--rate", rate][..], &UPLOADER[..]].concat()
}

/// Start `cmd` and SIGKILL it after `pause`; whether the kill is what ended it (a run that
/// finished first is not reaped before the signal, so the signal never hits another process).
fn kill_after(ws: &Workspace, cmd: &mut Command, pause: Duration) -> TestResult<bool> {
    let run = ws.spawn(cmd)?;
    sleep(pause);
    run.signal("-KILL")?;
    Ok(run.wait()?.code.is_none())
}

/// Run the upload to its end: again after an exit 1 (a record that ran out of retries),
/// never more than `max_runs` times. Fails on any other exit code, or on a permanent
/// failure, which nothing in these runs should cause.
fn finish(ws: &Workspace, api_url: &str, max_runs: usize) -> TestResult<Ran> {
    for _ in 0..max_runs {
        let ran = ws.run(&mut ws.upload(api_url, &uploader("150")))?;
        match ran.code {
            Some(0) => return Ok(ran),
            Some(1) => {
                let counts = ws.open_ledger()?.counts_by_state()?;
                assert_eq!(counts.failed_permanent, 0, "{}", ran.stderr);
            }
            _ => ran.expect_code(0)?,
        }
    }
    Err(format!("the upload did not succeed in {max_runs} runs").into())
}

#[test]
fn the_uploader_killed_at_random_points_never_creates_a_duplicate() -> TestResult {
    let seed = 20_261_123;
    let sandbox = SandboxProcess::spawn(&[&FAULTS[..], &["--seed", &seed.to_string()]].concat())?;
    let api = Api::new(&sandbox.base_url)?;
    let rows = rows(200);
    let ws = Workspace::with_rows(&rows)?;
    let mut points = Seeded::new(seed);
    let mut killed = 0;
    for _ in 0..3 {
        let pause = Duration::from_millis(points.between(200, 1500));
        if !kill_after(
            &ws,
            &mut ws.upload(&sandbox.base_url, &uploader("150")),
            pause,
        )? {
            break;
        }
        killed += 1;
    }
    assert!(killed > 0, "every run ended before its kill point");
    finish(&ws, &sandbox.base_url, 5)?;

    assert!(api.stat("faulted")? > 0, "the seed injects no failure");
    assert_eq!(api.stat("referrals")?, 200);
    api.assert_exactly_once(&ws, &ids(&rows))?;
    // Nothing changed since: the next run sends nothing.
    let requests = api.stat("requests")?;
    ws.run(&mut ws.upload(&sandbox.base_url, &uploader("150")))?
        .expect_code(0)?;
    assert_eq!(api.stat("requests")?, requests);
    Ok(())
}

#[test]
fn the_sandbox_killed_and_restarted_mid_run_on_its_state_loses_nothing() -> TestResult {
    let ws = Workspace::with_rows(&rows(120))?;
    let state = ws.path("sandbox-state.db");
    let state_arg = state.display().to_string();
    let faulty = |seed: &str| -> Vec<String> {
        [&FAULTS[..], &["--seed", seed, "--state", &state_arg]]
            .concat()
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    let mut sandbox = spawn_sandbox("127.0.0.1:0", &faulty("11"))?;
    let listen = sandbox
        .base_url
        .strip_prefix("http://")
        .unwrap_or_default()
        .to_owned();
    let mut points = Seeded::new(11);
    // Slower than the other runs, so that the sandbox dies under a running upload.
    let mut run = ws.spawn(&mut ws.upload(&sandbox.base_url, &uploader("60")))?;
    for round in 0..2 {
        sleep(Duration::from_millis(points.between(300, 900)));
        assert!(
            !run.exited()?,
            "the upload ended before the sandbox was killed"
        );
        // A crash of the API server: requests in flight get no answer.
        sandbox.child.kill()?;
        sandbox.child.wait()?;
        sleep(Duration::from_millis(points.between(50, 400)));
        sandbox = spawn_sandbox(&listen, &faulty(&format!("{}", 12 + round)))?;
    }
    let ran = run.wait()?;
    // The uploader rides out the outages with its retries, or leaves retryable failures
    // that the next run resends; either way, the end is the same.
    if ran.code != Some(0) {
        finish(&ws, &sandbox.base_url, 5)?;
    }
    let api = Api::new(&sandbox.base_url)?;
    api.assert_exactly_once(&ws, &ids(&rows(120)))?;
    Ok(())
}

#[test]
fn a_seeded_generator_repeats_its_points() {
    let mut a = Seeded::new(5);
    let mut b = Seeded::new(5);
    let first: Vec<u64> = (0..8).map(|_| a.between(100, 200)).collect();
    let second: Vec<u64> = (0..8).map(|_| b.between(100, 200)).collect();
    assert_eq!(first, second);
    assert!(first.iter().all(|p| (100..200).contains(p)));
    assert_eq!(Seeded::new(1).between(7, 7), 7);
}

#[test]
fn shared_referrals_killed_between_their_steps_end_with_one_engagement_each() -> TestResult {
    let seed = 4242;
    let args = [&FAULTS[..], &["--latency", "40", "--seed", "4242"]].concat();
    let sandbox = SandboxProcess::spawn(&args)?;
    let api = Api::new(&sandbox.base_url)?;
    let rows: Vec<Row> = (1..=40).map(Row::shared).collect();
    let ws = Workspace::with_rows(&rows)?;
    let mut points = Seeded::new(seed);
    let mut killed = 0;
    for _ in 0..3 {
        let pause = Duration::from_millis(points.between(150, 700));
        if !kill_after(
            &ws,
            &mut ws.upload(&sandbox.base_url, &uploader("100")),
            pause,
        )? {
            break;
        }
        killed += 1;
    }
    assert!(killed > 0, "every run ended before its kill point");
    finish(&ws, &sandbox.base_url, 5)?;

    api.assert_exactly_once(&ws, &ids(&rows))?;
    api.assert_engagements(&ws, &ids(&rows))?;
    // 40 partner referrals and 40 connected ones, nothing else.
    assert_eq!(api.stat("referrals")?, 80);
    Ok(())
}

/// A sandbox in this process on `state` that loses `lose` of its answers (holding each
/// 300 ms), fails a tenth of its requests and does not deduplicate creates.
fn hostile(state: std::path::PathBuf, seed: u64, lose: f64) -> TestResult<Peer> {
    Peer::start(SandboxConfig {
        state: Some(state),
        idempotency: false,
        lose_response_rate: lose,
        fail_rate: 0.1,
        seed,
        latency: Duration::from_millis(30),
        hold_lost_for: Duration::from_millis(300),
        ..SandboxConfig::default()
    })
}

/// Upload the workspace's export to a healthy sandbox that keeps its state in the workspace;
/// that state file, for a hostile sandbox to serve next.
fn synced_on_a_state_file(ws: &Workspace) -> TestResult<std::path::PathBuf> {
    let state = ws.path("sandbox-state.db");
    let healthy = Peer::start(SandboxConfig {
        state: Some(state.clone()),
        ..SandboxConfig::default()
    })?;
    ws.run(&mut ws.upload(healthy.url(), &[]))?.expect_code(0)?;
    healthy.stop();
    Ok(state)
}

/// Upload the workspace's export to `api_url`, SIGKILLed `kills` times at seeded points, then
/// to its end, then once more: that last run must exit 0 (its summary is left to assert).
fn upload_through_kills(ws: &Workspace, api_url: &str, kills: usize, seed: u64) -> TestResult {
    let flags = ["--concurrency", "4"];
    let mut points = Seeded::new(seed);
    for _ in 0..kills {
        let pause = Duration::from_millis(points.between(150, 400));
        kill_after(ws, &mut ws.upload(api_url, &flags), pause)?;
    }
    for _ in 0..5 {
        if ws.run(&mut ws.upload(api_url, &flags))?.code == Some(0) {
            break;
        }
    }
    ws.run(&mut ws.upload(api_url, &flags))?.expect_code(0)
}

#[test]
fn updates_through_lost_responses_and_a_kill_converge_on_the_export() -> TestResult {
    let ws = Workspace::with_rows(&rows(60))?;
    let state = synced_on_a_state_file(&ws)?;

    // Every row changes; the same referrals are now served by a hostile sandbox.
    let changed: Vec<Row> = rows(60)
        .into_iter()
        .map(|row| Row {
            notes: format!("{} (second export)", row.notes),
            ..row
        })
        .collect();
    ws.write_rows(&changed)?;
    let hostile = hostile(state, 77, 0.1)?;
    upload_through_kills(&ws, hostile.url(), 1, 77)?;
    assert_eq!(ws.summary_count("unchanged")?, 60, "{}", ws.summary()?);

    hostile.assert_exactly_once(&ws, &ids(&changed))?;
    for referral in hostile.outgoing()? {
        let notes = referral["details"]["notes"].as_str().unwrap_or_default();
        assert!(notes.ends_with("(second export)"), "{referral}");
    }
    Ok(())
}

/// Every record of `rows` (all co-sell) as the API holds it: the partner's referral carries
/// the row's notes and deal value, and the connected one carries them too, with the row's
/// request for help.
fn assert_both_referrals_hold(api: &Api, ws: &Workspace, rows: &[Row]) -> TestResult {
    let shared: HashMap<String, Value> = api
        .list("type eq 'Shared'")?
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap_or_default().to_owned(), r))
        .collect();
    let held = |id: Option<&str>| shared.get(id.unwrap_or_default()).ok_or("not listed");
    for row in rows {
        let record = ws.record(&row.id)?;
        let partner = held(record.referral_id.as_deref())?;
        let connected = held(record.connected_referral_id.as_deref())?;
        assert_eq!(partner["details"]["notes"], row.notes.as_str(), "{partner}");
        assert_eq!(
            connected["details"]["notes"],
            row.notes.as_str(),
            "{connected}"
        );
        let amount: f64 = row.amount.parse()?;
        assert_eq!(partner["details"]["dealValue"], amount, "{partner}");
        assert_eq!(connected["details"]["dealValue"], amount, "{connected}");
        let help = format!("{}: {}", row.name, row.help);
        assert_eq!(connected["inviteContext"]["notes"], help, "{connected}");
    }
    Ok(())
}

#[test]
fn edited_co_sell_rows_under_lost_answers_and_a_kill_converge_on_both_referrals() -> TestResult {
    let rows: Vec<Row> = (1..=40).map(Row::shared).collect();
    let ws = Workspace::with_rows(&rows)?;
    let state = synced_on_a_state_file(&ws)?;

    // Every row's notes change, and every third row's deal value: both referrals carry
    // both, and both are patchable. (The request for help, which only the connected referral
    // carries, is `/inviteContext/notes`: Partner Center refuses to patch it, so a change there
    // is reported as not updatable rather than sent; see `upload_run::contract`.)
    let edited: Vec<Row> = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| Row {
            notes: format!("{} (second export)", row.notes),
            amount: match i % 3 {
                0 => format!("{}5", row.amount),
                _ => row.amount.clone(),
            },
            ..row
        })
        .collect();
    ws.write_rows(&edited)?;
    let hostile = hostile(state, 4711, 0.15)?;
    upload_through_kills(&ws, hostile.url(), 2, 4711)?;
    assert_eq!(ws.summary_count("unchanged")?, 40, "{}", ws.summary()?);
    assert!(
        hostile.stat("lost_responses")? > 0,
        "the seed loses no answer"
    );

    hostile.assert_exactly_once(&ws, &ids(&edited))?;
    hostile.assert_engagements(&ws, &ids(&edited))?;
    assert_both_referrals_hold(&hostile, &ws, &edited)?;
    Ok(())
}
