//! The stored sign-in end to end: `login` with a device code against the sandbox acting as
//! Entra ID, `whoami` and `logout`, uploads that renew single-use refresh tokens (alone and two
//! at once on one credentials file), a spent token's exit 3, the grants Partner Center refuses,
//! and credential files that are refused without their content being echoed.

use std::time::Duration;

use referral_sync::sandbox::{SANDBOX_ACCOUNT, SANDBOX_TENANT_ID, SandboxConfig};

use crate::common::sandbox::TestResult;
use crate::common::signin::{CLIENT_ID, authority, login, stored_refresh_token, with_credentials};
use crate::common::upload::{Row, Workspace, bare_command, ids, rows};

#[cfg(unix)]
fn mode(path: &std::path::Path) -> TestResult<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(unix)]
fn chmod(path: &std::path::Path, mode: u32) -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(mode),
    )?)
}

#[cfg(unix)]
#[test]
fn login_stores_private_credentials_that_whoami_shows_and_logout_removes() -> TestResult {
    let peer = authority(false, SandboxConfig::default())?;
    let ws = Workspace::new()?;
    let credentials = ws.path("config/referral-sync/credentials.json");
    let out = login(&peer, &credentials)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/sandbox/device"), "{stderr}");
    assert!(stderr.contains("enter the code"), "{stderr}");
    assert_eq!(mode(&credentials)?, 0o600);
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&credentials)?)?;
    assert_eq!(stored["client_id"], CLIENT_ID);
    assert_eq!(stored["authority"], peer.url());
    let refresh = stored_refresh_token(&credentials)?;

    let whoami = bare_command()
        .args(["whoami", "--credentials"])
        .arg(&credentials)
        .output()?;
    assert!(whoami.status.success(), "{whoami:?}");
    let shown = String::from_utf8_lossy(&whoami.stdout);
    assert!(shown.contains(SANDBOX_ACCOUNT), "{shown}");
    assert!(shown.contains(SANDBOX_TENANT_ID), "{shown}");
    assert!(
        shown.contains("mfa:         yes (amr: pwd, mfa)"),
        "{shown}"
    );
    assert!(shown.contains("renewed:"), "{shown}");
    assert!(
        !shown.contains(&refresh) && !stderr.contains(&refresh),
        "{shown}"
    );

    // The default file is found through XDG_CONFIG_HOME when no --credentials is given.
    let default = bare_command()
        .arg("whoami")
        .env("XDG_CONFIG_HOME", ws.path("config"))
        .output()?;
    assert!(String::from_utf8_lossy(&default.stdout).contains(SANDBOX_ACCOUNT));

    let logout = bare_command()
        .args(["logout", "--credentials"])
        .arg(&credentials)
        .output()?;
    assert!(logout.status.success(), "{logout:?}");
    assert!(!credentials.exists());
    let gone = bare_command()
        .args(["whoami", "--credentials"])
        .arg(&credentials)
        .output()?;
    assert_eq!(gone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("referral-sync login"));
    Ok(())
}

#[test]
fn three_runs_on_single_use_refresh_tokens_all_succeed() -> TestResult {
    let peer = authority(true, SandboxConfig::default())?;
    let mut rows = rows(4);
    let ws = Workspace::with_rows(&rows)?;
    let credentials = ws.path("credentials.json");
    login(&peer, &credentials)?;
    let mut seen = vec![stored_refresh_token(&credentials)?];
    for run in 0..3 {
        rows.push(Row::new(10 + run));
        ws.write_rows(&rows)?;
        let ran = ws.run(with_credentials(
            &mut ws.upload(peer.url(), &[]),
            &credentials,
        ))?;
        ran.expect_code(0)?;
        assert_eq!(ws.summary_count("created")?, if run == 0 { 5 } else { 1 });
        let rotated = stored_refresh_token(&credentials)?;
        assert!(
            !seen.contains(&rotated),
            "run {run} kept a spent refresh token"
        );
        assert!(!ran.stderr.contains(&rotated), "{}", ran.stderr);
        seen.push(rotated);
    }
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    Ok(())
}

#[test]
fn a_spent_refresh_token_ends_the_run_with_exit_3_and_the_login_advice() -> TestResult {
    let peer = authority(true, SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(2))?;
    let credentials = ws.path("credentials.json");
    login(&peer, &credentials)?;
    let copy = ws.path("credentials.copy");
    std::fs::copy(&credentials, &copy)?;
    let spent = stored_refresh_token(&credentials)?;
    ws.run(with_credentials(
        &mut ws.upload(peer.url(), &[]),
        &credentials,
    ))?
    .expect_code(0)?;
    std::fs::copy(&copy, &credentials)?;
    let requests = peer.stat("requests")?;

    let ran = ws.run(with_credentials(
        &mut ws.upload(peer.url(), &[]),
        &credentials,
    ))?;
    ran.expect_code(3)?;
    assert!(ran.stderr.contains("invalid_grant"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("run `referral-sync login` again"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains(&spent), "{}", ran.stderr);
    assert_eq!(
        peer.stat("requests")?,
        requests,
        "no API request without a token"
    );
    Ok(())
}

#[test]
fn an_mfa_demand_at_refresh_ends_with_exit_3_and_the_login_advice() -> TestResult {
    // An authority whose policy now demands MFA for this sign-in, as Entra ID answers then.
    let runtime = tokio::runtime::Runtime::new()?;
    let demand = || async {
        let body = serde_json::json!({
            "error": "interaction_required",
            "error_description": "AADSTS50076: you must use multi-factor authentication",
        });
        (axum::http::StatusCode::BAD_REQUEST, axum::Json(body))
    };
    let router =
        axum::Router::new().route("/{tenant}/oauth2/v2.0/token", axum::routing::post(demand));
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let strict = format!("http://{}", listener.local_addr()?);
    runtime.spawn(async move { axum::serve(listener, router).await });

    let peer = authority(false, SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(1))?;
    let credentials = ws.path("credentials.json");
    login(&peer, &credentials)?;
    let mut stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&credentials)?)?;
    stored["authority"] = strict.into();
    std::fs::write(&credentials, stored.to_string())?;
    let ran = ws.run(with_credentials(
        &mut ws.upload(peer.url(), &[]),
        &credentials,
    ))?;
    ran.expect_code(3)?;
    assert!(
        ran.stderr.contains("interaction_required"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("run `referral-sync login` again"),
        "{}",
        ran.stderr
    );
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

#[test]
fn the_password_grant_is_refused_with_the_mfa_reason_before_any_request() -> TestResult {
    let peer = authority(false, SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(1))?;
    let mut cmd = ws.upload(peer.url(), &[]);
    cmd.env_remove("PARTNER_API_TOKEN")
        .env("PARTNER_CLIENT_ID", CLIENT_ID)
        .env("PARTNER_USERNAME", "admin@partner.example")
        .env("PARTNER_PASSWORD", "pa55-NEVER-SHOWN");
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(2)?;
    for needle in ["multi-factor", "2026-04-01", "referral-sync login"] {
        assert!(ran.stderr.contains(needle), "{needle}: {}", ran.stderr);
    }
    assert!(!ran.stderr.contains("pa55-NEVER-SHOWN"));
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

#[test]
fn client_credentials_are_refused_because_the_api_requires_app_and_user() -> TestResult {
    let peer = authority(false, SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(1))?;
    let mut cmd = ws.upload(peer.url(), &[]);
    cmd.env_remove("PARTNER_API_TOKEN")
        .env("PARTNER_CLIENT_ID", CLIENT_ID)
        .env("PARTNER_CLIENT_SECRET", "cs-NEVER-SHOWN");
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("app-only"), "{}", ran.stderr);
    assert!(ran.stderr.contains("App+User"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("cs-NEVER-SHOWN"));
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

#[test]
fn two_concurrent_uploads_share_one_credentials_file_under_rotation() -> TestResult {
    // One-second tokens: each run renews several times, interleaved with the other's renewals;
    // the latency keeps each renewal open long enough for the other run to start one.
    let peer = authority(
        true,
        SandboxConfig {
            token_lifetime: Duration::from_secs(1),
            latency: Duration::from_millis(150),
            ..SandboxConfig::default()
        },
    )?;
    let first = Workspace::with_rows(&rows(16))?;
    let second = Workspace::with_rows(&(100..116).map(Row::new).collect::<Vec<_>>())?;
    let credentials = first.path("credentials.json");
    login(&peer, &credentials)?;
    let extra = ["--concurrency", "2"];
    let a = first.spawn(with_credentials(
        &mut first.upload(peer.url(), &extra),
        &credentials,
    ))?;
    let b = second.spawn(with_credentials(
        &mut second.upload(peer.url(), &extra),
        &credentials,
    ))?;
    a.wait()?.expect_code(0)?;
    b.wait()?.expect_code(0)?;
    assert_eq!(first.summary_count("created")?, 16);
    assert_eq!(second.summary_count("created")?, 16);
    // The file holds a token that still works: a third run renews it.
    first
        .run(with_credentials(
            &mut first.upload(peer.url(), &[]),
            &credentials,
        ))?
        .expect_code(0)?;
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_stray_line_in_a_credentials_or_oauth_file_is_located_but_never_echoed() -> TestResult {
    let peer = authority(false, SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(1))?;
    let credentials = ws.path("credentials.json");
    login(&peer, &credentials)?;
    let text = std::fs::read_to_string(&credentials)?;
    let stray = text.replacen('{', "{\n  \"0.AXoA-stray-token-line\": 1,", 1);
    std::fs::write(&credentials, stray)?;
    let ran = ws.run(with_credentials(
        &mut ws.upload(peer.url(), &[]),
        &credentials,
    ))?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("credentials.json:2:"), "{}", ran.stderr);
    assert!(ran.stderr.contains("unknown key"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("stray-token-line"), "{}", ran.stderr);

    let oauth = ws.path("oauth.env");
    std::fs::write(&oauth, "CLIENT_ID=app\nAXoA-stray-secret-line=\n")?;
    chmod(&oauth, 0o600)?;
    let path = oauth.display().to_string();
    let ran = ws.run(&mut ws.upload(peer.url(), &["--oauth-file", &path]))?;
    ran.expect_code(2)?;
    assert!(
        ran.stderr.contains("oauth.env:2: unknown key"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("stray-secret-line"), "{}", ran.stderr);
    assert_eq!(peer.stat("requests")?, 0);
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_token_file_readable_by_group_is_refused_like_the_oauth_file() -> TestResult {
    let peer = authority(false, SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(1))?;
    let token = ws.path("token");
    std::fs::write(&token, "tok-GROUP-READABLE\n")?;
    chmod(&token, 0o640)?;
    let path = token.display().to_string();
    let mut cmd = ws.upload(peer.url(), &["--token-file", &path]);
    cmd.env_remove("PARTNER_API_TOKEN");
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(2)?;
    assert!(ran.stderr.contains("mode 0640"), "{}", ran.stderr);
    assert!(ran.stderr.contains("chmod 600"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("tok-GROUP-READABLE"));
    assert_eq!(peer.stat("requests")?, 0);
    chmod(&token, 0o600)?;
    ws.run(
        ws.upload(peer.url(), &["--token-file", &path])
            .env_remove("PARTNER_API_TOKEN"),
    )?
    .expect_code(0)?;
    Ok(())
}
