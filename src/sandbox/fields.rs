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
//!
//! A referral Microsoft shares with the partner (`X-Sandbox-Actor: microsoft`, see
//! `microsoft.rs`) is the partner's own copy, Incoming and New/Pending, invited by `msft`,
//! in an engagement of its own. Every timestamp comes from the sandbox clock (`time.rs`).

use serde_json::{Map, Value, json};

use axum::http::StatusCode;

use super::envelope::ApiError;
use super::patch;
use super::time::{self, Clock};
use crate::referral::contract::{TERMINAL_STATUS, is_terminal};
use crate::referral::{FieldError, check_contract, validate_create, validate_update};

/// The organization the sandbox's partner account is.
pub const PARTNER_ORG_ID: &str = "5a3d1f0e-7b1c-4e55-9a51-000000000001";
pub const PARTNER_ORG_NAME: &str = "Sandbox Partner";
/// Microsoft's organization id in `inviteContext.invitedBy` and connected referrals.
pub const MICROSOFT_ORG_ID: &str = "msft";
/// How long the receiver of a referral has to respond before it expires.
pub const RESPONSE_WINDOW_DAYS: i64 = 14;

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
/// the contract's types, then give it a new `eTag` and `updatedDateTime` from `clock` (and
/// `acceptedDateTime` when it is accepted, `closedDateTime` when it closes).
pub fn finish_update(
    previous: &Value,
    updated: Value,
    clock: &mut Clock,
) -> Result<Value, ApiError> {
    let Value::Object(updated) = updated else {
        return Err(ApiError::invalid(
            "a referral must be a JSON object",
            "body",
        ));
    };
    let mut errors = validate_update(previous, &Value::Object(updated.clone()));
    add_contract_errors(&mut errors, &Value::Object(client_view(&updated)));
    if !errors.is_empty() {
        return Err(ApiError::fields(&errors));
    }
    Ok(restamp(previous, Value::Object(updated), clock))
}

/// A changed body with a new `eTag` and `updatedDateTime`, and `acceptedDateTime` or
/// `closedDateTime` when its status moved to Active or Closed.
pub fn restamp(previous: &Value, mut updated: Value, clock: &mut Clock) -> Value {
    let status = |doc: &Value| doc.get("status").and_then(Value::as_str).map(str::to_owned);
    let (from, to) = (status(previous), status(&updated));
    let stamp = json!(time::format(clock.stamp()));
    if let Value::Object(map) = &mut updated {
        map.insert("updatedDateTime".into(), stamp.clone());
        map.insert("eTag".into(), json!(new_etag()));
        if to != from && to.as_deref() == Some("Active") {
            map.insert("acceptedDateTime".into(), stamp.clone());
        }
        if to != from && to.as_deref() == Some("Closed") {
            map.insert("closedDateTime".into(), stamp);
        }
    }
    updated
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

/// Who a new referral comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The partner's own referral (Outgoing).
    Partner,
    /// The partner's connected referral in an existing engagement, for its counterpart.
    Connected(String),
    /// Microsoft, sharing a referral with the partner (Incoming).
    Microsoft,
}

/// The stored body of a new referral: server fields first, then what the client sent.
pub fn assign_server_fields(
    payload: Map<String, Value>,
    origin: Origin,
    clock: &mut Clock,
) -> Value {
    let now = clock.stamp();
    let stamp = time::format(now);
    let (org_id, org_name) = match &origin {
        Origin::Connected(_) => counterpart(&payload),
        _ => (PARTNER_ORG_ID.to_string(), PARTNER_ORG_NAME.to_string()),
    };
    let (status, substatus, direction) = initial_status(&payload, &origin);
    // An incoming referral left unanswered expires after 14 days (spec §7).
    let expiration = if direction == "Incoming" && status == "New" {
        json!(time::format(time::days_after(now, RESPONSE_WINDOW_DAYS)))
    } else {
        Value::Null
    };
    let at_if = |wanted: &str| {
        if status == wanted {
            json!(stamp)
        } else {
            Value::Null
        }
    };
    let engagement = match &origin {
        Origin::Connected(engagement) => engagement.clone(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let mut body = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "engagementId": engagement,
        "organizationId": org_id,
        "organizationName": org_name,
        "name": payload.get("name").cloned().unwrap_or(Value::Null),
        "externalReferenceId": payload.get("externalReferenceId").cloned().unwrap_or(Value::Null),
        "createdDateTime": stamp,
        "updatedDateTime": stamp,
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
        if origin == Origin::Microsoft {
            invited_by_microsoft(map);
        }
    }
    body
}

/// `inviteContext.invitedBy` of a referral Microsoft shares (spec §5.6, §8: `msft`), keeping
/// the notes Microsoft sent.
fn invited_by_microsoft(body: &mut Map<String, Value>) {
    let context = body.entry("inviteContext").or_insert_with(|| json!({}));
    if !context.is_object() {
        *context = json!({});
    }
    if let Value::Object(context) = context {
        context.insert(
            "invitedBy".into(),
            json!({"organizationId": MICROSOFT_ORG_ID, "organizationName": "Microsoft"}),
        );
    }
}

/// Status, substatus and direction of a new referral. The partner's own starts
/// Active/Accepted unless it is created Closed; a connected one starts New/Pending unless the
/// client set a later status; one Microsoft shares is always New/Pending.
fn initial_status(payload: &Map<String, Value>, origin: &Origin) -> (String, Value, &'static str) {
    let sent = payload.get("status").and_then(Value::as_str);
    let sent_sub = || payload.get("substatus").cloned().unwrap_or(Value::Null);
    match (origin, sent) {
        (Origin::Microsoft, _) => ("New".into(), json!("Pending"), "Incoming"),
        (Origin::Connected(_), Some(s)) if s != "New" && s != "None" => {
            (s.to_string(), sent_sub(), "Incoming")
        }
        (Origin::Connected(_), _) => ("New".into(), json!("Pending"), "Incoming"),
        (Origin::Partner, Some("Closed")) => ("Closed".into(), sent_sub(), "Outgoing"),
        (Origin::Partner, _) => ("Active".into(), json!("Accepted"), "Outgoing"),
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
        .unwrap_or(MICROSOFT_ORG_ID);
    let name = if location.eq_ignore_ascii_case(MICROSOFT_ORG_ID) {
        "Microsoft".to_string()
    } else {
        format!("Partner {location}")
    };
    (location.to_string(), name)
}

/// An eTag as the API writes it: a quoted string inside the JSON string.
pub fn new_etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4())
}
