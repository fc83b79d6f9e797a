//! The `[tables]`, `[lookups]` and `[[filter]]` sections of a mapping file.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use toml_edit::{Item, TableLike};

use super::compiled::{Filter, FilterTest, ValueMap};
use super::load::{Loader, closest_column, item_span, to_json};
use super::spec::{Target, did_you_mean};
use super::targets::Kind;

const FILTER_KEYS: &[&str] = &[
    "column",
    "lookup",
    "template",
    "equals",
    "in",
    "not_in",
    "not_empty",
    "reason",
];
const LOOKUP_KEYS: &[&str] = &["file", "key", "on"];
const TABLE_KEYS: &[&str] = &["values", "default"];

impl Loader<'_> {
    pub fn tables_section(&mut self, item: &Item) {
        let Some(tables) = item.as_table_like() else {
            self.diag.at(
                item_span(item),
                "`tables` must be a table of named value maps",
            );
            return;
        };
        for (name, table_item) in tables.iter() {
            let Some(table) = table_item.as_table_like() else {
                self.diag.at(
                    item_span(table_item),
                    format!("table `{name}` must be a table"),
                );
                continue;
            };
            self.unknown_keys(table, TABLE_KEYS, &format!("table `{name}`"));
            let mut map = match table.get("values").and_then(Item::as_table_like) {
                Some(values) => self.map_entries(name, values),
                None => {
                    self.diag.at(
                        item_span(table_item),
                        format!("table `{name}` needs `values`"),
                    );
                    continue;
                }
            };
            map.default = table.get("default").map(to_json);
            self.tables.insert(name.to_string(), Arc::new(map));
        }
    }

    /// The entries of a value map, keys trimmed and lower-cased.
    pub fn map_entries(&mut self, name: &str, table: &dyn TableLike) -> ValueMap {
        let mut entries = HashMap::new();
        for (key, value) in table.iter() {
            let normalized = key.trim().to_lowercase();
            if entries.insert(normalized, to_json(value)).is_some() {
                let span = table.key(key).and_then(|k| k.span());
                self.diag.at(
                    span,
                    format!("table `{name}`: `{key}` is listed twice (keys ignore case)"),
                );
            }
        }
        ValueMap {
            name: name.to_string(),
            entries,
            default: None,
            builtin: None,
        }
    }

    pub fn filters(&mut self, item: &Item) -> Vec<Filter> {
        let Some(list) = item.as_array_of_tables() else {
            self.diag.at(
                item_span(item),
                "`filter` must be written as [[filter]] tables",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for table in list.iter() {
            self.unknown_keys(table, FILTER_KEYS, "filter");
            let spec: toml_edit::Table = table
                .iter()
                .filter(|(k, _)| ["column", "lookup", "template"].contains(k))
                .map(|(k, v)| (toml_edit::Key::new(k), v.clone()))
                .collect();
            let whole = Item::Table(table.clone());
            let target = Target {
                path: "filter",
                kind: Kind::Str,
                enum_path: None,
            };
            let leaf = match self.leaf(&Item::Table(spec), &target) {
                Some(leaf) => leaf,
                None => continue,
            };
            let test = if let Some(i) = table.get("equals").or(table.get("in")) {
                FilterTest::In(self.strings(i, "in"))
            } else if let Some(i) = table.get("not_in") {
                FilterTest::NotIn(self.strings(i, "not_in"))
            } else if table.get("not_empty").and_then(Item::as_bool) == Some(true) {
                FilterTest::NotEmpty
            } else {
                self.diag.at(
                    item_span(&whole),
                    "filter needs `equals`, `in`, `not_in` or `not_empty = true`",
                );
                continue;
            };
            let reason = table
                .get("reason")
                .and_then(Item::as_str)
                .map(str::to_string);
            out.push(Filter { leaf, test, reason });
        }
        out
    }

    pub fn lookup_ref(&mut self, item: &Item) -> Option<usize> {
        let name = item.as_str().unwrap_or("");
        let found = self.lookups.iter().position(|l| l.name == name);
        // A lookup that failed to load was reported once already.
        if found.is_none() && !self.failed_lookups.iter().any(|n| n == name) {
            let names: Vec<&str> = self.lookups.iter().map(|l| l.name.as_str()).collect();
            let hint = did_you_mean(name, &names);
            self.diag
                .at(item_span(item), format!("unknown lookup `{name}`{hint}"));
        }
        found
    }

    /// The position of a lookup file's column, or a diagnostic with the closest name.
    pub fn check_lookup_column(
        &mut self,
        lookup: usize,
        name: &str,
        span: Option<Range<usize>>,
    ) -> Option<usize> {
        let l = self.lookups.get(lookup)?;
        if !l.read {
            // Checked alone: the lookup file's columns are unknown and never read.
            return Some(0);
        }
        if let Some(i) = l.headers.index_of(name) {
            return Some(i);
        }
        let hint = closest_column(name, l.headers.names().iter().map(String::as_str))
            .map(|c| format!("; did you mean {c:?}?"))
            .unwrap_or_default();
        let msg = format!(
            "column {name:?} is not in lookup file {}{hint}",
            l.file.display()
        );
        self.diag.at(span, msg);
        None
    }

    pub fn lookups_section(&mut self, item: &Item) {
        let Some(lookups) = item.as_table_like() else {
            self.diag.at(
                item_span(item),
                "`lookups` must be a table of named lookups",
            );
            return;
        };
        for (name, lookup_item) in lookups.iter() {
            let Some(table) = lookup_item.as_table_like() else {
                self.diag.at(
                    item_span(lookup_item),
                    format!("lookup `{name}` must be a table"),
                );
                continue;
            };
            self.unknown_keys(table, LOOKUP_KEYS, &format!("lookup `{name}`"));
            match self.lookup(name, table, lookup_item) {
                Some(lookup) => self.lookups.push(lookup),
                None => self.failed_lookups.push(name.to_string()),
            }
        }
    }
}
