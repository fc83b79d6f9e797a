//! Lookups: a second export (an account list, say) read once at load time and indexed by a
//! key column, so that a row can be enriched with columns of the row whose key matches.
//!
//! A key with no match, or with more than one, makes every field read through the lookup a
//! row error, unless that field has a `default`.

use std::collections::HashMap;
use std::path::PathBuf;

use toml_edit::{Item, TableLike};

use super::compiled::{Conversion, Leaf, Lookup, Source};
use super::load::{Loader, item_span};
use crate::source::{Cell, SourceOptions};

impl Loader<'_> {
    /// Read and index one `[lookups.NAME]` file.
    pub fn lookup(&mut self, name: &str, table: &dyn TableLike, whole: &Item) -> Option<Lookup> {
        let (Some(file_item), Some(key_item), Some(on_item)) =
            (table.get("file"), table.get("key"), table.get("on"))
        else {
            self.diag.at(
                item_span(whole),
                format!(
                    "lookup `{name}` needs `file`, `key` (its column) and `on` (the input column)"
                ),
            );
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
        let mut source = match crate::source::open(&file, &SourceOptions::default()) {
            Ok(source) => source,
            Err(e) => {
                self.diag
                    .at(item_span(file_item), format!("lookup `{name}`: {e}"));
                return None;
            }
        };
        let mut rows = Vec::new();
        let mut headers = source.headers();
        for row in source.by_ref() {
            match row {
                Ok(row) => {
                    headers.get_or_insert_with(|| row.headers.clone());
                    rows.push(row.values);
                }
                Err(e) => {
                    self.diag
                        .at(item_span(file_item), format!("lookup `{name}`: {e}"));
                    return None;
                }
            }
        }
        let headers = headers.unwrap_or_default();
        let Some(key_col) = headers.index_of(&key) else {
            let names: Vec<&str> = headers.names().iter().map(String::as_str).collect();
            let hint = super::spec::did_you_mean(&key, &names);
            self.diag.at(
                item_span(key_item),
                format!(
                    "lookup `{name}`: no column {key:?} in {}{hint}",
                    file.display()
                ),
            );
            return None;
        };
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, values) in rows.iter().enumerate() {
            let text = values.get(key_col).map(cell_key).unwrap_or_default();
            if !text.is_empty() {
                index.entry(text).or_default().push(i);
            }
        }
        Some(Lookup {
            name: name.to_string(),
            file,
            on,
            headers,
            rows,
            index,
            key,
        })
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

/// A cell as a lookup key: trimmed, lower-cased text.
pub fn cell_key(cell: &Cell) -> String {
    let raw = super::eval::raw_of(cell).unwrap_or(super::convert::Raw::Empty);
    raw.text().trim().to_lowercase()
}

impl Lookup {
    /// The row matching `key`: `Ok(Some)` for one match, an error message for none or several.
    pub fn find(&self, key: &str) -> Result<&[Cell], String> {
        match self
            .index
            .get(&key.trim().to_lowercase())
            .map(Vec::as_slice)
        {
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
