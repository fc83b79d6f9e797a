//! Lookups: a second export (an account list, say) read once at load time and indexed by a
//! key column, so that a row can be enriched with columns of the row whose key matches.
//!
//! A key with no match, or with more than one, makes every field read through the lookup a
//! row error, unless that field has a `default`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml_edit::{Item, TableLike};

use super::compiled::{Conversion, Leaf, Lookup, Source};
use super::load::{Loader, item_span};
use crate::source::{Cell, Headers, SourceOptions};

impl Loader<'_> {
    /// Compile one `[lookups.NAME]`, reading and indexing its file unless the mapping is
    /// checked alone.
    pub fn lookup(&mut self, name: &str, table: &dyn TableLike, whole: &Item) -> Option<Lookup> {
        let (Some(file_item), Some(key_item), Some(on_item)) =
            (table.get("file"), table.get("key"), table.get("on"))
        else {
            let msg = format!(
                "lookup `{name}` needs `file`, `key` (its column) and `on` (the input column)"
            );
            self.diag.at(item_span(whole), msg);
            return None;
        };
        let file = self.lookup_file(name, file_item)?;
        let key = key_item.as_str().unwrap_or("").to_string();
        let on_name = on_item.as_str().unwrap_or("");
        let on = Leaf {
            path: format!("lookups.{name}.on"),
            label: Some(on_name.to_string()),
            source: Source::Column(self.column(on_name, item_span(on_item))),
            map: None,
            conversion: Conversion::String,
            default: None,
            required: false,
            split: None,
            item: Vec::new(),
            item_key: "id",
        };
        let mut lookup = Lookup {
            name: name.to_string(),
            file,
            on,
            headers: Arc::default(),
            rows: Vec::new(),
            index: HashMap::new(),
            key,
            read: false,
        };
        let given = self.overrides.iter().any(|(n, _)| n == name);
        if self.read_lookups || given {
            self.read_lookup(&mut lookup, file_item, key_item)?;
        }
        Some(lookup)
    }

    /// Read a lookup's file and index its rows by the key column.
    fn read_lookup(
        &mut self,
        lookup: &mut Lookup,
        file_item: &Item,
        key_item: &Item,
    ) -> Option<()> {
        let (name, key) = (&lookup.name, &lookup.key);
        let (headers, rows) = match read_all(&lookup.file) {
            Ok(read) => read,
            Err(e) => {
                let hint = format!("or give the file with --lookup {name}=PATH");
                let msg = format!("lookup `{name}`: {e} ({hint})");
                self.diag.at(item_span(file_item), msg);
                return None;
            }
        };
        let Some(key_col) = headers.index_of(key) else {
            let names: Vec<&str> = headers.names().iter().map(String::as_str).collect();
            let hint = super::spec::did_you_mean(key, &names);
            let msg = format!(
                "lookup `{name}`: no column {key:?} in {}{hint}",
                lookup.file.display()
            );
            self.diag.at(item_span(key_item), msg);
            return None;
        };
        lookup.index = index_by(&rows, key_col);
        lookup.headers = headers;
        lookup.rows = rows;
        lookup.read = true;
        Some(())
    }

    fn lookup_file(&mut self, name: &str, item: &Item) -> Option<PathBuf> {
        if let Some((_, path)) = self.overrides.iter().find(|(n, _)| n == name) {
            return Some(path.clone());
        }
        let Some(text) = item.as_str() else {
            self.diag.at(
                item_span(item),
                format!("lookup `{name}`: `file` must be a string"),
            );
            return None;
        };
        Some(self.dir.join(text))
    }
}

/// Every row of a lookup file, with its header.
fn read_all(file: &Path) -> Result<(Arc<Headers>, Vec<Vec<Cell>>), String> {
    let mut source =
        crate::source::open(file, &SourceOptions::default()).map_err(|e| e.to_string())?;
    let mut headers = source.headers();
    let mut rows = Vec::new();
    for row in source.by_ref() {
        let row = row.map_err(|e| e.to_string())?;
        headers.get_or_insert_with(|| row.headers.clone());
        rows.push(row.into_values());
    }
    Ok((headers.unwrap_or_default(), rows))
}

/// Row positions by trimmed, lower-cased key; empty keys are left out.
fn index_by(rows: &[Vec<Cell>], key_col: usize) -> HashMap<String, Vec<usize>> {
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, values) in rows.iter().enumerate() {
        let text = values.get(key_col).map(cell_key).unwrap_or_default();
        if !text.is_empty() {
            index.entry(text).or_default().push(i);
        }
    }
    index
}

/// A cell as a lookup key: trimmed, lower-cased text.
pub fn cell_key(cell: &Cell) -> String {
    let raw = super::eval::raw_of(cell, None).unwrap_or(super::convert::Raw::Empty);
    raw.text().trim().to_lowercase()
}

impl Lookup {
    /// The row matching `key` (trimmed, ignoring case), or why there is not exactly one.
    pub fn find(&self, key: &str) -> Result<&[Cell], String> {
        let key = key.trim();
        let found = if key.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            self.index.get(&key.to_lowercase())
        } else {
            self.index.get(key)
        };
        match found.map(Vec::as_slice) {
            Some([one]) => self
                .rows
                .get(*one)
                .map(Vec::as_slice)
                .ok_or_else(|| "lookup index out of date".to_string()),
            Some(many) if many.len() > 1 => Err(format!(
                "lookup `{}`: {} rows of {} have {} = {key:?}",
                self.name,
                many.len(),
                self.file.display(),
                self.key
            )),
            _ => Err(format!(
                "lookup `{}`: no row of {} has {} = {key:?}",
                self.name,
                self.file.display(),
                self.key
            )),
        }
    }
}
