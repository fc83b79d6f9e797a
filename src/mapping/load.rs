//! Loading a mapping file: TOML with spans (toml_edit), walked once, every problem collected
//! as a located diagnostic, and compiled into a `Mapping`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use toml_edit::{Document, Item, TableLike};

use super::compiled::{ColId, Filter, Leaf, Lookup, Node, ValueMap};
use super::diag::{Collector, Diagnostic, Diagnostics, Pos, Site};
use super::spec::{Target, did_you_mean};
use super::targets::{self, Kind, REFERRAL};
use crate::source::Headers;

const TOP_KEYS: &[&str] = &[
    "version",
    "description",
    "external_id",
    "fields",
    "connected",
    "filter",
    "lookups",
    "tables",
    "pull",
];
/// A loaded, validated and compiled mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(super) file: PathBuf,
    pub(super) description: Option<String>,
    /// Distinct input column names, indexed by `ColId`.
    pub(super) columns: Vec<String>,
    /// Where each column is first referenced in the mapping file.
    pub(super) column_sites: Vec<Site>,
    /// Per column: a hint for when it is missing, that it may have been meant as a literal
    /// (a bare string that is a valid value of its enum target, `type = "Independent"`).
    pub(super) column_hints: Vec<Option<String>>,
    pub(super) external_id: Leaf,
    pub(super) fields: Node,
    pub(super) connected: Option<Node>,
    pub(super) filters: Vec<Filter>,
    pub(super) lookups: Vec<Lookup>,
    /// Target path → column label, to point Referral validation errors at a column.
    pub(super) labels: HashMap<String, Option<String>>,
    /// What loads but deserves a look (values outside a fiscal year's table).
    pub(super) warnings: Vec<Diagnostic>,
    /// The `[pull]` section: the CRM columns of a pull file.
    pub(super) pull: Option<super::pull::PullColumns>,
}

/// The loader's state while walking one file.
pub struct Loader<'a> {
    pub diag: Collector<'a>,
    pub dir: PathBuf,
    pub columns: Vec<String>,
    pub column_sites: Vec<Site>,
    pub column_hints: Vec<Option<String>>,
    pub col_index: HashMap<String, ColId>,
    pub tables: HashMap<String, Arc<ValueMap>>,
    pub lookups: Vec<Lookup>,
    pub overrides: &'a [(String, PathBuf)],
    /// Whether lookup files not named in `overrides` are read (false when a mapping is
    /// checked alone).
    pub read_lookups: bool,
    /// Lookups declared but not loaded (already reported).
    pub failed_lookups: Vec<String>,
    pub labels: HashMap<String, Option<String>>,
    pub seen: HashMap<String, Pos>,
}

impl Mapping {
    /// Load, validate and compile a mapping file; lookup files are read relative to it.
    pub fn load(path: &Path) -> Result<Mapping, Diagnostics> {
        Self::load_with_lookups(path, &[])
    }

    /// Like `load`, with lookup files given by name (`--lookup account=Account.csv`), in
    /// place of the mapping's own `file`.
    pub fn load_with_lookups(
        path: &Path,
        overrides: &[(String, PathBuf)],
    ) -> Result<Mapping, Diagnostics> {
        Self::load_file(path, overrides, true)
    }

    /// Load a mapping to check it alone, reading no data file: only the lookups given in
    /// `overrides` are read; the others are taken as written, their columns unchecked (see
    /// [`Mapping::unread_lookups`]). Such a mapping is for validation, not for mapping rows.
    pub fn load_without_data(
        path: &Path,
        overrides: &[(String, PathBuf)],
    ) -> Result<Mapping, Diagnostics> {
        Self::load_file(path, overrides, false)
    }

    fn load_file(
        path: &Path,
        overrides: &[(String, PathBuf)],
        read_lookups: bool,
    ) -> Result<Mapping, Diagnostics> {
        let bytes = std::fs::read(path).map_err(|e| unreadable(path, &e))?;
        let text = utf8_text(path, &bytes)?;
        Self::compile(path, text, overrides, read_lookups)
    }

    /// Compile mapping text; `path` names the file in diagnostics and anchors lookup files.
    pub fn from_str(
        path: &Path,
        text: &str,
        overrides: &[(String, PathBuf)],
    ) -> Result<Mapping, Diagnostics> {
        Self::compile(path, text, overrides, true)
    }

    fn compile(
        path: &Path,
        text: &str,
        overrides: &[(String, PathBuf)],
        read_lookups: bool,
    ) -> Result<Mapping, Diagnostics> {
        let mut loader = Loader {
            read_lookups,
            diag: Collector::new(path, text),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            columns: Vec::new(),
            column_sites: Vec::new(),
            column_hints: Vec::new(),
            col_index: HashMap::new(),
            tables: HashMap::new(),
            lookups: Vec::new(),
            overrides,
            failed_lookups: Vec::new(),
            labels: HashMap::new(),
            seen: HashMap::new(),
        };
        let doc = match Document::parse(text) {
            Ok(doc) => doc,
            Err(e) => {
                let msg = e.message().trim().to_string();
                loader.diag.at(e.span(), format!("invalid TOML: {msg}"));
                return Err(Diagnostics(loader.diag.items));
            }
        };
        let mapping = loader.document(path, doc.as_table());
        if loader.diag.items.is_empty() {
            mapping.ok_or(Diagnostics(loader.diag.items))
        } else {
            Err(Diagnostics(loader.diag.items))
        }
    }

    /// Warnings found while loading: the mapping works, but a value deserves a look.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The mapping file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The mapping's `description`, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The columns of a pull file in the CRM's shape (the `[pull]` section), if given.
    pub fn pull_columns(&self) -> Option<&super::pull::PullColumns> {
        self.pull.as_ref()
    }

    /// The lookups whose files were not read (a mapping loaded by `load_without_data`).
    pub fn unread_lookups(&self) -> Vec<&str> {
        let unread = self.lookups.iter().filter(|l| !l.read);
        unread.map(|l| l.name.as_str()).collect()
    }

    /// The input columns the mapping reads (lookup files' columns excluded).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Every column the mapping reads that `headers` lacks, located in the mapping file,
    /// with the closest header name as a suggestion.
    pub fn check_columns(&self, headers: &Headers, input: &Path) -> Diagnostics {
        let mut out = Diagnostics::default();
        let columns = self.columns.iter().zip(&self.column_sites);
        for ((name, site), literal_hint) in columns.zip(&self.column_hints) {
            if let Some([(a, first), (b, second)]) = headers.ambiguous(name) {
                let (a, b) = (a + 1, b + 1);
                let message = format!(
                    "column {name:?} is ambiguous in {}: both column {a} {first:?} and \
                     column {b} {second:?} match it; rename one of them",
                    input.display()
                );
                out.0
                    .push(Diagnostic::new(&self.file, site.clone(), message));
                continue;
            }
            if headers.index_of(name).is_some() || null_navigation(headers, name) {
                continue;
            }
            let names = headers.names().iter().map(String::as_str);
            let mut hint = closest_column(name, names)
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            if let Some(literal) = literal_hint {
                hint.push_str(literal);
            }
            let message = format!("column {name:?} is not in {}{hint}", input.display());
            out.0
                .push(Diagnostic::new(&self.file, site.clone(), message));
        }
        out
    }
}

/// The diagnostic of a mapping file that cannot be read.
fn unreadable(path: &Path, e: &std::io::Error) -> Diagnostics {
    let mut c = Collector::new(path, "");
    c.at(None, format!("cannot read the mapping file: {e}"));
    Diagnostics(c.items)
}

/// A mapping file's bytes as text, or a diagnostic at the line and column of the first byte
/// that is not UTF-8 (a mapping saved as Windows-1252, say).
fn utf8_text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, Diagnostics> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let byte = bytes.get(offset).copied().unwrap_or_default();
        // The text up to the bad byte is the same in the lossy copy, so the offset holds.
        let lossy = String::from_utf8_lossy(bytes);
        let mut c = Collector::new(path, &lossy);
        c.at(
            Some(offset..offset),
            format!(
                "byte 0x{byte:02X} is not UTF-8: a mapping file must be saved as UTF-8 \
                 (was it saved as Windows-1252?)"
            ),
        );
        Diagnostics(c.items)
    })
}

/// Whether `name` is a field of an expanded navigation property that is null in this
/// record (`parentcontactid.firstname` when the record has `"parentcontactid": null`):
/// Dataverse leaves the fields of a null expansion out, so they read as empty.
fn null_navigation(headers: &Headers, name: &str) -> bool {
    name.split_once('.').is_some_and(|(parent, field)| {
        let logical = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
        logical(parent) && logical(field) && headers.index_of(parent).is_some()
    })
}

/// The closest header by edit distance of normalised names.
pub fn closest_column<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = crate::source::normalize_name(name);
    let limit = (wanted.chars().count() / 3).max(2);
    names
        .map(|n| {
            (
                targets::edit_distance(&wanted, &crate::source::normalize_name(n)),
                n,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// The span of an item, if it kept one.
pub fn item_span(item: &Item) -> Option<Range<usize>> {
    item.span()
}

/// A TOML value as JSON (dates as their TOML text).
pub fn to_json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(v) => value_json(v),
        Item::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
        }
        Item::ArrayOfTables(a) => Value::Array(
            a.iter()
                .map(|t| {
                    Value::Object(t.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
                })
                .collect(),
        ),
    }
}

fn value_json(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as V;
    match v {
        V::String(s) => Value::String(s.value().clone()),
        V::Integer(i) => Value::from(*i.value()),
        V::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(Value::Null, Value::Number),
        V::Boolean(b) => Value::Bool(*b.value()),
        V::Datetime(d) => Value::String(d.value().to_string()),
        V::Array(a) => Value::Array(a.iter().map(value_json).collect()),
        V::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), value_json(v)))
                .collect(),
        ),
    }
}

impl Loader<'_> {
    /// The load warnings in file order (the checks find them section by section).
    fn take_warnings(&mut self) -> Vec<Diagnostic> {
        let mut warnings = std::mem::take(&mut self.diag.warnings);
        warnings.sort_by_key(|w| (w.line, w.col));
        warnings
    }

    /// Intern a column reference, remembering where it was first written.
    pub fn column(&mut self, name: &str, span: Option<Range<usize>>) -> ColId {
        let key = crate::source::normalize_name(name);
        if let Some(id) = self.col_index.get(&key) {
            return *id;
        }
        let id = self.columns.len();
        self.columns.push(name.to_string());
        self.column_sites.push(self.diag.site(span));
        self.column_hints.push(None);
        self.col_index.insert(key, id);
        id
    }

    pub fn unknown_keys(&mut self, table: &dyn TableLike, allowed: &[&str], what: &str) {
        for (key, _) in table.iter() {
            if !allowed.contains(&key) {
                let span = table.key(key).and_then(|k| k.span());
                let hint = did_you_mean(key, allowed);
                self.diag
                    .at(span, format!("{what}: unknown key `{key}`{hint}"));
            }
        }
    }

    fn document(&mut self, path: &Path, root: &toml_edit::Table) -> Option<Mapping> {
        self.unknown_keys(root, TOP_KEYS, "mapping");
        if let Some(item) = root.get("version")
            && item.as_integer() != Some(1)
        {
            self.diag.at(item_span(item), "`version` must be 1");
        }
        let description = root
            .get("description")
            .and_then(|i| i.as_str())
            .map(str::to_string);
        if let Some(tables) = root.get("tables") {
            self.tables_section(tables);
        }
        if let Some(lookups) = root.get("lookups") {
            self.lookups_section(lookups);
        }
        let external_id = self.external_id(root);
        let fields = match root.get("fields") {
            Some(item) => Some(self.object(item, REFERRAL, &[])),
            None => {
                self.diag.at(None, "the mapping has no [fields] section");
                None
            }
        };
        let connected = root.get("connected").map(|item| {
            let saved = std::mem::take(&mut self.seen);
            let node = self.object(item, REFERRAL, &["connected"]);
            self.seen = saved;
            node
        });
        let filters = match root.get("filter") {
            Some(item) => self.filters(item),
            None => Vec::new(),
        };
        let pull = root.get("pull").and_then(|item| self.pull_section(item));
        Some(Mapping {
            file: path.to_path_buf(),
            description,
            columns: std::mem::take(&mut self.columns),
            column_sites: std::mem::take(&mut self.column_sites),
            column_hints: std::mem::take(&mut self.column_hints),
            external_id: external_id?,
            fields: fields?,
            connected,
            filters,
            lookups: std::mem::take(&mut self.lookups),
            labels: std::mem::take(&mut self.labels),
            warnings: self.take_warnings(),
            pull,
        })
    }

    fn external_id(&mut self, root: &toml_edit::Table) -> Option<Leaf> {
        let Some(item) = root.get("external_id") else {
            self.diag.at(
                None,
                "`external_id` is required: it names the column (or template) that becomes \
                 externalReferenceId, the sync key of every later run",
            );
            return None;
        };
        let target = Target {
            path: "externalReferenceId",
            kind: Kind::Str,
            enum_path: None,
        };
        let mut leaf = self.leaf(item, &target)?;
        leaf.required = true;
        leaf.conversion = super::compiled::Conversion::String;
        self.seen
            .insert("externalReferenceId".into(), self.diag.pos(item_span(item)));
        Some(leaf)
    }
}
