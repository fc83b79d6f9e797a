//! What changed between the payload last synced and the one the CRM gives now, as the JSON
//! Patch the API accepts (`add` and `replace` only). Whether anything changed at all is the
//! payload hash's to tell (`mapping::fingerprint`).
//!
//! Objects are compared key by key; arrays are replaced whole (the API offers no way to
//! remove an element, and a replaced team or product list is what the CRM says). A field that
//! disappears from the payload is left as it is in Partner Center: the API supports no
//! `remove`.

use serde_json::{Map, Value};

use crate::api::client::PatchOp;
use crate::referral::{FieldError, validate_transition};

/// The patch that brings a referral whose current state is `current` (the payload last
/// synced, or the API's copy) up to the export's `new` payload.
///
/// Status follows the API's rules rather than the CRM's words: an outgoing referral the
/// partner creates as New comes back Active, so a CRM that still says "open" (New, or no
/// status) asks for no status change; a move the status table forbids (a Closed referral
/// re-opened in the CRM) is an error and nothing is sent.
pub fn patch_ops(current: &Value, new: &Value) -> Result<Vec<PatchOp>, FieldError> {
    let mut wanted = new.clone();
    let now = effective_status(current);
    let asked = new.get("status").and_then(Value::as_str);
    match (now, asked) {
        (_, None) | ("Active" | "New", Some("New" | "None")) => {
            if let Some(object) = wanted.as_object_mut() {
                object.remove("status");
                object.remove("substatus");
            }
        }
        (_, Some(status)) => {
            let substatus = new.get("substatus").and_then(Value::as_str);
            let same_now =
                status == now && substatus == current.get("substatus").and_then(Value::as_str);
            if !same_now {
                validate_transition(now, status, substatus)?;
            }
        }
    }
    Ok(diff(current, &wanted))
}

/// The status the API holds for a referral whose known state is `current`: a payload the
/// partner sent as New (or without a status) is Active once created.
fn effective_status(current: &Value) -> &str {
    match current.get("status").and_then(Value::as_str) {
        None | Some("New") | Some("None") if current.get("id").is_none() => "Active",
        Some(status) => status,
        None => "Active",
    }
}

/// The operations that turn `old` into `new`, leaving out what `new` no longer has.
pub fn diff(old: &Value, new: &Value) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => diff_objects(a, b, "", &mut ops),
        _ if !same(old, new) => ops.push(PatchOp::replace(String::new(), new.clone())),
        _ => {}
    }
    ops
}

fn diff_objects(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    base: &str,
    ops: &mut Vec<PatchOp>,
) {
    for (key, new_value) in new {
        let path = format!("{base}/{}", escape(key));
        match old.get(key) {
            None | Some(Value::Null) if new_value.is_null() => {}
            None => ops.push(PatchOp::add(path, new_value.clone())),
            Some(Value::Object(a)) => match new_value {
                Value::Object(b) => diff_objects(a, b, &path, ops),
                _ => ops.push(PatchOp::replace(path, new_value.clone())),
            },
            Some(old_value) if !same(old_value, new_value) => {
                ops.push(PatchOp::replace(path, new_value.clone()))
            }
            Some(_) => {}
        }
    }
}

/// Equal as the API sees it: numbers by value (`50000` = `50000.0` = `"50000"` is not
/// assumed; only numeric values compare across representations).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Escape one JSON Pointer segment (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::payload_hash;
    use serde_json::json;

    #[test]
    fn unchanged_payload_has_no_ops_and_same_hash() {
        let a = json!({"name": "A", "details": {"dealValue": 10}});
        assert!(diff(&a, &a.clone()).is_empty());
        assert_eq!(payload_hash(&a, None), payload_hash(&a.clone(), None));
    }

    #[test]
    fn nested_change_is_one_replace_at_its_path() {
        let a = json!({"name": "A", "details": {"dealValue": 10, "notes": "x"}});
        let b = json!({"name": "A", "details": {"dealValue": 12, "notes": "x"}});
        assert_eq!(
            diff(&a, &b),
            vec![PatchOp::replace("/details/dealValue", json!(12))]
        );
    }

    #[test]
    fn new_key_is_add_removed_key_is_left_alone() {
        let a = json!({"name": "A", "statusReason": "r"});
        let b = json!({"name": "A", "details": {"notes": "n"}});
        assert_eq!(
            diff(&a, &b),
            vec![PatchOp::add("/details", json!({"notes": "n"}))]
        );
    }

    #[test]
    fn arrays_are_replaced_whole_and_keys_escaped() {
        let a = json!({"team": [{"email": "a@x.com"}], "a/b~c": 1});
        let b = json!({"team": [{"email": "b@x.com"}], "a/b~c": 2});
        let ops = diff(&a, &b);
        assert_eq!(ops[0].path, "/team");
        assert_eq!(ops[1].path, "/a~1b~0c");
    }

    #[test]
    fn open_crm_status_asks_no_change_of_an_active_referral() {
        let sent = json!({"status": "New", "substatus": "Pending", "name": "A"});
        let now = json!({"status": "New", "substatus": "Pending", "name": "B"});
        let ops = patch_ops(&sent, &now).unwrap();
        assert_eq!(ops, vec![PatchOp::replace("/name", json!("B"))]);
    }

    #[test]
    fn closing_won_is_a_status_and_substatus_replace() {
        let sent = json!({"name": "A"});
        let now = json!({"name": "A", "status": "Closed", "substatus": "Won"});
        let ops = patch_ops(&sent, &now).unwrap();
        assert_eq!(
            ops,
            vec![
                PatchOp::add("/status", json!("Closed")),
                PatchOp::add("/substatus", json!("Won"))
            ]
        );
    }

    #[test]
    fn reopening_a_closed_referral_is_refused() {
        let api = json!({"id": "x", "status": "Closed", "substatus": "Won"});
        let now = json!({"status": "Active", "substatus": "Accepted"});
        assert!(patch_ops(&api, &now).is_err());
    }

    #[test]
    fn reopening_in_the_crm_a_referral_closed_in_partner_center_is_refused() {
        let api = json!({"id": "x", "status": "Closed", "substatus": "Lost"});
        let now = json!({"status": "New", "substatus": "Pending"});
        assert!(patch_ops(&api, &now).is_err());
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(diff(&json!({"v": 50000}), &json!({"v": 50000.0})).is_empty());
    }

    #[test]
    fn connected_payload_changes_the_hash() {
        let a = json!({"name": "A"});
        assert_ne!(
            payload_hash(&a, None),
            payload_hash(&a, Some(&json!({"x": 1})))
        );
    }
}
