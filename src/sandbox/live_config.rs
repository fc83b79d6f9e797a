//! `GET` and `POST /sandbox/config`: the settings that can change while the sandbox runs.
//!
//! Partner Center adjusts a tenant's rate limit without notice; rehearsing that (and proving
//! that adaptive pacing follows it down) needs a sandbox whose limit can be lowered mid-run.
//! The route needs the API's bearer token, like every request that changes the sandbox.
//!
//! The body is `{"rateLimit": "10/s"}` (`N/s` or `N/min`, as `--rate-limit`), or
//! `{"rateLimit": null}` to lift the limit; the answer is the settings now in force.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::config::RateLimit;
use super::envelope::ApiError;
use super::routes::read_json;
use super::state::App;

/// The settings in force, as `GET /sandbox/config` shows them.
fn current(app: &App) -> Value {
    let rate_limit = app
        .limiter
        .limit()
        .map(|limit| match limit.period.as_secs() {
            60 => format!("{}/min", limit.capacity),
            _ => format!("{}/s", limit.capacity),
        });
    json!({ "rateLimit": rate_limit })
}

pub async fn show(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    app.auth.check(&headers)?;
    Ok(Json(current(&app)))
}

pub async fn change(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    app.auth.check(&headers)?;
    let body = read_json(&headers, body).await?;
    let bad =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, "badRequest", message, "config");
    let Value::Object(fields) = body else {
        return Err(bad("the body must be a JSON object".into()));
    };
    for (name, value) in &fields {
        match (name.as_str(), value) {
            ("rateLimit", Value::Null) => app.limiter.set_limit(None),
            ("rateLimit", Value::String(text)) => {
                let limit = RateLimit::parse(text).map_err(|err| bad(err.to_string()))?;
                app.limiter.set_limit(Some(limit));
            }
            ("rateLimit", _) => {
                return Err(bad("rateLimit: expected \"N/s\", \"N/min\" or null".into()));
            }
            (other, _) => {
                return Err(bad(format!(
                    "{other}: not a setting that can change (rateLimit)"
                )));
            }
        }
    }
    tracing::info!(config = %current(&app), "sandbox settings changed");
    Ok(Json(current(&app)))
}
