//! Loading the `[pull]` section of a mapping file (and its `[pull.inbound]` sub-section):
//! each key is a CRM column header, in file order; each value names what of the pull record
//! goes into it. Every problem is a located diagnostic, reported with the rest of the file's.

use std::collections::HashMap;
use std::ops::Range;

use jiff::tz::TimeZone;
use toml_edit::{Item, TableLike};

use super::diag::Pos;
use super::load::{Loader, item_span, to_json};
use super::pull::{
    CellFormat, Part, PathPiece, PullColumn, PullColumns, PullValue, RecordPath, Segment,
};
use super::pull_paths::{ROOTS, SYNC_KEYS, parse_path};
use super::spec::{Target, TemplatePart, did_you_mean, split_template};
use super::targets::Kind;

/// The keys of a column's table.
const PULL_KEYS: &[&str] = &[
    "path",
    "template",
    "value",
    "map",
    "map_default",
    "default",
    "format",
    "timezone",
    "decimals",
    "decimal_comma",
    "true",
    "false",
    "after_last",
    "before_last",
];

impl Loader<'_> {
    /// The `[pull]` section: its columns, and `[pull.inbound]` when given.
    pub fn pull_section(&mut self, item: &Item) -> Option<PullColumns> {
        let mut pull = self.pull_columns(item, "pull")?;
        let table = item.as_table_like()?;
        if let Some(inbound) = table.get("inbound") {
            pull.inbound = self.pull_columns(inbound, "pull.inbound").map(Box::new);
        }
        Some(pull)
    }

    fn pull_columns(&mut self, item: &Item, section: &str) -> Option<PullColumns> {
        let Some(table) = item.as_table_like() else {
            self.diag.at(
                item_span(item),
                format!("`{section}` must be a table of CRM columns"),
            );
            return None;
        };
        let mut columns = Vec::new();
        let mut seen: HashMap<String, Pos> = HashMap::new();
        for (header, value) in table.iter() {
            if header == "inbound" && section == "pull" {
                continue;
            }
            let span = table.key(header).and_then(|k| k.span());
            let normalized = crate::source::normalize_name(header);
            if normalized.is_empty() {
                self.diag
                    .at(span, format!("{section}: a column needs a header"));
                continue;
            }
            let pos = self.diag.pos(span.clone());
            if let Some(first) = seen.insert(normalized, pos) {
                let message = format!(
                    "{section}: duplicate column {header:?} (first at line {}); a CRM matches \
                     headers ignoring case, spaces and punctuation",
                    first.line
                );
                self.diag.at(span, message);
                continue;
            }
            if let Some(column) = self.pull_column(header, value) {
                columns.push(column);
            }
        }
        Some(PullColumns {
            columns,
            inbound: None,
        })
    }

    /// One column: a path (a bare string), a literal (a number or bool), or a spec table.
    fn pull_column(&mut self, header: &str, item: &Item) -> Option<PullColumn> {
        let mut column = PullColumn {
            header: header.to_string(),
            value: PullValue::Literal(String::new()),
            map: None,
            default: None,
            format: CellFormat::default(),
            part: None,
        };
        if let Some(text) = item.as_str() {
            column.value = PullValue::Path(self.record_path(text, item_span(item))?);
        } else if let Some(table) = item.as_table_like() {
            self.unknown_keys(table, PULL_KEYS, &format!("pull column {header:?}"));
            column.value = self.pull_value(header, table, item)?;
            self.pull_options(header, table, &mut column);
        } else {
            column.value = PullValue::Literal(self.literal_text(item)?);
        }
        Some(column)
    }

    fn pull_value(
        &mut self,
        header: &str,
        table: &dyn TableLike,
        whole: &Item,
    ) -> Option<PullValue> {
        let given: Vec<&str> = ["path", "template", "value"]
            .into_iter()
            .filter(|k| table.contains_key(k))
            .collect();
        let problem = match given.as_slice() {
            [_] => None,
            [] if table.contains_key("map") => Some(
                "a `map` needs a key: `path = \"status\"` or `template = \"{status}/{substatus}\"`"
                    .to_string(),
            ),
            [] => Some("needs one of `path`, `template` or `value`".to_string()),
            [a, b, ..] => Some(format!("has both `{a}` and `{b}`; give only one")),
        };
        if let Some(message) = problem {
            let message = format!("pull column {header:?}: {message}");
            self.diag.at(item_span(whole), message);
            return None;
        }
        let item = table.get(given.first()?)?;
        let text = item.as_str();
        match (given.first().copied(), text) {
            (Some("path"), Some(text)) => {
                Some(PullValue::Path(self.record_path(text, item_span(item))?))
            }
            (Some("template"), Some(text)) => self.path_template(text, item_span(item)),
            (Some("value"), _) => Some(PullValue::Literal(self.literal_text(item)?)),
            _ => {
                self.diag.at(
                    item_span(item),
                    format!("pull column {header:?}: must be a string"),
                );
                None
            }
        }
    }

    /// A path of the pull record, its root (and a `sync` member) checked.
    fn record_path(&mut self, text: &str, span: Option<Range<usize>>) -> Option<RecordPath> {
        let segments = match parse_path(text) {
            Ok(segments) => segments,
            Err(message) => {
                self.diag.at(span, message);
                return None;
            }
        };
        let key = |i: usize| match segments.get(i) {
            Some(Segment::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        let root = key(0).unwrap_or_default();
        let Some(known) = ROOTS.iter().find(|r| r.eq_ignore_ascii_case(root)) else {
            let hint = did_you_mean(root, ROOTS);
            let message = format!(
                "path {text:?}: a pull record has no `{root}`{hint} (paths start at a field of \
                 the referral, or at `sync`)"
            );
            self.diag.at(span, message);
            return None;
        };
        if *known == "sync" {
            let member = key(1).unwrap_or_default();
            if !SYNC_KEYS.iter().any(|k| k.eq_ignore_ascii_case(member)) {
                let hint = did_you_mean(member, SYNC_KEYS);
                let list = SYNC_KEYS.join(", ");
                let message =
                    format!("path {text:?}: `sync` has no `{member}`{hint} (it has {list})");
                self.diag.at(span, message);
                return None;
            }
        }
        Some(RecordPath {
            text: text.to_string(),
            segments,
        })
    }

    fn path_template(&mut self, text: &str, span: Option<Range<usize>>) -> Option<PullValue> {
        let parts = match split_template(text) {
            Ok(parts) => parts,
            Err(message) => {
                self.diag.at(span, message);
                return None;
            }
        };
        let mut pieces = Vec::new();
        for part in parts {
            pieces.push(match part {
                TemplatePart::Text(t) => PathPiece::Text(t),
                TemplatePart::Name(name) => PathPiece::Path(self.record_path(&name, span.clone())?),
            });
        }
        Some(PullValue::Template(pieces))
    }

    /// A literal as cell text: a string, a number or a bool.
    fn literal_text(&mut self, item: &Item) -> Option<String> {
        match to_json(item) {
            serde_json::Value::String(s) => Some(s),
            v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(v.to_string()),
            _ => {
                self.diag.at(
                    item_span(item),
                    "a pull value must be a string, a number or true/false",
                );
                None
            }
        }
    }

    /// `map`, `map_default`, `default` and the cell format of a column.
    fn pull_options(&mut self, header: &str, table: &dyn TableLike, column: &mut PullColumn) {
        let label = format!("pull column {header:?}");
        let target = Target {
            path: &label,
            kind: Kind::Str,
            enum_path: None,
        };
        if let Some(item) = table.get("map") {
            column.map = self.pull_map(item, &target);
            if matches!(column.value, PullValue::Literal(_)) {
                let message = format!(
                    "pull column {header:?}: a `map` needs a key to look up; a `value` is fixed"
                );
                self.diag.at(item_span(item), message);
            }
        }
        if let Some(item) = table.get("map_default") {
            match (column.map.as_mut(), self.literal_text(item)) {
                (Some(map), Some(text)) => {
                    std::sync::Arc::make_mut(map).default = Some(serde_json::Value::String(text));
                }
                (None, _) => self.diag.at(
                    item_span(item),
                    format!("pull column {header:?}: `map_default` without `map`"),
                ),
                (_, None) => {}
            }
        }
        if let Some(item) = table.get("default") {
            column.default = self.literal_text(item);
        }
        column.part = self.part(header, table);
        column.format = self.cell_format(header, table);
    }

    /// A value map of the CRM's direction: a `[tables]` name or an inline table.
    fn pull_map(
        &mut self,
        item: &Item,
        target: &Target<'_>,
    ) -> Option<std::sync::Arc<super::compiled::ValueMap>> {
        if let Some(name @ ("country" | "currency")) = item.as_str() {
            let message = format!(
                "{}: the built-in `{name}` table maps names to codes; a pull file already has \
                 the codes (write the CRM's names with a [tables] map of another name)",
                target.path
            );
            self.diag.at(item_span(item), message);
            return None;
        }
        self.value_map(item, target)
    }

    /// `after_last` or `before_last`: a non-empty separator, not both.
    fn part(&mut self, header: &str, table: &dyn TableLike) -> Option<Part> {
        let after = table.get("after_last");
        let before = table.get("before_last");
        let (item, make): (&Item, fn(String) -> Part) = match (after, before) {
            (Some(a), Some(_)) => {
                let message =
                    format!("pull column {header:?}: has both `after_last` and `before_last`");
                self.diag.at(item_span(a), message);
                return None;
            }
            (Some(a), None) => (a, Part::AfterLast),
            (None, Some(b)) => (b, Part::BeforeLast),
            (None, None) => return None,
        };
        match item.as_str().filter(|s| !s.is_empty()) {
            Some(sep) => Some(make(sep.to_string())),
            None => {
                let message =
                    format!("pull column {header:?}: the separator must be a non-empty string");
                self.diag.at(item_span(item), message);
                None
            }
        }
    }

    fn cell_format(&mut self, header: &str, table: &dyn TableLike) -> CellFormat {
        let mut format = CellFormat {
            decimal_comma: self.bool_key(table, "decimal_comma", header),
            ..CellFormat::default()
        };
        let tz = match table.get("timezone") {
            Some(item) => {
                let name = item.as_str().unwrap_or("");
                TimeZone::get(name).ok().or_else(|| {
                    self.diag
                        .at(item_span(item), format!("unknown time zone {name:?}"));
                    None
                })
            }
            None => None,
        };
        if let Some(item) = table.get("format") {
            match item.as_str().filter(|f| date_format_works(f)) {
                Some(text) => format.date = Some((text.to_string(), tz.unwrap_or(TimeZone::UTC))),
                None => self.diag.at(
                    item_span(item),
                    format!(
                        "pull column {header:?}: `format` must be a strftime date format that \
                         writes a date, e.g. \"%m/%d/%Y\" or \"%Y-%m-%d\""
                    ),
                ),
            }
        } else if let Some(item) = table.get("timezone") {
            self.diag.at(
                item_span(item),
                format!("pull column {header:?}: `timezone` without a date `format`"),
            );
        }
        if let Some(item) = table.get("decimals") {
            match item.as_integer().filter(|n| (0..=10).contains(n)) {
                Some(n) => format.decimals = usize::try_from(n).ok(),
                None => self.diag.at(
                    item_span(item),
                    format!("pull column {header:?}: `decimals` must be a whole number 0 to 10"),
                ),
            }
        }
        let yes = table.get("true").and_then(|i| self.literal_text(i));
        let no = table.get("false").and_then(|i| self.literal_text(i));
        match (yes, no) {
            (Some(yes), Some(no)) => format.words = Some((yes, no)),
            (None, None) => {}
            _ => {
                let span = table.get("true").or(table.get("false")).and_then(item_span);
                let message = format!("pull column {header:?}: give both `true` and `false` words");
                self.diag.at(span, message);
            }
        }
        format
    }
}

/// Whether a strftime format writes something with a date in it.
fn date_format_works(format: &str) -> bool {
    let sample: jiff::Timestamp = jiff::Timestamp::UNIX_EPOCH;
    let zoned = sample.to_zoned_datetime(TimeZone::UTC);
    let dated = ["%d", "%e", "%j", "%F", "%D", "%x", "%c", "%s"]
        .iter()
        .any(|d| format.contains(d));
    dated && jiff::fmt::strtime::format(format, &zoned).is_ok()
}
