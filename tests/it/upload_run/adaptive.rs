//! Pacing without `--rate`: the uploader finds an unknown limit by itself, and follows it down
//! when the server lowers it mid-run. How close to the limit it runs is a benchmark
//! (`bench/run`); here: nothing fails, nothing is sent twice, and the limit was really met.

use referral_sync::sandbox::{RateLimit, SandboxConfig};

use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{TOKEN, Workspace, bare_command, ids, mapping, rows};

fn adaptive_upload(ws: &Workspace, api_url: &str) -> std::process::Command {
    let mut cmd = bare_command();
    cmd.args(["--quiet", "upload", "--mapping"]).arg(mapping());
    cmd.arg(&ws.csv).arg("--api-url").arg(api_url);
    cmd.arg("--ledger").arg(&ws.ledger);
    cmd.arg("--summary-json").arg(&ws.summary);
    cmd.args(["--timeout", "5"]).env("PARTNER_API_TOKEN", TOKEN);
    cmd
}

#[test]
fn without_a_rate_the_upload_finds_the_limit_and_creates_everything_once() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        // Below the conservative start (5/s), so the limit is met at the first requests
        // however slowly this machine runs the uploader.
        rate_limit: Some(RateLimit::parse("2/s")?),
        ..SandboxConfig::default()
    })?;
    let rows = rows(20);
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut adaptive_upload(&ws, peer.url()))?;
    ran.expect_code(0)?;
    assert!(peer.stat("throttled")? > 0, "{}", ws.summary()?);
    assert_eq!(ws.summary_count("failed")?, 0);
    assert_eq!(ws.summary_count("created")?, 20);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}
