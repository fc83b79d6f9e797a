//! What the sampled values of a column say: whether they fit a target (an id is unique, a
//! deal value parses as money, a country resolves), which date formats and decimal mark they
//! use, and how status values read (open, won, lost).

use crate::mapping::{parse_date, parse_decimal};
use crate::referral::{country_code, currency_code};

use super::names::{Outcome, Target, outcome_of};
use super::profile::Column;

/// Share of values that must pass a test for a column to be taken.
const MOSTLY: f64 = 0.8;

/// Whether a column's values fit a target well enough to map it.
pub fn fits(target: Target, column: &Column, rows: usize) -> bool {
    if column.texts.is_empty() {
        // A header without rows: the name is all there is to go by.
        return rows == 0;
    }
    match target {
        Target::Id => column.unique && column.fill(rows) >= 0.99,
        Target::Name => column.fill(rows) >= 0.5,
        Target::Customer => column.fill(rows) >= 0.5 && column.share(looks_like_guid) < 0.5,
        Target::Country => column.share(|t| country_code(t).is_some()) >= 0.5,
        Target::Currency => column.share(|t| currency_code(t).is_some()) >= 0.5,
        Target::StatusReason => column.share(|t| t.parse::<f64>().is_err()) >= 0.5,
        Target::DealValue => decimal_comma(column).is_some(),
        Target::CloseDate => column.typed_dates > 0 || date_formats(column).is_some(),
        Target::Status => !column.many && column.fill(rows) >= 0.5,
        Target::Created => column.typed_dates > 0 || column.fill(rows) >= 0.99,
        _ => true,
    }
}

/// Most values are country names or codes the built-in table knows.
pub fn is_country(column: &Column) -> bool {
    column.share(|t| country_code(t).is_some()) >= MOSTLY
}

/// Most values are currency names or codes the built-in table knows.
pub fn is_currency(column: &Column) -> bool {
    column.share(|t| currency_code(t).is_some()) >= MOSTLY
}

fn looks_like_guid(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Whether the column's money values use a decimal comma (`Some(true)`), a decimal point
/// (`Some(false)`), or do not parse as money (`None`). A tie goes to the point.
pub fn decimal_comma(column: &Column) -> Option<bool> {
    let point = column.share(|t| parse_decimal(t, false).is_ok());
    let comma = column.share(|t| parse_decimal(t, true).is_ok());
    let negative = column.share(|t| parse_decimal(t, false).is_ok_and(|v| v < 0.0));
    if point.max(comma) < MOSTLY || negative > 0.0 {
        return None;
    }
    // `1.234` parses both ways; a comma decimal shows itself in values such as `48.500,50`.
    let comma_shown = column
        .texts
        .iter()
        .any(|t| parse_decimal(t, false).is_err() && parse_decimal(t, true).is_ok());
    Some(comma > point || (comma == point && comma_shown))
}

/// Date formats, grouped by the order of day, month and year; each family is tried as a
/// whole, so that `%m/%d/%Y` and `%d/%m/%Y` are never mixed in one column.
#[rustfmt::skip]
const DATE_FAMILIES: &[&[&str]] = &[
    &["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"],
    &["%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%y"],
    &["%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y"],
    &["%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%y"],
    &["%d-%m-%Y", "%d-%m-%Y %H:%M"],
    &["%Y/%m/%d", "%Y/%m/%d %H:%M"],
];

/// The formats of the family that reads most of the column's dates, all of them (a time
/// of day the sample never shows may still come later); `None` when no family reads most.
pub fn date_formats(column: &Column) -> Option<Vec<String>> {
    let reads = |family: &[&str]| {
        let formats: Vec<String> = family.iter().map(|f| (*f).to_owned()).collect();
        column
            .texts
            .iter()
            .filter(|t| parse_date(t, &formats).is_ok())
            .count()
    };
    let (read, family) = DATE_FAMILIES
        .iter()
        .map(|family| (reads(family), family))
        .fold((0, None), |best, (read, family)| {
            if read > best.0 {
                (read, Some(family))
            } else {
                best
            }
        });
    let family = family?;
    (read as f64 >= MOSTLY * column.texts.len() as f64)
        .then(|| family.iter().map(|f| (*f).to_owned()).collect())
}

/// The Referral status and substatus of an outcome.
pub fn status_pair(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::Open => ("New", "Pending"),
        Outcome::Won => ("Closed", "Won"),
        Outcome::Lost | Outcome::Closed => ("Closed", "Lost"),
    }
}

/// Each distinct status value with how it reads. A Dataverse `statecode` without its label
/// is read by number (0 open, 1 won, 2 lost).
pub fn status_values(column: &Column, numeric_state: bool) -> Vec<(String, Outcome)> {
    column
        .distinct
        .iter()
        .map(|v| {
            let outcome = match (numeric_state, v.as_str()) {
                (true, "1") => Outcome::Won,
                (true, "2") => Outcome::Lost,
                (true, _) => Outcome::Open,
                _ => outcome_of(v),
            };
            (v.clone(), outcome)
        })
        .collect()
}

/// The country of a currency used in one country only (or by convention, as the dollar).
#[rustfmt::skip]
const CURRENCY_COUNTRY: &[(&str, &str)] = &[
    ("USD", "US"), ("GBP", "GB"), ("CAD", "CA"), ("AUD", "AU"), ("JPY", "JP"), ("CHF", "CH"),
    ("INR", "IN"), ("BRL", "BR"), ("MXN", "MX"), ("SEK", "SE"), ("NOK", "NO"), ("DKK", "DK"),
    ("PLN", "PL"), ("CNY", "CN"), ("NZD", "NZ"), ("ZAR", "ZA"), ("SGD", "SG"), ("CZK", "CZ"),
    ("HUF", "HU"), ("KRW", "KR"), ("TRY", "TR"), ("ILS", "IL"), ("AED", "AE"), ("SAR", "SA"),
];

/// The one country every sampled currency belongs to, if there is one.
pub fn country_of_currencies<'a>(values: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    let mut country = None;
    for value in values {
        let code = currency_code(value)?;
        let (_, here) = CURRENCY_COUNTRY.iter().find(|(c, _)| *c == code)?;
        if country.is_some_and(|c| c != *here) {
            return None;
        }
        country = Some(*here);
    }
    country
}

/// The currency a money value names by symbol or code (`1.234,50 €`, `$ 12`, `USD 12`).
pub fn currency_in_amount(text: &str) -> Option<&'static str> {
    let symbol = match () {
        _ if text.contains('€') => "EUR",
        _ if text.contains('£') => "GBP",
        _ if text.contains('¥') => "JPY",
        _ if text.contains('$') => "USD",
        _ => {
            let letters: String = text.chars().filter(char::is_ascii_alphabetic).collect();
            return currency_code(&letters).filter(|_| letters.len() == 3);
        }
    };
    Some(symbol)
}
