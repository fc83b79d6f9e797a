//! An authority that quotes the refresh token it refuses (a gateway's error page, a verbose
//! identity proxy) must not get it into stderr or the ledger: the stored sign-in's refresh
//! tokens, the one first read and every one read or issued later, are cut out of the token
//! endpoint's refusals like the access tokens are.

use axum::Router;
use axum::http::StatusCode;
use serde_json::json;

use super::echoed_secrets::ledger_dump;
use crate::common::sandbox::TestResult;
use crate::common::signin::{authority, login, stored_refresh_token, with_credentials};
use crate::common::upload::{Workspace, rows};
use referral_sync::sandbox::SandboxConfig;

/// A token endpoint that refuses every request with `invalid_grant`, quoting the form it got.
fn quoting_authority(runtime: &tokio::runtime::Runtime) -> TestResult<String> {
    let refuse = |body: String| async move {
        let body = json!({
            "error": "invalid_grant",
            "error_description": format!("AADSTS70008: the grant in [{body}] has expired"),
        });
        (StatusCode::BAD_REQUEST, axum::Json(body))
    };
    let router = Router::new().fallback(refuse);
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    runtime.spawn(async move { axum::serve(listener, router).await.ok() });
    Ok(format!("http://{addr}"))
}

#[test]
fn a_refresh_token_quoted_by_the_authority_is_shown_and_stored_nowhere() -> TestResult {
    let peer = authority(false, SandboxConfig::default())?;
    let ws = Workspace::with_rows(&rows(2))?;
    let credentials = ws.path("credentials.json");
    login(&peer, &credentials)?;
    let refresh = stored_refresh_token(&credentials)?;
    // The same sign-in, now renewed at an authority that quotes what it refuses.
    let runtime = tokio::runtime::Runtime::new()?;
    let quoting = quoting_authority(&runtime)?;
    let mut stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&credentials)?)?;
    stored["authority"] = json!(quoting);
    std::fs::write(&credentials, serde_json::to_string(&stored)?)?;
    let ran = ws.run(with_credentials(
        &mut ws.upload(peer.url(), &[]),
        &credentials,
    ))?;
    ran.expect_code(3)?;
    // Precondition: the refusal did arrive and is told, cleaned.
    assert!(ran.stderr.contains("AADSTS70008"), "{}", ran.stderr);
    assert!(ran.stderr.contains("referral-sync login"), "{}", ran.stderr);
    assert!(!ran.stderr.contains(&refresh), "{}", ran.stderr);
    if ws.ledger.exists() {
        let dump = ledger_dump(&ws.ledger)?;
        assert!(!dump.contains(&refresh), "{dump}");
    }
    Ok(())
}
