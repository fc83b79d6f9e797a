//! Decides the `Cell` for every kind of spreadsheet value calamine reads, one arm per kind:
//! integral floats become `Int` (so `1200.0` prints as `1200`), date-formatted numbers become
//! `Date` (midnight) or `DateTime` in either the 1900 or the 1904 date system, a time of day
//! or a duration becomes text such as `7:30:00`, and error cells such as `#N/A` become
//! `Cell::Error`.

use calamine::{Data, ExcelDateTime};
use jiff::civil;

use super::Cell;

/// The largest float that is still an exact integer (2^53).
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// The cell for one spreadsheet value.
pub(super) fn data_to_cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) if s.is_empty() => Cell::Empty,
        Data::String(s) => Cell::String(s.clone()),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => float_cell(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => excel_datetime(dt),
        Data::DateTimeIso(text) => iso_datetime(text),
        Data::DurationIso(text) => Cell::String(text.clone()),
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

/// The text of a header cell.
pub(super) fn header_text(data: &Data) -> String {
    match data_to_cell(data) {
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
