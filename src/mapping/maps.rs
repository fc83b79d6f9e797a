//! Value maps and typed conversions of a value spec: `map` (named, inline or built in) with
//! its outputs checked against the target's enum, and `type`/`format`/`timezone`/bool words.

use std::sync::Arc;

use jiff::tz::TimeZone;
use serde_json::Value;
use toml_edit::{Item, TableLike};

use super::compiled::{Builtin, Conversion, Leaf, ValueMap};
use super::convert::{BoolWords, default_date_formats, default_datetime_formats};
use super::load::{Loader, item_span};
use super::spec::{TYPES, Target, did_you_mean};
use super::targets::Kind;

impl Loader<'_> {
    pub fn conversion(&mut self, table: &dyn TableLike, target: &Target<'_>, leaf: &mut Leaf) {
        if let Some(item) = table.get("type") {
            match item.as_str() {
                Some(name) if TYPES.contains(&name) => {
                    leaf.conversion = named_conversion(name);
                }
                other => {
                    let hint = other.map(|n| did_you_mean(n, TYPES)).unwrap_or_default();
                    self.diag.at(
                        item_span(item),
                        format!(
                            "{}: unknown type {}{hint} (one of {})",
                            target.path,
                            other.map_or("(not a string)".into(), |n| format!("`{n}`")),
                            TYPES.join(", ")
                        ),
                    );
                }
            }
        }
        let formats = table.get("format").map(|item| {
            let formats = self.strings(item, "format");
            let datetime = matches!(leaf.conversion, Conversion::DateTime { .. });
            if datetime || matches!(leaf.conversion, Conversion::Date { .. }) {
                self.check_formats(item, &formats, datetime, target.path);
            }
            formats
        });
        let tz = table.get("timezone").and_then(|item| {
            let name = item.as_str().unwrap_or("");
            match TimeZone::get(name) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    self.diag
                        .at(item_span(item), format!("unknown time zone {name:?}"));
                    None
                }
            }
        });
        let decimal_comma = self.bool_key(table, "decimal_comma", target.path);
        let truthy = table.get("true").map(|i| self.strings(i, "true"));
        let falsy = table.get("false").map(|i| self.strings(i, "false"));
        match &mut leaf.conversion {
            Conversion::Date { formats: f } => *f = formats.unwrap_or_else(default_date_formats),
            Conversion::DateTime { formats: f, tz: z } => {
                *f = formats.unwrap_or_else(default_datetime_formats);
                *z = tz.unwrap_or(TimeZone::UTC);
            }
            Conversion::Decimal { decimal_comma: d } => *d = decimal_comma,
            Conversion::Bool(words) => {
                if let Some(t) = truthy {
                    words.truthy = t;
                }
                if let Some(f) = falsy {
                    words.falsy = f;
                }
            }
            Conversion::String | Conversion::Integer => {}
        }
    }

    /// Report each date format of `item` that can never read a value, at its own string.
    fn check_formats(&mut self, item: &Item, formats: &[String], datetime: bool, path: &str) {
        let spans: Vec<_> = match item.as_array() {
            Some(list) => list.iter().map(toml_edit::Value::span).collect(),
            None => vec![item_span(item)],
        };
        for (format, span) in formats.iter().zip(spans) {
            if let Some(why) = super::convert::unusable_format(format, datetime) {
                self.diag.at(span, format!("{path}: {why}"));
            }
        }
    }

    pub fn value_map(&mut self, item: &Item, target: &Target<'_>) -> Option<Arc<ValueMap>> {
        if let Some(name) = item.as_str() {
            let found = match name {
                "country" => Some(builtin(Builtin::Country)),
                "currency" => Some(builtin(Builtin::Currency)),
                _ => self.tables.get(name).cloned(),
            };
            let Some(map) = found else {
                let mut names: Vec<&str> = self.tables.keys().map(String::as_str).collect();
                names.extend(["country", "currency"]);
                let hint = did_you_mean(name, &names);
                self.diag.at(
                    item_span(item),
                    format!("{}: unknown table `{name}`{hint}", target.path),
                );
                return None;
            };
            self.check_map_outputs(&map, target, item_span(item));
            return Some(map);
        }
        let Some(table) = item.as_table_like() else {
            self.diag.at(
                item_span(item),
                "`map` must be a table name or an inline table",
            );
            return None;
        };
        let map = Arc::new(self.map_entries("inline", table));
        self.check_map_outputs(&map, target, item_span(item));
        Some(map)
    }

    /// Check that a literal emitted at an enum target is one of its values.
    pub fn check_enum(
        &mut self,
        value: &Value,
        target: &Target<'_>,
        span: Option<std::ops::Range<usize>>,
    ) {
        let Some(path) = &target.enum_path else {
            return;
        };
        match value {
            Value::String(s) => self.check_enum_str(path, s, target, span),
            // A literal array of `{ id, … }` elements at a split-array target: each id.
            Value::Array(items) if path.ends_with(".id") => {
                for s in items.iter().filter_map(|v| v.get("id")?.as_str()) {
                    self.check_enum_str(path, s, target, span.clone());
                }
            }
            _ => {}
        }
    }

    /// Check one string emitted at an enum target: an error outside the API's values, a
    /// warning outside the fiscal year's table (`referral::sales_taxonomy`).
    fn check_enum_str(
        &mut self,
        path: &str,
        s: &str,
        target: &Target<'_>,
        span: Option<std::ops::Range<usize>>,
    ) {
        if s.is_empty() {
            return;
        }
        if let Some(allowed) = super::eval::allowed_values(path)
            && !allowed.contains(&s)
        {
            let hint = did_you_mean(s, allowed);
            let list = if allowed.len() <= 25 {
                format!(" (one of {})", allowed.join(", "))
            } else {
                String::new()
            };
            let message = format!("{}: {s:?} is not a valid value{hint}{list}", target.path);
            self.diag.at(span, message);
        } else if let Some(warning) =
            crate::referral::sales_taxonomy::unknown_value_warning(path, s)
        {
            self.diag.warn(span, warning);
        }
    }

    fn check_map_outputs(
        &mut self,
        map: &ValueMap,
        target: &Target<'_>,
        span: Option<std::ops::Range<usize>>,
    ) {
        let mut outputs: Vec<&Value> = map.entries.values().collect();
        outputs.extend(map.default.iter());
        outputs.sort_by_key(|v| v.to_string());
        outputs.dedup();
        for v in outputs {
            self.check_enum(v, target, span.clone());
        }
    }
}

fn builtin(kind: Builtin) -> Arc<ValueMap> {
    Arc::new(ValueMap {
        name: match kind {
            Builtin::Country => "country".into(),
            Builtin::Currency => "currency".into(),
        },
        entries: Default::default(),
        default: None,
        builtin: Some(kind),
    })
}

/// The conversion a target gets when the spec names no `type`.
pub fn default_conversion(kind: Kind) -> Conversion {
    match kind {
        Kind::Number => Conversion::Decimal {
            decimal_comma: false,
        },
        Kind::Bool => Conversion::Bool(BoolWords::default()),
        Kind::DateTime => Conversion::DateTime {
            formats: default_datetime_formats(),
            tz: TimeZone::UTC,
        },
        Kind::Str | Kind::Enum | Kind::Known | Kind::Object(_) | Kind::Array(_) => {
            Conversion::String
        }
    }
}

fn named_conversion(name: &str) -> Conversion {
    match name {
        "decimal" => Conversion::Decimal {
            decimal_comma: false,
        },
        "integer" => Conversion::Integer,
        "bool" => Conversion::Bool(BoolWords::default()),
        "date" => Conversion::Date {
            formats: default_date_formats(),
        },
        "datetime" => Conversion::DateTime {
            formats: default_datetime_formats(),
            tz: TimeZone::UTC,
        },
        _ => Conversion::String,
    }
}
