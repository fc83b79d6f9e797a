//! The mirror's tables in the ledger: a listed referral is stored once per eTag, rows stay
//! undelivered until a delivery is recorded, the watermark never moves back, and two APIs'
//! mirrors never meet.

use referral_sync::ledger::{Delivered, Ledger};
use serde_json::{Value, json};

const API: &str = "https://api.example";

fn referral(id: &str, etag: &str, updated: &str, status: &str) -> Value {
    json!({
        "id": id, "eTag": etag, "updatedDateTime": updated, "status": status,
        "substatus": "Pending", "direction": "Outgoing", "engagementId": format!("e-{id}"),
        "externalReferenceId": format!("CRM-{id}"),
        "trackingInfo": {"microsoftMsxId": "7-MSX"}
    })
}

fn fresh() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = Ledger::open(dir.path().join("ledger.db")).expect("ledger");
    (dir, ledger)
}

fn delivered(ledger: &Ledger, api: &str) -> Vec<Delivered> {
    ledger
        .mirror_undelivered(api)
        .expect("undelivered")
        .into_iter()
        .map(|row| Delivered {
            referral_id: row.referral_id,
            etag: row.etag,
            json: row.json,
        })
        .collect()
}

#[test]
fn a_listed_referral_is_stored_once_per_etag_and_delivered_once() {
    let (_dir, mut ledger) = fresh();
    let first = [
        referral("a", "1", "2026-01-01T10:00:00Z", "New"),
        referral("b", "1", "2026-01-01T11:00:00Z", "New"),
    ];
    let stored = ledger.mirror_store(API, &first, None, true).expect("store");
    assert_eq!((stored.changed, stored.unchanged), (2, 0));
    let row = ledger.mirror_get(API, "a").expect("get").expect("row a");
    assert_eq!(row.external_id.as_deref(), Some("CRM-a"));
    assert_eq!(row.microsoft_msx_id.as_deref(), Some("7-MSX"));
    assert_eq!(row.engagement_id.as_deref(), Some("e-a"));
    assert_eq!(ledger.mirror_undelivered(API).expect("rows").len(), 2);

    let marks = delivered(&ledger, API);
    ledger.mirror_mark_delivered(API, &marks).expect("mark");
    assert!(ledger.mirror_undelivered(API).expect("rows").is_empty());

    // Listed again: same eTag, nothing to store; a new eTag is stored and undelivered.
    let again = [
        referral("a", "1", "2026-01-01T10:00:00Z", "New"),
        referral("b", "2", "2026-01-02T09:00:00Z", "Active"),
    ];
    let stored = ledger
        .mirror_store(API, &again, None, false)
        .expect("store");
    assert_eq!((stored.changed, stored.unchanged), (1, 1));
    let undelivered = ledger.mirror_undelivered(API).expect("rows");
    assert_eq!(undelivered.len(), 1);
    assert_eq!(undelivered[0].referral_id, "b");
    assert_eq!(undelivered[0].status.as_deref(), Some("Active"));
    assert_eq!(
        undelivered[0]
            .delivered_json
            .as_ref()
            .map(|j| j["status"].clone()),
        Some(json!("New"))
    );
}

#[test]
fn the_watermark_only_moves_forward_and_records_full_listings() {
    let (_dir, mut ledger) = fresh();
    assert_eq!(
        ledger.mirror_watermark(API).expect("mark").updated_through,
        None
    );
    let late = "2026-03-01T00:00:00Z".parse().expect("time");
    let early = "2026-02-01T00:00:00Z".parse().expect("time");
    ledger
        .mirror_store(API, &[], Some(late), false)
        .expect("store");
    let mark = ledger.mirror_watermark(API).expect("mark");
    assert_eq!(mark.updated_through, Some(late));
    assert_eq!(mark.full_listing_at, None);
    ledger
        .mirror_store(API, &[], Some(early), true)
        .expect("store");
    let mark = ledger.mirror_watermark(API).expect("mark");
    assert_eq!(mark.updated_through, Some(late));
    assert!(mark.full_listing_at.is_some());
    // Another API has its own watermark and rows.
    assert_eq!(
        ledger
            .mirror_watermark("sandbox")
            .expect("mark")
            .updated_through,
        None
    );
    ledger
        .mirror_store(
            "sandbox",
            &[referral("a", "9", "2026-01-01T00:00:00Z", "New")],
            None,
            true,
        )
        .expect("store");
    assert!(ledger.mirror_undelivered(API).expect("rows").is_empty());
    assert_eq!(ledger.mirror_undelivered("sandbox").expect("rows").len(), 1);
}

#[test]
fn a_delivery_records_what_the_file_carried_not_what_came_later() {
    let (_dir, mut ledger) = fresh();
    ledger
        .mirror_store(
            API,
            &[referral("a", "1", "2026-01-01T00:00:00Z", "New")],
            None,
            true,
        )
        .expect("store");
    let carried = delivered(&ledger, API);
    // A newer version arrives before the delivery is recorded.
    ledger
        .mirror_store(
            API,
            &[referral("a", "2", "2026-01-02T00:00:00Z", "Active")],
            None,
            false,
        )
        .expect("store");
    ledger.mirror_mark_delivered(API, &carried).expect("mark");
    let undelivered = ledger.mirror_undelivered(API).expect("rows");
    assert_eq!(
        undelivered.len(),
        1,
        "the newer version is still to deliver"
    );
    assert_eq!(undelivered[0].delivered_etag.as_deref(), Some("1"));
}

#[test]
fn a_referral_without_an_etag_is_compared_by_its_json() {
    let (_dir, mut ledger) = fresh();
    let plain = json!({"id": "x", "status": "New"});
    ledger
        .mirror_store(API, std::slice::from_ref(&plain), None, true)
        .expect("store");
    let marks = delivered(&ledger, API);
    ledger.mirror_mark_delivered(API, &marks).expect("mark");
    let same = ledger
        .mirror_store(API, &[plain], None, false)
        .expect("store");
    assert_eq!(same.changed, 0);
    let other = json!({"id": "x", "status": "Active"});
    let stored = ledger.mirror_store(API, &[other, json!({"no": "id"})], None, false);
    assert_eq!(stored.expect("store").changed, 1);
    assert_eq!(ledger.mirror_undelivered(API).expect("rows").len(), 1);
}
