//! What changed between the payload last synced and the one the CRM gives now, as the JSON
//! Patch the API accepts (`add` and `replace` only), and the hash that tells whether anything
//! changed at all.
//!
//! Objects are compared key by key; arrays are replaced whole (the API offers no way to
//! remove an element, and a replaced team or product list is what the CRM says). A field that
//! disappears from the payload is left as it is in Partner Center: the API supports no
//! `remove`.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One JSON Patch operation as the Referrals API takes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PatchOp {
    pub op: &'static str,
    pub path: String,
    pub value: Value,
}

/// The hash of what is sent for one record: the referral payload and, for a shared referral,
/// the connected Microsoft referral's payload. Mapping output is deterministic (stable key
/// order), so equal hashes mean nothing changed.
pub fn payload_hash(referral: &Value, connected: Option<&Value>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(referral.to_string().as_bytes());
    if let Some(connected) = connected {
        hasher.update(b"\n");
        hasher.update(connected.to_string().as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The operations that turn `old` into `new`, leaving out what `new` no longer has.
pub fn diff(old: &Value, new: &Value) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => diff_objects(a, b, "", &mut ops),
        _ if old != new => ops.push(PatchOp {
            op: "replace",
            path: String::new(),
            value: new.clone(),
        }),
        _ => {}
    }
    ops
}

fn diff_objects(old: &Map<String, Value>, new: &Map<String, Value>, base: &str, ops: &mut Vec<PatchOp>) {
    for (key, new_value) in new {
        let path = format!("{base}/{}", escape(key));
        match old.get(key) {
            None | Some(Value::Null) if new_value.is_null() => {}
            None => ops.push(PatchOp {
                op: "add",
                path,
                value: new_value.clone(),
            }),
            Some(Value::Object(a)) => match new_value {
                Value::Object(b) => diff_objects(a, b, &path, ops),
                _ => ops.push(replace(path, new_value)),
            },
            Some(old_value) if old_value != new_value => ops.push(replace(path, new_value)),
            Some(_) => {}
        }
    }
}

fn replace(path: String, value: &Value) -> PatchOp {
    PatchOp {
        op: "replace",
        path,
        value: value.clone(),
    }
}

/// Escape one JSON Pointer segment (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
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
            vec![PatchOp { op: "replace", path: "/details/dealValue".into(), value: json!(12) }]
        );
    }

    #[test]
    fn new_key_is_add_removed_key_is_left_alone() {
        let a = json!({"name": "A", "statusReason": "r"});
        let b = json!({"name": "A", "details": {"notes": "n"}});
        assert_eq!(
            diff(&a, &b),
            vec![PatchOp { op: "add", path: "/details".into(), value: json!({"notes": "n"}) }]
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
    fn connected_payload_changes_the_hash() {
        let a = json!({"name": "A"});
        assert_ne!(payload_hash(&a, None), payload_hash(&a, Some(&json!({"x": 1}))));
    }
}
