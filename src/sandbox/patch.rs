//! JSON Patch (RFC 6902) as the Referrals API takes it, and the type coercion it implies.
//!
//! Only `add` and `replace` are supported (spec §4.5, the swagger's `UpdateReferralDetails`);
//! `remove`, `move`, `copy` and `test` are a 400. A pointer must be valid RFC 6901 (a leading
//! `/`, `~` only as `~0` or `~1`) and one of the contract's patchable paths
//! ([`contract::PATCHABLE`], matched without regard to case and written in its canonical
//! spelling); server-owned fields (`id`, `eTag`, …) are named as such. Every operation needs
//! its parent in the document; `replace` of a missing member is allowed only for a property
//! of the contract, which the service holds as `null` when unset (Partner Center documents
//! `replace /details/notes` without saying the member must exist). Numbers and booleans
//! arrive as strings in the docs' own examples (`"dealValue": "10000"`), so `coerce` turns
//! them into their wire types.

use serde_json::{Map, Value};

use crate::referral::contract::{self, NOT_PATCHABLE_REASON, PROPERTIES};
use crate::referral::{FieldError, coerce_to_contract};

/// Whether `name` is a top-level field the server owns (compared without regard to case).
pub fn is_server_owned(name: &str) -> bool {
    contract::server_owned().any(|f| f.eq_ignore_ascii_case(name))
}

/// One parsed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub replace: bool,
    pub path: Vec<String>,
    pub pointer: String,
    pub value: Value,
}

/// Parse a patch document, naming every bad operation (`[1].op`, `[2].path`, …).
pub fn parse(doc: &Value) -> Result<Vec<Op>, Vec<FieldError>> {
    let Some(items) = doc.as_array() else {
        return Err(vec![error(
            "body",
            "a JSON Patch must be an array of operations",
        )]);
    };
    if items.is_empty() {
        return Err(vec![error("body", "the patch has no operations")]);
    }
    let mut ops = Vec::new();
    let mut errors = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match parse_op(item) {
            Ok(op) => ops.push(op),
            Err((field, message)) => errors.push(error(&format!("[{index}]{field}"), &message)),
        }
    }
    if errors.is_empty() {
        Ok(ops)
    } else {
        Err(errors)
    }
}

fn parse_op(item: &Value) -> Result<Op, (&'static str, String)> {
    let object = item
        .as_object()
        .ok_or(("", "an operation must be an object".to_string()))?;
    let replace = match object.get("op").and_then(Value::as_str) {
        Some("replace") => true,
        Some("add") => false,
        Some(other @ ("remove" | "move" | "copy" | "test")) => {
            return Err((
                ".op",
                format!("{other:?} is not supported; use add or replace"),
            ));
        }
        Some(other) => return Err((".op", format!("{other:?} is not a JSON Patch operation"))),
        None => return Err((".op", "is required".to_string())),
    };
    let pointer = object
        .get("path")
        .and_then(Value::as_str)
        .ok_or((".path", "is required and must be a string".to_string()))?;
    let path = split_pointer(pointer).ok_or((
        ".path",
        format!(
            "{pointer:?} is not a JSON pointer (RFC 6901: a leading \"/\", \"~\" only as ~0 or ~1)"
        ),
    ))?;
    let Some(first) = path.first() else {
        return Err((
            ".path",
            "the whole document cannot be replaced; use PUT".to_string(),
        ));
    };
    if is_server_owned(first) {
        return Err((".path", format!("{pointer} is set by the server")));
    }
    let Some(canonical) = contract::patchable(pointer) else {
        return Err((".path", format!("{pointer}: {NOT_PATCHABLE_REASON}")));
    };
    let path = split_pointer(canonical).unwrap_or(path);
    let value = object
        .get("value")
        .cloned()
        .ok_or((".value", "is required".to_string()))?;
    Ok(Op {
        replace,
        path,
        pointer: canonical.to_string(),
        value,
    })
}

/// RFC 6901: `/a/b~1c` → `["a", "b/c"]`; `None` without the leading `/` or with a `~` that
/// is not `~0` or `~1`.
fn split_pointer(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').map(unescape).collect()
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// Apply the operations in order to `doc`; the first one that cannot apply is the error.
pub fn apply(doc: &mut Value, ops: &[Op]) -> Result<(), FieldError> {
    for op in ops {
        apply_one(doc, op).map_err(|message| error(&op.pointer, &message))?;
    }
    Ok(())
}

fn apply_one(doc: &mut Value, op: &Op) -> Result<(), String> {
    let Some((last, parents)) = op.path.split_last() else {
        return Err("the whole document cannot be replaced".into());
    };
    let mut target = doc;
    for token in parents {
        target = match target {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("{token:?} does not exist"))?;
    }
    match target {
        Value::Object(map) => {
            if op.replace && !map.contains_key(last) && !in_contract(&op.path) {
                return Err(format!("{last:?} is not in the referral"));
            }
            map.insert(last.clone(), op.value.clone());
            Ok(())
        }
        Value::Array(items) => apply_to_array(items, last, op),
        _ => Err("the parent is neither an object nor an array".into()),
    }
}

/// Whether the member at `path` is a property of the contract (array indices read as `[]`).
fn in_contract(path: &[String]) -> bool {
    let pattern = path
        .iter()
        .map(|token| {
            if token.parse::<usize>().is_ok() {
                "[]"
            } else {
                token.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    contract::property(&pattern).is_some()
}

fn apply_to_array(items: &mut Vec<Value>, last: &str, op: &Op) -> Result<(), String> {
    if last == "-" {
        if op.replace {
            return Err("replace cannot target the end of an array (`-`)".into());
        }
        items.push(op.value.clone());
        return Ok(());
    }
    let index: usize = last
        .parse()
        .map_err(|_| format!("{last:?} is not an array index"))?;
    if op.replace {
        let slot = items
            .get_mut(index)
            .ok_or_else(|| format!("index {index} is past the end of the array"))?;
        *slot = op.value.clone();
    } else if index <= items.len() {
        items.insert(index, op.value.clone());
    } else {
        return Err(format!("index {index} is past the end of the array"));
    }
    Ok(())
}

/// Top-level fields the docs have and the swagger lacks (the co-sell fields of the current
/// create contract, see `referral::sales_taxonomy`).
const EXTRA_TOP_LEVEL: [&str; 4] = [
    "partnerRole",
    "solutionArea",
    "solutionPlay",
    "customerMarketplaceIntent",
];

/// Spell top-level field names as the wire does (`ExternalReferenceId` →
/// `externalReferenceId`): the service binds names without regard to case (spec §5), and the
/// filters, the duplicate count and the validation look for the camelCase names. When both
/// spellings are sent, the camelCase one wins.
pub fn normalize_keys(payload: Map<String, Value>) -> Map<String, Value> {
    let mut normalized = Map::new();
    let mut renamed = Vec::new();
    for (key, value) in payload {
        let canonical = PROPERTIES
            .iter()
            .map(|p| p.path)
            .chain(EXTRA_TOP_LEVEL)
            .filter(|name| !name.contains('/'))
            .find(|f| f.eq_ignore_ascii_case(&key));
        match canonical {
            Some(name) if name != key => renamed.push((name.to_string(), value)),
            _ => {
                normalized.insert(key, value);
            }
        }
    }
    for (key, value) in renamed {
        normalized.entry(key).or_insert(value);
    }
    normalized
}

/// Turn strings that stand for numbers or booleans into them, at the paths where the contract
/// has numbers or booleans. A string that is neither stays, for validation to name.
pub fn coerce(doc: &mut Value) {
    coerce_to_contract(doc);
}

fn error(path: &str, message: &str) -> FieldError {
    FieldError {
        path: path.to_string(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_examples_apply() -> Result<(), Box<dyn std::error::Error>> {
        let mut doc = json!({"details": {"dealValue": 1}, "team": [], "status": "Active"});
        let patch = json!([
            {"op": "replace", "path": "/details/dealValue", "value": "10000"},
            {"op": "replace", "path": "/details/notes", "value": "Lorem ipsum"},
            {"op": "add", "path": "/team/-", "value": {"email": "jane.doe@contoso.com"}},
        ]);
        let ops = parse(&patch).map_err(|e| format!("{e:?}"))?;
        apply(&mut doc, &ops).map_err(|e| e.to_string())?;
        coerce(&mut doc);
        assert_eq!(doc["details"]["dealValue"], json!(10000));
        assert_eq!(doc["details"]["notes"], json!("Lorem ipsum"));
        assert_eq!(doc["team"][0]["email"], json!("jane.doe@contoso.com"));
        Ok(())
    }

    #[test]
    fn unsupported_and_server_owned_operations_are_named() {
        let patch = json!([
            {"op": "remove", "path": "/name"},
            {"op": "replace", "path": "/eTag", "value": "x"},
            {"op": "add", "path": "name", "value": "x"},
            {"op": "add", "path": "/details/notes"},
            "junk",
        ]);
        let errors = parse(&patch).err().unwrap_or_default();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["[0].op", "[1].path", "[2].path", "[3].value", "[4]"]
        );
    }

    #[test]
    fn field_names_are_bound_without_regard_to_case() {
        let payload = json!({"ExternalReferenceId": "A", "TYPE": "Shared", "type": "Independent",
            "Custom": 1});
        let Value::Object(map) = payload else { return };
        let normalized = normalize_keys(map);
        assert_eq!(normalized.get("externalReferenceId"), Some(&json!("A")));
        assert_eq!(normalized.get("type"), Some(&json!("Independent")));
        assert_eq!(normalized.get("Custom"), Some(&json!(1)));
        assert!(!normalized.contains_key("TYPE"));
    }

    #[test]
    fn missing_parents_and_bad_indexes_fail() {
        let mut doc = json!({"team": [1]});
        for pointer in ["/details/notes", "/team/5", "/team/x"] {
            let op = Op {
                replace: true,
                path: split_pointer(pointer).unwrap_or_default(),
                pointer: pointer.into(),
                value: json!(1),
            };
            assert!(apply(&mut doc, &[op]).is_err(), "{pointer} applied");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_pointer_and_op_apply_or_fail_without_panicking(
            op in "(add|replace|remove|x)",
            pointer in "(/[a-z0-9~\\-]{0,6}){0,4}",
        ) {
            let mut doc = json!({"team": [1, 2], "details": {"dealValue": "5"}, "a": {"b": []}});
            let patch = json!([{"op": op, "path": pointer, "value": "10"}]);
            if let Ok(ops) = parse(&patch) {
                let _ = apply(&mut doc, &ops);
                coerce(&mut doc);
            }
        }
    }
}
