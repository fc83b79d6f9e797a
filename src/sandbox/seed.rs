//! `POST /sandbox/seed` with `{"count": N}` (N up to 100,000; token-protected like reset):
//! a tenant of benchmark size in one request, so that listing, reconcile and pull can be
//! measured against 20,000 referrals without 20,000 creates.
//!
//! The referrals are valid and shaped like a real tenant's: mostly the partner's own
//! (Active/Accepted, some Closed Won or Lost), some co-sell (the partner's Shared referral and
//! Microsoft's connected one, counted as two), some shared by Microsoft (Incoming: New/Pending
//! within their 14 days, accepted, declined or expired after). `createdDateTime` and
//! `updatedDateTime` are spread over the past 365 days of the sandbox clock, consistent with
//! the statuses (an incoming referral older than 14 days is no longer pending). Each partner
//! referral has a unique `externalReferenceId` `seed-NNNNNN` (its creation number). The
//! content is the same for the same sandbox `--seed` and the same point in the sandbox's
//! history; the times move with the clock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value, json};

use super::envelope::ApiError;
use super::fields::{MICROSOFT_ORG_ID, PARTNER_ORG_ID, PARTNER_ORG_NAME, RESPONSE_WINDOW_DAYS};
use super::referrals::storage_error;
use super::routes::read_json;
use super::state::App;
use super::time;

/// The most referrals one seed creates.
pub const MAX_SEED: u64 = 100_000;
const YEAR_SECONDS: i64 = 365 * 86_400;
const COUNTRIES: [&str; 6] = ["US", "GB", "DE", "FR", "IN", "AU"];
const SIZES: [&str; 3] = ["1to50employees", "51to500employees", "Morethan500employees"];

pub async fn seed(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body = read_json(&headers, body).await?;
    let count = body
        .get("count")
        .and_then(Value::as_u64)
        .filter(|n| (1..=MAX_SEED).contains(n) && body.as_object().is_some_and(|m| m.len() == 1))
        .ok_or_else(|| {
            ApiError::invalid(
                format!("expected {{\"count\": N}} with N from 1 to {MAX_SEED}"),
                "count",
            )
        })?;
    let mut store = app.store();
    let first = store.next_seq();
    let mut rng =
        StdRng::seed_from_u64(app.config.seed ^ first.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let bodies = generate(&mut rng, count as usize, first, store.clock.now());
    let created = store.insert_many(bodies).map_err(storage_error)?;
    app.stats
        .created
        .fetch_add(created as u64, Ordering::Relaxed);
    tracing::info!(created, "sandbox seeded");
    Ok(Json(json!({ "created": created })))
}

/// `count` referral bodies, the first to be stored with sequence number `first`.
fn generate(rng: &mut StdRng, count: usize, first: u64, now: Timestamp) -> Vec<Value> {
    let mut bodies = Vec::with_capacity(count);
    while bodies.len() < count {
        let seq = first + bodies.len() as u64;
        let created = before(now, rng.random_range(0..YEAR_SECONDS), rng);
        let roll = rng.random_range(0..10);
        if roll < 2 && bodies.len() + 2 <= count {
            let (ours, microsoft) = co_sell(rng, seq, created, now);
            bodies.push(ours);
            bodies.push(microsoft);
        } else if roll < 8 {
            bodies.push(own(rng, seq, created, now, "Independent"));
        } else {
            bodies.push(incoming(rng, seq, created, now));
        }
    }
    bodies
}

/// `seconds` (and a random fraction) before `now`.
fn before(now: Timestamp, seconds: i64, rng: &mut StdRng) -> Timestamp {
    let nanos = rng.random_range(0..10_000_000) * 100;
    now.checked_sub(SignedDuration::new(seconds, nanos))
        .unwrap_or(now)
}

/// A time between `from` and `now`.
fn between(from: Timestamp, now: Timestamp, rng: &mut StdRng) -> Timestamp {
    let span = now.duration_since(from).as_secs().max(1);
    before(now, rng.random_range(0..span), rng).max(from)
}

/// The partner's own referral: Active/Accepted, or Closed Won or Lost.
fn own(rng: &mut StdRng, seq: u64, created: Timestamp, now: Timestamp, kind: &str) -> Value {
    let updated = between(created, now, rng);
    let (status, substatus) = match rng.random_range(0..10) {
        0..7 => ("Active", "Accepted"),
        7..9 => ("Closed", "Won"),
        _ => ("Closed", "Lost"),
    };
    let closed = (status == "Closed").then_some(updated);
    let mut body = server_fields(
        rng,
        seq,
        (created, updated),
        (status, substatus),
        "Outgoing",
    );
    body["acceptedDateTime"] = json!(time::format(created));
    body["closedDateTime"] = closed.map_or(Value::Null, |t| json!(time::format(t)));
    body["type"] = json!(kind);
    with_content(rng, seq, body)
}

/// A co-sell engagement: the partner's Shared referral and Microsoft's connected one, which
/// waits for Microsoft within its 14 days and is accepted (or closed with the deal) after.
fn co_sell(rng: &mut StdRng, seq: u64, created: Timestamp, now: Timestamp) -> (Value, Value) {
    let mut ours = own(rng, seq, created, now, "Shared");
    ours["target"] = json!([{"type": "SolutionProfile", "id": "SOL-34104-EBB"}]);
    let expires = time::days_after(created, RESPONSE_WINDOW_DAYS);
    let mut theirs = ours.clone();
    let closed = ours["status"] == "Closed";
    let (status, substatus) = match (closed, expires > now) {
        (true, _) => (
            "Closed",
            ours["substatus"].as_str().unwrap_or("Won").to_owned(),
        ),
        (false, true) => ("New", "Pending".to_owned()),
        (false, false) => ("Active", "Accepted".to_owned()),
    };
    let updated = between(created, now, rng);
    theirs["id"] = json!(uuid_from(rng).to_string());
    theirs["eTag"] = json!(format!("\"{}\"", uuid_from(rng)));
    theirs["organizationId"] = json!(MICROSOFT_ORG_ID);
    theirs["organizationName"] = json!("Microsoft");
    theirs["direction"] = json!("Incoming");
    theirs["status"] = json!(status);
    theirs["substatus"] = json!(substatus);
    theirs["updatedDateTime"] = json!(time::format(updated));
    theirs["expirationDateTime"] = json!(time::format(expires));
    theirs["acceptedDateTime"] = if status == "New" {
        Value::Null
    } else {
        json!(time::format(updated))
    };
    theirs["closedDateTime"] = if closed {
        ours["closedDateTime"].clone()
    } else {
        Value::Null
    };
    theirs["target"] = json!([{"type": "BusinessProfileLocation", "id": MICROSOFT_ORG_ID}]);
    (ours, theirs)
}

/// A referral Microsoft shared with the partner: pending within its 14 days; accepted,
/// declined or expired after.
fn incoming(rng: &mut StdRng, seq: u64, created: Timestamp, now: Timestamp) -> Value {
    let expires = time::days_after(created, RESPONSE_WINDOW_DAYS);
    let (status, substatus, answered) = if expires > now {
        ("New", "Pending", None)
    } else {
        match rng.random_range(0..3) {
            0 => ("Active", "Accepted", Some(between(created, expires, rng))),
            1 => ("Closed", "Declined", Some(between(created, expires, rng))),
            _ => ("Closed", "Expired", Some(expires)),
        }
    };
    let updated = between(answered.unwrap_or(created), now, rng);
    let mut body = server_fields(
        rng,
        seq,
        (created, updated),
        (status, substatus),
        "Incoming",
    );
    let at = |wanted: &str| {
        answered
            .filter(|_| status == wanted)
            .map_or(Value::Null, |t| json!(time::format(t)))
    };
    body["acceptedDateTime"] = at("Active");
    body["closedDateTime"] = at("Closed");
    body["expirationDateTime"] = json!(time::format(expires));
    body["type"] = json!("Independent");
    body["inviteContext"] = json!({
        "notes": "Shared by Microsoft",
        "invitedBy": {"organizationId": MICROSOFT_ORG_ID, "organizationName": "Microsoft"},
    });
    with_content(rng, seq, body)
}

fn uuid_from(rng: &mut StdRng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// The fields the server owns.
fn server_fields(
    rng: &mut StdRng,
    seq: u64,
    (created, updated): (Timestamp, Timestamp),
    (status, substatus): (&str, &str),
    direction: &str,
) -> Value {
    json!({
        "id": uuid_from(rng).to_string(),
        "engagementId": uuid_from(rng).to_string(),
        "organizationId": PARTNER_ORG_ID,
        "organizationName": PARTNER_ORG_NAME,
        "externalReferenceId": format!("seed-{seq:06}"),
        "createdDateTime": time::format(created),
        "updatedDateTime": time::format(updated),
        "expirationDateTime": Value::Null,
        "status": status,
        "substatus": substatus,
        "direction": direction,
        "eTag": format!("\"{}\"", uuid_from(rng)),
    })
}

/// The customer, consent and deal a client would have sent.
fn with_content(rng: &mut StdRng, seq: u64, mut body: Value) -> Value {
    let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
    let size = SIZES[rng.random_range(0..SIZES.len())];
    let closing = time::days_after(Timestamp::UNIX_EPOCH, 19_000 + rng.random_range(0..1000));
    let content = json!({
        "name": format!("Seeded opportunity {seq}"),
        "qualification": "SalesQualified",
        "customerProfile": {
            "name": format!("Customer {seq}"),
            "address": {"addressLine1": "1 Main Street", "city": "Springfield",
                "postalCode": "12345", "country": country},
            "size": size,
            "team": [{"firstName": "Pat", "lastName": format!("Buyer{seq}"),
                "email": format!("pat.buyer{seq}@example.com"), "phoneNumber": "5550100"}],
            "ids": [],
        },
        "consent": {"consentToToShareInfoWithOthers": true, "consentToContact": true},
        "details": {
            "notes": "Seeded by the sandbox",
            "dealValue": rng.random_range(1..500) * 1000,
            "currency": "USD",
            "closingDateTime": time::format(closing),
            "requirements": {"industries": [], "products": [], "services": [], "solutions": []},
        },
        "team": [],
        "target": [],
    });
    if let (Value::Object(body), Value::Object(content)) = (&mut body, content) {
        let content: Map<String, Value> = content;
        for (key, value) in content {
            body.entry(key).or_insert(value);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::validate_create;

    #[test]
    fn seeded_referrals_are_valid_deterministic_and_consistent_in_time() {
        let now = Timestamp::now();
        let first = generate(&mut StdRng::seed_from_u64(7), 500, 1, now);
        let again = generate(&mut StdRng::seed_from_u64(7), 500, 1, now);
        assert_eq!(first, again);
        assert_eq!(first.len(), 500);
        let year_ago = time::format(now - SignedDuration::from_hours(24 * 365));
        let now_text = time::format(now);
        for body in &first {
            assert_eq!(validate_create(body), vec![], "{body}");
            let (created, updated) = (&body["createdDateTime"], &body["updatedDateTime"]);
            assert!(created.as_str() >= Some(&year_ago) && updated.as_str() <= Some(&now_text));
            assert!(created.as_str() <= updated.as_str(), "{body}");
            if body["substatus"] == "Pending" {
                assert!(
                    body["expirationDateTime"].as_str() > Some(&now_text),
                    "{body}"
                );
            }
        }
        let kinds = |direction: &str, org: &str| {
            first
                .iter()
                .filter(|b| b["direction"] == direction && b["organizationId"] == org)
                .count()
        };
        assert!(kinds("Outgoing", PARTNER_ORG_ID) > 300);
        assert!(kinds("Incoming", PARTNER_ORG_ID) > 20);
        assert!(kinds("Incoming", MICROSOFT_ORG_ID) > 20);
    }
}
