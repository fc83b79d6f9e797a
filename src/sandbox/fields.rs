//! What the server decides about a referral's fields: the ones it fills on create, the ones
//! a client may not change, and the validation of a create or a change.
//!
//! The partner's own referral is Outgoing and starts Active/Accepted (the docs' example turns
//! New/Pending into that). A create that names an existing `engagementId` is a *connected*
//! referral: the second step of a shared referral, addressed to the organization of its
//! `BusinessProfileLocation` target (`msft` for Microsoft). The sandbox stores it as that
//! organization's referral, Incoming and New/Pending: that is how Microsoft sees it (spec §8),
//! it keeps `direction eq 'Outgoing'` to the partner's own referrals, and it never counts as a
//! duplicate `externalReferenceId`. Both are listed by `links.relatedReferrals`.

use serde_json::{Map, Value, json};

use axum::http::StatusCode;

use super::envelope::ApiError;
use super::patch;
use super::time;
use crate::referral::contract::{TERMINAL_STATUS, is_terminal};
use crate::referral::{FieldError, check_contract, validate_create, validate_update};

/// The organization the sandbox's partner account is.
pub const PARTNER_ORG_ID: &str = "5a3d1f0e-7b1c-4e55-9a51-000000000001";
pub const PARTNER_ORG_NAME: &str = "Sandbox Partner";
/// How long the receiver of a referral has to respond before it expires.
const RESPONSE_WINDOW_DAYS: i64 = 14;

/// A create or PUT body: a JSON object, field names spelled as on the wire, numbers and
/// booleans sent as strings coerced.
pub fn client_body(body: Value) -> Result<Map<String, Value>, ApiError> {
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

/// 409 when `previous` is in a terminal state: no change of any kind is taken any more.
pub fn check_not_terminal(previous: &Value) -> Result<(), ApiError> {
    let status = previous.get("status").and_then(Value::as_str);
    if !is_terminal(status) {
        return Ok(());
    }
    let substatus = previous
        .get("substatus")
        .and_then(Value::as_str)
        .unwrap_or("None");
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "invalidRequest",
        format!(
            "the referral is {TERMINAL_STATUS}/{substatus}: no change is permitted after a \
             referral reaches a terminal state (Won, Lost, Declined, Expired)"
        ),
        "status",
    ))
}

/// Validate a changed referral with the model (fields, status move, server-owned fields) and
/// the contract's types, then give it a new `eTag` and `updatedDateTime` (and
/// `closedDateTime` when it closes).
pub fn finish_update(previous: &Value, updated: Value) -> Result<Value, ApiError> {
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
    let mut errors = validate_update(previous, &Value::Object(updated.clone()));
    add_contract_errors(&mut errors, &Value::Object(client_view(&updated)));
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
pub fn check_create(payload: &Map<String, Value>) -> Result<(), ApiError> {
    let view = Value::Object(client_view(payload));
    let mut errors = validate_create(&view);
    add_contract_errors(&mut errors, &view);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(&errors))
    }
}

/// The contract's type errors of `doc` at paths the model's validation did not already name.
fn add_contract_errors(errors: &mut Vec<FieldError>, doc: &Value) {
    for error in check_contract(doc) {
        if !errors.iter().any(|e| e.path == error.path) {
            errors.push(error);
        }
    }
}

/// The fields a client owns (everything but the server's).
pub fn client_view(payload: &Map<String, Value>) -> Map<String, Value> {
    payload
        .iter()
        .filter(|(k, _)| !patch::is_server_owned(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The stored body of a new referral: server fields first, then what the client sent.
pub fn assign_server_fields(payload: Map<String, Value>, engagement: Option<String>) -> Value {
    let now = time::now();
    let connected = engagement.is_some();
    let (org_id, org_name) = if connected {
        counterpart(&payload)
    } else {
        (PARTNER_ORG_ID.to_string(), PARTNER_ORG_NAME.to_string())
    };
    let (status, substatus, direction) = initial_status(&payload, connected);
    // An incoming referral left unanswered expires after 14 days (spec §7).
    let expiration = if direction == "Incoming" && status == "New" {
        json!(time::days_from_now(RESPONSE_WINDOW_DAYS))
    } else {
        Value::Null
    };
    let at_if = |wanted: &str| {
        if status == wanted {
            json!(now)
        } else {
            Value::Null
        }
    };
    let mut body = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "engagementId": engagement.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        "organizationId": org_id,
        "organizationName": org_name,
        "name": payload.get("name").cloned().unwrap_or(Value::Null),
        "externalReferenceId": payload.get("externalReferenceId").cloned().unwrap_or(Value::Null),
        "createdDateTime": now,
        "updatedDateTime": now,
        "acceptedDateTime": at_if("Active"),
        "closedDateTime": at_if("Closed"),
        "expirationDateTime": expiration,
        "status": status,
        "substatus": substatus,
        "direction": direction,
        "eTag": new_etag(),
    });
    if let Value::Object(map) = &mut body {
        for (key, value) in client_view(&payload) {
            map.entry(key).or_insert(value);
        }
    }
    body
}

/// Status, substatus and direction of a new referral. The partner's own starts
/// Active/Accepted unless it is created Closed; a connected one starts New/Pending unless the
/// client set a later status.
fn initial_status(payload: &Map<String, Value>, connected: bool) -> (String, Value, &'static str) {
    let sent = payload.get("status").and_then(Value::as_str);
    let sent_sub = || payload.get("substatus").cloned().unwrap_or(Value::Null);
    match (connected, sent) {
        (true, Some(s)) if s != "New" && s != "None" => (s.to_string(), sent_sub(), "Incoming"),
        (true, _) => ("New".into(), json!("Pending"), "Incoming"),
        (false, Some("Closed")) => ("Closed".into(), sent_sub(), "Outgoing"),
        (false, _) => ("Active".into(), json!("Accepted"), "Outgoing"),
    }
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
