//! The columns of a pull file: Partner Center's side of each referral written back in the
//! CRM's own shape, so that the file imports into the CRM as it is.
//!
//! A pull record is the referral JSON as the API returned it plus a `sync` object
//! (`changed`, `connectedStatus`, `connectedSubstatus`, `microsoftCrmId`, `daysLeft`,
//! `recordId`). Each column names a value of it: a path (`details.dealValue`,
//! `customerProfile.team[0].email`), a template of paths, or a literal; optionally through a
//! value map in the CRM's direction (`"Closed/Won" = "Won"`) and a date or number format.
//! The columns come from a mapping's `[pull]` section (loaded in `pull_load.rs`) or, without
//! a mapping, from [`PullColumns::standard`]. A value a map does not list is an error of the
//! row naming the column, the value and the referral, never a blank cell.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

use super::compiled::ValueMap;
use super::convert::float_text;

/// The columns of a pull file, in file order, and those of the inbound file if they differ.
#[derive(Debug, Clone)]
pub struct PullColumns {
    pub(super) columns: Vec<PullColumn>,
    /// `[pull.inbound]`: the columns of the file of inbound referrals (new CRM records).
    pub(super) inbound: Option<Box<PullColumns>>,
}

/// One CRM column: its header, where its value comes from and how it is written.
#[derive(Debug, Clone)]
pub(super) struct PullColumn {
    pub header: String,
    pub value: PullValue,
    pub map: Option<Arc<ValueMap>>,
    /// The text when the value is empty (a missing or null path, an empty template).
    pub default: Option<String>,
    pub format: CellFormat,
    /// Take the part of the text after (or before) the last occurrence of a separator.
    pub part: Option<Part>,
}

/// A part of a value's text, around the last occurrence of a separator: the `Created On` of
/// a sync key built as `{Topic} | {Created On}`.
#[derive(Debug, Clone)]
pub(super) enum Part {
    AfterLast(String),
    BeforeLast(String),
}

impl Part {
    fn take(&self, text: &str) -> Result<String, String> {
        let (sep, after) = match self {
            Part::AfterLast(sep) => (sep, true),
            Part::BeforeLast(sep) => (sep, false),
        };
        let (before, rest) = text
            .rsplit_once(sep.as_str())
            .ok_or_else(|| format!("{text:?} has no {sep:?} to split at"))?;
        Ok(if after { rest } else { before }.to_string())
    }
}

/// Where a column's value comes from.
#[derive(Debug, Clone)]
pub(super) enum PullValue {
    Path(RecordPath),
    Template(Vec<PathPiece>),
    Literal(String),
}

/// A piece of a template of paths.
#[derive(Debug, Clone)]
pub(super) enum PathPiece {
    Text(String),
    Path(RecordPath),
}

/// A path into the pull record, as written (`customerProfile.team[0].email`).
#[derive(Debug, Clone)]
pub(super) struct RecordPath {
    pub text: String,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

/// How a value is written into its cell.
#[derive(Debug, Clone, Default)]
pub(super) struct CellFormat {
    /// strftime format for date-time text (`%m/%d/%Y`), in `timezone`.
    pub date: Option<(String, TimeZone)>,
    /// Digits after the decimal separator for numbers.
    pub decimals: Option<usize>,
    pub decimal_comma: bool,
    /// The words for true and false.
    pub words: Option<(String, String)>,
}

/// A cell that cannot be written: the column, the path (or template) it reads, the referral.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("referral {referral}: column {column:?} ({path}): {message}")]
pub struct PullCellError {
    pub column: String,
    pub path: String,
    /// The referral's `id`.
    pub referral: String,
    pub message: String,
}

impl PullColumns {
    /// The column headers, in file order.
    pub fn headers(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.header.clone()).collect()
    }

    /// The cells of one pull record, in header order; the first cell that cannot be written
    /// is the error of the record.
    pub fn row(&self, record: &Value) -> Result<Vec<String>, PullCellError> {
        self.columns.iter().map(|c| c.cell(record)).collect()
    }

    /// The columns of the inbound file: `[pull.inbound]` when the mapping has it, else these.
    pub fn inbound(&self) -> &PullColumns {
        self.inbound.as_deref().unwrap_or(self)
    }

    /// Whether a pull record is an inbound referral (shared with the partner by Microsoft):
    /// a new record for the CRM.
    pub fn is_inbound(record: &Value) -> bool {
        record.get("direction").and_then(Value::as_str) == Some("Incoming")
    }

    /// The columns of a pull without a mapping: the referral's keys, status and deal in the
    /// API's own names, and the customer and contact of inbound referrals.
    pub fn standard() -> PullColumns {
        let columns = super::pull_paths::STANDARD
            .iter()
            .map(|(header, path)| PullColumn {
                header: (*header).to_string(),
                value: PullValue::Path(RecordPath::standard(path)),
                map: None,
                default: None,
                format: CellFormat::default(),
                part: None,
            })
            .collect();
        PullColumns {
            columns,
            inbound: None,
        }
    }
}

impl PullColumn {
    fn cell(&self, record: &Value) -> Result<String, PullCellError> {
        let fail = |message: String| PullCellError {
            column: self.header.clone(),
            path: self.source_text(),
            referral: referral_id(record),
            message,
        };
        let value = match &self.value {
            PullValue::Literal(text) => return Ok(text.clone()),
            PullValue::Path(path) => path.find(record).cloned().unwrap_or(Value::Null),
            PullValue::Template(pieces) => Value::String(template(pieces, record).map_err(fail)?),
        };
        if is_empty(&value) {
            return Ok(self.default.clone().unwrap_or_default());
        }
        let value = match &self.part {
            Some(part) => Value::String(
                part.take(&plain_text(&value).map_err(fail)?)
                    .map_err(fail)?,
            ),
            None => value,
        };
        let Some(map) = &self.map else {
            return self.format.write(&value).map_err(fail);
        };
        let key = plain_text(&value).map_err(fail)?;
        match map.get(&key).or(map.default.as_ref()) {
            Some(out) => plain_text(out).map_err(fail),
            None => Err(fail(format!(
                "{key:?} is not in the map `{}` and it has no `map_default`",
                map.name
            ))),
        }
    }

    /// The path or template the column reads, for messages.
    fn source_text(&self) -> String {
        match &self.value {
            PullValue::Path(path) => path.text.clone(),
            PullValue::Template(pieces) => pieces
                .iter()
                .map(|p| match p {
                    PathPiece::Text(t) => t.replace('{', "{{").replace('}', "}}"),
                    PathPiece::Path(path) => format!("{{{}}}", path.text),
                })
                .collect(),
            PullValue::Literal(text) => format!("value {text:?}"),
        }
    }
}

impl RecordPath {
    /// A path of the standard columns (known to be well formed).
    fn standard(text: &str) -> RecordPath {
        RecordPath {
            text: text.to_string(),
            segments: super::pull_paths::parse_path(text).unwrap_or_default(),
        }
    }

    /// The value at the path; keys match exactly, else ignoring case.
    fn find<'v>(&self, record: &'v Value) -> Option<&'v Value> {
        self.segments
            .iter()
            .try_fold(record, |at, segment| match segment {
                Segment::Index(i) => at.as_array()?.get(*i),
                Segment::Key(key) => {
                    let object = at.as_object()?;
                    object.get(key).or_else(|| {
                        let found = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key));
                        found.map(|(_, v)| v)
                    })
                }
            })
    }
}

impl CellFormat {
    /// A value as cell text: numbers and dates in the form the CRM reads back.
    fn write(&self, value: &Value) -> Result<String, String> {
        match value {
            Value::Number(n) => Ok(self.number(n)),
            Value::Bool(b) => Ok(match &self.words {
                Some((yes, no)) => if *b { yes } else { no }.clone(),
                None => b.to_string(),
            }),
            Value::String(text) => match &self.date {
                Some((format, tz)) => date_text(text, format, tz),
                None => Ok(text.clone()),
            },
            Value::Null | Value::Array(_) | Value::Object(_) => plain_text(value),
        }
    }

    fn number(&self, n: &serde_json::Number) -> String {
        let text = match (self.decimals, n.as_f64()) {
            (Some(places), Some(f)) => format!("{f:.places$}"),
            _ if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), float_text),
            _ => n.to_string(),
        };
        if self.decimal_comma {
            text.replace('.', ",")
        } else {
            text
        }
    }
}

/// A UTC ISO-8601 date-time of the API in a CRM's date format, in the CRM's time zone. A
/// date-time without an offset, or a bare date, is taken as UTC.
fn date_text(text: &str, format: &str, tz: &TimeZone) -> Result<String, String> {
    let text = text.trim();
    let utc = |civil: jiff::civil::DateTime| civil.to_zoned_datetime(TimeZone::UTC).ok();
    let instant = text
        .parse::<Timestamp>()
        .ok()
        .or_else(|| utc(text.parse::<jiff::civil::DateTime>().ok()?).map(|z| z.timestamp()))
        .ok_or_else(|| {
            format!("{text:?} is not a date-time (expected ISO 8601, e.g. 2026-03-31T00:00:00Z)")
        })?;
    let zoned = instant.to_zoned_datetime(tz.clone());
    jiff::fmt::strtime::format(format, &zoned).map_err(|e| format!("cannot format {text:?}: {e}"))
}

/// Fill a template of paths; empty when every path in it is empty.
fn template(pieces: &[PathPiece], record: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut any_value = false;
    for piece in pieces {
        match piece {
            PathPiece::Text(text) => out.push_str(text),
            PathPiece::Path(path) => {
                let value = path.find(record).unwrap_or(&Value::Null);
                any_value |= !is_empty(value);
                out.push_str(&plain_text(value).map_err(|e| format!("{}: {e}", path.text))?);
            }
        }
    }
    let has_path = pieces.iter().any(|p| matches!(p, PathPiece::Path(_)));
    Ok(if has_path && !any_value {
        String::new()
    } else {
        out
    })
}

/// A scalar as text (numbers as the API wrote them, integral floats without `.0`); an array
/// of scalars joined by `;`; an object is an error (a column names one of its fields).
fn plain_text(value: &Value) -> Result<String, String> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) if n.is_f64() => Ok(n.as_f64().map_or_else(|| n.to_string(), float_text)),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(items) => {
            let texts: Result<Vec<String>, String> = items
                .iter()
                .map(|item| match item {
                    Value::Array(_) | Value::Object(_) => Err(
                        "is a list of objects; name one element's field, e.g. `[0].id`".to_string(),
                    ),
                    scalar => plain_text(scalar),
                })
                .collect();
            Ok(texts?.join(";"))
        }
        Value::Object(_) => Err("is an object; name one of its fields".to_string()),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Bool(_) | Value::Number(_) | Value::Object(_) => false,
    }
}

/// The referral's `id`, for messages.
fn referral_id(record: &Value) -> String {
    match record.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(other) => other.to_string(),
        None => "(no id)".to_string(),
    }
}
