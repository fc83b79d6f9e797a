//! The `$filter` subset the sandbox understands: `field eq value` terms joined by `and`, with
//! optional parentheses, as in every documented example that a client of this tool sends.
//!
//! Values are quoted (`'…'`, `''` for a quote) or bare (`engagementId eq 37ef…`, as live
//! `relatedReferrals` links are written). Enum fields compare without regard to case;
//! `createdDateTime` and `updatedDateTime` compare as instants and also take `gt`, `ge`, `lt`
//! and `le` (for "changed since" queries). Any other operator, `or`, `not`, lambdas
//! (`team/any(…)`) or an unknown field is an error, which the list turns into a 400.

use std::cmp::Ordering;
use std::ops::Bound;

use jiff::Timestamp;
use serde_json::Value;

use super::index::Range;
use super::time;

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Exactly.
    Text,
    /// Without regard to case (`status eq 'active'`).
    Enum,
    /// As instants; the only kind that also takes `gt`, `ge`, `lt` and `le`.
    Time,
}

/// The fields a filter may name, with their JSON path and kind.
const FIELDS: &[(&str, &[&str], Kind)] = &[
    ("id", &["id"], Kind::Text),
    ("engagementId", &["engagementId"], Kind::Text),
    ("externalReferenceId", &["externalReferenceId"], Kind::Text),
    ("organizationId", &["organizationId"], Kind::Text),
    ("name", &["name"], Kind::Text),
    ("status", &["status"], Kind::Enum),
    ("substatus", &["substatus"], Kind::Enum),
    ("type", &["type"], Kind::Enum),
    ("direction", &["direction"], Kind::Enum),
    ("qualification", &["qualification"], Kind::Enum),
    (
        "customerProfile/address/country",
        &["customerProfile", "address", "country"],
        Kind::Enum,
    ),
    ("createdDateTime", &["createdDateTime"], Kind::Time),
    ("updatedDateTime", &["updatedDateTime"], Kind::Time),
];

/// One `field op value` term; `value` `None` is `null`.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    path: &'static [&'static str],
    kind: Kind,
    op: Ordering,
    /// `op` or equal (`ge`, `le`).
    or_equal: bool,
    value: Option<String>,
}

/// A parsed `$filter`: every term must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

impl Filter {
    /// Parse a `$filter` expression; the error says what is not supported.
    pub fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let mut terms = Vec::new();
        let mut depth = 0usize;
        let mut expect_term = true;
        let mut rest = tokens.as_slice();
        while let Some((token, tail)) = rest.split_first() {
            rest = tail;
            match token {
                Token::Open if expect_term => depth += 1,
                Token::Close if !expect_term && depth > 0 => depth -= 1,
                Token::Word(w) if !expect_term && w.eq_ignore_ascii_case("and") => {
                    expect_term = true;
                }
                Token::Word(field) if expect_term => {
                    let (term, tail) = parse_term(field, rest)?;
                    terms.push(term);
                    rest = tail;
                    expect_term = false;
                }
                other => return Err(format!("unexpected {}", describe(other))),
            }
        }
        if expect_term && !tokens.is_empty() {
            return Err("the filter ends in the middle of a term".into());
        }
        if depth > 0 {
            return Err("a parenthesis is not closed".into());
        }
        Ok(Filter { terms })
    }

    /// The times the filter allows for a top-level time `field`, in the API's timestamp
    /// format, as a range that holds every match (bounds inclusive; `matches` decides the
    /// edges): a listing ordered by that field starts and stops there instead of scanning.
    pub fn range(&self, field: &str) -> Range {
        let mut lower: Option<String> = None;
        let mut upper: Option<String> = None;
        for term in &self.terms {
            let (Kind::Time, [name], Some(value)) = (term.kind, term.path, &term.value) else {
                continue;
            };
            let Some(at) = time::canonical(value).filter(|_| *name == field) else {
                continue;
            };
            if term.op != Ordering::Less {
                lower = lower.max(Some(at.clone()));
            }
            if term.op != Ordering::Greater {
                upper = Some(upper.map_or(at.clone(), |u| u.min(at)));
            }
        }
        let bound = |b: Option<String>| b.map_or(Bound::Unbounded, Bound::Included);
        (bound(lower), bound(upper))
    }

    pub fn matches(&self, referral: &Value) -> bool {
        self.terms.iter().all(|term| {
            let mut value = Some(referral);
            for key in term.path {
                value = value.and_then(|v| v.get(key));
            }
            match (value.and_then(Value::as_str), &term.value) {
                (Some(actual), Some(wanted)) => term.holds(actual, wanted),
                (None, None) => term.op == Ordering::Equal,
                _ => false,
            }
        })
    }
}

impl Term {
    fn holds(&self, actual: &str, wanted: &str) -> bool {
        let ordering = match self.kind {
            Kind::Text => actual.cmp(wanted),
            Kind::Enum => actual
                .to_ascii_lowercase()
                .cmp(&wanted.to_ascii_lowercase()),
            Kind::Time => match (actual.parse::<Timestamp>(), wanted.parse::<Timestamp>()) {
                (Ok(actual), Ok(wanted)) => actual.cmp(&wanted),
                _ => return false,
            },
        };
        ordering == self.op || (self.or_equal && ordering == Ordering::Equal)
    }
}

fn parse_term<'a>(field: &str, rest: &'a [Token]) -> Result<(Term, &'a [Token]), String> {
    let &(_, path, kind) = FIELDS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(field))
        .ok_or_else(|| format!("filtering on {field:?} is not supported"))?;
    let (operator, rest) = rest
        .split_first()
        .ok_or_else(|| format!("{field} has no operator"))?;
    let (op, or_equal) = match operator {
        Token::Word(op) => parse_operator(op, kind)
            .ok_or_else(|| format!("{field} {op}: the operator is not supported"))?,
        other => return Err(format!("{field} is followed by {}", describe(other))),
    };
    let (value, rest) = rest
        .split_first()
        .ok_or_else(|| format!("{field} has no value"))?;
    let value = match value {
        Token::Quoted(text) => Some(text.clone()),
        Token::Word(w) if w.eq_ignore_ascii_case("null") => None,
        Token::Word(w) if !is_keyword(w) => Some(w.clone()),
        other => return Err(format!("{field} is compared with {}", describe(other))),
    };
    let is_time = |v: &String| v.parse::<Timestamp>().is_ok();
    if kind == Kind::Time && value.as_ref().is_some_and(|v| !is_time(v)) {
        return Err(format!("{field}: the value is not an ISO 8601 UTC time"));
    }
    if value.is_none() && op != Ordering::Equal {
        return Err(format!("{field}: null can only be compared with eq"));
    }
    let term = Term {
        path,
        kind,
        op,
        or_equal,
        value,
    };
    Ok((term, rest))
}

/// `eq` for every field; `gt`, `ge`, `lt`, `le` for times only.
fn parse_operator(op: &str, kind: Kind) -> Option<(Ordering, bool)> {
    let op = op.to_ascii_lowercase();
    match op.as_str() {
        "eq" => Some((Ordering::Equal, false)),
        _ if kind != Kind::Time => None,
        "gt" => Some((Ordering::Greater, false)),
        "ge" => Some((Ordering::Greater, true)),
        "lt" => Some((Ordering::Less, false)),
        "le" => Some((Ordering::Less, true)),
        _ => None,
    }
}

fn is_keyword(word: &str) -> bool {
    ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "\"(\"".into(),
        Token::Close => "\")\"".into(),
        Token::Word(w) => format!("{w:?}"),
        Token::Quoted(q) => format!("'{q}'"),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '\'' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\'')) if chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some((_, '\'')) => break,
                        Some((_, ch)) => value.push(ch),
                        None => return Err(format!("the quote at offset {at} is not closed")),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            c if is_word_char(c) => {
                let mut word = String::from(c);
                while let Some((_, n)) = chars.peek().copied().filter(|(_, n)| is_word_char(*n)) {
                    word.push(n);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(format!("unexpected {other:?} at offset {at}")),
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || "_-/.:@".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_terms_give_the_range_an_ordered_listing_walks() -> Result<(), String> {
        let at = |t: &str| Bound::Included(format!("2024-05-0{t}T00:00:00.0000000Z"));
        let filter = Filter::parse(
            "updatedDateTime gt '2024-05-01T00:00:00Z' and updatedDateTime ge 2024-05-02T00:00:00Z \
             and status eq 'New' and updatedDateTime lt '2024-05-09T00:00:00Z' \
             and createdDateTime le '2024-05-03T00:00:00Z'",
        )?;
        assert_eq!(filter.range("updatedDateTime"), (at("2"), at("9")));
        assert_eq!(filter.range("createdDateTime"), (Bound::Unbounded, at("3")));
        let exact = Filter::parse("updatedDateTime eq '2024-05-04T00:00:00Z'")?;
        assert_eq!(exact.range("updatedDateTime"), (at("4"), at("4")));
        Ok(())
    }

    #[test]
    fn documented_forms_parse_and_match() -> Result<(), String> {
        let referral = json!({
            "engagementId": "37ef", "status": "Active", "direction": "Outgoing",
            "type": "Shared", "externalReferenceId": "O'Brien-1",
            "createdDateTime": "2024-05-01T10:00:00Z", "updatedDateTime": "2024-05-02T10:00:00Z",
            "customerProfile": {"address": {"country": "US"}},
        });
        for text in [
            "engagementId eq '37ef'",
            "engagementId eq 37ef",
            "(type eq 'Shared' and direction eq 'Outgoing')",
            "status eq 'active' and (direction eq 'Outgoing')",
            "customerProfile/address/country eq 'US'",
            "externalReferenceId eq 'O''Brien-1'",
            "substatus eq null",
            "updatedDateTime ge '2020-01-01T00:00:00Z' and createdDateTime lt 2999-01-01T00:00:00Z",
            "createdDateTime eq '2024-05-01T10:00:00.0000000Z'",
            "",
        ] {
            assert!(Filter::parse(text)?.matches(&referral), "{text}");
        }
        assert!(!Filter::parse("direction eq 'Incoming'")?.matches(&referral));
        assert!(!Filter::parse("updatedDateTime gt '2024-05-02T10:00:00Z'")?.matches(&referral));
        Ok(())
    }

    #[test]
    fn unsupported_forms_are_errors() {
        for text in [
            "status ne 'New'",
            "status gt 'New'",
            "updatedDateTime gt 'yesterday'",
            "updatedDateTime gt null",
            "status eq 'New' or status eq 'Active'",
            "team/any(t:t/email eq 'a@b.c')",
            "favorite eq true",
            "status eq",
            "status eq 'New' and",
            "(status eq 'New'",
            "status eq 'New')",
            "status eq 'unterminated",
            "not status eq 'New'",
            "status eq 'New' status eq 'Active'",
        ] {
            assert!(Filter::parse(text).is_err(), "{text} accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_fails_without_panicking(text in "\\PC{0,80}") {
            let referral = json!({"status": "Active"});
            if let Ok(filter) = Filter::parse(&text) {
                let _ = filter.matches(&referral);
            }
        }

        #[test]
        fn filter_shaped_text_never_panics(
            text in "[()' a-zA-Z/]{0,12}( (eq|and|or|ne) [()' a-zA-Z0-9/-]{0,12}){0,4}"
        ) {
            let _ = Filter::parse(&text);
        }
    }
}
