//! `login` while the user takes their time: the command polls through `authorization_pending`
//! until the code is approved (or declined) in the "browser", here `POST /sandbox/device`; and
//! an upload with no credential option at all uses the default credentials file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use referral_sync::sandbox::SandboxConfig;

use crate::common::api::Peer;
use crate::common::sandbox::{TestResult, http_client};
use crate::common::signin::login_command;
use crate::common::upload::{Workspace, rows};

/// Start `login` against `peer` and read the user code from its instructions on stderr.
fn start_login(
    peer: &Peer,
    ws: &Workspace,
) -> TestResult<(Child, String, BufReader<std::process::ChildStderr>)> {
    let mut child = login_command(peer, &ws.path("credentials.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut line = String::new();
    stderr.read_line(&mut line)?;
    let code = line
        .split("enter the code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| format!("no code in {line:?}"))?
        .to_owned();
    Ok((child, code, stderr))
}

/// What the user does in the browser: approve or decline `user_code`.
fn decide(peer: &Peer, user_code: &str, action: &str) -> TestResult {
    let url = format!("{}/sandbox/device", peer.url());
    let status = peer.api.block_on(async {
        // Let the command poll (and be told to wait) at least twice first.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let client = http_client(Duration::from_secs(5))?;
        let form = [("user_code", user_code), ("action", action)];
        TestResult::Ok(client.post(url).form(&form).send().await?.status().as_u16())
    })?;
    assert_eq!(status, 204);
    Ok(())
}

/// Wait for the end of `login`: its exit code and the rest of its stderr.
fn finish(
    mut child: Child,
    mut stderr: BufReader<std::process::ChildStderr>,
) -> TestResult<(Option<i32>, String)> {
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest)?;
    Ok((child.wait()?.code(), rest))
}

#[test]
fn login_polls_until_the_user_approves_then_an_upload_uses_the_default_file() -> TestResult {
    let peer = Peer::start(SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(2))?;
    let (child, code, stderr) = start_login(&peer, &ws)?;
    decide(&peer, &code, "approve")?;
    let (exit, rest) = finish(child, stderr)?;
    assert_eq!(exit, Some(0), "{rest}");
    assert!(rest.contains("Signed in as"), "{rest}");

    let config = ws.path("config/referral-sync");
    std::fs::create_dir_all(&config)?;
    std::fs::rename(ws.path("credentials.json"), config.join("credentials.json"))?;
    let mut upload = ws.upload(peer.url(), &[]);
    upload
        .env_remove("PARTNER_API_TOKEN")
        .env("XDG_CONFIG_HOME", ws.path("config"));
    ws.run(&mut upload)?.expect_code(0)?;
    assert_eq!(ws.summary_count("created")?, 2);
    Ok(())
}

#[test]
fn login_ends_with_exit_3_when_the_user_declines() -> TestResult {
    let peer = Peer::start(SandboxConfig::default())?;
    let ws = Workspace::new()?;
    let (child, code, stderr) = start_login(&peer, &ws)?;
    decide(&peer, &code, "deny")?;
    let (exit, rest) = finish(child, stderr)?;
    assert_eq!(exit, Some(3), "{rest}");
    assert!(rest.contains("the sign-in was declined"), "{rest}");
    assert!(!ws.path("credentials.json").exists());
    Ok(())
}
