//! Decides the `Cell` for every kind of spreadsheet value calamine reads, one arm per kind:
//! integral floats become `Int` (so `1200.0` prints as `1200`), date-formatted numbers become
//! `Date` (midnight) or `DateTime` in either the 1900 or the 1904 date system, a time of day
//! or a duration becomes text such as `7:30:00`, and error cells such as `#N/A` become
//! `Cell::Error`.
//!
//! Values arrive in the form of calamine's streaming cell reader (`DataRef`); a whole loaded
//! sheet's values (`Data`, for xls and ods) are lent in that form, so both take one path.

use calamine::{Data, DataRef, ExcelDateTime};
use jiff::civil;

use super::Cell;

/// The largest float that is still an exact integer (2^53).
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// The cell for one spreadsheet value as calamine's cell reader yields it (shared strings
/// arrive as text borrowed from the workbook).
pub(super) fn cell_of(value: DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) if s.is_empty() => Cell::Empty,
        DataRef::String(s) => Cell::String(s),
        DataRef::SharedString("") => Cell::Empty,
        DataRef::SharedString(s) => Cell::String(s.to_owned()),
        DataRef::Int(i) => Cell::Int(i),
        DataRef::Float(f) => float_cell(f),
        DataRef::Bool(b) => Cell::Bool(b),
        DataRef::DateTime(dt) => excel_datetime(&dt),
        DataRef::DateTimeIso(text) => iso_datetime(&text),
        DataRef::DurationIso(text) => Cell::String(text),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

/// A value of a whole loaded sheet (xls, ods) in the cell reader's form, its text borrowed.
pub(super) fn borrow_data(data: &Data) -> DataRef<'_> {
    match data {
        Data::Empty => DataRef::Empty,
        Data::String(s) => DataRef::SharedString(s),
        Data::Int(i) => DataRef::Int(*i),
        Data::Float(f) => DataRef::Float(*f),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(dt) => DataRef::DateTime(*dt),
        Data::DateTimeIso(text) => DataRef::DateTimeIso(text.clone()),
        Data::DurationIso(text) => DataRef::DurationIso(text.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
    }
}

/// How a value counts when looking for the header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Nothing, or only spaces.
    Blank,
    /// Text.
    Text,
    /// A number, date, boolean or error.
    Other,
}

/// Whether a value is blank, text, or something else.
pub(super) fn kind_of(value: &DataRef<'_>) -> Kind {
    let text = match value {
        DataRef::Empty => return Kind::Blank,
        DataRef::String(s) => s.as_str(),
        DataRef::SharedString(s) => s,
        DataRef::Int(_)
        | DataRef::Float(_)
        | DataRef::Bool(_)
        | DataRef::DateTime(_)
        | DataRef::DateTimeIso(_)
        | DataRef::DurationIso(_)
        | DataRef::Error(_) => return Kind::Other,
    };
    if text.trim().is_empty() {
        Kind::Blank
    } else {
        Kind::Text
    }
}

/// The text of a header cell.
pub(super) fn header_text(cell: Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::String(s) => s.trim().to_owned(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) => f.to_string(),
        Cell::Bool(b) => if b { "TRUE" } else { "FALSE" }.to_owned(),
        Cell::Date(d) => d.to_string(),
        Cell::DateTime(dt) => dt.to_string(),
        Cell::Error(e) => e,
        // Workbooks make no spans.
        Cell::Span { .. } => String::new(),
    }
}

fn float_cell(f: f64) -> Cell {
    if f.fract() == 0.0 && f.abs() < EXACT_INT {
        // Exact: |f| < 2^53 and integral, so the cast loses nothing.
        Cell::Int(f as i64)
    } else {
        Cell::Float(f)
    }
}

fn excel_datetime(dt: &ExcelDateTime) -> Cell {
    let serial = dt.as_f64();
    if dt.is_duration() || (0.0..1.0).contains(&serial) {
        return Cell::String(clock_text(serial));
    }
    let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
    let Ok(date) = civil::Date::new(year as i16, month as i8, day as i8) else {
        // Only 1900-02-29, the day Excel's 1900 system counts but the calendar lacks.
        return Cell::Error(format!("#DATE: {year}-{month:02}-{day:02} does not exist"));
    };
    if (hour, minute, second, milli) == (0, 0, 0, 0) {
        return Cell::Date(date);
    }
    let nanos = i32::from(milli) * 1_000_000;
    match civil::Time::new(hour as i8, minute as i8, second as i8, nanos) {
        Ok(time) => Cell::DateTime(date.to_datetime(time)),
        Err(_) => Cell::Date(date),
    }
}

/// `h:mm:ss` for a fraction of a day or a duration in days (`[h]:mm:ss` in Excel terms).
fn clock_text(days: f64) -> String {
    let total = (days * 86_400.0).round();
    let sign = if total < 0.0 { "-" } else { "" };
    // Saturating cast: absurd durations clamp instead of wrapping.
    let total = total.abs() as u64;
    format!(
        "{sign}{}:{:02}:{:02}",
        total / 3600,
        total / 60 % 60,
        total % 60
    )
}

/// ODS dates arrive as ISO 8601 text: `2024-01-31` or `2024-01-31T10:00:00`.
fn iso_datetime(text: &str) -> Cell {
    let parsed = if text.contains('T') {
        text.parse::<civil::DateTime>().map(Cell::DateTime)
    } else {
        text.parse::<civil::Date>().map(Cell::Date)
    };
    parsed.unwrap_or_else(|_| Cell::String(text.to_owned()))
}
