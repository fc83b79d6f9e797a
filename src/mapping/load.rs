//! Loading a mapping file: TOML with spans (toml_edit), walked once, every problem collected
//! as a located diagnostic, and compiled into a `Mapping`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use toml_edit::{Document, Item, TableLike};

use super::compiled::{ColId, Filter, FilterTest, Leaf, Lookup, Node, ValueMap};
use super::diag::{Collector, Diagnostics, Pos};
use super::spec::{Target, did_you_mean};
use super::targets::{self, Field, Kind, REFERRAL};
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
];
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

/// A loaded, validated and compiled mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(super) file: PathBuf,
    pub(super) description: Option<String>,
    /// Distinct input column names, indexed by `ColId`.
    pub(super) columns: Vec<String>,
    /// Where each column is first referenced in the mapping file.
    pub(super) column_pos: Vec<Pos>,
    pub(super) external_id: Leaf,
    pub(super) fields: Node,
    pub(super) connected: Option<Node>,
    pub(super) filters: Vec<Filter>,
    pub(super) lookups: Vec<Lookup>,
    /// Target path → column label, to point Referral validation errors at a column.
    pub(super) labels: HashMap<String, Option<String>>,
}

/// The loader's state while walking one file.
pub struct Loader<'a> {
    pub diag: Collector<'a>,
    pub dir: PathBuf,
    pub columns: Vec<String>,
    pub column_pos: Vec<Pos>,
    col_index: HashMap<String, ColId>,
    pub tables: HashMap<String, Arc<ValueMap>>,
    pub lookups: Vec<Lookup>,
    pub overrides: &'a [(String, PathBuf)],
    pub labels: HashMap<String, Option<String>>,
    seen: HashMap<String, Pos>,
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
        let text = std::fs::read_to_string(path).map_err(|e| {
            let mut c = Collector::new(path, "");
            c.at(None, format!("cannot read the mapping file: {e}"));
            Diagnostics(c.items)
        })?;
        Self::from_str(path, &text, overrides)
    }

    /// Compile mapping text; `path` names the file in diagnostics and anchors lookup files.
    pub fn from_str(
        path: &Path,
        text: &str,
        overrides: &[(String, PathBuf)],
    ) -> Result<Mapping, Diagnostics> {
        let mut loader = Loader {
            diag: Collector::new(path, text),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            columns: Vec::new(),
            column_pos: Vec::new(),
            col_index: HashMap::new(),
            tables: HashMap::new(),
            lookups: Vec::new(),
            overrides,
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

    /// The mapping file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The mapping's `description`, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The input columns the mapping reads (lookup files' columns excluded).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Every column the mapping reads that `headers` lacks, located in the mapping file,
    /// with the closest header name as a suggestion.
    pub fn check_columns(&self, headers: &Headers, input: &Path) -> Diagnostics {
        let mut out = Diagnostics::default();
        for (name, pos) in self.columns.iter().zip(&self.column_pos) {
            if headers.index_of(name).is_some() {
                continue;
            }
            let names = headers.names().iter().map(String::as_str);
            let hint = closest_column(name, names)
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            out.0.push(super::diag::Diagnostic {
                file: self.file.clone(),
                line: pos.line,
                col: pos.col,
                message: format!("column {name:?} is not in {}{hint}", input.display()),
            });
        }
        out
    }
}

/// The closest header by edit distance of normalised names.
fn closest_column<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
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
    /// Intern a column reference, remembering where it was first written.
    pub fn column(&mut self, name: &str, span: Option<Range<usize>>) -> ColId {
        let key = crate::source::normalize_name(name);
        if let Some(id) = self.col_index.get(&key) {
            return *id;
        }
        let id = self.columns.len();
        self.columns.push(name.to_string());
        let pos = self.diag.pos(span);
        self.column_pos.push(pos);
        self.col_index.insert(key, id);
        id
    }

    fn unknown_keys(&mut self, table: &dyn TableLike, allowed: &[&str], what: &str) {
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
        Some(Mapping {
            file: path.to_path_buf(),
            description,
            columns: std::mem::take(&mut self.columns),
            column_pos: std::mem::take(&mut self.column_pos),
            external_id: external_id?,
            fields: fields?,
            connected,
            filters,
            lookups: std::mem::take(&mut self.lookups),
            labels: std::mem::take(&mut self.labels),
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

    /// Compile an object target from a table whose keys are members (dotted keys allowed).
    fn object(&mut self, item: &Item, fields: &'static [Field], path: &[&'static str]) -> Node {
        let mut flat = Vec::new();
        self.members(item, fields, path, &Rel::default(), &mut flat);
        build_tree(flat)
    }

    fn members(
        &mut self,
        item: &Item,
        fields: &'static [Field],
        path: &[&'static str],
        rel: &Rel,
        out: &mut Vec<Flat>,
    ) {
        let Some(table) = item.as_table_like() else {
            self.diag
                .at(item_span(item), "expected a table of target fields");
            return;
        };
        for (key, value) in table.iter() {
            let key_span = table.key(key).and_then(|k| k.span());
            let segments: Vec<&str> = key.split('.').collect();
            let resolved = match targets::resolve(fields, &segments) {
                Ok(r) => r,
                Err(unknown) => {
                    self.unknown_target(path, &unknown, key_span.or(item_span(value)));
                    continue;
                }
            };
            let mut full: Vec<&'static str> = path.to_vec();
            full.extend(&resolved.segments);
            let mut here = rel.clone();
            here.order.extend(&resolved.order);
            here.names.extend(&resolved.segments);
            self.member(value, &resolved, &full, key_span, here, out);
        }
    }

    fn unknown_target(
        &mut self,
        prefix: &[&str],
        unknown: &targets::Unknown,
        span: Option<Range<usize>>,
    ) {
        let mut known: Vec<&str> = prefix.to_vec();
        if !unknown.known.is_empty() {
            known.push(&unknown.known);
        }
        let parent = known.join(".");
        let full = if parent.is_empty() {
            unknown.segment.clone()
        } else {
            format!("{parent}.{}", unknown.segment)
        };
        let hint = unknown
            .suggestion
            .as_ref()
            .map(|s| {
                let p = if parent.is_empty() {
                    s.clone()
                } else {
                    format!("{parent}.{s}")
                };
                format!("; did you mean `{p}`?")
            })
            .unwrap_or_default();
        self.diag.at(span, format!("unknown target `{full}`{hint}"));
    }

    /// Compile one member: a nested object, column groups, or a value spec.
    fn member(
        &mut self,
        item: &Item,
        resolved: &targets::Resolved,
        path: &[&'static str],
        key_span: Option<Range<usize>>,
        rel: Rel,
        out: &mut Vec<Flat>,
    ) {
        let dotted = path.join(".").replace(".[", "[");
        let display = dotted.trim_start_matches("connected.").to_string();
        if display == "externalReferenceId" {
            self.diag.at(
                key_span,
                "set externalReferenceId with the top-level `external_id`",
            );
            return;
        }
        let is_spec = item
            .as_table_like()
            .is_some_and(|t| super::spec::SPEC_KEYS.iter().any(|k| t.contains_key(k)));
        match resolved.kind {
            Kind::Object(inner) if !is_spec && item.as_table_like().is_some() => {
                return self.members(item, inner, path, &rel, out);
            }
            Kind::Array(inner) if is_groups(item) => {
                let node = self.groups(item, inner, path);
                out.push((rel, node));
                return;
            }
            _ => {}
        }
        let pos = self.diag.pos(key_span.or(item_span(item)));
        if let Some(first) = self.seen.get(&dotted.to_lowercase()) {
            let msg = format!(
                "duplicate target `{display}` (first set at line {})",
                first.line
            );
            self.diag.at_pos(pos, msg);
            return;
        }
        self.seen.insert(dotted.to_lowercase(), pos);
        let target = Target {
            path: &display,
            kind: resolved.kind,
            enum_path: enum_path(resolved, path),
        };
        let Some(mut leaf) = self.leaf(item, &target) else {
            return;
        };
        if let (Kind::Array(inner), Some(_)) = (resolved.kind, &leaf.split) {
            leaf.item_key = inner
                .iter()
                .find(|f| f.name == "id")
                .map_or("id", |f| f.name);
        }
        out.push((rel, Node::Leaf(Box::new(leaf))));
    }

    fn groups(&mut self, item: &Item, inner: &'static [Field], path: &[&'static str]) -> Node {
        let elements: Vec<Item> = if let Some(aot) = item.as_array_of_tables() {
            aot.iter().map(|t| Item::Table(t.clone())).collect()
        } else {
            item.as_array()
                .map(|a| a.iter().map(|v| Item::Value(v.clone())).collect())
                .unwrap_or_default()
        };
        let mut nodes = Vec::new();
        for (i, element) in elements.iter().enumerate() {
            let mut element_path = path.to_vec();
            element_path.push(index_segment(i));
            nodes.push(self.object(element, inner, &element_path));
        }
        Node::Groups(nodes)
    }

    fn tables_section(&mut self, item: &Item) {
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

    fn filters(&mut self, item: &Item) -> Vec<Filter> {
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
            out.push(Filter { leaf, test });
        }
        out
    }

    pub fn lookup_ref(&mut self, item: &Item) -> Option<usize> {
        let name = item.as_str().unwrap_or("");
        let found = self.lookups.iter().position(|l| l.name == name);
        if found.is_none() {
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

    fn lookups_section(&mut self, item: &Item) {
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
            if let Some(lookup) = self.lookup(name, table, lookup_item) {
                self.lookups.push(lookup);
            }
        }
    }
}

/// A member's position below the object being compiled: the order key and name of each
/// segment.
#[derive(Debug, Clone, Default)]
pub struct Rel {
    order: Vec<usize>,
    names: Vec<&'static str>,
}

type Flat = (Rel, Node);

/// Build the object tree from members in any order: sorted by the fixed target order,
/// grouped by their first segment.
fn build_tree(mut flat: Vec<Flat>) -> Node {
    flat.sort_by(|a, b| a.0.order.cmp(&b.0.order));
    let mut members: Vec<(&'static str, Node)> = Vec::new();
    let mut iter = flat.into_iter().peekable();
    while let Some((rel, node)) = iter.next() {
        let (Some(first), Some(name)) = (rel.order.first().copied(), rel.names.first().copied())
        else {
            continue;
        };
        if rel.order.len() == 1 {
            members.push((name, node));
            continue;
        }
        let mut group = vec![(tail(rel), node)];
        while let Some((next, _)) = iter.peek() {
            if next.order.first() != Some(&first) || next.order.len() == 1 {
                break;
            }
            if let Some((next, node)) = iter.next() {
                group.push((tail(next), node));
            }
        }
        members.push((name, build_tree(group)));
    }
    Node::Object(members)
}

fn tail(rel: Rel) -> Rel {
    Rel {
        order: rel.order.get(1..).unwrap_or_default().to_vec(),
        names: rel.names.get(1..).unwrap_or_default().to_vec(),
    }
}

fn is_groups(item: &Item) -> bool {
    item.as_array_of_tables().is_some()
        || item
            .as_array()
            .is_some_and(|a| a.iter().all(|v| v.as_inline_table().is_some()) && !a.is_empty())
}

/// The `allowed_values` path of an enum leaf (`target[].type`), if the leaf is an enum or a
/// split array of enum ids.
fn enum_path(resolved: &targets::Resolved, path: &[&'static str]) -> Option<String> {
    let clean: Vec<&str> = path
        .iter()
        .copied()
        .filter(|s| *s != "connected" && !s.starts_with('['))
        .collect();
    let mut joined = String::new();
    let mut fields = REFERRAL;
    for (i, seg) in clean.iter().enumerate() {
        if i > 0 {
            joined.push('.');
        }
        joined.push_str(seg);
        let field = fields.iter().find(|f| f.name == *seg)?;
        match field.kind {
            Kind::Array(inner) => {
                joined.push_str("[]");
                fields = inner;
            }
            Kind::Object(inner) => fields = inner,
            _ => {}
        }
    }
    match resolved.kind {
        Kind::Enum => Some(joined),
        Kind::Array(inner) if inner.iter().any(|f| f.name == "id" && f.kind == Kind::Enum) => {
            Some(format!("{joined}.id"))
        }
        _ => None,
    }
}

/// `[0]`, `[1]`… as static segments for element paths.
fn index_segment(i: usize) -> &'static str {
    const SEGMENTS: &[&str] = &[
        "[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8]", "[9]",
    ];
    SEGMENTS.get(i).copied().unwrap_or("[n]")
}
