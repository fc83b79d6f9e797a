//! Create, read, patch and replace one referral, as Partner Center does (spec §4.2–4.5, §8).
//!
//! A create is validated by the Referral model, then the server fills `id`, `engagementId`,
//! the owning organization, times, `eTag` and `direction`. The partner's own referral is
//! Outgoing and starts Active/Accepted (the docs' example turns New/Pending into that).
//!
//! A create that names an existing `engagementId` is a *connected* referral: the second step
//! of a shared referral, addressed to the organization of its `BusinessProfileLocation` target
//! (`msft` for Microsoft). The sandbox stores it as that organization's referral, with
//! direction Incoming and New/Pending: that is how Microsoft sees it (spec §8), it keeps
//! `direction eq 'Outgoing'` listing the partner's own referrals only, and so it never counts
//! as a duplicate `externalReferenceId`. Both are listed by `links.relatedReferrals`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::envelope::ApiError;
use super::patch::{self, SERVER_FIELDS};
use super::routes::{ROOT, base_url, read_json};
use super::state::App;
use super::store::Record;
use super::time;
use crate::referral::{validate_create, validate_update};

/// The organization the sandbox's partner account is.
pub const PARTNER_ORG_ID: &str = "5a3d1f0e-7b1c-4e55-9a51-000000000001";
pub const PARTNER_ORG_NAME: &str = "Sandbox Partner";

/// `POST /v1.0/engagements/referrals`.
pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let payload = client_body(read_json(&headers, body).await?)?;
    check_create(&payload)?;
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
    let engagement = match payload.get("engagementId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if store.has_engagement(id) => Some(id.clone()),
        Some(other) => {
            return Err(ApiError::invalid(
                format!("engagementId {other}: no such engagement"),
                "engagementId",
            ));
        }
    };
    let body = assign_server_fields(payload, engagement);
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
    let store = app.store();
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
    let ops = patch::parse(&doc).map_err(|errors| ApiError::fields(&errors))?;
    let mut store = app.store();
    let record = store.get(&id).ok_or_else(|| ApiError::not_found(&id))?;
    if let Some(if_match) = headers.get(header::IF_MATCH) {
        check_if_match(if_match, record)?;
    }
    let mut updated = record.body.clone();
    patch::apply(&mut updated, &ops).map_err(|e| ApiError::fields(&[e]))?;
    patch::coerce(&mut updated);
    let previous = record.body.clone();
    let updated = finish_update(&previous, updated)?;
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
    let Some(if_match) = headers.get(header::IF_MATCH).cloned() else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "preconditionFailed",
            "PUT requires an If-Match header with the referral's eTag",
            "If-Match",
        ));
    };
    let payload = client_body(read_json(&headers, body).await?)?;
    if let Some(sent) = payload.get("id").and_then(Value::as_str)
        && sent != id
    {
        return Err(ApiError::invalid(
            format!("the body's id {sent:?} is not the id in the URL"),
            "id",
        ));
    }
    let mut store = app.store();
    let record = store.get(&id).ok_or_else(|| ApiError::not_found(&id))?;
    check_if_match(&if_match, record)?;
    let mut updated = client_view(&payload);
    for field in SERVER_FIELDS {
        if let Some(value) = record.body.get(*field) {
            updated.insert((*field).to_string(), value.clone());
        }
    }
    let updated = Value::Object(updated);
    let previous = record.body.clone();
    let updated = finish_update(&previous, updated)?;
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

/// A create or PUT body: a JSON object, field names spelled as on the wire, numbers and
/// booleans sent as strings coerced.
fn client_body(body: Value) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(payload) = body else {
        return Err(ApiError::invalid(
            "a referral must be a JSON object",
            "body",
        ));
    };
    let mut doc = Value::Object(patch::normalize_keys(payload));
    patch::coerce(&mut doc);
    match doc {
        Value::Object(payload) => Ok(payload),
        _ => Err(ApiError::invalid(
            "a referral must be a JSON object",
            "body",
        )),
    }
}

/// Validate a changed referral with the model (fields, status move, server-owned fields),
/// then give it a new
/// `eTag` and `updatedDateTime` (and `closedDateTime` when it closes).
fn finish_update(previous: &Value, updated: Value) -> Result<Value, ApiError> {
    let Value::Object(mut updated) = updated else {
        return Err(ApiError::invalid(
            "a referral must be a JSON object",
            "body",
        ));
    };
    let from = previous
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("New");
    let errors = validate_update(previous, &Value::Object(updated.clone()));
    if !errors.is_empty() {
        return Err(ApiError::fields(&errors));
    }
    let before = previous.get("updatedDateTime").and_then(Value::as_str);
    updated.insert("updatedDateTime".into(), json!(time::after(before)));
    updated.insert("eTag".into(), json!(new_etag()));
    let closes = updated.get("status").and_then(Value::as_str) == Some("Closed");
    if closes && from != "Closed" {
        updated.insert("closedDateTime".into(), json!(time::now()));
    }
    Ok(Value::Object(updated))
}

/// Run the model's validation on what a client sent to create a referral; every problem is
/// named in one 400.
fn check_create(payload: &Map<String, Value>) -> Result<(), ApiError> {
    let errors = validate_create(&Value::Object(client_view(payload)));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(&errors))
    }
}

/// The fields a client owns (everything but the server's).
fn client_view(payload: &Map<String, Value>) -> Map<String, Value> {
    payload
        .iter()
        .filter(|(k, _)| !SERVER_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The stored body of a new referral: server fields first, then what the client sent.
fn assign_server_fields(payload: Map<String, Value>, engagement: Option<String>) -> Value {
    let now = time::now();
    let connected = engagement.is_some();
    let (org_id, org_name) = if connected {
        counterpart(&payload)
    } else {
        (PARTNER_ORG_ID.to_string(), PARTNER_ORG_NAME.to_string())
    };
    let status = payload.get("status").and_then(Value::as_str);
    let (status, substatus, direction) = match (connected, status) {
        (true, Some(s)) if s != "New" && s != "None" => {
            (json!(s), payload_sub(&payload), "Incoming")
        }
        (true, _) => (json!("New"), json!("Pending"), "Incoming"),
        (false, Some("Closed")) => (json!("Closed"), payload_sub(&payload), "Outgoing"),
        (false, _) => (json!("Active"), json!("Accepted"), "Outgoing"),
    };
    let accepted = if status == "Active" {
        json!(now)
    } else {
        Value::Null
    };
    let closed = if status == "Closed" {
        json!(now)
    } else {
        Value::Null
    };
    let mut body = Map::new();
    body.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    let engagement = engagement.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    body.insert("engagementId".into(), json!(engagement));
    body.insert("organizationId".into(), json!(org_id));
    body.insert("organizationName".into(), json!(org_name));
    body.insert(
        "name".into(),
        payload.get("name").cloned().unwrap_or(Value::Null),
    );
    let external = payload.get("externalReferenceId").cloned();
    body.insert(
        "externalReferenceId".into(),
        external.unwrap_or(Value::Null),
    );
    body.insert("createdDateTime".into(), json!(now));
    body.insert("updatedDateTime".into(), json!(now));
    body.insert("acceptedDateTime".into(), accepted);
    body.insert("closedDateTime".into(), closed);
    body.insert("expirationDateTime".into(), Value::Null);
    body.insert("status".into(), status);
    body.insert("substatus".into(), substatus);
    body.insert("direction".into(), json!(direction));
    body.insert("eTag".into(), json!(new_etag()));
    for (key, value) in client_view(&payload) {
        body.entry(key).or_insert(value);
    }
    Value::Object(body)
}

fn payload_sub(payload: &Map<String, Value>) -> Value {
    payload.get("substatus").cloned().unwrap_or(Value::Null)
}

/// The organization a connected referral is addressed to: its `BusinessProfileLocation`.
fn counterpart(payload: &Map<String, Value>) -> (String, String) {
    let location = payload
        .get("target")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| t.get("type").and_then(Value::as_str) == Some("BusinessProfileLocation"))
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .unwrap_or("msft");
    let name = if location.eq_ignore_ascii_case("msft") {
        "Microsoft".to_string()
    } else {
        format!("Partner {location}")
    };
    (location.to_string(), name)
}

/// An eTag as the API writes it: a quoted string inside the JSON string.
fn new_etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4())
}

/// 412 unless `If-Match` is `*` or the referral's eTag (with or without its quotes).
fn check_if_match(if_match: &HeaderValue, record: &Record) -> Result<(), ApiError> {
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

fn prefers_representation(headers: &HeaderMap) -> bool {
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
fn answer(status: StatusCode, body: Value) -> Response {
    let etag = body.get("eTag").and_then(Value::as_str).map(str::to_string);
    let mut response = (status, Json(body)).into_response();
    if let Some(value) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn no_content(record: &Record) -> Response {
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
