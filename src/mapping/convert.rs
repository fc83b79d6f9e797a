//! Typed conversions of cell text: decimals with thousands separators, currency symbols and
//! decimal commas; integers; booleans with configurable words; dates and date-times with
//! explicit formats and a time zone, always emitted as UTC ISO-8601.
//!
//! Every function here is pure and total: bad text is an `Err(message)` for the row, never a
//! panic, and the same input always gives the same output.

use std::borrow::Cow;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, fmt::strtime};
use serde_json::Value;

/// One raw value read from a row, before conversion.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw<'a> {
    Empty,
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(Date),
    DateTime(DateTime),
}

impl<'a> Raw<'a> {
    /// The value as text, as a template or a value map sees it (trimmed; integral floats
    /// without `.0`; dates ISO).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Raw::Empty => Cow::Borrowed(""),
            Raw::Text(s) => Cow::Borrowed(trim(s)),
            Raw::Int(i) => Cow::Owned(i.to_string()),
            Raw::Float(f) => Cow::Owned(float_text(*f)),
            Raw::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Raw::Date(d) => Cow::Owned(d.to_string()),
            Raw::DateTime(dt) => Cow::Owned(dt.strftime("%Y-%m-%dT%H:%M:%S").to_string()),
        }
    }

    /// The value as text, as [`Raw::text`] gives it, keeping what the value borrows.
    pub fn into_text(self) -> Cow<'a, str> {
        match self {
            Raw::Text(Cow::Borrowed(s)) => Cow::Borrowed(trim(s)),
            Raw::Text(Cow::Owned(s)) if trim(&s).len() == s.len() => Cow::Owned(s),
            other => Cow::Owned(other.text().into_owned()),
        }
    }

    /// Whether the value is empty or only blanks.
    pub fn is_empty(&self) -> bool {
        match self {
            Raw::Empty => true,
            Raw::Text(s) => trim(s).is_empty(),
            Raw::Int(_) | Raw::Float(_) | Raw::Bool(_) | Raw::Date(_) | Raw::DateTime(_) => false,
        }
    }
}

/// `text` without leading and trailing whitespace, as `str::trim` gives it; text that starts
/// and ends with a visible ASCII character (nearly every cell) is returned without a scan.
pub fn trim(text: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|b| (b'!'..=b'~').contains(b));
    let bytes = text.as_bytes();
    if visible(bytes.first()) && visible(bytes.last()) {
        text
    } else {
        text.trim()
    }
}

/// Print a float the way a spreadsheet shows it: integral values without `.0`.
pub fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// A JSON number: integral values as integers (so `13400` stays `13400`), others as floats.
pub fn number_value(f: f64) -> Result<Value, String> {
    if !f.is_finite() {
        return Err(format!("{f} is not a finite number"));
    }
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Ok(Value::from(f as i64));
    }
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} is not a finite number"))
}

const CURRENCY_SYMBOLS: &[char] = &['$', '€', '£', '¥', '₹', '₩', '₽', '¤', '₺', '₪', '₫', '฿'];

/// Parse a decimal such as `1,234.50`, `$ 1 234,50` (with `decimal_comma`), `(12.00)` or
/// `USD 12`. Thousands separators must group digits by three.
pub fn parse_decimal(text: &str, decimal_comma: bool) -> Result<f64, String> {
    match plain_decimal(trim(text), decimal_comma) {
        Some(value) => Ok(value),
        None => decimal_rules(text, decimal_comma),
    }
}

/// `parse_decimal` by its full rules.
fn decimal_rules(text: &str, decimal_comma: bool) -> Result<f64, String> {
    let fail = || format!("expected a decimal number, got {text:?}");
    let mut s = text.trim();
    let mut negative = false;
    if let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        negative = true;
        s = inner.trim();
    }
    // Currency codes or symbols on either side: "USD 12", "12 €", "$12".
    s = s.trim_matches(|c: char| CURRENCY_SYMBOLS.contains(&c) || c.is_whitespace());
    s = s
        .trim_start_matches(|c: char| c.is_ascii_uppercase())
        .trim_start();
    s = s
        .trim_end_matches(|c: char| c.is_ascii_uppercase())
        .trim_end();
    s = s.trim_matches(|c: char| CURRENCY_SYMBOLS.contains(&c) || c.is_whitespace());
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.trim_start_matches(|c: char| CURRENCY_SYMBOLS.contains(&c) || c.is_whitespace());
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    let (point, seps): (char, &[char]) = if decimal_comma {
        (',', &['.', ' ', '\u{a0}', '\u{202f}', '\''])
    } else {
        ('.', &[',', ' ', '\u{a0}', '\u{202f}', '\''])
    };
    let (int_part, frac_part) = match s.split_once(point) {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = grouped_digits(int_part, seps).ok_or_else(fail)?;
    let mut plain = digits;
    if let Some(frac) = frac_part {
        if frac.is_empty() || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(fail());
        }
        plain.push('.');
        plain.push_str(frac);
    }
    let value: f64 = plain.parse().map_err(|_| fail())?;
    if !value.is_finite() {
        return Err(fail());
    }
    Ok(if negative { -value } else { value })
}

/// The common case of `parse_decimal`, without its copies: digits with at most one decimal
/// point (`160555`, `333602.5`), digits at both ends. `None` sends anything else through the
/// full rules.
fn plain_decimal(s: &str, decimal_comma: bool) -> Option<f64> {
    let bytes = s.as_bytes();
    let point = if decimal_comma { b',' } else { b'.' };
    let ends_ok = bytes.first()?.is_ascii_digit() && bytes.last()?.is_ascii_digit();
    let points = bytes.iter().filter(|&&b| b == point).count();
    let plain = bytes.iter().all(|&b| b.is_ascii_digit() || b == point);
    if !(ends_ok && plain && points <= 1) {
        return None;
    }
    let value: f64 = if points == 1 && decimal_comma {
        s.replacen(',', ".", 1).parse().ok()?
    } else {
        s.parse().ok()?
    };
    value.is_finite().then_some(value)
}

/// The digits of an integer part, with thousands separators removed; `None` when the
/// separators do not group digits by three or anything else is in the way.
fn grouped_digits(int_part: &str, seps: &[char]) -> Option<String> {
    if int_part.is_empty() {
        return None;
    }
    let Some(sep) = int_part.chars().find(|c| seps.contains(c)) else {
        return int_part
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| int_part.to_string());
    };
    let mut groups = int_part.split(sep);
    let first = groups.next()?;
    let first_ok = (1..=3).contains(&first.len()) && first.chars().all(|c| c.is_ascii_digit());
    if !first_ok {
        return None;
    }
    let mut out = first.to_string();
    for group in groups {
        if group.len() != 3 || !group.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        out.push_str(group);
    }
    Some(out)
}

/// Parse an integer such as `42`, `-7` or `1,000`.
pub fn parse_integer(text: &str) -> Result<i64, String> {
    let fail = || format!("expected an integer, got {text:?}");
    let s = text.trim();
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits = grouped_digits(body, &[',', ' ', '\u{a0}']).ok_or_else(fail)?;
    let value: i64 = digits.parse().map_err(|_| fail())?;
    Ok(if negative { -value } else { value })
}

/// The words a bool conversion accepts (compared case-insensitively, trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoolWords {
    pub truthy: Vec<String>,
    pub falsy: Vec<String>,
}

impl Default for BoolWords {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        BoolWords {
            truthy: words(&["true", "yes", "y", "1", "on", "x"]),
            falsy: words(&["false", "no", "n", "0", "off"]),
        }
    }
}

/// Parse a bool by the configured words.
pub fn parse_bool(text: &str, words: &BoolWords) -> Result<bool, String> {
    let t = text.trim();
    if words.truthy.iter().any(|w| w.eq_ignore_ascii_case(t)) {
        Ok(true)
    } else if words.falsy.iter().any(|w| w.eq_ignore_ascii_case(t)) {
        Ok(false)
    } else {
        Err(format!(
            "expected one of {} (true) or {} (false), got {t:?}",
            words.truthy.join("/"),
            words.falsy.join("/")
        ))
    }
}

/// Parse a calendar date with the first format that matches (`strftime` syntax).
pub fn parse_date(text: &str, formats: &[String]) -> Result<Date, String> {
    let t = text.trim();
    for format in formats {
        if format == "%Y-%m-%d"
            && let Some(date) = iso_date(t)
        {
            return Ok(date);
        }
        if let Ok(tm) = strtime::parse(format, t)
            && let Ok(date) = tm.to_date()
        {
            return Ok(date);
        }
    }
    Err(format!(
        "expected a date like {}, got {t:?}",
        formats.join(" or ")
    ))
}

/// Parse a date-time with the first format that matches. A format with an offset (`%z`) or
/// Unix seconds (`%s`) fixes the instant; otherwise the wall time is read in `tz`.
pub fn parse_datetime(text: &str, formats: &[String], tz: &TimeZone) -> Result<Timestamp, String> {
    let t = text.trim();
    for format in formats {
        let Ok(tm) = strtime::parse(format, t) else {
            continue;
        };
        if tm.offset().is_some() || tm.timestamp().is_some() {
            if let Ok(ts) = tm.to_timestamp() {
                return Ok(ts);
            }
        } else if let Ok(dt) = tm.to_datetime() {
            return civil_to_utc(dt, tz);
        } else if let Ok(date) = tm.to_date() {
            return civil_to_utc(date.to_datetime(jiff::civil::Time::midnight()), tz);
        }
    }
    Err(format!(
        "expected a date-time like {}, got {t:?}",
        formats.join(" or ")
    ))
}

/// A wall-clock time in `tz` as an instant (an ambiguous time takes the earlier instant).
pub fn civil_to_utc(dt: DateTime, tz: &TimeZone) -> Result<Timestamp, String> {
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|e| format!("{dt} does not exist in the time zone: {e}"))
}

/// A date as `YYYY-MM-DDT00:00:00Z`: a calendar date, never shifted by a time zone.
pub fn date_utc(date: Date) -> String {
    format!("{}T00:00:00Z", date)
}

/// `YYYY-MM-DD` exactly (what `%Y-%m-%d` reads from ten characters), without the format
/// machinery; `None` for anything else, which the general parser then judges.
fn iso_date(text: &str) -> Option<Date> {
    let number = |part: &str| -> Option<i16> {
        part.bytes().try_fold(0i16, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + i16::from(b - b'0'))
        })
    };
    let (year, rest) = text.split_at_checked(4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = rest.split_at_checked(2)?;
    let day = rest.strip_prefix('-')?;
    if day.len() != 2 {
        return None;
    }
    let month = i8::try_from(number(month)?).ok()?;
    let day = i8::try_from(number(day)?).ok()?;
    Date::new(number(year)?, month, day).ok()
}

/// An instant as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn timestamp_utc(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Why a date (or, with `datetime`, date-time) format can never read a value, if it cannot.
///
/// The format writes a sample instant and must read its own output back as the run would
/// read a cell, so a directive jiff does not know (`%K`), one it cannot read (`%Z`), and a
/// format with nothing that gives a whole date (`""`, `"%H:%M"`, `"%Q"`) are all found at
/// load instead of failing every row.
pub fn unusable_format(format: &str, datetime: bool) -> Option<String> {
    let offset = jiff::tz::Offset::from_hours(2).unwrap_or(jiff::tz::Offset::UTC);
    let sample = jiff::civil::date(2024, 5, 20)
        .at(7, 42, 9, 123_000_000)
        .to_zoned_datetime(TimeZone::fixed(offset))
        .ok()?;
    let text = match strtime::format(format, &sample) {
        Ok(text) => text,
        Err(e) => return Some(format!("date format {format:?} is not valid: {e}")),
    };
    let formats = [format.to_string()];
    let read = if datetime {
        parse_datetime(&text, &formats, &TimeZone::UTC).map(|_| ())
    } else {
        parse_date(&text, &formats).map(|_| ())
    };
    read.err().map(|_| {
        format!(
            "date format {format:?} can never give a date: it needs a year, a month and a \
             day (e.g. \"%d.%m.%Y\" or \"%m/%d/%Y %H:%M\")"
        )
    })
}

/// The formats tried when a mapping gives none.
pub fn default_date_formats() -> Vec<String> {
    vec!["%Y-%m-%d".to_string()]
}

/// The formats tried for date-times when a mapping gives none (ISO 8601 with or without an
/// offset, and a plain date).
pub fn default_datetime_formats() -> Vec<String> {
    [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("1,234.50", false), Ok(1234.5));
        assert_eq!(parse_decimal("$ 1,234", false), Ok(1234.0));
        assert_eq!(parse_decimal("1.234,5 €", true), Ok(1234.5));
        assert_eq!(parse_decimal("(12.00)", false), Ok(-12.0));
        assert_eq!(parse_decimal("USD -3", false), Ok(-3.0));
        assert!(parse_decimal("1,23", false).is_err());
        assert!(parse_decimal("abc", false).is_err());
        assert!(parse_decimal("", false).is_err());
        assert!(parse_decimal("1.", false).is_err());
    }

    proptest::proptest! {
        #[test]
        fn the_iso_date_shortcut_agrees_with_the_format_parser(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9-]{0,11}|[0-9]{4}-[01][0-9]-[0-3][0-9]",
        ) {
            let general = strtime::parse("%Y-%m-%d", &text).and_then(|tm| tm.to_date()).ok();
            if let Some(fast) = iso_date(&text) {
                proptest::prop_assert_eq!(Some(fast), general);
            }
        }

        #[test]
        fn the_trim_shortcut_trims_as_str_trim_does(text in "\\PC{0,6}|[ \t\u{a0}\u{2003}]?[!-~]{0,4}[ \t\u{85}]?") {
            proptest::prop_assert_eq!(trim(&text), text.trim());
        }

        #[test]
        fn the_plain_decimal_shortcut_agrees_with_the_full_rules(
            text in "[0-9.,]{0,12}|[0-9]{1,400}",
            decimal_comma in proptest::bool::ANY,
        ) {
            if let Some(fast) = plain_decimal(text.trim(), decimal_comma) {
                proptest::prop_assert_eq!(Ok(fast), decimal_rules(&text, decimal_comma));
            }
        }
    }

    #[test]
    fn dates() {
        let f = vec!["%m/%d/%Y".to_string()];
        assert_eq!(
            parse_date("5/20/2024", &f).map(date_utc),
            Ok("2024-05-20T00:00:00Z".into())
        );
        let tz = TimeZone::get("America/New_York").unwrap();
        let f = vec!["%m/%d/%Y %H:%M".to_string()];
        let ts = parse_datetime("5/20/2024 7:42", &f, &tz).unwrap();
        assert_eq!(timestamp_utc(ts), "2024-05-20T11:42:00Z");
        let unix = vec!["%s".to_string()];
        let ts = parse_datetime("1716190929", &unix, &tz).unwrap();
        assert_eq!(timestamp_utc(ts), "2024-05-20T07:42:09Z");
        let ts = parse_datetime(
            "2024-01-22T16:14:25.000+0000",
            &default_datetime_formats(),
            &TimeZone::UTC,
        )
        .unwrap();
        assert_eq!(timestamp_utc(ts), "2024-01-22T16:14:25Z");
    }

    #[test]
    fn numbers_are_integral_when_possible() {
        assert_eq!(number_value(13400.0), Ok(Value::from(13400)));
        assert_eq!(number_value(1.5), Ok(serde_json::json!(1.5)));
        assert!(number_value(f64::NAN).is_err());
    }
}
