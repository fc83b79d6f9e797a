//! The client against small in-test servers, for behaviour the sandbox cannot be told to show:
//! a server that refuses the `externalReferenceId` filter, a token that is rejected once,
//! a slow token endpoint, a throttle at a known instant, links to another host.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use referral_sync::api::auth::{AuthError, OAuthSettings, TokenSource};
use referral_sync::api::client::{ApiClient, ApiError};
use referral_sync::api::rate_limit::RateLimiter;
use referral_sync::api::secret::Secret;
use referral_sync::cli::ApiArgs;
use serde_json::json;
use uuid::Uuid;

use super::{config, referral};

const ROOT: &str = "/v1.0/engagements/referrals";

pub(super) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    format!("http://{addr}")
}

pub(super) fn fixed(token: &str) -> TokenSource {
    TokenSource::fixed(Secret::new(token))
}

pub(super) fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(super) fn oauth(base: &str, secret: &str) -> TokenSource {
    let settings = OAuthSettings {
        token_url: format!("{base}/oauth2/token"),
        client_id: "client".into(),
        client_secret: Some(Secret::new(secret)),
        refresh_token: None,
        username: None,
        password: None,
        resource: "https://api.partner.microsoft.com".into(),
        refresh_margin: Duration::from_secs(60),
    };
    TokenSource::oauth(settings, Duration::from_secs(5)).expect("oauth")
}

/// A token endpoint that issues `t1`, `t2`, … (after `delay`), counting calls.
fn token_route(calls: Arc<AtomicU32>, delay: Duration) -> Router {
    Router::new().route(
        "/oauth2/token",
        post(move || {
            let calls = Arc::clone(&calls);
            async move {
                tokio::time::sleep(delay).await;
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                json_response(StatusCode::OK, json!({"token_type": "Bearer", "expires_in": "3600", "access_token": format!("t{n}")}))
            }
        }),
    )
}

#[tokio::test]
async fn a_refused_filter_falls_back_to_listing_everything_once_and_for_all() {
    let queries = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&queries);
    let list = move |RawQuery(query): RawQuery| {
        let seen = Arc::clone(&seen);
        async move {
            let query = query.unwrap_or_default();
            seen.lock().expect("lock").push(query.clone());
            if query.contains("externalReferenceId") {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"code": "invalidRequest", "message": "Invalid filter"}}),
                );
            }
            if query.contains("skiptoken") {
                return json_response(
                    StatusCode::OK,
                    json!({"value": [{"id": "3", "externalReferenceId": "A"}]}),
                );
            }
            json_response(
                StatusCode::OK,
                json!({
                    "value": [{"id": "1", "externalReferenceId": "A"}, {"id": "2", "externalReferenceId": "B"}],
                    "@odata.nextLink": format!("{ROOT}?$skiptoken=page2")
                }),
            )
        }
    };
    let base = serve(Router::new().route(ROOT, get(list))).await;
    let client = ApiClient::new(config(&base), fixed("tok"), None).expect("client");
    let found = client.find_by_external_id("A").await.expect("found");
    assert_eq!(found.iter().map(|r| r.id()).collect::<Vec<_>>(), ["1", "3"]);
    assert!(client.filter_unsupported());
    let found = client.find_by_external_id("B").await.expect("found");
    assert_eq!(found.iter().map(|r| r.id()).collect::<Vec<_>>(), ["2"]);
    let queries = queries.lock().expect("lock").clone();
    assert_eq!(
        queries
            .iter()
            .filter(|q| q.contains("externalReferenceId"))
            .count(),
        1,
        "{queries:?}"
    );
    assert!(
        queries
            .iter()
            .any(|q| q.contains("$orderby=createdDateTime%20asc")),
        "{queries:?}"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_resends() {
    let token_calls = Arc::new(AtomicU32::new(0));
    let api_calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&api_calls);
    let api = move |headers: HeaderMap| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if auth == "Bearer t1" || auth.contains("never") {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": {"code": "unauthenticated", "message": "expired"}}),
                );
            }
            json_response(StatusCode::OK, json!({"id": "x", "eTag": "\"1\""}))
        }
    };
    let router = token_route(Arc::clone(&token_calls), Duration::ZERO)
        .route(&format!("{ROOT}/{{id}}"), get(api));
    let base = serve(router).await;
    let client = ApiClient::new(config(&base), oauth(&base, "s"), None).expect("client");
    let referral = client.get("x").await.expect("served after one refresh");
    assert_eq!(referral.etag(), Some("\"1\""));
    assert_eq!(token_calls.load(Ordering::SeqCst), 2);
    assert_eq!(api_calls.load(Ordering::SeqCst), 2);
    // The refreshed token stays in use.
    client.get("x").await.expect("served");
    assert_eq!(token_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let calls = Arc::new(AtomicU32::new(0));
    let base = serve(token_route(Arc::clone(&calls), Duration::from_millis(200))).await;
    let auth = oauth(&base, "s");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            auth.token().await.map(|t| t.expose().to_owned())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("token"), "t1");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_attempt_carries_the_contract_headers() {
    let seen = Arc::new(Mutex::new(Vec::<HashMap<String, String>>::new()));
    let record = Arc::clone(&seen);
    let create = move |headers: HeaderMap| {
        let record = Arc::clone(&record);
        async move {
            let map = headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let mut all = record.lock().expect("lock");
            all.push(map);
            if all.len() == 1 {
                return json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": {"code": "serviceNotAvailable", "message": "busy"}}),
                );
            }
            json_response(
                StatusCode::CREATED,
                json!({"id": "new", "externalReferenceId": "H-1"}),
            )
        }
    };
    let base = serve(Router::new().route(ROOT, axum::routing::post(create))).await;
    let client = ApiClient::new(config(&base), fixed("tok"), None).expect("client");
    let request_id = Uuid::new_v4();
    let created = client
        .create(&referral("H-1"), request_id)
        .await
        .expect("created");
    assert_eq!(created.id(), "new");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    let header = |n: usize, name: &str| {
        seen.get(n)
            .and_then(|h| h.get(name))
            .cloned()
            .unwrap_or_default()
    };
    for n in 0..2 {
        assert_eq!(header(n, "ms-requestid"), request_id.to_string());
        assert_eq!(header(n, "authorization"), "Bearer tok");
        assert_eq!(header(n, "content-type"), "application/json");
        assert_eq!(header(n, "accept"), "application/json");
    }
    assert_ne!(header(0, "ms-correlationid"), header(1, "ms-correlationid"));
    assert_ne!(
        header(0, "client-request-id"),
        header(1, "client-request-id")
    );
    assert!(Uuid::parse_str(&header(1, "client-request-id")).is_ok());
}

#[tokio::test]
async fn after_a_429_no_worker_sends_before_retry_after() {
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let throttled_at = Arc::new(Mutex::new(None::<Instant>));
    let (log, mark) = (Arc::clone(&arrivals), Arc::clone(&throttled_at));
    let api = move || {
        let (log, mark) = (Arc::clone(&log), Arc::clone(&mark));
        async move {
            let now = Instant::now();
            let mut mark = mark.lock().expect("lock");
            if mark.is_none() {
                *mark = Some(now);
                let body = json!({"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."});
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    axum::Json(body),
                )
                    .into_response();
            }
            log.lock().expect("lock").push(now);
            json_response(StatusCode::OK, json!({"id": "x"}))
        }
    };
    let base = serve(Router::new().route(&format!("{ROOT}/{{id}}"), get(api))).await;
    let limiter = Arc::new(RateLimiter::new(10.0, 1).expect("rate"));
    let client = ApiClient::new(config(&base), fixed("tok"), Some(limiter)).expect("client");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.get("x").await.map(|r| r.id().to_owned())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("served"), "x");
    }
    let throttled_at = throttled_at.lock().expect("lock").expect("one 429");
    let arrivals = arrivals.lock().expect("lock").clone();
    assert_eq!(arrivals.len(), 4);
    for at in arrivals {
        assert!(
            at.duration_since(throttled_at) >= Duration::from_secs(1),
            "a request came {:?} after the 429",
            at.duration_since(throttled_at)
        );
    }
}

#[tokio::test]
async fn next_links_to_another_host_are_refused() {
    let list = || async {
        json_response(
            StatusCode::OK,
            json!({"value": [], "@odata.nextLink": "https://evil.example/v1.0/engagements/referrals?$skiptoken=1"}),
        )
    };
    let base = serve(Router::new().route(ROOT, get(list))).await;
    let client = ApiClient::new(config(&base), fixed("tok"), None).expect("client");
    let err = client.list_all(None, None).await.expect_err("foreign link");
    assert!(
        matches!(&err, ApiError::Decode { json_path, .. } if json_path.contains("nextLink")),
        "{err:?}"
    );
}

#[tokio::test]
async fn non_json_errors_are_kept_as_text_and_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let api = move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::BAD_GATEWAY,
                "<html>".to_owned() + &"x".repeat(3000),
            )
                .into_response()
        }
    };
    let base = serve(Router::new().route(&format!("{ROOT}/{{id}}"), get(api))).await;
    let client = ApiClient::new(config(&base), fixed("tok"), None).expect("client");
    let err = client.get("x").await.expect_err("502");
    match &err {
        ApiError::Http {
            status: 502,
            message,
            code: None,
            ..
        } => assert_eq!(message.chars().count(), 1025),
        other => panic!("expected a 502, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 6, "1 attempt and 5 retries");
}

#[tokio::test]
async fn token_endpoint_refusals_never_show_credentials() {
    let refuse = || async {
        json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        )
    };
    let base = serve(Router::new().route("/oauth2/token", post(refuse))).await;
    let client =
        ApiClient::new(config(&base), oauth(&base, "top-secret-value-99"), None).expect("client");
    let err = client.get("x").await.expect_err("no token");
    assert!(
        matches!(
            &err,
            ApiError::Auth(AuthError::Rejected { status: 401, .. })
        ),
        "{err:?}"
    );
    assert!(err.is_auth_failure());
    for text in [format!("{err:?}"), err.to_string()] {
        assert!(!text.contains("top-secret-value-99"), "{text}");
        assert!(text.contains("invalid_client"), "{text}");
    }
}

fn api_args() -> ApiArgs {
    ApiArgs {
        api_url: "http://127.0.0.1:1".into(),
        sandbox: false,
        token_file: None,
        credentials: None,
        token_url: None,
        oauth_file: None,
        timeout: 5.0,
    }
}

#[tokio::test]
async fn token_sources_come_from_files_then_the_environment() {
    let none = |_: &str| None;
    let err = TokenSource::from_args_with_env(&api_args(), &none).expect_err("nothing set");
    assert!(matches!(err, AuthError::NotConfigured), "{err:?}");

    let env = |key: &str| (key == "PARTNER_API_TOKEN").then(|| " env-token \n".to_owned());
    let source = TokenSource::from_args_with_env(&api_args(), &env).expect("static");
    assert!(!source.can_refresh());
    assert_eq!(source.token().await.expect("token").expose(), "env-token");
    assert!(!format!("{source:?}").contains("env-token"));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("oauth.env");
    std::fs::write(&file, "CLIENT_ID=abc\nREFRESH_TOKEN=hush-hush\n").expect("write");
    let mut args = api_args();
    args.oauth_file = Some(file.clone());
    args.token_url = Some("http://127.0.0.1:1/oauth2/token".into());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = TokenSource::from_args_with_env(&args, &env).expect_err("group-readable");
        assert!(matches!(err, AuthError::Permissions { .. }), "{err:?}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let source = TokenSource::from_args_with_env(&args, &env).expect("oauth");
    assert!(
        source.can_refresh(),
        "an explicit --oauth-file wins over PARTNER_API_TOKEN"
    );
    assert!(!format!("{source:?}").contains("hush-hush"));

    let only_id = |key: &str| (key == "PARTNER_CLIENT_ID").then(|| "abc".to_owned());
    let err = TokenSource::from_args_with_env(&api_args(), &only_id).expect_err("no secret");
    assert!(matches!(err, AuthError::Settings(_)), "{err:?}");
}
