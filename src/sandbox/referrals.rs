//! Create, read, patch and replace one referral, as Partner Center does (spec §4.2–4.5).
//!
//! Each handler reads and checks its input before it takes the store's lock, then looks up,
//! checks `If-Match`, validates, changes and writes through in one critical section, so
//! concurrent requests cannot interleave. What the server fills in and how a change is
//! validated lives in `fields.rs`; what Microsoft does (`X-Sandbox-Actor`) in `microsoft.rs`.
//! Reads and changes first expire what the sandbox clock says is due (`expiry.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::envelope::ApiError;
use super::expiry;
use super::fields::{
    Origin, assign_server_fields, check_create, check_not_terminal, client_body, client_view,
    finish_update,
};
use super::microsoft::{self, Actor};
use super::patch;
use super::routes::{ROOT, base_url, read_json};
use super::state::App;
use super::store::Record;
use crate::referral::contract::server_owned;

/// `POST /v1.0/engagements/referrals`.
pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let actor = Actor::of(&headers)?;
    let payload = client_body(read_json(&headers, body).await?)?;
    check_create(&payload)?;
    if actor == Actor::Microsoft {
        microsoft::check_create(&payload)?;
    }
    let request_id = headers
        .get("ms-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && app.config.idempotency);
    let status = if app.config.create_status_200 {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let base = base_url(&headers);
    let mut store = app.store();
    if let Some(existing) = request_id.and_then(|rid| store.by_request_id(rid)) {
        tracing::info!("sandbox: create replayed by MS-RequestId; no new referral");
        return Ok(answer(status, render(existing, &base, false)));
    }
    let origin = match payload.get("engagementId") {
        _ if actor == Actor::Microsoft => Origin::Microsoft,
        None | Some(Value::Null) => Origin::Partner,
        Some(Value::String(id)) if store.has_engagement(id) => Origin::Connected(id.clone()),
        Some(other) => {
            return Err(ApiError::invalid(
                format!("engagementId {other}: no such engagement"),
                "engagementId",
            ));
        }
    };
    let body = assign_server_fields(payload, origin, &mut store.clock);
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let record = store.insert(&id, body, request_id).map_err(storage_error)?;
    app.stats.created.fetch_add(1, Ordering::Relaxed);
    Ok(answer(status, render(record, &base, false)))
}

/// `GET /v1.0/engagements/referrals/{id}`.
pub async fn get_one(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    Actor::partner_only(&headers, "GET")?;
    let store = expiry::current(&app)?;
    let record = store.get(&id).ok_or_else(|| ApiError::not_found(&id))?;
    Ok(answer(
        StatusCode::OK,
        render(record, &base_url(&headers), true),
    ))
}

/// `PATCH /v1.0/engagements/referrals/{id}`: JSON Patch, `add` and `replace` only.
pub async fn patch(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let doc = read_json(&headers, body).await?;
    if Actor::of(&headers)? == Actor::Microsoft {
        return microsoft::patch(&app, &headers, &id, &doc);
    }
    let ops = patch::parse(&doc).map_err(|errors| ApiError::fields(&errors))?;
    let mut store = expiry::current(&app)?;
    let record = store.get(&id).ok_or_else(|| ApiError::not_found(&id))?;
    // A closed referral takes no change whatever the eTag: say so rather than 412.
    check_not_terminal(&record.body)?;
    if let Some(if_match) = headers.get(header::IF_MATCH) {
        check_if_match(if_match, record)?;
    }
    let previous = record.body.clone();
    let mut updated = previous.clone();
    patch::apply(&mut updated, &ops).map_err(|e| ApiError::fields(&[e]))?;
    patch::coerce(&mut updated);
    let updated = finish_update(&previous, updated, &mut store.clock)?;
    let record = store
        .replace(&id, updated)
        .map_err(storage_error)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    app.stats.updated.fetch_add(1, Ordering::Relaxed);
    if prefers_representation(&headers) {
        return Ok(answer(
            StatusCode::OK,
            render(record, &base_url(&headers), false),
        ));
    }
    Ok(no_content(record))
}

/// `PUT /v1.0/engagements/referrals/{id}`: a full replace; `If-Match` is required.
pub async fn put(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    Actor::partner_only(&headers, "PUT")?;
    let if_match = required_if_match(&headers)?;
    let payload = client_body(read_json(&headers, body).await?)?;
    if let Some(sent) = payload.get("id").and_then(Value::as_str)
        && sent != id
    {
        return Err(ApiError::invalid(
            format!("the body's id {sent:?} is not the id in the URL"),
            "id",
        ));
    }
    let mut store = expiry::current(&app)?;
    let record = store.get(&id).ok_or_else(|| ApiError::not_found(&id))?;
    check_not_terminal(&record.body)?;
    check_if_match(&if_match, record)?;
    let mut updated = client_view(&payload);
    for field in server_owned() {
        if let Some(value) = record.body.get(field) {
            updated.insert(field.to_string(), value.clone());
        }
    }
    let previous = record.body.clone();
    let updated = finish_update(&previous, Value::Object(updated), &mut store.clock)?;
    let record = store
        .replace(&id, updated)
        .map_err(storage_error)?
        .ok_or_else(|| ApiError::not_found(&id))?;
    app.stats.updated.fetch_add(1, Ordering::Relaxed);
    Ok(answer(
        StatusCode::OK,
        render(record, &base_url(&headers), false),
    ))
}

/// PUT's `If-Match`, or 428.
fn required_if_match(headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    headers.get(header::IF_MATCH).cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "preconditionFailed",
            "PUT requires an If-Match header with the referral's eTag",
            "If-Match",
        )
    })
}

/// 412 unless `If-Match` is `*` or the referral's eTag (with or without its quotes).
pub(super) fn check_if_match(if_match: &HeaderValue, record: &Record) -> Result<(), ApiError> {
    let sent = if_match.to_str().unwrap_or_default().trim();
    let current = record.str_field("eTag").unwrap_or_default();
    let bare = |s: &str| s.trim_start_matches("W/").trim_matches('"').to_string();
    if sent == "*" || sent == current || bare(sent) == bare(current) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "preconditionFailed",
        "the referral has changed since this eTag was read",
        "If-Match",
    ))
}

pub(super) fn prefers_representation(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("return=representation"))
}

fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    id.map(|Path(id)| id)
        .map_err(|e| ApiError::invalid(format!("bad referral id in the URL: {e}"), "id"))
}

/// A referral as the API returns it: its `links` point at the address the request came to.
pub fn render(record: &Record, base: &str, with_context: bool) -> Value {
    let mut body = record.body.clone();
    let id = record.str_field("id").unwrap_or_default();
    let engagement = record.str_field("engagementId").unwrap_or_default();
    if let Value::Object(map) = &mut body {
        map.insert(
            "links".into(),
            json!({
                "relatedReferrals": {
                    "uri": format!("{base}{ROOT}?$filter=engagementId eq '{engagement}'"),
                    "method": "GET",
                },
                "self": {"uri": format!("{base}{ROOT}/{id}"), "method": "GET"},
            }),
        );
        if with_context {
            let context = format!("{base}{ROOT}/$metadata#Referrals/$entity");
            map.insert("@odata.context".into(), json!(context));
        }
    }
    body
}

/// A referral answer with its `ETag` header.
pub(super) fn answer(status: StatusCode, body: Value) -> Response {
    let etag = body.get("eTag").and_then(Value::as_str).map(str::to_string);
    let mut response = (status, Json(body)).into_response();
    if let Some(value) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

pub(super) fn no_content(record: &Record) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(value) = record
        .str_field("eTag")
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A `--state` write that failed: 500, and the change is not made.
pub fn storage_error(err: rusqlite::Error) -> ApiError {
    tracing::error!(%err, "sandbox: the state file could not be written");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "generalException",
        "the sandbox could not write its state file",
        "referral",
    )
}
