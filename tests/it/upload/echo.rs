//! The client against servers that quote credentials back: a token endpoint that repeats the
//! form it was sent in its refusal, and an API whose 2xx answer carries the bearer header where
//! its next page's link should be. No error text may hold the secret (issue 10, item 3).

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use referral_sync::api::auth::{OAuthSettings, TokenSource};
use referral_sync::api::client::ApiClient;
use referral_sync::api::secret::Secret;
use serde_json::json;

use super::config;
use super::fake::{json_response, serve};

const ROOT: &str = "/v1.0/engagements/referrals";
const CLIENT_SECRET: &str = "cs+echo/9f3a=NEVER-SHOW";
const PASSWORD: &str = "pw echo\"7b2c NEVER-SHOW";

#[tokio::test]
async fn issue_10_a_token_endpoint_quoting_the_form_leaks_no_secret() {
    let quote = |form: String| async move {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("invalid_client {form}"), "error_description": format!("you sent {form}")}),
        )
    };
    let base = serve(Router::new().route("/oauth2/token", post(quote))).await;
    let settings = OAuthSettings {
        token_url: format!("{base}/oauth2/token?api_key=k3y-NEVER-SHOW"),
        client_id: "client".into(),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        refresh_token: None,
        username: Some("ann".into()),
        password: Some(Secret::new(PASSWORD)),
        resource: "https://api.partner.microsoft.com".into(),
        refresh_margin: Duration::from_secs(60),
    };
    let auth = TokenSource::oauth(settings, Duration::from_secs(5)).expect("oauth");
    let err = auth.token().await.expect_err("refused");
    let text = format!("{err} {err:?}");
    // Precondition: the form was quoted, in its url-encoded form.
    assert!(text.contains("client_secret=[redacted]"), "{text}");
    assert!(text.contains("password=[redacted]"), "{text}");
    for secret in [CLIENT_SECRET, PASSWORD, "k3y-NEVER-SHOW", "NEVER-SHOW"] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}

#[tokio::test]
async fn issue_10_a_listing_quoting_the_bearer_header_in_its_next_link_leaks_no_token() {
    let token = "tok-2xx-echo-NEVER-SHOW";
    let quote = |headers: HeaderMap| async move {
        let auth = headers["authorization"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        let next = format!("https://elsewhere.example{ROOT}?auth={auth}");
        json_response(
            StatusCode::OK,
            json!({"value": [], "@odata.nextLink": next}),
        )
    };
    let base = serve(Router::new().route(ROOT, get(quote))).await;
    let auth = TokenSource::fixed(Secret::new(token));
    let client = ApiClient::new(config(&base), auth, None).expect("client");
    let err = client
        .list_all(None, None)
        .await
        .expect_err("a link to another host");
    let text = format!("{err} {err:?}");
    assert!(text.contains("points away"), "{text}");
    assert!(!text.contains(token), "{text}");
}
