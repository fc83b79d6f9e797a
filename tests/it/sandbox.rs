//! Tests of the sandbox module: the real binary here (first stdout line, SIGTERM, `--state`
//! across restarts), the API over HTTP in `api`, auth, limits and faults in `behaviour`, the
//! Entra ID sign-in endpoints in `authority`, and junk input in `input`.

mod admin_auth;
mod api;
mod authority;
mod behaviour;
mod connections;
mod contract;
mod input;
mod listing;
mod live_config;
mod microsoft;
mod microsoft_seller;
mod seed;
mod tenant_limits;

use serde_json::Value;

use crate::common::sandbox::{SandboxProcess, TestResult, http_client, seed_request};

const ROOT: &str = "/v1.0/engagements/referrals";

#[test]
fn first_stdout_line_names_the_address_and_sigterm_stops_cleanly() -> TestResult {
    let mut process = SandboxProcess::spawn(&[])?;
    let port = process
        .first_line
        .strip_prefix("listening on http://127.0.0.1:")
        .ok_or_else(|| format!("first line {:?}", process.first_line))?;
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{port}");
    let runtime = tokio::runtime::Runtime::new()?;
    let status = runtime.block_on(async {
        let client = http_client(std::time::Duration::from_secs(10))?;
        let response = client
            .get(format!("{}/sandbox/stats", process.base_url))
            .send()
            .await?;
        TestResult::Ok(response.status().as_u16())
    })?;
    assert_eq!(status, 200);
    let exit = process.terminate()?;
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");
    Ok(())
}

#[test]
fn state_file_keeps_referrals_and_request_ids_across_a_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("sandbox.db");
    let state_arg = state.to_str().ok_or("temp path is not UTF-8")?;
    let runtime = tokio::runtime::Runtime::new()?;
    let client = http_client(std::time::Duration::from_secs(10))?;
    let body = seed_request()?;

    let mut first = SandboxProcess::spawn(&["--state", state_arg])?;
    let created: Value = runtime.block_on(async {
        let response = client
            .post(format!("{}{ROOT}", first.base_url))
            .bearer_auth("t")
            .header("MS-RequestId", "restart-1")
            .json(&body)
            .send()
            .await?;
        TestResult::Ok(response.json().await?)
    })?;
    assert!(first.terminate()?.success());
    let id = created["id"].as_str().ok_or("no id")?.to_string();

    let second = SandboxProcess::spawn(&["--state", state_arg])?;
    let (fetched, replayed): (Value, Value) = runtime.block_on(async {
        let fetched = client
            .get(format!("{}{ROOT}/{id}", second.base_url))
            .bearer_auth("t")
            .send()
            .await?
            .json()
            .await?;
        let replayed = client
            .post(format!("{}{ROOT}", second.base_url))
            .bearer_auth("t")
            .header("MS-RequestId", "restart-1")
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        TestResult::Ok((fetched, replayed))
    })?;
    assert_eq!(fetched["id"], created["id"]);
    assert_eq!(fetched["eTag"], created["eTag"]);
    assert_eq!(fetched["customerProfile"], created["customerProfile"]);
    assert_eq!(
        replayed["id"], created["id"],
        "the request id was forgotten"
    );
    let self_link = fetched["links"]["self"]["uri"].as_str().unwrap_or_default();
    assert!(self_link.starts_with(&second.base_url), "{self_link}");
    Ok(())
}

#[test]
fn bad_arguments_exit_2_and_name_the_flag() -> TestResult {
    for (flag, value) in [
        ("--rate-limit", "5/h"),
        ("--fail-rate", "1.5"),
        ("--listen", "nowhere"),
        ("--state", "/nonexistent-dir/state.db"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_referral-sync"))
            .args(["sandbox", flag, value])
            .output()?;
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flag}: {stderr}");
        assert!(output.stdout.is_empty(), "{flag}: announced a listener");
    }
    Ok(())
}

#[test]
fn the_access_log_never_shows_a_token() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("sandbox.log");
    let mut process = SandboxProcess::spawn_logged(&["--token", "static-secret-1"], &log)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let issued = runtime.block_on(async {
        let client = http_client(std::time::Duration::from_secs(10))?;
        let form = [("grant_type", "client_credentials"), ("client_id", "app")];
        let token: Value = client
            .post(format!("{}/oauth2/token", process.base_url))
            .form(&form)
            .send()
            .await?
            .json()
            .await?;
        let issued = token["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for bearer in ["static-secret-1", issued.as_str(), "wrong-secret-2"] {
            client
                .get(format!("{}{ROOT}?$top=1", process.base_url))
                .bearer_auth(bearer)
                .send()
                .await?;
        }
        TestResult::Ok(issued)
    })?;
    assert!(process.terminate()?.success());
    let text = std::fs::read_to_string(&log)?;
    assert!(text.contains(ROOT), "no access log: {text}");
    for secret in ["static-secret-1", issued.as_str(), "wrong-secret-2"] {
        assert!(
            !secret.is_empty() && !text.contains(secret),
            "{secret} logged"
        );
    }
    Ok(())
}
