//! The payload a row maps to, as the evaluator builds it: a small JSON tree whose strings are
//! borrowed from the row or the mapping where they can be and whose member names are the
//! mapping's own, so that mapping a row allocates little and hashes nothing.
//!
//! It is validated as it is (it implements the validators' [`Json`]), written as NDJSON by
//! `preview` without ever becoming a `serde_json::Value`, and turned into one
//! ([`Out::to_value`]) only for the uploader. Members keep the order they were built in: the
//! fixed order of the Referral's fields.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use crate::referral::{Json, JsonObject, View, same_name};

/// One value of a mapped payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Out<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Text(Cow<'a, str>),
    Array(Vec<Out<'a>>),
    Object(Vec<(&'a str, Out<'a>)>),
}

impl<'a> Out<'a> {
    /// A value of the mapping (a literal, a default, a table's output), borrowed.
    pub fn borrow(value: &'a Value) -> Out<'a> {
        match value {
            Value::Null => Out::Null,
            Value::Bool(b) => Out::Bool(*b),
            Value::Number(n) => Out::Number(n.clone()),
            Value::String(s) => Out::Text(Cow::Borrowed(s)),
            Value::Array(items) => Out::Array(items.iter().map(Out::borrow).collect()),
            Value::Object(map) => Out::Object(
                map.iter()
                    .map(|(k, v)| (k.as_str(), Out::borrow(v)))
                    .collect(),
            ),
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Out::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Out<'a>> {
        match self {
            Out::Object(members) => members.member(key),
            _ => None,
        }
    }

    /// The same payload as a `serde_json::Value`, members in the same order.
    pub fn to_value(&self) -> Value {
        match self {
            Out::Null => Value::Null,
            Out::Bool(b) => Value::Bool(*b),
            Out::Number(n) => Value::Number(n.clone()),
            Out::Text(text) => Value::String(text.as_ref().to_owned()),
            Out::Array(items) => Value::Array(items.iter().map(Out::to_value).collect()),
            Out::Object(members) => {
                let mut map = Map::with_capacity(members.len());
                for (key, value) in members {
                    map.insert((*key).to_owned(), value.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// Compact JSON, byte for byte what `serde_json::to_writer` writes for [`Out::to_value`].
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_json(self, out);
    }
}

/// Compact JSON of any document the validators read (an [`Out`] or a `serde_json::Value`),
/// byte for byte what `serde_json::to_writer` writes, faster: strings that need no escaping
/// are copied as they are.
pub fn write_json<J: Json>(doc: &J, out: &mut Vec<u8>) {
    match doc.view() {
        View::Null => out.extend_from_slice(b"null"),
        View::Bool(true) => out.extend_from_slice(b"true"),
        View::Bool(false) => out.extend_from_slice(b"false"),
        // Writing to a Vec cannot fail.
        View::Number(n) => serde_json::to_writer(&mut *out, n).unwrap_or_default(),
        View::String(text) => write_string(out, text),
        View::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, out);
            }
            out.push(b']');
        }
        View::Object(members) => {
            out.push(b'{');
            for (i, (key, member)) in members.entries().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_json(member, out);
            }
            out.push(b'}');
        }
    }
}

impl<'a> Json for Out<'a> {
    type Object = [(&'a str, Out<'a>)];

    fn view(&self) -> View<'_, Self> {
        match self {
            Out::Null => View::Null,
            Out::Bool(b) => View::Bool(*b),
            Out::Number(n) => View::Number(n),
            Out::Text(text) => View::String(text),
            Out::Array(items) => View::Array(items),
            Out::Object(members) => View::Object(members.as_slice()),
        }
    }
}

impl<'a> JsonObject<Out<'a>> for [(&'a str, Out<'a>)] {
    fn member(&self, key: &str) -> Option<&Out<'a>> {
        self.iter()
            .find(|(name, _)| same_name(name, key))
            .map(|(_, v)| v)
    }
    fn is_empty(&self) -> bool {
        <[_]>::is_empty(self)
    }
    fn entries<'e>(&'e self) -> impl Iterator<Item = (&'e str, &'e Out<'a>)>
    where
        Out<'a>: 'e,
    {
        self.iter().map(|(key, value)| (*key, value))
    }
}

/// A JSON string: copied between quotes when nothing in it needs escaping, else serde_json's.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        // Writing to a Vec cannot fail.
        serde_json::to_writer(&mut *out, text).unwrap_or_default();
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Whether `bytes` hold a quote, a backslash or a control character below 0x20 (what JSON
/// escapes), tested eight bytes at a time.
pub fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Sets the high bit of each byte of `x` that is below `n` (n <= 0x80), no false positives
    // among bytes below 0x80; bytes >= 0x80 are masked out by `!x`.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let zero = |x: u64| below(x, 1);
    let hit = |word: [u8; 8]| {
        let x = u64::from_ne_bytes(word);
        below(x, 0x20) | zero(x ^ (ONES * 0x22)) | zero(x ^ (ONES * 0x5c)) != 0
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if hit(word) {
            return true;
        }
    }
    // The last few bytes, padded with a letter that needs no escape.
    let mut word = [b'a'; 8];
    for (to, from) in word.iter_mut().zip(chunks.remainder()) {
        *to = *from;
    }
    hit(word)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{Out, needs_escape};

    fn ours(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        Out::borrow(value).write_json(&mut out);
        out
    }

    fn serde(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap_or_default()
    }

    #[test]
    fn payloads_print_as_serde_json_prints_them() {
        let value = json!({
            "name": "Contoso \"Big\" deal\\n",
            "details": { "dealValue": 1234.5, "n": -3, "ok": true, "none": null, "tab": "a\tb" },
            "target": [{ "type": "SolutionProfile", "id": "\u{1}é€😀\u{7f}" }, [], {}],
            "long": "0123456789abcdef0123456789abcdef\"",
            "big": 1.0e300, "tiny": 5e-324, "u": 18446744073709551615u64,
        });
        assert_eq!(ours(&value), serde(&value));
        assert_eq!(Out::borrow(&value).to_value(), value);
        let mut direct = Vec::new();
        super::write_json(&value, &mut direct);
        assert_eq!(direct, serde(&value));
    }

    #[test]
    fn every_escaped_byte_is_found_at_every_position() {
        for byte in (0u8..0x80).filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\') {
            for position in 0..20 {
                let mut text = vec![b'a'; 20];
                if let Some(slot) = text.get_mut(position) {
                    *slot = byte;
                }
                assert!(needs_escape(&text), "{byte:#x} at {position}");
            }
        }
        assert!(!needs_escape(
            "plain text, ünïcödé and ~DEL\u{7f} 0123456789".as_bytes()
        ));
    }

    #[test]
    fn payload_trees_are_validated_as_their_values_are() {
        let value = json!({
            "type": "Shared", "status": "Closed", "substatus": "Pending",
            "customerProfile": { "name": " ", "address": { "country": "Germany" },
                "team": [{ "email": "a b@c.example" }, 3] },
            "consent": { "consentToContact": "yes" },
            "details": { "dealValue": "-1", "currency": "usd", "closingDateTime": "2024-01-01" },
            "target": {},
        });
        let out = Out::borrow(&value);
        let from_tree = crate::referral::validate_create(&out);
        assert!(from_tree.len() >= 9, "{from_tree:?}");
        assert_eq!(from_tree, crate::referral::validate_create(&value));
    }

    proptest! {
        #[test]
        fn any_string_prints_as_serde_json_prints_it(text in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let value = json!({ "k": text.clone(), &text: [text.clone()] });
            prop_assert_eq!(ours(&value), serde(&value));
        }
    }
}
