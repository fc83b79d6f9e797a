//! Credentials: OAuth tokens that expire during a run are replaced without losing a record,
//! and no secret (static token, refresh token, bearer header) ever reaches stderr, the
//! summary, the ledger, its lock file, or any other file the run writes, even at debug level.

use std::path::{Path, PathBuf};
use std::time::Duration;

use referral_sync::sandbox::SandboxConfig;

use crate::common::api::{Api, Peer};
use crate::common::sandbox::TestResult;
use crate::common::signin::{authority, login, stored_refresh_token, with_credentials};
use crate::common::upload::{Workspace, ids, rows};

/// A static token no log line could contain by accident.
const SECRET_TOKEN: &str = "tok-7f3a91c4e2b8-NEVER-LOG-ME";

/// The files under `dir` whose bytes contain `needle`.
pub(super) fn files_containing(dir: &Path, needle: &str) -> TestResult<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle)?);
        } else {
            let bytes = std::fs::read(&path)?;
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path);
            }
        }
    }
    Ok(found)
}

/// The upload command signed in through the sandbox's sign-in endpoints (`login` once per
/// workspace) instead of a static token.
fn signed_in_upload(
    ws: &Workspace,
    peer: &Peer,
    global: &[&str],
) -> TestResult<std::process::Command> {
    let credentials = ws.path("credentials.json");
    if !credentials.exists() {
        login(peer, &credentials)?;
    }
    let mut cmd = ws.upload_with(global, peer.url(), &["--concurrency", "2"]);
    with_credentials(&mut cmd, &credentials);
    Ok(cmd)
}

#[test]
fn oauth_tokens_that_expire_mid_run_are_replaced_and_every_row_is_created() -> TestResult {
    // Two workers and the sandbox's latency make the run outlive several 2 s tokens.
    let peer = authority(
        true,
        SandboxConfig {
            token_lifetime: Duration::from_secs(2),
            latency: Duration::from_millis(200),
            ..SandboxConfig::default()
        },
    )?;
    let rows = rows(24);
    let ws = Workspace::with_rows(&rows)?;
    let ran = ws.run(&mut signed_in_upload(&ws, &peer, &["--quiet"])?)?;
    ran.expect_code(0)?;
    // Precondition, not a timing assertion: the run outlived the first token.
    let elapsed = ws.summary()?["elapsed_seconds"]
        .as_f64()
        .unwrap_or_default();
    assert!(elapsed > 2.0, "the run took {elapsed} s");
    assert_eq!(ws.summary_count("created")?, 24);
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_static_token_never_reaches_stderr_the_summary_or_the_ledger() -> TestResult {
    let peer = Peer::start(SandboxConfig {
        token: Some(SECRET_TOKEN.into()),
        fail_rate: 0.3,
        seed: 99,
        ..SandboxConfig::default()
    })?;
    let mut rows = rows(10);
    rows[4].customer = String::new();
    let ws = Workspace::with_rows(&rows)?;
    let mut cmd = ws.upload_with(&["--log-format", "json"], peer.url(), &[]);
    cmd.env("PARTNER_API_TOKEN", SECRET_TOKEN)
        .env("RUST_LOG", "debug");
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(1)?;
    assert!(
        ran.stderr.contains("\"level\":\"DEBUG\""),
        "debug logging was not on:\n{}",
        ran.stderr
    );
    assert!(peer.stat("faulted")? > 0, "the seed injects no failure");
    assert!(!ran.stderr.contains(SECRET_TOKEN));
    assert!(!ran.stderr.contains("Bearer "), "{}", ran.stderr);
    // The summary, the ledger (and its -wal), the lock file and the stderr logs.
    assert!(ws.summary.exists() && ws.ledger.exists());
    let leaked = files_containing(ws.path("").as_path(), SECRET_TOKEN)?;
    assert!(leaked.is_empty(), "the token is in {leaked:?}");

    let api = Api::with_token(peer.url(), SECRET_TOKEN)?;
    let valid: Vec<String> = ids(&rows)
        .into_iter()
        .filter(|id| id != "OPP-0005")
        .collect();
    api.assert_exactly_once(&ws, &valid)?;
    Ok(())
}

#[test]
fn refresh_tokens_never_reach_stderr_or_any_file_but_the_credentials() -> TestResult {
    let peer = authority(
        true,
        SandboxConfig {
            token_lifetime: Duration::from_secs(2),
            latency: Duration::from_millis(100),
            ..SandboxConfig::default()
        },
    )?;
    let ws = Workspace::with_rows(&rows(12))?;
    let mut cmd = signed_in_upload(&ws, &peer, &["--log-format", "json"])?;
    let first = stored_refresh_token(&ws.path("credentials.json"))?;
    cmd.env("RUST_LOG", "debug");
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(0)?;
    assert!(ran.stderr.contains("\"level\":\"DEBUG\""), "{}", ran.stderr);
    let last = stored_refresh_token(&ws.path("credentials.json"))?;
    assert_ne!(first, last, "the run renewed the refresh token");
    for needle in [first.as_str(), last.as_str(), "Bearer ", "access_token"] {
        assert!(!ran.stderr.contains(needle), "{needle:?} in stderr");
    }
    let spent = files_containing(ws.path("").as_path(), &first)?;
    assert!(spent.is_empty(), "the spent refresh token is in {spent:?}");
    let current = files_containing(ws.path("").as_path(), &last)?;
    assert_eq!(current, vec![ws.path("credentials.json")]);
    Ok(())
}
