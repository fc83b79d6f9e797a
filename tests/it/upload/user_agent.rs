//! The client names itself: `User-Agent: referral-sync/<version>` on every request it sends,
//! to the API and to the OAuth token endpoint alike (issue 10, item 20).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use referral_sync::api::client::ApiClient;
use referral_sync::api::http::USER_AGENT;
use serde_json::json;

use super::config;
use super::fake::{json_response, oauth, serve};

const ROOT: &str = "/v1.0/engagements/referrals";

/// Every `(route, User-Agent)` pair a test server saw.
type Seen = Arc<Mutex<Vec<(&'static str, String)>>>;

fn record(seen: &Seen, route: &'static str, headers: &HeaderMap) {
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
        .to_owned();
    seen.lock().expect("lock").push((route, agent));
}

#[tokio::test]
async fn issue_10_every_request_names_the_client_and_its_version() {
    let seen: Seen = Arc::default();
    let (on_token, on_get, on_list) = (Arc::clone(&seen), Arc::clone(&seen), Arc::clone(&seen));
    let router = Router::new()
        .route(
            "/oauth2/token",
            post(move |headers: HeaderMap| async move {
                record(&on_token, "token", &headers);
                json_response(
                    StatusCode::OK,
                    json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "t1"}),
                )
            }),
        )
        .route(
            &format!("{ROOT}/{{id}}"),
            get(move |headers: HeaderMap| async move {
                record(&on_get, "get", &headers);
                json_response(StatusCode::OK, json!({"id": "x", "eTag": "\"1\""}))
            }),
        )
        .route(
            ROOT,
            get(move |headers: HeaderMap| async move {
                record(&on_list, "list", &headers);
                json_response(StatusCode::OK, json!({"value": []}))
            }),
        );
    let base = serve(router).await;
    let client = ApiClient::new(config(&base), oauth(&base, "s"), None).expect("client");
    client.get("x").await.expect("served");
    client.list_all(None, None).await.expect("listed");
    let expected = format!("referral-sync/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(USER_AGENT, expected);
    let seen = seen.lock().expect("lock").clone();
    let routes: Vec<&str> = seen.iter().map(|(route, _)| *route).collect();
    assert_eq!(routes, ["token", "get", "list"]);
    for (route, agent) in &seen {
        assert_eq!(agent, &expected, "{route}");
    }
}
