//! A server that echoes credentials back (a gateway quoting the `Authorization` header in its
//! error page) must not get them into stderr, the ledger (any table, any byte of the file),
//! `report --failures` or the summary; nor may a password inside `--api-url` reach the run
//! record, the lock file or the logs (issue 10, item 3).

use std::path::Path;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use referral_sync::sandbox::ROOT;
use serde_json::json;

use super::auth::files_containing;
use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{Workspace, bare_command, ids, rows};

/// A token that only an echo could carry into an output.
const ECHOED_TOKEN: &str = "tok-echo-91c4e2b87f3a-NEVER-STORE";
/// A password inside `--api-url`.
const URL_PASSWORD: &str = "pw-3a91c4e2b87f-NEVER-STORE";

/// Everything the request said about its credentials, as a gateway would quote it.
fn echo_of(headers: &HeaderMap) -> String {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)");
    format!("rejected Authorization: {auth}")
}

/// Creates answer 400 with the header in the error envelope for odd requests, and 500 with
/// it in a plain-text page (and in `request-id`) for even ones; listings find nothing.
fn echo_server(runtime: &tokio::runtime::Runtime) -> TestResult<String> {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let create = move |headers: HeaderMap| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let echo = echo_of(&headers);
            if n.is_multiple_of(2) {
                let body = json!({"error": {"code": echo, "message": echo, "target": echo}});
                return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
            }
            let mut response: Response = (StatusCode::INTERNAL_SERVER_ERROR, echo).into_response();
            if let Ok(value) = headers["authorization"].to_str().unwrap_or("").parse() {
                response.headers_mut().insert("request-id", value);
            }
            response
        }
    };
    let list = || async { axum::Json(json!({"value": []})) };
    let router = Router::new().route(ROOT, get(list).post(create));
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    runtime.spawn(async move { axum::serve(listener, router).await.ok() });
    Ok(format!("http://{addr}"))
}

/// Every row of every table of the ledger, as text.
pub(super) fn ledger_dump(path: &Path) -> TestResult<String> {
    let db = rusqlite::Connection::open(path)?;
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut dump = String::new();
    for table in tables {
        let mut statement = db.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let columns = statement.column_count();
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            for i in 0..columns {
                let cell: rusqlite::types::Value = row.get(i)?;
                dump.push_str(&format!("{table}: {cell:?}\n"));
            }
        }
    }
    Ok(dump)
}

/// `referral-sync report --failures -` on the workspace's ledger: its stdout and stderr.
fn failures_report(ws: &Workspace) -> TestResult<String> {
    let output = bare_command()
        .args(["report", "--failures", "-", "--ledger"])
        .arg(&ws.ledger)
        .output()?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

#[test]
fn issue_10_a_token_echoed_in_error_answers_is_stored_and_shown_nowhere() -> TestResult {
    let runtime = tokio::runtime::Runtime::new()?;
    let url = echo_server(&runtime)?;
    let ws = Workspace::with_rows(&rows(4))?;
    let mut cmd = ws.upload_with(&["--log-format", "json"], &url, &["--max-retries", "1"]);
    cmd.env("PARTNER_API_TOKEN", ECHOED_TOKEN)
        .env("RUST_LOG", "debug");
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(1)?;
    let dump = ledger_dump(&ws.ledger)?;
    let report = failures_report(&ws)?;
    // Precondition: the echo did arrive, and what it said is kept, cleaned.
    assert!(
        report.contains("rejected Authorization: Bearer [redacted]"),
        "{report}"
    );
    assert!(dump.contains("Bearer [redacted]"), "{dump}");
    for (what, text) in [
        ("stderr", &ran.stderr),
        ("ledger", &dump),
        ("report", &report),
    ] {
        assert!(
            !text.contains(ECHOED_TOKEN),
            "the token is in the {what}:\n{text}"
        );
    }
    // The summary, the ledger's bytes (and its -wal), the lock file and the logs.
    let leaked = files_containing(ws.path("").as_path(), ECHOED_TOKEN)?;
    assert!(leaked.is_empty(), "the token is in {leaked:?}");
    assert!(ws.summary.exists());
    Ok(())
}

#[test]
fn issue_10_a_password_in_the_api_url_is_dropped_and_neither_stored_nor_shown() -> TestResult {
    let peer = Peer::healthy()?;
    let rows = rows(3);
    let ws = Workspace::with_rows(&rows)?;
    let authority = peer.url().trim_start_matches("http://");
    let url = format!("http://admin:{URL_PASSWORD}@{authority}/");
    let ran = ws.run(&mut ws.upload_with(&[], &url, &[]))?;
    ran.expect_code(0)?;
    peer.assert_exactly_once(&ws, &ids(&rows))?;
    let status = bare_command()
        .args(["status", "--ledger"])
        .arg(&ws.ledger)
        .output()?;
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    let dump = ledger_dump(&ws.ledger)?;
    // The run record keeps the URL, without its password.
    assert!(
        dump.contains(&format!("http://redacted@{authority}/")),
        "{dump}"
    );
    for (what, text) in [
        ("stderr", &ran.stderr),
        ("ledger", &dump),
        ("status", &status),
    ] {
        assert!(
            !text.contains(URL_PASSWORD),
            "the password is in the {what}:\n{text}"
        );
    }
    let leaked = files_containing(ws.path("").as_path(), URL_PASSWORD)?;
    assert!(leaked.is_empty(), "the password is in {leaked:?}");
    Ok(())
}
