//! The pull record: one delivered referral as a JSON value, the referral exactly as the API
//! returned it plus a top-level `"sync"` object with what a CRM needs beside it: what changed
//! since the last delivery, the connected Microsoft referral's status, Microsoft's CRM id, the
//! days left to answer an inbound referral, and the CRM record id.
//!
//! The columns of a pull file are read from this value (paths such as `status` or
//! `sync.changed`), so a mapping's `[pull]` section can name any of them.

use std::collections::{BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::ledger::MirrorRow;

/// Top-level fields that change with every write: they are only named in `changed` when
/// nothing else changed.
const VOLATILE: [&str; 2] = ["eTag", "updatedDateTime"];

/// What the records of one pull are built from besides their own row.
#[derive(Debug)]
pub struct Context {
    /// Mirror rows by engagementId (co-sell engagements have two or more).
    engagements: HashMap<String, Vec<MirrorRow>>,
    /// The ledger's CRM record id of each referral it created (or connected).
    records: HashMap<String, String>,
    now: Timestamp,
}

impl Context {
    /// `engaged`: the mirror's rows with an engagementId; `records`: referral id → the CRM
    /// record id; `now`: the moment days left are counted from.
    pub fn new(engaged: Vec<MirrorRow>, records: HashMap<String, String>, now: Timestamp) -> Self {
        let mut engagements: HashMap<String, Vec<MirrorRow>> = HashMap::new();
        for row in engaged {
            if let Some(engagement) = row.engagement_id.clone() {
                engagements.entry(engagement).or_default().push(row);
            }
        }
        Context {
            engagements,
            records,
            now,
        }
    }

    /// Whether `row` is a referral shared with the partner that the CRM does not know yet:
    /// Incoming, not the connected referral the partner made for Microsoft (that one is Incoming
    /// too, but it is the CRM's own deal), and neither it nor the other side of its engagement
    /// is the referral of a ledger record. An externalReferenceId alone does not make it known:
    /// the sharer may set one.
    pub fn is_inbound(&self, row: &MirrorRow) -> bool {
        let known = |r: &MirrorRow| self.records.contains_key(&r.referral_id);
        row.direction.as_deref() == Some("Incoming")
            && !targets_microsoft(&row.json)
            && !known(row)
            && !self.connected(row).is_some_and(known)
    }

    /// The other side of a co-sell engagement: the referral made for (or by) Microsoft when
    /// there is one, else any other referral of the engagement.
    fn connected(&self, row: &MirrorRow) -> Option<&MirrorRow> {
        let peers = self.engagements.get(row.engagement_id.as_deref()?)?;
        let others = || peers.iter().filter(|p| p.referral_id != row.referral_id);
        others()
            .find(|p| is_microsofts(&p.json))
            .or_else(|| others().next())
    }
}

/// The pull record of `row`.
pub fn build(row: &MirrorRow, context: &Context) -> Value {
    let connected = context.connected(row);
    let text = |json: &Value, path: &[&str]| -> Option<String> {
        path.iter()
            .try_fold(json, |value, key| value.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let msx = |json: &Value| text(json, &["trackingInfo", "microsoftMsxId"]);
    let microsoft_crm_id = msx(&row.json).or_else(|| connected.and_then(|c| msx(&c.json)));
    let record_id = row
        .external_id
        .clone()
        .or_else(|| context.records.get(&row.referral_id).cloned())
        .or_else(|| connected.and_then(|c| c.external_id.clone()));
    let mut sync = Map::new();
    sync.insert(
        "changed".into(),
        changed(row.delivered_json.as_ref(), &row.json).into(),
    );
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            sync.insert(key.into(), value);
        }
    };
    put(
        "connectedStatus",
        connected.and_then(|c| c.status.clone()).map(Value::from),
    );
    put(
        "connectedSubstatus",
        connected.and_then(|c| c.substatus.clone()).map(Value::from),
    );
    put("microsoftCrmId", microsoft_crm_id.map(Value::from));
    if context.is_inbound(row) {
        put("daysLeft", days_left(row, context.now).map(Value::from));
    }
    put("recordId", record_id.map(Value::from));
    let mut record = row.json.clone();
    if let Some(object) = record.as_object_mut() {
        object.insert("sync".into(), Value::Object(sync));
    } else {
        record = json!({ "referral": record, "sync": sync });
    }
    record
}

/// Whether the referral is Microsoft's side of an engagement: it targets Microsoft's
/// BusinessProfileLocation (the connected referral the partner made), or Microsoft invited the
/// partner to it.
fn is_microsofts(json: &Value) -> bool {
    let invited = json
        .pointer("/inviteContext/invitedBy/organizationId")
        .and_then(Value::as_str)
        == Some("msft");
    targets_microsoft(json) || invited
}

/// Whether the referral targets Microsoft's BusinessProfileLocation: the connected referral
/// of a co-sell engagement the partner made.
fn targets_microsoft(json: &Value) -> bool {
    json.get("target")
        .and_then(Value::as_array)
        .is_some_and(|targets| {
            targets
                .iter()
                .any(|t| t.get("id").and_then(Value::as_str) == Some("msft"))
        })
}

/// Whole days left to answer an inbound New/Pending referral before it expires (0 once
/// past), counted from `now`.
fn days_left(row: &MirrorRow, now: Timestamp) -> Option<i64> {
    let pending =
        row.status.as_deref() == Some("New") && row.substatus.as_deref() == Some("Pending");
    if !pending {
        return None;
    }
    let expires: Timestamp = row
        .json
        .get("expirationDateTime")
        .and_then(Value::as_str)?
        .parse()
        .ok()?;
    let left = expires.duration_since(now);
    Some((left.as_secs() / SignedDuration::from_hours(24).as_secs()).max(0))
}

/// `new` on first delivery; otherwise the paths of the fields that differ (`a.b` for nested
/// fields, an array as a whole), joined by `;`. The eTag and updatedDateTime are named only
/// when nothing else changed.
pub fn changed(delivered: Option<&Value>, current: &Value) -> String {
    let Some(delivered) = delivered else {
        return "new".into();
    };
    let mut paths = BTreeSet::new();
    differ("", delivered, current, &mut paths);
    let meaningful: Vec<&str> = paths
        .iter()
        .map(String::as_str)
        .filter(|p| !VOLATILE.contains(p))
        .collect();
    match meaningful.is_empty() {
        true => paths.into_iter().collect::<Vec<_>>().join(";"),
        false => meaningful.join(";"),
    }
}

/// Collect into `out` the paths under `prefix` where `old` and `new` differ. An object that
/// appears or goes (from or to null or nothing) names its fields.
fn differ(prefix: &str, old: &Value, new: &Value, out: &mut BTreeSet<String>) {
    let empty = Value::Object(Map::new());
    let (old, new) = match (old, new) {
        (Value::Null, Value::Object(_)) => (&empty, new),
        (Value::Object(_), Value::Null) => (old, &empty),
        _ => (old, new),
    };
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                let path = match prefix.is_empty() {
                    true => key.clone(),
                    false => format!("{prefix}.{key}"),
                };
                let missing = Value::Null;
                let (a, b) = (old.get(key), new.get(key));
                if a != b {
                    differ(&path, a.unwrap_or(&missing), b.unwrap_or(&missing), out);
                }
            }
        }
        _ if old != new => {
            out.insert(prefix.to_owned());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_names_nested_paths_and_leaves_out_the_volatile_ones() {
        let old =
            json!({"status": "New", "eTag": "1", "details": {"dealValue": 1, "currency": "USD"}});
        let new = json!({"status": "Active", "eTag": "2", "details": {"dealValue": 2, "currency": "USD"}});
        assert_eq!(changed(Some(&old), &new), "details.dealValue;status");
        assert_eq!(changed(None, &new), "new");
        let touched =
            json!({"status": "New", "eTag": "3", "details": {"dealValue": 1, "currency": "USD"}});
        assert_eq!(changed(Some(&old), &touched), "eTag");
    }

    #[test]
    fn a_field_that_appears_or_goes_is_a_change() {
        let old = json!({"trackingInfo": null});
        let new = json!({"trackingInfo": {"microsoftMsxId": "7-ABC"}, "statusReason": "x"});
        assert_eq!(
            changed(Some(&old), &new),
            "statusReason;trackingInfo.microsoftMsxId"
        );
    }

    fn row(id: &str, json: Value) -> MirrorRow {
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_owned);
        MirrorRow {
            referral_id: id.into(),
            engagement_id: text("engagementId"),
            external_id: text("externalReferenceId"),
            direction: text("direction"),
            status: text("status"),
            substatus: text("substatus"),
            status_reason: None,
            etag: text("eTag"),
            updated_date_time: None,
            microsoft_msx_id: None,
            json,
            delivered_etag: None,
            delivered_json: None,
        }
    }

    #[test]
    fn a_co_sell_record_carries_microsofts_side() {
        let ours = row(
            "r1",
            json!({"id": "r1", "engagementId": "e", "direction": "Outgoing", "status": "New"}),
        );
        let theirs = row(
            "r2",
            json!({"id": "r2", "engagementId": "e", "status": "Active", "substatus": "Accepted",
                   "target": [{"type": "BusinessProfileLocation", "id": "msft"}],
                   "trackingInfo": {"microsoftMsxId": "7-MSX"}}),
        );
        let records = HashMap::from([("r1".to_owned(), "CRM-1".to_owned())]);
        let context = Context::new(vec![ours.clone(), theirs], records, Timestamp::now());
        let record = build(&ours, &context);
        assert_eq!(record["sync"]["connectedStatus"], "Active");
        assert_eq!(record["sync"]["connectedSubstatus"], "Accepted");
        assert_eq!(record["sync"]["microsoftCrmId"], "7-MSX");
        assert_eq!(record["sync"]["recordId"], "CRM-1");
        assert_eq!(record["sync"]["changed"], "new");
        assert_eq!(record["id"], "r1");
    }

    #[test]
    fn days_left_counts_whole_days_of_a_pending_inbound_referral() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let inbound = row(
            "i",
            json!({"direction": "Incoming", "status": "New", "substatus": "Pending",
                   "expirationDateTime": "2026-01-14T12:00:00Z"}),
        );
        assert_eq!(days_left(&inbound, now), Some(13));
        let late: Timestamp = "2026-02-01T00:00:00Z".parse().expect("time");
        assert_eq!(days_left(&inbound, late), Some(0));
        let accepted = row(
            "a",
            json!({"direction": "Incoming", "status": "Active", "substatus": "Accepted",
                   "expirationDateTime": "2026-01-14T12:00:00Z"}),
        );
        assert_eq!(days_left(&accepted, now), None);
    }
}
