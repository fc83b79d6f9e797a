//! The sandbox's routes, the headers every answer carries, the access log, and the admin
//! routes under `/sandbox/` (for tests and admins). With `--token`, `reset` and deleting a
//! referral need that token too; `stats` stays open: it holds counters only, no referral
//! content, and monitoring a run reads it.
//!
//! Request bodies are read here with a 1 MiB cap (413 beyond it) and parsed with the parse
//! position in the 400, so no handler ever sees raw bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::Value;

use super::envelope::ApiError;
use super::faults::api_gate;
use super::state::App;
use super::{authority, expiry, list, live_config, referrals, seed};

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// The API's resource root.
pub const ROOT: &str = "/v1.0/engagements/referrals";

/// Every route of the sandbox.
pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route(ROOT, get(list::list).post(referrals::create))
        .route(
            &format!("{ROOT}/{{id}}"),
            get(referrals::get_one)
                .patch(referrals::patch)
                .put(referrals::put),
        )
        .route_layer(middleware::from_fn_with_state(Arc::clone(&app), api_gate));
    let admin = Router::new()
        .route("/sandbox/reset", post(reset))
        .route("/sandbox/advance", post(expiry::advance))
        .route("/sandbox/seed", post(seed::seed))
        .route("/sandbox/referrals/{id}", delete(remove))
        .route(
            "/sandbox/config",
            get(live_config::show).post(live_config::change),
        )
        .route_layer(middleware::from_fn_with_state(Arc::clone(&app), admin_gate));
    Router::new()
        .merge(api)
        .merge(admin)
        .route("/oauth2/token", post(token))
        .route("/{tenant}/oauth2/token", post(tenant_token))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(authority::device_code_route),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(authority::token_route))
        .route("/sandbox/device", post(authority::decide_route))
        .route("/sandbox/stats", get(stats))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
        .layer(middleware::from_fn(common_headers))
}

/// Read a body of at most `MAX_BODY` bytes (413 beyond).
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalidRequest",
            format!("the request body is larger than {MAX_BODY} bytes"),
            "body",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| too_large())
}

/// Parse a JSON body; a syntax error names its line and column.
pub async fn read_json(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = read_body(headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("the request body is empty", "body"));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        // serde_json appends " at line L column C" itself; say it once, up front.
        let text = e.to_string();
        let reason = text.split(" at line ").next().unwrap_or(&text);
        let (line, column) = (e.line(), e.column());
        ApiError::invalid(
            format!("malformed JSON at line {line}, column {column}: {reason}"),
            "body",
        )
    })
}

/// The scheme and authority that links in answers point at, from the request's `Host`.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `request-id` on every answer; `MS-CorrelationId` and `client-request-id` echoed; one
/// access-log line per request (method, path, status, time; never headers or bodies).
async fn common_headers(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let echoed: Vec<(HeaderName, HeaderValue)> = ["ms-correlationid", "client-request-id"]
        .into_iter()
        .filter_map(|name| {
            let value = request.headers().get(name)?.clone();
            Some((HeaderName::from_static(name), value))
        })
        .collect();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert(HeaderName::from_static("request-id"), id);
    }
    for (name, value) in echoed {
        headers.insert(name, value);
    }
    tracing::info!(
        target: "sandbox::access",
        %method,
        path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        peer = %peer.map_or_else(String::new, |p| p.to_string()),
        "request"
    );
    response
}

async fn token(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    token_for(&app, None, &headers, body).await
}

/// The token endpoint of one tenant: its tokens count against that tenant's rate limit.
async fn tenant_token(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    token_for(&app, Some(&tenant), &headers, body).await
}

async fn token_for(app: &App, tenant: Option<&str>, headers: &HeaderMap, body: Body) -> Response {
    let bytes = match read_body(headers, body).await {
        Ok(bytes) => bytes,
        Err(err) => return err.into_response(),
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    app.auth.token_endpoint(&form, tenant)
}

/// The admin routes' check: with `--token`, a request without it gets 401.
async fn admin_gate(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    match app.auth.check_admin(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

async fn stats(State(app): State<Arc<App>>) -> Json<Value> {
    Json(app.stats_json())
}

async fn reset(State(app): State<Arc<App>>) -> Result<StatusCode, ApiError> {
    app.store().clear().map_err(referrals::storage_error)?;
    app.stats.reset();
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let existed = app.store().remove(&id).map_err(referrals::storage_error)?;
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(&id))
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "itemNotFound",
        format!("no route for {} {}", request.method(), request.uri().path()),
        "path",
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalidRequest",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
        "method",
    )
}
