//! The raw-JSON checker behind the validators: walks a `serde_json::Value`, type-checks each
//! field it is asked about and records every problem with its path.
//!
//! It works on the raw value rather than on `Referral` so that a string where a number should
//! be is reported at its path instead of failing the whole parse.

use serde_json::{Map, Value};

use super::FieldError;

/// Whether a field must be present (and not null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Required,
    Optional,
}

/// Collects the problems of one document.
#[derive(Debug, Default)]
pub(super) struct Checker {
    pub(super) errors: Vec<FieldError>,
}

/// `parent.key`, or `key` at the root.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The JSON kind of a value, for messages: `expected a string, got number`.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Checker {
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// The field `key` of `map`, or `None` if absent or null (reported when required).
    fn field<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        need: Need,
    ) -> Option<&'a Value> {
        let key = path.rsplit('.').next().unwrap_or(path);
        match map.get(key) {
            None | Some(Value::Null) => {
                if need == Need::Required {
                    self.push(path, "is required");
                }
                None
            }
            Some(value) => Some(value),
        }
    }

    /// An object field.
    pub(super) fn object<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        need: Need,
    ) -> Option<&'a Map<String, Value>> {
        match self.field(map, path, need)? {
            Value::Object(object) => Some(object),
            other => {
                self.push(path, format!("expected an object, got {}", kind(other)));
                None
            }
        }
    }

    /// A string field.
    pub(super) fn string<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        need: Need,
    ) -> Option<&'a str> {
        match self.field(map, path, need)? {
            Value::String(text) => Some(text),
            other => {
                self.push(path, format!("expected a string, got {}", kind(other)));
                None
            }
        }
    }

    /// Several optional string fields of one object.
    pub(super) fn strings(&mut self, map: &Map<String, Value>, parent: &str, keys: &[&str]) {
        for key in keys {
            self.string(map, &join(parent, key), Need::Optional);
        }
    }

    /// Several optional boolean fields of one object.
    pub(super) fn booleans(&mut self, map: &Map<String, Value>, parent: &str, keys: &[&str]) {
        for key in keys {
            let path = join(parent, key);
            if let Some(other) = self.field(map, &path, Need::Optional)
                && !other.is_boolean()
            {
                self.push(path, format!("expected true or false, got {}", kind(other)));
            }
        }
    }

    /// An array field; `{}` counts as empty (the API's docs show `"ids": {}`) when `empty_object_ok`.
    pub(super) fn array<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        empty_object_ok: bool,
    ) -> Option<&'a [Value]> {
        match self.field(map, path, Need::Optional)? {
            Value::Array(items) => Some(items),
            Value::Object(object) if empty_object_ok && object.is_empty() => Some(&[]),
            other => {
                self.push(path, format!("expected an array, got {}", kind(other)));
                None
            }
        }
    }

    /// The elements of an array field that are objects, each with its path; others reported.
    pub(super) fn objects<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        empty_object_ok: bool,
    ) -> Vec<(String, &'a Map<String, Value>)> {
        let items = self.array(map, path, empty_object_ok).unwrap_or_default();
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            match item {
                Value::Object(object) => out.push((item_path, object)),
                other => self.push(
                    item_path,
                    format!("expected an object, got {}", kind(other)),
                ),
            }
        }
        out
    }

    /// A string field whose value must be one of `allowed`.
    pub(super) fn one_of<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        path: &str,
        need: Need,
        allowed: &[&str],
    ) -> Option<&'a str> {
        let value = self.string(map, path, need)?;
        if allowed.contains(&value) {
            Some(value)
        } else {
            self.push(
                path,
                format!("expected one of {}, got {value:?}", allowed.join(", ")),
            );
            None
        }
    }
}
