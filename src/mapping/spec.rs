//! Parsing one value specification (`{ column = "Est. revenue", type = "decimal" }`) into a
//! compiled `Leaf`, with every unknown key, unknown type and bad enum output reported.

use std::sync::Arc;

use serde_json::Value;
use toml_edit::{Item, TableLike};

use super::compiled::{Leaf, Piece, Source};
use super::load::{Loader, item_span, to_json};
use super::maps::default_conversion;
use super::targets::{Kind, closest};

/// The keys a value specification may have.
pub const SPEC_KEYS: &[&str] = &[
    "column",
    "lookup",
    "value",
    "template",
    "type",
    "format",
    "timezone",
    "decimal_comma",
    "true",
    "false",
    "map",
    "map_default",
    "default",
    "required",
    "split",
    "item",
];

/// The conversion names (`type = …`).
pub const TYPES: &[&str] = &["string", "decimal", "integer", "bool", "date", "datetime"];

/// What the loader knows about the target of a spec.
pub struct Target<'t> {
    pub path: &'t str,
    pub kind: Kind,
    /// The `referral::allowed_values` path of values this leaf emits, when it is an enum.
    pub enum_path: Option<String>,
}

impl Loader<'_> {
    /// Compile a value spec: a string (a column), a literal, or a spec table.
    pub fn leaf(&mut self, item: &Item, target: &Target<'_>) -> Option<Leaf> {
        let mut leaf = Leaf {
            path: target.path.to_string(),
            label: None,
            source: Source::Literal(Value::Null),
            map: None,
            conversion: default_conversion(target.kind),
            default: None,
            required: false,
            split: None,
            item: Vec::new(),
            item_key: "id",
        };
        if let Some(name) = item.as_str() {
            let id = self.column(name, item_span(item));
            if let (Some(value), Some(slot)) =
                (enum_value(name, target), self.column_hints.get_mut(id))
            {
                *slot = Some(format!(
                    "; to set {} to the value {value:?}, write {{ value = {value:?} }} \
                     (a bare string names a column)",
                    target.path
                ));
            }
            leaf.source = Source::Column(id);
            leaf.label = Some(name.to_string());
        } else if let Some(table) = item.as_table_like() {
            self.spec_table(table, item, target, &mut leaf)?;
        } else {
            let value = to_json(item);
            self.check_enum(&value, target, item_span(item));
            leaf.source = Source::Literal(value);
        }
        self.labels.insert(leaf.path.clone(), leaf.label.clone());
        Some(leaf)
    }

    fn spec_table(
        &mut self,
        table: &dyn TableLike,
        whole: &Item,
        target: &Target<'_>,
        leaf: &mut Leaf,
    ) -> Option<()> {
        for (key, _) in table.iter() {
            if !SPEC_KEYS.contains(&key) {
                let span = table.key(key).and_then(|k| k.span());
                let hint = did_you_mean(key, SPEC_KEYS);
                self.diag
                    .at(span, format!("{}: unknown key `{key}`{hint}", target.path));
            }
        }
        let get = |k: &str| table.get(k);
        let sources: Vec<&str> = ["column", "value", "template"]
            .into_iter()
            .filter(|k| get(k).is_some())
            .collect();
        let conflict = match sources.as_slice() {
            [_] => None,
            [] => Some("needs one of `column`, `value` or `template`".to_string()),
            [a, b, ..] => Some(format!("has both `{a}` and `{b}`; give only one")),
        };
        if let Some(msg) = conflict {
            self.diag
                .at(item_span(whole), format!("{}: {msg}", target.path));
            return None;
        }
        leaf.source = self.source(table, target, leaf)?;
        self.conversion(table, target, leaf);
        if let Some(item) = get("map") {
            leaf.map = self.value_map(item, target);
        }
        if let Some(item) = get("map_default") {
            let v = to_json(item);
            self.check_enum(&v, target, item_span(item));
            if let Some(map) = leaf.map.as_mut() {
                Arc::make_mut(map).default = Some(v);
            } else {
                self.diag.at(
                    item_span(item),
                    format!("{}: `map_default` without `map`", target.path),
                );
            }
        }
        if let Some(item) = get("default") {
            let v = to_json(item);
            self.check_enum(&v, target, item_span(item));
            leaf.default = Some(v);
        }
        leaf.required = self.bool_key(table, "required", target.path);
        self.split(table, target, leaf);
        Some(())
    }

    fn source(
        &mut self,
        table: &dyn TableLike,
        target: &Target<'_>,
        leaf: &mut Leaf,
    ) -> Option<Source> {
        let lookup = match table.get("lookup") {
            Some(item) => Some(self.lookup_ref(item)?),
            None => None,
        };
        if let Some(item) = table.get("column") {
            let Some(name) = item.as_str() else {
                self.diag.at(item_span(item), "`column` must be a string");
                return None;
            };
            leaf.label = Some(name.to_string());
            return Some(match lookup {
                Some(lookup) => {
                    let index = self.check_lookup_column(lookup, name, item_span(item))?;
                    Source::Lookup { lookup, index }
                }
                None => Source::Column(self.column(name, item_span(item))),
            });
        }
        if lookup.is_some() {
            self.diag.at(
                table.get("lookup").and_then(item_span),
                "`lookup` needs a `column` of the lookup file",
            );
        }
        if let Some(item) = table.get("template") {
            let Some(text) = item.as_str() else {
                self.diag.at(item_span(item), "`template` must be a string");
                return None;
            };
            leaf.label = Some(text.to_string());
            return self.template(text, item_span(item)).map(Source::Template);
        }
        let item = table.get("value")?;
        let value = to_json(item);
        self.check_enum(&value, target, item_span(item));
        Some(Source::Literal(value))
    }

    /// Parse `text {Column} text`, with `{{` and `}}` for literal braces.
    pub fn template(
        &mut self,
        text: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Option<Vec<Piece>> {
        match split_template(text) {
            Ok(parts) => Some(
                parts
                    .into_iter()
                    .map(|part| match part {
                        TemplatePart::Text(t) => Piece::Text(t),
                        TemplatePart::Name(name) => Piece::Column(self.column(&name, span.clone())),
                    })
                    .collect(),
            ),
            Err(message) => {
                self.diag.at(span, message);
                None
            }
        }
    }

    fn split(&mut self, table: &dyn TableLike, target: &Target<'_>, leaf: &mut Leaf) {
        let split = table.get("split");
        let is_array = matches!(target.kind, Kind::Array(_));
        match (split, is_array) {
            (Some(item), true) => match item.as_str() {
                Some(sep) if !sep.is_empty() => leaf.split = Some(sep.to_string()),
                _ => self
                    .diag
                    .at(item_span(item), "`split` must be a non-empty string"),
            },
            (Some(item), false) => self.diag.at(
                item_span(item),
                format!("{}: `split` only applies to array targets", target.path),
            ),
            (None, _) => {}
        }
        if let Some(item) = table.get("item") {
            match (item.as_table_like(), leaf.split.is_some()) {
                (Some(t), true) => {
                    leaf.item = t.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect();
                }
                _ => self
                    .diag
                    .at(item_span(item), "`item` must be a table, next to `split`"),
            }
        }
    }

    pub fn strings(&mut self, item: &Item, key: &str) -> Vec<String> {
        if let Some(s) = item.as_str() {
            return vec![s.to_string()];
        }
        let list: Option<Vec<String>> = item
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or(None);
        list.unwrap_or_else(|| {
            self.diag.at(
                item_span(item),
                format!("`{key}` must be a string or a list of strings"),
            );
            Vec::new()
        })
    }

    pub fn bool_key(&mut self, table: &dyn TableLike, key: &str, path: &str) -> bool {
        match table.get(key) {
            None => false,
            Some(item) => item.as_bool().unwrap_or_else(|| {
                self.diag.at(
                    item_span(item),
                    format!("{path}: `{key}` must be true or false"),
                );
                false
            }),
        }
    }
}

/// The value of the target's enum that `text` spells (ignoring case), if any: a bare string
/// such a value was likely meant as the literal, not as a column.
fn enum_value(text: &str, target: &Target<'_>) -> Option<&'static str> {
    let allowed = super::eval::allowed_values(target.enum_path.as_deref()?)?;
    let text = text.trim();
    allowed
        .iter()
        .copied()
        .find(|v| v.eq_ignore_ascii_case(text))
}

/// `; did you mean "x"?` when a candidate is close, else nothing.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    closest(word, candidates.iter().copied())
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// A piece of a template's text: literal text, or the name between braces (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Name(String),
}

/// Split `text {Name} text` into its pieces, with `{{` and `}}` for literal braces; the
/// error names the template and what is wrong with it.
pub fn split_template(text: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed || name.trim().is_empty() || name.contains('{') {
                    return Err(format!("template {text:?}: empty or unclosed `{{…}}`"));
                }
                if !literal.is_empty() {
                    parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
                }
                parts.push(TemplatePart::Name(name.trim().to_string()));
            }
            '}' => return Err(format!("template {text:?}: unmatched `}}` (write `}}}}`)")),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(TemplatePart::Text(literal));
    }
    Ok(parts)
}
