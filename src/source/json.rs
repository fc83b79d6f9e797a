//! Streams the records of one Dataverse Web API response without holding the page in
//! memory, and flattens each record into named cells.
//!
//! Accepted shapes: a collection `{"@odata.context":…, "value":[{…},…], "@odata.nextLink":…}`
//! (records are handed on one by one as the `value` array is parsed), a single entity
//! `{"@odata.context":"…$metadata#opportunities/$entity", "name":…}` (the whole object is one
//! record) and a bare array of records.
//!
//! Field names (see also [`super::dataverse`]):
//! - a field by its logical name: `name`, `estimatedvalue`, `_customerid_value`;
//! - an annotation by its full name: `statecode@OData.Community.Display.V1.FormattedValue`,
//!   `_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname`; the formatted value also as
//!   `<field>@label` (`statecode@label`);
//! - an expanded navigation property's fields by path: `customerid_account.address1_country`
//!   (annotations too: `customerid_account.industrycode@label`).
//!
//! Values: `null` is empty; booleans are `Bool`; integers that fit are `Int`; **decimals keep
//! their exact JSON text as `String`** (money has up to 10 decimals, and a float would round
//! it; the mapping parses it as it parses CSV text); strings, dates included
//! (`"2023-06-25"`), stay `String` for the mapping to parse; an empty string is `Empty`;
//! arrays (collection-valued navigation properties) are kept as their JSON text.
//!
//! Nesting: a record's objects are flattened at most [`MAX_NESTING`] levels deep (Dataverse
//! expands navigation properties a few levels at most); a deeper record is an error naming
//! the field where the limit was passed, never a stack overflow.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::Cell;

/// The annotation Dataverse uses for a field's display label.
const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";
/// The short form of [`FORMATTED`] accepted in field names.
const LABEL: &str = "@label";
/// How many objects deep a record's fields may be nested.
pub(super) const MAX_NESTING: usize = 32;
/// The error message used to stop parsing when nobody reads the rows any more.
pub(super) const STOPPED: &str = "reading stopped";

/// One record: its keys and raw values, in document order.
pub(super) struct RawRecord(pub(super) Vec<(String, Box<RawValue>)>);

impl<'de> de::Deserialize<'de> for RawRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RawRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRecord, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
            fields.push(entry);
        }
        Ok(RawRecord(fields))
    }
}

/// Parse a whole response, handing each record to `emit`; `emit` returns `false` to stop.
pub(super) fn stream_records<'de, D: Deserializer<'de>>(
    deserializer: D,
    emit: &mut dyn FnMut(RawRecord) -> bool,
) -> Result<(), D::Error> {
    deserializer.deserialize_any(Response { emit })
}

/// The top level: a collection, a single entity or a bare array.
struct Response<'e> {
    emit: &'e mut dyn FnMut(RawRecord) -> bool,
}

impl<'de> Visitor<'de> for Response<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Dataverse Web API response (a JSON object or an array of records)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Records { emit: self.emit }.visit_seq(seq).map(drop)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut others = Vec::new();
        let mut collection = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" {
                let seed = ValueField {
                    emit: &mut *self.emit,
                };
                match map.next_value_seed(seed)? {
                    Some(raw) => others.push((key, raw)),
                    None => collection = true,
                }
            } else {
                others.push((key, map.next_value::<Box<RawValue>>()?));
            }
        }
        others.retain(|(key, _)| key != "@odata.context");
        if !collection && !others.is_empty() && !(self.emit)(RawRecord(others)) {
            return Err(de::Error::custom(STOPPED));
        }
        Ok(())
    }
}

/// The `value` member: an array of records (streamed; yields `None`), or in a single entity
/// an ordinary field that happens to be called `value` (yields its raw JSON).
struct ValueField<'e> {
    emit: &'e mut dyn FnMut(RawRecord) -> bool,
}

impl<'de> DeserializeSeed<'de> for ValueField<'_> {
    type Value = Option<Box<RawValue>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(Records { emit: self.emit })
    }
}

/// Streams an array of records; any other value is returned as raw JSON.
struct Records<'e> {
    emit: &'e mut dyn FnMut(RawRecord) -> bool,
}

impl Records<'_> {
    fn raw<T: serde::Serialize, E: de::Error>(value: T) -> Result<Option<Box<RawValue>>, E> {
        serde_json::value::to_raw_value(&value)
            .map(Some)
            .map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = Option<Box<RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while let Some(record) = seq.next_element::<RawRecord>()? {
            if !(self.emit)(record) {
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let value: serde_json::Value =
            de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Self::raw(value)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Self::raw(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::raw(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Self::raw(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Self::raw(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::raw(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Self::raw(())
    }
}

/// Flatten a record into `(name, cell)` pairs; nested objects become `parent.child` names.
/// `Err` names the field nested deeper than [`MAX_NESTING`] objects.
pub(super) fn flatten(record: &RawRecord, out: &mut Vec<(String, Cell)>) -> Result<(), String> {
    flatten_into(record, "", 1, out)
}

fn flatten_into(
    record: &RawRecord,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, Cell)>,
) -> Result<(), String> {
    for (key, raw) in &record.0 {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let text = raw.get().trim_start();
        if text.starts_with('{') {
            if depth >= MAX_NESTING {
                return Err(format!(
                    "field `{name}` is nested more than {MAX_NESTING} objects deep; \
                     a Dataverse record is never nested that deep"
                ));
            }
            match serde_json::from_str::<RawRecord>(text) {
                Ok(nested) => flatten_into(&nested, &name, depth + 1, out)?,
                Err(_) => out.push((name, Cell::String(text.to_owned()))),
            }
            continue;
        }
        let cell = scalar(text);
        if let Some(field) = name.strip_suffix(FORMATTED) {
            out.push((format!("{field}{LABEL}"), cell.clone()));
        }
        out.push((name, cell));
    }
    Ok(())
}

/// The cell of a JSON scalar or array, from its text.
fn scalar(text: &str) -> Cell {
    match text.as_bytes().first() {
        None | Some(b'n') => Cell::Empty,
        Some(b't') => Cell::Bool(true),
        Some(b'f') => Cell::Bool(false),
        Some(b'"') => match serde_json::from_str::<String>(text) {
            Ok(s) if s.is_empty() => Cell::Empty,
            Ok(s) => Cell::String(s),
            Err(_) => Cell::String(text.to_owned()),
        },
        Some(b'[') => Cell::String(text.trim_end().to_owned()),
        Some(_) => {
            let text = text.trim_end();
            match text.parse::<i64>() {
                Ok(i) => Cell::Int(i),
                Err(_) => Cell::String(text.to_owned()),
            }
        }
    }
}
