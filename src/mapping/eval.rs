//! Applying a compiled mapping to one row: read cells (or lookup rows, or templates),
//! map and convert them, build the Referral payload in the fixed key order, and collect every
//! failing field as a `Problem` instead of stopping at the first.
//!
//! The payload is an [`Out`] tree: text that needs no conversion is borrowed from the row,
//! table outputs and literals from the mapping.

use std::borrow::Cow;

use serde_json::{Number, Value};

use super::compiled::{Builtin, Conversion, Filter, FilterTest, Leaf, Node, Piece, Source};
use super::convert::{self, Raw};
use super::load::Mapping;
use super::out::Out;
use super::outcome::Problem;
use crate::source::{Cell, Row};

/// The enum values allowed at a payload path (see `referral::allowed_values`).
pub fn allowed_values(path: &str) -> Option<&'static [&'static str]> {
    crate::referral::allowed_values(path)
}

/// A raw value from a cell; an error cell (`#N/A`) is an error of the row. Spans read the
/// text of `row` (lookup rows hold none: their spans were turned into strings).
pub fn raw_of<'a>(cell: &'a Cell, row: Option<&'a Row>) -> Result<Raw<'a>, String> {
    Ok(match cell {
        Cell::Empty => Raw::Empty,
        Cell::String(s) => Raw::Text(Cow::Borrowed(s)),
        Cell::Span { .. } => match row.and_then(|row| row.text_of(cell)) {
            Some(text) => Raw::Text(Cow::Borrowed(text)),
            None => return Err("the cell's text is not in its row".into()),
        },
        Cell::Int(i) => Raw::Int(*i),
        Cell::Float(f) => Raw::Float(*f),
        Cell::Bool(b) => Raw::Bool(*b),
        Cell::Date(d) => Raw::Date(*d),
        Cell::DateTime(dt) => Raw::DateTime(*dt),
        Cell::Error(e) => return Err(format!("the cell holds the error {e}")),
    })
}

/// Why a value could not be read.
enum ReadError {
    /// The lookup found no row or several: a field `default` stands in.
    Lookup(String),
    /// Anything else (error cells, missing columns).
    Cell(String),
}

/// One row being mapped: its cells, the positions of the mapping's columns in it, and the
/// rows its lookups matched.
pub struct RowCtx<'r> {
    pub row: &'r Row,
    pub cols: &'r [Option<usize>],
    pub lookups: Vec<Result<&'r [Cell], String>>,
}

impl<'r> RowCtx<'r> {
    pub fn new(mapping: &'r Mapping, row: &'r Row, cols: &'r [Option<usize>]) -> Self {
        let mut ctx = RowCtx {
            row,
            cols,
            lookups: Vec::with_capacity(mapping.lookups.len()),
        };
        for lookup in &mapping.lookups {
            let found = match ctx.read(&lookup.on.source) {
                Ok(raw) => lookup.find(&raw.text()),
                Err(ReadError::Lookup(e) | ReadError::Cell(e)) => Err(e),
            };
            ctx.lookups.push(found);
        }
        ctx
    }

    fn read(&self, source: &'r Source) -> Result<Raw<'r>, ReadError> {
        match source {
            Source::Column(id) => self.column(*id),
            Source::Lookup { lookup, index, .. } => {
                let cells = match self.lookups.get(*lookup) {
                    Some(Ok(cells)) => *cells,
                    Some(Err(e)) => return Err(ReadError::Lookup(e.clone())),
                    None => return Err(ReadError::Cell("unknown lookup".into())),
                };
                cells
                    .get(*index)
                    .map_or(Ok(Raw::Empty), |cell| raw_of(cell, None))
                    .map_err(ReadError::Cell)
            }
            Source::Literal(v) => Ok(match v {
                Value::String(s) => Raw::Text(Cow::Borrowed(s)),
                other => Raw::Text(Cow::Owned(other.to_string())),
            }),
            Source::Template(pieces) => self.template(pieces),
        }
    }

    /// A column's raw value. A column the row lacks reads as empty: inputs with a fixed
    /// header are checked up front (`records`), and a JSON record leaves out null fields.
    fn column(&self, id: usize) -> Result<Raw<'r>, ReadError> {
        match self.cols.get(id).copied().flatten() {
            Some(i) => self
                .row
                .values
                .get(i)
                .map_or(Ok(Raw::Empty), |cell| raw_of(cell, Some(self.row)))
                .map_err(ReadError::Cell),
            None => Ok(Raw::Empty),
        }
    }

    /// Fill a template; it is empty when every column it reads is empty.
    fn template(&self, pieces: &[Piece]) -> Result<Raw<'r>, ReadError> {
        let mut out = String::new();
        let mut any_column = false;
        let mut any_value = false;
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Column(id) => {
                    any_column = true;
                    let raw = self.column(*id)?;
                    any_value |= !raw.is_empty();
                    out.push_str(&raw.text());
                }
            }
        }
        if any_column && !any_value {
            return Ok(Raw::Empty);
        }
        Ok(Raw::Text(Cow::Owned(out)))
    }

    /// A leaf's JSON value; `Ok(None)` leaves the member out.
    pub fn leaf(&self, leaf: &'r Leaf) -> Result<Option<Out<'r>>, String> {
        if let Source::Literal(v) = &leaf.source {
            return Ok(Some(Out::borrow(v)));
        }
        if let Some(text) = self.plain_text(leaf) {
            return Ok(Some(Out::Text(Cow::Borrowed(text))));
        }
        let raw = match self.read(&leaf.source) {
            Ok(raw) => raw,
            Err(ReadError::Lookup(e)) => return leaf.default.as_ref().map(non_empty).ok_or(e),
            Err(ReadError::Cell(e)) => return Err(e),
        };
        if raw.is_empty() {
            return match (&leaf.default, leaf.required) {
                (Some(d), _) => Ok(non_empty(d)),
                (None, true) => Err(match &leaf.label {
                    Some(label) => format!("required, but {label:?} is empty"),
                    None => "required, but empty".to_string(),
                }),
                (None, false) => Ok(None),
            };
        }
        if let Some(sep) = &leaf.split {
            return split(leaf, raw.into_text(), sep);
        }
        map_convert(leaf, raw)
    }

    /// The common leaf, straight: a column's non-empty text, sent as a string with no table
    /// and no split. `None` sends everything else through the general path.
    fn plain_text(&self, leaf: &Leaf) -> Option<&'r str> {
        let plain = leaf.map.is_none()
            && leaf.split.is_none()
            && matches!(leaf.conversion, Conversion::String);
        let Source::Column(id) = leaf.source else {
            return None;
        };
        let index = self.cols.get(id).copied().flatten().filter(|_| plain)?;
        let cell = self.row.values.get(index)?;
        let text = self.row.text_of(cell)?;
        Some(convert::trim(text)).filter(|t| !t.is_empty())
    }

    /// Evaluate a node; problems go to `problems`, the member is left out.
    pub fn node(&self, node: &'r Node, problems: &mut Vec<Problem>) -> Option<Out<'r>> {
        match node {
            Node::Leaf(leaf) => match self.leaf(leaf) {
                Ok(v) => v,
                Err(message) => {
                    problems.push(Problem {
                        column: leaf.label.clone(),
                        path: leaf.path.clone(),
                        message,
                    });
                    None
                }
            },
            Node::Object(members) => {
                let mut object = Vec::with_capacity(members.len());
                self.members_into(members, &mut object, problems);
                (!object.is_empty()).then_some(Out::Object(object))
            }
            Node::Groups(groups) => {
                let items: Vec<Out<'r>> = groups
                    .iter()
                    .filter_map(|g| self.node(g, problems))
                    .collect();
                (!items.is_empty()).then_some(Out::Array(items))
            }
        }
    }

    /// Evaluate an object's members into `object`, in order.
    pub fn members_into(
        &self,
        members: &'r [(&'static str, Node)],
        object: &mut Vec<(&'r str, Out<'r>)>,
        problems: &mut Vec<Problem>,
    ) {
        for (name, child) in members {
            if let Some(v) = self.node(child, problems) {
                object.push((name, v));
            }
        }
    }

    /// `Some(reason)` when a filter drops the row.
    pub fn filtered(&self, filter: &'r Filter) -> Result<Option<String>, String> {
        let raw = match self.read(&filter.leaf.source) {
            Ok(raw) => raw,
            Err(ReadError::Lookup(e) | ReadError::Cell(e)) => return Err(e),
        };
        let text = raw.text();
        let label = filter.leaf.label.as_deref().unwrap_or("filter");
        let eq = |list: &[String]| list.iter().any(|w| w.trim().eq_ignore_ascii_case(&text));
        let skipped = match &filter.test {
            FilterTest::In(list) if !eq(list) => Some(format!(
                "{label} is {text:?}, not {}",
                list.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
            FilterTest::NotIn(list) if eq(list) => Some(format!("{label} is {text:?}")),
            FilterTest::NotEmpty if text.is_empty() => Some(format!("{label} is empty")),
            FilterTest::In(_) | FilterTest::NotIn(_) | FilterTest::NotEmpty => None,
        };
        Ok(skipped.map(|generated| filter.reason.clone().unwrap_or(generated)))
    }
}

/// A default or literal value; the empty string leaves the member out.
fn non_empty(value: &Value) -> Option<Out<'_>> {
    match value {
        Value::String(s) if s.is_empty() => None,
        other => Some(Out::borrow(other)),
    }
}

/// A delimited cell as an array of `{ "id": piece, …item }` objects.
fn split<'r>(leaf: &'r Leaf, text: Cow<'r, str>, sep: &str) -> Result<Option<Out<'r>>, String> {
    let mut items = Vec::new();
    let pieces = text.split(sep).map(str::trim).filter(|p| !p.is_empty());
    for piece in pieces {
        let piece = match &text {
            Cow::Borrowed(whole) => Cow::Borrowed(subslice(whole, piece)),
            Cow::Owned(_) => Cow::Owned(piece.to_owned()),
        };
        let Some(v) = map_convert(leaf, Raw::Text(piece))? else {
            continue;
        };
        let mut object = Vec::with_capacity(1 + leaf.item.len());
        object.push((leaf.item_key, v));
        for (k, extra) in &leaf.item {
            object.push((k.as_str(), Out::borrow(extra)));
        }
        items.push(Out::Object(object));
    }
    Ok((!items.is_empty()).then_some(Out::Array(items)))
}

/// `part`, a slice of `whole`, with the lifetime of `whole`.
fn subslice<'w>(whole: &'w str, part: &str) -> &'w str {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    whole.get(start..start + part.len()).unwrap_or_default()
}

/// Apply the value map (if any), then the conversion.
fn map_convert<'r>(leaf: &'r Leaf, raw: Raw<'r>) -> Result<Option<Out<'r>>, String> {
    let Some(map) = &leaf.map else {
        return convert_out(&leaf.conversion, raw).map(Some);
    };
    let text = raw.text();
    let found = match map.builtin {
        Some(Builtin::Country) => crate::referral::country_code(&text).map(Out::from),
        Some(Builtin::Currency) => crate::referral::currency_code(&text).map(Out::from),
        None => map.get(&text).map(Out::borrow),
    };
    let out = found
        .or_else(|| map.default.as_ref().map(Out::borrow))
        .ok_or_else(|| {
            format!(
                "{text:?} is not in table `{}` and the table has no default",
                map.name
            )
        })?;
    match out {
        Out::Text(s) if s.is_empty() => Ok(None),
        Out::Text(s) => convert_out(&leaf.conversion, Raw::Text(s)).map(Some),
        other => Ok(Some(other)),
    }
}

impl From<&'static str> for Out<'_> {
    fn from(text: &'static str) -> Self {
        Out::Text(Cow::Borrowed(text))
    }
}

/// Convert a raw value to JSON; text stays borrowed when it needs no conversion.
fn convert_out<'r>(conversion: &Conversion, raw: Raw<'r>) -> Result<Out<'r>, String> {
    let text = |s: String| Out::Text(Cow::Owned(s));
    match (conversion, &raw) {
        (Conversion::String, _) => Ok(Out::Text(raw.into_text())),
        (Conversion::Decimal { .. }, Raw::Int(i)) => Ok(Out::Number(Number::from(*i))),
        (Conversion::Decimal { .. }, Raw::Float(f)) => number(*f),
        (Conversion::Decimal { decimal_comma }, raw) => {
            number(convert::parse_decimal(&raw.text(), *decimal_comma)?)
        }
        (Conversion::Integer, Raw::Int(i)) => Ok(Out::Number(Number::from(*i))),
        (Conversion::Integer, Raw::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Ok(Out::Number(Number::from(*f as i64)))
        }
        (Conversion::Integer, raw) => {
            convert::parse_integer(&raw.text()).map(|i| Out::Number(Number::from(i)))
        }
        (Conversion::Bool(_), Raw::Bool(b)) => Ok(Out::Bool(*b)),
        (Conversion::Bool(words), raw) => convert::parse_bool(&raw.text(), words).map(Out::Bool),
        (Conversion::Date { .. }, Raw::Date(d)) => Ok(text(convert::date_utc(*d))),
        (Conversion::Date { .. }, Raw::DateTime(dt)) => Ok(text(convert::date_utc(dt.date()))),
        (Conversion::Date { formats }, raw) => {
            convert::parse_date(&raw.text(), formats).map(|d| text(convert::date_utc(d)))
        }
        (Conversion::DateTime { tz, .. }, Raw::DateTime(dt)) => {
            convert::civil_to_utc(*dt, tz).map(|ts| text(convert::timestamp_utc(ts)))
        }
        (Conversion::DateTime { tz, .. }, Raw::Date(d)) => {
            convert::civil_to_utc(d.to_datetime(jiff::civil::Time::midnight()), tz)
                .map(|ts| text(convert::timestamp_utc(ts)))
        }
        (Conversion::DateTime { formats, tz }, raw) => {
            convert::parse_datetime(&raw.text(), formats, tz)
                .map(|ts| text(convert::timestamp_utc(ts)))
        }
    }
}

/// A JSON number of a converted decimal.
fn number<'r>(f: f64) -> Result<Out<'r>, String> {
    match convert::number_value(f)? {
        Value::Number(n) => Ok(Out::Number(n)),
        other => Err(format!("{other} is not a number")),
    }
}
