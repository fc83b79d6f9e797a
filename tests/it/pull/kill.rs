//! SIGKILL during a pull at random points: the output file is only ever the previous whole
//! file or the new whole file, and a clean rerun delivers every change not yet delivered, so
//! the files seen together carry every change.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::pulls::{csv_rows, pull};
use crate::admin::{Workspace, expect_code};
use crate::common::sandbox::TestResult;

/// How many pulls are killed.
const KILLS: usize = 8;

/// Read `out.csv` when it exists: it must be a whole pull file (a header, every row complete,
/// ending in a newline). Adds its (referralId, status, name) rows to `seen`.
fn read_whole(ws: &Workspace, seen: &mut BTreeSet<(String, String, String)>) -> TestResult {
    let path = ws.path("out.csv");
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&path)?;
    assert!(text.ends_with('\n'), "a partial file: {text:?}");
    assert!(
        text.starts_with("externalReferenceId,"),
        "a partial file: {text:?}"
    );
    for (id, row) in csv_rows(ws, "out.csv")? {
        seen.insert((id, row["status"].clone(), row["name"].clone()));
    }
    Ok(())
}

#[test]
fn sigkill_during_a_pull_loses_no_change_and_leaves_no_partial_file() -> TestResult {
    let ws = Workspace::new(&[])?;
    ws.write_export(&[("K-0", "Deal zero", "Contoso", "Open", "1")])?;
    expect_code(&ws.upload()?, 0)?;
    let mut made = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for round in 0..KILLS {
        // One change per round: a new referral made by another tool.
        let name = format!("Deal {round}");
        let id = ws.create_referral(&format!("K-{}", round + 1), &name)?;
        made.insert((id, "Active".to_owned(), name));
        let mut child = Command::new(env!("CARGO_BIN_EXE_referral-sync"))
            .current_dir(ws.dir.path())
            .env("PARTNER_API_TOKEN", "anything")
            .env_remove("RUST_LOG")
            .args([
                "--quiet",
                "pull",
                "--output",
                "out.csv",
                "--ledger",
                "ledger.db",
            ])
            .args(["--api-url", &ws.sandbox.base_url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(rand::random_range(0..250)));
        let _ = child.kill();
        child.wait()?;
        read_whole(&ws, &mut seen)?;
    }
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    read_whole(&ws, &mut seen)?;
    let missing: Vec<_> = made.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "never delivered: {missing:?}; seen {seen:?}"
    );
    // Delivered now: one more pull has nothing to deliver.
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    assert!(csv_rows(&ws, "out.csv")?.is_empty());
    Ok(())
}
