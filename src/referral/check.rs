//! The raw-JSON checker behind the validators: walks a JSON document, type-checks each
//! field it is asked about and records every problem with its path.
//!
//! It works on the raw value rather than on `Referral` so that a string where a number should
//! be is reported at its path instead of failing the whole parse. Paths are [`At`] values on
//! the stack (a parent and a key or index) and become text only when a problem is recorded:
//! a payload that passes costs no string building.
//!
//! Documents are anything that implements [`Json`]: a `serde_json::Value`, or the mapping's
//! own payload tree, which is checked before it is ever turned into a `Value`.

use std::fmt;
use std::marker::PhantomData;

use serde_json::{Map, Number, Value};

use super::FieldError;

/// A JSON document the validators can read.
pub trait Json: Sized {
    /// An object of this document type.
    type Object: JsonObject<Self> + ?Sized;
    /// What this value is.
    fn view(&self) -> View<'_, Self>;
}

/// The members of a JSON object, looked up by name.
pub trait JsonObject<J> {
    /// The member `key`, if present.
    fn member(&self, key: &str) -> Option<&J>;
    /// Whether the object has no member.
    fn is_empty(&self) -> bool;
    /// Every member, in order.
    fn entries<'a>(&'a self) -> impl Iterator<Item = (&'a str, &'a J)>
    where
        J: 'a;
}

/// One JSON value as the validators see it.
pub enum View<'a, J: Json> {
    Null,
    Bool(bool),
    Number(&'a Number),
    String(&'a str),
    Array(&'a [J]),
    Object(&'a J::Object),
}

impl Json for Value {
    type Object = Map<String, Value>;

    fn view(&self) -> View<'_, Self> {
        match self {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(n) => View::Number(n),
            Value::String(s) => View::String(s),
            Value::Array(items) => View::Array(items),
            Value::Object(map) => View::Object(map),
        }
    }
}

impl JsonObject<Value> for Map<String, Value> {
    fn member(&self, key: &str) -> Option<&Value> {
        member(self, key)
    }
    fn is_empty(&self) -> bool {
        Map::is_empty(self)
    }
    fn entries<'a>(&'a self) -> impl Iterator<Item = (&'a str, &'a Value)>
    where
        Value: 'a,
    {
        self.iter().map(|(key, value)| (key.as_str(), value))
    }
}

/// Whether a field must be present (and not null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Required,
    Optional,
}

/// A JSON path, built lazily: `customerProfile.team[1].email` is the key `email` of the
/// element 1 of the key `team` of the key `customerProfile` of the root.
#[derive(Debug, Clone, Copy)]
pub(super) enum At<'a> {
    /// The document itself.
    Root,
    /// The member `key` of the object at the parent path.
    Key(&'a At<'a>, &'a str),
    /// The element of the array at the parent path.
    Index(&'a At<'a>, usize),
}

impl<'a> At<'a> {
    /// The member `key` of this object path.
    pub(super) fn key(&'a self, key: &'a str) -> At<'a> {
        At::Key(self, key)
    }

    /// The element `index` of this array path.
    pub(super) fn index(&'a self, index: usize) -> At<'a> {
        At::Index(self, index)
    }

    /// The member name this path ends in (empty for the root and array elements).
    fn last_key(&self) -> &'a str {
        match self {
            At::Key(_, key) => key,
            At::Root | At::Index(..) => "",
        }
    }
}

impl fmt::Display for At<'_> {
    /// Dotted member names with `[index]` for elements; `$` for the document itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Root => f.write_str("$"),
            At::Key(At::Root, key) => f.write_str(key),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
            At::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Collects the problems of one document of type `J`.
#[derive(Debug)]
pub(super) struct Checker<J> {
    pub(super) errors: Vec<FieldError>,
    document: PhantomData<fn(&J)>,
}

impl<J> Default for Checker<J> {
    fn default() -> Self {
        Checker {
            errors: Vec::new(),
            document: PhantomData,
        }
    }
}

/// The member `key` of `map`. Payload objects have a handful of members, and comparing
/// their names is cheaper than hashing `key`, so small objects are scanned.
pub(super) fn member<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    if map.len() <= 16 {
        map.iter()
            .find(|(name, _)| same_name(name, key))
            .map(|(_, value)| value)
    } else {
        map.get(key)
    }
}

/// Whether two member names are equal; names of a payload differ mostly in length or first
/// letter, which are compared before the bytes.
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// The JSON kind of a value, for messages: `expected a string, got number`.
pub(super) fn kind<J: Json>(value: &J) -> &'static str {
    match value.view() {
        View::Null => "null",
        View::Bool(_) => "boolean",
        View::Number(_) => "number",
        View::String(_) => "string",
        View::Array(_) => "array",
        View::Object(_) => "object",
    }
}

impl<J: Json> Checker<J> {
    pub(super) fn push(&mut self, at: At<'_>, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: at.to_string(),
            message: message.into(),
        });
    }

    /// The field `at` names in `map`, or `None` if absent or null (reported when required).
    fn field<'m>(&mut self, map: &'m J::Object, at: At<'_>, need: Need) -> Option<&'m J>
    where
        J: 'm,
    {
        match map.member(at.last_key()) {
            Some(value) if !matches!(value.view(), View::Null) => Some(value),
            _ => {
                if need == Need::Required {
                    self.push(at, "is required");
                }
                None
            }
        }
    }

    /// An object field.
    pub(super) fn object<'m>(
        &mut self,
        map: &'m J::Object,
        at: At<'_>,
        need: Need,
    ) -> Option<&'m J::Object>
    where
        J: 'm,
    {
        let value = self.field(map, at, need)?;
        match value.view() {
            View::Object(object) => Some(object),
            _ => {
                let other = value;
                self.push(at, format!("expected an object, got {}", kind(other)));
                None
            }
        }
    }

    /// A string field.
    pub(super) fn string<'m>(
        &mut self,
        map: &'m J::Object,
        at: At<'_>,
        need: Need,
    ) -> Option<&'m str>
    where
        J: 'm,
    {
        let value = self.field(map, at, need)?;
        match value.view() {
            View::String(text) => Some(text),
            _ => {
                let other = value;
                self.push(at, format!("expected a string, got {}", kind(other)));
                None
            }
        }
    }

    /// Several optional string fields of one object.
    pub(super) fn strings(&mut self, map: &J::Object, parent: At<'_>, keys: &[&str]) {
        for key in keys {
            self.string(map, parent.key(key), Need::Optional);
        }
    }

    /// Several optional boolean fields of one object.
    pub(super) fn booleans(&mut self, map: &J::Object, parent: At<'_>, keys: &[&str]) {
        for key in keys {
            let at = parent.key(key);
            if let Some(other) = self.field(map, at, Need::Optional)
                && !matches!(other.view(), View::Bool(_))
            {
                self.push(at, format!("expected true or false, got {}", kind(other)));
            }
        }
    }

    /// An array field; `{}` counts as empty (the API's docs show `"ids": {}`) when `empty_object_ok`.
    fn array<'m>(
        &mut self,
        map: &'m J::Object,
        at: At<'_>,
        empty_object_ok: bool,
    ) -> Option<&'m [J]>
    where
        J: 'm,
    {
        let value = self.field(map, at, Need::Optional)?;
        match value.view() {
            View::Array(items) => Some(items),
            View::Object(object) if empty_object_ok && object.is_empty() => Some(&[]),
            _ => {
                let other = value;
                self.push(at, format!("expected an array, got {}", kind(other)));
                None
            }
        }
    }

    /// The elements of an array field that are objects, with their indices; the others are
    /// reported here.
    pub(super) fn objects<'m>(
        &mut self,
        map: &'m J::Object,
        at: At<'_>,
        empty_object_ok: bool,
    ) -> impl Iterator<Item = (usize, &'m J::Object)> + use<'m, J>
    where
        J: 'm,
    {
        let items = self.array(map, at, empty_object_ok).unwrap_or_default();
        for (index, item) in items.iter().enumerate() {
            if !matches!(item.view(), View::Object(_)) {
                let message = format!("expected an object, got {}", kind(item));
                self.push(at.index(index), message);
            }
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| match item.view() {
                View::Object(object) => Some((index, object)),
                _ => None,
            })
    }

    /// A string field whose value must be one of `allowed`.
    pub(super) fn one_of<'m>(
        &mut self,
        map: &'m J::Object,
        at: At<'_>,
        need: Need,
        allowed: &[&str],
    ) -> Option<&'m str>
    where
        J: 'm,
    {
        let value = self.string(map, at, need)?;
        if allowed.contains(&value) {
            Some(value)
        } else {
            self.push(
                at,
                format!("expected one of {}, got {value:?}", allowed.join(", ")),
            );
            None
        }
    }
}
