//! A referral held to the contract table in `contract.rs`: every property the swagger types
//! is checked for its JSON type, its `enum` and (date-times) its format, wherever it sits;
//! strings that stand for the numbers and booleans of the contract are turned into them,
//! as the docs' own examples send them (`"dealValue": "10000"`).
//!
//! `null` is accepted everywhere: the service answers `null` for every unset property, so a
//! document taken from a GET and sent back holds them. Properties the table does not know are
//! left alone, and server-owned ones are skipped (the callers drop them).

use serde_json::{Map, Number, Value};

use super::FieldError;
use super::check::kind;
use super::contract::{Owner, Type, property};

/// Every problem of `doc` against the contract, each at its JSON path
/// (`details.requirements.industries[0].id`).
pub fn check_contract(doc: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Value::Object(map) = doc {
        walk_object(map, "", "", &mut errors);
    }
    errors
}

fn walk_object(map: &Map<String, Value>, pattern: &str, at: &str, errors: &mut Vec<FieldError>) {
    for (key, value) in map {
        let pattern = join(pattern, '/', key);
        let at = join(at, '.', key);
        walk(value, &pattern, &at, errors);
    }
}

fn walk(value: &Value, pattern: &str, at: &str, errors: &mut Vec<FieldError>) {
    let Some(property) = property(pattern) else {
        return;
    };
    if property.owner == Owner::Server || value.is_null() {
        return;
    }
    if let Err(message) = conforms(value, property.kind, property.values) {
        errors.push(FieldError {
            path: at.to_owned(),
            message,
        });
        return;
    }
    match value {
        Value::Object(map) => walk_object(map, pattern, at, errors),
        Value::Array(items) => {
            let items_pattern = format!("{pattern}/[]");
            for (index, item) in items.iter().enumerate() {
                walk(item, &items_pattern, &format!("{at}[{index}]"), errors);
            }
        }
        _ => {}
    }
}

/// Whether `value` has the contract's type (and one of its values, when it lists them).
fn conforms(value: &Value, expected: Type, values: &[&str]) -> Result<(), String> {
    let fits = match expected {
        Type::Text | Type::DateTime => value.is_string(),
        Type::Boolean => value.is_boolean(),
        Type::Number => value.is_number(),
        Type::Object => value.is_object(),
        Type::Array => value.is_array(),
        Type::Any => true,
    };
    if !fits {
        return Err(format!("expected {}, got {}", name(expected), kind(value)));
    }
    let text = value.as_str().unwrap_or_default();
    if !values.is_empty() && !values.contains(&text) {
        return Err(format!(
            "expected one of {}, got {text:?}",
            values.join(", ")
        ));
    }
    if expected == Type::DateTime && text.parse::<jiff::Timestamp>().is_err() {
        return Err(format!(
            "expected an ISO-8601 date-time with an offset (e.g. 2018-11-14T00:00:00Z), got {text:?}"
        ));
    }
    Ok(())
}

fn name(expected: Type) -> &'static str {
    match expected {
        Type::Text => "a string",
        Type::DateTime => "a date-time string",
        Type::Boolean => "a boolean",
        Type::Number => "a number",
        Type::Object => "an object",
        Type::Array => "an array",
        Type::Any => "any value",
    }
}

/// Turn strings that stand for a number or a boolean into one, wherever the contract has a
/// number or a boolean. A string that is neither stays, for [`check_contract`] to name.
pub fn coerce_to_contract(doc: &mut Value) {
    coerce(doc, "");
}

fn coerce(value: &mut Value, pattern: &str) {
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                let pattern = join(pattern, '/', key);
                match property(&pattern).map(|p| (p.kind, p.owner)) {
                    Some((_, Owner::Server)) | None => {}
                    Some((Type::Number, _)) => coerce_number(member),
                    Some((Type::Boolean, _)) => coerce_bool(member),
                    Some(_) => coerce(member, &pattern),
                }
            }
        }
        Value::Array(items) => {
            let items_pattern = format!("{pattern}/[]");
            for item in items {
                coerce(item, &items_pattern);
            }
        }
        _ => {}
    }
}

fn coerce_number(value: &mut Value) {
    let Value::String(text) = value else {
        return;
    };
    let text = text.trim();
    let number = if let Ok(int) = text.parse::<i64>() {
        Some(Number::from(int))
    } else {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    };
    if let Some(number) = number {
        *value = Value::Number(number);
    }
}

fn coerce_bool(value: &mut Value) {
    let parsed = match value {
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => true,
        Value::String(text) if text.trim().eq_ignore_ascii_case("false") => false,
        _ => return,
    };
    *value = Value::Bool(parsed);
}

fn join(base: &str, separator: char, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}{separator}{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(doc: &Value) -> Vec<String> {
        let mut paths: Vec<String> = check_contract(doc).into_iter().map(|e| e.path).collect();
        paths.sort();
        paths
    }

    #[test]
    fn wrong_types_and_values_are_named_at_their_paths() {
        let doc = json!({
            "favorite": "notbool",
            "campaignId": 12345,
            "salesStage": "Won",
            "details": {"customerRequestedContact": 1, "requirements": {"industries": [{"id": 7}]}},
            "team": [{"email": "a@b.example"}, {"contactPreference": {"locale": false}}],
            "inviteContext": {"assistanceRequestCode": "Help"},
            "registrations": "notarray",
            "somethingElse": 5,
        });
        assert_eq!(
            paths(&doc),
            [
                "campaignId",
                "details.customerRequestedContact",
                "details.requirements.industries[0].id",
                "favorite",
                "inviteContext.assistanceRequestCode",
                "salesStage",
                "team[1].contactPreference.locale",
            ]
        );
    }

    #[test]
    fn nulls_and_conforming_values_pass() {
        let doc = json!({"favorite": null, "campaignId": "C-1", "salesStage": "Qualify",
            "details": {"closingDateTime": "2026-01-02T00:00:00Z", "dealValue": 5.5}});
        assert!(paths(&doc).is_empty());
        let bad_date = json!({"details": {"closingDateTime": "next week"}});
        assert_eq!(paths(&bad_date), ["details.closingDateTime"]);
    }

    #[test]
    fn strings_become_the_contract_s_numbers_and_booleans() {
        let mut doc = json!({"favorite": "TRUE", "details": {"dealValue": "10000"},
            "customerProfile": {"team": [{"contactPreference": {"disableNotifications": "false"}}]},
            "isSpam": "true", "campaignId": "12"});
        coerce_to_contract(&mut doc);
        assert_eq!(doc["favorite"], json!(true));
        assert_eq!(doc["details"]["dealValue"], json!(10000));
        let flag = &doc["customerProfile"]["team"][0]["contactPreference"]["disableNotifications"];
        assert_eq!(flag, &json!(false));
        assert_eq!(doc["isSpam"], json!("true"));
        assert_eq!(doc["campaignId"], json!("12"));
    }
}
