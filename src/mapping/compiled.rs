//! The compiled form of a mapping file: what the loader produces and the evaluator runs.
//!
//! Column names are interned once (a `ColId` per distinct name) and resolved to positions
//! once per input header, templates are pre-parsed, and the target tree is already in the
//! fixed key order, so mapping a row does no parsing and no name lookups.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use serde_json::Value;

use super::convert::BoolWords;

/// An interned input column name (index into `Mapping::columns`).
pub type ColId = usize;

/// Where a leaf reads its value.
#[derive(Debug, Clone)]
pub enum Source {
    /// A column of the input row.
    Column(ColId),
    /// A column of the row a lookup matched.
    Lookup {
        lookup: usize,
        /// The column's position in the lookup file.
        index: usize,
    },
    /// A fixed value.
    Literal(Value),
    /// Text with `{Column}` references.
    Template(Vec<Piece>),
}

/// A piece of a template.
#[derive(Debug, Clone)]
pub enum Piece {
    Text(String),
    Column(ColId),
}

/// How the text of a value is turned into JSON.
#[derive(Debug, Clone)]
pub enum Conversion {
    String,
    Decimal { decimal_comma: bool },
    Integer,
    Bool(BoolWords),
    Date { formats: Vec<String> },
    DateTime { formats: Vec<String>, tz: TimeZone },
}

/// A value map: inline, named, or built in (`country`, `currency`).
#[derive(Debug, Clone)]
pub struct ValueMap {
    /// The table's name, for messages (`inline` for inline maps).
    pub name: String,
    /// Keys trimmed and lower-cased.
    pub entries: HashMap<String, Value>,
    pub default: Option<Value>,
    pub builtin: Option<Builtin>,
}

impl ValueMap {
    /// The output for `text` (trimmed), matched ignoring case; small tables are scanned
    /// without allocating.
    pub fn get(&self, text: &str) -> Option<&Value> {
        let text = super::convert::trim(text);
        if text.is_ascii() && self.entries.len() <= 16 {
            return self
                .entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(text))
                .map(|(_, v)| v);
        }
        self.entries.get(&text.to_lowercase())
    }
}

/// The built-in tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Country names, alpha-3 and alpha-2 codes to ISO 3166 alpha-2.
    Country,
    /// Currency names and codes to ISO 4217.
    Currency,
}

/// One target value: where it comes from and how it is converted.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The target path, for messages (`details.dealValue`).
    pub path: String,
    /// The column (or template, or lookup column) as the user wrote it, for messages.
    pub label: Option<String>,
    pub source: Source,
    pub map: Option<Arc<ValueMap>>,
    pub conversion: Conversion,
    pub default: Option<Value>,
    pub required: bool,
    /// Split the text on this delimiter into array elements.
    pub split: Option<String>,
    /// Fixed members added to every element of a split array.
    pub item: Vec<(String, Value)>,
    /// For split arrays: the element member the pieces go to (`id`).
    pub item_key: &'static str,
}

/// The target tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// An object with members in the fixed order.
    Object(Vec<(&'static str, Node)>),
    Leaf(Box<Leaf>),
    /// An array built from column groups: one object per group, empty groups dropped.
    Groups(Vec<Node>),
}

/// Keep a row only when a column's value passes a test.
#[derive(Debug, Clone)]
pub struct Filter {
    pub leaf: Leaf,
    pub test: FilterTest,
    /// The mapping's own words for a skipped row, in place of the generated reason.
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub enum FilterTest {
    /// One of these values (trimmed, case-insensitive).
    In(Vec<String>),
    /// None of these values.
    NotIn(Vec<String>),
    /// Not empty.
    NotEmpty,
}

/// A second export joined by a key column.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub name: String,
    pub file: std::path::PathBuf,
    /// The input value holding the key.
    pub on: Leaf,
    /// The lookup file's header.
    pub headers: Arc<crate::source::Headers>,
    pub rows: Vec<Vec<crate::source::Cell>>,
    /// Trimmed, lower-cased key to row positions.
    pub index: HashMap<String, Vec<usize>>,
    /// The key column's name, for messages.
    pub key: String,
    /// False when the file was not read (a mapping checked alone): `headers` and `rows` are
    /// then empty and the columns read through the lookup were not checked.
    pub read: bool,
}
