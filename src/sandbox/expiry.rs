//! Moving the sandbox clock (`POST /sandbox/advance`) and what follows from it: incoming
//! referrals left New/Pending past their `expirationDateTime` become Closed/Expired (spec §7:
//! "we'll archive it as Expired").
//!
//! Expiry is materialized when the clock is advanced and, lazily, whenever a request reads or
//! changes referrals (the clock also runs with real time). The expired referral gets a new
//! eTag and an `updatedDateTime` of the moment it is materialized: a stamp later than every
//! one already served, so a client listing "changed since" its watermark sees it, however far
//! in the past its expiration lies. Its `closedDateTime` is its `expirationDateTime`.

use std::sync::Arc;
use std::sync::MutexGuard;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use jiff::SignedDuration;
use serde_json::{Value, json};

use super::envelope::ApiError;
use super::fields::restamp;
use super::referrals::storage_error;
use super::routes::read_json;
use super::state::App;
use super::store::Store;
use super::time;

/// The longest single advance: ten years.
const MAX_HOURS: i64 = 24 * 3660;

/// The store, with every referral that is due expired.
pub fn current(app: &App) -> Result<MutexGuard<'_, Store>, ApiError> {
    let mut store = app.store();
    expire_due(&mut store).map_err(storage_error)?;
    Ok(store)
}

/// Close every incoming New/Pending referral whose expiration has passed; how many.
pub fn expire_due(store: &mut Store) -> rusqlite::Result<usize> {
    let now = time::format(store.clock.now());
    let due = store.index().due(&now);
    for id in &due {
        let Some(previous) = store.get(id).map(|r| r.body.clone()) else {
            continue;
        };
        let mut body = previous.clone();
        body["status"] = json!("Closed");
        body["substatus"] = json!("Expired");
        let mut body = restamp(&previous, body, &mut store.clock);
        body["closedDateTime"] = previous["expirationDateTime"].clone();
        store.replace(id, body)?;
    }
    Ok(due.len())
}

/// `POST /sandbox/advance` with `{"days": N}` or `{"hours": N}` (N a whole number, at least
/// 0): move the clock, expire what is due, answer the new time and how many expired.
pub async fn advance(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body = read_json(&headers, body).await?;
    let hours = hours_of(&body)?;
    let mut store = app.store();
    store
        .advance(SignedDuration::from_hours(hours))
        .map_err(storage_error)?;
    let expired = expire_due(&mut store).map_err(storage_error)?;
    let now = time::format(store.clock.now());
    tracing::info!(hours, %now, expired, "sandbox clock advanced");
    Ok(Json(json!({
        "now": now,
        "offsetSeconds": store.clock.offset_seconds(),
        "expired": expired,
    })))
}

/// The hours an advance body asks for.
fn hours_of(body: &Value) -> Result<i64, ApiError> {
    let bad = |message: String| ApiError::invalid(message, "body");
    let Value::Object(fields) = body else {
        return Err(bad("the body must be a JSON object".into()));
    };
    let mut hours = None;
    for (name, value) in fields {
        let per = match name.as_str() {
            "days" => 24,
            "hours" => 1,
            other => return Err(bad(format!("{other}: expected \"days\" or \"hours\""))),
        };
        if hours.is_some() {
            return Err(bad("give either days or hours, not both".into()));
        }
        let n = value
            .as_i64()
            .filter(|n| (0..=MAX_HOURS / per).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "{name}: {value} is not a whole number from 0 to {}",
                    MAX_HOURS / per
                ))
            })?;
        hours = Some(n * per);
    }
    hours.ok_or_else(|| bad("expected {\"days\": N} or {\"hours\": N}".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrals_past_their_expiration_expire_on_the_next_read() -> rusqlite::Result<()> {
        let mut store = Store::in_memory();
        let waiting = |id: &str, expires: &str| {
            json!({"id": id, "direction": "Incoming", "status": "New", "substatus": "Pending",
                "expirationDateTime": expires, "updatedDateTime": "2020-01-01T00:00:00.0000000Z",
                "eTag": "\"old\""})
        };
        store.insert("due", waiting("due", "2021-01-01T00:00:00.0000000Z"), None)?;
        store.insert(
            "later",
            waiting("later", "2999-01-01T00:00:00.0000000Z"),
            None,
        )?;
        assert_eq!(expire_due(&mut store)?, 1);
        let due = store.get("due").map(|r| r.body.clone()).unwrap_or_default();
        assert_eq!(
            (due["status"].as_str(), due["substatus"].as_str()),
            (Some("Closed"), Some("Expired"))
        );
        assert_eq!(due["closedDateTime"], "2021-01-01T00:00:00.0000000Z");
        assert_ne!(due["eTag"], "\"old\"");
        assert!(due["updatedDateTime"].as_str() > Some("2021"));
        assert_eq!(
            store.get("later").and_then(|r| r.str_field("status")),
            Some("New")
        );
        assert_eq!(expire_due(&mut store)?, 0, "expired once");
        Ok(())
    }

    #[test]
    fn advance_bodies_take_whole_days_or_hours() {
        assert_eq!(hours_of(&json!({"days": 15})).ok(), Some(360));
        assert_eq!(hours_of(&json!({"hours": 2})).ok(), Some(2));
        for bad in [
            json!({}),
            json!({"days": -1}),
            json!({"days": 1.5}),
            json!({"days": "3"}),
            json!({"days": 1, "hours": 1}),
            json!({"weeks": 1}),
            json!({"days": 1_000_000}),
            json!([1]),
        ] {
            assert!(hours_of(&bad).is_err(), "{bad} accepted");
        }
    }
}
