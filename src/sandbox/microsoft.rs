//! The sandbox plays Microsoft: a request with `X-Sandbox-Actor: microsoft` acts as Microsoft
//! would, so the partner's side of a two-way sync can be rehearsed end to end.
//!
//! - `POST` shares a referral with the partner: the partner's copy, Incoming and New/Pending,
//!   invited by `msft`, expiring 14 days later on the sandbox clock (see `fields.rs`). It is
//!   validated like any create and starts an engagement of its own.
//! - `PATCH` is Microsoft's seller acting on a co-sell engagement: the id may be either
//!   referral of the engagement (the partner's or Microsoft's connected one); the action is on
//!   the engagement. `status` Active (`substatus` Accepted) accepts: Microsoft's referral goes
//!   Active/Accepted. `status` Closed with `substatus` Won or Lost closes the deal: every open
//!   referral of the engagement goes Closed/Won or Closed/Lost (with `statusReason` when
//!   sent), as a closed engagement looks in Partner Center. `trackingInfo/microsoftMsxId`
//!   sets Microsoft's CRM id on every open referral of the engagement. Each referral that
//!   changes gets a new eTag and `updatedDateTime`; `If-Match` is checked against the
//!   referral in the URL. An engagement without a referral of Microsoft's is not co-sell: 403.
//!
//! Any other value of the header is a 400, and so is the header on GET and PUT.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::envelope::ApiError;
use super::expiry;
use super::fields::{MICROSOFT_ORG_ID, check_not_terminal, restamp};
use super::referrals::{answer, check_if_match, no_content, prefers_representation, render};
use super::routes::base_url;
use super::state::App;
use super::store::Store;
use crate::referral::contract::is_terminal;

/// The header that says who acts.
pub const ACTOR_HEADER: &str = "x-sandbox-actor";

/// Who a request acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Partner,
    Microsoft,
}

impl Actor {
    /// The actor of a request: the partner unless `X-Sandbox-Actor: microsoft`.
    pub fn of(headers: &HeaderMap) -> Result<Actor, ApiError> {
        let Some(value) = headers.get(ACTOR_HEADER) else {
            return Ok(Actor::Partner);
        };
        match value.to_str().map(str::trim) {
            Ok(v) if v.eq_ignore_ascii_case("microsoft") => Ok(Actor::Microsoft),
            _ => Err(ApiError::invalid(
                format!(
                    "X-Sandbox-Actor {:?}: the only actor the sandbox plays is \"microsoft\"",
                    String::from_utf8_lossy(value.as_bytes())
                ),
                "X-Sandbox-Actor",
            )),
        }
    }

    /// 400 when Microsoft is asked to act where it does not (GET, PUT).
    pub fn partner_only(headers: &HeaderMap, method: &str) -> Result<(), ApiError> {
        match Actor::of(headers)? {
            Actor::Partner => Ok(()),
            Actor::Microsoft => Err(ApiError::invalid(
                format!("X-Sandbox-Actor: microsoft acts by POST and PATCH, not {method}"),
                "X-Sandbox-Actor",
            )),
        }
    }
}

/// A Microsoft create names no engagement: a shared referral starts its own.
pub fn check_create(payload: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    match payload.get("engagementId") {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(ApiError::invalid(
            "a referral Microsoft shares with the partner starts its own engagement; \
             send no engagementId",
            "engagementId",
        )),
    }
}

/// What Microsoft's seller does to an engagement.
#[derive(Debug, Default, PartialEq)]
struct SellerAction {
    /// `Some("Accepted")` accepts; `Some("Won" | "Lost")` closes.
    outcome: Option<&'static str>,
    reason: Option<Value>,
    msx_id: Option<String>,
}

const SELLER_PATHS: &str = "/status, /substatus, /statusReason and /trackingInfo/microsoftMsxId";

/// Read Microsoft's seller's JSON Patch: `add`/`replace` of the seller's paths only.
fn parse_action(doc: &Value) -> Result<SellerAction, ApiError> {
    let ops = doc
        .as_array()
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| ApiError::invalid("a JSON Patch must be a non-empty array", "body"))?;
    let (mut status, mut substatus) = (None, None);
    let mut action = SellerAction::default();
    for (index, op) in ops.iter().enumerate() {
        let at = |what: &str| format!("[{index}].{what}");
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        if kind != "add" && kind != "replace" {
            return Err(ApiError::invalid("op must be add or replace", at("op")));
        }
        let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        let text = value.as_str().map(str::to_owned);
        match path.to_ascii_lowercase().as_str() {
            "/status" => status = text,
            "/substatus" => substatus = text,
            "/statusreason" => action.reason = Some(value),
            "/trackinginfo/microsoftmsxid" => {
                action.msx_id = Some(text.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                    ApiError::invalid("microsoftMsxId must be a non-empty string", at("value"))
                })?);
            }
            _ => {
                return Err(ApiError::invalid(
                    format!("{path:?}: Microsoft's seller changes {SELLER_PATHS} only"),
                    at("path"),
                ));
            }
        }
    }
    action.outcome = outcome(status.as_deref(), substatus.as_deref())?;
    if action.outcome.is_none() && action.msx_id.is_none() {
        return Err(ApiError::invalid(
            format!("the patch changes nothing Microsoft's seller acts on ({SELLER_PATHS})"),
            "body",
        ));
    }
    Ok(action)
}

/// The seller's status move: accept (Active/Accepted) or close Won or Lost.
fn outcome(
    status: Option<&str>,
    substatus: Option<&str>,
) -> Result<Option<&'static str>, ApiError> {
    match (status, substatus) {
        (None, None) => Ok(None),
        (Some("Active") | None, Some("Accepted")) | (Some("Active"), None) => Ok(Some("Accepted")),
        (Some("Closed") | None, Some("Won")) => Ok(Some("Won")),
        (Some("Closed") | None, Some("Lost")) => Ok(Some("Lost")),
        (status, substatus) => Err(ApiError::invalid(
            format!(
                "status {status:?} / substatus {substatus:?}: Microsoft's seller accepts \
                 (Active/Accepted) or closes (Closed/Won, Closed/Lost) an engagement"
            ),
            "status",
        )),
    }
}

/// `PATCH` with `X-Sandbox-Actor: microsoft`.
pub fn patch(app: &App, headers: &HeaderMap, id: &str, doc: &Value) -> Result<Response, ApiError> {
    let action = parse_action(doc)?;
    let mut store = expiry::current(app)?;
    let target = store.get(id).ok_or_else(|| ApiError::not_found(id))?;
    if let Some(if_match) = headers.get(header::IF_MATCH) {
        check_if_match(if_match, target)?;
    }
    let engagement = target
        .str_field("engagementId")
        .unwrap_or_default()
        .to_owned();
    let members = store.engagement(&engagement);
    let microsoft = members
        .iter()
        .find(|m| owner(&store, m) == Some(MICROSOFT_ORG_ID))
        .cloned()
        .ok_or_else(|| not_co_sell(id, &engagement))?;
    let changes = plan(&store, &members, &microsoft, &action)?;
    for (member, body) in changes {
        let previous = store
            .get(&member)
            .map(|r| r.body.clone())
            .unwrap_or_default();
        let body = restamp(&previous, body, &mut store.clock);
        store
            .replace(&member, body)
            .map_err(super::referrals::storage_error)?;
        app.stats
            .updated
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let record = store.get(id).ok_or_else(|| ApiError::not_found(id))?;
    if prefers_representation(headers) {
        return Ok(answer(
            StatusCode::OK,
            render(record, &base_url(headers), false),
        ));
    }
    Ok(no_content(record))
}

fn owner<'a>(store: &'a Store, id: &str) -> Option<&'a str> {
    store.get(id).and_then(|r| r.str_field("organizationId"))
}

fn not_co_sell(id: &str, engagement: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "accessDenied",
        format!(
            "referral {id} is not in a co-sell engagement: Microsoft has no referral in \
             engagement {engagement}, so Microsoft's seller cannot act on it"
        ),
        "engagementId",
    )
}

/// The new bodies of the engagement's referrals that the action changes; 409 when it would
/// change a closed referral and nothing else.
fn plan(
    store: &Store,
    members: &[String],
    microsoft: &str,
    action: &SellerAction,
) -> Result<Vec<(String, Value)>, ApiError> {
    let body_of = |id: &str| store.get(id).map(|r| r.body.clone()).unwrap_or_default();
    let open: Vec<&String> = members
        .iter()
        .filter(|m| !is_terminal(store.get(m).and_then(|r| r.str_field("status"))))
        .collect();
    if open.is_empty() || action.outcome == Some("Accepted") {
        check_not_terminal(&body_of(microsoft))?;
    }
    let mut changes = Vec::new();
    for member in open {
        let mut body = body_of(member);
        let before = body.clone();
        match action.outcome {
            Some("Accepted") if member == microsoft => {
                body["status"] = json!("Active");
                body["substatus"] = json!("Accepted");
            }
            Some(result @ ("Won" | "Lost")) => {
                body["status"] = json!("Closed");
                body["substatus"] = json!(result);
                if let Some(reason) = &action.reason {
                    body["statusReason"] = reason.clone();
                }
            }
            _ => {}
        }
        if let Some(msx) = &action.msx_id {
            set_msx_id(&mut body, msx);
        }
        if body != before {
            changes.push((member.clone(), body));
        }
    }
    Ok(changes)
}

fn set_msx_id(body: &mut Value, msx: &str) {
    if !body.get("trackingInfo").is_some_and(Value::is_object) {
        body["trackingInfo"] = json!({});
    }
    body["trackingInfo"]["microsoftMsxId"] = json!(msx);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seller_accepts_or_closes_won_or_lost_and_nothing_else() {
        let action = |ops: Value| parse_action(&ops).map(|a| a.outcome);
        let op = |path: &str, value: &str| json!({"op": "replace", "path": path, "value": value});
        assert_eq!(
            action(json!([op("/status", "Active")])).ok(),
            Some(Some("Accepted"))
        );
        let won = json!([op("/status", "Closed"), op("/substatus", "Won")]);
        assert_eq!(action(won).ok(), Some(Some("Won")));
        assert_eq!(
            action(json!([op("/substatus", "Lost")])).ok(),
            Some(Some("Lost"))
        );
        let msx = json!([op("/trackingInfo/microsoftMsxId", "7-ABC")]);
        assert_eq!(action(msx).ok(), Some(None));
        for bad in [
            json!([op("/status", "Closed"), op("/substatus", "Declined")]),
            json!([op("/status", "New")]),
            json!([op("/details/dealValue", "5")]),
            json!([op("/trackingInfo/microsoftMsxId", " ")]),
            json!([{"op": "remove", "path": "/status"}]),
            json!([op("/statusReason", "why")]),
            json!([]),
        ] {
            assert!(parse_action(&bad).is_err(), "{bad} accepted");
        }
    }
}
